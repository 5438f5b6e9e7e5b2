"""The report's view of issue 13 (item 5): the held-out loss and the task metric on one chart with two y axes,
one small chart per held-out set with the regressed set marked, and the deciding series named under the
verdict. SVGs are parsed with ``xml.etree``."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.analysis import RunAnalysis, analyze
from gapwatch.history import History
from gapwatch.readers import load
from gapwatch.report.html import (
    deciding_html,
    disagreement_chart,
    heldout_sets_html,
    loss_metric_pair,
    render_html,
    set_panels,
)
from gapwatch.report.svg import Chart
from gapwatch.summary import summarize_run

SVG = "{http://www.w3.org/2000/svg}"


def svgs(html: str) -> list[ET.Element]:
    """Every ``<svg>…</svg>`` of ``html``, parsed."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)]


def by_class(root: ET.Element, tag: str, *classes: str) -> list[ET.Element]:
    """Elements ``tag`` whose class attribute holds every one of ``classes``."""
    return [e for e in root.iter(SVG + tag) if set(classes) <= set((e.get("class") or "").split())]


def analysed(path: Path) -> RunAnalysis:
    r = analyze(load(path), forecast=False, examples=False).runs[0]
    if r.summary is None:
        r.summary = summarize_run(r)
    return r


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An HF Trainer fine-tune evaluated every 1,000 steps: eval_loss rises from the first evaluation while
    eval_wer improves until step 4,000 (the Whisper pattern of issue 13)."""
    rng = np.random.default_rng(0)
    logs = []
    for i in range(1, 11):
        logs.append({"step": 1000 * i - 500, "epoch": i - 0.5, "loss": float(0.9 * np.exp(-i / 3) + 0.02)})
        logs.append({"step": 1000 * i, "epoch": float(i), "eval_loss": float(0.35 + 0.03 * i + rng.normal(0, 0.003)),
                     "eval_wer": float(0.30 - 0.06 * min(i, 4) + 0.004 * max(0, i - 4) + rng.normal(0, 0.002))})
    p = tmp_path_factory.mktemp("whisper") / "trainer_state.json"
    p.write_text(json.dumps({"log_history": logs, "global_step": 10000}))
    return p


@pytest.fixture(scope="module")
def three_sets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An HF run with three evaluation sets (eval_<set>_*): the target improves, the retention set falls behind
    from epoch ~4, the OOD set improves."""
    rng = np.random.default_rng(1)
    logs = []
    for i in range(1, 31):
        a = 0.6 + 0.3 * (1 - np.exp(-i / 6)) + rng.normal(0, 0.004)
        b = 0.7 + 0.002 * i - (0.012 * (i - 12) if i > 12 else 0) + rng.normal(0, 0.004)
        c = 0.5 + 0.2 * (1 - np.exp(-i / 10)) + rng.normal(0, 0.004)
        logs.append({"step": 100 * i, "epoch": i / 3, "loss": float(np.exp(-i / 8) + 0.05)})
        logs.append({"step": 100 * i, "epoch": i / 3, "eval_target_accuracy": float(a),
                     "eval_retention_accuracy": float(b), "eval_ood_accuracy": float(c),
                     "eval_target_loss": float(1.1 - a), "eval_retention_loss": float(1.2 - b),
                     "eval_ood_loss": float(1.1 - c)})
    p = tmp_path_factory.mktemp("three") / "trainer_state.json"
    p.write_text(json.dumps({"log_history": logs, "global_step": 3000}))
    return p


# ------------------------------------------------------------------ two y axes
def test_loss_and_metric_on_their_own_axes(whisper: Path) -> None:
    r = analysed(whisper)
    assert r.monitor is not None and r.monitor.metric == "wer"
    assert any(f.kind.value == "metric_disagreement" for f in r.findings)
    dec, other = loss_metric_pair(r)
    assert (dec.metric, other.metric) == ("wer", "loss")
    html = disagreement_chart(r, r.summary)
    assert "eval_wer and eval_loss on their own axes" in html and "They disagree" in html
    (svg,) = svgs(html)
    left = by_class(svg, "text", "tick", "y1", "t-val")
    right = by_class(svg, "text", "tick", "y2", "t-h1")
    assert len(left) >= 2 and len(right) >= 2
    # each axis is labelled at the scale of its own series: WER ticks within 0..0.3, loss ticks within 0.3..0.7
    lv = [float(t.text) for t in left]
    rv = [float(t.text) for t in right]
    assert max(lv) <= 0.3 and min(rv) >= 0.3 and max(rv) <= 0.7
    labels = {e.text for e in by_class(svg, "text", "axlabel")}
    assert {"eval_wer (deciding)", "eval_loss", "epoch"} <= labels
    assert by_class(svg, "text", "axlabel", "y2", "t-h1")  # the right label has the loss's colour
    assert len(by_class(svg, "polyline", "s-val")) == 1 and len(by_class(svg, "polyline", "s-h1")) == 1
    assert by_class(svg, "line", "axis2")
    # the best point of each: a star for the deciding series, a diamond for the other
    star = [e for e in by_class(svg, "polygon", "best") if e.find(SVG + "title") is not None]  # not the key's
    diamond = [e for e in by_class(svg, "polygon", "s-h1", "bestmark") if e.find(SVG + "title") is not None]
    assert len(star) == 1 and len(diamond) == 1
    assert "best eval_wer = " in star[0].find(SVG + "title").text and "at epoch 5" in star[0].find(SVG + "title").text
    assert "at epoch 1" in diamond[0].find(SVG + "title").text
    keys = [t.text for t in by_class(svg, "text", "keytext")]
    assert keys == ["eval_wer (deciding, left axis)", "its best", "eval_loss (right axis)", "its best"]


def test_the_right_axis_scales_its_own_series() -> None:
    x = np.arange(10.0)
    ch = Chart(width=400, height=200)
    ch.line(x, x * 1000.0, "s-val").line(x, 0.5 - x / 100.0, "s-h1", axis="right")
    svg = ET.fromstring(ch.render())
    ys = []
    for pl in svg.iter(SVG + "polyline"):
        pts = [tuple(map(float, p.split(","))) for p in pl.get("points").split()]
        ys.append([p[1] for p in pts])
    # both series fill the plot height although their values differ by 4 orders of magnitude
    spans = [max(y) - min(y) for y in ys]
    assert min(spans) > 0.8 * max(spans)
    assert ys[0][0] > ys[0][-1] and ys[1][0] < ys[1][-1]  # up is up on both axes
    with pytest.raises(ValueError, match="axis must be 'left' or 'right', got 'top'"):
        ch.line(x, x, "s-val", axis="top")
    with pytest.raises(ValueError, match="style must be one of"):
        ch.key("s-val", "zigzag", "x")


def test_no_second_axis_without_a_loss_metric_pair() -> None:
    recs = [{"epoch": i, "train_loss": 1 / (i + 1), "val_loss": 1 / (i + 1) + 0.01 * i} for i in range(20)]
    r = analyze(History.from_records(recs, run="plain"), forecast=False, examples=False).runs[0]
    s = r.summary or summarize_run(r)
    assert loss_metric_pair(r) is None and disagreement_chart(r, s) == ""
    assert set_panels(r, s) == [] and heldout_sets_html(r, s) == ""
    html = render_html(analyze(History.from_records(recs, run="plain"), forecast=False, examples=False))
    assert 'class="axis2' not in html and "<figure class='setm" not in html


def test_names_are_escaped_in_the_two_axis_chart() -> None:
    recs = [{"epoch": i, "val_loss": 0.5 + 0.02 * i, "val_acc": 0.5 + 0.01 * min(i, 12),
             "train_loss": 1 / (i + 1)} for i in range(20)]
    h = History.from_records(recs, run="<b>x</b>")
    r = analyze(h, forecast=False, examples=False).runs[0]
    html = disagreement_chart(r, r.summary or summarize_run(r))
    assert html and "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    for svg in svgs(html):  # well-formed XML: the run name cannot become markup
        assert svg.tag == SVG + "svg"


# ------------------------------------------------------------------ small multiples
def test_one_small_multiple_per_set_with_the_regressed_one_marked(three_sets: Path) -> None:
    r = analysed(three_sets)
    reg = [f for f in r.findings if f.kind.value == "heldout_regression"]
    assert reg and reg[0].evidence["worst_set"]["set"] == "retention"
    panels = set_panels(r, r.summary)
    assert [(p.heldout_set, p.status) for p in panels] == [("target", "deciding"), ("retention", "regressed"),
                                                          ("ood", "ok")]
    assert panels[1].name == "eval_retention_accuracy" and "regressed from epoch" in panels[1].note
    ticks = []
    for p in panels:
        svg = ET.fromstring(p.svg)
        assert len(by_class(svg, "polyline")) == 1 and len(by_class(svg, "polygon", "best")) == 1
        marked = by_class(svg, "rect", "zone") + by_class(svg, "line", "onset")
        assert bool(marked) == (p.status == "regressed")
        ticks.append([t.text for t in by_class(svg, "text", "tick") if t.get("text-anchor") == "middle"])
    assert ticks[0] == ticks[1] == ticks[2]  # one shared x axis
    html = heldout_sets_html(r, r.summary)
    assert html.count("<figure class='setm") == 3
    assert "<figure class='setm regressed' data-set='retention'>" in html
    full = render_html(analyze(load(three_sets), forecast=False, examples=False))
    assert "<script" not in full.lower() and "Held-out sets (3)" in full


def test_lightning_dataloaders_are_sets() -> None:
    recs = []
    for i in range(20):
        recs.append({"epoch": i, "train_loss": 1 / (i + 1), "val_loss/dataloader_idx_0": 1 / (i + 1) + 0.3,
                     "val_loss/dataloader_idx_1": 0.5 + 0.01 * i, "val_loss/dataloader_idx_2": 0.7 - 0.01 * i})
    r = analyze(History.from_records(recs, run="pl"), forecast=False, examples=False).runs[0]
    panels = set_panels(r, r.summary or summarize_run(r))
    assert len(panels) == 3
    assert [p.name for p in panels] == ["val_loss/dataloader_idx_0", "val_loss/dataloader_idx_1",
                                        "val_loss/dataloader_idx_2"]


# ------------------------------------------------------------------ the deciding series
def test_deciding_series_is_named_under_the_verdict(whisper: Path, three_sets: Path) -> None:
    r = analysed(whisper)
    line = deciding_html(r)
    assert "Decided by <b>eval_wer</b> (lower is better): task metric wer beside loss." in line
    assert "Evidence: eval_loss." in line
    html = render_html(analyze(load(whisper), forecast=False, examples=False))
    assert html.index("class='verdict") < html.index("class='decides'") < html.index("on their own axes")
    assert "<script" not in html.lower()
    r3 = analysed(three_sets)
    assert "Decided by <b>eval_target_accuracy</b> (higher is better)" in deciding_html(r3)


def test_terminal_panel_names_the_deciding_series(whisper: Path) -> None:
    import io

    from rich.console import Console

    from gapwatch.report.terminal import deciding_line, render

    r = analysed(whisper)
    assert deciding_line(r).plain == "decided by eval_wer (task metric wer beside loss)"
    con = Console(file=io.StringIO(), width=100, record=True)
    render(analyze(load(whisper), forecast=False, examples=False), con)
    out = con.export_text()
    assert out.index("Overfitting since") < out.index("decided by eval_wer") < out.index("best 0.06")


values_st = st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(float("nan")),
                               st.just(float("inf"))), min_size=1, max_size=30)


@settings(max_examples=100, deadline=None)
@given(values_st, values_st)
def test_two_axis_chart_is_well_formed_for_any_values(left, right) -> None:
    ch = Chart(width=400, height=200, ylabel="<l>", y2label="r&", ycls="t-val", y2cls="t-h1")
    ch.line(np.arange(len(left), dtype=float), left, "s-val")
    ch.line(np.arange(len(right), dtype=float), right, "s-h1", axis="right")
    ch.key("s-val", "line", "left <series>").key("s-h1", "dash", "right")
    svg = ET.fromstring(ch.render())
    assert by_class(svg, "line", "axis2") and len(by_class(svg, "text", "keytext")) == 2
    if any(np.isfinite(right)):
        assert by_class(svg, "text", "tick", "y2")
    for e in svg.iter():
        for k in ("x", "y", "cx", "cy", "x1", "x2", "y1", "y2"):
            if e.get(k) is not None:
                assert np.isfinite(float(e.get(k))), (e.tag, k, e.get(k))
