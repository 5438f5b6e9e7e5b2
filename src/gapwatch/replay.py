"""Replay: feed recorded evaluations to the online stop policy one at a time — the one implementation.

What a guarded run *would* have done is answered by the same :class:`~gapwatch.policy.StopPolicy` the live
guard, the framework callbacks, ``watch`` and the pruners use, fed one evaluation at a time. Three entry points,
one loop (:func:`replay_values`):

* :func:`replay_values` — arrays (values, and optionally their steps and epochs);
* :func:`replay_run` / :func:`replay_history` — a loaded run or sweep (the monitor decided by
  :mod:`gapwatch.monitor`, as for ``analyze``);
* :func:`replay_guard_log` — a live guard's history file, with the monitor, mode and policy parameters its
  header recorded (the check that live and replayed decisions agree).

With the policy parameter ``stop_when="all_heldout"`` every entry point also feeds the run's other held-out
signals (:func:`heldout_signals`: the evidence of the monitor decision — the held-out loss beside a task metric,
the same measure on the other evaluation sets), each value with the deciding evaluation logged at the same x
(step or epoch), the way the live guard passes the metrics of one ``observe`` call. A guard log is replayed with
the signals present at its first evaluation, as the guard fixed them.

``replay_history(...)`` documents serialise to ``gapwatch.replay/1`` (:func:`to_document`)::

    {"schema": "gapwatch.replay/1",
     "runs": [{"name": str, "stop": {"step", "epoch"} | null, "restore": {"step", "epoch"} | null,
               "evaluations_seen": int, "monitor"?: {...}, "reason"?: str, "error"?: str}]}

``stop`` is null when the policy never said stop (it would have trained to the end); ``restore`` is the best
evaluation seen (null only when no finite evaluation was seen); ``evaluations_seen`` counts the evaluations fed
up to and including the stop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .documents import REPLAY, clean
from .errors import InputError, UsageError
from .history import History, Run, Series
from .monitor import Monitor, parse_monitor
from .policy import Decision, StopPolicy

SCHEMA = REPLAY


def replay_values(values: Sequence[float] | np.ndarray, steps: Sequence[float] | np.ndarray | None = None,
                  epochs: Sequence[float] | np.ndarray | None = None, mode: str = "min", *,
                  signals: Mapping[str, str] | None = None, others: Sequence[Mapping[str, float]] | None = None,
                  **params: Any) -> tuple[Decision | None, int]:
    """Feed a recorded series to a fresh :class:`StopPolicy` until it says stop.

    Args:
        values: the monitored metric per evaluation, shape ``(n,)`` (metric units; NaN allowed).
        steps, epochs: where each evaluation was taken, shape ``(n,)`` (NaN: unknown), or None.
        mode: ``"min"`` or ``"max"``. params: policy parameters (docs/policy.md).
        signals: other held-out signals, name → ``"min"``/``"max"`` (used by ``stop_when="all_heldout"``).
        others: per evaluation, the values of those signals measured at it (``n`` mappings), or None.
    Returns:
        ``(first stop decision, evaluations seen)``, or ``(None, n)`` when it never said stop.
    Raises:
        UsageError: ``others`` does not hold one mapping per evaluation.
    """
    v = np.asarray(values, dtype=float)
    st = None if steps is None else np.asarray(steps, dtype=float)
    ep = None if epochs is None else np.asarray(epochs, dtype=float)
    if others is not None and len(others) != v.size:
        raise UsageError(f"replay_values: others must hold one mapping per evaluation ({v.size}), got {len(others)}")
    pol = StopPolicy(mode, dict(params), dict(signals or {}))
    for i in range(v.size):
        s = None if st is None or not np.isfinite(st[i]) else float(st[i])
        e = None if ep is None or not np.isfinite(ep[i]) else float(ep[i])
        d = pol.update(float(v[i]), step=s, epoch=e, others=others[i] if others is not None else None)
        if d.stop:
            return d, i + 1
    return None, int(v.size)


@dataclass(frozen=True)
class ReplayResult:
    """Outcome of replaying one run.

    Attributes:
        name: run. monitor: the replayed series (None when the run has none: then ``error`` says why).
        total: evaluations logged. seen: evaluations fed, up to and including the stop.
        stop: ``{"step", "epoch"}`` where the policy said stop (None: never). restore: the best evaluation seen.
        restore_value: its value (metric units). reason: the policy's stop reason ("" when it never stopped).
    """

    name: str
    monitor: Monitor | None
    total: int
    seen: int
    stop: dict[str, Any] | None
    restore: dict[str, Any] | None
    restore_value: float | None
    reason: str
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        """This run's entry in ``gapwatch.replay/1``."""
        d: dict[str, Any] = {"name": self.name, "stop": self.stop, "restore": self.restore,
                             "evaluations_seen": self.seen}
        if self.monitor is not None:
            d["monitor"] = self.monitor.to_dict()
        if self.reason:
            d["reason"] = self.reason
        if self.error:
            d["error"] = self.error
        return dict(clean(d))


def replay_run(run: History, monitor: Monitor | None = None,
               params: Mapping[str, Any] | None = None) -> ReplayResult:
    """Replay one run's monitored series (decided by :mod:`gapwatch.monitor`) through a fresh policy."""
    from .monitor import choose_monitor

    run = run if isinstance(run, Run) else next(iter(run))
    name = run.name
    try:
        mon = choose_monitor(run, monitor)
    except InputError as exc:
        return ReplayResult(name, None, 0, 0, None, None, None, "", error=str(exc))
    s = run.series(mon.split, mon.metric)
    p = dict(params or {})
    signals, others = _signals_for(run, mon, s, p)
    d, seen = replay_values(s.values, s.step, s.epoch, mon.mode, signals=signals, others=others, **p)
    if seen == 0:
        return ReplayResult(name, mon, len(s), 0, None, None, None, "")
    fin = np.isfinite(s.values[:seen])
    restore = restore_value = None
    if fin.any():
        b = d.best_index if d is not None else int(np.argmin(np.where(fin, mon.sign * s.values[:seen], np.inf)))
        restore, restore_value = s.at(b), float(s.values[b])
    stop = s.at(seen - 1) if d is not None else None
    return ReplayResult(name, mon, len(s), seen, stop, restore, restore_value, d.reason if d is not None else "")


def heldout_signals(run: History, monitor: Monitor) -> list[tuple[Series, str]]:
    """The other held-out series fed beside ``monitor`` with ``stop_when="all_heldout"``, with their modes: the
    evidence of the monitor decision (:attr:`gapwatch.monitor.MonitorDecision.evidence` — the deciding set's
    loss and task metrics, the same measure on the other held-out sets; never test data unless test decides),
    each ordered on the deciding series' x axis. Empty when the monitor is not logged in ``run``."""
    from .monitor import decide

    try:
        dec = decide(run, monitor)
    except InputError:
        return []
    kind = run.series(monitor.split, monitor.metric).x_kind
    return [(run.series(m.split, m.metric, x=kind), m.mode) for m in dec.evidence]


def aligned_signals(deciding: Series, signals: Sequence[Series]) -> list[dict[str, float]]:
    """Per evaluation of ``deciding``, the value of each signal logged at the same x (its last one there);
    a signal with nothing logged at that x is left out of that evaluation's mapping."""
    xs = deciding.x
    table: list[dict[float, float]] = []
    for sig in signals:
        at: dict[float, float] = {}
        for x, val in zip(sig.x, sig.values, strict=True):
            if np.isfinite(x):
                at[float(x)] = float(val)
        table.append(at)
    out: list[dict[str, float]] = []
    for x in xs:
        row: dict[str, float] = {}
        if np.isfinite(x):
            for sig, at in zip(signals, table, strict=True):
                if float(x) in at:
                    row[sig.name] = at[float(x)]
        out.append(row)
    return out


def _signals_for(run: History, mon: Monitor, s: Series, params: Mapping[str, Any], *, first_only: bool = False
                 ) -> tuple[dict[str, str], list[dict[str, float]] | None]:
    """``(signals, others)`` for :func:`replay_values`: empty unless ``stop_when="all_heldout"``; with
    ``first_only`` only the signals logged at the deciding series' first evaluation (what a live guard fixed)."""
    if params.get("stop_when") != "all_heldout":
        return {}, None
    sigs = heldout_signals(run, mon)
    others = aligned_signals(s, [g for g, _ in sigs])
    if first_only:
        keep = set(others[0]) if others else set()
        sigs = [(g, m) for g, m in sigs if g.name in keep]
        others = [{k: v for k, v in row.items() if k in keep} for row in others]
    return {g.name: m for g, m in sigs}, others


def replay_history(history: History, monitor: Monitor | None = None,
                   params: Mapping[str, Any] | None = None) -> list[ReplayResult]:
    """Replay every run of ``history`` (a run without a held-out series gets ``error``, never aborts a sweep).

    Raises:
        InputError: no run has a held-out series to monitor (the first run's message says what to log).
    """
    res = [replay_run(r, monitor, params) for r in history]
    if res and all(r.error for r in res):
        raise InputError(res[0].error)
    return res


def to_document(results: Sequence[ReplayResult]) -> dict[str, Any]:
    """The ``gapwatch.replay/1`` document of :func:`replay_history`'s results."""
    return {"schema": SCHEMA, "runs": [r.to_dict() for r in results]}


def read_guard_log(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The gapwatch records of a guard history file: ``{"header": {...} | None, "decisions": [...],
    "findings": [...]}`` (metric records are read with :func:`gapwatch.readers.load`)."""
    from .guardlog import parse

    return parse(path).as_dict()


def replay_guard_log(path: str | os.PathLike[str]) -> tuple[Decision | None, int]:
    """Replay a guard history file through a fresh policy with the monitor, mode and policy parameters its header
    recorded. Returns what :func:`replay_values` returns.

    Raises:
        UsageError: the file has no guard header (it was not written by ``Guard(log=...)``).
    """
    from .readers import load

    hdr = read_guard_log(path)["header"]
    if hdr is None:
        raise UsageError(f"{path}: no gapwatch guard header; was it written by Guard(log=...)?")
    mon = parse_monitor(hdr["monitor"], hdr["mode"])
    run = next(iter(load(Path(path))))
    s = run.series(mon.split, mon.metric)
    p = dict(hdr.get("policy") or {})
    signals, others = _signals_for(run, mon, s, p, first_only=True)
    return replay_values(s.values, s.step, s.epoch, mon.mode, signals=signals, others=others, **p)


def parse_params(items: Sequence[str], keep_through_memorization: bool = False) -> dict[str, Any]:
    """``["max_wait=10", "z_stop=2.5"]`` → validated policy parameters (UsageError names the bad item)."""
    from .policy import DEFAULTS

    params: dict[str, Any] = {}
    for it in items:
        key, sep, text = it.partition("=")
        key = key.strip()
        if not sep:
            raise UsageError(f"--param expects KEY=VALUE, got {it!r}")
        if key not in DEFAULTS:
            raise UsageError(f"--param: unknown policy parameter {key!r}; known: {', '.join(sorted(DEFAULTS))}")
        params[key] = _typed(key, DEFAULTS[key], text)
    if keep_through_memorization:
        params["keep_through_memorization"] = True
    try:
        StopPolicy("min", dict(params))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return params


def _typed(key: str, default: Any, text: str) -> Any:
    t = text.strip()
    if isinstance(default, str):
        return t
    if isinstance(default, bool):
        if t.lower() in ("1", "true", "yes", "on"):
            return True
        if t.lower() in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"--param {key}: expected true or false, got {text!r}")
    try:
        return int(t) if isinstance(default, int) else float(t)
    except ValueError:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise UsageError(f"--param {key}: expected {kind}, got {text!r}") from None
