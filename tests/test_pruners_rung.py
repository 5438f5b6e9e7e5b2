"""The rung rule (d) of the sweep judgement (ASHA's promotion test on the best so far, with a noise margin; on by
default) and the leader's recalibrated P(new best) of rule (b), on tables of curves with known answers
(:mod:`gapwatch.forecast.sweep`)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from gapwatch.errors import UsageError
from gapwatch.forecast.core import forecast_curve
from gapwatch.forecast.sweep import (
    FIRST_RUNG,
    REDUCTION_FACTOR,
    RUNG_MARGIN,
    Curve,
    SweepRule,
    cross_run_forecast,
    is_rung,
    judge,
    rung_evidence,
)
from gapwatch.stats import noise_sigma

sys.path.insert(0, str(Path(__file__).parent))
from test_pruners import C as PRUNER_CURVES  # noqa: E402
from test_pruners import N as PRUNER_N  # noqa: E402
from test_pruners_same_step import FAST, SLOW, N, _c, _decay  # noqa: E402

# the same-step tables' trials (N evaluations on T): FAST, five finished fast starters, best so far after 3
# evaluations 0.49-0.57 (0.2 + 0.02 i + (0.8 - 0.02 i) / e); SLOW, behind all of them after 3 evaluations (2.09)
# and improving more slowly over those evaluations (0.21 vs 0.48-0.51): the five fast trials are its comparable
# trials
#: ahead of all five after 3 evaluations (0.43) while gaining less over them (0.47): in the top third
AHEAD = _decay(0.9, 0.15, 2.0)


@pytest.mark.parametrize(("k", "eta", "first", "answer"), [
    (3, 3, 3, True), (9, 3, 3, True), (27, 3, 3, True), (81, 3, 3, True), (6, 3, 3, False), (18, 3, 3, False),
    (2, 3, 3, False), (1, 3, 3, False), (12, 4, 3, True), (48, 4, 3, True), (24, 4, 3, False),
    (1, 2, 1, True), (8, 2, 1, True), (6, 2, 1, False),
])
def test_rungs(k: int, eta: int, first: int, answer: bool) -> None:
    assert is_rung(k, eta, first) is answer


@pytest.mark.parametrize("mode", ["min", "max"])
def test_behind_at_the_first_rung_is_pruned(mode: str) -> None:
    """SLOW's best after 3 evaluations is worse than the 1/3 quantile of the five fast trials': rule (d) stops it
    there (before rule (c), which needs five analogs without success, and the forecast)."""
    sign = 1.0 if mode == "min" else -1.0
    others = [_c(y, sign=sign) for y in FAST]
    ev = rung_evidence(_c(SLOW, 3, sign), others, mode=mode, reduction_factor=3)
    assert ev is not None and ev.behind and (ev.evaluations, ev.trials, ev.reduction_factor) == (3, 5, 3)
    assert ev.best == pytest.approx(sign * SLOW[:3].min())
    assert ev.cutoff == pytest.approx(sign * np.percentile([y[:3].min() for y in FAST], 100 / 3))
    for m in (1, 2):
        assert not judge(_c(SLOW, m, sign), others, mode=mode, method="ensemble", reduction_factor=3).stop
    v = judge(_c(SLOW, 3, sign), others, mode=mode, method="ensemble", reduction_factor=3)
    assert (v.stop, v.rule) == (True, "rung"), v.reason
    assert v.rung == ev and v.forecast is None and v.same_step is None
    assert v.best_value == pytest.approx(sign * SLOW[:3].min())
    # with only one other trial the bar is that trial's best (ASHA's cutoff from its first recorded trial)
    assert judge(_c(SLOW, 3, sign), others[:1], mode=mode, method="ensemble", reduction_factor=3).rule == "rung"


@pytest.mark.parametrize("mode", ["min", "max"])
def test_top_trials_and_off_rung_evaluations_are_kept(mode: str) -> None:
    sign = 1.0 if mode == "min" else -1.0
    others = [_c(y, sign=sign) for y in FAST]
    ev = rung_evidence(_c(AHEAD, 3, sign), others, mode=mode, reduction_factor=3)
    assert ev is not None and not ev.behind
    assert not judge(_c(AHEAD, 3, sign), others, mode=mode, method="ensemble", reduction_factor=3).stop
    # 4 and 6 evaluations are not rungs (3, 9, 27): no rung test
    for m in (4, 6):
        assert rung_evidence(_c(SLOW, m, sign), others, mode=mode, reduction_factor=3) is None
    # a trial at 9 evaluations still improving faster than every other trial was over the same evaluations is
    # not judged by them (no comparable trial): a late bloomer at a later rung
    bloomer = _decay(3.0, 0.05, 6.0)
    assert rung_evidence(_c(bloomer, 9, sign), others, mode=mode, reduction_factor=3) is None
    # other trials that have not reached the rung do not count
    assert rung_evidence(_c(SLOW, 3, sign), [_c(y, 2, sign) for y in FAST], mode=mode, reduction_factor=3) is None


def test_rule_d_is_on_by_default_and_gated_like_the_other_cross_run_rules() -> None:
    others = [_c(y) for y in FAST[:4]]  # four: rule (c) cannot act yet
    slow = _c(SLOW, FIRST_RUNG)
    assert (REDUCTION_FACTOR, FIRST_RUNG, RUNG_MARGIN) == (3, 3, 2.0)
    v = judge(slow, others, method="ensemble")
    assert v.stop and v.rule == "rung" and v.rung is not None and v.rung.reduction_factor == REDUCTION_FACTOR
    off = judge(slow, others, method="ensemble", reduction_factor=None)
    assert not off.stop and off.rung is None
    assert judge(slow, others, method="ensemble", reduction_factor=3, use_forecast=False).rung is None
    on = SweepRule("Owner", method="ensemble", reduction_factor=3)
    assert not on.judge(slow, others, mode="min", horizon=None, finished=0).stop  # n_startup_trials=1
    assert on.judge(slow, others, mode="min", horizon=None, finished=4).rule == "rung"
    # a later first rung moves the decision
    assert judge(slow, others, method="ensemble", reduction_factor=3, first_rung=4).rung is None


def test_the_late_bloomer_trade_off() -> None:
    """The known-answer study of test_pruners (good, overfit, plateau, then the late bloomer "close", which ends
    the best): without rule (d) the late bloomer completes; with it, it is pruned after 3 evaluations, behind the
    trials before it by far more than their noise — what ASHA does to a slow starter (``reduction_factor=None``
    turns rule (d) off for sweeps of late bloomers)."""
    others = [Curve(np.arange(PRUNER_N, dtype=float), PRUNER_CURVES[k]) for k in ("good", "overfit", "plateau")]
    close = Curve(np.arange(3, dtype=float), PRUNER_CURVES["close"][:3])
    assert not judge(close, others, method="ensemble", reduction_factor=None).stop
    v = judge(close, others, method="ensemble")
    assert v.rule == "rung" and v.rung is not None and v.rung.trials == 3
    assert v.rung.best - v.rung.cutoff > 10 * v.rung.margin > 0
    assert PRUNER_CURVES["close"].min() < min(float(o.values.min()) for o in others)


def test_the_leaders_single_run_part_is_the_recalibrated_probability() -> None:
    """For the trial that holds the sweep's best, with no analog (no other trial went further), rule (b)'s
    P(new best) is 1 - the forecast's recalibrated P(best behind) for the same budget."""
    y = PRUNER_CURVES["overfit"]
    me = Curve(np.arange(20, dtype=float), y[:20])
    worse = Curve(np.arange(20, dtype=float), y[:20] + 0.5)
    fc = cross_run_forecast(me, [worse], horizon=PRUNER_N - 1, method="ensemble", incumbent=True, seed=3)
    x_full = np.arange(PRUNER_N, dtype=float)
    y_full = np.concatenate([y[:20], np.full(PRUNER_N - 20, np.nan)])
    single = forecast_curve(x_full, y_full, observed=20, horizon=PRUNER_N, method="ensemble", seed=3,
                            n_samples=256)
    assert fc.analogs == 0 and fc.target == pytest.approx(y[:20].min())
    assert fc.p_beat == pytest.approx(1.0 - single.p_best_behind)
    # not the leader: the share of sample paths that beat the other trial's best (here: all of them)
    behind = cross_run_forecast(worse, [me], horizon=PRUNER_N - 1, method="ensemble", incumbent=True, seed=3)
    assert behind.target == pytest.approx(y[:20].min())


def test_bad_arguments() -> None:
    for bad in (1, 0, 2.5, True, "3"):
        with pytest.raises(UsageError, match="reduction_factor"):
            judge(_c(SLOW, 3), [], reduction_factor=bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="Owner: reduction_factor"):
            SweepRule("Owner", reduction_factor=bad)  # type: ignore[arg-type]
    for bad in (0, -3, 1.5, None):
        with pytest.raises(UsageError, match="first_rung"):
            judge(_c(SLOW, 3), [], reduction_factor=3, first_rung=bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="Owner: first_rung"):
            SweepRule("Owner", reduction_factor=3, first_rung=bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="mode"):
        rung_evidence(_c(SLOW, 3), [], mode="down")
    with pytest.raises(UsageError, match="window"):
        rung_evidence(_c(SLOW, 3), [], window=0)
    for bad in (-0.5, math.nan, math.inf, True, "2", None):
        with pytest.raises(UsageError, match="rung_margin"):
            judge(_c(SLOW, 3), [], rung_margin=bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="Owner: rung_margin"):
            SweepRule("Owner", rung_margin=bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="margin"):
            rung_evidence(_c(SLOW, 3), [], margin=bad)  # type: ignore[arg-type]
    assert SweepRule("Owner").reduction_factor == REDUCTION_FACTOR
    assert SweepRule("Owner", reduction_factor=None).reduction_factor is None


def test_adapters_take_the_rung_rule() -> None:
    optuna = pytest.importorskip("optuna")
    from gapwatch.integrations.optuna import GapwatchPruner

    with pytest.raises(UsageError, match="GapwatchPruner: reduction_factor"):
        GapwatchPruner(reduction_factor=1)
    with pytest.raises(UsageError, match="GapwatchPruner: first_rung"):
        GapwatchPruner(reduction_factor=3, first_rung=0)
    with pytest.raises(UsageError, match="GapwatchPruner: rung_margin"):
        GapwatchPruner(rung_margin=-1)
    assert GapwatchPruner(rung_margin=0).rule.rung_margin == 0.0
    # in a study: the slow trial after two fast ones is pruned by rule (d) after 3 evaluations (rule (c) would
    # need five analogs), in both directions
    for direction, sign in (("minimize", 1.0), ("maximize", -1.0)):
        curves = [FAST[0], FAST[1], SLOW]
        study = optuna.create_study(direction=direction, sampler=optuna.samplers.RandomSampler(seed=0),
                                    pruner=GapwatchPruner(method="ensemble", reduction_factor=3))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        rules: list[str] = []

        def objective(trial: optuna.Trial, curves: list[np.ndarray] = curves, sign: float = sign,
                      rules: list[str] = rules, study: optuna.Study = study) -> float:
            y = sign * curves[trial.number]
            for i, v in enumerate(y):
                trial.report(float(v), i)
                if trial.should_prune():
                    verdict = study.pruner.last_verdict  # type: ignore[attr-defined]
                    rules.append(verdict.rule)
                    raise optuna.TrialPruned()
            return float(y.min() if sign > 0 else y.max())

        study.optimize(objective, n_trials=3)
        assert [len(t.intermediate_values) for t in study.trials][2] == 3
        assert rules[-1] == "rung"


def test_ray_stopper_takes_the_rung_rule() -> None:
    pytest.importorskip("ray.tune")
    from gapwatch.integrations.ray import GapwatchStopper

    with pytest.raises(UsageError, match="GapwatchStopper: reduction_factor"):
        GapwatchStopper("val", reduction_factor=1)
    with pytest.raises(UsageError, match="GapwatchStopper: rung_margin"):
        GapwatchStopper("val", rung_margin=float("nan"))
    assert GapwatchStopper("val").rule.reduction_factor == REDUCTION_FACTOR
    s = GapwatchStopper("val", "min", max_t=N, method="ensemble", reduction_factor=3)
    for tid, y in (("a", FAST[0]), ("b", FAST[1])):
        for i, v in enumerate(y):
            if s(tid, {"val": float(v), "training_iteration": i + 1}):
                break
    for i, v in enumerate(SLOW):
        if s("slow", {"val": float(v), "training_iteration": i + 1}):
            break
    assert i + 1 == 3 and s.verdicts["slow"].rule == "rung"


# the noise margin of rule (d): five finished trials like FAST with seeded evaluation noise (sd 0.03)
_RNG = np.random.default_rng(7)
NOISY = [y + _RNG.normal(0.0, 0.03, size=y.size) for y in FAST]


def _sweep_sigma(curves: list[np.ndarray]) -> float:
    """The margin's noise: the median noise_sigma of the comparable trials' whole curves (>= 4 evaluations)."""
    return float(np.median([noise_sigma(y) for y in curves]))


def _behind_by(gap: float) -> np.ndarray:
    """Three evaluations whose best is ``gap`` worse than the 1/3 quantile of NOISY's best after 3 (the cutoff),
    gaining less over them than every NOISY trial (so all five are its comparable trials)."""
    cutoff = float(np.percentile([y[:3].min() for y in NOISY], 100 / 3))
    return np.array([cutoff + gap + 0.4, cutoff + gap + 0.2, cutoff + gap])


@pytest.mark.parametrize("mode", ["min", "max"])
def test_a_noise_sized_gap_at_a_rung_is_not_a_cut(mode: str) -> None:
    """The Fashion-MNIST failure of ASHA's plain comparison: the eventual best trial is briefly behind another
    at its 3rd evaluation by a gap of the size of the evaluation noise. With the margin (2 standard errors
    sigma*sqrt(2) of a best-so-far difference) a trial 1 sigma behind is kept and one 4 standard errors behind is
    cut; ``rung_margin=0`` (ASHA's comparison) cuts both."""
    sign = 1.0 if mode == "min" else -1.0
    others = [Curve(np.arange(y.size, dtype=float), sign * y) for y in NOISY]
    sigma = _sweep_sigma(NOISY)
    assert 0.015 < sigma < 0.06  # the seeded noise's sd is 0.03
    near = Curve(np.arange(3, dtype=float), sign * _behind_by(sigma))
    ev = rung_evidence(near, others, mode=mode)
    assert ev is not None and not ev.behind and ev.trials == 5
    assert ev.noise == pytest.approx(sigma) and ev.margin == pytest.approx(RUNG_MARGIN * sigma * math.sqrt(2))
    assert sign * (ev.best - ev.cutoff) == pytest.approx(sigma)
    d = ev.to_dict()
    assert d["noise"] == pytest.approx(sigma) and d["margin"] == pytest.approx(ev.margin) and d["behind"] is False
    plain = rung_evidence(near, others, mode=mode, margin=0.0)
    assert plain is not None and plain.behind and plain.margin == 0.0
    assert judge(near, others, mode=mode, method="ensemble").rule != "rung"
    assert judge(near, others, mode=mode, method="ensemble", rung_margin=0.0).rule == "rung"
    far = Curve(np.arange(3, dtype=float), sign * _behind_by(4 * sigma * math.sqrt(2)))
    v = judge(far, others, mode=mode, method="ensemble")
    assert v.rule == "rung" and v.rung is not None and v.rung.behind
    assert f"noise margin {v.rung.margin:.3g}" in v.reason


def test_the_margin_needs_curves_of_four_evaluations() -> None:
    """Comparable trials (and the trial) with three evaluations give no noise estimate: the margin is 0 there
    (ASHA's plain comparison); the trial's own curve counts from four evaluations on, at a later rung."""
    near = Curve(np.arange(3, dtype=float), _behind_by(0.01))
    short = [Curve(np.arange(3, dtype=float), y[:3]) for y in NOISY]
    ev = rung_evidence(near, short)
    assert ev is not None and ev.noise == 0.0 and ev.margin == 0.0 and ev.behind
    # at the second rung (9 evaluations) the trial's own noise joins the comparable trials'
    me = NOISY[4] + 0.3
    others = [Curve(np.arange(y.size, dtype=float), y) for y in NOISY[:4]]
    ev9 = rung_evidence(Curve(np.arange(9, dtype=float), me[:9]), others)
    assert ev9 is not None and ev9.evaluations == 9
    assert ev9.noise == pytest.approx(float(np.median([noise_sigma(me[:9])] + [noise_sigma(y) for y in NOISY[:4]])))
