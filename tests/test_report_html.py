"""The HTML report: structure, escaping, self-containment, forecast/examples sections, sweeps (no browser)."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.analysis import Analysis, RunAnalysis, analyze
from gapwatch.errors import UsageError
from gapwatch.examples.summary import ExampleSummary
from gapwatch.findings import FindingKind
from gapwatch.history import History
from gapwatch.report.html import render_html, write_html
from gapwatch.report.svg import Chart, esc, fmt_num, histogram_chart, nice_ticks
from gapwatch.summary import hyperparameter_effects, summarize_run
from gapwatch.testing import samples as sample


class Doc(HTMLParser):
    """Collects tags, attributes and text of an HTML document (the real parser, not regexes)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def count(self, tag: str, cls: str | None = None) -> int:
        return sum(1 for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split()))

    @property
    def alltext(self) -> str:
        return "".join(self.text)


def assert_self_contained(text: str) -> Doc:
    """No scripts, no event handlers, nothing loaded from anywhere but data: URIs."""
    d = Doc(text)
    assert d.count("script") == 0
    for tag, attrs in d.tags:
        for k, v in attrs.items():
            assert not k.startswith("on"), f"event handler {k} on <{tag}>"
            if k in ("src", "href", "xlink:href", "action", "poster", "srcset"):
                assert v is not None and (v.startswith("#") or v.startswith("data:image/png;base64,")), (tag, k, v)
    low = text.lower()
    assert "@import" not in low and "url(http" not in low and "<link" not in low
    return d


@pytest.fixture(scope="module")
def single_html() -> str:
    return render_html(sample.single_analysis())


def test_single_run_report_structure(single_html: str) -> None:
    d = assert_self_contained(single_html)
    # main chart, gap chart, acc chart, 3 example histograms
    assert d.count("svg") >= 6
    assert "Overfitting since epoch" in d.alltext
    assert d.count("li", "critical") >= 1  # the overfitting finding is listed
    assert d.count("polygon", "fc-band") == 1  # forecast band drawn
    assert "chance the best is already behind" in d.alltext
    assert "Most suspicious examples" in d.alltext
    assert d.count("img") >= 1  # thumbnails embedded
    # the best point is a star: main chart 1, two-axis chart 2 (its point and its legend), 1 per held-out set (2)
    assert d.count("polygon", "best") == 1 + 2 + 2
    assert d.count("line", "onset") == 1 + 1  # main chart, and the small multiple of the set that regressed
    assert "retention" in d.alltext  # every held-out split is drawn and named
    for tag, a in d.tags:
        if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            assert "default-src 'none'" in (a.get("content") or "")
            break
    else:
        pytest.fail("no Content-Security-Policy")


def test_every_svg_is_well_formed_xml(single_html: str) -> None:
    start = 0
    n = 0
    while (i := single_html.find("<svg", start)) >= 0:
        j = single_html.index("</svg>", i) + len("</svg>")
        ET.fromstring(single_html[i:j])
        start, n = j, n + 1
    assert n >= 6


def test_xss_probes_stay_text() -> None:
    text = render_html(sample.single_analysis(xss=True))
    d = assert_self_contained(text)
    assert sample.XSS in d.alltext  # shown, as text
    assert "<script>" not in text  # never as markup
    assert "onerror=alert(2)>" not in text
    assert d.count("img", None) == sum(1 for t, a in d.tags if t == "img" and (a.get("src") or "").startswith("data:"))


def test_report_without_forecast_or_examples() -> None:
    a = sample.single_analysis(forecast=False, examples=False)
    d = assert_self_contained(render_html(a))
    assert d.count("polygon", "fc-band") == 0
    assert "Examples" not in [t for t in d.text]
    assert "Most suspicious" not in d.alltext


def test_every_finding_kind_is_listed_and_marked() -> None:
    a = sample.every_kind_analysis()
    d = assert_self_contained(render_html(a))
    kinds = [k.value for k in FindingKind]
    for k in kinds:
        assert k.replace("_", " ") in d.alltext
    items = sum(1 for t, a2 in d.tags if t == "li" and "id" in a2 and a2["id"].startswith("f-"))
    assert items == len(kinds)
    # every finding with a position gets a numbered badge on the chart
    badges = sum(1 for t, a2 in d.tags if t == "g" and "badge" in (a2.get("class") or ""))
    assert badges == sum(1 for f in a.runs[0].findings if f.epoch is not None)
    for f in a.runs[0].findings:
        for act in f.actions:
            assert act in d.alltext
        for ref in f.references:
            assert ref in d.alltext


@pytest.fixture(scope="module")
def sweep() -> Analysis:
    return sample.sweep_analysis(50)


def test_sweep_report_ranks_and_multiples(sweep: Analysis) -> None:
    text = render_html(sweep)
    d = assert_self_contained(text)
    assert d.count("a", "mult") == 50  # one small multiple per run
    assert d.count("section", "run") == 50
    assert "Runs ranked by best val_loss" in d.alltext
    assert "What overfitting cost each run" in d.alltext
    # ranking by best value is sorted
    summ = [summarize_run(r) for r in sweep.runs]
    best = sorted(s.best_value for s in summ if s.best_value is not None)
    first_table = text[text.index("runs ranked by best value"):]
    assert first_table.index(fmt_num(best[0])) < first_table.index(fmt_num(best[-1]))
    # hyperparameters from History.meta are analysed; output_dir (an identifier) is not
    assert "learning_rate" in d.alltext and "dropout" in d.alltext
    assert "output_dir" not in d.alltext


def test_hyperparameter_effects_recover_known_drivers(sweep: Analysis) -> None:
    """sample.sweep_history makes overfitting grow with the learning rate and shrink with dropout and weight
    decay; the seed has no effect."""
    eff = {e.name: e for e in hyperparameter_effects([summarize_run(r) for r in sweep.runs])}
    assert eff["learning_rate"].rho is not None and eff["learning_rate"].rho > 0.3
    assert eff["dropout"].rho is not None and eff["dropout"].rho < -0.3
    assert eff["weight_decay"].rho is not None and eff["weight_decay"].rho < 0
    assert eff["seed"].p_holm is not None and eff["seed"].p_holm > 0.05
    assert eff["optimizer"].kind == "categorical"
    assert {lv["value"] for lv in eff["optimizer"].levels} == {"adamw", "sgd"}
    assert "output_dir" not in eff


def test_hyperparameter_effects_without_meta() -> None:
    a = analyze(History.concat([sample.overfitting_history(f"r{i}", seed=i) for i in range(5)]))
    assert hyperparameter_effects([summarize_run(r) for r in a.runs]) == []
    assert "No hyperparameters found" in render_html(a)


def test_nested_hf_meta_is_flattened_and_outcomes_skipped() -> None:
    runs = []
    for i in range(6):
        h = sample.overfitting_history(f"r{i}", seed=i, severity=i / 3)
        runs.append(h.with_meta(f"r{i}", hf={"learning_rate": 1e-4 * (i + 1), "best_metric": 0.1 * i,
                                             "checkpoints": ["a", "b"], "train_summary": {"train_loss": 0.1 * i}}))
    a = analyze(History.concat(runs))
    names = {e.name for e in hyperparameter_effects([summarize_run(r) for r in a.runs])}
    assert names == {"hf.learning_rate"}


def test_run_without_validation_series_renders_error() -> None:
    good = sample.overfitting_history("good")
    bad = History.from_records([{"epoch": e, "train_loss": 1 / e} for e in range(1, 6)], run="bad")
    a = analyze(History.concat([good, bad]))
    d = assert_self_contained(render_html(a))
    assert "cannot analyse" in d.alltext
    assert d.count("a", "mult") == 2


def test_nan_and_spikes_are_drawn_not_dropped() -> None:
    recs = sample.overfitting_records(epochs=40)
    recs[10]["val_loss"] = float("nan")
    recs[20]["val_loss"] = 1e6
    h = History.from_records(recs, run="spiky")
    a = analyze(h, monitor=sample.VAL_LOSS)
    d = assert_self_contained(render_html(a))
    assert d.count("path", "nanmark") >= 1
    assert "clipped" in d.alltext


def test_step_axis_and_single_evaluation() -> None:
    h = History.from_records([{"step": 10, "val_loss": 1.0, "train_loss": 1.2}], run="one-eval")
    a = analyze(h)
    assert_self_contained(render_html(a))
    steps = History.from_records([{"step": s * 50, "val_acc": 0.5 + 0.01 * s, "train_acc": 0.5 + 0.02 * s}
                                  for s in range(1, 30)], run="steps")
    a2 = analyze(steps)
    assert a2.runs[0].x == "step"
    assert "over steps" in render_html(a2)


def test_examples_summary_renders() -> None:
    """An ExampleSummary (precomputed histograms, top_suspicious rows) renders; an unreadable table says why."""
    a = sample.single_analysis(forecast=False, examples=False)
    a.runs[0].examples = ExampleSummary(
        path="/x/examples.parquet", n=100, epochs=10, counts={"likely_mislabeled": 7, "prunable": 20}, cutoff=0.0,
        default_score="aum_early", cutoff_rule="early-training AUM below 0",
        top_suspicious=[{"index": 17, "score": -4.2, "label": 3, "suggested": 5}],
        histograms={"aum_early": {"edges": list(np.linspace(-5, 5, 21)), "counts": [1] * 20, "direction": "low"}},
        references=["Pleiss et al. 2020"])
    d = assert_self_contained(render_html(a))
    assert "likely mislabeled (7.0%)" in d.alltext
    assert "aum_early (low = suspicious)" in d.alltext
    assert "-4.2" in d.alltext and "Pleiss et al. 2020" in d.alltext
    a.runs[0].examples = ExampleSummary(path="/x/t.npz", error="t.npz: bad <b>table</b>")
    d = assert_self_contained(render_html(a))
    assert "bad <b>table</b>" in d.alltext


def test_examples_rows_name_example_ids() -> None:
    a = sample.single_analysis(forecast=False, examples=False)
    a.runs[0].examples = ExampleSummary(path="/x/e.npz", n=3, epochs=2, counts={"likely_mislabeled": 1},
                                        top_suspicious=[{"index": 200, "score": -7.25, "label": None,
                                                         "suggested": None}])
    text = render_html(a)
    table = text[text.index("Most suspicious examples"):]
    assert "<td class='n'>200</td>" in table and "-7.25" in table


@pytest.mark.parametrize("payload", [
    "not base64 !!!",
    base64.b64encode(b"GIF89a....").decode(),  # not a PNG
    "javascript:alert(1)",
    "' onerror='alert(1)",
])
def test_bad_thumbnails_are_dropped(payload: str) -> None:
    a = sample.single_analysis(forecast=False, examples=False)
    ex = sample.sample_examples(n=50, thumbnails=False)
    ex.thumbnails = {int(ex.top_suspicious[0]["index"]): payload}
    a.runs[0].examples = ex
    d = assert_self_contained(render_html(a))
    assert d.count("img") == 0


def test_forecast_without_quantiles_is_not_drawn() -> None:
    a = sample.single_analysis(forecast=False, examples=False)
    fc = sample.sample_forecast()
    fc.quantiles = {"0.5": fc.quantiles["0.5"]}  # no band to draw
    a.runs[0].forecast = fc
    d = assert_self_contained(render_html(a))
    assert d.count("polygon", "fc-band") == 0


def test_write_html_refuses_to_overwrite(tmp_path: Path) -> None:
    a = sample.single_analysis(forecast=False, examples=False)
    p = write_html(a, tmp_path / "r.html")
    assert p.read_text(encoding="utf-8").startswith("<!doctype html>")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        write_html(a, tmp_path / "r.html")
    write_html(a, tmp_path / "r.html", overwrite=True)


# ------------------------------------------------------------------------------------------ svg primitives
@pytest.mark.parametrize("lo,hi,expected", [
    (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (0.0, 10.0, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
    (3.0, 3.0, [3.0]),
    (-1.0, 1.0, [-1.0, -0.5, 0.0, 0.5, 1.0]),
])
def test_nice_ticks_table(lo: float, hi: float, expected: list[float]) -> None:
    assert nice_ticks(lo, hi, 5) == pytest.approx(expected)


@settings(max_examples=200, deadline=None)
@given(lo=st.floats(-1e300, 1e300), width=st.floats(0, 1e300), n=st.integers(1, 10))
def test_nice_ticks_terminate_sorted_and_inside(lo: float, width: float, n: int) -> None:
    hi = lo + width
    ticks = nice_ticks(lo, hi, n)
    assert ticks == sorted(ticks) and len(ticks) <= 4 * n + 12
    assert all(lo - 1e-9 * max(abs(lo), abs(hi), 1) <= t <= hi + 1e-9 * max(abs(lo), abs(hi), 1) for t in ticks)


@pytest.mark.parametrize("v,expected", [(3.0, "3"), (0.123456, "0.1235"), (None, "–"), (float("nan"), "nan"),
                                        (float("inf"), "inf"), (1e-7, "1e-07")])
def test_fmt_num_table(v: float | None, expected: str) -> None:
    assert fmt_num(v) == expected


def test_esc_escapes_quotes_and_markup() -> None:
    assert esc("<a href=\"x\" title='y'>&") == "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;"


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=32)


@settings(max_examples=60, deadline=None)
@given(ys=st.lists(finite_or_not, min_size=0, max_size=40), logy=st.booleans(),
       label=st.text(max_size=20))
def test_chart_renders_well_formed_svg_for_any_values(ys: list[float], logy: bool, label: str) -> None:
    ch = Chart(xlabel=label, ylabel=label, logy=logy, aria=label)
    ch.line(np.arange(len(ys)), ys, "s-val", title=label)
    ch.point(1.0, ys[0] if ys else None, "best", shape="star", title=label)
    ch.vline(2.0, "onset", label=label, title=label)
    ch.badge(1.0, "1", "sev-critical", title=label)
    svg = ch.render()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    for el in root.iter():
        for k in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height", "points", "d"):
            v = el.get(k)
            assert v is None or ("nan" not in v and "inf" not in v), (el.tag, k, v)


@settings(max_examples=40, deadline=None)
@given(vals=st.lists(finite_or_not, max_size=60))
def test_histogram_is_well_formed(vals: list[float]) -> None:
    ET.fromstring(histogram_chart(vals, xlabel="x<y"))


def test_chart_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        Chart().line([1, 2, 3], [1, 2], "s-val")


def test_run_analysis_error_run_only() -> None:
    h = History.from_records([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}], run="t")
    r = RunAnalysis("t", "", "epoch", None, None, [], h, error="no validation series")
    d = assert_self_contained(render_html(Analysis([r])))
    assert "cannot analyse: no validation series" in d.alltext


def _vlabels(svg: str) -> list[tuple[str, str, float]]:
    """``(text, text-anchor, y)`` of every vertical-line label of a chart."""
    root = ET.fromstring(svg)
    return [(el.text or "", el.get("text-anchor") or "", float(el.get("y") or "nan")) for el in root.iter()
            if el.tag.endswith("text") and "vlabel" in (el.get("class") or "")]


def test_vline_labels_stack_instead_of_overlapping_and_stay_inside() -> None:
    ch = Chart(width=640, height=260)
    ch.line([0, 100], [0, 1], "s-val")
    ch.vline(50, "onset", label="first label")
    ch.vline(51, "bestline", label="second label")  # would overlap the first: goes one row up
    ch.vline(99, "onset", label="at the right edge", anchor="start")  # no room on the right: flipped to "end"
    ch.vline(1, "onset", label="at the left edge", anchor="end")  # no room on the left: flipped to "start"
    labels = {t: (a, y) for t, a, y in _vlabels(ch.render())}
    assert labels["second label"][1] == labels["first label"][1] - 14
    assert labels["at the right edge"][0] == "end" and labels["at the left edge"][0] == "start"
    assert _vlabels(Chart(compact=True).vline(1.0, "onset", label="hidden").render()) == []


@pytest.mark.parametrize(("value", "expected"), [
    (True, "yes"),
    (None, "–"),
    ([1, 2.5, "a<b"], "1, 2.5, a&lt;b"),
    (list(range(1, 11)), "10 values, from 1 to 10 (min 1, max 10)"),
    (list(range(9)) + ["x"], "10 values: 0, 1, 2, 3, 4, 5, 6, 7, …"),
    ({"a": 0.5, "b": [1, 2]}, "a: 0.5; b: 1, 2"),
])
def test_evidence_values_are_summarised_and_escaped(value: object, expected: str) -> None:
    from gapwatch.report.html import _ev_value

    assert _ev_value(value) == expected
