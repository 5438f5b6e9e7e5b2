"""Small robust statistics shared by detectors, the stop policy and forecasters (pure numpy)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Consistency constant turning a median absolute deviation into a Gaussian standard deviation.
MAD_TO_SIGMA = 1.4826


def noise_sigma(values: np.ndarray) -> float:
    """Robust estimate of evaluation noise (same units as ``values``), shape ``(n,)`` → float.

    Uses the MAD of second differences around their median, divided by √6 (the standard deviation of a
    second difference of white noise is √6 σ): insensitive to linear and slowly curving trends and to a few
    spikes. Returns 0.0 for fewer than 4 finite values.
    """
    v = finite_values(values)
    if v.size < 4:
        return 0.0
    d = second_differences(v)
    d -= median(d, overwrite=True)  # in place: the same values as ``d - median(d)``
    mad = median(np.abs(d, out=d), overwrite=True)
    return float(MAD_TO_SIGMA * mad / np.sqrt(6.0))


#: Largest number of examples :func:`share_grid_size` looks for (beyond it the sampling floor is negligible).
GRID_MAX_N = 20_000
#: Distinct values :func:`share_grid_size` tries each grid on before checking them all.
_GRID_PROBE = 32
#: Values a share that takes only two distinct values must have for :func:`share_grid_size` to read a grid from
#: them: an accuracy that toggles between two neighbours k/N and (k+1)/N over this many evaluations is a small
#: validation set seen through one example (42/44 and 43/44 on a 44-image set), not a two-value coincidence.
GRID_TWO_VALUES_MIN_N = 5


def _decimals(u: np.ndarray) -> int:
    """Fewest decimals (≤ 12) at which every value of ``u`` is written exactly; 16 for full-precision floats."""
    for d in range(1, 13):
        if np.all(np.abs(u - np.round(u, d)) <= 1e-12):
            return d
    return 16


def share_grid_size(values: np.ndarray, max_n: int = GRID_MAX_N) -> int | None:
    """The number of examples ``N`` behind a share (an accuracy) whose every value is a multiple of ``1/N``:
    the smallest such ``N`` ≤ ``max_n``, shape ``(n,)`` → int, or None.

    A held-out accuracy on 25 images moves in steps of 0.04; the values reveal the validation set's size. Values
    logged with ``d`` decimals fit any grid finer than ``10^-d`` by rounding alone, so only ``N ≤ 10^d / 10``
    is accepted (full-precision float32 values — Keras histories — allow any ``N`` ≤ ``max_n``); at least three
    distinct values in [0, 1] are needed, or two over :data:`GRID_TWO_VALUES_MIN_N` or more values.
    """
    v = finite_values(values)
    if v.size < 3 or float(v.min()) < 0.0 or float(v.max()) > 1.0:
        return None
    u = np.sort(v)  # (the distinct values; np.unique would import numpy.ma, which the CLI's start-up avoids)
    u = u[np.concatenate(([True], np.diff(u) > 0))]
    if u.size < (2 if v.size >= GRID_TWO_VALUES_MIN_N else 3):
        return None
    d = _decimals(u)
    limit = max_n if d >= 16 else min(max_n, 10 ** d // 10)
    tol = 0.5 * 10.0 ** -d + 2e-7  # (the rounding of the printed value, and float32's ~6e-8 relative error)
    # N must make the smallest gap between distinct values k/N for a whole k: only N within
    # k / (gap ± 2 tol) are candidates, few of them, tried in increasing order
    steps = np.diff(u)
    steps = steps[steps > 2 * tol]  # (one value written at two precisions is one value)
    if steps.size == 0:
        return None
    gap = float(np.min(steps))
    k = np.arange(1, int(limit * (gap + 2 * tol)) + 1, dtype=float)
    lo = np.maximum(np.ceil(k / (gap + 2 * tol)), 2.0)
    hi = np.minimum(np.floor(k / max(gap - 2 * tol, gap * 1e-3)), float(limit))
    cands = np.sort(np.concatenate([np.arange(a, b + 1) for a, b in zip(lo, hi, strict=True) if a <= b] or
                                   [np.empty(0)]))  # (repeats are harmless: the first fit returns)
    probe = u[:_GRID_PROBE]
    for n in cands:
        x = probe * n
        if np.all(np.abs(x - np.round(x)) <= n * tol):
            y = u * n
            if np.all(np.abs(y - np.round(y)) <= n * tol):
                return int(n)
    return None


def sampling_sigma(values: np.ndarray) -> float:
    """The binomial standard error ``sqrt(p (1 − p) / N)`` of a share measured on ``N`` examples, ``N`` from
    :func:`share_grid_size` and ``p`` the mean of the finite values; 0.0 when no grid is found. Shape ``(n,)``
    → float, in the units of ``values``. The floor below which a change of a held-out accuracy is the sampling
    noise of a small validation set (one image of 25 is 0.04), whatever its epoch-to-epoch noise says."""
    n = share_grid_size(values)
    if n is None:
        return 0.0
    p = float(np.mean(finite_values(values)))
    return float(np.sqrt(max(p * (1.0 - p), 0.0) / n))


#: Values per chunk of the long element-wise passes below (their temporaries stay this size, not the curve's).
_CHUNK = 1 << 16


def argmin(values: np.ndarray) -> int:
    """``np.argmin(values)`` (the first lowest; the first NaN when there is one), shape ``(n,)`` → int, without
    the copy numpy 2 makes of a read-only array (the History's series are read-only views: ``np.argmin`` of a
    100 MB log's series copies it whole). A read-only long array is scanned :data:`_CHUNK` values at a time."""
    return _arg_extreme(values, np.argmin, lambda new, best: new < best)


def argmax(values: np.ndarray) -> int:
    """``np.argmax(values)`` as :func:`argmin` does ``np.argmin``: the first highest (the first NaN when there is
    one), without a copy of a read-only array."""
    return _arg_extreme(values, np.argmax, lambda new, best: new > best)


def _arg_extreme(values: np.ndarray, pick: Any, better: Any) -> int:
    v = np.asarray(values)
    if v.flags.writeable or v.shape[0] <= _CHUNK:
        return int(pick(v))
    best_i, best_v = -1, np.nan
    for a in range(0, v.shape[0], _CHUNK):
        chunk = v[a:a + _CHUNK]
        i = int(pick(chunk))
        x = chunk[i]
        if x != x:  # NaN: numpy's answer is the first one, and this chunk holds it
            return a + i
        if best_i < 0 or better(x, best_v):
            best_i, best_v = a + i, x
    return best_i


def finite_values(values: np.ndarray) -> np.ndarray:
    """The finite values of a 1-D array, shape ``(m,)``: the array itself (no copy) when all are finite."""
    v = np.asarray(values, dtype=float)
    fin = np.isfinite(v)
    return v if fin.all() else v[fin]


def second_differences(v: np.ndarray) -> np.ndarray:
    """``np.diff(v, n=2)``, shape ``(n - 2,)``, bit for bit (``(v[i+2] - v[i+1]) - (v[i+1] - v[i])``), holding one
    array of the result's size instead of two: the first differences are made :data:`_CHUNK` values at a time."""
    d = np.subtract(v[2:], v[1:-1])
    for a in range(0, d.size, _CHUNK):
        b = min(a + _CHUNK, d.size)
        d[a:b] -= np.subtract(v[a + 1:b + 1], v[a:b])
    return d


#: Up to this many values :func:`median` sorts instead of calling ``np.median`` (whose fixed overhead dominates
#: on the short curves of a sweep; detectors take several medians per run).
_SMALL_MEDIAN = 256


def median(values: np.ndarray, *, overwrite: bool = False) -> float:
    """Median of a 1-D float array (NaN when empty or when a value is NaN): exactly ``np.median``'s value (the
    middle order statistic, or the mean of the two middle ones), faster on short arrays. ``overwrite``: the
    caller's own scratch array may be reordered in place (``np.median(overwrite_input=True)``: no copy of a long
    curve)."""
    v = np.asarray(values, dtype=float)
    n = v.size
    if n == 0 or n > _SMALL_MEDIAN:
        return float(np.median(v, overwrite_input=overwrite)) if n else float("nan")
    s = np.sort(v)  # NaN sorts last: then the median is NaN, as np.median's
    if np.isnan(s[-1]):
        return float("nan")
    h = n // 2
    if n % 2:
        return float(s[h])
    return float((s[h - 1] + s[h]) / 2.0)


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` evaluations (shorter at the start), shape ``(n,)`` → ``(n,)``:
    ``out[i] = mean(values[max(0, i - window + 1): i + 1])``. The one trailing mean of gapwatch (detector
    levels, the stop policy's levels; :func:`window_means` is its full-window part).

    Exactness contract: every element is bit for bit ``np.mean`` of its own window taken alone (float64), so it
    depends on nothing outside that window — a prefix of a series gives the same means as the whole series
    (online == offline), and a large offset or a long series costs no precision (a cumulative-sum formula
    loses ``~eps · |offset| · n / window``; see the degradation test in ``tests/test_params.py``). NaN or inf
    in a window makes that window's mean NaN/inf, as ``np.mean`` would. ``window <= 1`` returns a copy.
    """
    v: np.ndarray = np.asarray(values, dtype=float)
    n = v.size
    if window <= 1 or n == 0:
        same: np.ndarray = v.copy()
        return same
    out = np.empty(n)
    for i in range(min(window - 1, n)):  # the first windows are shorter
        out[i] = np.mean(v[: i + 1])
    if n >= window:  # written in place (np.mean's own arithmetic with out=: the same bits, no temporary)
        np.mean(np.lib.stride_tricks.sliding_window_view(v, window), axis=1, out=out[window - 1:])
    return out


#: :func:`trailing_mean_peak_above` takes the exact means up to this many additions (``n × window``): ~10 ms.
_EXACT_PEAK_WORK = 1 << 22


def trailing_mean_peak_above(values: np.ndarray, window: int, level: float) -> bool:
    """Whether ``max(trailing_mean(values, window)) > level`` — the same answer, in O(n) time and with chunk-
    sized memory, where :func:`trailing_mean` costs O(n · window) (a window of a tenth of a 2.5-million-evaluation
    run is ~10¹² additions). ``values``: finite, shape ``(n,)``, n ≥ 1.

    The window sums run as one recurrence (add the value entering, subtract the one leaving) in extended
    precision (``np.longdouble``), :data:`_CHUNK` values at a time. Its error is bounded (``2 n ε_ld max|v|``
    for every mean, ``ε_ld`` the extended precision's epsilon) and so is the exact float64 means' own rounding
    (``window ε max|v|``); when the largest mean is within those bounds of ``level``, the exact
    :func:`trailing_mean` decides (then slow, and only then)."""
    v = np.asarray(values, dtype=float)
    n = v.size
    if n == 0:
        raise ValueError("trailing_mean_peak_above needs at least one value")
    w = max(1, int(window))
    if n * min(w, n) <= _EXACT_PEAK_WORK:  # the exact means are cheap
        return bool(float(np.max(trailing_mean(v, w))) > level)
    big = float(np.max(np.abs(v)))
    total = np.longdouble(0)
    peak = -np.inf
    for a in range(0, n, _CHUNK):
        b = min(a + _CHUNK, n)
        d = v[a:b].astype(np.longdouble)
        if b > w:  # the values leaving the window: v[i - w] for i >= w
            first = max(a, w)
            d[first - a:] -= v[first - w:b - w]
        sums = np.cumsum(d)
        sums += total
        total = sums[-1]
        counts = np.minimum(np.arange(a + 1, b + 1, dtype=np.longdouble), w)
        peak = max(peak, float(np.max(sums / counts)))
    eps_ld, eps = float(np.finfo(np.longdouble).eps), float(np.finfo(float).eps)
    bound = 2.0 * n * eps_ld * big + w * eps * big + 4.0 * eps * abs(level)
    if abs(peak - level) > bound:
        return bool(peak > level)
    return bool(float(np.max(trailing_mean(v, w))) > level)  # too close to call: the exact means


def window_means(values: np.ndarray, window: int) -> np.ndarray:
    """Means of every full window of ``window`` consecutive values: shape ``(n - window + 1,)``, element ``j``
    the mean of ``values[j: j + window]`` (empty when ``n < window``). Same exactness contract as
    :func:`trailing_mean` (each element is ``np.mean`` of its window alone), computed at once on a strided
    view."""
    v = np.asarray(values, dtype=float)
    if window < 1:
        raise ValueError(f"window_means needs window >= 1, got {window}")
    if v.size < window:
        return np.empty(0)
    out: np.ndarray = np.mean(np.lib.stride_tricks.sliding_window_view(v, window), axis=1)
    return out


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Alias of :func:`trailing_mean` (the name used by older callers)."""
    return trailing_mean(values, window)


def sliding_median(values: np.ndarray, window: int, *, out: np.ndarray | None = None) -> np.ndarray:
    """Median of every full window of ``window`` consecutive values: shape ``(n - window + 1,)``, element ``j``
    the median of ``values[j: j + window]``; exactly ``np.median`` of each window (the middle order statistic,
    or the mean of the two middle ones; NaN when the window holds a NaN), from one sort of a strided view.
    ``out``: a float array of that shape to write into (returned), instead of a new one."""
    v = np.asarray(values, dtype=float)
    if window < 1 or v.size < window:
        raise ValueError(f"sliding_median needs 1 <= window <= len(values), got window={window}, n={v.size}")
    if out is None:
        out = np.empty(v.size - window + 1)
    elif out.shape != (v.size - window + 1,) or out.dtype != np.float64:
        raise ValueError(f"sliding_median: out must be float64 of shape ({v.size - window + 1},), got "
                         f"{out.dtype} {out.shape}")
    _sliding_median_into(v, window, out)
    return out


#: :func:`sliding_median` sorts the windows this many values at a time (``rows × window``: 8 MB of float64),
#: so its memory does not grow with the curve (a 2.5-million-evaluation curve and a 21-wide window would
#: otherwise sort a 420 MB copy).
_SORT_CHUNK_VALUES = 1 << 20


def _sliding_median_into(v: np.ndarray, window: int, out: np.ndarray) -> None:
    """:func:`sliding_median` of ``v`` written into ``out`` (shape ``(n - window + 1,)``), a chunk of windows
    at a time (each window's median depends on that window alone: chunking changes nothing)."""
    views = np.lib.stride_tricks.sliding_window_view(v, window)
    h = window // 2
    rows = max(1, _SORT_CHUNK_VALUES // window)
    for lo in range(0, views.shape[0], rows):
        srt = np.sort(views[lo: lo + rows], axis=1)  # NaN sorts last
        med = srt[:, h] if window % 2 else (srt[:, h - 1] + srt[:, h]) / 2.0
        out[lo: lo + srt.shape[0]] = np.where(np.isnan(srt[:, -1]), np.nan, med)


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centered median over an odd ``window`` (edges use the points available), shape preserved."""
    v: np.ndarray = np.asarray(values, dtype=float)
    if window <= 1 or v.size == 0:
        same: np.ndarray = v.copy()
        return same
    h = window // 2
    out = np.empty_like(v)
    w = 2 * h + 1
    if v.size >= w:  # interior windows at once (exactly the same medians as the loop below)
        _sliding_median_into(v, w, out[h: v.size - h])
        edges = [*range(h), *range(v.size - h, v.size)]
    else:
        edges = list(range(v.size))
    for i in edges:
        out[i] = median(v[max(0, i - h): i + h + 1])
    return out


def mann_kendall(values: np.ndarray, sign: float = 1.0) -> tuple[float, float]:
    """Mann–Kendall trend test: ``(tau, one_sided_p_increasing)`` for shape ``(n,)`` (n ≥ 3).

    Kendall's tau between index and value; the p-value is for the alternative "values increase" under the
    normal approximation without tie correction. Returns ``(0.0, 1.0)`` for n < 3. ``sign`` (±1): test
    ``sign * values`` — exactly the same numbers as ``mann_kendall(sign * values)`` (S changes sign with the
    values, a count of pairs), without the negated copy of a long curve.
    """
    if sign not in (1.0, -1.0):
        raise ValueError(f"mann_kendall: sign must be 1 or -1, got {sign!r}")
    v = finite_values(values)
    n = v.size
    if n < 3:
        return 0.0, 1.0
    s = _mk_s(v)
    if sign == -1.0 and s:  # (no -0.0)
        s = -s
    var = n * (n - 1) * (2 * n + 5) / 18.0
    tau = s / (n * (n - 1) / 2.0)
    if s > 0:
        z = (s - 1) / np.sqrt(var)
    elif s < 0:
        z = (s + 1) / np.sqrt(var)
    else:
        z = 0.0
    # the normal survival function sf(z) = ndtr(-z) (what scipy.stats.norm.sf computes), without importing
    # scipy (gapwatch.special.ndtr is bit-identical to scipy.special.ndtr; scipy costs ~0.3 s on a cold start)
    from .special import ndtr

    return float(tau), float(ndtr(-z))


def _mk_s(v: np.ndarray) -> float:
    """Mann–Kendall S = sum over i < j of sign(v[j] - v[i]) (an exact integer), ``v`` finite, shape ``(n,)``.

    Small n (≤ :data:`_MK_PAIRWISE`): the direct pairwise sum. Large n: Knight's counting form (W. R. Knight,
    "A computer method for calculating Kendall's tau with ungrouped data", JASA 61, 1966): with ``P``
    increasing pairs, ``Q`` decreasing pairs (inversions) and ``T`` tied pairs, ``P + Q + T = n(n-1)/2``, so
    ``S = P - Q = n(n-1)/2 - T - 2Q``; ``T`` comes from the tie counts and ``Q`` from a bottom-up merge sort
    (:func:`_inversions`). Exact integer counts in O(n log² n) time and O(n) memory (the pairwise matrix would
    need n**2 * 8 bytes; the earlier blocked count re-sorted every prefix, O(n² log n / B): ~100 s for the
    2.5 million evaluations of a 100 MB Keras CSV).
    """
    n = v.size
    if n <= _MK_PAIRWISE:
        return float(np.triu(np.sign(v[None, :] - v[:, None]), 1).sum())
    order = np.argsort(v, kind="stable")
    new = np.empty(n, dtype=bool)
    new[0] = True
    for a in range(0, n - 1, _CHUNK):  # new[i] = sorted[i] != sorted[i - 1], without the sorted copy
        b = min(a + _CHUNK, n - 1)
        np.not_equal(v[order[a + 1:b + 1]], v[order[a:b]], out=new[a + 1:b + 1])
    tied = _tied_pairs(new)
    ranks = np.empty(n, dtype=np.int32 if n < 2**31 - 1 else np.int64)
    below = -1  # the dense rank of every value (ties equal), the running count of new values carried between chunks
    for a in range(0, n, _CHUNK):
        dense = np.cumsum(new[a:a + _CHUNK], dtype=ranks.dtype)
        dense += below
        ranks[order[a:a + _CHUNK]] = dense
        below = int(dense[-1])
    del order, new
    return float(n * (n - 1) // 2 - tied - 2 * _inversions(ranks, own=True))


def _tied_pairs(new: np.ndarray) -> int:
    """Pairs of equal values, ``sum(c * (c - 1) / 2)`` over the groups of ``c`` tied values, from ``new`` (bool
    ``(n,)``: True where a sorted value differs from the one before it, ``new[0]`` True). Each sorted value is
    tied with the ones before it in its group: ``i - start(i)`` pairs, summed :data:`_CHUNK` values at a time
    (the group starts as a running maximum carried between chunks), so no array of the groups' starts or
    sizes (8 bytes a group: up to 8 bytes a value) is made."""
    if new.all():
        return 0
    total, start = 0, 0
    for a in range(0, new.size, _CHUNK):
        pos = np.arange(a, min(a + _CHUNK, new.size), dtype=np.int64)
        st = np.where(new[a:a + pos.size], pos, start)
        np.maximum.accumulate(st, out=st)
        total += int((pos - st).sum())
        start = int(st[-1])
    return total


def _inversions(ranks: np.ndarray, *, own: bool = False) -> int:
    """Number of pairs ``i < j`` with ``ranks[i] > ranks[j]`` (strictly), ``ranks`` integers of shape ``(n,)``.

    Bottom-up merge sort, one stable ``argsort`` of a ``(blocks, 2w)`` view per level: in every row the left
    half and the right half were each sorted on the previous level; the right half's ``q``-th value lands at
    merged position ``p`` with ``p - q`` left values not above it (ties: the left ones first), so the row's
    inversions are ``w² - Σp + w(w-1)/2``. The last, shorter block is counted with one ``searchsorted``. The
    rows are merged :data:`_CHUNK` values at a time, so beside the ranks and their merged copy (4 bytes a value
    each) only a chunk's permutation is alive. ``own``: ``ranks`` is the caller's scratch array: it is used as one of
    the two buffers instead of a copy (its contents are lost)."""
    n = ranks.size
    a = ranks if own else np.array(ranks)
    spare = np.empty_like(a)  # the two buffers take turns: each level merges one into the other
    total = 0
    w = 1
    while w < n:
        m = n // (2 * w) * (2 * w)
        out = spare
        if m and 2 * w > _CHUNK:  # long rows: one at a time, their right half counted against the left
            for r0 in range(0, m, 2 * w):
                total += _cross_inversions(a[r0:r0 + w], a[r0 + w:r0 + 2 * w])
                seg = out[r0:r0 + 2 * w]
                seg[:] = a[r0:r0 + 2 * w]
                seg.sort()  # in place: the merge of two sorted halves
        elif m:
            rows = a[:m].reshape(-1, 2 * w)
            per_column = np.zeros(2 * w, dtype=np.int64)  # right-half values at each merged position
            step = max(1, _CHUNK // (2 * w))
            for r0 in range(0, rows.shape[0], step):
                chunk = rows[r0:r0 + step]
                perm = np.argsort(chunk, axis=1, kind="stable")
                per_column += np.count_nonzero(perm >= w, axis=0)
                out[r0 * 2 * w:(r0 + chunk.shape[0]) * 2 * w] = np.take_along_axis(chunk, perm, axis=1).reshape(-1)
            total += rows.shape[0] * (w * w + w * (w - 1) // 2) - int(per_column @ np.arange(2 * w))
            del perm, rows
        tail = a[m:]
        if tail.size > w:  # a full left half and a shorter right half
            total += _cross_inversions(tail[:w], tail[w:])
        out[m:] = tail
        out[m:].sort()
        a, spare = out, a
        w *= 2
    return total


def _cross_inversions(left: np.ndarray, right: np.ndarray) -> int:
    """Pairs ``(l, r)`` with ``l > r`` between a sorted ``left`` and a sorted ``right`` (integers): for each
    right value, the left values above it, found by ``searchsorted`` :data:`_CHUNK` right values at a time."""
    total = 0
    for a in range(0, right.size, _CHUNK):
        total += int(left.size * min(_CHUNK, right.size - a)
                     - np.searchsorted(left, right[a:a + _CHUNK], side="right").sum())
    return total


#: Up to this many values :func:`_mk_s` sums the pairwise signs directly (an ``n × n`` matrix: 32 MB at 2,000).
_MK_PAIRWISE = 2000


def significant_digits(x: float) -> int:
    """Significant digits ``x`` needs to be written exactly (at most 15): 0.02913 → 4, 0.69 → 2, 0.0 → 0. A value
    printed with many digits is a measurement at full precision; a repeat of it is no rounding coincidence."""
    if x == 0 or not np.isfinite(x):
        return 0
    for k in range(1, 16):
        if float(f"{x:.{k}g}") == x:
            return k
    return 15
