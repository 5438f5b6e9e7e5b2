"""The detectors' leaner paths on long series (issue 16, item 10) give exactly what the general formulas give:
the common evaluation grid of increasing axes, the backward matching of ``aligned_arrays``, a curve's signed
values without a copy."""

from __future__ import annotations

import numpy as np
import pytest

from gapwatch.detectors._common import signed
from gapwatch.detectors._heldout import _increasing_grid, _unique_grid, common_grid, curve
from gapwatch.history import Series, _match_backward

NAN = np.nan


def _series(x: np.ndarray, v: np.ndarray, kind: str = "step") -> Series:
    other = np.full(x.shape, NAN)
    step, epoch = (x, other) if kind == "step" else (other, x)
    return Series("val", "loss", "val_loss", step, epoch, v, kind)


def _old_match(x: np.ndarray, values: np.ndarray, bx: np.ndarray) -> np.ndarray:
    """``History.aligned_arrays``' matching as it was written before (the reference)."""
    ok = np.isfinite(x)
    rx, rv = x[ok], values[ok]
    order = np.argsort(rx, kind="stable")
    rx, rv = rx[order], rv[order]
    i = np.searchsorted(rx, bx, side="right") - 1
    vals = np.where(i >= 0, rv[np.clip(i, 0, None)] if rv.size else np.nan, np.nan)
    vals[~np.isfinite(bx)] = np.nan
    return vals.astype(float)


def _axes(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    inc = np.cumsum(rng.integers(1, 4, n)).astype(float)
    rep = np.sort(rng.integers(0, n, n)).astype(float)  # repeats
    back = rng.permutation(inc)
    holes = inc.copy()
    holes[rng.random(n) < 0.2] = NAN
    infs = inc.copy()
    infs[-1:] = np.inf
    zeros = np.array([-0.0, 0.0, 1.0, 2.0])[: min(n, 4)]
    return [inc, rep, back, holes, infs, zeros, np.empty(0), np.full(n, NAN)]


@pytest.mark.parametrize("seed", range(12))
def test_backward_matching_equals_the_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    axes = _axes(rng, n)
    for x in axes:
        v = rng.normal(size=x.shape[0])
        v[rng.random(x.shape[0]) < 0.1] = NAN
        for bx in [*axes, x]:
            got = _match_backward(x, v, bx)
            np.testing.assert_array_equal(got, _old_match(x, v, bx))
            assert got.dtype == np.float64 and got.flags.writeable and not np.shares_memory(got, v)


@pytest.mark.parametrize("seed", range(12))
def test_common_grid_of_increasing_axes_equals_the_general_grid(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    for xa in _axes(rng, n):
        for xb in [xa, *_axes(rng, n)]:
            va, vb = rng.normal(size=xa.shape[0]), rng.normal(size=xb.shape[0])
            va[rng.random(xa.shape[0]) < 0.1] = NAN
            series = [_series(xa, va, "epoch"), _series(xb, vb, "epoch")]
            axes = [xa, xb]
            want = _unique_grid(series, axes)
            got = common_grid(series)
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                np.testing.assert_array_equal(g, w)
                assert g.dtype == np.intp
            fast = _increasing_grid(series, axes)
            increasing = all(
                (a := x[np.isfinite(x) & np.isfinite(s.values)]).size < 2 or bool(np.all(a[1:] > a[:-1]))
                for s, x in zip(series, axes, strict=True))
            assert (fast is not None) == increasing


def test_curve_of_every_evaluation_shares_the_values_and_equals_the_signed_copy() -> None:
    v = np.linspace(1.0, 0.0, 50)
    v.flags.writeable = False
    s = _series(np.arange(50.0), v)
    idx = np.arange(50)
    up = curve(s, idx, 1.0, 3, 0.01)
    down = curve(s, idx, -1.0, 3, 0.01)
    assert up.z is v
    np.testing.assert_array_equal(down.z, -1.0 * v)
    part = curve(s, idx[::2], 1.0, 3, 0.01)
    np.testing.assert_array_equal(part.z, v[::2])
    assert signed(v, 1) is v and signed(v, 1.0) is v
    np.testing.assert_array_equal(signed(v, -1.0), -v)
