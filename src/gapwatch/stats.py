"""Small robust statistics shared by detectors, the stop policy and forecasters (pure numpy)."""

from __future__ import annotations

import numpy as np

#: Consistency constant turning a median absolute deviation into a Gaussian standard deviation.
MAD_TO_SIGMA = 1.4826


def noise_sigma(values: np.ndarray) -> float:
    """Robust estimate of evaluation noise (same units as ``values``), shape ``(n,)`` → float.

    Uses the MAD of second differences around their median, divided by √6 (the standard deviation of a
    second difference of white noise is √6 σ): insensitive to linear and slowly curving trends and to a few
    spikes. Returns 0.0 for fewer than 4 finite values.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 4:
        return 0.0
    d = np.diff(v, n=2)
    mad = np.median(np.abs(d - np.median(d)))
    return float(MAD_TO_SIGMA * mad / np.sqrt(6.0))


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points (shorter at the start), shape preserved."""
    v = np.asarray(values, dtype=float)
    if window <= 1 or v.size == 0:
        return v.copy()
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, v.size + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centered median over an odd ``window`` (edges use the points available), shape preserved."""
    v = np.asarray(values, dtype=float)
    if window <= 1 or v.size == 0:
        return v.copy()
    h = window // 2
    out = np.empty_like(v)
    w = 2 * h + 1
    if v.size >= w:  # interior windows at once (exactly the same medians as the loop below)
        out[h: v.size - h] = np.median(np.lib.stride_tricks.sliding_window_view(v, w), axis=1)
        edges = [*range(h), *range(v.size - h, v.size)]
    else:
        edges = list(range(v.size))
    for i in edges:
        out[i] = np.median(v[max(0, i - h): i + h + 1])
    return out


def mann_kendall(values: np.ndarray) -> tuple[float, float]:
    """Mann–Kendall trend test: ``(tau, one_sided_p_increasing)`` for shape ``(n,)`` (n ≥ 3).

    Kendall's tau between index and value; the p-value is for the alternative "values increase" under the
    normal approximation without tie correction. Returns ``(0.0, 1.0)`` for n < 3.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = v.size
    if n < 3:
        return 0.0, 1.0
    s = _mk_s(v)
    var = n * (n - 1) * (2 * n + 5) / 18.0
    tau = s / (n * (n - 1) / 2.0)
    if s > 0:
        z = (s - 1) / np.sqrt(var)
    elif s < 0:
        z = (s + 1) / np.sqrt(var)
    else:
        z = 0.0
    # the normal survival function sf(z) = ndtr(-z) (what scipy.stats.norm.sf computes), without importing
    # scipy.stats (about 1.5 s on a cold start, paid by every `gapwatch analyze`)
    from scipy.special import ndtr

    return float(tau), float(ndtr(-z))


def _mk_s(v: np.ndarray) -> float:
    """Mann–Kendall S = sum over i < j of sign(v[j] - v[i]) (an exact integer).

    Small n: the direct pairwise sum. Large n: in blocks of :data:`_MK_BLOCK` values, the pairwise sum inside
    the block plus, for each value, how many earlier values are smaller minus how many are larger (binary
    search in the sorted earlier values): exact integer counts in O(n²/B + n log n · n/B) time and O(B²) memory
    (the pairwise matrix would need n**2 * 8 bytes: 4.5 GB for 24,000 evaluations).
    """
    n = v.size
    if n <= 2000:
        return float(np.triu(np.sign(v[None, :] - v[:, None]), 1).sum())
    total = 0
    for lo in range(0, n, _MK_BLOCK):
        blk = v[lo: lo + _MK_BLOCK]
        total += int(np.triu(np.sign(blk[None, :] - blk[:, None]), 1).sum())
        if lo:
            prev = np.sort(v[:lo])
            less = np.searchsorted(prev, blk, side="left")
            greater = lo - np.searchsorted(prev, blk, side="right")
            total += int(less.sum()) - int(greater.sum())
    return float(total)


#: Block size (values) of the large-n Mann–Kendall S.
_MK_BLOCK = 1000
