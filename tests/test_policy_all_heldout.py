"""The stop option ``stop_when="all_heldout"`` (issue 13 item 4): stop only when the deciding series and every
other held-out signal degrade by the same test — online (policy, guard), offline (replay) and through a saved
state, with the same decisions everywhere."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.errors import UsageError
from gapwatch.guard import Guard
from gapwatch.history import History
from gapwatch.policy import Decision, StopPolicy, first_stop
from gapwatch.replay import (
    aligned_signals,
    heldout_signals,
    parse_params,
    replay_guard_log,
    replay_run,
    replay_values,
)

N = 40


def _noise(seed: int, n: int = N, sd: float = 0.002) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, sd, n)


def improving(n: int = N, seed: int = 0) -> np.ndarray:
    """A lower-is-better curve that keeps improving to the end."""
    return 1.0 * np.exp(-np.arange(n) / 12.0) + 0.3 + _noise(seed, n)


def u_shape(best: int, n: int = N, seed: int = 1) -> np.ndarray:
    """A lower-is-better curve whose best is at ``best`` and which worsens steadily after it."""
    t = np.arange(n, dtype=float)
    return 0.5 + 0.02 * np.abs(t - best) + _noise(seed, n)


def feed(values: np.ndarray, mode: str, others: dict[str, tuple[str, np.ndarray]],
         **params: object) -> tuple[int | None, Decision | None]:
    """``(first stop index or None, the decision there or None)``."""
    pol = StopPolicy(mode, dict(params), {k: m for k, (m, _) in others.items()})
    for i, v in enumerate(values):
        d = pol.update(float(v), step=10 * i, epoch=i, others={k: float(a[i]) for k, (_, a) in others.items()})
        if d.stop:
            return i, d
    return None, None


# ------------------------------------------------------------------ known answers
# The deciding series is a task metric (WER, lower is better); the other signal the held-out loss.
CASES = [
    # loss rises from the start while WER improves to the end (the Whisper pattern): neither option stops
    ("loss up, metric improving", improving(seed=3), u_shape(2, seed=4), None, None),
    # WER degrades from evaluation 15 while the loss keeps improving: 'deciding' stops by the metric's rule,
    # 'all_heldout' never does (the loss does not agree)
    ("metric up, loss improving", u_shape(15, seed=5), improving(seed=6), "stops", None),
    # WER degrades from 12, the loss only from 25: 'all_heldout' stops once both have degraded
    ("metric up then loss up", u_shape(12, seed=7), u_shape(25, seed=8), "stops", "after both"),
]


@pytest.mark.parametrize("name, wer, loss, deciding, all_heldout", CASES, ids=[c[0] for c in CASES])
def test_known_answers(name, wer, loss, deciding, all_heldout):
    others = {"eval_loss": ("min", loss)}
    d_stop, _ = feed(wer, "min", others)
    a_stop, dec = feed(wer, "min", others, stop_when="all_heldout")
    assert (d_stop is not None) == (deciding is not None)
    assert (a_stop is not None) == (all_heldout is not None)
    if deciding is not None:
        assert d_stop > int(np.argmin(wer)), name
    if all_heldout is not None:
        # both series alone would have stopped by then, and the later of the two decides
        alone_loss = first_stop(loss, "min")
        assert a_stop >= max(d_stop, alone_loss) and a_stop > d_stop
        assert "every held-out signal agrees (eval_loss)" in dec.reason
        assert dec.best_index == int(np.argmin(wer[: a_stop + 1]))  # the deciding series' best is restored


def test_holding_decision_says_which_signal_has_not_degraded():
    wer, loss = u_shape(15, seed=5), improving(seed=6)
    pol = StopPolicy("min", {"stop_when": "all_heldout"}, {"eval_loss": "min"})
    reasons = [pol.update(float(w), others={"eval_loss": float(lv)}).reason for w, lv in zip(wer, loss)]
    held = [r for r in reasons if r.startswith("holding")]
    assert held and "eval_loss has not degraded (stop_when='all_heldout')" in held[0]
    assert not pol.stopped


def test_max_mode_signal_and_missing_evaluations():
    """A task metric as the other signal (higher is better), measured only every other evaluation."""
    loss = u_shape(10, seed=11)  # the deciding series
    acc = 1.0 - u_shape(22, seed=12)  # accuracy: best at 22, worse after
    pol = StopPolicy("min", {"stop_when": "all_heldout"}, {"eval_acc": "max"})
    stop = None
    for i, v in enumerate(loss):
        d = pol.update(float(v), others={"eval_acc": float(acc[i])} if i % 2 == 0 else None)
        if d.stop:
            stop = i
            break
    assert stop is not None and stop > 22
    assert len(pol._others["eval_acc"]) == (stop // 2) + 1


def test_signals_never_measured_or_not_finite_do_not_block():
    wer = u_shape(12, seed=7)
    d_stop, _ = feed(wer, "min", {})
    a_stop, _ = feed(wer, "min", {"eval_loss": ("min", np.full(N, math.nan))}, stop_when="all_heldout")
    assert a_stop == d_stop is not None


def test_with_no_other_signal_all_heldout_is_deciding():
    v = u_shape(12, seed=7)
    assert first_stop(v, "min", stop_when="all_heldout") == first_stop(v, "min") == feed(v, "min", {})[0]


def test_bad_input_is_named():
    with pytest.raises(UsageError, match="stop_when must be one of 'deciding', 'all_heldout', got 'both'"):
        StopPolicy("min", {"stop_when": "both"})
    with pytest.raises(UsageError, match="signals must map a series name to 'min' or 'max', got 'x': 'up'"):
        StopPolicy("min", {}, {"x": "up"})
    pol = StopPolicy("min", {"stop_when": "all_heldout"}, {"eval_loss": "min"})
    with pytest.raises(ValueError, match=r"undeclared signal\(s\) \['eval_f1'\]; declared: \['eval_loss'\]"):
        pol.update(1.0, others={"eval_f1": 0.5})
    with pytest.raises(ValueError, match=r"others\['eval_loss'\] must be a number, got 'a'"):
        pol.update(1.0, others={"eval_loss": "a"})
    assert pol.evaluations_seen == 0  # a refused evaluation leaves no trace
    pol.update(1.0)
    with pytest.raises(UsageError, match="before the first evaluation"):
        pol.set_signals({"eval_f1": "max"})
    assert parse_params(["stop_when=all_heldout"]) == {"stop_when": "all_heldout"}
    with pytest.raises(UsageError, match="stop_when"):
        parse_params(["stop_when=sometimes"])


# ------------------------------------------------------------------ state
def test_state_round_trip_gives_the_same_decisions():
    wer, loss = u_shape(12, seed=7), u_shape(25, seed=8)
    a = StopPolicy("min", {"stop_when": "all_heldout"}, {"eval_loss": "min"})
    for i in range(18):
        a.update(float(wer[i]), step=i, others={"eval_loss": float(loss[i])})
    state = json.loads(json.dumps(a.state_dict()))
    assert state["signals"] == {"eval_loss": "min"} and len(state["others"]["eval_loss"]) == 18
    b = StopPolicy()
    b.load_state_dict(state)
    assert b.signals == a.signals and b.params == a.params
    for i in range(18, N):
        o = {"eval_loss": float(loss[i])}
        assert a.update(float(wer[i]), step=i, others=o) == b.update(float(wer[i]), step=i, others=o)
    assert a.stopped and b.stopped


def test_state_without_signals_is_unchanged_and_bad_others_are_refused():
    a = StopPolicy("min", {"stop_when": "all_heldout"})
    a.update(1.0)
    assert "signals" not in a.state_dict() and "others" not in a.state_dict()
    b = StopPolicy("min", {}, {"eval_loss": "min"})
    b.update(1.0, others={"eval_loss": math.nan})
    s = json.loads(json.dumps(b.state_dict()))
    assert s["others"] == {"eval_loss": ["nan"]}
    s["others"] = {"other": []}
    with pytest.raises(ValueError, match="others must hold one list per signal"):
        StopPolicy().load_state_dict(s)


# ------------------------------------------------------------------ guard and replay
def records(wer: np.ndarray, loss: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> list[dict]:
    out = []
    for i in range(len(wer)):
        rec = {"step": 100 * (i + 1), "epoch": float(i + 1), "eval_wer": float(wer[i]),
               "eval_loss": float(loss[i])}
        for k, v in (extra or {}).items():
            rec[k] = float(v[i])
        out.append(rec)
    return out


def run_guard(recs: list[dict], tmp_path, **policy: object) -> tuple[Guard, int | None]:
    g = Guard(policy=dict(policy), log=tmp_path / "run.jsonl", verbose=False, detect_every=10_000,
              detect_budget=None, detectors=[])
    stop = None
    for rec in recs:
        rec = dict(rec)
        step, epoch = rec.pop("step"), rec.pop("epoch")
        g.observe(step=step, epoch=epoch, train_loss=0.1, **rec)
        if g.stopped:
            stop = g.evaluations - 1
            break
    g.close()
    return g, stop


def test_guard_uses_the_held_out_loss_and_replay_agrees(tmp_path):
    wer, loss = u_shape(12, seed=7), u_shape(25, seed=8)
    g, stop = run_guard(records(wer, loss), tmp_path, stop_when="all_heldout")
    assert g.monitored.metric == "wer"  # the task metric decides
    assert g.stop_policy.signals == {"eval_loss": "min"}
    assert stop is not None and stop == feed(wer, "min", {"eval_loss": ("min", loss)}, stop_when="all_heldout")[0]
    d, seen = replay_guard_log(tmp_path / "run.jsonl")
    assert d is not None and seen - 1 == stop and d.best_index == g.last.best_index
    rr = replay_run(g.history(), params={"stop_when": "all_heldout"})
    assert rr.seen - 1 == stop
    # the default follows the deciding series alone and stops earlier
    g2, stop2 = run_guard(records(wer, loss), tmp_path / "d", stop_when="deciding")
    assert g2.stop_policy.signals == {} and stop2 is not None and stop2 < stop


def test_guard_state_round_trip_with_signals(tmp_path):
    wer, loss = u_shape(12, seed=7), u_shape(25, seed=8)
    recs = records(wer, loss)
    g, stop = run_guard(recs, tmp_path / "a", stop_when="all_heldout")
    h = Guard(policy={"stop_when": "all_heldout"}, verbose=False, detectors=[], detect_budget=None)
    for rec in recs[:15]:
        r = dict(rec)
        h.observe(step=r.pop("step"), epoch=r.pop("epoch"), **r)
    state = json.loads(json.dumps(h.state_dict()))
    k = Guard(policy={"stop_when": "all_heldout"}, verbose=False, detectors=[], detect_budget=None)
    k.load_state_dict(state)
    assert k.stop_policy.signals == {"eval_loss": "min"}
    for rec in recs[15:]:
        r = dict(rec)
        a = h.observe(step=r["step"], epoch=r["epoch"], eval_wer=r["eval_wer"], eval_loss=r["eval_loss"])
        b = k.observe(step=r["step"], epoch=r["epoch"], eval_wer=r["eval_wer"], eval_loss=r["eval_loss"])
        assert (a.action, a.best_index, a.reason) == (b.action, b.best_index, b.reason)
        if a.stop:
            assert a.evaluation == stop
            break


def test_several_eval_sets_are_signals(tmp_path):
    """HF eval_<set>_*: the same measure on the other sets is a signal too."""
    wer = u_shape(10, seed=21)
    recs = []
    for i in range(N):
        recs.append({"step": 10 * (i + 1), "eval_a_wer": float(wer[i]), "eval_b_wer": float(u_shape(20, seed=22)[i]),
                     "eval_c_wer": float(improving(seed=23)[i])})
    h = History.from_records(recs, run="r")
    run = next(iter(h))
    rr_d = replay_run(run)
    rr_a = replay_run(run, params={"stop_when": "all_heldout"})
    sig = {s.name for s, _ in heldout_signals(run, rr_a.monitor)}
    assert rr_a.monitor is not None and len(sig) == 2 and rr_a.monitor.metric not in sig
    assert rr_d.stop is not None
    assert rr_a.stop is None  # one set keeps improving: they never all agree


# ------------------------------------------------------------------ online == offline
curve_st = st.lists(st.integers(-400, 400).map(lambda k: k / 64.0), min_size=6, max_size=40)


@settings(max_examples=60, deadline=None)
@given(curve_st, st.data(), st.sampled_from(["min", "max"]), st.integers(1, 6), st.integers(6, 14))
def test_online_equals_offline(wer, data, mode, min_wait, max_wait):
    """The guard fed records one at a time, replay_run on its history and replay_guard_log on its file say stop
    at the same evaluation and restore the same one (random curves, a second signal with gaps)."""
    import tempfile
    from pathlib import Path

    n = len(wer)
    loss = data.draw(st.lists(st.integers(-400, 400).map(lambda k: k / 64.0), min_size=n, max_size=n))
    gaps = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    gaps[0] = False  # measured at the first evaluation (the guard fixes its signals there)
    params = {"stop_when": "all_heldout", "min_wait": min(min_wait, max_wait), "max_wait": max_wait}
    name = "eval_accuracy" if mode == "max" else "eval_wer"
    if mode == "max":  # an accuracy is a share: values in [0, 1] (one outside cannot decide; gapwatch.monitor)
        wer = [(w + 6.25) / 12.5 for w in wer]
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "g.jsonl"
        g = Guard(policy=params, log=log, verbose=False, detectors=[], detect_budget=None, on_nan="ignore")
        stop = None
        for i in range(n):
            metrics = {name: wer[i]} | ({} if gaps[i] else {"eval_loss": loss[i]})
            d = g.observe(step=i + 1, **metrics)
            if d.stop:
                stop = i
                break
        g.close()
        offline = replay_run(g.history(), params=params)
        from_log, seen = replay_guard_log(log)
    assert g.stop_policy.signals == {"eval_loss": "min"}
    assert (offline.seen - 1 if offline.stop is not None else None) == stop
    assert ((seen - 1) if from_log is not None else None) == stop
    if stop is not None:
        assert from_log.best_index == g.last.best_index
    # the policy fed the aligned signals directly agrees too
    run = next(iter(g.history()))
    s = run.series(g.monitored.split, g.monitored.metric)
    others = aligned_signals(s, [sig for sig, _ in heldout_signals(run, g.monitored)])
    d2, seen2 = replay_values(s.values, s.step, s.epoch, g.monitored.mode, signals={"eval_loss": "min"},
                              others=others, **params)
    assert ((seen2 - 1) if d2 is not None else None) == stop


def test_guard_with_an_explicit_monitor_takes_the_task_metric_as_the_signal(tmp_path):
    """monitor='eval_loss' (the user's choice decides): the task metric of the same set must agree."""
    wer, loss = u_shape(25, seed=8), u_shape(12, seed=7)
    g = Guard(monitor="eval_loss", policy={"stop_when": "all_heldout"}, verbose=False, detectors=[],
              detect_budget=None)
    stop = None
    for i in range(N):
        if g.observe(step=i + 1, eval_loss=float(loss[i]), eval_wer=float(wer[i])).stop:
            stop = i
            break
    assert g.stop_policy.signals == {"eval_wer": "min"}
    assert stop == feed(loss, "min", {"eval_wer": ("min", wer)}, stop_when="all_heldout")[0]
    assert stop is not None and stop > first_stop(loss, "min")


@settings(max_examples=80, deadline=None)
@given(curve_st, st.data(), st.integers(-1000, 1000), st.integers(-6, 6), st.booleans())
def test_offset_scale_and_direction_of_a_signal_change_no_decision(wer, data, offset, log2scale, flip):
    """The other signal judged in its own noise and range: adding a constant, rescaling it by a power of two
    or flipping its direction (values negated, mode max) changes no decision."""
    n = len(wer)
    loss = np.asarray(data.draw(st.lists(st.integers(-400, 400).map(lambda k: k / 64.0), min_size=n, max_size=n)))
    moved = (-1.0 if flip else 1.0) * (loss * 2.0**log2scale + offset)
    base = StopPolicy("min", {"stop_when": "all_heldout"}, {"s": "min"})
    other = StopPolicy("min", {"stop_when": "all_heldout"}, {"s": "max" if flip else "min"})
    for i in range(n):
        a = base.update(wer[i], others={"s": float(loss[i])})
        b = other.update(wer[i], others={"s": float(moved[i])})
        assert (a.action, a.best_index) == (b.action, b.best_index)
