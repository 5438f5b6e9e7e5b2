"""``gapwatch analyze PATH``: the main job."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from ..analysis import analyze
from ..errors import UsageError
from ..findings import Severity
from ..monitor import parse_monitor
from ..readers import load
from . import app


@app.command("analyze")
def analyze_cmd(
    path: Path = typer.Argument(..., help="A log file, a run directory, or a directory of runs (a sweep)."),
    monitor: Optional[str] = typer.Option(None, "--monitor", help="Series to watch, e.g. val_loss, eval/accuracy."),
    mode: Optional[str] = typer.Option(None, "--mode", help="min or max (default: from the metric name)."),
    json_out: bool = typer.Option(False, "--json", help="Print the gapwatch.analysis/1 JSON document to stdout."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML report to this file."),
    force: bool = typer.Option(False, "--force", help="Allow --html to replace an existing file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (for CI)."),
    fail_on: Optional[str] = typer.Option(
        None, "--fail-on", help="Exit 3 when a finding of this severity or worse is present (warning|critical)."
    ),
) -> None:
    """Load the run(s), run every detector and print the verdict."""
    if mode is not None and mode not in ("min", "max"):
        raise UsageError(f"--mode must be 'min' or 'max', got {mode!r}")
    if fail_on is not None and fail_on not in ("info", "warning", "critical"):
        raise UsageError(f"--fail-on must be one of info, warning, critical; got {fail_on!r}")
    mon = parse_monitor(monitor, mode) if monitor else None
    history = load(path)
    result = analyze(history, monitor=mon)
    if html is not None:
        from ..report.html import write_html

        write_html(result, html, overwrite=force)
    if json_out:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    elif not quiet:
        from rich.console import Console

        from ..report.terminal import render

        con = Console()
        render(result, con)
        if html is not None:
            con.print(f"report written to [bold]{html}[/bold]")
    if fail_on is not None:
        worst = result.worst_severity
        if worst is not None and worst.rank >= Severity(fail_on).rank:
            raise typer.Exit(3)
