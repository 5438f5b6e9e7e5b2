"""The vectorised paths that make big logs fast give exactly what the plain versions give."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.stats import _mk_s, rolling_median


def _rolling_median_loop(v: np.ndarray, window: int) -> np.ndarray:
    h = window // 2
    return np.array([np.median(v[max(0, i - h): i + h + 1]) for i in range(v.size)])


_vals = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=80, deadline=None)
@given(_vals, st.integers(2, 15))
def test_rolling_median_vectorised_equals_loop(vals: list[float], window: int) -> None:
    v = np.asarray(vals)
    np.testing.assert_array_equal(rolling_median(v, window), _rolling_median_loop(v, window))


def _mk_s_pairs(v: np.ndarray) -> float:
    return float(np.triu(np.sign(v[None, :] - v[:, None]), 1).sum())


def test_mann_kendall_s_large_n_equals_pairwise() -> None:
    rng = np.random.default_rng(0)
    for v in (rng.normal(size=2500), np.round(rng.normal(size=3000), 1),  # many ties
              np.arange(2600.0), np.arange(2600.0)[::-1], np.ones(2100)):
        assert _mk_s(v) == _mk_s_pairs(v)
