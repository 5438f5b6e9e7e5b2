"""``gapwatch forecast`` on a sweep directory: every run forecast, per-run errors, cross-run entries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gapwatch.cli import main as cli_main
from gapwatch.forecast import forecast
from gapwatch.forecast.core import PLANNED_MAX_FACTOR
from gapwatch.forecast.sweep import forecast_sweep
from gapwatch.history import History
from gapwatch.readers import load
from gapwatch.testing.samples import flatten

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "src" / "gapwatch" / "schemas" / "forecast.schema.json"


def _write(path: Path, vals: np.ndarray) -> None:
    path.write_text("".join(json.dumps({"epoch": i + 1, "val_loss": float(v), "train_loss": 0.5 * float(v)})
                            + "\n" for i, v in enumerate(vals)))


def _sweep(tmp_path: Path) -> Path:
    t = np.arange(40, dtype=float)
    rng = np.random.default_rng(1)
    d = tmp_path / "sweep"
    d.mkdir()
    _write(d / "good.jsonl", 0.2 + 1.8 * (1 + t) ** -0.9 + rng.normal(0, 0.003, 40))
    _write(d / "plateau.jsonl", 1.0 + np.exp(-t / 2) + rng.normal(0, 0.003, 40))
    _write(d / "late.jsonl", 0.1 + 1.9 * np.exp(-t / 8) + rng.normal(0, 0.003, 40))
    _write(d / "short.jsonl", np.array([1.0, 0.9]))
    return d


def test_sweep_json_has_per_run_errors_and_cross_run_entries(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    d = _sweep(tmp_path)
    assert cli_main(["forecast", str(d), "--observed", "12", "--horizon", "40", "--method", "ensemble",
                     "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    runs = {r["name"]: r for r in doc["runs"]}
    assert set(runs) == {"good", "plateau", "late", "short"}
    assert "at least 3" in runs["short"]["error"] or "only 2" in runs["short"]["error"]
    assert runs["short"]["quantiles"]["0.5"] == [] and runs["short"]["p_best_behind"] is None
    for name in ("good", "plateau", "late"):
        assert "error" not in runs[name] and len(runs[name]["x"]) == 28
        assert 0.0 <= runs[name]["sweep"]["p_beat"] <= 1.0 and runs[name]["sweep"]["analogs"] >= 1
    # the plateau is far above the others' best: it cannot beat them; the late bloomer can
    assert runs["plateau"]["sweep"]["p_beat"] < 0.1
    assert runs["late"]["sweep"]["p_beat"] > runs["plateau"]["sweep"]["p_beat"]
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))


def test_sweep_terminal_output_names_the_failed_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _sweep(tmp_path)
    assert cli_main(["forecast", str(d), "--observed", "12", "--method", "ensemble"]) == 0
    out = capsys.readouterr().out
    assert "short: no forecast" in out and "sweep: P(beats" in out


def test_single_run_error_is_the_commands_error(tmp_path: Path) -> None:
    d = _sweep(tmp_path)
    assert cli_main(["forecast", str(d / "short.jsonl")]) == 1
    assert cli_main(["forecast", str(d / "good.jsonl"), "--method", "magic"]) == 2
    res = forecast_sweep(load(d / "good.jsonl"), observed=10, method="ensemble")
    assert len(res.runs) == 1 and res.runs[0].cross is None and res.runs[0].forecast.observed == 10


def _hf_run(max_steps: object, n: int = 20) -> History:
    t = np.arange(1, n + 1, dtype=float)
    recs = [{"step": int(10 * s), "eval_loss": float(0.3 + 1.0 / s)} for s in t]
    return History.from_records(recs, run="hf").with_meta("hf", hf={"max_steps": max_steps})


def test_planned_budget_sets_the_default_horizon() -> None:
    fc = forecast(_hf_run(300), method="ensemble")  # logged to step 200, evaluations every 10 steps
    assert fc.x[-1] == 300 and fc.x.size == 10
    assert any("max_steps=300" in n for n in fc.notes)
    far = forecast(_hf_run(10**6), method="ensemble")  # capped at PLANNED_MAX_FACTOR x the logged evaluations
    assert far.x.size == int(PLANNED_MAX_FACTOR * 20) and any("capped" in n for n in far.notes)
    for plan in (150, "soon", None):  # already reached, or not a number: the usual default horizon
        fc = forecast(_hf_run(plan), method="ensemble")
        assert fc.x.size == 10 and fc.x[-1] == 300 and not any("planned" in n for n in fc.notes)
    # an explicit horizon or a back-test (observed) ignores the plan
    assert forecast(_hf_run(300), horizon=25, method="ensemble").x.size == 5
    assert forecast(_hf_run(300), observed=10, method="ensemble").x[-1] == 200




@pytest.mark.parametrize("kwargs", [{}, {"observed": 12, "horizon": 40}])
def test_batched_sweep_forecast_equals_run_by_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   kwargs: dict[str, int]) -> None:
    """The PFN's forward passes of all runs run as one padded batch; each run's forecast and its cross-run
    forecast are answered from it (no further forward pass), with the same numbers to 1e-6."""
    pytest.importorskip("torch")
    from gapwatch.forecast import pfn as pfn_mod

    h = load(_sweep(tmp_path))
    one = flatten(forecast_sweep(h, batch=False, **kwargs).to_dict())
    passes = []
    orig = pfn_mod.LoadedPFN._forward_one

    def counting(self: pfn_mod.LoadedPFN, *a: np.ndarray) -> np.ndarray:
        passes.append(1)
        return orig(self, *a)

    monkeypatch.setattr(pfn_mod.LoadedPFN, "_forward_one", counting)
    many = flatten(forecast_sweep(h, batch=True, **kwargs).to_dict())
    assert not passes  # every forward pass came from the batch
    assert one.keys() == many.keys()
    for k, v in one.items():
        if isinstance(v, float):
            assert many[k] == pytest.approx(v, abs=1e-6), k
        else:
            assert many[k] == v, k
    assert sum(k.endswith("/sweep/p_beat") for k in one) == 3
    assert pfn_mod.load_pfn()._memo is None  # the memory is dropped after the sweep


def test_padded_batch_equals_one_curve_at_a_time() -> None:
    pytest.importorskip("torch")
    from gapwatch.forecast.pfn import load_pfn

    pfn = load_pfn()
    rng = np.random.default_rng(0)
    items = [(np.sort(rng.random(m)) * 0.5, rng.random(m), 0.5 + np.sort(rng.random(q)) * 0.5)
             for m, q in ((3, 10), (40, 30), (64, 100), (12, 1))]
    for it, probs in zip(items, pfn.predict_probs_batch(items), strict=True):
        np.testing.assert_allclose(probs, pfn.predict_probs(*it), atol=1e-6)
    assert pfn.predict_probs_batch([]) == []
