"""Degradation-aware recalibration of P(best behind): features with known answers, and real runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gapwatch.forecast import forecast_curve
from gapwatch.forecast.calibrate import COEFFICIENTS, RISE_CAP, degradation_features, recalibrate

CPU_RUNS = Path(__file__).resolve().parents[1] / "bench" / "curves" / "cpu-runs.jsonl"


def test_features_known_answers() -> None:
    t = np.arange(30, dtype=float)
    assert degradation_features(2.0 / (1 + t)) == (0.0, 0.0, 0)  # still improving: best is the last
    rng = np.random.default_rng(0)
    u = 1.0 / (1 + t) + 0.02 * np.maximum(t - 9, 0) + rng.normal(0, 0.002, 30)
    rz, since, since_n = degradation_features(u)
    b = int(np.argmin(u))
    assert since_n == 29 - b and since == pytest.approx(since_n / 30)
    assert rz > 10  # a rise of ~0.35 against noise of 0.002
    assert degradation_features(-u, mode="max") == (rz, since, since_n)
    assert degradation_features(np.array([1.0, 2.0, 3.0])) == (0.0, 0.0, 0)  # too short


def test_recalibrate_is_monotone_in_p_and_bounded() -> None:
    for meth in COEFFICIENTS:
        ps = [recalibrate(p, 5.0, 0.3, 6, meth) for p in (0.01, 0.2, 0.5, 0.8, 0.99)]
        assert all(0.0 < a < b < 1.0 for a, b in zip(ps, ps[1:], strict=False))
        assert 0.0 < recalibrate(0.5, 1e9, 1.0, 10**6, meth) <= 1.0  # capped features stay finite
    assert recalibrate(0.37, RISE_CAP, 0.5, 10, "unknown") == 0.37


@pytest.mark.parametrize("method", ["ensemble", "pfn"])
def test_real_degrading_run_gets_a_higher_probability(method: str) -> None:
    """digits-mlp-11 (40% label noise, best at epoch 6, then a steady rise) cut at 30%: the issue's example."""
    if method == "pfn":
        pytest.importorskip("torch")
    run = next(json.loads(line) for line in CPU_RUNS.read_text().splitlines() if '"digits-mlp-11"' in line)
    y = np.array(run["metrics"]["val_loss"], dtype=float)
    m = math.ceil(0.3 * y.size)
    fc = forecast_curve(np.arange(y.size, dtype=float), y, observed=m, method=method)
    assert fc.p_best_behind_model is not None
    assert fc.p_best_behind > fc.p_best_behind_model
    assert fc.p_best_behind > 0.6  # truth: the best (epoch 6) is never beaten
    d = fc.to_run_dict()
    assert d["p_best_behind"] == round(fc.p_best_behind, 4)
    assert d["p_best_behind_model"] == round(fc.p_best_behind_model, 4)


def test_still_improving_curve_stays_low() -> None:
    x = np.arange(1, 41, dtype=float)
    y = 0.3 + 2.0 * (1.0 + x / 4.0) ** -0.8 + np.random.default_rng(3).normal(0, 0.002, 40)
    fc = forecast_curve(x, y, observed=20, method="ensemble")
    assert fc.p_best_behind < 0.3
