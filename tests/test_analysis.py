"""Core analysis: monitor choice, best point, the gapwatch.analysis/1 contract and the CLI exit codes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gapwatch import History, InputError, analyze
from gapwatch.cli import main
from gapwatch.errors import UsageError
from gapwatch.findings import Finding, FindingKind, Severity
from gapwatch.monitor import Monitor, choose_monitor, parse_monitor
from gapwatch.stats import mann_kendall, noise_sigma, rolling_mean


def u_run(n: int = 40, best: int = 15, noise: float = 0.0, seed: int = 0) -> History:
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(1, n + 1):
        rows.append({"epoch": e, "step": 10 * e, "train_loss": 1.0 / e,
                     "val_loss": 0.5 + (e - best) ** 2 / 400 + noise * rng.standard_normal(),
                     "val_acc": 0.9 - (e - best) ** 2 / 4000})
    return History.from_records(rows, run="u")


@pytest.mark.parametrize(
    "names,expected",
    [
        # issue 13: the task metric decides when it is logged beside the loss (the loss is evidence)
        (["train_loss", "val_loss", "val_acc"], Monitor("val", "acc", "max")),
        (["train_loss", "val_acc"], Monitor("val", "acc", "max")),
        (["loss", "eval_loss"], Monitor("val", "loss", "min")),
        (["train_loss", "test_acc"], Monitor("test", "acc", "max")),
    ],
)
def test_choose_monitor(names: list[str], expected: Monitor) -> None:
    h = History.from_records([{"epoch": 1, **{n: 0.5 for n in names}}, {"epoch": 2, **{n: 0.4 for n in names}}])
    assert choose_monitor(h) == expected


def test_choose_monitor_without_heldout_names_metrics() -> None:
    h = History.from_records([{"epoch": 1, "loss": 1.0, "accuracy": 0.5}], source="log.csv")
    with pytest.raises(InputError, match=r"no validation series.*loss, accuracy"):
        choose_monitor(h)


@pytest.mark.parametrize("spec,mode,expected", [
    ("val_loss", None, Monitor("val", "loss", "min")),
    ("eval/accuracy", None, Monitor("val", "acc", "max")),
    ("val_loss", "max", Monitor("val", "loss", "max")),
    ("retention:acc", None, Monitor("retention", "acc", "max")),
])
def test_parse_monitor(spec: str, mode: str | None, expected: Monitor) -> None:
    assert parse_monitor(spec, mode) == expected


def test_analysis_contract_on_u_curve() -> None:
    doc = analyze(u_run()).to_dict()
    assert doc["schema"] == "gapwatch.analysis/1"
    (run,) = doc["runs"]
    assert set(run) >= {"name", "source", "x", "monitor", "best", "findings"}
    assert run["x"] == "epoch"
    # issue 13: the task metric (val_acc) decides, the loss is evidence, and the JSON says why
    assert {k: run["monitor"][k] for k in ("split", "metric", "mode")} == {"split": "val", "metric": "acc",
                                                                          "mode": "max"}
    assert run["monitor"]["reason"] == "task metric acc beside loss"
    assert run["monitor"]["evidence"] == [{"split": "val", "metric": "loss", "mode": "min"}]
    assert run["best"]["epoch"] == 15 and run["best"]["step"] == 150
    kinds = [f["kind"] for f in run["findings"]]
    assert "overfitting" in kinds
    of = run["findings"][kinds.index("overfitting")]
    assert set(of) >= {"kind", "severity", "step", "epoch", "message", "evidence", "actions", "references"}
    assert of["severity"] in ("warning", "critical")
    assert of["epoch"] == 15
    json.dumps(doc, allow_nan=False)  # strictly valid JSON


def test_no_overfitting_on_improving_curve() -> None:
    rows = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e + 0.1} for e in range(1, 30)]
    r = analyze(History.from_records(rows)).runs[0]
    assert not [f for f in r.findings if f.kind == "overfitting"]
    assert r.best is not None and r.best.epoch == 29


def test_single_evaluation_is_a_data_finding() -> None:
    r = analyze(History.from_records([{"epoch": 1, "val_loss": 0.3}], source="one.jsonl")).runs[0]
    msgs = [f.message for f in r.findings if f.kind == "data"]
    assert any("1 finite evaluation" in m and "one.jsonl" in m for m in msgs)


def test_one_record_at_a_late_epoch_is_a_snapshot_not_a_live_log() -> None:
    """``[{"epoch": 10, "train_loss": 0.0114, "val_loss": 0.1267, "val_mae": 0.327}]`` (a surrogate model's
    training_history.json, batch 23 dev): one record, written at the end of a 10-epoch fit — refused like a final
    score; the same record at epoch 1 is a live log after its first evaluation (the data note)."""
    late = History.from_records([{"epoch": 10, "train_loss": 0.0114, "val_loss": 0.1267, "val_mae": 0.327}],
                                source="training_history.json")
    with pytest.raises(InputError, match="holds a single value of each series"):
        analyze(late, forecast=False, examples=False)
    first = History.from_records([{"epoch": 1, "train_loss": 0.0114, "val_loss": 0.1267}], source="h.json")
    r = analyze(first, forecast=False, examples=False).runs[0]
    assert r.error is None and any(f.kind == "data" and "1 finite evaluation" in f.message for f in r.findings)


def test_monitor_on_test_split_warns() -> None:
    rows = [{"epoch": e, "train_loss": 1 / e, "test_loss": 1 / e} for e in range(1, 6)]
    r = analyze(History.from_records(rows)).runs[0]
    assert any(f.kind == "data" and "test split is monitored" in f.message for f in r.findings)


def test_nan_values_are_kept_not_best() -> None:
    rows = [{"epoch": e, "val_loss": (math.nan if e == 3 else 1 / e)} for e in range(1, 8)]
    h = History.from_records(rows)
    s = h.series("val", "loss")
    assert np.isnan(s.values[2]) and len(s) == 7
    r = analyze(h).runs[0]
    assert r.best is not None and r.best.epoch == 7


@pytest.mark.parametrize("vals,expect", [([1, 2, 3, 4, 5], 1.0), ([5, 4, 3, 2, 1], -1.0), ([1, 1], 0.0)])
def test_mann_kendall_tau(vals: list[float], expect: float) -> None:
    assert mann_kendall(np.array(vals, float))[0] == pytest.approx(expect)


def test_noise_sigma_ignores_trend() -> None:
    x = np.linspace(0, 1, 200)
    rng = np.random.default_rng(0)
    assert noise_sigma(3 * x**2) == pytest.approx(0.0, abs=1e-9)
    assert noise_sigma(3 * x**2 + 0.1 * rng.standard_normal(200)) == pytest.approx(0.1, rel=0.2)


def test_rolling_mean_trailing() -> None:
    np.testing.assert_allclose(rolling_mean(np.array([1.0, 2, 3, 4]), 2), [1, 1.5, 2.5, 3.5])


def test_cli_json_and_exit_codes(tmp_path, capsys) -> None:
    p = tmp_path / "log.jsonl"
    rows = [{"epoch": e, "train_loss": 1 / e, "val_loss": 0.5 + (e - 10) ** 2 / 100} for e in range(1, 31)]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(["analyze", str(p), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["runs"][0]["findings"][0]["kind"] == "overfitting"
    assert main(["analyze", str(p), "--quiet", "--fail-on", "warning"]) == 3
    assert main(["analyze", str(tmp_path / "missing.csv")]) == 2  # a wrong path argument is a usage error
    assert "missing.csv" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("epoch,val_loss\n1,0.5\n2,oops\n")
    assert main(["analyze", str(bad)]) == 1  # unreadable input
    err = capsys.readouterr().err
    assert "bad.csv" in err and "line 3" in err and "oops" in err
    assert main(["analyze", str(p), "--mode", "sideways"]) == 2


def test_html_refuses_to_clobber(tmp_path, capsys) -> None:
    p = tmp_path / "log.jsonl"
    p.write_text("\n".join(json.dumps({"epoch": e, "val_loss": 1 / e}) for e in range(1, 6)) + "\n")
    out = tmp_path / "r.html"
    out.write_text("mine")
    assert main(["analyze", str(p), "--html", str(out), "--quiet"]) == 2
    assert out.read_text() == "mine"
    assert main(["analyze", str(p), "--html", str(out), "--quiet", "--force"]) == 0
    assert out.read_text().startswith("<!doctype html>")


def test_guard_header_names_the_monitor(tmp_path) -> None:
    """A live guard's log names its monitored series in its header; analyze uses it unless told otherwise."""
    from gapwatch.readers import load

    p = tmp_path / "guard.jsonl"
    lines = [json.dumps({"gapwatch": "guard/1", "run": "r", "monitor": "val_acc", "mode": "max"})]
    lines += [json.dumps({"epoch": e, "val_loss": 1 / e, "val_acc": 0.5 + e / 100}) for e in range(1, 8)]
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert choose_monitor(h) == Monitor("val", "acc", "max")
    assert choose_monitor(h, Monitor("val", "loss", "min")) == Monitor("val", "loss", "min")


@pytest.mark.parametrize("argv", [["replay"], ["analyze"], ["forecast"], ["analyze", "--bogus", "x"]])
def test_usage_errors_exit_2_without_traceback(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("Missing argument" in err or "No such option" in err)


# ------------------------------------------------------------------------------------- pipeline (issue 11)
def _clean_sweep(n: int, *, copies: int = 1) -> History:
    """``n`` runs that never overfit (both curves improve to the end), ``copies`` identical copies of each,
    with a numeric hyperparameter that orders their (tiny) final-vs-best differences."""
    runs = []
    for i in range(n):
        recs = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1 / e + 0.1 + 0.0001 * i * (e == 30)}
                for e in range(1, 31)]
        for c in range(copies):
            name = f"run{i}-{c}"
            runs.append(History.from_records(recs, run=name).with_meta(name, learning_rate=10.0 ** -(i + 1)))
    return History.concat(runs)


def test_no_hyperparameter_effect_when_nothing_overfits() -> None:
    """Issue 12 (sweeps): 0 of 45 runs overfit must not produce 'goes with overfitting cost, p = 1e-15'."""
    a = analyze(_clean_sweep(15, copies=3), forecast=False)
    assert not [r for r in a.runs if any(f.kind == "overfitting" for f in r.findings)]
    assert not [e for e in a.effects if e.kind == "numeric"]
    assert "hyperparameter_effects" not in a.to_dict() or not [
        e for e in a.to_dict()["hyperparameter_effects"] if e["kind"] == "numeric"]


def test_duplicate_runs_count_once_in_effects() -> None:
    from gapwatch.summary import Effect, RunSummary, hyperparameter_effects

    def rs(name: str, lr: float, cost: float, over: bool) -> RunSummary:
        of = Finding(FindingKind.OVERFITTING, Severity.WARNING, "x") if over else None
        return RunSummary(name=name, label="val_loss", mode="min", x="epoch", best_value=1.0, best_x=1.0,
                          final_value=1.0 + cost, final_x=2.0, cost=cost, past_best=0.5, onset_x=None,
                          overfitting=of, worst=None, n_findings=0, headline="", level="ok",
                          meta={"learning_rate": lr})

    base = [rs(f"r{i}", 10.0 ** -i, 0.1 * i, i > 2) for i in range(1, 6)]
    one = {e.name: e for e in hyperparameter_effects(base)}["learning_rate"]
    many = {e.name: e for e in hyperparameter_effects(base * 9)}["learning_rate"]
    assert isinstance(one, Effect) and one.n == many.n == 5 and one.p == many.p


def test_analysis_carries_summary_forecast_and_effects_in_json() -> None:
    from gapwatch.testing.samples import sweep_history

    a = analyze(sweep_history(8), forecast=True)
    d = a.to_dict()
    run = d["runs"][0]
    assert run["summary"]["headline"] and run["summary"]["level"] in ("ok", "info", "warning", "critical")
    assert "forecast" in run and run["forecast"]["method"] == "ensemble"
    assert "hyperparameter_effects" in d and {e["name"] for e in d["hyperparameter_effects"]} >= {"dropout"}


def test_forecast_is_off_by_default_for_big_sweeps() -> None:
    from gapwatch.analysis import FORECAST_MAX_RUNS
    from gapwatch.testing.samples import sweep_history

    a = analyze(sweep_history(FORECAST_MAX_RUNS + 1))
    assert all(r.forecast is None for r in a.runs)
    a = analyze(sweep_history(3))
    assert all(r.forecast is not None for r in a.runs)


def test_history_iterates_runs_with_their_own_memo() -> None:
    from gapwatch.history import Run
    from gapwatch.testing.samples import sweep_history

    h = sweep_history(3)
    runs = list(h)
    assert [type(r) for r in runs] == [Run] * 3 and [r.name for r in runs] == h.runs()
    calls: list[int] = []
    assert runs[0].memo("k", lambda: calls.append(1) or 7) == 7
    assert runs[0].memo("k", lambda: calls.append(1) or 8) == 7 and calls == [1]
    single = History.from_records([{"epoch": 1, "val_loss": 1.0}], run="one")
    (only,) = list(single)
    assert isinstance(only, Run) and only.name == "one" and only.run_meta == {}


def test_data_detector_reports_notes_and_thin_logs() -> None:
    h = History.from_records([{"epoch": 1, "val_loss": 1.0, "train_loss": 1.2}], run="one-eval")
    r = analyze(h, forecast=False).runs[0]
    data = [f for f in r.findings if f.kind == FindingKind.DATA]
    assert any("1 finite evaluation" in f.message for f in data)
    only = analyze(h, forecast=False, detectors=["overfitting"]).runs[0]
    assert {f.detector for f in only.findings} <= {"overfitting", "monitor", "history"}


def test_unknown_detector_is_a_usage_error() -> None:
    h = History.from_records([{"epoch": e, "val_loss": 1.0 / e} for e in range(1, 6)])
    with pytest.raises(UsageError, match="unknown detector"):
        analyze(h, detectors=["overfit"])
    with pytest.raises(UsageError, match="forecast_method"):
        analyze(h, forecast_method="magic")  # type: ignore[arg-type]


def test_long_evidence_is_thinned_when_written() -> None:
    from gapwatch.findings import MAX_EVIDENCE_POINTS

    f = Finding(FindingKind.OVERFITTING, Severity.WARNING, "m",
                evidence={"gap_trajectory": [float(i) for i in range(3 * MAX_EVIDENCE_POINTS)], "z": 4.0})
    d = f.to_dict()["evidence"]
    assert len(d["gap_trajectory"]) == MAX_EVIDENCE_POINTS == len(d["gap_trajectory_index"])
    assert d["gap_trajectory_index"][0] == 0 and d["gap_trajectory_index"][-1] == 3 * MAX_EVIDENCE_POINTS - 1
    assert d["gap_trajectory"][-1] == 3 * MAX_EVIDENCE_POINTS - 1 and d["z"] == 4.0
    assert len(f.evidence["gap_trajectory"]) == 3 * MAX_EVIDENCE_POINTS  # the finding keeps every point


def test_finding_kind_is_the_enum() -> None:
    f = Finding("overfitting", Severity.WARNING, "m")  # type: ignore[arg-type]
    assert f.kind is FindingKind.OVERFITTING and f"{f.kind}" == "overfitting" and f.to_dict()["kind"] == "overfitting"
    with pytest.raises(ValueError, match="Finding.kind must be one of"):
        Finding("overfit", Severity.WARNING, "m")  # type: ignore[arg-type]


def test_unreadable_file_of_a_sweep_is_a_run_with_an_error(tmp_path) -> None:
    """Issue 12 (sweeps): a file of a sweep that cannot be read is listed with why, never dropped silently."""
    from gapwatch import load

    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    rows = "".join(f"{e},{1 / e:.4f},{1 / e + 0.1:.4f}\n" for e in range(1, 11))
    (tmp_path / "good" / "log.csv").write_text("epoch,loss,val_loss\n" + rows)
    (tmp_path / "bad" / "log.csv").write_text("epoch,loss,val_loss\n1,0.5,abc\n2,0.4,0.5\n")
    a = analyze(load(tmp_path), forecast=False)
    by = {r.name: r for r in a.runs}
    assert by["good/log"].error is None
    assert "bad/log" in by and "expected a number" in (by["bad/log"].error or "")
    assert by["bad/log"].to_dict()["error"] == by["bad/log"].error
