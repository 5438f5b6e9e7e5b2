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


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-4, 4), min_size=0, max_size=300))
def test_mann_kendall_of_negated_values_without_the_copy(xs: list[int]) -> None:
    v = np.asarray(xs, dtype=float)
    got, want = stats.mann_kendall(v, -1.0), stats.mann_kendall(-v)
    assert got == want
    assert [np.copysign(1.0, g) for g in got] == [np.copysign(1.0, w) for w in want]  # no -0.0 where 0.0


def test_mann_kendall_sign_must_be_plus_or_minus_one() -> None:
    with pytest.raises(ValueError, match="sign must be 1 or -1"):
        stats.mann_kendall(np.arange(5.0), 2.0)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=400))
def test_tied_pairs_equal_the_group_counts(xs: list[int]) -> None:
    v = np.sort(np.asarray(xs, dtype=float))
    new = np.empty(v.size, dtype=bool)
    new[0] = True
    new[1:] = v[1:] != v[:-1]
    counts = np.unique(v, return_counts=True)[1]
    assert stats._tied_pairs(new) == int((counts * (counts - 1) // 2).sum())


@pytest.mark.parametrize("chunk", [1, 2, 8])
def test_inversions_with_rows_longer_than_a_chunk(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # the long-row path (a row of 2w values counted by binary search and sorted in place) on small inputs
    monkeypatch.setattr(stats, "_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    for n in (1, 2, 3, 31, 64, 257):
        ranks = rng.integers(0, 9, size=n).astype(np.int32)
        brute = int(sum(int(np.count_nonzero(ranks[i + 1:] < ranks[i])) for i in range(n)))
        assert stats._inversions(ranks) == brute
        v = rng.normal(size=n).round(1)
        if n >= 3:
            assert stats._mk_s(v) == _s_reference(v)


def test_mann_kendall_memory_is_a_few_bytes_a_value() -> None:
    # issue 16 (item 10): the test ran with ~35 bytes of temporaries a value (a 2.5-million-evaluation series
    # took ~90 MB); now the sort permutation (8), a flag (1) and two int32 buffers (4 + 4) at most
    import tracemalloc

    n = 1 << 20
    v = np.random.default_rng(0).normal(size=n).round(2)  # ties too
    tracemalloc.start()
    try:
        stats.mann_kendall(v)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 16 * n, f"{peak / n:.1f} bytes a value"


def test_sliding_median_into_a_given_array() -> None:
    v = np.random.default_rng(1).normal(size=50)
    out = np.full(46, np.nan)
    assert stats.sliding_median(v, 5, out=out) is out
    np.testing.assert_array_equal(out, [np.median(v[j:j + 5]) for j in range(46)])
    with pytest.raises(ValueError, match="out must be float64"):
        stats.sliding_median(v, 5, out=np.empty(45))


@pytest.mark.parametrize("seed", range(6))
def test_trailing_mean_peak_above_answers_as_the_exact_means(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    # the O(n) recurrence (chunks made small so that short inputs take it) against the exact trailing means,
    # at levels far from, near and exactly at the peak (a tie goes to the exact means)
    monkeypatch.setattr(stats, "_CHUNK", 16)
    monkeypatch.setattr(stats, "_EXACT_PEAK_WORK", 0)
    rng = np.random.default_rng(seed)
    for n in (65, 100, 257, 1000):
        v = rng.normal(size=n).cumsum() * 10.0 ** rng.uniform(-3, 3) + rng.uniform(-1e6, 1e6) * (seed % 2)
        for w in (1, 2, 65, n // 2, n, 3 * n):
            exact = float(np.max(stats.trailing_mean(v, w)))
            for level in (exact, np.nextafter(exact, -np.inf), np.nextafter(exact, np.inf), exact - 1.0,
                          exact + 1.0, exact - 1e-9 * abs(exact)):
                assert stats.trailing_mean_peak_above(v, w, level) == (exact > level)
    with pytest.raises(ValueError, match="at least one value"):
        stats.trailing_mean_peak_above(np.empty(0), 3, 0.5)


@pytest.mark.parametrize("seed", range(8))
def test_argmin_argmax_of_read_only_arrays_equal_numpy_without_a_copy(monkeypatch: pytest.MonkeyPatch,
                                                                     seed: int) -> None:
    # numpy 2 copies a read-only array whole in np.argmin/np.argmax; stats scans it in chunks (made small here)
    monkeypatch.setattr(stats, "_CHUNK", 1 + seed % 5)
    rng = np.random.default_rng(seed)
    for _ in range(200):
        n = int(rng.integers(1, 40))
        v = rng.integers(0, 4, n).astype(float)
        if rng.random() < 0.3:
            v[rng.random(n) < 0.1] = np.nan
        v.flags.writeable = False
        assert stats.argmin(v) == int(np.argmin(v)) and stats.argmax(v) == int(np.argmax(v))


def test_argmin_of_a_long_read_only_array_makes_no_copy() -> None:
    import tracemalloc

    v = np.random.default_rng(0).normal(size=1 << 20)
    v.flags.writeable = False
    tracemalloc.start()
    try:
        i = stats.argmin(v)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert i == int(np.argmin(v)) and peak < v.nbytes // 4
