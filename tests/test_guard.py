"""Framework-free Guard: decisions = policy replay, history file, state round trip, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.analysis import analyze
from gapwatch.errors import UsageError
from gapwatch.guard import Guard, MetricNotLoggedError, NonFiniteMetricError, read_guard_log, replay_log
from gapwatch.policy import StopPolicy
from gapwatch.readers import load


def u_curve(n: int = 60, best: int = 20, noise: float = 0.01, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Validation loss falling to ``best`` then rising; training loss always falling (overfitting)."""
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=float)
    val = 1.0 / (1 + 0.3 * x) + 0.004 * np.maximum(0, x - best) ** 1.3 + noise * rng.standard_normal(n)
    train = 1.0 / (1 + 0.5 * x)
    return train, val


def feed(g: Guard, train: np.ndarray, val: np.ndarray, start: int = 0, stop_early: bool = True) -> list:
    out = []
    for i in range(start, len(val)):
        d = g.observe(step=10 * (i + 1), epoch=i + 1, train_loss=float(train[i]), val_loss=float(val[i]))
        out.append(d)
        if d.stop and stop_early:
            break
    return out


def test_stops_on_overfitting_and_writes_readable_history(tmp_path):
    train, val = u_curve()
    log = tmp_path / "run.jsonl"
    g = Guard(log=log, verbose=False)
    ds = feed(g, train, val)
    g.close()
    assert ds[-1].stop and ds[-1].reason
    assert ds[-1].best_index < ds[-1].evaluation
    h = load(log)
    assert len(h.series("val", "loss")) == len(ds)
    res = analyze(h)
    assert res.runs[0].best["epoch"] == ds[-1].best_epoch
    info = read_guard_log(log)
    assert info["header"]["monitor"] == "val_loss" and info["header"]["mode"] == "min"
    assert [r["evaluation"] for r in info["decisions"]] == [ds[-1].evaluation]


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), best=st.integers(3, 40), noise=st.floats(0.0, 0.05))
def test_live_decisions_equal_policy_replay(tmp_path_factory, seed, best, noise):
    """Every live decision equals a fresh StopPolicy fed the monitored series read back from the file."""
    train, val = u_curve(n=50, best=best, noise=noise, seed=seed)
    log = tmp_path_factory.mktemp("r") / "run.jsonl"
    g = Guard(log=log, verbose=False, detect_every=50, detectors=[])
    ds = feed(g, train, val, stop_early=False)
    g.close()
    s = load(log).series("val", "loss")
    pol = StopPolicy("min", dict(read_guard_log(log)["header"]["policy"]))
    for d, v, stp, ep in zip(ds, s.values, s.step, s.epoch):
        p = pol.update(float(v), step=float(stp), epoch=float(ep))
        assert (p.action, p.best_index, p.improved) == (d.action, d.best_index, d.improved)
    first, n = replay_log(log)
    live_first = next((d for d in ds if d.stop), None)
    assert (first is None) == (live_first is None)
    if first is not None:
        assert live_first is not None
        assert n == live_first.evaluation + 1 and first.best_index == live_first.best_index


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 45))
def test_state_round_trip_continues_with_identical_decisions(tmp_path_factory, seed, cut):
    train, val = u_curve(n=50, best=15, noise=0.02, seed=seed)
    d = tmp_path_factory.mktemp("s")
    kw = dict(verbose=False, detect_every=7, detect_budget=None, detectors=["overfitting"])
    ref = feed(Guard(log=d / "a.jsonl", **kw), train, val, stop_early=False)
    g1 = Guard(log=d / "b.jsonl", **kw)
    part1 = feed(g1, train[:cut], val[:cut], stop_early=False)
    state = json.loads(json.dumps(g1.state_dict()))  # must be strict JSON
    g1.close()
    g2 = Guard(log=d / "b.jsonl", overwrite=True, **kw)
    g2.load_state_dict(state)
    part2 = feed(g2, train, val, start=cut, stop_early=False)
    g2.close()
    strip = [(x.action, x.best_index, x.improved, x.reason, [f.kind for f in x.findings]) for x in ref]
    assert strip == [
        (x.action, x.best_index, x.improved, x.reason, [f.kind for f in x.findings]) for x in part1 + part2
    ]
    # the resumed file still reads as one run with every evaluation once
    assert len(load(d / "b.jsonl").series("val", "loss")) == len(val)


def test_findings_reported_once_and_logged(tmp_path):
    train, val = u_curve(n=50, best=12, noise=0.003)
    lines: list[str] = []
    log = tmp_path / "f.jsonl"
    g = Guard(
        log=log,
        printer=lines.append,
        detect_every=3,
        detect_budget=None,
        detectors=["overfitting"],
        policy={"max_wait": 200, "z_stop": 1e9},
    )
    ds = feed(g, train, val, stop_early=False)
    g.close()
    kinds = [f.kind for d in ds for f in d.findings]
    assert "overfitting" in kinds
    # reported again only when severity rises (warning -> critical at most)
    assert kinds.count("overfitting") <= 2
    assert any("overfitting" in ln for ln in lines)
    assert any(r["kind"] == "overfitting" for r in read_guard_log(log)["findings"])


def test_missing_metric_lists_what_was_seen():
    g = Guard(monitor="val_loss", verbose=False)
    with pytest.raises(MetricNotLoggedError, match=r"metrics seen: train_loss, val_acc"):
        g.observe(epoch=1, train_loss=1.0, val_acc=0.5)


@pytest.mark.parametrize("name", ["eval_loss", "val/loss", "valid_loss", "validation_loss"])
def test_monitor_matches_normalised_names(name):
    g = Guard(monitor="val_loss", verbose=False)
    assert g.observe(epoch=1, **{name: 0.5}).best_value == 0.5


def test_auto_monitor_prefers_validation_and_refuses_test_only():
    g = Guard(monitor=None, verbose=False)
    g.observe(epoch=1, train_loss=1.0, eval_accuracy=0.5)
    assert g.monitored is not None and (g.monitored.split, g.monitored.metric, g.monitored.mode) == (
        "val",
        "acc",
        "max",
    )
    with pytest.raises(UsageError, match="validation"):
        Guard(monitor=None, verbose=False).observe(epoch=1, test_loss=1.0)


def test_nan_raises_naming_metric_and_is_logged(tmp_path):
    log = tmp_path / "n.jsonl"
    g = Guard(log=log, verbose=False)
    g.observe(epoch=1, val_loss=1.0)
    with pytest.raises(NonFiniteMetricError, match=r"'val_loss' is nan at evaluation 1"):
        g.observe(epoch=2, val_loss=float("nan"))
    g.close()
    assert math.isnan(load(log).series("val", "loss").values[-1])


def test_nan_stop_restores_previous_best():
    g = Guard(verbose=False, on_nan="stop")
    g.observe(epoch=1, val_loss=1.0)
    g.observe(epoch=2, val_loss=0.8)
    d = g.observe(epoch=3, val_loss=float("inf"))
    assert d.stop and d.best_index == 1 and d.policy_action == "continue" and "non-finite" in d.reason


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"detect_every": 0}, "detect_every"),
        ({"on_nan": "explode"}, "on_nan"),
        ({"mode": "up"}, "mode"),
        ({"detect_budget": 0.0}, "detect_budget"),
        ({"detect_budget": 2}, "detect_budget"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(UsageError, match=match):
        Guard(verbose=False, **kwargs)


def test_bad_metric_value_names_key():
    with pytest.raises(UsageError, match="'val_loss'.*'abc'"):
        Guard(verbose=False).observe(epoch=1, val_loss="abc")


def test_never_overwrites_existing_log(tmp_path):
    p = tmp_path / "mine.jsonl"
    p.write_text("precious\n")
    g = Guard(log=p, verbose=False)
    with pytest.raises(UsageError, match="refusing to overwrite"):
        g.check_log()
    with pytest.raises(UsageError, match="refusing to overwrite"):
        g.observe(epoch=1, val_loss=1.0)
    assert p.read_text() == "precious\n"


def test_crashed_run_cut_mid_line_is_still_readable(tmp_path):
    train, val = u_curve(n=12)
    log = tmp_path / "c.jsonl"
    g = Guard(log=log, verbose=False)
    feed(g, train, val, stop_early=False)
    # no close(): every line was flushed; simulate a crash mid-write of the next line
    with open(log, "a") as fh:
        fh.write('{"epoch": 13, "val_lo')
    assert len(load(log).series("val", "loss")) == 12


def test_state_rejects_other_versions():
    g = Guard(verbose=False)
    st_ = g.state_dict()
    with pytest.raises(UsageError, match="version"):
        g.load_state_dict({**st_, "version": 99})
    with pytest.raises(UsageError, match="unexpected keys"):
        g.load_state_dict({**st_, "extra": 1})


def test_detection_budget_postpones_costly_passes():
    """With a tiny budget, a pass is postponed until enough wall time has passed; with None it is fixed."""
    train, val = u_curve(n=30)
    fixed = Guard(
        verbose=False,
        detect_every=2,
        detect_budget=None,
        detectors=["overfitting"],
        policy={"max_wait": 100, "z_stop": 1e9},
    )
    tight = Guard(
        verbose=False,
        detect_every=2,
        detect_budget=1e-9,
        detectors=["overfitting"],
        policy={"max_wait": 100, "z_stop": 1e9},
    )
    feed(fixed, train, val, stop_early=False)
    feed(tight, train, val, stop_early=False)
    assert fixed._since_detect == 0 and tight._since_detect > 2  # the budget held the pass back
