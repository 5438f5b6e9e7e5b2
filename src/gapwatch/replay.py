"""Replay: feed recorded evaluations to the online stop policy one at a time — the one implementation.

What a guarded run *would* have done is answered by the same :class:`~gapwatch.policy.StopPolicy` the live
guard, the framework callbacks, ``watch`` and the pruners use, fed one evaluation at a time. Three entry points,
one loop (:func:`replay_values`):

* :func:`replay_values` — arrays (values, and optionally their steps and epochs);
* :func:`replay_run` / :func:`replay_history` — a loaded run or sweep (the monitor decided by
  :mod:`gapwatch.monitor`, as for ``analyze``);
* :func:`replay_guard_log` — a live guard's history file, with the monitor, mode and policy parameters its
  header recorded (the check that live and replayed decisions agree).

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
from .history import History, Run
from .monitor import Monitor, parse_monitor
from .policy import Decision, StopPolicy

SCHEMA = REPLAY


def replay_values(values: Sequence[float] | np.ndarray, steps: Sequence[float] | np.ndarray | None = None,
                  epochs: Sequence[float] | np.ndarray | None = None, mode: str = "min",
                  **params: Any) -> tuple[Decision | None, int]:
    """Feed a recorded series to a fresh :class:`StopPolicy` until it says stop.

    Args:
        values: the monitored metric per evaluation, shape ``(n,)`` (metric units; NaN allowed).
        steps, epochs: where each evaluation was taken, shape ``(n,)`` (NaN: unknown), or None.
        mode: ``"min"`` or ``"max"``. params: policy parameters (docs/policy.md).
    Returns:
        ``(first stop decision, evaluations seen)``, or ``(None, n)`` when it never said stop.
    """
    v = np.asarray(values, dtype=float)
    st = None if steps is None else np.asarray(steps, dtype=float)
    ep = None if epochs is None else np.asarray(epochs, dtype=float)
    pol = StopPolicy(mode, dict(params))
    for i in range(v.size):
        s = None if st is None or not np.isfinite(st[i]) else float(st[i])
        e = None if ep is None or not np.isfinite(ep[i]) else float(ep[i])
        d = pol.update(float(v[i]), step=s, epoch=e)
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
    d, seen = replay_values(s.values, s.step, s.epoch, mon.mode, **dict(params or {}))
    if seen == 0:
        return ReplayResult(name, mon, len(s), 0, None, None, None, "")
    fin = np.isfinite(s.values[:seen])
    restore = restore_value = None
    if fin.any():
        b = d.best_index if d is not None else int(np.argmin(np.where(fin, mon.sign * s.values[:seen], np.inf)))
        restore, restore_value = s.at(b), float(s.values[b])
    stop = s.at(seen - 1) if d is not None else None
    return ReplayResult(name, mon, len(s), seen, stop, restore, restore_value, d.reason if d is not None else "")


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
    s = next(iter(load(Path(path)))).series(mon.split, mon.metric)
    return replay_values(s.values, s.step, s.epoch, mon.mode, **(hdr.get("policy") or {}))


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
