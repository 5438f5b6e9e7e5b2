"""``gapwatch forecast`` on a sweep directory: every run forecast, per-run errors, cross-run entries."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gapwatch.cli import main as cli_main
from gapwatch.forecast.sweep import forecast_sweep
from gapwatch.readers import load

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
