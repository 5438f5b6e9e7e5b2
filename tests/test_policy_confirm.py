"""Tests of the optional forecast-confirmed stop of the stop policy (``confirm_p_best_behind``)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.forecast import forecast_curve
from gapwatch.policy import DEFAULTS, StopPolicy, first_stop, replay
from gapwatch.policy_forecast import p_best_behind
from gapwatch.testing import synth

CONFIRM = {"confirm_p_best_behind": 0.8, "confirm_wait": 3}


def val(family: str, seed: int, noise: float = 0.02) -> np.ndarray:
    return synth.generate(family, seed, noise=noise).history.series("val", "loss").values


def decisions(values, mode="min", **params):
    pol = StopPolicy(mode, params)
    return [pol.update(float(v), step=10 * i, epoch=i) for i, v in enumerate(values)]


def stop_index(values, mode="min", **params):
    d, n = replay(np.asarray(values, dtype=float), mode=mode, **params)
    return None if d is None else n - 1


def u_curve(n: int = 60, onset: int = 25, slope: float = 0.004, noise: float = 0.01, seed: int = 0) -> np.ndarray:
    t = np.arange(n, dtype=float)
    rng = np.random.default_rng(seed)
    return 1.0 / (1.0 + t / 5.0) + slope * np.clip(t - onset, 0, None) + noise * rng.standard_normal(n)


# ------------------------------------------------------------------ option off = the old policy, exactly
# First stops of the policy before the option existed (computed with that code), per variant:
# {}, {"max_wait": 20}, {"window": 3, "z_stop": 2.0}, {"keep_through_memorization": True}; noise 0.02.
VARIANTS = [{}, {"max_wait": 20}, {"window": 3, "z_stop": 2.0}, {"keep_through_memorization": True}]
OLD_STOPS = [
    ("clean", 0, [73, 81, 73, 73]), ("clean", 1, [93, None, 93, 93]), ("noisy", 0, [99, None, 92, 99]),
    ("noisy", 1, [85, 89, 69, 85]), ("overfitting", 0, [70, 78, 70, 70]), ("overfitting", 1, [66, 74, 67, 66]),
    ("double_descent", 0, [44, 44, 39, 44]), ("double_descent", 1, [38, 40, 34, 38]),
    ("spikes", 0, [85, 85, 85, 85]), ("spikes", 1, [73, 81, 87, 73]), ("underfitting", 0, [26, 34, 30, 26]),
    ("underfitting", 1, [26, 52, 44, 26]), ("nan", 0, [40, 40, 40, 40]), ("nan", 1, [72, 72, 72, 72]),
    ("divergence", 0, [39, 39, 39, 39]), ("divergence", 1, [59, 59, 59, 59]), ("grokking", 0, [7, 7, 7, 7]),
    ("grokking", 1, [11, 11, 10, 164]),
]


@pytest.mark.parametrize("family, seed, expected", OLD_STOPS)
def test_option_off_reproduces_the_old_decisions(family, seed, expected):
    v = val(family, seed)
    for params, exp in zip(VARIANTS, expected, strict=True):
        assert first_stop(v, "min", **params) == exp
        assert stop_index(v, **params) == exp
        assert stop_index(v, **params, confirm_p_best_behind=None, confirm_wait=2) == exp


def test_option_is_off_by_default_and_documented():
    assert DEFAULTS["confirm_p_best_behind"] is None
    assert StopPolicy().params["confirm_p_best_behind"] is None
    assert {"confirm_wait", "confirm_horizon"} <= set(DEFAULTS)


# ------------------------------------------------------------------ known answers
def test_confirmed_stop_on_a_clear_u_curve_is_earlier_and_restores_the_best():
    v = u_curve()
    base = stop_index(v)
    conf = stop_index(v, **CONFIRM)
    assert base is not None and conf is not None and conf < base
    ds = decisions(v, **CONFIRM)
    d = ds[conf]
    assert d.stop and "P(best already behind)" in d.reason
    assert d.best_index == int(np.argmin(v[: conf + 1]))
    assert conf - d.best_index >= CONFIRM["confirm_wait"]


def test_strictly_improving_curve_never_confirms():
    v = np.linspace(2.0, 0.5, 40)
    assert stop_index(v, confirm_p_best_behind=0.5, confirm_wait=1) is None


def test_confirmation_can_only_stop_earlier_never_later():
    for fam in ("overfitting", "double_descent", "noisy", "clean"):
        v = val(fam, 4)
        base = first_stop(v)
        conf = first_stop(v, **CONFIRM)
        if base is None:
            continue
        assert conf is not None and conf <= base


def test_memorisation_hold_blocks_the_confirmed_stop():
    v = val("grokking", 1, 0.01)
    keep = stop_index(v, keep_through_memorization=True)
    both = stop_index(v, keep_through_memorization=True, **CONFIRM)
    hold_end = next(i for i, d in enumerate(decisions(v, keep_through_memorization=True))
                    if not d.reason.startswith("holding"))
    assert both is None or both >= hold_end
    assert keep is None or both is None or both <= keep


def test_p_best_behind_matches_the_forecast_module():
    v = u_curve(40, onset=20)
    for n in (12, 30, 40):
        f = forecast_curve(np.arange(n, dtype=float), v[:n], method="ensemble", seed=0)
        assert p_best_behind(v[:n]) == f.p_best_behind_model  # the ensemble's own, before recalibration


def test_p_best_behind_degenerate_input_gives_zero():
    assert p_best_behind(np.array([1.0, 2.0])) == 0.0
    assert p_best_behind(np.array([1.0, math.nan, math.nan, 2.0])) == 0.0
    assert p_best_behind(np.ones(10)) == 0.0


def test_max_mode_mirrors_min_mode():
    v = u_curve()
    assert stop_index(-v, "max", **CONFIRM) == stop_index(v, "min", **CONFIRM)


# ------------------------------------------------------------------ determinism, replay == live, state
def test_same_decisions_twice():
    v = val("overfitting", 2)
    a, b = decisions(v, **CONFIRM), decisions(v, **CONFIRM)
    assert a == b


@pytest.mark.parametrize("family, seed", [("overfitting", 5), ("double_descent", 6), ("noisy", 7), ("nan", 3),
                                          ("spikes", 2)])
def test_vectorised_replay_equals_live(family, seed):
    v = val(family, seed)
    live = next((i for i, d in enumerate(decisions(v, **CONFIRM)) if d.stop), None)
    assert first_stop(v, "min", **CONFIRM) == live == stop_index(v, **CONFIRM)


def test_state_dict_roundtrip_with_option_on():
    v = u_curve(seed=3)
    a = StopPolicy("min", dict(CONFIRM))
    for x in v[:20]:
        a.update(float(x))
    s = json.loads(json.dumps(a.state_dict()))
    assert s["version"] == 1
    b = StopPolicy()
    b.load_state_dict(s)
    assert b.params == a.params
    for i, x in enumerate(v[20:]):
        assert a.update(float(x), epoch=20 + i) == b.update(float(x), epoch=20 + i)


def test_version_1_state_without_the_new_keys_still_loads():
    a = StopPolicy()
    for x in [3.0, 2.0, 1.0, 1.1]:
        a.update(x)
    s = a.state_dict()
    for k in ("confirm_p_best_behind", "confirm_wait", "confirm_horizon"):
        del s["params"][k]  # what a state saved before the option existed looks like
    b = StopPolicy()
    b.load_state_dict(s)
    assert b.params == DEFAULTS and b.evaluations_seen == 4


@pytest.mark.parametrize(
    "params, needle",
    [
        ({"confirm_p_best_behind": 0.0}, r"confirm_p_best_behind.*\(0, 1\].*0\.0"),
        ({"confirm_p_best_behind": 1.5}, "confirm_p_best_behind.*1.5"),
        ({"confirm_p_best_behind": True}, "confirm_p_best_behind.*True"),
        ({"confirm_p_best_behind": "0.8"}, "confirm_p_best_behind.*'0.8'"),
        ({"confirm_wait": 0}, "confirm_wait.*0"),
        ({"confirm_horizon": 1.0}, r"confirm_horizon.*\(1, inf\).*1.0"),
        ({"confirm_horizon": math.nan}, "confirm_horizon.*nan"),
    ],
)
def test_bad_confirm_parameters_name_the_value(params, needle):
    with pytest.raises(ValueError, match=needle):
        StopPolicy("min", params)


# ------------------------------------------------------------------ property
series_st = st.lists(st.integers(-200, 200).map(lambda k: k / 64.0), min_size=1, max_size=24)


@settings(max_examples=25, deadline=None)
@given(series_st, st.sampled_from([0.5, 0.8]), st.integers(1, 4), st.data())
def test_appending_never_changes_an_earlier_confirmed_stop(values, thr, wait, data):
    params = {"confirm_p_best_behind": thr, "confirm_wait": wait, "min_wait": 4, "max_wait": 8}
    k = data.draw(st.integers(1, len(values)))
    full = stop_index(values, **params)
    prefix = stop_index(values[:k], **params)
    assert prefix == (full if full is not None and full < k else None)
    assert first_stop(np.asarray(values, dtype=float), "min", **params) == full


def test_replay_cli_params_turn_the_option_on():
    from gapwatch.replay import parse_params

    p = parse_params(["confirm_p_best_behind=0.8", "confirm_wait=3", "confirm_horizon=1.25"])
    assert p["confirm_p_best_behind"] == 0.8 and p["confirm_wait"] == 3 and p["confirm_horizon"] == 1.25
