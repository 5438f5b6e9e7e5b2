"""The fast paths of the scale work compute exactly what the simple formulas they replaced computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.analysis import FORECAST_MAX_POINTS
from gapwatch.analysis import forecast_input as _forecast_input
from gapwatch.detectors import run_all
from gapwatch.detectors.instability import trailing_median
from gapwatch.detectors.overfitting import _trajectory_index
from gapwatch.history import History
from gapwatch.monitor import Monitor
from gapwatch.stats import _mk_s, median, rolling_median, sliding_median
from gapwatch.stats import trailing_mean as _trailing_mean
from gapwatch.testing import synth

_vals = st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, 1.0, 1.0, np.nan])),
                 min_size=0, max_size=60)


@settings(max_examples=150, deadline=None)
@given(_vals)
def test_median_equals_numpy(vals: list[float]) -> None:
    v = np.asarray(vals, float)
    ref = float(np.median(v)) if v.size else float("nan")
    got = median(v)
    assert got == ref or (np.isnan(got) and np.isnan(ref))


@settings(max_examples=120, deadline=None)
@given(_vals, st.integers(1, 9))
def test_sliding_and_trailing_median_equal_one_median_per_window(vals: list[float], k: int) -> None:
    v = np.asarray(vals, float)
    if v.size >= k:
        ref = np.array([np.median(v[j: j + k]) for j in range(v.size - k + 1)])
        np.testing.assert_array_equal(sliding_median(v, k), ref)
    ref_t = np.array([np.nan] + [np.median(v[max(0, i - k): i]) for i in range(1, v.size)])[: v.size]
    np.testing.assert_array_equal(trailing_median(v, k), ref_t)
    h = k // 2
    ref_r = np.array([np.median(v[max(0, i - h): i + h + 1]) for i in range(v.size)]) if k > 1 else v
    np.testing.assert_array_equal(rolling_median(v, k), ref_r)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60), st.integers(1, 12))
def test_trailing_mean_is_bit_identical_to_one_mean_per_window(vals: list[float], w: int) -> None:
    z = np.asarray(vals, float)
    ref = np.array([np.mean(z[max(0, i - w + 1): i + 1]) for i in range(z.size)])
    np.testing.assert_array_equal(_trailing_mean(z, w), ref)


def test_mann_kendall_blocks_equal_pairwise() -> None:
    rng = np.random.default_rng(1)
    for v in (rng.normal(size=3333), np.round(rng.normal(size=2700), 1), np.cumsum(rng.normal(size=2500))):
        assert _mk_s(v) == float(np.triu(np.sign(v[None, :] - v[:, None]), 1).sum())


def _sweep(n_runs: int) -> History:
    return History.concat([synth.generate(fam, seed).history.with_run_name(f"{fam}/{seed}")
                           for seed in range(n_runs) for fam in ("overfitting", "spikes", "underfitting")])


def test_sweep_iteration_index_equals_a_fresh_index() -> None:
    for run in _sweep(2):
        fresh = History(run.frame)._index()
        got = run._index()
        assert list(got["groups"]) == list(fresh["groups"])
        for key, pos in fresh["groups"].items():
            np.testing.assert_array_equal(got["groups"][key], pos)
        for col in ("step", "epoch", "value"):
            np.testing.assert_array_equal(got[col], fresh[col])
        assert list(got["name"]) == list(fresh["name"]) and got["pairs"] == fresh["pairs"]
        assert run.runs() == History(run.frame).runs()


def test_small_and_groupby_index_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    h = _sweep(1)
    small = History(h.frame)._index()
    import gapwatch.history as hist

    monkeypatch.setattr(hist, "_SMALL_INDEX_ROWS", 0)
    big = History(h.frame)._index()
    assert list(small["groups"]) == list(big["groups"])
    for key, pos in big["groups"].items():
        np.testing.assert_array_equal(small["groups"][key], pos)


def test_findings_do_not_depend_on_shared_per_history_results() -> None:
    """Memoised results (instability's spikes asked again by underfitting) give the findings a History without
    any cached state gives."""
    for fam in ("spikes", "underfitting", "divergence", "overfitting", "double_descent"):
        for seed in range(3):
            h = synth.generate(fam, seed).history
            a = [f.to_dict() for f in run_all(h)]
            again = [f.to_dict() for f in run_all(h)]  # answered from the History's memo
            b = [f.to_dict() for f in run_all(History(h.frame))]
            assert a == again == b


def test_gap_trajectory_is_thinned_on_long_runs_only() -> None:
    assert _trajectory_index(500, 500) is None
    idx = _trajectory_index(23809, 500)
    assert idx is not None and idx.size == 500 and idx[0] == 0 and idx[-1] == 23808
    assert np.all(np.diff(idx) > 0)


def test_forecast_input_thins_long_series_only() -> None:
    n = 3 * FORECAST_MAX_POINTS + 7
    steps = np.arange(1, n + 1) * 10.0
    df = pd.DataFrame({"run": "r", "step": steps, "epoch": np.nan, "split": "val", "metric": "loss",
                       "value": 1.0 / np.sqrt(steps), "name": "val/loss"})
    h = History(df)
    mon = Monitor("val", "loss", "min")
    thin, note = _forecast_input(h, mon)
    s = thin.series("val", "loss")
    assert note is not None and len(s) == FORECAST_MAX_POINTS
    assert s.step[0] == steps[0] and s.step[-1] == steps[-1]
    short = History(df.iloc[:FORECAST_MAX_POINTS])
    same, none = _forecast_input(short, mon)
    assert same is short and none is None
