"""``GapwatchPruner``: an Optuna pruner that knows about overfitting and forecasts against the other trials.

Usage::

    import optuna
    from gapwatch.integrations.optuna import GapwatchPruner, best_checkpoint

    study = optuna.create_study(direction="minimize", pruner=GapwatchPruner(confidence=0.9))

    def objective(trial):
        ...
        for epoch in range(n_epochs):
            val_loss = train_one_epoch_and_validate(...)
            trial.report(val_loss, epoch)          # the monitored validation metric, every evaluation
            save_checkpoint_if_best(...)           # keep the best-so-far checkpoint of every trial
            if trial.should_prune():
                raise optuna.TrialPruned()
        return min(val_losses)                     # the trial's best evaluation, not its last

    study.optimize(objective, n_trials=50)
    trial, step, value = best_checkpoint(study)    # pruned trials' best-so-far checkpoints count too

A trial is pruned when (a) gapwatch's stop policy says it has overfit past recovery (or its patience cap ran
out), (c) it is behind at its latest step by more than the trials of the study that went past that step ever
gained afterwards (the same-rung comparison of successive halving / ASHA, made a posterior probability), (d)
it is out of the top ``1/η`` of the comparable trials at a rung by more than the sweep's noise (ASHA's
promotion test on the trials' best so far, with a noise margin; ``reduction_factor=None`` turns it off), or
(b) its learning curve, forecast to the budget and conditioned on the curves of the other trials in the
study, sets a new best of the study with probability below ``1 - confidence`` (see
:mod:`gapwatch.forecast.sweep` for the rules and the cross-run forecast). A pruned trial's best evaluation so
far is a real candidate: Optuna records a pruned trial's *last* value, so use :func:`best_checkpoint` (or
restore that trial's best checkpoint) rather than ``study.best_trial`` when choosing the configuration.

Distributed studies: the pruner keeps no state of its own; it reads every trial's intermediate values from
the study's storage on each call, so several worker processes sharing an RDB (SQLite/PostgreSQL) study prune
against each other's trials. ``optuna`` is imported when this module is imported (install it with
``pip install 'gapwatch[optuna]'``).
"""

from __future__ import annotations

from typing import Any

from ..errors import MissingDependencyError, UsageError
from ..forecast.sweep import (
    CONFIDENCE,
    FIRST_RUNG,
    MIN_OBSERVED,
    REDUCTION_FACTOR,
    RUNG_MARGIN,
    SAME_STEP_WARMUP,
    Curve,
    SweepRule,
    Verdict,
    best_evaluation,
)

try:
    import optuna
    from optuna.pruners import BasePruner
    from optuna.study import StudyDirection
    from optuna.trial import FrozenTrial, TrialState
except ImportError as _exc:  # pragma: no cover - exercised only without optuna
    raise MissingDependencyError("optuna", "optuna") from _exc

__all__ = ["GapwatchPruner", "best_checkpoint"]

#: trial states whose intermediate values the pruner compares against (a running trial's best so far is real)
OTHER_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def _mode(study: optuna.study.Study) -> str:
    if len(study.directions) != 1:
        raise UsageError(f"GapwatchPruner supports single-objective studies; this one has "
                         f"{len(study.directions)} objectives")
    return "min" if study.direction == StudyDirection.MINIMIZE else "max"


class GapwatchPruner(BasePruner):
    """Prune trials that overfit past recovery or whose forecast cannot beat the best trial.

    Args:
        confidence: prune by rule (b) or (c) when P(this trial sets a new best of the study by the budget)
            < ``1 - confidence``; a probability in (0, 1). Default 0.9.
        n_startup_trials: finished (complete or pruned) trials needed before the cross-run rules (b), (c), (d)
            apply (the stop-policy rule applies from the first trial). Default 1.
        n_warmup_steps: evaluations a trial must report before the forecast rule (b) applies; >= 5. Default 5.
        same_step_warmup: evaluations a trial must report before the same-step rule (c) applies (>= 1);
            None turns rule (c) off. Default 3 (chosen on the digits dev sweep of ``bench/bench_hpo.py``).
        reduction_factor: η of the rung rule (d), ASHA's promotion test on the best-so-far at the
            ``first_rung · η^i``-th evaluations (an integer >= 2); None turns it off. Default 3. It
            prunes from the second trial on and can prune a late bloomer, as ASHA does.
        first_rung: the first rung of rule (d), in evaluations (>= 1). Default 3 (2 lost the Fashion-MNIST test
            sweep's pick in ``bench/bench_hpo.py``; see :data:`gapwatch.forecast.sweep.FIRST_RUNG`).
        rung_margin: rule (d)'s noise margin (>= 0): a trial is behind at a rung only when its best is worse than
            the cutoff by more than ``rung_margin`` standard errors ``σ·sqrt(2)``, ``σ`` the sweep's evaluation
            noise (:func:`gapwatch.forecast.sweep.rung_evidence`). Default 2; 0 is ASHA's plain comparison.
        max_resource: the budget in steps (the last step a full trial reports); None = the furthest step any
            other trial has reported.
        policy_params: overrides of :data:`gapwatch.policy.DEFAULTS` for the stop-policy rule.
        use_forecast: False keeps only the stop-policy rule (a).
        method: single-run forecaster (``"auto"``, ``"pfn"``, ``"ensemble"``).

    Raises:
        UsageError: an argument out of range (the message names it).
    """

    def __init__(
        self,
        *,
        confidence: float = CONFIDENCE,
        n_startup_trials: int = 1,
        n_warmup_steps: int = MIN_OBSERVED,
        max_resource: float | None = None,
        policy_params: dict[str, Any] | None = None,
        use_forecast: bool = True,
        method: str = "auto",
        same_step_warmup: int | None = SAME_STEP_WARMUP,
        reduction_factor: int | None = REDUCTION_FACTOR,
        first_rung: int = FIRST_RUNG,
        rung_margin: float = RUNG_MARGIN,
    ) -> None:
        #: the validated settings and the judging step shared with the Ray Tune stopper
        self.rule = SweepRule("GapwatchPruner", confidence, n_startup_trials, n_warmup_steps, policy_params,
                              use_forecast, method, budget_name="max_resource", budget=max_resource,
                              same_step_warmup=same_step_warmup, reduction_factor=reduction_factor,
                              first_rung=first_rung, rung_margin=rung_margin)
        self.max_resource = None if max_resource is None else float(max_resource)
        #: the last verdict per (study name, trial number, evaluations seen): should_prune may be called twice
        self._cache: dict[tuple[str, int, int], Verdict] = {}
        self.last_verdict: Verdict | None = None

    def verdict(self, study: optuna.study.Study, trial: FrozenTrial) -> Verdict:
        """The full decision (rule, reason, best evaluation, forecast) behind :meth:`prune`."""
        mode = _mode(study)
        curve = Curve.from_mapping(trial.intermediate_values)
        key = (study.study_name, trial.number, len(curve))
        if key in self._cache:
            return self._cache[key]
        others_t = [t for t in study.get_trials(deepcopy=False, states=OTHER_STATES)
                    if t.number != trial.number and t.intermediate_values]
        finished = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in others_t)
        others = [Curve.from_mapping(t.intermediate_values) for t in others_t]
        v = self.rule.judge(curve, others, mode=mode, horizon=self.max_resource, finished=finished,
                            seed=trial.number)
        self._cache = {k: w for k, w in self._cache.items() if k[:2] != key[:2]}
        self._cache[key] = v
        return v

    def prune(self, study: optuna.study.Study, trial: FrozenTrial) -> bool:
        """Optuna's hook: True to prune ``trial`` after its latest reported evaluation."""
        if not trial.intermediate_values:
            return False
        v = self.verdict(study, trial)
        self.last_verdict = v
        return v.stop


def best_checkpoint(study: optuna.study.Study) -> tuple[FrozenTrial, int, float]:
    """The best reported evaluation of any trial (complete, pruned or running) in the study's direction.

    Returns ``(trial, step, value)``: restore that trial's checkpoint from that step. A pruned trial's best so
    far counts: it was a real, evaluated model.

    Raises:
        UsageError: no trial has reported an intermediate value, or the study has several objectives.
    """
    best = best_evaluation(((t, int(step), float(val)) for t in study.get_trials(deepcopy=False, states=OTHER_STATES)
                            for step, val in t.intermediate_values.items()), _mode(study))
    if best is None:
        raise UsageError(f"study {study.study_name!r} has no reported intermediate values "
                         "(call trial.report)")
    return best[0], int(best[1]), best[2]
