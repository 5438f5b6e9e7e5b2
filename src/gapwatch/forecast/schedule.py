"""Schedule-aware forecasting: the planned end of training and the regime after the last schedule event.

Two uses of what a log says about its schedule (issue 14, item 2):

* **Planned budget.** When the run states where training ends (Hugging Face ``max_steps`` /
  ``num_train_epochs``, Ultralytics ``epochs``, or the caller's ``planned_end``), the forecast reaches that
  position, so P(best behind) and the best-evaluation interval are about the run as planned, not about an
  arbitrary 50% more evaluations. :func:`horizon_to` turns a planned x position into the horizon (evaluations in
  total) that :func:`gapwatch.forecast.forecast_curve` takes.
* **Regime change.** A step drop of the learning rate (a milestone: "Deep Residual Learning for Image
  Recognition", He et al. 2016) or a re-warm (a restart of SGDR, "SGDR: Stochastic Gradient Descent with Warm
  Restarts", Loshchilov & Hutter 2017) changes the curve's dynamics: the points before it were produced by
  another regime, and a forecaster conditioned on them extrapolates the old trend (the drop looks like the
  start of a collapse, the re-warm like a divergence). :func:`regime_start` finds the last such event inside the
  observed window (:func:`gapwatch.schedule.learning_rate_events` on the logged learning rate; by default step
  drops only, ``REGIME_KINDS``: measured, re-warms are better left in) and the index of the first evaluation
  under it; the forecast's distribution (quantiles, density, sample paths) then conditions on that segment only,
  when it holds at least ``MIN_SEGMENT`` evaluations (else on the whole prefix, and a note says so), while
  P(best behind) and the best-evaluation interval stay those of the whole-prefix forecast. Future events are
  not anticipated: a forecast made before a milestone does not know that the rate will drop.

Whether the segment rule helps was measured on real runs with step drops and re-warms
(``bench/bench_forecast_schedule.py``, bench/results/forecast.md): see ``SEGMENT_DEFAULT``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError
from ..stats import median as _median

if TYPE_CHECKING:
    from ..schedule import ScheduleEvent, ScheduleSeries

#: fewest evaluations after the last learning-rate drop that a segment forecast conditions on, per forecaster
#: (evaluations); with fewer, the whole observed prefix is used and the forecast's notes say so. Chosen on the dev
#: half of bench_forecast_schedule.py for the highest mean log-likelihood of the held-back evaluations (the
#: ensemble's fits are overconfident on 3–5 evaluations; the PFN's are not)
MIN_SEGMENT: dict[str, int] = {"pfn": 3, "ensemble": 8}
#: width factor of the reported 80% band of a segment forecast, per forecaster (the split-conformal correction of
#: :data:`gapwatch.forecast.calibrate.BAND_SCALE`, refitted for segment forecasts: with the whole-prefix factors
#: the band covered 66% (PFN) and 44–53% (ensemble, its own band) of the held-back future after a drop). Fitted on
#: the dev half of bench_forecast_schedule.py's cuts after a drop for 80% coverage (test half: 81% and 88%)
SEGMENT_BAND_SCALE: dict[str, float] = {"pfn": 0.83, "ensemble": 2.85}
#: ``min_segment`` of :func:`regime_start` when none is given (the larger of ``MIN_SEGMENT``)
DEFAULT_MIN_SEGMENT = 8
#: whether :func:`gapwatch.forecast.forecast_curve` applies the segment rule when it is given a schedule and no
#: explicit ``regime``. On: after a step drop the segment forecast had a higher log-likelihood and a smaller error
#: of the final value on both halves of bench_forecast_schedule.py, for both forecasters; P(best behind) is taken
#: from the whole-prefix forecast, so it (and every verdict built on it) is the same as without the rule
#: (bench/results/forecast.md, "Schedule-aware forecasting")
SEGMENT_DEFAULT = True
#: event kinds that start a new regime: step drops only. A re-warm returns to a rate the run has already
#: trained at, so the points before it stay informative (measured: conditioning on the segment after an SGDR
#: restart lowered both forecasters' likelihood and P(best behind) calibration); Ultralytics' ``augmentation``
#: switch changes the training losses' level, not the held-out curve's dynamics
REGIME_KINDS: tuple[str, ...] = ("drop",)
#: a planned end further away than this many times the logged evaluations is forecast only that far
PLANNED_MAX_FACTOR = 4.0
AXES = ("auto", "step", "epoch")


@dataclass(frozen=True)
class Regime:
    """Where the forecast's conditioning segment starts.

    Attributes:
        start: index of the first observed evaluation conditioned on (0: the whole prefix).
        event: the schedule event that starts the segment (None when there is none in the observed window).
        note: what was done, for the forecast's notes ("" when there is no event).
    """

    start: int
    event: ScheduleEvent | None
    note: str


def _as_list(schedule: ScheduleSeries | Sequence[ScheduleSeries] | None) -> list[ScheduleSeries]:
    if schedule is None:
        return []
    if isinstance(schedule, Sequence) and not isinstance(schedule, (str, bytes)):
        return list(schedule)
    return [schedule]


def event_positions(schedule: ScheduleSeries | Sequence[ScheduleSeries] | None, axis: str = "auto",
                    kinds: Sequence[str] | None = None) -> list[tuple[float, ScheduleEvent]]:
    """The regime-changing events (``kinds``, default: ``REGIME_KINDS`` at call time) of the learning-rate series in
    ``schedule``, with their position on the curve's x axis (``axis``: ``"step"``, ``"epoch"``, or ``"auto"``:
    the step when the event has one, else the epoch), sorted by position; events without a finite position are
    left out."""
    if axis not in AXES:
        raise UsageError(f"schedule axis must be one of {', '.join(AXES)}; got {axis!r}")
    from ..schedule import learning_rate_events

    out: list[tuple[float, ScheduleEvent]] = []
    for s in _as_list(schedule):
        if not s.is_learning_rate:
            continue
        for ev in learning_rate_events(s):
            if ev.kind not in (REGIME_KINDS if kinds is None else kinds):
                continue
            pos = ev.epoch if axis == "epoch" or (axis == "auto" and not math.isfinite(ev.step)) else ev.step
            if math.isfinite(pos):
                out.append((float(pos), ev))
    return sorted(out, key=lambda pe: pe[0])


def regime_start(x_observed: np.ndarray, schedule: ScheduleSeries | Sequence[ScheduleSeries] | None, *,
                 axis: str = "auto", min_segment: int = DEFAULT_MIN_SEGMENT, kinds: Sequence[str] | None = None
                 ) -> Regime:
    """The segment of the observed evaluations ``x_observed`` ``(m,)`` after the last regime-changing event.

    The segment starts at the first evaluation at or after the event's position (the first logged point under
    the new rate). Events at or before the first evaluation, or after the last, are not inside the window.
    With fewer than ``min_segment`` evaluations in the segment the whole prefix is kept (``start = 0``) and the
    note says why.
    """
    if min_segment < 3:
        raise UsageError(f"min_segment must be at least 3 evaluations (a forecast needs 3), got {min_segment}")
    x = np.asarray(x_observed, dtype=float)
    inside = [(p, ev) for p, ev in event_positions(schedule, axis, kinds) if x[0] < p <= x[-1]]
    if not inside:
        return Regime(0, None, "")
    pos, ev = inside[-1]
    start = int(np.searchsorted(x, pos, side="left"))
    n_seg = x.size - start
    what = "learning-rate drop" if ev.kind == "drop" else "learning-rate re-warm"
    where = f"{ev.name} {ev.before:.3g} -> {ev.after:.3g} at {pos:g}"
    if n_seg < min_segment:
        return Regime(0, ev, f"a {what} ({where}) leaves only {n_seg} evaluation(s) after it (fewer than "
                             f"{min_segment}): forecast from the whole observed run, which mixes two regimes")
    return Regime(start, ev, f"forecast from the {n_seg} evaluations after the last {what} ({where}); the "
                             f"{start} before it are another regime")


def horizon_to(x_observed: np.ndarray, planned_end: float, cap_factor: float = PLANNED_MAX_FACTOR,
               min_extra: int = 3, label: str = "") -> tuple[int | None, str]:
    """The horizon (evaluations in total, observed ones included) whose last evaluation reaches the x position
    ``planned_end``, with future evaluations spaced like the last logged ones (median of the last 5 spacings),
    at most ``cap_factor`` × the logged evaluations (at least ``min_extra`` more), and a note naming the plan
    (``label``, e.g. ``"max_steps=3000"``; default: the position).

    Returns ``(None, "")`` when the logged evaluations already reach the plan (within half a spacing).
    """
    x = np.asarray(x_observed, dtype=float)
    n = int(x.size)
    if not math.isfinite(planned_end):
        raise UsageError(f"planned_end must be a finite x position, got {planned_end!r}")
    if n < 2:
        return None, ""
    step = float(_median(np.diff(x[-6:])))
    if not step > 0 or planned_end <= float(x[-1]) + 0.5 * step:
        return None, ""
    extra = math.ceil((float(planned_end) - float(x[-1])) / step - 1e-9)
    cap = max(min_extra, int(cap_factor * n))
    what = label or f"{planned_end:g}"
    if extra > cap:
        return n + cap, f"forecast towards the planned end of training ({what}), capped at {cap} evaluations"
    return n + extra, f"forecast to the planned end of training ({what})"
