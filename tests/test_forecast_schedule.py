"""Tests of schedule-aware forecasting (gapwatch.forecast.schedule): the planned end of training and the regime
after the last learning-rate event, on small curves with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gapwatch.errors import UsageError
from gapwatch.forecast import forecast, forecast_curve, forecast_for_analysis
from gapwatch.forecast.schedule import MIN_SEGMENT, SEGMENT_BAND_SCALE, SEGMENT_DEFAULT, horizon_to, regime_start
from gapwatch.history import History
from gapwatch.monitor import Monitor
from gapwatch.schedule import ScheduleSeries


def lr_series(n: int, drops: tuple[int, ...] = (), rewarms: tuple[int, ...] = (), base: float = 0.1,
              name: str = "lr") -> ScheduleSeries:
    """A learning rate logged at epochs 0..n-1: ÷10 from each ``drops`` epoch on; cosine from ``base`` restarting
    at each ``rewarms`` epoch (flat ``base`` when there are none)."""
    e = np.arange(n, dtype=float)
    v = np.full(n, base)
    for d in drops:
        v[e >= d] *= 0.1
    if rewarms:
        starts = np.array((0, *rewarms))
        period = float(np.diff(starts).max())
        last = starts[np.searchsorted(starts, e, side="right") - 1]
        v = v * 0.5 * (1 + np.cos(np.pi * (e - last) / period))
    return ScheduleSeries(name, np.full(n, np.nan), e, v)


def step_curve(n: int = 60, drop: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Validation loss of a step schedule: a power-law plateau, then a sharp fall at ``drop`` to a new, flat level."""
    x = np.arange(n, dtype=float)
    y = 0.8 + 1.5 * (1 + x) ** -0.7
    after = x >= drop
    y[after] = 0.35 + 0.05 * np.exp(-(x[after] - drop) / 3.0)
    return x, y


# ----------------------------------------------------------------------------------------------- horizon_to
@pytest.mark.parametrize(("x", "end", "want_h", "want_note"), [
    (np.arange(0, 10.0), 19.0, 20, "forecast to the planned end of training (19)"),  # 10 more, spacing 1
    (np.arange(0, 100.0, 10), 195.0, 21, "(195)"),  # ceil((195 - 90) / 10) = 11 more: the end lies in the last
    (np.arange(0, 10.0), 9.4, None, ""),  # already reached (within half a spacing)
    (np.arange(0, 10.0), 1000.0, 50, "capped at 40 evaluations"),  # 4 x 10 logged at most
])
def test_horizon_to_known_answers(x: np.ndarray, end: float, want_h: int | None, want_note: str) -> None:
    h, note = horizon_to(x, end)
    assert h == want_h
    assert want_note in note


def test_horizon_to_rejects_a_non_finite_plan() -> None:
    with pytest.raises(UsageError, match="planned_end"):
        horizon_to(np.arange(5.0), math.nan)


# ----------------------------------------------------------------------------------------------- regime_start
@pytest.mark.parametrize(("m", "schedule", "want_start", "want_kind", "note_has"), [
    (40, lr_series(60, drops=(30,)), 30, "drop", "10 evaluations after the last learning-rate drop"),
    (32, lr_series(60, drops=(30,)), 0, "drop", "only 2 evaluation(s)"),  # too short: whole prefix, said so
    (20, lr_series(60, drops=(30,)), 0, None, ""),  # the drop is in the future: nothing to do
    (55, lr_series(60, drops=(20, 45)), 45, "drop", "the 45 before it"),  # the last of two drops
    (45, lr_series(60, rewarms=(25,)), 0, None, ""),  # a re-warm is not a new regime by default (REGIME_KINDS)
    (60, lr_series(60), 0, None, ""),  # a constant rate has no events
])
def test_regime_start_known_answers(m: int, schedule: ScheduleSeries, want_start: int, want_kind: str | None,
                                    note_has: str) -> None:
    reg = regime_start(np.arange(m, dtype=float), schedule, axis="epoch", min_segment=5)
    assert reg.start == want_start
    assert (reg.event.kind if reg.event else None) == want_kind
    assert note_has in reg.note


def test_a_rewarm_starts_a_regime_when_asked() -> None:
    reg = regime_start(np.arange(45.0), lr_series(60, rewarms=(25,)), axis="epoch", min_segment=5,
                       kinds=("drop", "rewarm"))
    assert reg.start == 25 and reg.event is not None and reg.event.kind == "rewarm" and "re-warm" in reg.note


def test_regime_start_ignores_non_learning_rate_series_and_bad_arguments() -> None:
    mom = lr_series(60, drops=(30,), name="momentum")
    assert regime_start(np.arange(40.0), mom, axis="epoch").start == 0
    with pytest.raises(UsageError, match="axis"):
        regime_start(np.arange(40.0), lr_series(60, drops=(30,)), axis="time")
    with pytest.raises(UsageError, match="min_segment"):
        regime_start(np.arange(40.0), lr_series(60, drops=(30,)), min_segment=2)


# ----------------------------------------------------------------------------------------------- forecast_curve
def test_segment_rule_is_on_by_default_and_never_changes_p_best_behind() -> None:
    x, y = step_curve()
    sched = lr_series(60, drops=(30,))
    plain = forecast_curve(x, y, observed=40, method="ensemble")
    off = forecast_curve(x, y, observed=40, method="ensemble", schedule=sched, schedule_axis="epoch", regime=False)
    given = forecast_curve(x, y, observed=40, method="ensemble", schedule=sched, schedule_axis="epoch")
    assert SEGMENT_DEFAULT is True
    for q in plain.quantiles:  # regime=False: exactly the plain forecast
        np.testing.assert_array_equal(plain.quantiles[q], off.quantiles[q])
    assert plain.notes == off.notes
    # the default segment forecast: another distribution, the same P(best behind) and best interval
    assert not np.array_equal(plain.quantiles["0.5"], given.quantiles["0.5"])
    assert given.p_best_behind == plain.p_best_behind and given.best == plain.best
    assert given.p_best_behind_model == plain.p_best_behind_model


def test_segment_forecast_conditions_on_the_new_regime_and_reports_the_whole_run() -> None:
    x, y = step_curve()
    sched = lr_series(60, drops=(30,))
    seg = forecast_curve(x, y, observed=40, method="ensemble", schedule=sched, schedule_axis="epoch", regime=True)
    whole = forecast_curve(x, y, observed=40, method="ensemble")
    assert seg.observed == 40 and seg.x_observed.size == 40 and np.array_equal(seg.x, np.arange(40, 60.0))
    assert any("after the last learning-rate drop" in n for n in seg.notes)
    # after the drop the loss sits near 0.35: the segment forecast stays there, the whole-run one is pulled
    # by the fall it has just seen
    truth = y[40:]
    assert np.max(np.abs(seg.quantiles["0.5"] - truth)) < 0.02
    assert np.mean(seg.logpdf(truth)) > np.mean(whole.logpdf(truth))


def test_segment_p_best_behind_compares_with_the_whole_observed_run() -> None:
    # best 0.2 before a drop at 30; after it the loss sits flat at 0.6: no future value comes near 0.2, so the
    # segment's own best (0.6) must not be taken for the run's
    x = np.arange(50, dtype=float)
    y = np.where(x < 30, 0.2 + 1.0 * np.exp(-x / 4.0), 0.6 + 0.002 * np.sin(x))
    sched = lr_series(50, drops=(30,))
    fc = forecast_curve(x, y, observed=45, method="ensemble", schedule=sched, schedule_axis="epoch", regime=True)
    assert any("learning-rate drop" in n for n in fc.notes)
    assert fc.p_best_behind_model is not None and fc.p_best_behind_model > 0.95
    assert fc.best["x"] < 30


def test_too_short_a_segment_falls_back_and_says_so() -> None:
    x, y = step_curve()
    sched = lr_series(60, drops=(30,))
    k = MIN_SEGMENT["ensemble"]
    fc = forecast_curve(x, y, observed=30 + k - 1, method="ensemble", schedule=sched, schedule_axis="epoch",
                        regime=True)
    plain = forecast_curve(x, y, observed=30 + k - 1, method="ensemble")
    np.testing.assert_array_equal(fc.quantiles["0.5"], plain.quantiles["0.5"])
    assert any(f"fewer than {k}" in n for n in fc.notes)
    # an explicit min_segment overrides the forecaster's
    short = forecast_curve(x, y, observed=30 + k - 1, method="ensemble", schedule=sched, schedule_axis="epoch",
                           regime=True, min_segment=3)
    assert any("after the last learning-rate drop" in n for n in short.notes)


def test_planned_end_sets_the_horizon_and_conflicts_are_errors() -> None:
    x = np.arange(1, 21, dtype=float)
    y = 0.3 + 1.0 / x
    fc = forecast_curve(x, y, method="ensemble", planned_end=50)
    assert fc.x[-1] == 50 and fc.x.size == 30 and any("planned end" in n for n in fc.notes)
    with pytest.raises(UsageError, match="not both"):
        forecast_curve(x, y, method="ensemble", planned_end=50, horizon=40)
    with pytest.raises(UsageError, match="observe all"):
        forecast_curve(x, y, observed=10, method="ensemble", planned_end=50)


# ----------------------------------------------------------------------------------------------- from a History
def _history(n: int = 40, drop: int = 30, meta: dict[str, object] | None = None) -> History:
    x, y = step_curve(60, drop)
    recs = [{"epoch": float(e), "val_loss": float(v), "train_loss": float(v) * 0.5} for e, v in zip(x[:n], y[:n],
                                                                                                 strict=True)]
    lr = lr_series(60, drops=(drop,))
    h = History.from_records(recs, run="r")
    sched = {"lr": {"step": lr.step[:n], "epoch": lr.epoch[:n], "value": lr.values[:n]}}
    return h.with_meta("r", schedule=sched, **(meta or {}))


def test_forecast_for_analysis_reaches_the_planned_end_and_reads_the_logged_rate() -> None:
    h = _history(meta={"hf": {"num_train_epochs": 59}})
    mon = Monitor("val", "val_loss", "min") if h.has("val", "val_loss") else Monitor("val", "loss", "min")
    fc = forecast_for_analysis(h, mon, method="ensemble", regime=True)
    assert fc is not None
    assert fc.x[-1] == 59 and any("num_train_epochs=59" in n for n in fc.notes)
    assert any("learning-rate drop" in n for n in fc.notes)
    # the direct API does the same with regime=True
    fc2 = forecast(h, mon, method="ensemble", regime=True)
    assert any("learning-rate drop" in n for n in fc2.notes)


def test_segment_band_uses_its_own_width_factor() -> None:
    pytest.importorskip("torch")
    x, y = step_curve()
    sched = lr_series(60, drops=(30,))
    kw = {"observed": 40, "method": "pfn", "schedule": sched, "schedule_axis": "epoch", "regime": True}
    default = forecast_curve(x, y, **kw)  # type: ignore[arg-type]
    same = forecast_curve(x, y, band_scale=SEGMENT_BAND_SCALE["pfn"], **kw)  # type: ignore[arg-type]
    own = forecast_curve(x, y, band_scale=1.0, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(default.quantiles["0.9"], same.quantiles["0.9"])
    width = default.quantiles["0.9"] - default.quantiles["0.1"]
    np.testing.assert_allclose(width, SEGMENT_BAND_SCALE["pfn"] * (own.quantiles["0.9"] - own.quantiles["0.1"]),
                               rtol=1e-9, atol=1e-12)
