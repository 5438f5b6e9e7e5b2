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
