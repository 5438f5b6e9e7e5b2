"""The live guard: gapwatch's judgement inside a training loop, framework-free.

A :class:`Guard` is fed one evaluation at a time (``observe(step=…, epoch=…, val_loss=…, train_loss=…)``) and
answers with a :class:`GuardDecision`: continue or stop, which evaluation to restore, whether this one is
the new best, and any findings that appeared. It

* decides with the very same :class:`gapwatch.policy.StopPolicy` that ``gapwatch replay`` uses, fed the
  monitored series (and, with the policy's ``stop_when="all_heldout"``, the run's other held-out signals), so
  replaying the history file reproduces the live decisions exactly;
* runs the registered detectors (:func:`gapwatch.detectors.run_all`) on the history so far every
  ``detect_every`` evaluations and whenever it stops, and reports a finding the first time its
  (detector, kind) appears or when its severity rises — so the cost is bounded and nothing repeats;
* writes the run's history as JSON Lines while it goes (one line per record, flushed, so a crashed run
  can still be read by ``gapwatch analyze``). The first line is a header ``{"gapwatch": "guard/1", …}``;
  stop decisions and findings are written as ``{"gapwatch": "decision"|"finding", …}`` records, which the
  JSONL reader skips;
* prints nothing itself: it emits typed events (:class:`DecisionEvent` after every evaluation,
  :class:`FindingEvent`, :class:`StopEvent` with a :class:`StopReason`; the adapters add
  :class:`RestoreEvent`) to ``on_event``. The default sink formats them with
  :func:`gapwatch.report.terminal.format_guard_event` and prints the lines on stderr.

No torch here: best-model keeping lives in :mod:`gapwatch.keeper`, framework glue in
:mod:`gapwatch.integrations`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any, Literal

from . import guardlog
from .documents import clean_keep_nan, restore_nan
from .errors import GapwatchError, UsageError
from .findings import Finding, Severity, clean_json
from .history import History
from .io import FILE_MODE
from .monitor import Monitor, decide, parse_monitor
from .names import is_bookkeeping, normalize
from .params import Param, register, validate
from .policy import Decision, StopPolicy, StopReason

#: Version of :meth:`Guard.state_dict`.
STATE_VERSION = 1
#: Version of the history-file header (the format is owned by :mod:`gapwatch.guardlog`).
HEADER = guardlog.HEADER

#: What to do when the monitored metric is NaN or infinite.
ON_NAN = ("raise", "stop", "ignore")

#: ``collections.abc.Callable`` as a runtime type for :class:`~gapwatch.params.Param` (isinstance works on it).
_CALLABLE: type = Callable  # type: ignore[assignment]

#: The Guard's parameters (validated by :func:`gapwatch.params.validate`; documented in docs/guard.md).
SPECS: tuple[Param, ...] = register("guard", (
    Param("monitor", None, "Metric the decisions are taken on (any name normalising to the same split "
          "and metric matches: eval_loss, val/loss and valid_loss all match val_loss); None (default) lets "
          "gapwatch.monitor decide at the first evaluation, as the offline analysis does: the task metric "
          "(accuracy, F1, WER...) when one is logged beside the loss, else the validation loss; never test "
          "data.", type=str, allow_none=True),
    Param("mode", None, "'min' or 'max'; None infers it from the metric (accuracy-like → max).",
          type=str, choices=("min", "max"), allow_none=True),
    Param("policy", None, "Parameters of the stop policy (docs/policy.md); None = its defaults.",
          type=Mapping, allow_none=True),
    Param("log", None, "JSONL history file to write; None writes nothing. An existing file is refused unless "
          "overwrite=True; a guard resumed from a state (load_state_dict, a framework checkpoint) appends to it.",
          type=(str, os.PathLike), allow_none=True),
    Param("overwrite", False, "Replace an existing history file (default: refuse).", type=bool),
    Param("detect_every", 5, "Run the detectors at most every this many evaluations (and always at a stop "
          "and at close). A pass rebuilds the History, O(evaluations), so 5 keeps the cost a fifth of "
          "running them at every evaluation while findings arrive within 5 evaluations.",
          unit="evaluations", type=int, low=1),
    Param("detect_budget", 0.01, "Fraction of wall time the detectors may take: a pass waits until the time "
          "since the previous one is at least its cost / this fraction. 1% keeps gapwatch's overhead "
          "negligible on fast loops; None = the fixed detect_every schedule (deterministic findings).",
          unit="fraction", type=float, low=0.0, high=1.0, low_open=True, allow_none=True),
    Param("detectors", None, "Names of the registered detectors to run (None: all).", type=(list, tuple),
          allow_none=True),
    Param("detector_params", None, "Per-detector parameters, {detector: {name: value}}.", type=dict,
          allow_none=True),
    Param("on_nan", "raise", "Monitored metric NaN/inf: 'raise' NonFiniteMetricError, 'stop' and restore the "
          "best, or 'ignore' (the policy counts it as the worst evaluation).", type=str, choices=ON_NAN),
    Param("verbose", True, "With no on_event, print findings, the stop and the restore on stderr.", type=bool),
    Param("printer", None, "Where the default printer's lines (rich markup) go; None = rich on stderr.",
          type=_CALLABLE, allow_none=True),
    Param("run", "run", "Run name written to the history header.", type=str),
    Param("on_event", None, "Called with every GuardEvent; None = the default printer when verbose.",
          type=_CALLABLE, allow_none=True),
))


class MetricNotLoggedError(UsageError):
    """The monitored metric is absent from an evaluation; the message lists the metrics that were seen."""


class NonFiniteMetricError(GapwatchError):
    """The monitored metric is NaN or infinite (``on_nan="raise"``); names the metric and where."""


#: How the reason messages of states and logs written before the policy carried a :class:`StopReason` map onto
#: one (the first matching marker wins).
_REASON_MARKERS: tuple[tuple[str, StopReason], ...] = (
    ("(max_wait)", StopReason.NO_IMPROVEMENT),
    ("non-finite after its best", StopReason.NON_FINITE_AFTER_BEST),
    ("(confirm_p_best_behind)", StopReason.FORECAST),
    ("noise s.e.", StopReason.DEGRADATION),
)


def stop_reason_of(message: str) -> StopReason:
    """The :class:`StopReason` of a reason message recorded before decisions carried one (old states, logs)."""
    for marker, reason in _REASON_MARKERS:
        if marker in message:
            return reason
    return StopReason.OTHER


@dataclass(frozen=True)
class GuardDecision:
    """What the guard says after one evaluation.

    Attributes:
        action: ``"continue"`` or ``"stop"``.
        evaluation: 0-based index of this evaluation.
        best_index, best_step, best_epoch, best_value: the evaluation to restore (the policy's best).
        improved: this evaluation is the new best (save the weights now).
        reason: one line for people when stopping (empty otherwise).
        findings: findings that are new at this evaluation.
        policy_action: what the stop policy alone said (differs from ``action`` only when a NaN made the
            guard stop with ``on_nan="stop"``).
        stop_reason: why it stopped (None while continuing).
    """

    action: str
    evaluation: int
    best_index: int
    best_step: float | None
    best_epoch: float | None
    best_value: float
    improved: bool
    reason: str = ""
    findings: tuple[Finding, ...] = ()
    policy_action: str = "continue"
    stop_reason: StopReason | None = None

    @property
    def stop(self) -> bool:
        return self.action == "stop"

    def to_dict(self) -> dict[str, Any]:
        d = {
            k: getattr(self, k)
            for k in (
                "action",
                "evaluation",
                "best_index",
                "best_step",
                "best_epoch",
                "best_value",
                "improved",
                "reason",
                "policy_action",
            )
        }
        d["stop_reason"] = self.stop_reason.value if self.stop_reason is not None else None
        d["findings"] = [f.to_dict() for f in self.findings]
        return clean_json(d)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------- events
@dataclass(frozen=True)
class DecisionEvent:
    """After every evaluation: the guard's decision (findings new at it included)."""

    decision: GuardDecision


@dataclass(frozen=True)
class FindingEvent:
    """A finding that is new (or more severe) at evaluation ``evaluation`` (0-based)."""

    finding: Finding
    evaluation: int


@dataclass(frozen=True)
class StopEvent:
    """The guard says stop (emitted once, at the evaluation where it first does).

    Attributes:
        evaluation, step, epoch: where it stopped (0-based evaluation index; step/epoch as logged or None).
        reason: machine-readable :class:`StopReason`; message: the same for people.
        metric: the monitored metric's name as logged; best_index/step/epoch/value: what to restore.
    """

    evaluation: int
    step: float | None
    epoch: float | None
    reason: StopReason
    message: str
    metric: str
    best_index: int
    best_step: float | None
    best_epoch: float | None
    best_value: float


@dataclass(frozen=True)
class RestoreEvent:
    """An adapter loaded the kept best weights back into the model (``where``: ``"memory"``/``"disk"``)."""

    index: int
    step: float | None
    epoch: float | None
    value: float | None
    where: str


#: Everything a guard (or an adapter around it) emits to ``on_event``.
GuardEvent = DecisionEvent | FindingEvent | StopEvent | RestoreEvent


def _default_printer() -> Callable[[str], None]:
    from rich.console import Console

    con = Console(stderr=True, highlight=False)

    def emit(line: str) -> None:
        con.print(line)

    return emit


def event_printer(printer: Callable[[str], None] | None = None) -> Callable[[GuardEvent], None]:
    """The default ``on_event`` sink: format each event with
    :func:`gapwatch.report.terminal.format_guard_event` and pass the line (rich markup) to ``printer``
    (default: rich on stderr). Events without a line (e.g. a plain continue) print nothing."""
    emit = printer
    fmt: Callable[[GuardEvent], str | None] | None = None

    def sink(event: GuardEvent) -> None:
        nonlocal emit, fmt
        if fmt is None:
            from .report.terminal import format_guard_event

            fmt = format_guard_event
        line = fmt(event)
        if line is not None:
            if emit is None:
                emit = _default_printer()
            emit(line)

    return sink


@dataclass
class Guard:
    """Online overfitting guard (see module docstring).

    Args:
        monitor: the metric decisions are taken on, e.g. ``"val_loss"``, ``"eval_accuracy"``; any name that
            normalises to the same split/metric matches (``eval_loss`` matches ``val_loss``). ``None`` (default):
            :func:`gapwatch.monitor.decide` picks at the first evaluation, as the offline analysis does (the
            task metric beside the loss, else the validation loss; test data is never chosen).
        mode: ``"min"``/``"max"``; ``None`` infers it from the metric (accuracy-like → max).
        policy: parameters of :class:`~gapwatch.policy.StopPolicy` (units: evaluations); ``None`` = defaults.
        log: path of the JSONL history file to write; ``None`` writes nothing. An existing file is never
            replaced unless ``overwrite=True``; a guard resumed with :meth:`load_state_dict` appends to it.
        detect_every: run the detectors at most every this many evaluations (≥ 1; default 5), and always at
            a stop and at :meth:`close`. A detector pass rebuilds the History: O(evaluations) per pass.
        detect_budget: fraction of wall time (0 < f ≤ 1; default 0.01) the detectors may take: a pass is
            postponed until the time since the previous pass is at least ``cost of that pass / f``, so
            on very fast loops findings come a few evaluations later instead of slowing training.
            ``None``: a fixed schedule (every ``detect_every`` evaluations; deterministic findings).
        detectors: names of the registered detectors to run (default: all).
        detector_params: per-detector parameters passed to :func:`gapwatch.detectors.run_all`.
        on_nan: monitored metric NaN/inf → ``"raise"`` :class:`NonFiniteMetricError` (default), ``"stop"``
            (stop and restore the best), or ``"ignore"`` (the policy counts it as the worst evaluation).
        verbose: with no ``on_event``, print new findings, the stop and the restore as log lines on stderr.
        printer: where those lines go (a callable taking one rich-markup string); default rich stderr.
            Ignored when ``on_event`` is given.
        run: run name written to the header.
        on_event: called with every :data:`GuardEvent` (typed data; see the module docstring). ``None``:
            the default printer when ``verbose``, else nothing.
    """

    monitor: str | None = None
    mode: Literal["min", "max"] | None = None
    policy: Mapping[str, Any] | None = None
    log: str | os.PathLike[str] | None = None
    overwrite: bool = False
    detect_every: int = 5
    detect_budget: float | None = 0.01
    detectors: Sequence[str] | None = None
    detector_params: dict[str, dict[str, Any]] | None = None
    on_nan: str = "raise"
    verbose: bool = True
    printer: Callable[[str], None] | None = field(default=None, repr=False)
    run: str = "run"
    on_event: Callable[[GuardEvent], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        given = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        for k, v in validate("Guard", SPECS, given).items():
            setattr(self, k, v)
        self._policy_params = dict(self.policy or {})
        self._mon: Monitor | None = None
        self._policy: StopPolicy | None = None
        if self.monitor is not None:
            self._set_monitor(parse_monitor(self.monitor, self.mode))
        self._records: list[dict[str, Any]] = []  # every record written (evaluations and extra logs)
        self._n_eval = 0
        self._reported: dict[tuple[str, str], int] = {}  # (detector, kind) -> severity rank reported
        self._findings: list[Finding] = []
        self._decisions: list[GuardDecision] = []
        self._fh: IO[str] | None = None
        self._log_path = Path(self.log) if self.log is not None else None
        self._resumed = False
        self._nan_stop: dict[str, Any] | None = None
        self._seen_names: list[str] = []
        self._since_detect = 0  # evaluations since the last detector pass
        self._detect_cost = 0.0  # seconds the last pass took
        self._detect_end = time.perf_counter()
        if self.on_event is not None:
            self._sink: Callable[[GuardEvent], None] | None = self.on_event
        else:
            self._sink = event_printer(self.printer) if self.verbose else None

    def emit(self, event: GuardEvent) -> None:
        """Send an event to ``on_event`` (or the default printer); the adapters emit :class:`RestoreEvent`."""
        if self._sink is not None:
            self._sink(event)

    # ------------------------------------------------------------------ properties
    def _set_monitor(self, mon: Monitor) -> None:
        self._mon = mon
        self._policy = StopPolicy(mon.mode, dict(self._policy_params))
        self._policy_params = dict(self._policy.params)
        if getattr(self, "_fh", None) is not None:  # the header went out first: record the decision after it
            self._write_line(guardlog.monitor_record(monitor=mon.label, mode=mon.mode))

    @property
    def monitored(self) -> Monitor | None:
        """The monitored split/metric/mode (None until known)."""
        return self._mon

    @property
    def stop_policy(self) -> StopPolicy | None:
        return self._policy

    @property
    def evaluations(self) -> int:
        """Evaluations observed so far."""
        return self._n_eval

    @property
    def decisions(self) -> list[GuardDecision]:
        """Every decision taken, in order (one per :meth:`observe`)."""
        return list(self._decisions)

    @property
    def findings(self) -> list[Finding]:
        """Findings reported so far (newest severity of each kind)."""
        return list(self._findings)

    @property
    def last(self) -> GuardDecision | None:
        return self._decisions[-1] if self._decisions else None

    @property
    def stopped(self) -> bool:
        return bool(self._decisions) and self._decisions[-1].stop

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    # ------------------------------------------------------------------ writing
    def check_log(self) -> None:
        """Raise :class:`UsageError` if the history file exists and this guard may not write to it (not
        resumed from a state that wrote it, and ``overwrite`` is False). Called at the first write; the
        adapters call it when training starts (after any resume) so a clash fails before the first epoch."""
        p = self._log_path
        if p is not None and self._fh is None and p.exists() and not self._resumed and not self.overwrite:
            raise UsageError(
                f"{p} already exists; refusing to overwrite it. Pass overwrite=True, choose another log "
                "path, or resume from a checkpoint holding this guard's state (load_state_dict)"
            )

    def _open(self) -> IO[str] | None:
        if self._log_path is None:
            return None
        if self._fh is None:
            self.check_log()
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            append = self._resumed and self._log_path.exists()
            if append:
                append = _cut_torn_line(self._log_path)
            self._fh = _open_log(self._log_path, append)
            if not append:
                self._write_line(
                    guardlog.header_record(
                        run=self.run,
                        monitor=self._mon.label if self._mon else None,
                        mode=self._mon.mode if self._mon else None,
                        policy=self._policy_params,
                    )
                )
            else:
                self._write_line(guardlog.resume_record(self._n_eval))
        return self._fh

    def _write_line(self, obj: Mapping[str, Any]) -> None:
        fh = self._fh
        if fh is None:
            return
        fh.write(guardlog.encode(obj))
        fh.flush()  # one line at a time: a crash loses at most the line being written

    def _write(self, obj: Mapping[str, Any]) -> None:
        if self._open() is not None:
            self._write_line(obj)

    def close(self) -> None:
        """Run the detectors one last time and close the history file (idempotent)."""
        if self._fh is not None:
            if self._n_eval and self._since_detect and not self.stopped:
                self._detect(self._n_eval - 1)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ inputs
    def _clean(self, step: float | None, epoch: float | None, metrics: Mapping[str, Any]) -> dict[str, Any]:
        rec: dict[str, Any] = {}
        for k, v in (("step", step), ("epoch", epoch)):
            if v is not None:
                fv = _number(v, k)
                rec[k] = int(fv) if float(fv).is_integer() and k == "step" else fv
        for k, v in metrics.items():
            if v is None:
                continue
            rec[str(k)] = _number(v, str(k))
            if k not in self._seen_names:
                self._seen_names.append(str(k))
        return rec

    def log_metrics(self, *, step: float | None = None, epoch: float | None = None, **metrics: Any) -> None:
        """Record metrics that are not an evaluation (e.g. the training loss every N steps); no decision."""
        rec = self._clean(step, epoch, metrics)
        if len(rec) > sum(k in rec for k in ("step", "epoch")):
            self._records.append(rec)
            self._write(rec)

    def _find_monitored(self, metrics: Mapping[str, Any]) -> str:
        mon = self._mon
        if mon is None:  # an internal invariant, not user input
            raise RuntimeError("gapwatch internal error: mon is unset")
        if self.monitor in metrics:
            return str(self.monitor)
        for k in metrics:
            if is_bookkeeping(str(k)):
                continue
            if normalize(str(k), default_split="train") == (mon.split, mon.metric):
                return str(k)
        seen = ", ".join(sorted(str(k) for k in metrics if k not in ("step", "epoch"))) or "none"
        raise MetricNotLoggedError(
            f"the monitored metric {self.monitor or mon.label!r} was not in this evaluation "
            f"(evaluation {self._n_eval}); metrics seen: {seen}. Log it from your validation step, or pass "
            f"monitor= one of the metrics above"
        )

    def _pick_monitor(self, rec: Mapping[str, Any]) -> None:
        h = History.from_records([rec], run=self.run)
        splits = {sp for sp, _ in h.keys()}  # noqa: SIM118 - a History (iterating it gives runs)
        if "test" in splits and "val" not in splits:
            raise UsageError(
                "Guard(monitor=None): only test metrics were logged; decisions must be taken on a "
                "validation set. Log one (e.g. 'val_loss') or pass monitor= explicitly"
            )
        try:  # the one monitor decision (gapwatch.monitor.decide): the task metric beside the loss decides
            mon = decide(h, allow_test=False).monitor
        except GapwatchError as exc:
            raise UsageError(
                "Guard(monitor=None): no validation metric in the first evaluation; metrics seen: "
                f"{', '.join(sorted(k for k in rec if k not in ('step', 'epoch'))) or 'none'}. "
                "Log one such as 'val_loss' or pass monitor="
            ) from exc
        if self.mode is not None:
            mon = Monitor(mon.split, mon.metric, self.mode)
        self._set_monitor(mon)

    # ------------------------------------------------------------------ the decision
    def observe(
        self, *, step: float | None = None, epoch: float | None = None, **metrics: Any
    ) -> GuardDecision:
        """Feed one evaluation (all metrics computed at it, train and held-out); returns the decision.

        Args:
            step: optimizer step of the evaluation (optional but recommended).
            epoch: epoch, possibly fractional.
            **metrics: name → number (Python/numpy scalars; 0-d tensors must be converted by the caller).
        Raises:
            MetricNotLoggedError: the monitored metric is absent (lists the metrics seen).
            NonFiniteMetricError: it is NaN/inf and ``on_nan="raise"`` (the record is written first).
        """
        rec = self._clean(step, epoch, metrics)
        if self._mon is None:
            self._pick_monitor(rec)
        key = self._find_monitored(rec)
        value = float(rec[key])
        i = self._n_eval
        self._records.append(rec)
        self._write(rec)
        if not math.isfinite(value) and self.on_nan == "raise":
            raise self._non_finite_error(key, value, i, step, epoch)
        if self._policy is None:  # an internal invariant, not user input
            raise RuntimeError("gapwatch internal error: self._policy is unset")
        d: Decision = self._policy.update(value, step=rec.get("step"), epoch=rec.get("epoch"),
                                          others=self._other_signals(rec))
        self._n_eval += 1
        action, reason, why = self._action(d, key, value, i)
        stopping = action == "stop" and not self.stopped
        new: list[Finding] = []
        self._since_detect += 1
        if stopping or self._detect_due():
            new = self._detect(i)
        dec = GuardDecision(
            action,
            i,
            d.best_index,
            d.best_step,
            d.best_epoch,
            d.best_value,
            d.improved,
            reason,
            tuple(new),
            d.action,
            why,
        )
        self._decisions.append(dec)
        if stopping:
            self._write(guardlog.decision_record({**dec.to_dict(), "findings": None}))
            self.emit(
                StopEvent(
                    i, rec.get("step"), rec.get("epoch"), why or StopReason.OTHER, reason, key,
                    d.best_index, d.best_step, d.best_epoch, d.best_value,
                )
            )
        self.emit(DecisionEvent(dec))
        return dec

    def _other_signals(self, rec: Mapping[str, Any]) -> dict[str, float] | None:
        """With the policy's ``stop_when="all_heldout"``, the values of the other held-out signals in this
        evaluation's record (None otherwise). The signals are fixed at the first evaluation: the evidence of
        the monitor decision on it (:func:`gapwatch.replay.heldout_signals`), as replaying the log does."""
        pol = self._policy
        if pol is None or self._mon is None or pol.params["stop_when"] != "all_heldout":
            return None
        if pol.evaluations_seen == 0 and not pol.signals:
            from .replay import heldout_signals

            h = History.from_records([dict(rec)], run=self.run)
            pol.set_signals({s.name: mode for s, mode in heldout_signals(h, self._mon)})
        return {k: rec[k] for k in pol.signals if k in rec}

    def _non_finite_error(
        self, key: str, value: float, i: int, step: float | None, epoch: float | None
    ) -> NonFiniteMetricError:
        best = self.last
        where = f"best so far: evaluation {best.best_index} ({best.best_value:.6g})" if best else "no best yet"
        return NonFiniteMetricError(
            f"monitored metric {key!r} is {value} at evaluation {i} (step {step}, epoch {epoch}); "
            f"training has likely diverged — {where}. Lower the learning rate or clip gradients; pass "
            "on_nan='stop' to stop and restore instead of raising"
        )

    def _action(self, d: Decision, key: str, value: float, i: int) -> tuple[str, str, StopReason | None]:
        """``(action, reason, stop reason)`` of evaluation ``i`` from the policy's decision ``d`` and the
        ``on_nan="stop"`` rule; reason and stop reason are empty/None while continuing."""
        action, reason = d.action, d.reason
        why = (d.stop_reason or StopReason.OTHER) if action == "stop" else None
        if not math.isfinite(value) and self.on_nan == "stop" and self._nan_stop is None:
            self._nan_stop = {"evaluation": i, "metric": key}
        if self._nan_stop is not None and action != "stop":
            action, why = "stop", StopReason.NON_FINITE
            reason = (
                f"{key} became non-finite at evaluation {self._nan_stop['evaluation']}; "
                f"stopping and restoring evaluation {d.best_index}"
            )
        if self.stopped and self._decisions[-1].stop_reason is not None:
            why = self._decisions[-1].stop_reason  # "stopped earlier": the first stop's reason stays
        if action != "stop":
            return action, "", None
        return action, reason, why

    def _detect_due(self) -> bool:
        if self._since_detect < self.detect_every:
            return False
        if self.detect_budget is None:
            return True
        return self._detect_cost <= self.detect_budget * (time.perf_counter() - self._detect_end)

    def _detect(self, i: int) -> list[Finding]:
        from .detectors import run_all

        if self._mon is None or not self._records:
            return []
        t0 = time.perf_counter()
        try:
            h = History.from_records(self._records, run=self.run)
            only = list(self.detectors) if self.detectors is not None else None
            found = run_all(h, monitor=self._mon, params=self.detector_params, only=only)
        except (GapwatchError, KeyError):
            found = []
        self._since_detect = 0
        self._detect_end = time.perf_counter()
        self._detect_cost = self._detect_end - t0
        new = []
        for f in found:
            k = (f.detector, str(f.kind))
            if k in self._reported and self._reported[k] >= f.severity.rank:
                continue
            self._reported[k] = f.severity.rank
            new.append(f)
            self._findings = [g for g in self._findings if (g.detector, str(g.kind)) != k] + [f]
            self._write(guardlog.finding_record(i, f.to_dict()))
            self.emit(FindingEvent(f, i))
        return new

    def history(self) -> History:
        """The History of everything observed so far (same content as the written file)."""
        return History.from_records(self._records, run=self.run, source=str(self._log_path or ""))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Versioned JSON-able state; a fresh Guard given it via :meth:`load_state_dict` takes the same
        future decisions and appends to the same history file."""
        state: dict[str, Any] = clean_keep_nan(
            {
                "version": STATE_VERSION,
                "monitor": self.monitor,
                "monitored": self._mon.to_dict() if self._mon else None,
                "policy": self._policy.state_dict() if self._policy else None,
                "policy_params": self._policy_params,
                "records": self._records,
                "evaluations": self._n_eval,
                "reported": [[d, k, r] for (d, k), r in self._reported.items()],
                "findings": [f.to_dict() for f in self._findings],
                "decisions": [d.to_dict() for d in self._decisions],
                "nan_stop": self._nan_stop,
                "log": str(self._log_path) if self._log_path else None,
                "detect_every": self.detect_every,
                "since_detect": self._since_detect,
                "on_nan": self.on_nan,
            }
        )
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output; :class:`UsageError` on another version or unknown keys."""
        keys = {
            "version",
            "monitor",
            "monitored",
            "policy",
            "policy_params",
            "records",
            "evaluations",
            "reported",
            "findings",
            "decisions",
            "nan_stop",
            "log",
            "detect_every",
            "since_detect",
            "on_nan",
        }
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            got = state.get("version") if isinstance(state, Mapping) else type(state).__name__
            raise UsageError(f"Guard state: expected version {STATE_VERSION}, got {got!r}")
        if set(state) != keys:
            raise UsageError(f"Guard state: unexpected keys {sorted(set(state) ^ keys)}")
        if state["monitored"] is not None:
            m = state["monitored"]
            self._set_monitor(Monitor(m["split"], m["metric"], m["mode"]))
            if self._policy is None:  # an internal invariant, not user input
                raise RuntimeError("gapwatch internal error: self._policy is unset")
            if state["policy"] is not None:
                self._policy.load_state_dict(restore_nan(state["policy"]))
        self._policy_params = dict(state["policy_params"])
        self._records = [restore_nan(r) for r in state["records"]]
        self._n_eval = int(state["evaluations"])
        self._reported = {(d, k): int(r) for d, k, r in state["reported"]}
        self._findings = [_finding(f) for f in state["findings"]]
        self._decisions = [_decision(d) for d in state["decisions"]]
        self._nan_stop = state["nan_stop"]
        self.detect_every = int(state["detect_every"])
        self._since_detect = int(state["since_detect"])
        self.on_nan = str(state["on_nan"])
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._resumed = True


# ---------------------------------------------------------------------- helpers
def _number(v: Any, key: str) -> float:
    if isinstance(v, (bool, str)):
        raise UsageError(f"metric {key!r}: expected a number, got {v!r}")
    item = getattr(v, "item", None)
    if callable(item) and getattr(v, "ndim", 0) == 0:
        v = item()
    try:
        return float(v)
    except (TypeError, ValueError):
        raise UsageError(f"metric {key!r}: expected a number, got {type(v).__name__} {v!r:.60}") from None


def _where(step: Any, epoch: Any) -> str:
    parts = []
    if epoch is not None and not (isinstance(epoch, float) and math.isnan(epoch)):
        parts.append(f"epoch {epoch:g}")
    if step is not None and not (isinstance(step, float) and math.isnan(step)):
        parts.append(f"step {step:g}")
    return f" ({', '.join(parts)})" if parts else ""


def _cut_torn_line(path: Path, *, chunk: int = 1 << 16) -> bool:
    """Before a resumed guard appends to its history file, cut a last line that a crash left unfinished (no
    newline at the end), so the next record does not glue onto it and make the file unreadable. Returns
    False when no complete line is left (the file is then empty and gets a new header)."""
    if path.is_symlink() or not path.is_file():
        return True  # _open_log refuses it with a clear message
    try:
        with open(path, "rb+") as fh:
            end = fh.seek(0, os.SEEK_END)
            pos = end
            while pos > 0:
                start = max(0, pos - chunk)
                fh.seek(start)
                block = fh.read(pos - start)
                if pos == end and block.endswith(b"\n"):
                    return True  # the last line is complete
                nl = block.rfind(b"\n")
                if nl >= 0:
                    fh.truncate(start + nl + 1)
                    return True
                pos = start
            fh.truncate(0)
            return False
    except OSError as exc:
        raise UsageError(f"{path}: cannot repair the guard history before appending ({exc.strerror})") from None


def _open_log(path: Path, append: bool) -> IO[str]:
    """Open the history file for writing or appending, never through a symbolic link (a planted link would
    make the guard rewrite its target) and never onto a directory or device; a clear error naming it."""
    if path.is_symlink():
        raise UsageError(f"{path} is a symbolic link; refusing to write the guard history through it")
    if path.exists() and not path.is_file():
        raise UsageError(f"{path} is not a regular file; refusing to write the guard history there")
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the guard history ({exc.strerror or exc})") from None
    return os.fdopen(fd, "a" if append else "w", encoding="utf-8")


def _finding(d: Mapping[str, Any]) -> Finding:
    return Finding(
        kind=d["kind"],
        severity=Severity(d["severity"]),
        message=d["message"],
        step=d.get("step"),
        epoch=d.get("epoch"),
        evidence=dict(d.get("evidence") or {}),
        actions=tuple(d.get("actions") or ()),
        references=tuple(d.get("references") or ()),
        detector=d.get("detector", ""),
    )


def _decision(d: Mapping[str, Any]) -> GuardDecision:
    bv = d["best_value"]
    return GuardDecision(
        d["action"],
        int(d["evaluation"]),
        int(d["best_index"]),
        d["best_step"],
        d["best_epoch"],
        float("nan") if bv is None else float(bv),
        bool(d["improved"]),
        d["reason"],
        tuple(_finding(f) for f in d["findings"]),
        d["policy_action"],
        _stop_reason_field(d),
    )


def _stop_reason_field(d: Mapping[str, Any]) -> StopReason | None:
    """The stop reason of a stored decision; states written before it existed get it from the message."""
    if d["action"] != "stop":
        return None
    got = d.get("stop_reason")
    if got is None:
        return StopReason.NON_FINITE if d["policy_action"] != "stop" else stop_reason_of(str(d["reason"]))
    try:
        return StopReason(got)
    except ValueError:
        raise UsageError(f"Guard state: decision stop_reason {got!r} is not one of "
                         f"{[r.value for r in StopReason]}") from None
