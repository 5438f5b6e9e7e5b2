"""The forecast sees degradation coming (issue 14): a table of small curves with known answers.

Each curve is cut where its answer is certain by construction: a clearly degrading curve (best at least 10
evaluations back, a rise of many noise standard errors since, and the rise goes on) must get P(best behind)
>= 0.9; a curve still improving at the cut (and after it) must get <= 0.3. Both numbers are the shipped
forecasters' final output (after :mod:`gapwatch.forecast.calibrate`, its default recalibration), for the PFN and
the ensemble.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gapwatch.forecast import forecast_curve, prior

CPU_RUNS = Path(__file__).resolve().parents[1] / "bench" / "curves" / "cpu-runs.jsonl"
T = np.arange(61, dtype=float)
NOISE = np.random.default_rng(7).normal(0.0, 1.0, T.size)


def _label_noise_linear() -> np.ndarray:
    """Quick improvement to epoch ~6, then a steady linear rise (0.02 per epoch), noise 0.01."""
    return 0.9 + 1.4 * np.exp(-T / 2.0) + 0.02 * np.maximum(T - 6, 0) + 0.01 * NOISE


def _label_noise_concave() -> np.ndarray:
    """The issue's shape: best near epoch 6, then a rise like (t - 6)^0.45 (1.17 → ~2.9), noise 0.02."""
    return 1.1 + 1.2 * np.exp(-T / 2.0) + 0.28 * np.maximum(T - 6, 0) ** 0.45 + 0.02 * NOISE


def _saturating_rise() -> np.ndarray:
    """Best near epoch 10, then a rise that saturates (time constant 15 epochs), noise 0.005."""
    return 0.5 + 2.0 * np.exp(-T / 3.0) + 0.6 * (1 - np.exp(-np.maximum(T - 10, 0) / 15.0)) + 0.005 * NOISE


def _cpu_run(name: str) -> Callable[[], np.ndarray]:
    """A real run trained here (``bench/curves/cpu-runs.jsonl``): digits MLPs with label noise."""
    def load() -> np.ndarray:
        run = next(json.loads(line) for line in CPU_RUNS.read_text().splitlines() if f'"{name}"' in line)
        return np.array(run["metrics"]["val_loss"], dtype=float)
    return load


def _power_law_improving() -> np.ndarray:
    return 0.3 + 2.0 * (1.0 + T / 4.0) ** -0.8 + 0.002 * NOISE


def _long_rise_after_early_best() -> np.ndarray:
    """Best at epoch 3, then 50 epochs of a slow steady rise (0.004 per epoch against noise 0.01)."""
    return 0.8 + 1.0 * np.exp(-T / 1.0) + 0.004 * np.maximum(T - 3, 0) + 0.01 * NOISE


def _short_still_falling() -> np.ndarray:
    """A power law still falling, observed for 8 evaluations only (noise 0.005)."""
    return 0.5 + 1.5 * (1.0 + T / 2.0) ** -0.6 + 0.005 * NOISE


def _exponential_improving() -> np.ndarray:
    """Slow exponential improvement, time constant 40 epochs, noise 0.003."""
    return 0.4 + 1.5 * np.exp(-T / 40.0) + 0.003 * NOISE


#: (name, curve, observed evaluations, lower bound or None, upper bound or None)
CASES = [
    ("linear rise after epoch 6", _label_noise_linear, 25, 0.9, None),
    ("concave rise after epoch 6 (the issue's shape)", _label_noise_concave, 25, 0.9, None),
    ("saturating rise after epoch 10", _saturating_rise, 30, 0.9, None),
    # best at epoch 7, never beaten; at the 30% cut (19 evaluations) the shipped forecaster says 0.89 (the
    # noise there is ~0.1 against a rise of ~0.3: bench/results/forecast.md, named runs)
    ("digits-mlp-11 at 40%", _cpu_run("digits-mlp-11"), 25, 0.9, None),
    ("digits-mlp-08 at 40%", _cpu_run("digits-mlp-08"), 25, 0.9, None),
    ("long slow rise after a best at epoch 3", _long_rise_after_early_best, 50, 0.9, None),
    ("power law still improving", _power_law_improving, 20, None, 0.3),
    ("power law still falling, 8 evaluations seen", _short_still_falling, 8, None, 0.3),
    ("slow exponential still improving", _exponential_improving, 20, None, 0.3),
]


@pytest.mark.parametrize("method", ["pfn", "ensemble"])
@pytest.mark.parametrize(("name", "curve", "m", "low", "high"), CASES, ids=[c[0] for c in CASES])
def test_p_best_behind_on_curves_with_known_answers(name: str, curve: Callable[[], np.ndarray], m: int,
                                                     low: float | None, high: float | None, method: str) -> None:
    if method == "pfn":
        pytest.importorskip("torch")
    y = curve()
    truth_behind = bool(y[:m].min() <= y[m:].min())
    assert truth_behind == (low is not None), "the table itself is wrong"
    fc = forecast_curve(np.arange(y.size, dtype=float), y, observed=m, horizon=y.size, method=method)
    if low is not None:
        assert fc.p_best_behind >= low, (name, fc.p_best_behind, fc.p_best_behind_model)
    if high is not None:
        assert fc.p_best_behind <= high, (name, fc.p_best_behind, fc.p_best_behind_model)


def test_degradation_prior_curves_have_an_early_best_and_rise_to_the_end() -> None:
    rng = np.random.default_rng(5)
    t = np.arange(1, 61, dtype=float) / 60
    y = prior.sample_curves(rng, t, 400, p_degrade=1.0)
    assert np.all(np.isfinite(y))
    best = np.argmin(y, axis=1) / t.size
    assert np.quantile(best, 0.9) <= prior.DEG_TB_MAX + 0.1  # an early best...
    last = y[:, -5:].mean(axis=1)
    assert np.mean(last > y.min(axis=1) + 0.05 * (y[:, 0] - y.min(axis=1))) > 0.9  # ...and a rise since


def test_degradation_replaces_curves_without_changing_the_others() -> None:
    """The degradation component draws from a generator of its own: the curves it does not replace are the
    ``p_degrade=0`` ones (so the old prior's held-out sets stay comparable), and it replaces about its share."""
    t = np.arange(1, 31) / 30
    a = prior.sample_curves(np.random.default_rng(1), t, 200, p_degrade=0.0)
    c = prior.sample_curves(np.random.default_rng(1), t, 200, p_degrade=0.5)
    same = np.all(a == c, axis=1)
    assert 0.35 < 1.0 - same.mean() < 0.65


def test_degradation_is_drawn_on_epoch_grids_only() -> None:
    t = 1.5 ** (np.arange(12, dtype=float) - 11)  # a geometric (sample-wise) grid
    assert prior.is_geometric(t)
    a = prior.sample_curves(np.random.default_rng(2), t, 6, p_degrade=0.0)
    b = prior.sample_curves(np.random.default_rng(2), t, 6, p_degrade=1.0)
    assert np.array_equal(a, b)
    assert math.isfinite(float(a.sum()))
