"""Tests of the online stop policy (gapwatch.policy): known answers, invariances, state, validation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.policy import DEFAULTS, StopPolicy, first_stop, replay
from gapwatch.testing import synth


def feed(values, mode="min", **params):
    pol = StopPolicy(mode, params)
    return [pol.update(v, step=10 * i, epoch=i) for i, v in enumerate(values)], pol


def stop_index(values, mode="min", **params):
    d, n = replay(np.asarray(values, dtype=float), mode=mode, **params)
    return None if d is None else n - 1


U_SHAPE = [5, 4, 3, 2, 1.5, 1.2, 1.0, 1.3, 1.6, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]


# ------------------------------------------------------------------ known answers
@pytest.mark.parametrize(
    "values, params, expected_stop, expected_restore",
    [
        # strictly improving noiseless curve: never stops
        (list(np.linspace(2.0, 0.5, 40)), {}, None, 39),
        # noiseless U: the best (index 6) is confirmed worse after min_wait evaluations
        (U_SHAPE, {"min_wait": 3}, 9, 6),
        (U_SHAPE, {"min_wait": 5}, 11, 6),
        # constant curve: no degradation, no improvement -> the patience cap (max_wait) stops it, restore first
        ([1.0] * 30, {"max_wait": 10, "window": 1}, 10, 0),
        # with window 3 the cap counts from the first complete 3-evaluation mean (index 2)
        ([1.0] * 30, {"max_wait": 10, "window": 3}, 12, 0),
        # non-finite evaluations after the best: stop and restore the best finite one
        ([3, 2, 1.5, 1.2, 1.1, 1.0, math.nan, math.nan, math.nan, math.nan], {"min_wait": 3}, 8, 5),
        ([3, 2, 1.5, 1.2, 1.1, 1.0] + [math.inf] * 8, {}, 10, 5),  # default min_wait = 5
        # 1-3 evaluations: too few to decide (warmup)
        ([1.0], {}, None, 0),
        ([1.0, 2.0], {}, None, 0),
        ([1.0, 2.0, 3.0], {}, None, 0),
    ],
)
def test_known_answers(values, params, expected_stop, expected_restore):
    decisions, pol = feed(values, **params)
    stop = next((i for i, d in enumerate(decisions) if d.stop), None)
    assert stop == expected_stop
    last = decisions[stop] if stop is not None else decisions[-1]
    assert last.best_index == expected_restore
    assert last.best_epoch == expected_restore and last.best_step == 10 * expected_restore
    assert pol.stopped == (expected_stop is not None)


def test_all_nan_never_stops_and_has_no_finite_best():
    decisions, pol = feed([math.nan] * 12)
    assert not any(d.stop for d in decisions)
    assert math.isnan(decisions[-1].best_value)
    assert pol.evaluations_seen == 12


def test_max_mode_mirrors_min_mode():
    acc = [0.1, 0.3, 0.5, 0.6, 0.7, 0.72, 0.74, 0.70, 0.65, 0.6, 0.55, 0.5, 0.45]
    assert stop_index(acc, "max") == stop_index([-a for a in acc], "min")
    assert stop_index(acc, "max") is not None


def test_stays_stopped_with_same_restore():
    decisions, pol = feed(U_SHAPE + [0.1, 0.05, 0.01])  # later improvements do not undo a stop
    first = next(i for i, d in enumerate(decisions) if d.stop)
    assert all(d.stop and d.best_index == decisions[first].best_index for d in decisions[first:])
    assert pol.stopped_at == first


def test_improved_flag():
    decisions, _ = feed([3.0, 2.0, 2.5, 1.0])
    assert [d.improved for d in decisions] == [True, True, False, True]


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    "params, needle",
    [
        ({"max_wait": 0}, "max_wait.*0"),
        ({"window": 2.5}, "window.*2.5"),
        ({"warmup": True}, "warmup.*True"),
        ({"z_stop": -1.0}, "z_stop.*-1.0"),
        ({"min_giveback": math.inf}, "min_giveback.*inf"),
        ({"progress_min": 1.5}, "progress_min.*1.5"),
        ({"keep_through_memorization": "yes"}, "keep_through_memorization.*yes"),
        ({"min_wait": 9, "max_wait": 4}, r"min_wait \(9\).*max_wait \(4\)"),
        ({"patience": 3}, "unknown parameter.*patience"),
    ],
)
def test_bad_parameters_name_the_value(params, needle):
    with pytest.raises(ValueError, match=needle):
        StopPolicy("min", params)


def test_bad_mode_and_bad_value():
    with pytest.raises(ValueError, match="'median'"):
        StopPolicy("median")
    with pytest.raises(ValueError, match="'abc'"):
        StopPolicy().update("abc")  # type: ignore[arg-type]


def test_defaults_are_documented_and_valid():
    pol = StopPolicy()
    assert pol.params == DEFAULTS
    assert set(DEFAULTS) >= {"warmup", "min_wait", "max_wait", "window", "z_stop", "min_giveback"}


# ------------------------------------------------------------------ state
def test_state_dict_roundtrip_gives_same_decisions():
    run = synth.generate("overfitting", 3, noise=0.02)
    v = run.history.series("val", "loss").values
    a = StopPolicy("min", {"max_wait": 15})
    for x in v[:20]:
        a.update(float(x))
    state = json.loads(json.dumps(a.state_dict()))
    b = StopPolicy()
    b.load_state_dict(state)
    assert b.params == a.params and b.evaluations_seen == 20
    for i, x in enumerate(v[20:]):
        assert a.update(float(x), epoch=20 + i) == b.update(float(x), epoch=20 + i)


def test_state_dict_keeps_non_finite_values_and_stop():
    a = StopPolicy()
    for x in [1.0, math.inf, math.nan, 0.5, 0.6, 0.7, 0.8, math.nan, math.nan]:
        a.update(x)
    s = json.loads(json.dumps(a.state_dict()))
    b = StopPolicy()
    b.load_state_dict(s)
    assert b.stopped == a.stopped
    assert b.update(0.1) == a.update(0.1)


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda s: s.update(version=99), "version 1, got 99"),
        (lambda s: s.update(extra=1), "keys"),
        (lambda s: s.update(stopped_at=50), "stopped_at"),
        (lambda s: s["params"].update(window=0), "window.*0"),
    ],
)
def test_load_state_dict_rejects_bad_state(mutate, needle):
    a = StopPolicy()
    for x in [3.0, 2.0, 1.0]:
        a.update(x)
    s = a.state_dict()
    mutate(s)
    with pytest.raises(ValueError, match=needle):
        StopPolicy().load_state_dict(s)


# ------------------------------------------------------------------ properties
series_st = st.lists(
    st.one_of(st.integers(-2000, 2000).map(lambda k: k / 256.0), st.just(math.nan)), min_size=1, max_size=60
)
params_st = st.fixed_dictionaries({
    "window": st.integers(1, 4),
    "min_wait": st.integers(1, 4),
    "max_wait": st.integers(5, 15),
    "z_stop": st.sampled_from([0.0, 1.0, 3.0]),
    "min_giveback": st.sampled_from([0.0, 0.02, 0.1]),
    "keep_through_memorization": st.booleans(),
})


@settings(max_examples=150, deadline=None)
@given(series_st, params_st, st.data())
def test_appending_never_changes_an_earlier_stop(values, params, data):
    k = data.draw(st.integers(1, len(values)))
    full = stop_index(values, **params)
    prefix = stop_index(values[:k], **params)
    assert prefix == (full if full is not None and full < k else None)


@settings(max_examples=150, deadline=None)
@given(series_st, params_st, st.integers(-1000, 1000), st.integers(-6, 6), st.sampled_from(["min", "max"]))
def test_offset_and_scale_change_no_decision(values, params, offset, log2scale, mode):
    v = np.asarray(values, dtype=float)
    base, _ = feed(v, mode, **params)
    moved, _ = feed(v * 2.0**log2scale + offset, mode, **params)
    assert [(d.action, d.best_index) for d in base] == [(d.action, d.best_index) for d in moved]


@settings(max_examples=150, deadline=None)
@given(series_st, params_st, st.sampled_from(["min", "max"]))
def test_vectorised_first_stop_matches_online_policy(values, params, mode):
    assert first_stop(np.asarray(values, dtype=float), mode, **params) == stop_index(values, mode, **params)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.001, 1.0), min_size=2, max_size=80))
def test_strictly_improving_noiseless_curve_never_stops(steps_down):
    values = 10.0 - np.cumsum(steps_down)
    assert stop_index(values) is None


# ------------------------------------------------------------------ generated runs with ground truth
def test_overfitting_runs_stop_after_the_best_and_restore_near_it():
    for seed in range(5):
        run = synth.generate("overfitting", seed, noise=0.005, severity=0.3)
        v = run.history.series("val", "loss")
        d, n = replay(v.values, v.step, v.epoch)
        assert d is not None and d.stop
        onset = run.label.onset_epoch
        assert d.best_epoch is not None and abs(d.best_epoch - onset) <= 3
        assert n < len(v.values)


def test_grokking_default_stops_in_memorisation_keep_through_waits_for_generalisation():
    for seed in range(4):
        run = synth.generate("grokking", seed, noise=0.01)
        v = run.history.series("val", "loss")
        onset = int(run.label.onset_epoch)
        d_default, n_default = replay(v.values, v.step, v.epoch)
        assert d_default is not None and n_default < onset  # stops while memorising, like patience rules
        d_keep, n_keep = replay(v.values, v.step, v.epoch, keep_through_memorization=True)
        assert n_keep > onset  # trained into the generalisation phase
        restore = d_keep.best_epoch if d_keep is not None else None
        assert d_keep is None or (restore is not None and restore > onset)


def test_memorisation_without_generalisation_trains_to_the_budget_when_keeping_through():
    run = synth.generate("memorization", 1, noise=0.01)
    v = run.history.series("val", "loss")
    d, n = replay(v.values, keep_through_memorization=True)
    assert d is None and n == len(v.values)
