"""``GapwatchStopper``: a Ray Tune stopper that knows overfitting and forecasts against the other trials.

Usage::

    from ray import tune
    from gapwatch.integrations.ray import GapwatchStopper

    stopper = GapwatchStopper(metric="val_loss", mode="min", max_t=100)
    tuner = tune.Tuner(train_fn, param_space=space,
                       run_config=tune.RunConfig(stop=stopper))
    results = tuner.fit()
    trial_id, step, value = stopper.best_checkpoint()   # stopped trials' best-so-far checkpoints count too

Each result a trial reports (``tune.report({"val_loss": ..., ...})``) is one evaluation; its position is
``result[time_attr]`` (default ``training_iteration``). A trial is stopped when (a) gapwatch's stop policy
says it has overfit past recovery, (c) it is behind at its latest step by more than the other trials gained
after that step (same-rung comparison, as ASHA's), (d) it is out of the top 1/η at a rung by more than the
noise (``reduction_factor=None`` turns it off), or (b)
its forecast, conditioned on the other trials'
curves, sets a new best of the sweep with probability below ``1 - confidence`` — the same logic as the Optuna
pruner (:mod:`gapwatch.forecast.sweep`). The stopper runs in the Tune driver, which sees every trial's
results, so it keeps the curves itself; :meth:`state_dict` / :meth:`load_state_dict` carry them across a
driver restart.
``ray`` is imported when this module is imported (``pip install 'gapwatch[ray]'``).
"""

from __future__ import annotations

import math
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
    from ray.tune import Stopper
except ImportError as _exc:  # pragma: no cover - exercised only without ray
    raise MissingDependencyError("ray", "ray") from _exc

__all__ = ["GapwatchStopper"]

STATE_VERSION = 1


class GapwatchStopper(Stopper):  # type: ignore[misc, unused-ignore]  # Stopper is Any when ray is absent or untyped
    """Stop Ray Tune trials that overfit past recovery or whose forecast cannot beat the best trial.

    Args:
        metric: the monitored validation metric in each result. mode: ``"min"`` or ``"max"``.
        time_attr: the result key giving the evaluation's position (steps, epochs or iterations).
        max_t: the budget in ``time_attr`` units (None = the furthest any other trial has reached).
        confidence: stop by forecast when P(beat the best other trial) < ``1 - confidence``; in (0, 1).
        n_startup_trials: finished trials (stopped here, or at ``max_t``) before the cross-run rules (b), (c), (d)
            apply.
        n_warmup_steps: evaluations a trial must report before the forecast rule (b) applies (>= 5).
        same_step_warmup: evaluations before the same-step rule (c) applies (>= 1); None turns it off.
        reduction_factor: η of the rung rule (d) (ASHA's promotion test on the best so far, >= 2; default 3);
            None turns it off. first_rung: its first rung in evaluations (>= 1, default 3). rung_margin: its
            noise margin in standard errors of a difference of two best-so-far values (>= 0, default 2; 0 is
            ASHA's plain comparison; see :func:`gapwatch.forecast.sweep.rung_evidence`).
        policy_params: overrides of :data:`gapwatch.policy.DEFAULTS`. use_forecast: False = policy only.
        method: single-run forecaster (``"auto"``, ``"pfn"``, ``"ensemble"``).

    Raises:
        UsageError: an argument out of range, or a result without ``metric`` / ``time_attr`` (the message
            names the trial and the keys it has).
    """

    def __init__(
        self,
        metric: str,
        mode: str = "min",
        *,
        time_attr: str = "training_iteration",
        max_t: float | None = None,
        confidence: float = CONFIDENCE,
        n_startup_trials: int = 1,
        n_warmup_steps: int = MIN_OBSERVED,
        policy_params: dict[str, Any] | None = None,
        use_forecast: bool = True,
        method: str = "auto",
        same_step_warmup: int | None = SAME_STEP_WARMUP,
        reduction_factor: int | None = REDUCTION_FACTOR,
        first_rung: int = FIRST_RUNG,
        rung_margin: float = RUNG_MARGIN,
    ) -> None:
        if not isinstance(metric, str) or not metric:
            raise UsageError(f"GapwatchStopper: metric must be a non-empty result key, got {metric!r}")
        if mode not in ("min", "max"):
            raise UsageError(f"GapwatchStopper: mode must be 'min' or 'max', got {mode!r}")
        #: the validated settings and the judging step shared with the Optuna pruner
        self.rule = SweepRule("GapwatchStopper", confidence, n_startup_trials, n_warmup_steps, policy_params,
                              use_forecast, method, mode=mode, budget_name="max_t", budget=max_t,
                              same_step_warmup=same_step_warmup, reduction_factor=reduction_factor,
                              first_rung=first_rung, rung_margin=rung_margin)
        self.metric, self.mode, self.time_attr = metric, mode, time_attr
        self.max_t = None if max_t is None else float(max_t)
        self._steps: dict[str, list[float]] = {}
        self._values: dict[str, list[float]] = {}
        self._finished: set[str] = set()
        #: the latest verdict per trial id
        self.verdicts: dict[str, Verdict] = {}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        """Tune's hook: record the result and return True to stop the trial."""
        if self.metric not in result or self.time_attr not in result:
            raise UsageError(f"GapwatchStopper: trial {trial_id} reported a result without "
                             f"{self.metric!r} or {self.time_attr!r}; its keys: {sorted(result)[:20]}")
        try:
            value, step = float(result[self.metric]), float(result[self.time_attr])
        except (TypeError, ValueError):
            raise UsageError(f"GapwatchStopper: trial {trial_id}: {self.metric}={result[self.metric]!r} and "
                             f"{self.time_attr}={result[self.time_attr]!r} must be numbers") from None
        self._steps.setdefault(trial_id, []).append(step)
        self._values.setdefault(trial_id, []).append(value)
        if self.max_t is not None and step >= self.max_t:
            self._finished.add(trial_id)
        others = [self._curve(t) for t in self._values if t != trial_id]
        v = self.rule.judge(self._curve(trial_id), others, mode=self.mode, horizon=self.max_t,
                            finished=len(self._finished - {trial_id}))
        self.verdicts[trial_id] = v
        if v.stop:
            self._finished.add(trial_id)
        return v.stop

    def stop_all(self) -> bool:
        """Never stops the whole experiment."""
        return False

    def _curve(self, trial_id: str) -> Curve:
        import numpy as np

        return Curve(np.asarray(self._steps[trial_id], dtype=float),
                     np.asarray(self._values[trial_id], dtype=float))

    def best_checkpoint(self) -> tuple[str, float, float]:
        """``(trial_id, step, value)`` of the best evaluation any trial reported (stopped trials included).

        Raises:
            UsageError: nothing was reported yet.
        """
        best = best_evaluation(((tid, s, v) for tid, vals in self._values.items()
                                for s, v in zip(self._steps[tid], vals, strict=True)), self.mode)
        if best is None:
            raise UsageError("GapwatchStopper: no trial has reported a finite value yet")
        return best

    def state_dict(self) -> dict[str, Any]:
        """Versioned, JSON-able state (the curves seen and the finished trials)."""
        return {"version": STATE_VERSION, "steps": {k: list(v) for k, v in self._steps.items()},
                "values": {k: [x if math.isfinite(x) else repr(x) for x in v]
                           for k, v in self._values.items()},
                "finished": sorted(self._finished)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output; a wrong version or keys raise UsageError."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION \
                or set(state) != {"version", "steps", "values", "finished"}:
            raise UsageError(f"GapwatchStopper state: expected version {STATE_VERSION} with keys steps, "
                             "values, finished")
        self._steps = {k: [float(x) for x in v] for k, v in state["steps"].items()}
        self._values = {k: [float(x) for x in v] for k, v in state["values"].items()}
        self._finished = set(state["finished"])
