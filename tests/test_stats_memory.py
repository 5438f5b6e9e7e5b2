"""The memory-lean paths of gapwatch.stats give bit-for-bit the values of the plain numpy formulas (issue 16,
item 10: the noise level and the Mann–Kendall test ran with three to seven long temporaries on a 2.5-million-
evaluation series)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch import stats

MAD_TO_SIGMA = stats.MAD_TO_SIGMA


def _noise_reference(values: np.ndarray) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 4:
        return 0.0
    d = np.diff(v, n=2)
    d = d - np.median(d)
    return float(MAD_TO_SIGMA * np.median(np.abs(d)) / np.sqrt(6.0))


def _s_reference(v: np.ndarray) -> float:
    return float(np.triu(np.sign(v[None, :] - v[:, None]), 1).sum())


@pytest.mark.parametrize("n", [4, 5, 257, 1000, stats._CHUNK + 3, 3 * stats._CHUNK + 17])
@pytest.mark.parametrize("ties", [False, True])
def test_noise_sigma_and_second_differences_are_bit_identical(n: int, ties: bool) -> None:
    rng = np.random.default_rng(n)
    v = np.cumsum(rng.normal(size=n)) * 1e-3 + 1e6  # a large offset: rounding would show
    if ties:
        v = np.round(v, 1)
    assert np.array_equal(stats.second_differences(v), np.diff(v, n=2))
    assert stats.noise_sigma(v) == _noise_reference(v)
    w = v.copy()
    w[::7] = np.nan
    assert stats.noise_sigma(w) == _noise_reference(w)


def test_finite_values_copies_only_when_needed() -> None:
    v = np.arange(5.0)
    assert stats.finite_values(v) is v
    assert stats.finite_values(np.array([1.0, np.inf, 2.0])).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("n", [2001, stats._CHUNK + 5, 2 * stats._CHUNK + 1])
def test_inversions_and_s_match_pairwise_on_long_series(n: int) -> None:
    rng = np.random.default_rng(n)
    v = np.round(rng.normal(size=n).cumsum(), 0)  # many ties
    # pairwise reference on a subsample (the full n x n matrix would be gigabytes), the counting form on all
    sub = v[: 2100]
    assert stats._mk_s(sub) == _s_reference(sub)
    ranks = rng.integers(0, 50, size=n).astype(np.int32)
    before = ranks.copy()
    brute = int(sum(int(np.count_nonzero(ranks[i + 1:] < ranks[i])) for i in range(0, n)))
    assert stats._inversions(ranks) == brute
    assert stats._inversions(ranks.copy(), own=True) == brute
    assert np.array_equal(ranks, before)  # never written


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=3, max_size=2200))
def test_mann_kendall_s_equals_pairwise(xs: list[int]) -> None:
    v = np.asarray(xs, dtype=float)
    assert stats._mk_s(v) == _s_reference(v)
