"""The detectors' leaner paths on long series (issue 16, item 10) give exactly what the general formulas give:
the common evaluation grid of increasing axes, the backward matching of ``aligned_arrays``, a curve's signed
values without a copy."""

from __future__ import annotations

import numpy as np
import pytest

from gapwatch.detectors._common import signed
from gapwatch.detectors._heldout import (
    _increasing_grid,
    _unique_grid,
    common_grid,
    curve,
    grid_positions,
    rising_p,
)
from gapwatch.history import Series, _match_backward
from gapwatch.stats import noise_sigma, trailing_mean

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
            lean = grid_positions(series)
            for g, s, w in zip(lean, series, want, strict=True):  # None: every evaluation, in order
                np.testing.assert_array_equal(np.arange(s.values.shape[0]) if g is None else g, w)
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
    assert up.z is v and up.idx is None and down.values is v and down.idx is None  # no copy, no index array
    np.testing.assert_array_equal(down.z, -1.0 * v)
    part = curve(s, idx[::2], 1.0, 3, 0.01)
    np.testing.assert_array_equal(part.z, v[::2])
    assert signed(v, 1) is v and signed(v, 1.0) is v
    np.testing.assert_array_equal(signed(v, -1.0), -v)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_curve_statistics_equal_those_of_the_signed_copy(seed: int, sign: float) -> None:
    # the curve reads the values with the sign; every statistic must be bit for bit the one of sign * values
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 60))
    v = np.round(rng.normal(size=n).cumsum(), int(rng.integers(0, 3)))  # ties at some seeds
    s = _series(np.arange(float(n)), v)
    for idx in (np.arange(n), np.flatnonzero(rng.random(n) < 0.7)):
        if idx.size < 3:
            continue
        w = int(rng.integers(1, 5))
        c = curve(s, idx, sign, w, 0.01)
        z = sign * v[idx]
        np.testing.assert_array_equal(c.z, z)
        np.testing.assert_array_equal(c.level, trailing_mean(z, w))
        assert c.n == idx.size and [c.pos(i) for i in range(c.n)] == idx.tolist()
        assert c.best() == int(np.argmin(z))
        for i in range(c.n):
            assert c.z_at(i) == z[i] and c.value(i) == v[idx[i]]
            assert c.rising_p(i) == rising_p(z[i:])
        eps = 1e-9 * float(max(abs(np.max(z)), abs(np.min(z))))
        span = float(np.max(c.level) - np.min(c.level))
        assert c.eps == eps
        assert c.se == max(noise_sigma(z) * float(np.sqrt(2.0 / w)), 0.01 * (span if span > eps else 0.0))


def test_curve_sign_must_be_plus_or_minus_one() -> None:
    s = _series(np.arange(5.0), np.arange(5.0))
    with pytest.raises(ValueError, match="sign must be 1 or -1"):
        curve(s, None, 0.5, 3, 0.01)


@pytest.mark.parametrize("seed", range(10))
def test_aligned_arrays_at_positions_equal_the_whole_arrays_there(seed: int) -> None:
    from gapwatch import History

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    recs: list[dict[str, float]] = []
    for e in range(1, n + 1):
        r: dict[str, float] = {"epoch": float(e)}
        if rng.random() < 0.8:
            r["train_loss"] = float(rng.normal())
        if rng.random() < 0.7 or e == n:
            r["val_loss"] = float(rng.normal()) if rng.random() < 0.9 else float("nan")
        recs.append(r)
    h = History.from_records(recs)
    base, whole = h.aligned_arrays("loss", splits=("train", "val"))
    at = np.sort(rng.choice(len(base), size=int(rng.integers(1, len(base) + 1)), replace=False))
    _, part = h.aligned_arrays("loss", splits=("train", "val"), at=at)
    assert part.keys() == whole.keys()
    for k in whole:
        np.testing.assert_array_equal(part[k], whole[k][at])
