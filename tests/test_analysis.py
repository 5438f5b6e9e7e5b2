"""Core analysis: monitor choice, best point, the gapwatch.analysis/1 contract and the CLI exit codes."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from gapwatch import History, InputError, analyze
from gapwatch.cli import main
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
