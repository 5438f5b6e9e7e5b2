"""P(best already behind) on a plain array, for :class:`gapwatch.policy.StopPolicy`'s forecast-confirmed stop.

A lighter entry point than :func:`gapwatch.forecast.forecast_curve` for the one number the stop policy needs:
it fits the parametric ensemble of :mod:`gapwatch.forecast.ensemble` (monotone learning-curve families plus
overfitting / recovery "turn" terms, Bayesian model averaging after Domhan et al. 2015, "Speeding up automatic
hyperparameter optimization of deep neural networks by extrapolation of learning curves") and draws joint
sample paths, but skips the quantile bisection and the bookkeeping of a full :class:`Forecast`. The
normalisation, time axis and sampling are the same as ``forecast_curve(..., method="ensemble")``, so for the
same inputs and seed the probability is the same number.

Deterministic: a fixed seed, no global random state, so a replayed log gives the live decisions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .params import Param, defaults, register, validate

#: Parameters of :func:`p_best_behind` (:mod:`gapwatch.params`).
SPECS: tuple[Param, ...] = register("policy_forecast", (
    Param("n_samples", 512, "Joint sample paths drawn per call (the forecast module's default: the probability "
          "has a Monte-Carlo standard error below 0.023).", unit="paths", type=int, low=1),
    Param("seed", 0, "Random seed of the sample paths (fixed: replayed decisions must equal the live ones).",
          type=int, low=0),
    Param("min_points", 3, "Fewest finite evaluations the ensemble is fitted to (below it: probability 0, no "
          "evidence).", unit="evaluations", type=int, low=1),
    Param("flat_tolerance", 1e-8, "Values whose spread is at most this x (1 + |lowest|) count as constant "
          "(probability 0): round-off, not a curve.", unit="relative", low=0),
))
_DEFAULTS = defaults(SPECS)
#: joint sample paths drawn per call (same as the forecast module's default)
N_SAMPLES: int = _DEFAULTS["n_samples"]
#: random seed of the sample paths (fixed: decisions must be reproducible)
SEED: int = _DEFAULTS["seed"]
#: fewest finite evaluations the ensemble is fitted to
MIN_POINTS: int = _DEFAULTS["min_points"]


def p_best_behind(z: np.ndarray, horizon_factor: float = 1.5, *, n_samples: int = N_SAMPLES,
                  seed: int = SEED, **params: Any) -> float:
    """Probability that no evaluation in the next ``horizon_factor`` x (evaluations seen) beats the best so far.

    Args:
        z: the evaluations seen so far, shape ``(n,)``, **lower is better**; non-finite entries are skipped
            (their positions still count on the time axis, which is the evaluation index 0..n-1).
        horizon_factor: forecast horizon as a multiple of ``n`` (> 1); at least 3 more evaluations.
        n_samples, seed: sample paths and their seed.
        params: ``min_points``, ``flat_tolerance`` (see :data:`SPECS`).

    Returns:
        A probability in [0, 1]; 0.0 when fewer than ``MIN_POINTS`` finite values were seen or they are constant
        (no evidence, so the confirmation never fires on it).
    """
    from .forecast import ensemble
    from .forecast.prior import normalise

    p = validate("policy_forecast", SPECS, {"n_samples": n_samples, "seed": seed, **params})
    z = np.asarray(z, dtype=float).ravel()
    n = z.size
    fin = np.isfinite(z)
    if int(fin.sum()) < p["min_points"]:
        return 0.0
    x = np.flatnonzero(fin).astype(float)
    y = z[fin]
    lo_a, sc_a = normalise(y[None])
    lo, scale = float(lo_a[0, 0]), float(sc_a[0, 0])
    if float(y.max() - y.min()) <= p["flat_tolerance"] * (1 + abs(lo)):
        return 0.0
    horizon = max(math.ceil(horizon_factor * n), n + 3)
    xf = np.arange(n, horizon, dtype=float)
    zn = (y - lo) / scale
    span = float(xf[-1])
    t_obs, t_q = x / span, xf / span
    fit = ensemble.fit(t_obs, zn, t_q)
    samples = fit.sample(p["n_samples"], np.random.default_rng(p["seed"]))
    # the best future value of each path against the best normalised value seen (0 by construction)
    return float(np.mean(samples.min(axis=1) >= zn.min()))
