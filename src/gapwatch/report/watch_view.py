"""Terminal rendering of ``gapwatch watch`` events: one ``gapwatch.watch/1`` JSON object per line, or one
coloured rich line per event (time, then :func:`gapwatch.watch.events.summary`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markup import escape

from ..watch.events import summary, to_line

#: rich style of a finding line, by severity
SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
#: rich style of the other events
EVENT_STYLE = {"stop": "bold magenta", "error": "red", "run_started": "dim", "run_ended": "dim"}


def watch_printer(json_out: bool) -> Callable[[dict[str, Any]], None]:
    """The ``emit`` callback of :class:`~gapwatch.watch.Watcher`: JSON lines (flushed at once) or rich lines."""
    if json_out:
        def emit_json(ev: dict[str, Any]) -> None:
            sys.stdout.write(to_line(ev) + "\n")
            sys.stdout.flush()
        return emit_json
    con = Console(highlight=False, soft_wrap=True)

    def emit_rich(ev: dict[str, Any]) -> None:
        k = ev["event"]
        st = SEVERITY_STYLE.get(ev["finding"]["severity"], "") if k == "finding" else EVENT_STYLE.get(k, "")
        con.print(f"[dim]{ev['time']}[/dim] [{st}]{escape(summary(ev))}[/{st}]" if st else
                  f"[dim]{ev['time']}[/dim] {escape(summary(ev))}")
    return emit_rich
