"""Watch events: the JSON-lines schema ``gapwatch.watch/1``.

``gapwatch watch --json`` prints one JSON object per line; the alert sinks receive the same objects. Every
event has::

    {"schema": "gapwatch.watch/1", "event": EVENT, "run": str | null, "time": "2026-12-06T06:30:00Z", ...}

========================  ==============================================================================
``event``                 extra keys
========================  ==============================================================================
``run_started``           ``source`` (file or directory), ``format`` (reader name)
``finding``               ``finding``: the finding in the ``gapwatch.analysis/1`` form (``kind``,
                          ``severity``, ``step``, ``epoch``, ``message``, ``evidence``, ``actions``,
                          ``references``, ``detector``)
``stop``                  ``monitor`` (``{split, metric, mode}``), ``stop`` and ``restore``
                          (``{step, epoch}``), ``restore_value``, ``reason``, ``evaluations_seen``: the online
                          stop policy's first "stop" (the same answer ``gapwatch replay`` gives)
``run_ended``             ``reason``: ``"vanished"`` (its files disappeared) or ``"idle"`` (nothing new for
                          ``--idle-end`` seconds)
``error``                 ``message`` (one line; ``run`` is null for errors not tied to a run, e.g. a sink)
========================  ==============================================================================

The JSON Schema of an event is published as ``gapwatch/schemas/watch.schema.json`` (registered in
:data:`gapwatch.documents.SCHEMAS`; :func:`gapwatch.documents.validate` checks an event); its ``finding`` refers
to the analysis schema's finding (``analysis.schema.json#/$defs/finding``).
"""

from __future__ import annotations

import time
from typing import Any

from ..documents import clean, dumps
from ..findings import Finding

SCHEMA = "gapwatch.watch/1"  # registered in gapwatch.documents (schemas/watch.schema.json)
EVENTS = ("run_started", "finding", "stop", "run_ended", "error")


def now_iso(t: float | None = None) -> str:
    """UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def event(kind: str, run: str | None, **extra: Any) -> dict[str, Any]:
    """One event object (``kind`` one of :data:`EVENTS`)."""
    if kind not in EVENTS:
        raise ValueError(f"unknown watch event {kind!r}; known: {', '.join(EVENTS)}")
    d: dict[str, Any] = {"schema": SCHEMA, "event": kind, "run": run, "time": now_iso()}
    d.update(clean(extra))
    return d


def finding_event(run: str, f: Finding) -> dict[str, Any]:
    return event("finding", run, finding=f.to_dict())


def to_line(ev: dict[str, Any]) -> str:
    """The event as one line of JSON (no NaN: non-finite numbers are already null)."""
    return dumps(ev, indent=None)


def summary(ev: dict[str, Any]) -> str:
    """One human line for an event (used by alert sinks and the terminal output)."""
    k, run = ev["event"], ev.get("run") or "-"
    if k == "finding":
        f = ev["finding"]
        where = []
        if f.get("epoch") is not None:
            where.append(f"epoch {f['epoch']:g}")
        if f.get("step") is not None:
            where.append(f"step {f['step']:g}")
        at = f" ({', '.join(where)})" if where else ""
        return f"[{f['severity']}] {run}: {f['kind']}{at}: {f['message']}"
    if k == "stop":
        def w(d: dict[str, Any] | None) -> str:
            if not d:
                return "-"
            return ", ".join(f"{a} {d[a]:g}" for a in ("epoch", "step") if d.get(a) is not None) or "-"
        return (f"[stop] {run}: stop now (at {w(ev.get('stop'))}); restore {w(ev.get('restore'))}"
                f" = {ev.get('restore_value')}: {ev.get('reason', '')}")
    if k == "run_started":
        return f"[run] {run}: watching {ev.get('source')} ({ev.get('format')})"
    if k == "run_ended":
        return f"[run] {run}: ended ({ev.get('reason')})"
    return f"[error] {run}: {ev.get('message')}"
