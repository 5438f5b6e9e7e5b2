"""``gapwatch analyze`` end to end through the real console entry point: verdicts, sweeps, --json (validated),
--html, --quiet, --fail-on exit codes, bad options."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gapwatch.cli import main
from gapwatch.documents import validate
from gapwatch.testing import samples as sample


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def overfit_log(tmp_path: Path) -> Path:
    """Critical overfitting: validation loss doubles past its best."""
    return write_jsonl(tmp_path / "overfit.jsonl", sample.overfitting_records(
        epochs=50, severity=1.0, extra_split=False, accuracy=False))


@pytest.fixture
def clean_log(tmp_path: Path) -> Path:
    """No overfitting: both curves improve to the end."""
    return write_jsonl(tmp_path / "clean.jsonl",
                       sample.overfitting_records(
        epochs=50, best_epoch=10_000, severity=0.0, extra_split=False, accuracy=False))


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for i in range(6):
        write_jsonl(root / f"run{i}" / "log.jsonl",
                    sample.overfitting_records(epochs=40, severity=i / 3, seed=i, extra_split=False, accuracy=False))
    return root


def test_verdict_names_overfitting(overfit_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(overfit_log)]) == 0
    out = capsys.readouterr().out
    assert "Overfitting since epoch" in out
    assert "best" in out and "cost" in out and "what to do" in out


def test_clean_run_verdict(clean_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(clean_log), "--fail-on", "warning"]) == 0
    assert "No overfitting found" in capsys.readouterr().out


@pytest.mark.parametrize("fail_on,expected", [("critical", 3), ("warning", 3), ("info", 3), (None, 0)])
def test_fail_on_exit_code(overfit_log: Path, fail_on: str | None, expected: int,
                           capsys: pytest.CaptureFixture[str]) -> None:
    args = ["analyze", str(overfit_log), "--quiet"] + (["--fail-on", fail_on] if fail_on else [])
    assert main(args) == expected
    assert capsys.readouterr().out == ""  # --quiet prints nothing on stdout


RANK = {"info": 0, "warning": 1, "critical": 2}


def test_fail_on_follows_the_worst_severity(tmp_path: Path) -> None:
    """A mild overfitting run (a warning with today's detectors) passes a --fail-on critical gate and fails a
    warning gate: the exit code is 3 exactly when the worst finding reaches the threshold."""
    log = write_jsonl(tmp_path / "mild.jsonl",
                      sample.overfitting_records(epochs=50, severity=0.2, extra_split=False, accuracy=False))
    doc = _json(log)
    worst = max((RANK[f["severity"]] for f in doc["runs"][0]["findings"]), default=-1)
    assert worst >= 0, "the mild run should produce at least one finding"
    for level, rank in RANK.items():
        expected = 3 if worst >= rank else 0
        assert main(["analyze", str(log), "--quiet", "--fail-on", level]) == expected, level
    assert worst < RANK["critical"], "expected a non-critical finding for the mild run"


def _json(path: Path) -> dict[str, Any]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["analyze", str(path), "--json"]) == 0
    return json.loads(buf.getvalue())  # type: ignore[no-any-return]


def test_json_output_validates(overfit_log: Path, sweep_dir: Path) -> None:
    for p in (overfit_log, sweep_dir):
        doc = _json(p)
        validate(doc)
    assert len(_json(sweep_dir)["runs"]) == 6


def test_json_with_fail_on_still_prints_document(overfit_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(overfit_log), "--json", "--fail-on", "critical"]) == 3
    validate(json.loads(capsys.readouterr().out))


def test_sweep_table_and_html(sweep_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_html = tmp_path / "sweep.html"
    assert main(["analyze", str(sweep_dir), "--html", str(out_html)]) == 0
    out = capsys.readouterr().out
    assert "6 runs, ranked by best value" in out
    for i in range(6):
        assert f"run{i}" in out
    assert "report written to" in out
    text = out_html.read_text(encoding="utf-8")
    assert text.count("class='mult ") == 6


def test_html_refuses_to_overwrite_before_work(overfit_log: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mine.html"
    target.write_text("user's file", encoding="utf-8")
    assert main(["analyze", str(overfit_log), "--html", str(target)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "user's file"
    assert main(["analyze", str(overfit_log), "--html", str(target), "--force", "--quiet"]) == 0
    assert target.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_html_never_replaces_an_input_or_a_device(overfit_log: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """``--html <the input log> --force`` (also through another spelling, a hard link, or a file of the analysed
    sweep) and ``--html /dev/null --force`` are refused with one line, the input untouched."""
    import os

    before = overfit_log.read_bytes()
    spellings = [overfit_log, overfit_log.parent / "." / overfit_log.name]
    link = tmp_path / "hard.csv"
    os.link(overfit_log, link)
    for target in [*spellings, link]:
        assert main(["analyze", str(overfit_log), "--html", str(target), "--force", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "input being analysed" in err
    sweep = tmp_path / "sweep"
    (sweep / "a").mkdir(parents=True)
    (sweep / "a" / "log.csv").write_bytes(before)
    assert main(["analyze", str(sweep), "--html", str(sweep / "a" / "log.csv"), "--force", "--quiet"]) == 2
    assert "input being analysed" in capsys.readouterr().err
    assert (sweep / "a" / "log.csv").read_bytes() == before == overfit_log.read_bytes()
    if os.path.exists("/dev/null"):
        assert main(["analyze", str(overfit_log), "--html", "/dev/null", "--force", "--quiet"]) == 2
        assert "/dev/null is a device" in capsys.readouterr().err


def test_html_never_replaces_an_event_file_of_an_analysed_run(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A TensorBoard run is a directory; its event files are inputs too."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "fixtures" / "logs" / "tb" / "torch", run)
    event = next(run.rglob("*tfevents*"))
    before = event.read_bytes()
    assert main(["analyze", str(tmp_path), "--html", str(event), "--force", "--quiet", "--no-forecast"]) == 2
    assert "input being analysed" in capsys.readouterr().err
    assert event.read_bytes() == before


@pytest.mark.parametrize("args,msg", [
    (["--fail-on", "fatal"], "'fatal' is not one of 'info', 'warning', 'critical'"),
    (["--mode", "up"], "'up' is not one of 'min', 'max'"),
])
def test_bad_options_exit_2(overfit_log: Path, args: list[str], msg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(overfit_log), *args]) == 2
    assert msg in capsys.readouterr().err


def test_missing_path_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "nope.jsonl")]) in (1, 2)
    err = capsys.readouterr().err
    assert "nope.jsonl" in err and len(err.strip().splitlines()) == 1


def test_markup_in_run_names_is_printed_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = write_jsonl(tmp_path / "[bold red]x[red].jsonl",
                      sample.overfitting_records(epochs=30, extra_split=False, accuracy=False))
    assert main(["analyze", str(log)]) == 0
    assert "[bold red]x[red]" in capsys.readouterr().out


def test_example_table_beside_the_log_is_attached(tmp_path: Path) -> None:
    """`gapwatch analyze` adds the summary of an examples.npz found beside the log (gapwatch.examples)."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("gapwatch.examples.summary")
    log = write_jsonl(tmp_path / "run" / "log.jsonl",
                      sample.overfitting_records(epochs=30, extra_split=False, accuracy=False))
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "run" / "examples.npz", loss=rng.random((10, 200)), margin=rng.normal(size=(10, 200)),
             label=rng.integers(0, 10, 200))
    doc = _json(log)
    validate(doc)
    ex = doc["runs"][0].get("examples")
    assert isinstance(ex, dict) and (ex.get("n") == 200 or "error" in ex)


def test_forecast_is_attached_and_rendered(overfit_log: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """With gapwatch.forecast available, a single run gets a validated "forecast" entry and the HTML draws
    its band; --no-forecast leaves it out."""
    pytest.importorskip("gapwatch.forecast.core")
    assert main(["analyze", str(overfit_log), "--json", "--html", str(tmp_path / "r.html")]) == 0
    doc = json.loads(capsys.readouterr().out)
    validate(doc)
    fc = doc["runs"][0]["forecast"]
    assert len(fc["x"]) == len(fc["quantiles"]["0.5"]) > 0 and min(fc["x"]) > 50  # beyond the last epoch
    assert "class=\"fc-band\"" in (tmp_path / "r.html").read_text(encoding="utf-8")
    assert main(["analyze", str(overfit_log), "--json", "--no-forecast"]) == 0
    assert "forecast" not in json.loads(capsys.readouterr().out)["runs"][0]
    assert main(["analyze", str(overfit_log), "--forecast-method", "magic"]) == 2


FIXTURES = Path(__file__).parent / "fixtures" / "logs"


@pytest.mark.parametrize("rel", ["hf/out", "tb/keras", "tb/torch", "lightning", "keras/training.csv", "."])
def test_library_call_is_the_cli_document(rel: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The contract of issue 11: ``gapwatch.analyze(gapwatch.load(p)).to_dict()`` *is* what
    ``gapwatch analyze p --json`` prints (forecast, examples and run limits included)."""
    import gapwatch

    p = FIXTURES / rel
    assert main(["analyze", str(p), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    lib = json.loads(json.dumps(gapwatch.analyze(gapwatch.load(p)).to_dict(), allow_nan=False))
    assert printed == lib
    validate(printed)


def test_detectors_and_param_options(overfit_log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(overfit_log), "--json", "--detectors", "overfitting"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {f["detector"] for f in doc["runs"][0]["findings"]} <= {"overfitting", "history", "monitor"}
    assert any(f["kind"] == "overfitting" for f in doc["runs"][0]["findings"])
    # a threshold no rise can pass: the same log has no overfitting finding
    assert main(["analyze", str(overfit_log), "--json", "--param", "overfitting.min_z=1000"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert not [f for f in doc["runs"][0]["findings"] if f["kind"] == "overfitting"]


@pytest.mark.parametrize("args,msg", [
    (["--detectors", "overfiting"], "unknown detector(s) 'overfiting'"),
    (["--param", "overfitting.min_z=-1"], "min_z"),
    (["--param", "overfitting.nope=1"], "nope"),
    (["--param", "min_z"], "OWNER.NAME=VALUE"),
])
def test_bad_detector_options_exit_2(overfit_log: Path, args: list[str], msg: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(overfit_log), *args]) == 2
    assert msg in capsys.readouterr().err


def test_param_options_work_in_a_fresh_process(overfit_log: Path) -> None:
    """``--param`` is checked against the registered specs before any work; in a fresh interpreter the detectors
    (and :mod:`gapwatch.launches`) have not registered theirs yet, which once made every ``--param`` an "unknown
    parameter owner" error."""
    import subprocess
    import sys
    for arg in ("overfitting.min_z=1000", "launches.latest_decides=false"):
        p = subprocess.run([sys.executable, "-m", "gapwatch", "analyze", str(overfit_log), "--json", "--param", arg],
                           capture_output=True, text=True, check=False)
        assert p.returncode == 0, p.stderr
        json.loads(p.stdout)
    p = subprocess.run([sys.executable, "-m", "gapwatch", "analyze", str(overfit_log), "--param", "launches.nope=1"],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 2 and "launches: unknown parameter 'nope'" in p.stderr
