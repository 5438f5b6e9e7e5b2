"""The one-pass helpers of the double-descent detector against their brute-force definitions (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.detectors.double_descent import _episode_peaks, _first_argmin

curves = st.lists(st.integers(min_value=-5, max_value=5), min_size=1, max_size=40).map(
    lambda v: np.cumsum(np.asarray(v, dtype=float)) / 2.0)


@settings(max_examples=300, deadline=None)
@given(curves)
def test_prefix_argmin_is_the_first_argmin_of_every_prefix(sm: np.ndarray) -> None:
    neg_min = -np.minimum.accumulate(sm)
    assert [_first_argmin(neg_min, i) for i in range(sm.size)] == [int(np.argmin(sm[: i + 1])) for i in range(sm.size)]


@settings(max_examples=300, deadline=None)
@given(curves, st.floats(min_value=0.01, max_value=3.0))
def test_recovery_search_finds_the_first_value_below_the_earlier_best(sm: np.ndarray, tol: float) -> None:
    run_min = np.minimum.accumulate(sm)
    for pk in range(sm.size):
        best = sm[int(np.argmin(sm[: pk + 1]))]
        later = np.flatnonzero(sm[pk + 1:] < best - tol)
        expected = pk + 1 + int(later[0]) if later.size else sm.size
        assert int(np.searchsorted(-run_min, -(best - tol), side="right")) == expected


@settings(max_examples=300, deadline=None)
@given(curves)
def test_episode_peaks_are_the_argmax_of_each_positive_run(sm: np.ndarray) -> None:
    exc = sm - np.minimum.accumulate(sm)
    peaks, i = [], 0
    while i < exc.size:
        if exc[i] <= 0:
            i += 1
            continue
        j = i
        while j < exc.size and exc[j] > 0:
            j += 1
        peaks.append(i + int(np.argmax(exc[i:j])))
        i = j
    assert _episode_peaks(exc) == sorted(peaks, key=lambda k: -exc[k])


@settings(max_examples=300, deadline=None)
@given(curves, st.integers(min_value=1, max_value=7))
def test_excursion_peaks_by_chunks_equal_the_whole_excursion(sm: np.ndarray, chunk: int) -> None:
    import gapwatch.detectors.double_descent as dd

    neg_min = -np.minimum.accumulate(sm)
    old, dd._CHUNK = dd._CHUNK, chunk  # small chunks: episodes cross chunk ends
    try:
        got = dd._excursion_peaks(sm, neg_min)
    finally:
        dd._CHUNK = old
    assert got == _episode_peaks(sm + neg_min)


@settings(max_examples=200, deadline=None)
@given(curves, st.integers(min_value=0, max_value=39), st.integers(min_value=0, max_value=39),
       st.sampled_from([1, 3, 5, 7]))
def test_smoothing_a_stretch_equals_the_stretch_of_the_whole_smoothing(sm: np.ndarray, i: int, j: int,
                                                                      k: int) -> None:
    from gapwatch.detectors.double_descent import _Train
    from gapwatch.history import Series
    from gapwatch.stats import rolling_median

    lo, hi = sorted((i % sm.size, j % sm.size))
    x = np.arange(1.0, sm.size + 1)
    for metric, sign in (("loss", 1.0), ("acc", -1.0)):
        ts = Series("train", metric, metric, np.full(sm.size, np.nan), x, sm, "epoch")
        whole = sign * rolling_median(sm, k)
        np.testing.assert_array_equal(_Train(None, metric, k).smooth(ts, lo, hi), whole[lo:hi + 1])  # type: ignore[arg-type]
