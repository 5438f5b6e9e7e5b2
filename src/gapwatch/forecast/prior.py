"""The curve prior the forecasting PFN is trained on (pure numpy, no torch).

A prior-data fitted network ("Transformers Can Do Bayesian Inference", Müller et al. 2022) learns to
approximate the posterior predictive distribution of whatever prior it is trained on. LC-PFN ("Efficient
Bayesian Learning Curve Extrapolation using Prior-Data Fitted Networks", Adriaensen et al. 2023) uses a prior
of *monotone* parametric curves. Real validation curves also overfit, double-descend, grok and diverge, so
this prior adds those shapes. Curves are generated in "lower is better" units (a loss, or minus an accuracy).

Every curve is ``y(t) = base(t) + overfit(t) + bump(t) - drops(t) + divergence(t) + noise`` on the normalised
time axis ``t ∈ [0, 1]`` (``t = x / x_end``, ``x_end`` the last evaluation of the forecast horizon):

* ``base`` (always): a decreasing curve ``c + a·g(t)`` from one of the families of Domhan et al. 2015
  ("Speeding up automatic hyperparameter optimization of deep neural networks by extrapolation of learning
  curves"): power law ``(1 + s·t)^-α``, exponential ``exp(-s·t)``, MMF / log-logistic ``1/(1+(s·t)^α)``,
  Janoschek ``exp(-(s·t)^δ)``, and a delayed start (flat, then a power law) that produces plateaus.
  The speed ``s`` is log-uniform on [0.5, 300]: slow speeds give curves still improving at the end.
* ``overfit`` (p = ``P_OVERFIT``): after a uniform onset ``t0 ∈ [0.02, 0.95]`` the curve rises like
  ``severity · ((t - t0)₊)^p`` (p ∈ [0.7, 2], severity log-uniform 0.02…3 × the base amplitude): the U-shaped
  validation loss of overfitting.
* ``bump`` (p = ``P_DOUBLE_DESCENT``): a rise and recovery (epoch-wise double descent), a Gaussian bump of
  random centre, width and height.
* ``drops`` (p = ``P_GROK`` for grokking: a long plateau then a sudden sigmoid drop of 0.3…1.5 × amplitude;
  p = ``P_STEP`` for learning-rate step decays: a smaller sharp drop).
* ``divergence`` (p = ``P_DIVERGE``): after a random time the loss grows exponentially (capped).
* ``noise``: Gaussian evaluation noise of log-uniform scale (1e-3…0.1 × amplitude) with AR(1)
  correlation ρ ∈ [0, 0.8], plus rare outlier spikes (p = 0.01 per evaluation).

**Degradation** (p = ``P_DEGRADE``, epoch grids only; issue 14): the curve above is replaced by a quick
improvement to an early best at ``t_b ∈ [DEG_TB_MIN, DEG_TB_MAX]`` followed by a long monotone rise until the
end (:func:`_degradation`), the validation loss of label-noise / small-data / repeated-token runs that the
components above rarely produce (their overfitting rises are convex and start late, so a prefix that has
clearly turned up looks like the top of a double-descent bump and the network forecast a recovery). The rise
by the end is log-uniform on ``[DEG_RISE_MIN, DEG_RISE_MAX]`` × the improvement, shaped as a concave or
linear power law, a saturating exponential or a logarithm; the evaluation noise grows with the rise (real
label-noise runs get noisier as they degrade). The ranges come from the CPU-trained runs of
``bench/curves/cpu-runs.jsonl`` (rise by the end 0.26–1.06 × the improvement, best at 11–33% of the run,
noise up to ~0.15 × the improvement) and the issue's example (1.17 at epoch 6 → 2.9 at 60 → 4.2 at 200: about
2.7 × the improvement, ``(t - t_b)^0.43``).

Evaluation positions: ``n ∈ [N_MIN, N_MAX]`` points, either an even grid (epochs, optionally including the
evaluation before training at t = 0) or a geometric grid (sample-wise curves such as LCDB's training sizes,
ratio 1.2…2, up to 4.5 decades). On geometric grids every component above is drawn on the log position
``u = 1 - log(t)/log(t_first)`` instead of ``t`` (see :func:`curve_time`), and the evaluation noise is up to
e² larger at the smallest training sizes.
"""

from __future__ import annotations

from typing import cast

import numpy as np

P_OVERFIT = 0.40
P_DOUBLE_DESCENT = 0.12
P_GROK = 0.08
P_STEP = 0.10
P_DIVERGE = 0.05
P_FLAT = 0.04
#: share of the curves (epoch grids only) that are a degradation after an early best (see the module docstring)
P_DEGRADE = 0.20
#: degradation: the early best, as normalised time ``t_b`` (uniform on [DEG_TB_MIN, DEG_TB_MAX])
DEG_TB_MIN = 0.02
DEG_TB_MAX = 0.45
#: degradation: the rise from the best to the end, × the improvement (log-uniform)
DEG_RISE_MIN = 0.1
DEG_RISE_MAX = 4.0
#: degradation: evaluation noise, × the improvement (log-uniform), before it grows with the rise
DEG_NOISE_MIN = 3e-3
DEG_NOISE_MAX = 0.1
N_MIN = 6
N_MAX = 72
#: geometric (sample-wise) grids: ratio between successive positions, and the most decades spanned
GEO_RATIO_MIN = 1.2
GEO_RATIO_MAX = 2.0
GEO_MAX_DECADES = 4.5
#: geometric grids: the base curve's speed (on the log position) is log-uniform on [0.5, GEO_SPEED_MAX];
#: 3 matched the quantiles of "share of the improvement made in the second half" of 116 LCDB curves that are
#: not in the benchmark's LCDB subset (bench_forecast.py --seed 1 subset) best among 300, 30, 10, 3
GEO_SPEED_MAX = 3.0


def sample_positions(rng: np.random.Generator, n: int) -> np.ndarray:
    """Evaluation positions ``t`` (increasing, last = 1) for one batch.

    Epoch grids have exactly ``n`` points. Geometric grids (sample-wise curves, e.g. LCDB's training sizes
    ``16·√2^k``) have ratio ``r ~ U[GEO_RATIO_MIN, GEO_RATIO_MAX]`` and span at most ``GEO_MAX_DECADES``
    decades, so they may hold fewer than ``n`` points (never fewer than ``N_MIN``).
    """
    r = rng.random()
    if r < 0.5:  # epochs 1..n
        return np.arange(1, n + 1, dtype=float) / n
    if r < 0.75:  # epochs 0..n-1 (evaluation before training included)
        return np.arange(0, n, dtype=float) / (n - 1)
    ratio = float(rng.uniform(GEO_RATIO_MIN, GEO_RATIO_MAX))
    decades = float(rng.uniform(1.0, GEO_MAX_DECADES))
    k = int(min(n, max(N_MIN, np.floor(decades * np.log(10.0) / np.log(ratio)) + 1)))
    return ratio ** (np.arange(k, dtype=float) - (k - 1))


def is_geometric(t: np.ndarray) -> bool:
    """True for a geometric (sample-wise) grid as drawn by :func:`sample_positions`."""
    return bool(t.size >= 3 and t[0] > 0 and abs(t[1] / t[0] - t[2] / t[1]) < 1e-9 and t[1] / t[0] > 1.05)


def curve_time(t: np.ndarray) -> np.ndarray:
    """The time axis the curve components are drawn on: ``t`` itself for epoch grids; for geometric grids the
    log position ``u = 1 - log(t) / log(t[0])`` (0 at the smallest training size, 1 at the largest), so a
    sample-wise curve is an epoch-like curve in log training size (an exponential in ``u`` is a power law in
    the size, as in the sample-wise learning curves of LCDB, Mohr et al. 2022)."""
    if not is_geometric(t):
        return t
    return cast(np.ndarray, 1.0 - np.log(t) / np.log(t[0]))


def _base(rng: np.random.Generator, t: np.ndarray, b: int, s_max: float = 300.0) -> np.ndarray:
    """Decreasing base curves on the curve time ``t`` ``(n,)``, shape ``(b, n)``, from 1 (start) towards 0.

    The speed is log-uniform on [0.5, ``s_max``]."""
    n = t.shape[0]
    out = np.empty((b, n))
    fam = rng.integers(0, 5, size=b)
    s = np.exp(rng.uniform(np.log(0.5), np.log(s_max), size=b))[:, None]
    alpha = np.exp(rng.uniform(np.log(0.2), np.log(3.0), size=b))[:, None]
    tt = t[None, :]
    g_pow = (1.0 + s * tt) ** (-alpha)
    g_exp = np.exp(-np.minimum(s * tt / 5.0, 700))
    g_mmf = 1.0 / (1.0 + (s * tt / 3.0) ** alpha)
    delta = rng.uniform(0.3, 1.5, size=(b, 1))
    g_jan = np.exp(-np.minimum((s * tt / 5.0) ** delta, 700))
    delay = rng.uniform(0.0, 0.6, size=(b, 1))
    g_del = (1.0 + s * np.maximum(tt - delay, 0.0)) ** (-alpha)
    for k, g in enumerate((g_pow, g_exp, g_mmf, g_jan, g_del)):
        sel = fam == k
        out[sel] = g[sel]
    return out


def _ar1(rng: np.random.Generator, b: int, n: int, rho: np.ndarray) -> np.ndarray:
    """Unit-variance AR(1) noise ``(b, n)`` with per-curve correlation ``rho`` ``(b,)``."""
    e = rng.normal(size=(b, n))
    ar = np.empty_like(e)
    ar[:, 0] = e[:, 0]
    scale = np.sqrt(1.0 - rho**2)
    for i in range(1, n):
        ar[:, i] = rho * ar[:, i - 1] + scale * e[:, i]
    return ar


def _degradation(rng: np.random.Generator, t: np.ndarray, floor: np.ndarray, amp: np.ndarray) -> np.ndarray:
    """Degrading curves ``(b, n)`` on the epoch time ``t`` ``(n,)``: improvement by ``amp`` ``(b, 1)`` to an
    early best near ``t_b``, then a monotone rise to the end, plus noise that grows with the rise.

    * improvement: ``amp · g(t)`` with ``g`` an exponential ``exp(-k·t/t_b)`` or a power law
      ``(1 + s·t)^-α`` whose ``s`` puts ``g(t_b) = e^-k`` (``k ∈ [2, 6]``: mostly converged at the best);
    * rise: ``R · h(u)``, ``u = (t - t_b)₊ / (1 - t_b)``, ``R`` log-uniform on
      [``DEG_RISE_MIN``, ``DEG_RISE_MAX``] × ``amp``; ``h`` one of ``u^q`` (q ∈ [0.3, 1.2]: concave to linear),
      ``(1 - e^(-u/τ)) / (1 - e^(-1/τ))`` (τ ∈ [0.05, 1], saturating), ``log(1 + u/τ) / log(1 + 1/τ)``
      (τ ∈ [0.01, 0.5]);
    * noise: AR(1) (ρ ∈ [0, 0.8]) of scale log-uniform on [``DEG_NOISE_MIN``, ``DEG_NOISE_MAX``] × ``amp``,
      times ``1 + κ · rise(t) / amp`` (κ ∈ [0, 1]).
    """
    b, n = amp.shape[0], t.shape[0]
    tt = t[None, :]
    tb = rng.uniform(DEG_TB_MIN, DEG_TB_MAX, size=(b, 1))
    k = rng.uniform(2.0, 6.0, size=(b, 1))
    alpha = rng.uniform(0.5, 2.0, size=(b, 1))
    s = np.expm1(k / alpha) / tb
    g = np.where(rng.random((b, 1)) < 0.5, np.exp(-np.minimum(k * tt / tb, 700.0)), (1.0 + s * tt) ** (-alpha))
    u = np.maximum(tt - tb, 0.0) / (1.0 - tb)
    fam = rng.integers(0, 3, size=(b, 1))
    q = rng.uniform(0.3, 1.2, size=(b, 1))
    tau_s = np.exp(rng.uniform(np.log(0.05), np.log(1.0), size=(b, 1)))
    tau_l = np.exp(rng.uniform(np.log(0.01), np.log(0.5), size=(b, 1)))
    h = np.where(fam == 0, u**q,
                 np.where(fam == 1, -np.expm1(-u / tau_s) / -np.expm1(-1.0 / tau_s),
                          np.log1p(u / tau_l) / np.log1p(1.0 / tau_l)))
    rise = np.exp(rng.uniform(np.log(DEG_RISE_MIN), np.log(DEG_RISE_MAX), size=(b, 1))) * amp * h
    sig = np.exp(rng.uniform(np.log(DEG_NOISE_MIN), np.log(DEG_NOISE_MAX), size=(b, 1))) * amp
    kappa = rng.uniform(0.0, 1.0, size=(b, 1))
    ar = _ar1(rng, b, n, np.asarray(rng.uniform(0.0, 0.8, size=b)))
    return cast(np.ndarray, floor + amp * g + rise + sig * (1.0 + kappa * rise / amp) * ar)


def sample_curves(rng: np.random.Generator, t: np.ndarray, b: int, *, p_degrade: float = P_DEGRADE) -> np.ndarray:
    """``b`` prior curves evaluated at positions ``t``; shape ``(b, len(t))``, lower is better, finite.

    Every component is a function of :func:`curve_time` (``t`` on epoch grids, the log position on
    geometric ones). ``p_degrade`` is the share of degradation curves (:func:`_degradation`, epoch grids
    only); with ``p_degrade=0`` the draws are exactly those of the prior before the degradation component
    (the shipped network's first 40,000 training steps), so its held-out losses stay comparable."""
    geometric = is_geometric(t)
    t = curve_time(t)
    n = t.shape[0]
    tt = t[None, :]
    amp = np.exp(rng.uniform(np.log(0.05), np.log(5.0), size=(b, 1)))
    floor = rng.normal(0.0, 2.0, size=(b, 1))
    y = floor + amp * _base(rng, t, b, GEO_SPEED_MAX if geometric else 300.0)

    flat = rng.random(b) < P_FLAT
    y[flat] = floor[flat] + amp[flat] * 0.5

    m = (rng.random(b) < P_OVERFIT)[:, None]
    t0 = rng.uniform(0.02, 0.95, size=(b, 1))
    p = rng.uniform(0.7, 2.0, size=(b, 1))
    sev = np.exp(rng.uniform(np.log(0.02), np.log(3.0), size=(b, 1))) * amp
    y = y + m * sev * np.maximum(tt - t0, 0.0) ** p / np.maximum(1.0 - t0, 0.05) ** p * (1.0 - t0)

    m = (rng.random(b) < P_DOUBLE_DESCENT)[:, None]
    c = rng.uniform(0.05, 0.8, size=(b, 1))
    w = rng.uniform(0.02, 0.2, size=(b, 1))
    h = rng.uniform(0.05, 0.8, size=(b, 1)) * amp
    y = y + m * h * np.exp(-0.5 * ((tt - c) / w) ** 2)

    m = (rng.random(b) < P_GROK)[:, None]
    tj = rng.uniform(0.1, 0.9, size=(b, 1))
    wj = rng.uniform(0.005, 0.05, size=(b, 1))
    d = rng.uniform(0.3, 1.5, size=(b, 1)) * amp
    y = y - m * d * (1.0 / (1.0 + np.exp(-np.clip((tt - tj) / wj, -50, 50))) - 1.0 / (1.0 + np.exp(tj / wj)))

    m = (rng.random(b) < P_STEP)[:, None]
    ts = rng.uniform(0.2, 0.9, size=(b, 1))
    d = rng.uniform(0.02, 0.3, size=(b, 1)) * amp
    y = y - m * d * (tt >= ts)

    m = (rng.random(b) < P_DIVERGE)[:, None]
    td = rng.uniform(0.1, 0.95, size=(b, 1))
    wv = rng.uniform(0.01, 0.2, size=(b, 1))
    y = y + m * amp * np.minimum(np.expm1(np.maximum(tt - td, 0.0) / wv), 50.0)

    sig = np.exp(rng.uniform(np.log(1e-3), np.log(0.1), size=(b, 1))) * amp
    rho = rng.uniform(0.0, 0.8, size=(b, 1))
    ar = _ar1(rng, b, n, rho[:, 0])
    # small training sets give noisier estimates: up to e^2 times at the first anchor of a geometric grid
    noise_scale = np.exp(rng.uniform(0.0, 2.0, size=(b, 1)) * (1.0 - tt)) if geometric else 1.0
    y = y + sig * noise_scale * ar
    spikes = rng.random((b, n)) < 0.01
    y = y + spikes * sig * rng.uniform(3.0, 20.0, size=(b, n))
    if p_degrade > 0.0 and not geometric:
        # a generator of its own, so that p_degrade = 0 leaves the draws above untouched
        drng = np.random.default_rng(int(rng.integers(2**62)))
        sel = drng.random(b) < p_degrade
        if sel.any():
            y[sel] = _degradation(drng, t, floor[sel], amp[sel])
    return cast(np.ndarray, y)


def normalise(y_obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-curve affine map that sends the observed part to [0, 1]: returns ``(lo, scale)``, each ``(b, 1)``.

    ``y' = (y - lo) / scale`` with ``lo`` the observed minimum and ``scale`` the observed range (floored at
    ``1e-8·(1+|lo|)``). Shared by training and inference so both see the same inputs.
    """
    lo = y_obs.min(axis=1, keepdims=True)
    hi = y_obs.max(axis=1, keepdims=True)
    scale = np.maximum(hi - lo, 1e-8 * (1.0 + np.abs(lo)))
    return lo, scale


def sample_batch(
    rng: np.random.Generator, b: int, *, n: int | None = None, m: int | None = None,
    p_degrade: float = P_DEGRADE,
) -> tuple[np.ndarray, np.ndarray, int]:
    """A training batch: positions ``t`` ``(n,)``, normalised curves ``(b, n)`` and the cut ``m``.

    The first ``m`` evaluations are observed (``2 <= m < n``); the rest are the targets. ``p_degrade``: see
    :func:`sample_curves` (0: the prior without the degradation component; 1: degradation curves only, on
    epoch grids).
    """
    if n is None:
        n = int(rng.integers(N_MIN, N_MAX + 1))
    t = sample_positions(rng, n)
    n = t.size
    if m is None or m >= n:
        m = int(rng.integers(2, n))
    y = sample_curves(rng, t, b, p_degrade=p_degrade)
    lo, scale = normalise(y[:, :m])
    return t, (y - lo) / scale, m
