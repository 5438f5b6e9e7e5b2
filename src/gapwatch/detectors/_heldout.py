"""Curve arithmetic shared by the detectors that compare held-out series (``metric_disagreement``,
``heldout_regression``): alignment on a common axis, levels, changes in noise units.

Every statistic here is invariant to a positive scale and an offset of each curve, and to its direction (a
curve is first turned into "lower is better" with its mode): changes are measured in the curve's own noise,
floored by a fraction of its own span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..history import Series
from ..stats import argmax, argmin, mann_kendall, noise_sigma, sampling_sigma, trailing_mean

#: Relative size (of the curve's largest magnitude) below which a difference of levels is floating-point
#: rounding, not a change.
ROUNDING = 1e-9


@dataclass(frozen=True)
class Curve:
    """A held-out series on an evaluation grid, read as "lower is better" (``z = sign * value``).

    Attributes:
        series: the series (original values, ``series.values``).
        idx: positions in ``series`` of the grid's evaluations, int array ``(n,)``; ``None`` when the grid is
            every evaluation of the series (no index array the size of a long curve).
        values: the series' values on the grid, float ``(n,)``: the series' own (read-only) array when ``idx``
            is ``None``, else a compact copy. ``z`` is never stored: :attr:`z` makes it on demand, and the
            statistics below read ``values`` with the sign (the same numbers, without a negated copy).
        sign: +1 when lower is better, -1 when higher is better.
        level: trailing ``window`` mean of ``z``, float ``(n,)``.
        se: standard error of a difference of two levels (units of ``z``): ``sigma * sqrt(2 / window)`` with
            ``sigma`` the robust evaluation noise, floored at ``noise_floor * span`` (``span``: max − min of
            the level) so noise-free curves get a finite scale; 0 only for a constant curve.
    """

    series: Series
    idx: np.ndarray | None
    values: np.ndarray
    sign: float
    level: np.ndarray
    se: float
    eps: float = 0.0

    @property
    def n(self) -> int:
        """Evaluations on the grid."""
        return int(self.values.shape[0])

    @property
    def z(self) -> np.ndarray:
        """``sign * values``, float ``(n,)``: the values themselves when ``sign`` is +1, else a fresh array."""
        return self.values if self.sign == 1.0 else self.sign * self.values

    def pos(self, i: int) -> int:
        """Position in ``series`` of grid point ``i``."""
        return int(i) if self.idx is None else int(self.idx[i])

    def best(self, start: int = 0) -> int:
        """Grid index of the lowest ``z`` from ``start`` on (the first such, as ``np.argmin(z)``)."""
        v = self.values[start:]
        return start + (argmin(v) if self.sign == 1.0 else argmax(v))  # (no copy of the read-only values)

    def z_at(self, i: int) -> float:
        """``z`` of grid point ``i``."""
        return float(self.sign * self.values[i])

    def rising_p(self, start: int) -> float:
        """:func:`rising_p` of ``z[start:]``, from ``values`` with the sign (no copy)."""
        v = self.values[start:]
        return mann_kendall(v, self.sign)[1] if v.size >= 3 else 1.0

    def units(self, change: float) -> float:
        """``change`` (units of ``z``) in standard errors; 0 for changes within rounding (``eps``), ±inf for
        others on a constant curve."""
        if abs(change) <= self.eps:
            return 0.0
        if self.se > 0:
            return float(change / self.se)
        return 0.0 if change == 0 else float(np.sign(change) * np.inf)

    def share(self, change: float) -> float:
        """``change`` (units of ``z``) as a share of the curve's span (max − min of its level); 0 for a constant
        curve."""
        span = float(np.max(self.level) - np.min(self.level))
        return float(change / span) if span > self.eps else 0.0

    def where(self, i: int) -> dict[str, float | None]:
        """``{"step", "epoch"}`` of grid point ``i``."""
        return self.series.at(self.pos(i))

    def value(self, i: int) -> float:
        return float(self.values[i])


def _axis(s: Series) -> tuple[np.ndarray, str]:
    if np.all(np.isfinite(s.step)):
        return s.step, "step"
    return s.epoch, "epoch"


def common_grid(series: list[Series]) -> list[np.ndarray]:
    """Positions, in each series, of the evaluations that all of them share (same step, else same epoch) and
    where all are finite; int arrays of equal length, in order of the axis."""
    return [np.arange(s.values.shape[0], dtype=np.intp) if p is None else p
            for s, p in zip(series, grid_positions(series), strict=True)]


def grid_positions(series: list[Series]) -> list[np.ndarray | None]:
    """:func:`common_grid`, with ``None`` for a series whose every evaluation is on the grid, in order (what
    :func:`curve` takes without an index array the size of the curve)."""
    use_step = all(np.all(np.isfinite(s.step)) for s in series)
    axes = [s.step if use_step else s.epoch for s in series]
    fast = _increasing_positions(series, axes)
    return fast if fast is not None else list(_unique_grid(series, axes))


def _unique_grid(series: list[Series], axes: list[np.ndarray]) -> list[np.ndarray]:
    """:func:`common_grid` of any axes (repeated or unordered x: the last logged value at each x counts)."""
    common: np.ndarray | None = None
    for s, ax in zip(series, axes, strict=True):
        ok = np.isfinite(ax) & np.isfinite(s.values)
        # (return_index: without it np.unique of floats imports numpy.ma, ~15 ms of every start-up)
        xs = np.unique(ax[ok], return_index=True)[0]
        common = xs if common is None else np.intersect1d(common, xs, assume_unique=True)
    if common is None:
        return []
    out = []
    for s, ax in zip(series, axes, strict=True):
        ok = np.isfinite(ax) & np.isfinite(s.values)
        pos = np.flatnonzero(ok)
        # the last logged value at each shared x (a re-logged evaluation counts once): the first occurrence in
        # the reversed positions, found by np.unique (return_index keeps numpy.ma out of the start-up path)
        rev = pos[::-1]
        u, first = np.unique(ax[rev], return_index=True)
        out.append(rev[first][np.searchsorted(u, common)].astype(np.intp))
    return out


def _increasing_grid(series: list[Series], axes: list[np.ndarray]) -> list[np.ndarray] | None:
    """:func:`common_grid` when every series' finite evaluations have strictly increasing x (the usual log):
    each x is then its own last occurrence, so the shared x are found by merging the sorted axes and no
    ``np.unique`` (a sort, its permutation and copies of every axis) is needed. The same positions; ``None``
    when some axis repeats or goes back (then the general path)."""
    got = _increasing_positions(series, axes)
    if got is None:
        return None
    return [np.arange(s.values.shape[0], dtype=np.intp) if p is None else p
            for s, p in zip(series, got, strict=True)]


def _increasing_positions(series: list[Series], axes: list[np.ndarray]) -> list[np.ndarray | None] | None:
    """:func:`_increasing_grid` with ``None`` for "every evaluation" (see :func:`grid_positions`)."""
    pos: list[np.ndarray | None] = []
    xs: list[np.ndarray] = []
    for s, ax in zip(series, axes, strict=True):
        ok = np.isfinite(ax)
        ok &= np.isfinite(s.values)
        p: np.ndarray | None
        if ok.all():
            x, p = ax, None
        else:
            p = np.flatnonzero(ok)
            x = ax[p]
        if x.shape[0] > 1 and not np.all(x[1:] > x[:-1]):
            return None
        xs.append(x)
        pos.append(p)
    if all(x.shape == xs[0].shape and np.array_equal(x, xs[0]) for x in xs[1:]):
        return pos  # one axis (the series of one table): every finite evaluation is shared
    common = xs[0]
    for x in xs[1:]:
        common = np.intersect1d(common, x, assume_unique=True)
    out: list[np.ndarray | None] = []
    for p, x in zip(pos, xs, strict=True):
        at = np.searchsorted(x, common).astype(np.intp, copy=False)
        out.append(at if p is None else p[at])
    return out


def curve(s: Series, idx: np.ndarray | None, sign: float, window: int, noise_floor: float,
          sampling_floor: bool = True) -> Curve:
    """The :class:`Curve` of ``s`` at positions ``idx`` (``None``: every evaluation; see its attributes for the
    statistics). ``sign`` is +1 or -1. With ``sampling_floor``, a larger-is-better share on a grid ``k/N`` is
    never less noisy than ``sqrt(p(1-p)/N)`` (:func:`gapwatch.stats.sampling_sigma`). The statistics are taken on
    the values and turned by the sign — the same numbers as on ``sign * values`` (negation is exact: medians, means
    and their differences only change sign), without that copy."""
    if sign not in (1.0, -1.0):
        raise ValueError(f"curve: sign must be 1 or -1, got {sign!r}")
    if idx is not None and idx.shape[0] == s.values.shape[0] and (
            idx.shape[0] < 2 or (idx[0] == 0 and bool(np.all(idx[1:] > idx[:-1])))):
        idx = None  # every evaluation, in order (n distinct increasing positions from 0)
    v = s.values if idx is None else np.asarray(s.values[idx], dtype=float)
    w = max(1, window)
    sigma = noise_sigma(v)  # (first: its long temporaries come and go before the level exists; sign-free)
    if sampling_floor and sign == -1.0:  # a share on a small set: never less noisy than its sample size allows
        sigma = max(sigma, sampling_sigma(v))
    lv = trailing_mean(v, w)
    if sign == -1.0:
        np.negative(lv, out=lv)
    # rounding of the trailing means: differences this small are no change (a constant curve stays constant)
    eps = ROUNDING * float(max(abs(np.max(v)), abs(np.min(v)))) if v.size else 0.0  # max |z| without |z|
    span = float(np.max(lv) - np.min(lv)) if lv.size else 0.0
    if span <= eps:
        span = 0.0
    se = max(sigma * float(np.sqrt(2.0 / w)), noise_floor * span)
    return Curve(s, idx, v, sign, lv, se, eps)


def rising_p(z: np.ndarray) -> float:
    """One-sided p-value that ``z`` (lower is better) rises: the Mann–Kendall trend test
    (:func:`gapwatch.stats.mann_kendall`), rank-based, so invariant to any increasing map of the values; 1.0
    for fewer than three values. Used on the stretch after a curve's best, where a noisy plateau's
    largest level-minus-best difference would otherwise pass a fixed threshold by selection alone."""
    return mann_kendall(z)[1] if z.size >= 3 else 1.0


def effective_window(window: int, n: int) -> int:
    """``window`` capped at a third of the evaluations (short logs: levels stay local)."""
    return max(1, min(window, n // 3))


def onset_after(level: np.ndarray, best: int, tolerance: float) -> int:
    """First grid point after ``best`` from which the level stays more than ``tolerance`` (units of the level)
    above the best level: when the curve fell behind for good. ``best + 1`` at least, the last point at
    most."""
    flags = level > level[best] + tolerance
    onset = level.size
    for i in range(level.size - 1, best, -1):
        if flags[i]:
            onset = i
        else:
            break
    return min(max(onset, best + 1), level.size - 1)


def where_text(c: Curve, i: int) -> str:
    """``"step 3000"`` / ``"epoch 4"`` of grid point ``i``."""
    at = c.where(i)
    if (at["step"] is not None and c.series.x_kind == "step") or at["epoch"] is None:
        v = at["step"]
        return f"step {int(v)}" if v is not None and float(v).is_integer() else f"step {v}"
    e = float(at["epoch"])
    return f"epoch {int(e)}" if e.is_integer() else f"epoch {e:.3g}"
