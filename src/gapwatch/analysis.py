"""The analysis pipeline: one call from a loaded History to everything gapwatch concludes about its runs.

:func:`analyze` is what ``gapwatch analyze --json`` prints (``analyze(load(p)).to_dict()`` *is* that document),
what the demo reports and what the HTML and terminal reports render. Per run it

1. decides the monitored series (:mod:`gapwatch.monitor`, the one owner of that choice) and its best point,
2. runs the registered detectors (:func:`gapwatch.detectors.run_all`; the ``data`` detector turns problems
   with the log itself into findings),
3. summarises the run (:func:`gapwatch.summary.summarize_run`: best, final, what training past the best cost),
4. forecasts the monitored curve past its end (:mod:`gapwatch.forecast`; on by default for small analyses),
5. summarises the per-example table found beside the log (:mod:`gapwatch.examples.summary`),

and across a sweep it relates hyperparameters to overfitting (:func:`gapwatch.summary.hyperparameter_effects`).
Results stay typed (:class:`RunAnalysis`, :class:`~gapwatch.forecast.core.Forecast`,
:class:`~gapwatch.examples.summary.ExampleSummary`, :class:`~gapwatch.summary.RunSummary`) until
:meth:`Analysis.to_dict` turns them into the ``gapwatch.analysis/1`` document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import stats
from .documents import ANALYSIS, clean
from .errors import GapwatchError, InputError, UsageError
from .findings import Finding, FindingKind, Severity
from .history import History, Run
from .monitor import Monitor, MonitorDecision, NoMonitorError, decide
from .names import is_measure
from .summary import Effect, RunSummary, hyperparameter_effects, summarize_run

if TYPE_CHECKING:
    from .examples.summary import ExampleSummary
    from .forecast.core import Forecast

SCHEMA = ANALYSIS

#: ``forecast=None`` (automatic) forecasts the runs only when the analysis has at most this many (runs). The
#: parametric ensemble costs ~50-100 ms per run on one CPU core; a 10,000-run sweep must stay fast.
FORECAST_MAX_RUNS = 20
#: The forecaster is given at most this many evaluations of the monitored series (evaluations): a longer,
#: all-finite series is thinned evenly (first and last kept) and the forecast's notes say so. The parametric
#: ensemble costs ~0.2 s on 1,000 evaluations but ~7 s on the 24,000 of a 1,000,000-point log (one CPU core); a
#: plot of the forecast needs a few hundred points.
FORECAST_MAX_POINTS = 1000

ForecastMethod = Literal["ensemble", "pfn", "auto"]
FORECAST_METHODS: tuple[str, ...] = ("ensemble", "pfn", "auto")


@dataclass(frozen=True)
class BestPoint:
    """The best finite evaluation of the monitored series: where (``step``, ``epoch``; ``None`` when the log
    has no such axis) and its ``value`` (metric units)."""

    step: float | int | None
    epoch: float | int | None
    value: float

    def at(self, x: str) -> float | int | None:
        """Its position on axis ``x`` (``"epoch"`` or ``"step"``)."""
        return self.epoch if x == "epoch" else self.step

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "epoch": self.epoch, "value": self.value}


def best_point(run: Run, monitor: Monitor) -> BestPoint | None:
    """The best finite evaluation of ``monitor`` in ``run`` (the first one on ties), or ``None`` when it has no
    finite value. The one implementation of "best point" (the summary, the report and the forecast use it)."""
    s = run.series(monitor.split, monitor.metric)
    fin = np.isfinite(s.values)
    if not fin.any():
        return None
    if fin.all():  # (no signed copy of a long series: the first lowest of sign * values)
        b = stats.argmin(s.values) if monitor.sign == 1.0 else stats.argmax(s.values)  # (no copy: read-only)
    else:
        b = int(np.argmin(np.where(fin, monitor.sign * s.values, np.inf)))
    at = s.at(b)
    return BestPoint(step=at["step"], epoch=at["epoch"], value=float(s.values[b]))


@dataclass
class RunAnalysis:
    """Everything gapwatch concluded about one run.

    Attributes:
        name, source: run name and the file or directory it came from.
        x: ``"epoch"`` or ``"step"``: the axis of the monitored series.
        monitor: what was monitored; ``None`` when the run has no held-out series (then ``error`` says why).
        best: the best monitored evaluation.
        findings: detector findings, most severe first.
        history: the run (not serialised).
        error: why the run could not be analysed (``None`` when it could).
        summary: best, final, cost of training past the best, onset and the verdict headline.
        forecast: the monitored curve forecast past its end (``None`` when not asked for or not possible).
        examples: the summary of the per-example table beside the log (``None`` when there is none).
        decision: the monitor decision (why this series decides, which others are evidence).
    """

    name: str
    source: str
    x: str
    monitor: Monitor | None
    best: BestPoint | None
    findings: list[Finding]
    history: Run
    error: str | None = None
    summary: RunSummary | None = None
    forecast: Forecast | None = None
    examples: ExampleSummary | None = None
    decision: MonitorDecision | None = None

    @property
    def worst_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    def to_dict(self) -> dict[str, Any]:
        """This run's entry in the ``gapwatch.analysis/1`` document."""
        mon: dict[str, Any] | None = None
        if self.decision is not None:
            mon = self.decision.to_dict()
        elif self.monitor is not None:
            mon = dict(self.monitor.to_dict())
        d: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "x": self.x,
            "monitor": mon,
            "best": clean(self.best.to_dict()) if self.best else None,
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.error:
            d["error"] = self.error
        if self.summary is not None:
            d["summary"] = self.summary.to_dict()
        if self.forecast is not None:
            fc = self.forecast.to_run_dict()
            fc.pop("name", None)
            d["forecast"] = clean(fc)
        if self.examples is not None:
            d["examples"] = self.examples.to_dict()
        if len(self.history):
            from .names import series_table

            d["series"] = [{k: v for k, v in row.items() if k != "run"} for row in series_table(self.history)]
            from .schedule import events

            planned = events(self.history, self.name) if self.name in self.history.meta else []
            if planned:
                d["schedule_events"] = [e.to_dict() for e in planned]
        return d


@dataclass
class Analysis:
    """The analysis of every run loaded from one path.

    Attributes:
        runs: one :class:`RunAnalysis` per run, in the History's order.
        effects: hyperparameters that go with overfitting across the sweep (empty for one run).
        notes: remarks about the analysis as a whole (runs not forecast and why).
    """

    runs: list[RunAnalysis]
    effects: list[Effect] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The ``gapwatch.analysis/1`` document."""
        d: dict[str, Any] = {"schema": SCHEMA, "runs": [r.to_dict() for r in self.runs]}
        if self.effects:
            d["hyperparameter_effects"] = [e.to_dict() for e in self.effects]
        if self.notes:
            d["notes"] = list(self.notes)
        return d

    @property
    def worst_severity(self) -> Severity | None:
        return max((s for r in self.runs if (s := r.worst_severity)), key=lambda s: s.rank, default=None)


def _single_evaluation(run: Run) -> str | None:
    """The error of a run that logs neither a training nor a validation series and holds at most one finite
    value of each series — a final score (a Lightning ``metrics.csv`` written by ``trainer.test()``), not a
    training curve — else None. (A live log after its first epoch has a training or validation series: it gets
    the "evaluate more often" data note instead; a training or validation series whose one value is logged at a
    later epoch, the same for all, is a snapshot of the end of a fit and gets the error.)"""
    keys = run.keys()
    if not keys or any(len(run.series(split, metric).finite()) > 1 for split, metric in keys):
        return None
    if any(split in ("train", "val") for split, _ in keys) and not _late_snapshot(run, keys):
        return None
    names = ", ".join(run.series(split, metric).name for split, metric in keys[:4])
    return str(InputError(f"run {run.name!r} holds a single value of each series ({names}"
                          f"{', …' if len(keys) > 4 else ''}): a final score or summary, not a training curve; "
                          "gapwatch judges curves of two or more evaluations", path=run.source or None))


def _late_snapshot(run: Run, keys: list[tuple[str, str]]) -> bool:
    """Whether every series' one value sits at one epoch after the first (a ``[{"epoch": 10, "train_loss": …,
    "val_loss": …}]`` written once at the end of a 10-epoch fit): a snapshot of the end, not a live log after its
    first evaluation (which is at epoch 0 or 1)."""
    epochs = {float(e) for split, metric in keys for e in run.series(split, metric).finite().epoch}
    return len(epochs) == 1 and all(np.isfinite(e) and e > 1 for e in epochs)


def declared_heldout(run: Run, monitor: Monitor) -> Run:
    """``run`` with the series ``monitor`` names read as held out when the log names it without a split.

    By the naming convention an unprefixed name (``accuracy``, ``accuracy_percent``) is a training series, so a
    hand-written log whose only accuracy is the test set's is refused for want of a held-out series; the refusal
    tells the user to name the series with ``--monitor``. A monitor such as ``val/accuracy_percent`` that is not
    logged, while ``accuracy_percent`` is logged with no split word, is that user's declaration: the series is
    moved to ``monitor.split`` (a note says so). A series whose name carries a split (``train_acc``) is never
    moved."""
    if run.has(monitor.split, monitor.metric) or not run.has("train", monitor.metric) or monitor.split == "train":
        return run
    from .names import normalize

    logged = run.series("train", monitor.metric).name
    if normalize(logged, default_split="\x00")[0] != "\x00":
        return run
    note = (f"{logged}: read as the {monitor.split} series, as the monitor asks (a name without a split word is "
            "otherwise read as a training series)")
    return Run._share(run.with_split("train", monitor.metric, monitor.split, note=note))


def analyze_run(
    run: History,
    *,
    monitor: Monitor | None = None,
    detectors: Sequence[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> RunAnalysis:
    """Detect and summarise one run (no forecast, no examples: :func:`analyze` adds those).

    A run without a held-out series gets ``error`` set instead of raising, so one bad run does not hide a
    sweep; :func:`analyze` raises when *every* run is unusable."""
    from .detectors import run_all

    run = next(iter(run)) if not isinstance(run, Run) else run
    only = list(detectors) if detectors is not None else None
    single = _single_evaluation(run)
    if single is not None:
        return RunAnalysis(run.name, run.source, "epoch", None, None, [], run, error=single)
    if monitor is not None:
        run = declared_heldout(run, monitor)
    try:
        d = decide(run, monitor)
    except InputError as exc:
        # no series may decide: the detectors that need none still speak (a continual-learning log's per-task
        # accuracies get their stability-gap finding); a monitor that was asked for but not logged is the error
        findings = run_all(run, monitor=None, params=params, only=only if isinstance(exc, NoMonitorError)
                           else ["data"])
        return RunAnalysis(run.name, run.source, "epoch", None, None, findings, run, error=str(exc))
    mon = d.monitor
    findings = run_all(run, monitor=mon, params=params, only=only)
    if d.source != "requested" and not (is_measure(mon.label) or is_measure(mon.metric)):
        findings = [_direction_assumed(f, mon) for f in findings]
    ra = RunAnalysis(run.name, run.source, run.series(mon.split, mon.metric).x_kind, mon, best_point(run, mon),
                     findings, run, decision=d)
    ra.summary = summarize_run(ra)
    return ra


def _check_options(detectors: Sequence[str] | None, params: dict[str, dict[str, Any]] | None,
                   forecast_method: str) -> list[str] | None:
    """Validate :func:`analyze`'s options (UsageError naming the bad one); the detectors to run (``data``
    always included), or None for all."""
    from .detectors import registered

    if forecast_method not in FORECAST_METHODS:
        raise UsageError(f"forecast_method must be one of {', '.join(FORECAST_METHODS)}; got {forecast_method!r}")
    known = registered()
    for label, names in (("detectors", list(detectors or [])), ("params", list(params or {}))):
        bad = [n for n in names if n not in known]
        if bad:
            raise UsageError(f"{label}: unknown detector(s) {', '.join(map(repr, bad))}; known: "
                             f"{', '.join(sorted(known))}")
    return None if detectors is None else list(dict.fromkeys([*detectors, "data"]))


def _direction_assumed(f: Finding, mon: Monitor) -> Finding:
    """``f`` at most a warning when it judges a deciding series that was chosen for want of any other and whose name
    is no measure gapwatch knows (a GAN critic's ``val_W``): whether larger or smaller is better was assumed from the
    name (:func:`gapwatch.names.metric_mode`), so its overfitting is never certain enough to be critical; the message
    says which direction was assumed and how to say otherwise."""
    if f.kind != FindingKind.OVERFITTING or f.severity != Severity.CRITICAL:
        return f
    better, other = ("lower", "max") if mon.mode == "min" else ("higher", "min")
    return replace(f, severity=Severity.WARNING,
                   message=f"{f.message}; {mon.label} is no measure gapwatch knows, so {better} was assumed to be "
                   f"better (--monitor {mon.label} --mode {other} says otherwise)")


def analyze(
    history: History,
    *,
    monitor: Monitor | None = None,
    detectors: Sequence[str] | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    forecast: bool | None = None,
    forecast_method: ForecastMethod = "ensemble",
    examples: bool = True,
    detector_params: dict[str, dict[str, Any]] | None = None,
) -> Analysis:
    """Analyse every run of ``history``: monitor, best point, findings, summary, forecast, examples, effects.

    Args:
        monitor: the series to monitor in every run (default: :mod:`gapwatch.monitor` decides per run).
        detectors: run only these registered detectors (default: all; the ``data`` checks always run).
        params: per-detector parameters, ``{"overfitting": {"min_z": 4}}`` (validated by each detector), and
            ``{"launches": {...}}`` for the rule that the latest of the launches appended to one log decides
            (:mod:`gapwatch.launches`).
        forecast: forecast each run's monitored curve past its end; ``None`` (default) does so when there are
            at most :data:`FORECAST_MAX_RUNS` runs.
        forecast_method: ``"ensemble"`` (parametric, no torch), ``"pfn"`` (needs torch) or ``"auto"``.
        examples: summarise an example table (``examples.parquet``/``.npz``) found beside each run's log.
        detector_params: the earlier name of ``params``.
    Raises:
        InputError: when no run has a usable held-out series (the message of the first run says what to log).
        UsageError: unknown detector names or bad parameters.
    """
    from . import launches

    params = params if params is not None else detector_params
    launch_params = (params or {}).get(launches.OWNER)
    params = {k: v for k, v in params.items() if k != launches.OWNER} if params else params
    detectors = _check_options(detectors, params, forecast_method)
    runs = [analyze_run(r, monitor=monitor, detectors=detectors, params=params) for r in history]
    demoted = set(launches.apply(runs, launch_params))
    for r in runs:
        if r.name in demoted and r.summary is not None:
            r.summary = summarize_run(r)
    runs += _unread_runs(history)
    if runs and all(r.error for r in runs):
        raise InputError(runs[0].error or "no run could be analysed")
    result = Analysis(runs)
    if examples:
        _attach_examples(result)
    if forecast or (forecast is None and len(runs) <= FORECAST_MAX_RUNS):
        result.notes.extend(_attach_forecasts(result, forecast_method))
    if len(runs) > 1:
        summaries = [r.summary for r in runs if r.summary is not None]
        result.effects = hyperparameter_effects(summaries)
    return result


def _unread_runs(history: History) -> list[RunAnalysis]:
    """A run entry with ``error`` for every file or directory of a sweep the readers could not read (issue 12:
    never dropped silently)."""
    from .readers import UNREAD, unread

    return [RunAnalysis(n.run, n.source, "epoch", None, None, [], Run.without_rows(n.run, n.source),
                        error=n.message[len(UNREAD):] if n.message.startswith(UNREAD) else n.message)
            for n in unread(history)]


# ---------------------------------------------------------------------------------------------- forecast
def _attach_forecasts(result: Analysis, method: str) -> list[str]:
    """Forecast every run that can be; returns why runs were not forecast (``"run: why"``), never raises."""
    try:
        from .forecast.core import forecast_for_analysis
    except ImportError:
        return ["gapwatch.forecast is not available"]
    notes: list[str] = []
    for r in result.runs:
        if r.monitor is None or r.error:
            continue
        reasons: list[str] = []
        run, thinned = forecast_input(r.history, r.monitor)
        fc = forecast_for_analysis(run, r.monitor, method=method, reasons=reasons)
        if fc is not None:
            if thinned:
                fc.notes.append(thinned)
            r.forecast = fc
        notes.extend(f"{r.name}: {why}" for why in reasons)
    return notes


def forecast_input(run: Run, mon: Monitor, max_points: int = FORECAST_MAX_POINTS) -> tuple[Run, str | None]:
    """The run handed to the forecaster: ``run`` itself, or, when the monitored series has more than
    ``max_points`` evaluations (all finite), only that series thinned evenly to that many evaluations (first
    and last kept), with a note saying so."""
    if not run.has(mon.split, mon.metric):
        return run, None
    s = run.series(mon.split, mon.metric)
    n = len(s)
    if n <= max_points or not np.all(np.isfinite(s.values)):
        return run, None  # (a non-finite series is refused by the forecaster as it is)
    keep = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.intp))
    frame = {"run": run.name, "step": s.step[keep], "epoch": s.epoch[keep], "split": mon.split,
             "metric": mon.metric, "value": s.values[keep], "name": s.name}
    note = (f"forecast from {keep.size:,} evenly spaced of the {n:,} evaluations (first and last kept; the "
            f"forecaster is given at most {max_points:,})")
    return Run(frame, sources=run.sources, meta=run.meta), note


# ---------------------------------------------------------------------------------------------- examples
def _attach_examples(result: Analysis) -> None:
    """Summarise the example table found beside each run's log. A table that cannot be read becomes an
    ExampleSummary with ``error`` set (shown in the report), never a failure of the analysis."""
    try:
        from .examples.summary import summary_beside
    except ImportError:  # the examples extra's dependency (pyarrow) is missing
        return
    for r in result.runs:
        if not r.source:
            continue
        try:
            r.examples = summary_beside(r.source)
        except (GapwatchError, OSError, ImportError):
            continue
