"""The same-step rule (c) of the sweep judgement and the incumbent target of rule (b), on tables of curves
with known answers (:mod:`gapwatch.forecast.sweep`)."""

from __future__ import annotations

import numpy as np
import pytest

from gapwatch.errors import UsageError
from gapwatch.forecast.sweep import (
    SAME_STEP_PRIOR,
    SAME_STEP_WARMUP,
    Curve,
    SweepRule,
    cross_run_forecast,
    judge,
    same_step_evidence,
)

N = 30  # evaluations of a full trial
T = np.arange(N, dtype=float)


def _decay(start: float, end: float, tau: float) -> np.ndarray:
    """A noiseless learning curve from ``start`` down to ``end`` with time constant ``tau`` (evaluations)."""
    return end + (start - end) * np.exp(-T / tau)


#: five finished fast starters: down to 0.20-0.28 by evaluation ~10, then flat (little gain after step 2)
FAST = [_decay(1.0, 0.2 + 0.02 * i, 2.0) for i in range(5)]
#: a slow trial, far behind every fast one at step 2 (still at 2.0), whose plateau is 0.9
SLOW = _decay(2.3, 0.9, 12.0)
#: a slow starter even further behind than SLOW at step 2 that gains far more later and ends the best trial
BLOOMER = _decay(3.0, 0.1, 6.0)


def _c(y: np.ndarray, m: int = N, sign: float = 1.0) -> Curve:
    return Curve(T[:m], sign * y[:m])


#: rule (d) off: these tables test rule (c) alone (rule (d), on by default, would cut SLOW at its 3rd evaluation
#: first; tests/test_pruners_rung.py tests it)
NO_D = {"reduction_factor": None}


def test_evidence_counts_and_probability() -> None:
    """Five trials past step 2, none gained the 1.8 SLOW needs: P = (0 + 1/2) / (5 + 1)."""
    ev = same_step_evidence(_c(SLOW, 3), [_c(y) for y in FAST])
    assert ev is not None
    assert (ev.trials, ev.successes, ev.step) == (5, 0, 2.0)
    assert ev.p_beat == pytest.approx(SAME_STEP_PRIOR / (5 + 2 * SAME_STEP_PRIOR))
    assert ev.target == pytest.approx(min(y.min() for y in FAST))
    assert ev.needed_gain == pytest.approx(SLOW[:3].min() - ev.target)
    # a late bloomer among them gained enough: one success
    ev2 = same_step_evidence(_c(SLOW, 3), [*(_c(y) for y in FAST), _c(BLOOMER)])
    assert ev2 is not None and (ev2.trials, ev2.successes) == (6, 1)
    assert ev2.p_beat == pytest.approx((1 + SAME_STEP_PRIOR) / (6 + 2 * SAME_STEP_PRIOR))
    # trials that stopped at or before step 2 say nothing about the gain after it
    ev3 = same_step_evidence(_c(SLOW, 3), [_c(y, 3) for y in FAST])
    assert ev3 is not None and ev3.trials == 0 and ev3.p_beat == pytest.approx(0.5)
    assert same_step_evidence(_c(SLOW, 3), []) is None


@pytest.mark.parametrize("mode", ["min", "max"])
def test_far_behind_is_pruned_at_the_warmup_step(mode: str) -> None:
    """A trial clearly worse than the finished ones at the same step is pruned as soon as rule (c) may act."""
    sign = 1.0 if mode == "min" else -1.0
    others = [_c(y, sign=sign) for y in FAST]
    for m in range(1, SAME_STEP_WARMUP):
        assert not judge(_c(SLOW, m, sign), others, mode=mode, method="ensemble", **NO_D).stop
    v = judge(_c(SLOW, SAME_STEP_WARMUP, sign), others, mode=mode, method="ensemble", **NO_D)
    assert (v.stop, v.rule) == (True, "same-step"), v.reason
    assert v.same_step is not None and v.same_step.trials == 5 and v.same_step.successes == 0
    assert v.forecast is None  # decided before the (costlier) forecast
    assert v.best_value == pytest.approx(sign * SLOW[:SAME_STEP_WARMUP].min())


@pytest.mark.parametrize("mode", ["min", "max"])
def test_a_trial_that_could_still_win_is_not_pruned(mode: str) -> None:
    """With a late bloomer among the finished trials, a slow starter may still win: rule (c) keeps it."""
    sign = 1.0 if mode == "min" else -1.0
    others = [_c(y, sign=sign) for y in (*FAST, BLOOMER)]
    v = judge(_c(SLOW, SAME_STEP_WARMUP, sign), others, mode=mode, method="ensemble", **NO_D)
    assert not v.stop and v.same_step is not None and v.same_step.successes == 1
    # still improving faster at step 11 than the plateaued finished trials did: they are not its analogs
    late = judge(_c(BLOOMER, 12, sign), [_c(y, sign=sign) for y in FAST], mode=mode, method="ensemble", **NO_D)
    assert late.rule != "same-step" and late.same_step is not None and late.same_step.trials == 0
    # the leader is not pruned by rule (c): any later gain of a comparable trial would set a new best
    leader = _decay(0.9, 0.15, 2.0)  # below every finished trial, and no steeper than them at step 19
    lead = judge(_c(leader, 20, sign), [_c(y, sign=sign) for y in FAST], mode=mode, method="ensemble", **NO_D)
    assert lead.rule != "same-step" and lead.same_step is not None and lead.same_step.successes >= 1


def test_rule_c_needs_evidence_and_can_be_turned_off() -> None:
    """Four trials past the step are not enough at confidence 0.9 (P = 0.5/5 = 0.1); the switches work."""
    slow = _c(SLOW, SAME_STEP_WARMUP)
    assert not judge(slow, [_c(y) for y in FAST[:4]], method="ensemble", **NO_D).stop
    assert not judge(slow, [_c(y) for y in FAST], same_step=False, method="ensemble", **NO_D).stop
    assert not judge(slow, [_c(y) for y in FAST], use_forecast=False).stop
    assert judge(slow, [_c(y) for y in FAST], confidence=0.8, method="ensemble", **NO_D).rule == "same-step"
    # a later warm-up moves the decision
    assert not judge(slow, [_c(y) for y in FAST], same_step_warmup=4, method="ensemble", **NO_D).stop


def test_incumbent_target_for_the_leader() -> None:
    """Rule (b) asks the trial that holds the best whether it will set a new best (its own best is the bar)."""
    me = _c(FAST[0], 12)  # flat at 0.2 since ~evaluation 10: the best of the sweep
    others = [_c(y) for y in FAST[1:]]
    plain = cross_run_forecast(me, others, horizon=N - 1, method="ensemble")
    inc = cross_run_forecast(me, others, horizon=N - 1, method="ensemble", incumbent=True)
    assert plain.p_beat == 1.0 and plain.target == pytest.approx(FAST[1].min())
    assert inc.target == pytest.approx(FAST[0][:12].min()) and inc.p_beat < 1.0
    done = cross_run_forecast(me, others, horizon=11, method="ensemble", incumbent=True)
    assert done.method == "observed" and done.p_beat == 0.0  # the budget is reached: no new best can come


def test_bad_arguments() -> None:
    with pytest.raises(UsageError, match="same_step_warmup"):
        judge(_c(SLOW, 5), [], same_step_warmup=0)
    with pytest.raises(UsageError, match="mode"):
        same_step_evidence(_c(SLOW, 5), [], mode="down")
    with pytest.raises(UsageError, match="window"):
        same_step_evidence(_c(SLOW, 5), [_c(FAST[0])], window=0)
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(UsageError, match="Owner: same_step_warmup"):
            SweepRule("Owner", same_step_warmup=bad)  # type: ignore[arg-type]
    assert SweepRule("Owner", same_step_warmup=None).same_step_warmup is None


def test_adapters_take_same_step_warmup() -> None:
    optuna = pytest.importorskip("optuna")
    from gapwatch.integrations.optuna import GapwatchPruner

    with pytest.raises(UsageError, match="GapwatchPruner: same_step_warmup"):
        GapwatchPruner(same_step_warmup=0)
    assert GapwatchPruner(same_step_warmup=None).rule.same_step_warmup is None
    # in a study: the slow trial after five fast ones is pruned by rule (c) at evaluation SAME_STEP_WARMUP
    curves = [*FAST, SLOW]
    pruner = GapwatchPruner(method="ensemble", reduction_factor=None)
    study = optuna.create_study(pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rules: list[str] = []

    def objective(trial: optuna.Trial) -> float:
        y = curves[trial.number]
        for i, v in enumerate(y):
            trial.report(float(v), i)
            if trial.should_prune():
                assert pruner.last_verdict is not None
                rules.append(pruner.last_verdict.rule)
                raise optuna.TrialPruned()
        return float(y.min())

    study.optimize(objective, n_trials=len(curves))
    assert len(study.trials[-1].intermediate_values) == SAME_STEP_WARMUP and rules[-1] == "same-step"
