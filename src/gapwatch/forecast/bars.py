"""Riemann ("bar") distributions with half-normal tails, the output of a PFN (numpy only).

"Transformers Can Do Bayesian Inference" (Müller et al. 2022) discretises a real target into buckets with
borders ``b_0 < … < b_K`` and predicts one probability per bucket; the outer two buckets get half-normal tails
so the density has full support (the "full-support bar distribution"). This module evaluates such a
distribution from bucket probabilities: log-density, CDF, quantiles and samples.

Shapes: ``probs`` is ``(..., K)``; ``borders`` is ``(K + 1,)``; values broadcast against ``probs[..., 0]``.

Importing this module imports numpy only; ``scipy.special`` (``erfinv``, ``ndtr``) is imported inside the
functions that need it, so ``gapwatch analyze`` does not pay scipy's import time unless it forecasts.
"""

from __future__ import annotations

from typing import cast

import numpy as np

_LOG_HALFNORM_C = 0.5 * np.log(2.0 / np.pi)


def _tail_scales(borders: np.ndarray) -> tuple[float, float]:
    return float(borders[1] - borders[0]), float(borders[-1] - borders[-2])


def logpdf(probs: np.ndarray, borders: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Log-density of ``y`` (shape ``probs.shape[:-1]``) under the bar distribution."""
    k = probs.shape[-1]
    widths = np.diff(borders)
    y = np.asarray(y, dtype=float)
    idx = np.clip(np.searchsorted(borders, y, side="right") - 1, 0, k - 1)
    p = np.take_along_axis(probs, idx[..., None], axis=-1)[..., 0]
    logp = np.log(np.maximum(p, 1e-300))
    out = logp - np.log(widths[idx])
    sl, sr = _tail_scales(borders)
    left = y < borders[1]
    right = y >= borders[-2]
    zl = (borders[1] - y) / sl
    zr = (y - borders[-2]) / sr
    tail_l = np.log(np.maximum(probs[..., 0], 1e-300)) + _LOG_HALFNORM_C - np.log(sl) - 0.5 * zl**2
    tail_r = np.log(np.maximum(probs[..., -1], 1e-300)) + _LOG_HALFNORM_C - np.log(sr) - 0.5 * zr**2
    return cast(np.ndarray, np.where(right, tail_r, np.where(left, tail_l, out)))


def quantile(probs: np.ndarray, borders: np.ndarray, q: float) -> np.ndarray:
    """The ``q``-quantile (``0 < q < 1``), shape ``probs.shape[:-1]``."""
    from scipy.special import erfinv
    cum = np.cumsum(probs, axis=-1)
    cum = cum / cum[..., -1:]
    k = probs.shape[-1]
    idx = np.minimum((cum < q).sum(axis=-1), k - 1)
    prev = np.where(idx > 0, np.take_along_axis(cum, np.maximum(idx - 1, 0)[..., None], -1)[..., 0], 0.0)
    p = np.take_along_axis(probs, idx[..., None], -1)[..., 0] / cum[..., -1]
    frac = np.clip((q - prev) / np.maximum(p, 1e-300), 0.0, 1.0)
    lo, hi = borders[idx], borders[idx + 1]
    out = lo + frac * (hi - lo)
    sl, sr = _tail_scales(borders)
    # half-normal tails: fraction f of the edge bucket's mass lies within distance z of the inner border
    fl = np.clip(1.0 - frac, 1e-12, 1 - 1e-12)  # left tail: inner border is the right one
    out = np.where(idx == 0, borders[1] - sl * np.sqrt(2.0) * erfinv(fl), out)
    return cast(np.ndarray, np.where(idx == k - 1,
                                     borders[-2] + sr * np.sqrt(2.0) * erfinv(np.clip(frac, 1e-12, 1 - 1e-12)), out))


def ppf_from_uniform(probs: np.ndarray, borders: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Quantile function applied elementwise: ``probs`` ``(q, K)``, ``u`` ``(s, q)`` → values ``(s, q)``."""
    from scipy.special import erfinv
    cum = np.cumsum(probs, axis=-1)
    cum = cum / cum[:, -1:]
    k = probs.shape[-1]
    s = u.shape[0]
    idx = np.empty(u.shape, dtype=int)
    for j in range(u.shape[1]):
        idx[:, j] = np.searchsorted(cum[j], u[:, j], side="left")
    idx = np.minimum(idx, k - 1)
    cum_b = np.broadcast_to(cum[None], (s,) + cum.shape)
    prev = np.where(idx > 0, np.take_along_axis(cum_b, np.maximum(idx - 1, 0)[..., None], -1)[..., 0], 0.0)
    p = np.take_along_axis(np.broadcast_to(probs[None], cum_b.shape), idx[..., None], -1)[..., 0]
    p = p / cum[None, :, -1]
    frac = np.clip((u - prev) / np.maximum(p, 1e-300), 0.0, 1.0)
    out = borders[idx] + frac * (borders[idx + 1] - borders[idx])
    sl, sr = _tail_scales(borders)
    out = np.where(idx == 0, borders[1] - sl * np.sqrt(2.0) * erfinv(np.clip(1 - frac, 1e-12, 1 - 1e-12)),
                   out)
    return cast(np.ndarray, np.where(idx == k - 1,
                                     borders[-2] + sr * np.sqrt(2.0) * erfinv(np.clip(frac, 1e-12, 1 - 1e-12)), out))


def copula_samples(
    probs: np.ndarray, borders: np.ndarray, t: np.ndarray, n_samples: int, length: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Joint sample paths ``(n_samples, q)`` whose marginals are the bar distributions ``probs`` ``(q, K)``.

    A PFN predicts each future point's marginal only. Paths are drawn with a Gaussian copula whose correlation
    between points at normalised times ``t_i, t_j`` is ``exp(-|t_i - t_j| / length)`` (errors of a curve
    forecast are smooth in time, not independent). This is an assumption, documented in docs/forecast.md.
    """
    from scipy.special import ndtr

    q = t.shape[0]
    cov = np.exp(-np.abs(t[:, None] - t[None, :]) / max(length, 1e-6)) + 1e-9 * np.eye(q)
    chol = np.linalg.cholesky(cov)
    z = rng.standard_normal((n_samples, q)) @ chol.T
    u = np.clip(ndtr(z), 1e-9, 1 - 1e-9)
    return ppf_from_uniform(probs, borders, u)
