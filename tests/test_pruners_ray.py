"""GapwatchStopper on a real local Ray cluster (``ray.init(num_cpus=2)``), and its decisions without Tune."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gapwatch.errors import UsageError

ray = pytest.importorskip("ray")
pytest.importorskip("ray.tune")
sys.path.insert(0, str(Path(__file__).parent))
from test_pruners import C, N  # noqa: E402

from gapwatch.integrations.ray import GapwatchStopper  # noqa: E402


def _feed(stopper: GapwatchStopper, tid: str, curve: np.ndarray, sign: float = 1.0) -> int:
    """Report ``curve`` as Tune results until the stopper says stop; returns the results reported."""
    for i, v in enumerate(curve):
        if stopper(tid, {"val": sign * float(v), "training_iteration": i + 1}):
            return i + 1
    return len(curve)


@pytest.mark.parametrize("mode", ["min", "max"])
def test_stopper_decisions_and_state(mode: str) -> None:
    sign = 1.0 if mode == "min" else -1.0
    s = GapwatchStopper("val", mode, max_t=N, method="ensemble")
    assert _feed(s, "good", C["good"], sign) == N
    n_over = _feed(s, "overfit", C["overfit"], sign)
    assert n_over < 30 and s.verdicts["overfit"].stop  # by the forecast here: the good trial is already done
    state = s.state_dict()
    n_plat = _feed(s, "plateau", C["plateau"], sign)
    # far behind the good trial after 3 evaluations: the rung rule (d), on by default, cuts it there
    assert n_plat == 3 and s.verdicts["plateau"].rule == "rung"
    assert s.best_checkpoint()[0] == "good"
    # without rule (d) the forecast stops it a few evaluations later
    s_off = GapwatchStopper("val", mode, max_t=N, method="ensemble", reduction_factor=None)
    s_off.load_state_dict(state)
    assert _feed(s_off, "plateau", C["plateau"], sign) <= 12 and s_off.verdicts["plateau"].rule == "forecast"
    # a stopper restored from the state makes the same decision on the same results
    s2 = GapwatchStopper("val", mode, max_t=N, method="ensemble")
    s2.load_state_dict(state)
    assert _feed(s2, "plateau", C["plateau"], sign) == n_plat
    assert not s.stop_all()


def test_stopper_bad_input() -> None:
    for args, kw, word in [(("",), {}, "metric"), (("val", "up"), {}, "mode"),
                           (("val",), {"max_t": -1}, "max_t"), (("val",), {"confidence": 0}, "confidence"),
                           (("val",), {"n_warmup_steps": 1}, "warmup"),
                           (("val",), {"policy_params": {"z_stop": -1}}, "z_stop")]:
        with pytest.raises(UsageError, match=word):
            GapwatchStopper(*args, **kw)
    s = GapwatchStopper("val")
    with pytest.raises(UsageError, match="without 'val'"):
        s("t0", {"loss": 1.0, "training_iteration": 1})
    with pytest.raises(UsageError, match="version"):
        s.load_state_dict({"version": 99})
    with pytest.raises(UsageError, match="no trial"):
        s.best_checkpoint()


def _replay(config: dict) -> None:  # type: ignore[type-arg]
    from ray import tune
    from test_pruners import C as curves

    for v in curves[config["kind"]]:
        tune.report({"val": float(v)})


@pytest.mark.slow
def test_ray_tune_local_cluster(tmp_path: Path) -> None:
    from ray import tune

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).parent)}})
    try:
        stopper = GapwatchStopper("val", "min", max_t=N, method="ensemble")
        tuner = tune.Tuner(
            _replay,
            param_space={"kind": tune.grid_search(["good", "overfit", "plateau"])},
            tune_config=tune.TuneConfig(max_concurrent_trials=1),
            run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), verbose=0),
        )
        grid = tuner.fit()
    finally:
        ray.shutdown()
    lengths = {r.config["kind"]: len(r.metrics_dataframe) for r in grid}
    assert not grid.errors
    assert lengths["good"] == N
    assert lengths["overfit"] < 30
    assert lengths["plateau"] <= 13
    tid, _, value = stopper.best_checkpoint()
    assert value == pytest.approx(C["good"].min())
