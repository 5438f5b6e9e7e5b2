"""The HTML reports in a real headless browser (Debian's ``chromium``): no console errors (which includes any
Content-Security-Policy violation, i.e. any attempt to run a script or load something), plots and findings in
the rendered DOM, XSS probes inert, and a screenshot per report under ``test-artifacts/``.

Chromium is driven through its command line (``--dump-dom`` + ``--screenshot`` + console messages logged to
stderr): no driver package is needed. Skipped when no chromium binary is installed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gapwatch.analysis import Analysis
from gapwatch.findings import FindingKind
from gapwatch.report.html import render_html
from gapwatch.testing import samples as sample

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = next((p for p in (os.environ.get("GAPWATCH_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), "/usr/bin/chromium") if p and Path(p).exists()), None)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")]

#: Probe that marks the page if any injected handler runs (the report must keep it as text).
PWN = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"


class Dom(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def count(self, tag: str, cls: str | None = None) -> int:
        return sum(1 for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split()))


def open_in_chromium(html_file: Path, screenshot: Path, *, width: int = 1100, height: int = 2400,
                     strip_csp: bool = False) -> tuple[Dom, str, list[str]]:
    """Load ``html_file`` headless; returns (parsed DOM after load, raw DOM, console messages)."""
    assert CHROMIUM is not None
    target = html_file
    if strip_csp:  # let any injected script run, to prove that none is there
        target = html_file.with_name(html_file.stem + "-nocsp.html")
        target.write_text(re.sub(r"<meta http-equiv='Content-Security-Policy'[^>]*>", "",
                                 html_file.read_text(encoding="utf-8")), encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="gw-chromium-") as profile:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
               "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               "--hide-scrollbars", f"--window-size={width},{height}", "--virtual-time-budget=3000",
               f"--screenshot={screenshot}", "--dump-dom", target.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, errors="replace")
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    assert screenshot.is_file() and screenshot.stat().st_size > 10_000, "no screenshot written"
    return Dom(proc.stdout), proc.stdout, console


def _write(a: Analysis, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    p = ARTIFACTS / f"{name}.html"
    p.write_text(render_html(a), encoding="utf-8")
    return p


def test_single_run_report_in_browser() -> None:
    a = sample.single_analysis()
    dom, _, console = open_in_chromium(_write(a, "report-single"), ARTIFACTS / "report-single.png", height=3400)
    assert console == []
    assert dom.count("svg") >= 6
    assert dom.count("polyline") >= 6
    assert dom.count("polygon", "fc-band") == 1
    assert dom.count("ol", "findings") == 1 and dom.count("li", "critical") >= 1
    assert "Overfitting since epoch" in "".join(dom.text)
    assert dom.count("img") >= 1  # thumbnails decoded from data: URIs
    # phone width: same content, no errors
    _, _, console = open_in_chromium(ARTIFACTS / "report-single.html", ARTIFACTS / "report-single-phone.png",
                                     width=390, height=2600)
    assert console == []


def test_report_prints_to_pdf(tmp_path: Path) -> None:
    """The print stylesheet path: Chromium prints the single-run report to a non-trivial PDF."""
    assert CHROMIUM is not None
    html = _write(sample.single_analysis(), "report-print")
    pdf = ARTIFACTS / "report-print.pdf"
    pdf.unlink(missing_ok=True)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp_path / 'profile'}", "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
           html.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, errors="replace")
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 2


def test_every_finding_kind_in_browser() -> None:
    a = sample.every_kind_analysis()
    dom, _, console = open_in_chromium(_write(a, "report-every-kind"), ARTIFACTS / "report-every-kind.png",
                                       height=3000)
    assert console == []
    text = "".join(dom.text)
    for k in FindingKind:
        assert k.value.replace("_", " ") in text
    assert sum(1 for t, at in dom.tags if t == "g" and "badge" in (at.get("class") or "")) >= len(FindingKind) - 1


def test_sweep_of_50_runs_in_browser() -> None:
    a = sample.sweep_analysis(50)
    dom, _, console = open_in_chromium(_write(a, "report-sweep"), ARTIFACTS / "report-sweep.png", height=4200)
    assert console == []
    assert dom.count("a", "mult") == 50
    assert dom.count("section", "run") == 50
    text = "".join(dom.text)
    assert "Hyperparameters and overfitting" in text and "learning_rate" in text


def test_xss_probes_stay_text_in_browser() -> None:
    a = sample.single_analysis(xss=True)
    a.runs[0] = dataclasses.replace(a.runs[0], name=a.runs[0].name + PWN)
    path = _write(a, "report-xss")
    for strip in (False, True):
        dom, raw, console = open_in_chromium(path, ARTIFACTS / f"report-xss{'-nocsp' if strip else ''}.png",
                                             strip_csp=strip)
        assert console == [], console  # nothing executed, nothing blocked
        assert dom.count("script") == 0
        body = next(at for t, at in dom.tags if t == "body")
        assert "data-pwned" not in body
        text = "".join(dom.text)
        assert sample.XSS in text  # the metric name is shown, as text
        assert PWN in text
        assert "data-pwned=\"1\"" not in raw
