"""The follow loop of ``gapwatch watch``: discover runs, tail them, analyse what changed, emit events.

On start every run is read whole and its monitored series is fed, one evaluation at a time, to the same online
:class:`~gapwatch.policy.StopPolicy` the live guard and ``gapwatch replay`` use, and the run is analysed with
:func:`gapwatch.analysis.analyze_run` (the same detectors as ``gapwatch analyze``): watching a finished log
therefore reports ``analyze``'s findings and ``replay``'s stop decision. After that each poll reads only what
is new (see :mod:`gapwatch.watch.tail`), feeds the new evaluations to the policy and re-runs the detectors on
the runs that changed. A finding is emitted once per run and key (detector, kind, severity — an escalation
from warning to critical is a new finding); the online policy's first "stop" is emitted once. Launches appended
to one log are judged as ``analyze`` judges them (:mod:`gapwatch.launches`): the findings of a launch before the
deciding one are reported at info; a finding emitted before a later launch appeared is not taken back.

Discovery: ``PATH`` is a log file, a run directory, or a directory of runs; below a directory of runs every
log and run directory a reader recognises is a run (as :func:`gapwatch.readers.load` names them), and new ones
are picked up at each full poll. Unrecognised files are sniffed again only when their size or time changes.

Polling runs every ``interval`` seconds. Where the ``watchdog`` package is installed, file-system events
(inotify on Linux) also wake the loop: only the runs whose files changed are read, at most once per
:data:`DEBOUNCE_S`, so new data is reported within about a second instead of ``interval``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import launches
from ..analysis import RunAnalysis, analyze_run
from ..errors import InputError, UsageError
from ..findings import Finding, FindingKind, Severity
from ..history import History
from ..monitor import Monitor
from ..policy import StopPolicy
from ..readers import sniff
from ..readers.base import NoSuchExperiment, accepts, check_options
from .events import event, finding_event
from .sinks import AlertState, CommandSink, Sink, SinkError, WebhookSink
from .tail import Tailer, make_tailer

#: Minimum seconds between two event-triggered (watchdog) polls: bursts of writes are read together.
DEBOUNCE_S = 0.5
#: How often a waiting watch looks at its stop event (seconds): the longest a stop from another thread waits.
STOP_CHECK_S = 0.5
#: Exit code when a finding at or above ``fail_on`` was reported.
EXIT_FINDING = 3
#: File name of the alert state kept next to the watched path (a dot-file: run discovery skips it).
STATE_NAME = ".gapwatch-watch.json"

Emit = Callable[[dict[str, Any]], None]


@dataclass
class WatchOptions:
    """Parameters of a watch (validated by :meth:`validate`).

    Attributes:
        interval: seconds between full polls (> 0; default 10).
        monitor: the series to monitor; None: chosen per run as ``analyze`` chooses it.
        policy_params: overrides of the stop policy's parameters (:data:`gapwatch.policy.DEFAULTS`).
        detector_params: per-detector keyword arguments, as ``analyze`` takes them.
        fail_on: findings at or above this severity make the watch exit with :data:`EXIT_FINDING`
            (``once``: at the end of the pass; following: as soon as one is reported).
        alert_on: findings at or above this severity go to the alert sinks (stop recommendations always do).
        idle_end: seconds without new data after which a run is reported ended (None: never).
        use_watchdog: use file-system events when ``watchdog`` is installed.
        experiment: watch only the runs of this experiment of the tracker stores (an MLflow experiment, a W&B
            or trackio project; see :func:`gapwatch.readers.load`): a single log without experiments is a
            usage error, and below a directory only the tracker stores are watched.
    """

    interval: float = 10.0
    monitor: Monitor | None = None
    policy_params: dict[str, Any] = field(default_factory=dict)
    detector_params: dict[str, dict[str, Any]] | None = None
    fail_on: Severity | None = None
    alert_on: Severity = Severity.WARNING
    idle_end: float | None = None
    use_watchdog: bool = True
    experiment: str | None = None

    def validate(self) -> None:
        iv = self.interval
        if isinstance(iv, bool) or not isinstance(iv, (int, float)) or not iv > 0:
            raise UsageError(f"--interval must be a number of seconds > 0, got {self.interval!r}")
        if self.experiment is not None and (not isinstance(self.experiment, str) or not self.experiment.strip()):
            raise UsageError(f"--experiment must be an experiment name, got {self.experiment!r}")
        if self.idle_end is not None and not self.idle_end > 0:
            raise UsageError(f"--idle-end must be a number of seconds > 0, got {self.idle_end!r}")
        try:
            StopPolicy("min", dict(self.policy_params))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        launches.options((self.detector_params or {}).get(launches.OWNER))


@dataclass
class _Run:
    """What the watch knows about one run."""

    name: str
    source: str
    monitor: Monitor | None = None
    policy: StopPolicy | None = None
    fed: list[float] = field(default_factory=list)
    stopped: bool = False
    emitted: set[str] = field(default_factory=set)
    ended: bool = False
    evaluations: int = 0  # finite evaluations of the monitored series (which launch of a log decides)


@dataclass
class _Source:
    """One tailed file or run directory (usually one run; a long CSV may hold several)."""

    path: Path
    name: str
    tailer: Tailer
    runs: list[str] = field(default_factory=list)
    last_change: float = field(default_factory=time.monotonic)
    error: str = ""
    missing: NoSuchExperiment | None = None  # a store without the experiment watched (as of its last change)


def finding_key(f: Finding) -> str:
    """Identity of a finding across polls: detector, kind, severity (+ the message for log notes)."""
    kind = f.kind.value if isinstance(f.kind, FindingKind) else str(f.kind)
    key = f"finding:{f.detector}:{kind}:{f.severity.value}"
    if kind == FindingKind.DATA.value:
        key += ":" + hashlib.sha1(f.message.encode()).hexdigest()[:12]
    return key


def _live_only(f: Finding) -> bool:
    """Findings that only mean "not enough logged yet" while a run is still training."""
    return f.detector == "monitor" and "evaluations" in f.evidence


class Watcher:
    """Watch ``path``; every event goes to ``emit`` and, when it qualifies, to the alert ``sinks``.

    Args:
        path: a log file, a run directory, or a directory of runs.
        options: see :class:`WatchOptions`.
        sinks: alert sinks (``--notify``, ``--webhook``).
        state_path: the alert state file (None: alerts are remembered in memory only).
        emit: receives each event dict (schema ``gapwatch.watch/1``).

    Raises:
        UsageError: ``path`` does not exist, or an option is invalid.
    """

    def __init__(self, path: Path, options: WatchOptions | None = None, *, sinks: Sequence[Sink] = (),
                 state_path: Path | None = None, emit: Emit | None = None) -> None:
        self.root = Path(path)
        if not self.root.exists():
            raise UsageError(f"{self.root}: no such file or directory")
        self.options = options or WatchOptions()
        self.options.validate()
        self.sinks = list(sinks)
        self.alerts = AlertState(state_path, inputs=[path])
        self.emit_fn = emit or (lambda ev: None)
        self.sources: dict[Path, _Source] = {}
        self.runs: dict[str, _Run] = {}
        self.rejected: dict[Path, tuple[int, int]] = {}
        self.pending: list[dict[str, Any]] = []
        self.worst: Severity | None = None
        self.once = False
        self.single = self.root.is_file() or sniff(self.root) is not None
        self._wake = threading.Event()
        self._dirty: set[str] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ events
    def emit(self, ev: dict[str, Any]) -> None:
        self.emit_fn(ev)

    def _alert(self, run: str, key: str, ev: dict[str, Any]) -> None:
        if not self.sinks or self.alerts.seen(run, key):
            return
        ev = dict(ev, alert_key=key)
        self.pending.append(ev)

    def _deliver(self) -> None:
        if not self.pending:
            return
        left: list[dict[str, Any]] = []
        for ev in self.pending:
            ok = True
            for s in self.sinks:
                try:
                    s.send(ev)
                except SinkError as exc:
                    ok = False
                    self.emit(event("error", ev.get("run"), message=f"alert not delivered: {exc}"))
            if ok:
                self.alerts.mark(str(ev.get("run")), str(ev["alert_key"]))
            else:
                left.append(ev)
        self.pending = left
        try:
            self.alerts.save()
        except (OSError, UsageError) as exc:
            self.emit(event("error", None, message=f"cannot write the watch state file: {exc}"))

    # ------------------------------------------------------------------ discovery
    def _add(self, path: Path, mod: Any, name: str) -> None:
        exp = self.options.experiment
        if exp is not None and not accepts(mod, "experiment"):
            if self.single:  # one log without experiments: the user's mistake, said in one line
                check_options(mod, {"experiment": exp}, path)
            return  # below a directory: not part of the experiment watched
        self.sources[path] = _Source(path, name, make_tailer(path, name, mod, exp))

    def discover(self) -> None:
        """Find runs not yet watched (the first call finds every run)."""
        if self.single:
            if not self.sources:
                self._discover_single()
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            d = Path(dirpath)
            dirnames[:] = self._consider_dirs(d, dirnames)
            for fname in sorted(filenames):
                self._consider_file(d / fname)

    def _discover_single(self) -> None:
        """The one run of a watch on a single log (a file, or a run directory a reader recognises)."""
        mod = sniff(self.root) if self.root.is_dir() or self.root.stat().st_size else None
        if mod is None and self.root.is_file() and self.root.stat().st_size:
            raise InputError("unknown log format (no reader recognises it)", path=self.root)
        if mod is not None:
            self._add(self.root, mod, self.root.stem if self.root.is_file() else self.root.name)

    def _consider_dirs(self, d: Path, dirnames: list[str]) -> list[str]:
        """Watch the subdirectories of ``d`` that are runs; the others (to walk into) in sorted order."""
        keep = []
        for name in sorted(dirnames):
            sub = d / name
            if name.startswith(".") or sub in self.sources:
                continue
            mod = sniff(sub)
            if mod is None:
                keep.append(name)
            else:
                self._add(sub, mod, sub.relative_to(self.root).as_posix())
        return keep

    def _consider_file(self, f: Path) -> None:
        if f.name.startswith(".") or f in self.sources:
            return
        try:
            st = f.stat()
        except OSError:
            return
        sig = (st.st_size, st.st_mtime_ns)
        if st.st_size == 0 or self.rejected.get(f) == sig:
            return
        mod = sniff(f)
        if mod is None:
            self.rejected[f] = sig
            return
        rel = f.relative_to(self.root)
        name = rel.with_suffix("").as_posix() if rel.suffix else rel.as_posix()
        if any(s.name == name for s in self.sources.values()):  # log.csv beside log.jsonl: keep the suffix
            name = rel.as_posix()
        self._add(f, mod, name)

    # ------------------------------------------------------------------ polling
    def poll(self, only: set[Path] | None = None) -> None:
        """One pass: discover (full passes only), read what is new, analyse the runs that changed, alert.

        Raises:
            NoSuchExperiment: (first pass, ``options.experiment``) no watched store has that experiment.
        """
        first = not self.sources and not self.runs
        if only is None:
            self.discover()
        for path in list(self.sources):
            if only is not None and path not in only:
                continue
            self._poll_source(self.sources[path])
        if first:
            self._check_experiment()
        self._deliver()

    def _check_experiment(self) -> None:
        """After the first pass: the experiment watched must exist in at least one store (a typo is far
        likelier than an experiment not created yet); stores appearing later are still picked up."""
        missing = [s.missing for s in self.sources.values() if s.missing is not None]
        exp = self.options.experiment
        if exp is not None and missing and not self.runs:
            kinds = {m.kind for m in missing}
            raise NoSuchExperiment(exp, [e for m in missing for e in m.found], self.root,
                                   kind=kinds.pop() if len(kinds) == 1 else "experiment")

    def _poll_source(self, src: _Source) -> None:
        try:
            h = src.tailer.poll()
        except NoSuchExperiment as exc:
            if self.single:
                raise
            src.missing = exc  # this store lacks the experiment (until its files change)
            return
        except FileNotFoundError:
            self.emit(event("error", src.name, message=f"{src.path}: disappeared while watched"))
            for r in src.runs or [src.name]:
                self.emit(event("run_ended", r, reason="vanished"))
                self.runs.pop(r, None)
            del self.sources[src.path]
            return
        except (InputError, OSError) as exc:
            msg = str(exc) if isinstance(exc, InputError) else f"{src.path}: {exc}"
            if msg != src.error:
                self.emit(event("error", src.name, message=msg))
            src.error = msg
            return
        src.error = ""
        if h is not None:
            src.missing = None
        now = time.monotonic()
        if h is None:
            self._check_idle(src, now)
            return
        src.last_change = now
        if h.empty:
            return
        hs = list(h)
        analysed = []
        for rh in hs:
            # several runs in one file (a long CSV with a run column) are named as readers.load names them
            name = src.name if len(hs) == 1 else rh.name if self.single else f"{src.name}/{rh.name}"
            analysed.append((name, self._analyse_run(src, name, rh)))
        decides = self._deciding_launches(src)
        for name, ra in analysed:
            chosen = decides.get(name)
            self._report(name, ra.findings if chosen in (None, name) else launches.earlier(ra.findings, chosen))

    def _deciding_launches(self, src: _Source) -> dict[str, str]:
        """The launch that decides for each launch appended to the source's log (:mod:`gapwatch.launches`, as
        ``analyze`` judges them): the latest with enough evaluations seen so far."""
        opts = launches.options((self.options.detector_params or {}).get(launches.OWNER))
        if not opts["latest_decides"]:
            return {}
        seen = [(n, self.runs[n].source, self.runs[n].evaluations) for n in src.runs if n in self.runs]
        return launches.deciding_by_counts(seen, opts["min_evaluations"])

    def _check_idle(self, src: _Source, now: float) -> None:
        idle = self.options.idle_end
        if idle is None or now - src.last_change < idle:
            return
        for r in src.runs:
            run = self.runs.get(r)
            if run is not None and not run.ended:
                run.ended = True
                self.emit(event("run_ended", r, reason="idle"))

    def _analyse_run(self, src: _Source, name: str, h: History) -> RunAnalysis:
        """Register the run (``run_started`` the first time), analyse it and feed its new evaluations to its stop
        policy; the findings are reported by :meth:`_report` once every run of the source is analysed."""
        run = self.runs.get(name)
        if run is None or run.ended:
            if run is None:
                run = self.runs[name] = _Run(name, str(src.path))
                src.runs.append(name)
            run.ended = False
            self.emit(event("run_started", name, source=str(src.path), format=src.tailer.format))
        mon = run.monitor or self.options.monitor
        params = {k: v for k, v in (self.options.detector_params or {}).items() if k != launches.OWNER}
        ra = analyze_run(h, monitor=mon, params=params or None)
        if ra.monitor is not None:
            run.monitor = ra.monitor
            run.evaluations = launches.evaluations(ra)
            self._feed(run, h)
        return ra

    def _report(self, name: str, findings: list[Finding]) -> None:
        """Emit the run's findings not emitted before (and alert on those at or above ``alert_on``)."""
        run = self.runs[name]
        for f in findings:
            if not self.once and _live_only(f):
                continue
            key = finding_key(f)
            if key in run.emitted:
                continue
            run.emitted.add(key)
            ev = finding_event(name, f)
            self.emit(ev)
            if self.worst is None or f.severity.rank > self.worst.rank:
                self.worst = f.severity
            if f.severity.rank >= self.options.alert_on.rank:
                self._alert(name, key, ev)

    def _feed(self, run: _Run, h: History) -> None:
        """Feed new evaluations of the monitored series to the run's online stop policy."""
        mon = run.monitor
        if mon is None:  # an internal invariant (the caller feeds only runs with a monitor), not user input
            raise RuntimeError(f"gapwatch internal error: run {run.name!r} has no monitor to feed")
        s = h.series(mon.split, mon.metric)
        vals = np.asarray(s.values, dtype=float)
        n_fed = len(run.fed)
        same = len(vals) >= n_fed and np.array_equal(vals[:n_fed], run.fed, equal_nan=True)
        if run.policy is None or not same:
            run.policy, run.fed = StopPolicy(mon.mode, dict(self.options.policy_params)), []
        pol = run.policy
        for i in range(len(run.fed), len(vals)):
            if pol.stopped:
                break
            d = pol.update(float(vals[i]), step=float(s.step[i]), epoch=float(s.epoch[i]))
            run.fed.append(float(vals[i]))
            if d.stop and not run.stopped:
                run.stopped = True
                seen = pol.evaluations_seen
                has_best = bool(np.isfinite(vals[:seen]).any())
                ev = event("stop", run.name, monitor=mon.to_dict(), stop=s.at(seen - 1),
                           restore=s.at(d.best_index) if has_best else None,
                           restore_value=float(d.best_value) if has_best else None,
                           reason=d.reason, evaluations_seen=seen)
                self.emit(ev)
                self._alert(run.name, "stop", ev)

    # ------------------------------------------------------------------ loop
    @property
    def failed(self) -> bool:
        fo = self.options.fail_on
        return fo is not None and self.worst is not None and self.worst.rank >= fo.rank

    def _start_watchdog(self) -> Any:
        if not self.options.use_watchdog:
            return None
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            return None
        watcher = self

        class _Handler(FileSystemEventHandler):  # type: ignore[misc, unused-ignore]  # Any when watchdog is absent
            def on_any_event(self, ev: Any) -> None:
                if ev.event_type in ("opened", "closed_no_write"):
                    return
                with watcher._lock:
                    watcher._dirty.add(os.fsdecode(ev.src_path))
                watcher._wake.set()

        obs = Observer()
        target = self.root if self.root.is_dir() else self.root.parent
        try:
            obs.schedule(_Handler(), str(target), recursive=True)
            obs.start()
        except OSError as exc:  # e.g. the inotify watch limit: fall back to polling
            self.emit(event("error", None, message=f"file-system events unavailable ({exc}); polling every "
                                                   f"{self.options.interval:g} s"))
            return None
        return obs

    def _dirty_sources(self) -> set[Path] | None:
        """Sources touched by file-system events since the last poll; None when a full poll is needed."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        out: set[Path] = set()
        for p in dirty:
            q = Path(p)
            hit = next((a for a in (q, *q.parents) if a in self.sources), None)
            if hit is None:
                if q.name.startswith("."):
                    continue
                return None  # something new: discover
            out.add(hit)
        return out

    def run(self, *, once: bool = False, stop: threading.Event | None = None,
            handle_signals: bool = False) -> int:
        """Poll once (``once``) or until ``stop`` is set (or SIGINT/SIGTERM when ``handle_signals``).

        Returns:
            0, or :data:`EXIT_FINDING` when a finding at or above ``options.fail_on`` was reported (the
            worst severity reported is :attr:`worst`).
        """
        self.once = once
        stop = stop or threading.Event()
        old: dict[Any, Any] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            def _on_signal(signum: int, frame: Any) -> None:
                stop.set()
                self._wake.set()
            for sig in (signal.SIGINT, signal.SIGTERM):
                old[sig] = signal.signal(sig, _on_signal)
        obs = None
        try:
            self.poll()
            if once or self.failed:
                return EXIT_FINDING if self.failed else 0
            obs = self._start_watchdog()
            self._follow(stop)
            return EXIT_FINDING if self.failed else 0
        finally:
            if obs is not None:
                obs.stop()
                obs.join(timeout=5)
            for sig, h in old.items():
                signal.signal(sig, h)

    def _follow(self, stop: threading.Event) -> None:
        interval = float(self.options.interval)
        next_full = time.monotonic() + interval
        while not stop.is_set():
            # wait for a file event or the next full poll, looking at ``stop`` every STOP_CHECK_S: a stop set by
            # another thread (an embedding program, a test) must end the watch without waiting out the interval
            while not stop.is_set() and not self._wake.is_set():
                timeout = next_full - time.monotonic()
                if timeout <= 0:
                    break
                self._wake.wait(min(timeout, STOP_CHECK_S))
            if stop.is_set():
                return
            if self._wake.is_set():
                self._wake.clear()
                stop.wait(DEBOUNCE_S)  # let a burst of writes land
                if stop.is_set():
                    return
            now = time.monotonic()
            only = None if now >= next_full else self._dirty_sources()
            if only is None:
                next_full = now + interval
            self.poll(only)
            if self.failed:
                return


def watch(path: Path | str, options: WatchOptions | None = None, *, once: bool = False,
          sinks: Sequence[Sink] = (), state_path: Path | None = None, emit: Emit | None = None,
          stop: threading.Event | None = None, handle_signals: bool = False,
          experiment: str | None = None, notify: Sequence[str] = (), webhooks: Sequence[str] = ()) -> int:
    """Watch ``path`` (see :class:`Watcher`); returns the exit status (0, or :data:`EXIT_FINDING`).

    Args:
        experiment: shorthand for ``options.experiment`` (the runs of one experiment of the tracker stores).
        notify: shell commands run with each alert's JSON on stdin (a :class:`CommandSink` each).
        webhooks: URLs that receive each alert as a JSON POST (a :class:`WebhookSink` each).
        state_path: the alert state file; by default :func:`default_state_path` when any sink is configured
            and ``path`` exists (alerts are then sent once per run across restarts), else none.
    """
    if experiment is not None:
        options = replace(options or WatchOptions(), experiment=experiment)
    sinks = [*sinks, *(CommandSink(c) for c in notify), *(WebhookSink(u) for u in webhooks)]
    if state_path is None and sinks and Path(path).exists():
        state_path = default_state_path(Path(path))
    w = Watcher(Path(path), options, sinks=sinks, state_path=state_path, emit=emit)
    return w.run(once=once, stop=stop, handle_signals=handle_signals)


def default_state_path(path: Path) -> Path:
    """Where the alert state lives: ``DIR/.gapwatch-watch.json`` for a directory,
    ``.FILE.gapwatch-watch.json`` beside a file."""
    p = Path(path)
    if p.is_dir():
        return p / STATE_NAME
    return p.parent / f".{p.name}{STATE_NAME[1:]}"
