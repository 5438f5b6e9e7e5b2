"""GapwatchPruner (Optuna) and the framework-free sweep judgement it shares with the Ray Tune stopper."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gapwatch.errors import UsageError
from gapwatch.forecast.sweep import Curve, cross_run_forecast, judge

optuna = pytest.importorskip("optuna")
from gapwatch.integrations.optuna import GapwatchPruner, best_checkpoint  # noqa: E402

N = 40  # evaluations of a full trial


def _curves() -> dict[str, np.ndarray]:
    """Validation-loss curves with known answers (40 evaluations, seeded noise of sd 0.004)."""
    t = np.arange(N, dtype=float)
    rng = np.random.default_rng(0)
    noise = rng.normal(0.0, 0.004, size=(4, N))
    return {
        # still improving at the end: the best trial, never pruned
        "good": 0.2 + 1.8 * (1.0 + t) ** -0.9 + noise[0],
        # best at evaluation 8, then a steady significant rise: overfit past recovery
        "overfit": 0.35 + 1.6 * (1.0 + t) ** -1.2 + 0.03 * np.maximum(t - 8.0, 0.0) + noise[1],
        # converges fast to a plateau far above the best trial: cannot beat it
        "plateau": 1.0 + 1.0 * np.exp(-t / 2.0) + noise[2],
        # behind the good one early, still improving fast and ends below it: must not be pruned
        "close": 0.1 + 1.9 * np.exp(-t / 8.0) + noise[3],
    }


C = _curves()
STEPS = np.arange(N, dtype=float)


def _cut(name: str, m: int, sign: float = 1.0) -> Curve:
    return Curve(STEPS[:m], sign * C[name][:m])


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize(("name", "m", "stop", "rule"), [
    ("overfit", 30, True, "policy"),
    ("plateau", 12, True, "forecast"),
    ("close", 12, False, ""),
    ("good", 20, False, ""),
])
def test_judge_table(mode: str, name: str, m: int, stop: bool, rule: str) -> None:
    sign = 1.0 if mode == "min" else -1.0
    others = [Curve(STEPS, sign * C["good"])] if name != "good" else [Curve(STEPS, sign * C["plateau"])]
    v = judge(_cut(name, m, sign), others, mode=mode, method="ensemble")
    assert (v.stop, v.rule) == (stop, rule), v.reason
    b = int(np.argmin(C[name][:m]))
    assert v.best_step == b and v.best_value == pytest.approx(sign * C[name][b])


def test_judge_needs_others_and_warmup() -> None:
    assert not judge(_cut("plateau", 12), [], method="ensemble").stop  # nobody to compare with
    assert not judge(_cut("plateau", 4), [Curve(STEPS, C["good"])], method="ensemble").stop  # too early
    v = judge(_cut("plateau", 12), [Curve(STEPS, C["good"])], use_forecast=False)
    assert not v.stop and v.forecast is None


def test_cross_run_forecast_uses_analogs() -> None:
    """Analogs that improve a lot after the cut raise P(beat) over a sweep whose analogs stall."""
    me = _cut("close", 10)
    target = Curve(STEPS, C["good"])
    improving = [Curve(STEPS, C["close"] + d) for d in (0.3, 0.31, 0.32)]
    stalling = [Curve(STEPS, np.minimum.accumulate(np.where(STEPS < 10, C["close"], C["close"][9])) + d)
                for d in (0.3, 0.31, 0.32)]
    up = cross_run_forecast(me, [target, *improving], horizon=N - 1, method="ensemble")
    down = cross_run_forecast(me, [target, *stalling], horizon=N - 1, method="ensemble")
    assert up.analogs == down.analogs == 4 and up.analog_weight > 0.5
    assert up.expected_best < down.expected_best
    assert up.p_beat > down.p_beat
    assert 0.0 <= down.p_beat <= 1.0 and up.target == pytest.approx(C["good"].min())


def test_cross_run_forecast_bad_input() -> None:
    with pytest.raises(UsageError, match="at least 5"):
        cross_run_forecast(_cut("good", 3), [], horizon=30)
    with pytest.raises(UsageError, match="mode"):
        cross_run_forecast(_cut("good", 10), [], horizon=30, mode="up")
    with pytest.raises(UsageError, match="horizon"):
        cross_run_forecast(_cut("good", 10), [], horizon=float("nan"))


def _objective(order: list[str], sign: float):  # type: ignore[no-untyped-def]
    def objective(trial: optuna.Trial) -> float:
        curve = sign * C[order[trial.number % len(order)]]
        for i, v in enumerate(curve):
            trial.report(float(v), i)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(curve.min() if sign > 0 else curve.max())
    return objective


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_study_prunes_the_known_trials(direction: str) -> None:
    """Rules (a), (c), (b) without the rung rule (d): the late bloomer completes and wins."""
    sign = 1.0 if direction == "minimize" else -1.0
    order = ["good", "overfit", "plateau", "close"]
    study = optuna.create_study(direction=direction, pruner=GapwatchPruner(method="ensemble", reduction_factor=None),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(_objective(order, sign), n_trials=4)
    states = [t.state for t in study.trials]
    P, C_ = optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE
    assert states == [C_, P, P, C_]
    steps = [len(t.intermediate_values) for t in study.trials]
    assert steps[0] == N and steps[3] == N and steps[1] < 30 and steps[2] <= 12
    trial, step, value = best_checkpoint(study)
    assert trial.number == 3 and value == pytest.approx(sign * C["close"].min())  # the late bloomer wins
    # the pruned overfitting trial's best-so-far is still a candidate: its best checkpoint is in the study
    t1 = study.trials[1]
    assert min(sign * v for v in t1.intermediate_values.values()) == pytest.approx(C["overfit"][:N].min())


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_default_study_cuts_the_late_bloomer_at_the_first_rung(direction: str) -> None:
    """With the defaults (rule (d) on, η = 3, first rung 3, noise margin 2) the late bloomer "close", behind the
    trials before it after 3 evaluations by far more than their noise (sd 0.004), is pruned there — ASHA's
    trade-off; the pick is then the best trial that ran on ("good")."""
    sign = 1.0 if direction == "minimize" else -1.0
    pruner = GapwatchPruner(method="ensemble")
    assert (pruner.rule.reduction_factor, pruner.rule.first_rung, pruner.rule.rung_margin) == (3, 3, 2.0)
    study = optuna.create_study(direction=direction, pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(_objective(["good", "overfit", "plateau", "close"], sign), n_trials=4)
    close = study.trials[3]
    assert close.state == optuna.trial.TrialState.PRUNED and len(close.intermediate_values) == 3
    assert pruner.last_verdict is not None and pruner.last_verdict.rule == "rung"
    assert best_checkpoint(study)[0].number == 0


def test_pruner_arguments_and_multiobjective() -> None:
    for kw, word in [({"confidence": 1.5}, "confidence"), ({"confidence": True}, "confidence"),
                     ({"n_warmup_steps": 2}, "n_warmup_steps"),
                     ({"n_startup_trials": -1}, "n_startup_trials"),
                     ({"max_resource": 0}, "max_resource"), ({"method": "magic"}, "method"),
                     ({"policy_params": {"max_wait": 0}}, "max_wait"),
                     ({"policy_params": {"nope": 1}}, "nope")]:
        with pytest.raises(UsageError, match=word):
            GapwatchPruner(**kw)
    study = optuna.create_study(directions=["minimize", "minimize"], pruner=GapwatchPruner())
    trial = study.ask()
    with pytest.raises(UsageError, match="single-objective"):
        GapwatchPruner().verdict(study, study.trials[trial.number])
    with pytest.raises(UsageError, match="no reported"):
        best_checkpoint(optuna.create_study())


_WORKER = textwrap.dedent("""
    import sys, time, numpy as np, optuna
    sys.path.insert(0, {tests!r})
    from test_pruners import C
    from gapwatch.integrations.optuna import GapwatchPruner
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    kind, n_trials, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    study = optuna.load_study(study_name="s", storage={url!r},
                              pruner=GapwatchPruner(method="ensemble", reduction_factor=None))
    def objective(trial):
        curve = C[kind]
        for i, v in enumerate(curve):
            trial.report(float(v), i)
            time.sleep(delay)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(curve.min())
    study.optimize(objective, n_trials=n_trials)
""")


@pytest.mark.slow
def test_two_process_sqlite_study(tmp_path: Path) -> None:
    """Two worker processes share one SQLite study: each prunes against the other's trials (rule (d) off in the
    workers: the known answers are those of rules (a) and (b))."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="s", storage=url, direction="minimize")
    code = _WORKER.format(tests=str(Path(__file__).parent), url=url)
    # both workers run at once: one trains good trials, the other overfitting ones (pruned by the policy)
    procs = [subprocess.Popen([sys.executable, "-c", code, kind, "2", "0.002"], stderr=subprocess.PIPE,
                              text=True) for kind in ("good", "overfit")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    # then a third process whose plateaued trial can only be judged against the trials the others stored
    p = subprocess.run([sys.executable, "-c", code, "plateau", "1", "0"], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    study = optuna.load_study(study_name="s", storage=url)
    by_state = {s: [t for t in study.trials if t.state == s] for s in optuna.trial.TrialState}
    assert len(study.trials) == 5
    assert len(by_state[optuna.trial.TrialState.COMPLETE]) == 2
    pruned = by_state[optuna.trial.TrialState.PRUNED]
    assert len(pruned) == 3
    plateau = [t for t in pruned if len(t.intermediate_values) < 14 and
               min(t.intermediate_values.values()) > 0.9]
    assert len(plateau) == 1  # pruned by the forecast against the good trials of another process
    assert best_checkpoint(study)[2] == pytest.approx(C["good"].min())
