"""``gapwatch replay PATH``: feed a recorded log to the online stop policy, one evaluation at a time.

Prints where the policy would have stopped and which evaluation it would have restored — the same
:class:`~gapwatch.policy.StopPolicy` the live training integrations use, so the answer is what a guarded run
would have done. JSON output (``--json``)::

    {"schema": "gapwatch.replay/1",
     "runs": [{"name": str, "stop": {"step", "epoch"} | null, "restore": {"step", "epoch"} | null,
               "evaluations_seen": int}]}

``stop`` is null when the policy never said stop (it would have trained to the end); ``restore`` is the best
evaluation seen (null only when no finite evaluation was seen); ``evaluations_seen`` counts the evaluations fed
up to and including the stop.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import typer

from ..errors import InputError, UsageError
from ..history import History
from ..monitor import Monitor, choose_monitor, parse_monitor
from ..policy import DEFAULTS, Decision, StopPolicy
from ..readers import load
from . import app

SCHEMA = "gapwatch.replay/1"


@dataclass(frozen=True)
class ReplayResult:
    """Outcome of replaying one run (``decision`` is the last decision; None when nothing was fed)."""

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
        return {"name": self.name, "stop": self.stop, "restore": self.restore, "evaluations_seen": self.seen}


def _parse_value(key: str, text: str) -> Any:
    if key not in DEFAULTS:
        raise UsageError(f"--param: unknown policy parameter {key!r}; known: {', '.join(sorted(DEFAULTS))}")
    default = DEFAULTS[key]
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


def parse_params(items: list[str], keep_through_memorization: bool = False) -> dict[str, Any]:
    """``["max_wait=10", "z_stop=2.5"]`` → validated policy parameters (UsageError names the bad item)."""
    params: dict[str, Any] = {}
    for it in items:
        if "=" not in it:
            raise UsageError(f"--param expects KEY=VALUE, got {it!r}")
        k, v = it.split("=", 1)
        params[k.strip()] = _parse_value(k.strip(), v)
    if keep_through_memorization:
        params["keep_through_memorization"] = True
    try:
        StopPolicy("min", dict(params))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return params


def replay_run(history: History, monitor: Monitor | None, params: dict[str, Any]) -> ReplayResult:
    """Replay one run's monitored series through a fresh :class:`StopPolicy`."""
    name = history.name
    try:
        mon = choose_monitor(history, monitor)
    except InputError as exc:
        return ReplayResult(name, None, 0, 0, None, None, None, "", error=str(exc))
    s = history.series(mon.split, mon.metric)
    pol = StopPolicy(mon.mode, dict(params))
    d: Decision | None = None
    for i in range(len(s)):
        st, ep = s.step[i], s.epoch[i]
        d = pol.update(float(s.values[i]), step=float(st), epoch=float(ep))
        if d.stop:
            break
    seen = pol.evaluations_seen
    if d is None:
        return ReplayResult(name, mon, len(s), 0, None, None, None, "")
    has_best = bool(np.isfinite(s.values[:seen]).any())
    restore = s.at(d.best_index) if has_best else None
    stop = s.at(seen - 1) if d.stop else None
    return ReplayResult(name, mon, len(s), seen, stop, restore, float(d.best_value) if has_best else None,
                        d.reason if d.stop else "")


def replay_history(history: History, monitor: Monitor | None = None,
                   params: dict[str, Any] | None = None) -> list[ReplayResult]:
    """Replay every run of ``history``.

    Raises:
        InputError: no run has a held-out series to monitor (the first run's message says what to log).
    """
    res = [replay_run(h, monitor, dict(params or {})) for h in history]
    if res and all(r.error for r in res):
        raise InputError(res[0].error)
    return res


def to_document(results: list[ReplayResult]) -> dict[str, Any]:
    return {"schema": SCHEMA, "runs": [r.to_dict() for r in results]}


def _where(d: dict[str, Any] | None) -> str:
    if d is None:
        return "—"
    parts = []
    if d.get("epoch") is not None:
        parts.append(f"epoch {d['epoch']:g}")
    if d.get("step") is not None:
        parts.append(f"step {d['step']}")
    return ", ".join(parts) or "—"


@app.command("replay")
def replay_cmd(
    path: Path = typer.Argument(..., help="A log file, a run directory, or a directory of runs (a sweep)."),
    monitor: str | None = typer.Option(None, "--monitor", help="Series to watch, e.g. val_loss, eval/accuracy."),
    mode: str | None = typer.Option(None, "--mode", help="min or max (default: from the metric name)."),
    json_out: bool = typer.Option(False, "--json", help="Print the gapwatch.replay/1 JSON document to stdout."),
    param: list[str] = typer.Option([], "--param", help="Policy parameter KEY=VALUE (repeatable), "
                                    "e.g. --param max_wait=10. See docs/policy.md."),
    keep_through_memorization: bool = typer.Option(
        False, "--keep-through-memorization",
        help="Do not stop while the held-out metric has made no progress (train through grokking)."),
) -> None:
    """Feed each run's monitored validation series to the stop policy one evaluation at a time."""
    if mode is not None and mode not in ("min", "max"):
        raise UsageError(f"--mode must be 'min' or 'max', got {mode!r}")
    mon = parse_monitor(monitor, mode) if monitor else None
    params = parse_params(list(param), keep_through_memorization)
    history = load(path)
    results = replay_history(history, mon, params)
    for r in results:
        if r.error:
            print(f"gapwatch: warning: {r.name}: {r.error}", file=sys.stderr)
    if json_out:
        sys.stdout.write(json.dumps(to_document(results), indent=2, allow_nan=False) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title="gapwatch replay — online stop policy", show_lines=False)
    for col in ("run", "monitor", "seen / logged", "stop at", "restore", "reason"):
        t.add_column(col)
    for r in results:
        if r.error:
            t.add_row(r.name, "—", "0", "—", "—", "[red]no held-out series[/red]")
            continue
        mon_s = f"{r.monitor.label} ({r.monitor.mode})" if r.monitor else "—"
        rest = _where(r.restore) + (f" = {r.restore_value:.6g}" if r.restore_value is not None else "")
        stop = _where(r.stop) if r.stop is not None else "[green]never (trains to the end)[/green]"
        t.add_row(r.name, mon_s, f"{r.seen} / {r.total}", stop, rest, r.reason)
    Console().print(t)
