"""Evidence-aware recalibration of P(best behind): evidence with known answers, constants, and real runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from gapwatch.detectors import overfitting
from gapwatch.errors import UsageError
from gapwatch.forecast import calibrate, forecast_curve
from gapwatch.forecast.calibrate import (
    COEFFICIENTS,
    COEFFICIENTS_V1,
    FEATURES,
    LOST_CAP,
    RISE_CAP,
    Evidence,
    check_coefficients,
    degradation_features,
    evidence,
    features,
    recalibrate,
)

CPU_RUNS = Path(__file__).resolve().parents[1] / "bench" / "curves" / "cpu-runs.jsonl"
T = np.arange(30, dtype=float)


def _rising(seed: int = 0) -> np.ndarray:
    """Best near index 9, then a linear rise of 0.02 per evaluation; noise 0.002."""
    rng = np.random.default_rng(seed)
    return 1.0 / (1 + T) + 0.02 * np.maximum(T - 9, 0) + rng.normal(0, 0.002, T.size)


def test_evidence_known_answers() -> None:
    assert evidence(2.0 / (1 + T)) == Evidence()  # still improving: best is the last, nothing to report
    u = _rising()
    ev = evidence(u)
    b = int(np.argmin(u))
    assert ev.since_n == 29 - b and ev.since == pytest.approx(ev.since_n / 30)
    assert ev.rise_z == RISE_CAP and ev.detector_z == RISE_CAP  # a rise of ~0.35 against noise of 0.002
    assert 0.0 < ev.lost < LOST_CAP  # part of an improvement of ~0.9 undone
    assert evidence(-u, mode="max") == ev
    assert degradation_features(u) == (ev.rise_z, ev.since, ev.since_n)


def test_evidence_edge_cases() -> None:
    assert evidence(np.array([1.0, 2.0, 3.0])) == Evidence()  # three points: too short for any evidence
    assert evidence(np.array([])) == Evidence()
    # best at the last point: the count is 0 and nothing rose
    assert evidence(np.array([3.0, 2.5, 2.2, 2.0, 1.9, 1.0])) == Evidence(since=0.0, since_n=0)
    # NaN and inf are dropped (the positions of the finite values are what counts)
    u = _rising()
    with_nan = u.copy()
    with_nan[[3, 17]] = np.nan
    with_nan[20] = np.inf
    assert evidence(with_nan) == evidence(u[np.isfinite(with_nan)])
    assert evidence(np.array([np.nan, 1.0, np.nan, 2.0, 3.0])) == Evidence()  # three finite values
    # no noise and a rise: the caps; a curve that never improved: lost at its cap
    flat_then_up = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0])
    ev = evidence(flat_then_up)
    assert ev.lost == LOST_CAP and ev.since_n == 6
    assert evidence(np.full(8, 2.0)).rise_z == 0.0  # constant: no rise
    with pytest.raises(UsageError, match="mode"):
        evidence(u, mode="up")


def test_detector_statistic_is_the_overfitting_detectors() -> None:
    """``detector_z`` and ``lost`` are the overfitting detector's ``z`` and ``lost`` (same window, same noise)."""
    d = overfitting.DEFAULTS
    ours = (calibrate.DETECTOR_WINDOW, calibrate.DETECTOR_MAX_WINDOW, calibrate.DETECTOR_WINDOW_FRACTION)
    assert ours == (d["window"], d["max_window"], d["window_fraction"])
    rng = np.random.default_rng(4)
    for n, slope, noise in ((30, 0.002, 0.01), (80, 0.001, 0.02), (200, 0.0005, 0.01), (12, 0.05, 0.01)):
        t = np.arange(n, dtype=float)
        z = 1.0 / (1 + t / 3) + slope * np.maximum(t - n // 4, 0) + rng.normal(0, noise, n)
        b = int(np.argmin(z))
        after = n - 1 - b
        w = max(1, min(overfitting.window_for(n, d), after))
        _, _, _, _, _, zstat, lost = overfitting._degradation(z, b, w)
        ev = evidence(z)
        assert ev.detector_z == pytest.approx(min(max(zstat, 0.0), RISE_CAP))
        assert ev.lost == pytest.approx(min(max(lost, 0.0), LOST_CAP))


def test_features_follow_the_version() -> None:
    ev = Evidence(rise_z=4.0, detector_z=3.0, since=0.5, since_n=12, lost=0.25)
    for v, names in FEATURES.items():
        f = features(0.5, ev, v)
        assert f.shape == (len(names) + 1,) and f[0] == 0.0 and f[-1] == 1.0
    assert features(0.5, ev, "v2")[1:6].tolist() == pytest.approx(
        [math.log1p(4.0), math.log1p(3.0), 0.5, math.log1p(12), math.log1p(0.25)])
    assert np.all(np.isfinite(features(0.0, Evidence(1e9, 1e9, 1.0, 10**6, 1e9))))  # clipped and capped


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_recalibrate_is_monotone_in_p_and_bounded(version: str) -> None:
    ev = Evidence(rise_z=5.0, detector_z=4.0, since=0.3, since_n=6, lost=0.2)
    for meth in COEFFICIENTS:
        ps = [recalibrate(p, ev, meth, version) for p in (0.01, 0.2, 0.5, 0.8, 0.99)]
        assert all(0.0 < a < b < 1.0 for a, b in zip(ps, ps[1:], strict=False))
        assert 0.0 < recalibrate(0.5, Evidence(1e9, 1e9, 1.0, 10**6, 1e9), meth, version) <= 1.0
    assert recalibrate(0.37, ev, "unknown", version) == 0.37
    assert recalibrate(0.37, ev, "pfn", "none") == 0.37


def test_v1_is_the_previous_recalibration() -> None:
    """``"v1"`` reproduces the formula shipped before the evidence features (logit P, log1p rise_z, since,
    log1p since_n, intercept)."""
    ev = Evidence(rise_z=6.0, detector_z=2.0, since=0.4, since_n=9, lost=0.3)
    a, b, c, e, d = COEFFICIENTS_V1["pfn"]
    s = a * math.log(0.6 / 0.4) + b * math.log1p(6.0) + c * 0.4 + e * math.log1p(9) + d
    assert recalibrate(0.6, ev, "pfn", "v1") == pytest.approx(1 / (1 + math.exp(-s)))


@pytest.mark.parametrize(("table", "version", "match"), [
    ({"pfn": (1.0, 0.0, 0.0)}, "v2", "expected 7 coefficients"),
    ({"pfn": (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, float("nan"))}, "v2", "finite"),
    ({"pfn": (-0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)}, "v2", "logit P must be > 0"),
    ({"ensemble": (0.0, 0.0, 0.0, 0.0, 0.0)}, "v1", "logit P must be > 0"),
    ({"pfn": (1.0, 0.0, 0.0, 0.0, 0.0)}, "v9", "unknown recalibration version"),
])
def test_bad_constants_are_rejected(table: dict[str, tuple[float, ...]], version: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        check_coefficients(table, version)


def test_shipped_constants_pass_their_check() -> None:
    check_coefficients(COEFFICIENTS, "v2")
    check_coefficients(COEFFICIENTS_V1, "v1")
    assert set(COEFFICIENTS) == set(COEFFICIENTS_V1) == {"pfn", "ensemble"}


def test_v2_leaves_sample_wise_curves_alone() -> None:
    """On a geometric grid of training-set sizes (LCDB-like) v2 gives the forecaster's own probability; v1, the
    previous default, still recalibrates there (its value is kept as it was)."""
    ev = Evidence(rise_z=6.0, detector_z=5.0, since=0.4, since_n=12, lost=0.3)
    assert recalibrate(0.3, ev, "pfn", "v2", sample_wise=True) == 0.3
    assert recalibrate(0.3, ev, "pfn", "v1", sample_wise=True) == recalibrate(0.3, ev, "pfn", "v1")
    sizes = 16.0 * 2.0 ** (np.arange(12) / 2.0)  # 16, 23, 32, 45, ...
    acc = 0.9 - 0.5 * (sizes / 16.0) ** -0.5 + np.random.default_rng(2).normal(0, 0.002, sizes.size)
    fc = forecast_curve(sizes, acc, observed=8, mode="max", method="ensemble")
    assert fc.p_best_behind == fc.p_best_behind_model
    assert forecast_curve(np.arange(12.0), acc, observed=8, mode="max", method="ensemble",
                          recalibration="v2").p_best_behind != fc.p_best_behind_model


def test_unknown_recalibration_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="recalibration must be one of"):
        recalibrate(0.5, Evidence(), "pfn", "v9")
    with pytest.raises(UsageError, match="recalibration must be one of"):
        forecast_curve(T, _rising(), observed=20, method="ensemble", recalibration="v9")


def test_recalibration_choices_share_the_forecast() -> None:
    """The versions change P(best behind) only; ``"none"`` is the forecaster's own probability."""
    y = _rising()
    fcs = {v: forecast_curve(T, y, observed=22, method="ensemble", recalibration=v)
           for v in ("v3", "v2", "v1", "none")}
    assert fcs["none"].p_best_behind == fcs["none"].p_best_behind_model == fcs["v2"].p_best_behind_model
    ev = evidence(y[:22])
    assert fcs["v1"].p_best_behind == pytest.approx(recalibrate(fcs["none"].p_best_behind, ev, "ensemble", "v1"))
    assert fcs["v2"].p_best_behind == pytest.approx(recalibrate(fcs["none"].p_best_behind, ev, "ensemble", "v2"))
    for q in ("0.1", "0.5", "0.9"):
        assert np.array_equal(fcs["v1"].quantiles[q], fcs["v2"].quantiles[q])
    assert fcs["v3"].p_best_behind == pytest.approx(recalibrate(fcs["none"].p_best_behind, ev, "ensemble", "v3"))
    assert forecast_curve(T, y, observed=22, method="ensemble").p_best_behind == fcs["v3"].p_best_behind


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
