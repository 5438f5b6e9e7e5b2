"""Degradation-aware recalibration of P(best already behind) (numpy only).

Both forecasters under-state P(best behind) on curves that have clearly turned up (issue 14: the shipped PFN's
prior holds few long monotone degradations after an early best, so it expects a recovery). The correction
here is a logistic recalibration in the spirit of Platt scaling ("Probabilistic Outputs for Support Vector
Machines", Platt 1999), with two extra features that say how clearly the observed prefix has degraded:

    logit P' = a · logit P + b · log(1 + min(rise_z, RISE_CAP)) + c · since + e · log(1 + since_n) + d

* ``rise_z``: (mean of the last ``RISE_WINDOW`` observed values − the best observed) in noise standard errors,
  ``σ·sqrt(2/w)``, σ from :func:`gapwatch.stats.noise_sigma` of the prefix — the degradation test of gapwatch's
  stop policy (:mod:`gapwatch.policy`, rule 1);
* ``since``: evaluations since the best, as a fraction of the observed evaluations; ``since_n``: the same
  as a count of evaluations.

The coefficients ``(a, b, c, e, d)`` per forecaster were fitted by ``bench/bench_forecast_degradation.py --fit``
on the dev half of 96 real validation curves (36 CPU-trained runs and 60 of the Crowded Valley / DeepOBS
corpus) at cuts of 20/30/50/70%, and are reported on the other half (bench/results/forecast.md); the PFN's
were refitted for the weights fine-tuned on the prior with its degradation component (issue 14). Only P(best behind) is
recalibrated; the density is the forecaster's own.

The reported 80% band (the 10% and 90% quantiles) gets a separate width correction, ``BAND_SCALE``: the factor
by which the distance of each of the two quantiles from the median is multiplied, chosen on the same dev half so
that the band covers 80% of the held-back evaluations there (PFN: 0.58, i.e. its own band covered 93–96%; the
ensemble's fit, 0.99, is not applied) (split-conformal calibration of the interval width,
after "Conformalized Quantile Regression", Romano et al. 2019, with a multiplicative instead of an additive
correction because the curves are in per-curve normalised units). It changes the reported band only, never
the density, the sample paths or P(best behind).
"""

from __future__ import annotations

import math

import numpy as np

#: evaluations averaged for the current level in ``rise_z`` (the policy's window for a stable level)
RISE_WINDOW = 3
#: ``rise_z`` is capped at this many standard errors (beyond it the evidence is saturated)
RISE_CAP = 20.0
#: fitted coefficients (a, b, c, e, d) per forecaster; see the module docstring
COEFFICIENTS: dict[str, tuple[float, float, float, float, float]] = {
    "pfn": (0.8964, -0.4377, 4.0869, 0.4939, -0.8518),
    "ensemble": (0.6279, -1.4763, 0.2286, 1.8093, -0.4008),
}

#: conformal width correction of the reported 10–90% band per forecaster (1.0 or absent: none); see above
BAND_SCALE: dict[str, float] = {"pfn": 0.58}


def degradation_features(y_obs: np.ndarray, mode: str = "min") -> tuple[float, float, int]:
    """``(rise_z, since, since_n)`` of an observed prefix ``(m,)`` (lower is better when ``mode="min"``).

    ``rise_z`` is 0 when fewer than 4 values are finite or the noise estimate is 0 and nothing rose.
    """
    from ..stats import noise_sigma

    z = np.asarray(y_obs, dtype=float) * (1.0 if mode == "min" else -1.0)
    z = z[np.isfinite(z)]
    m = z.size
    if m < 4:
        return 0.0, 0.0, 0
    b = int(np.argmin(z))
    since_n = m - 1 - b
    since = since_n / m
    w = min(RISE_WINDOW, since_n)
    if w == 0:
        return 0.0, since, since_n
    rise = float(np.mean(z[-w:]) - z[b])
    se = noise_sigma(z) * math.sqrt(2.0 / w)
    if se <= 0:
        return (RISE_CAP if rise > 0 else 0.0), since, since_n
    return max(0.0, rise / se), since, since_n


def features(p: float, rise_z: float, since: float, since_n: int) -> np.ndarray:
    """The recalibration features ``(5,)``: logit P, log(1 + capped rise_z), since, log(1 + since_n), 1."""
    q = min(max(float(p), 1e-3), 1 - 1e-3)
    return np.array([math.log(q / (1 - q)), math.log1p(min(max(rise_z, 0.0), RISE_CAP)), since,
                     math.log1p(max(since_n, 0)), 1.0])


def recalibrate(p: float, rise_z: float, since: float, since_n: int, method: str) -> float:
    """The recalibrated P(best behind) for forecaster ``method`` (``"pfn"`` or ``"ensemble"``); other
    methods get ``p`` back unchanged."""
    if method not in COEFFICIENTS:
        return float(p)
    s = float(np.dot(np.array(COEFFICIENTS[method]), features(p, rise_z, since, since_n)))
    return 1.0 / (1.0 + math.exp(-max(min(s, 50.0), -50.0)))
