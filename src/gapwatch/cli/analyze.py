"""``gapwatch analyze PATH``: the main job.

Loads a run or a sweep (a directory of runs), runs every detector, and prints the verdict (one panel per run;
a ranked table for sweeps), writes ``--json`` (``gapwatch.analysis/1``) and ``--html`` (the self-contained
report). When an example table (``examples.parquet`` / ``examples.npz``) sits beside a run's log, its summary is
added to the run (``"examples"`` key) and shown in the report.

Exit codes: 0 success; 1 unreadable input; 2 usage error; 3 when ``--fail-on SEVERITY`` is given and a finding
of at least that severity is present (for CI gates: ``gapwatch analyze runs/ --quiet --fail-on critical``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from ..analysis import Analysis, analyze
from ..errors import GapwatchError, UsageError
from ..findings import Severity
from ..history import History
from ..monitor import Monitor, parse_monitor
from ..readers import load
from . import app

#: Exit code when a finding reaches the ``--fail-on`` severity.
EXIT_FINDING = 3
#: Without ``--forecast``/``--no-forecast``, runs are forecast only when the analysis has at most this many
#: (the parametric ensemble costs ~50-100 ms per run on one CPU core; a 10,000-run sweep must stay fast).
FORECAST_MAX_RUNS = 20
#: The forecaster is given at most this many evaluations of the monitored series: a longer (finite) series is
#: thinned evenly, first and last evaluation kept, and the forecast's ``notes`` say so. The parametric ensemble
#: costs about 0.2 s on 1,000 evaluations but about 7 s on the 24,000 of a 1,000,000-point log (one CPU core);
#: a plot of the forecast needs a few hundred points.
FORECAST_MAX_POINTS = 1000


def attach_forecasts(result: Analysis, method: str = "ensemble") -> list[str]:
    """Add the ``"forecast"`` entry (``gapwatch.forecast/1`` run shape) to every run that can be forecast.

    Returns the reasons runs were not forecast (``"run: why"``); never raises for a run that cannot be
    forecast. ``method``: ``"ensemble"`` (parametric, no torch), ``"auto"`` or ``"pfn"`` (see gapwatch.forecast).
    """
    try:
        from ..forecast.core import forecast_for_analysis
    except ImportError:
        return ["gapwatch.forecast is not available"]
    notes: list[str] = []
    for r in result.runs:
        if r.monitor is None or r.error or "forecast" in r.extra:
            continue
        reasons: list[str] = []
        hist, thinned = _forecast_input(r.history, r.monitor)
        fc = forecast_for_analysis(hist, r.monitor, method=method, reasons=reasons)
        if fc is not None:
            if thinned:
                fc.setdefault("notes", []).append(thinned)
            r.extra["forecast"] = fc
        notes.extend(f"{r.name}: {why}" for why in reasons)
    return notes


def _forecast_input(history: History, mon: Monitor) -> tuple[History, str | None]:
    """The History handed to the forecaster: ``history`` itself, or, when the monitored series has more than
    :data:`FORECAST_MAX_POINTS` evaluations (all finite), only that series thinned evenly to that many
    evaluations (first and last kept), with a note saying so."""
    if not history.has(mon.split, mon.metric):
        return history, None
    s = history.series(mon.split, mon.metric)
    n = len(s)
    if n <= FORECAST_MAX_POINTS or not np.all(np.isfinite(s.values)):
        return history, None  # (a non-finite series is refused by the forecaster as it is)
    keep = np.unique(np.linspace(0, n - 1, FORECAST_MAX_POINTS).round().astype(np.intp))
    frame = pd.DataFrame({"run": history.name, "step": s.step[keep], "epoch": s.epoch[keep], "split": mon.split,
                          "metric": mon.metric, "value": s.values[keep], "name": s.name})
    note = (f"forecast from {keep.size:,} evenly spaced of the {n:,} evaluations (first and last kept; the "
            f"forecaster is given at most {FORECAST_MAX_POINTS:,})")
    return History(frame, sources=history.sources, meta=history.meta), note


def attach_examples(result: Analysis) -> None:
    """Add the summary of an example table found beside each run's log (``extra["examples"]``).

    A table that cannot be read becomes an ``{"error": ...}`` entry (shown in the report), never a failure of
    the analysis; a missing ``gapwatch.examples`` module (or its optional dependency) is skipped silently."""
    try:
        from ..examples.summary import summary_beside
    except ImportError:
        return
    for r in result.runs:
        if not r.source or "examples" in r.extra:
            continue
        try:
            s = summary_beside(r.source)
        except (GapwatchError, OSError, ImportError):
            continue
        if s is not None:
            r.extra["examples"] = s


def fail_exit_code(result: Analysis, fail_on: str | None) -> int:
    """:data:`EXIT_FINDING` when ``fail_on`` is set and a finding of at least that severity exists, else 0."""
    if fail_on is None:
        return 0
    worst = result.worst_severity
    return EXIT_FINDING if worst is not None and worst.rank >= Severity(fail_on).rank else 0


@app.command("analyze")
def analyze_cmd(
    path: Path = typer.Argument(..., help="A log file, a run directory, or a directory of runs (a sweep)."),
    monitor: str | None = typer.Option(None, "--monitor", help="Series to watch, e.g. val_loss, eval/accuracy."),
    mode: str | None = typer.Option(None, "--mode", help="min or max (default: from the metric name)."),
    json_out: bool = typer.Option(False, "--json", help="Print the gapwatch.analysis/1 JSON document to stdout."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report to this file."),
    force: bool = typer.Option(False, "--force", help="Allow --html to replace an existing file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (for CI); see --fail-on."),
    fail_on: str | None = typer.Option(
        None, "--fail-on",
        help="Exit with code 3 when a finding of this severity or worse is present (info|warning|critical).",
    ),
    examples: bool = typer.Option(True, "--examples/--no-examples",
                                  help="Look for an example table beside each log and summarise it."),
    forecast: bool | None = typer.Option(
        None, "--forecast/--no-forecast",
        help=f"Forecast the monitored curve past its end (default: on for at most {FORECAST_MAX_RUNS} runs).",
    ),
    forecast_method: str = typer.Option("ensemble", "--forecast-method",
                                        help="ensemble (fast, no torch), pfn (needs torch) or auto."),
) -> None:
    """Load the run(s), run every detector and print the verdict."""
    if mode is not None and mode not in ("min", "max"):
        raise UsageError(f"--mode must be 'min' or 'max', got {mode!r}")
    if fail_on is not None and fail_on not in ("info", "warning", "critical"):
        raise UsageError(f"--fail-on must be one of info, warning, critical; got {fail_on!r}")
    if forecast_method not in ("ensemble", "pfn", "auto"):
        raise UsageError(f"--forecast-method must be ensemble, pfn or auto; got {forecast_method!r}")
    if html is not None and html.exists() and not force:
        raise UsageError(f"{html} already exists; refusing to overwrite it (choose another name or pass --force)")
    mon = parse_monitor(monitor, mode) if monitor else None
    history = load(path)
    result = analyze(history, monitor=mon)
    if examples:
        attach_examples(result)
    if forecast or (forecast is None and len(result.runs) <= FORECAST_MAX_RUNS):
        attach_forecasts(result, method=forecast_method)
    if html is not None:
        from ..report.html import write_html

        write_html(result, html, overwrite=force)
    if json_out:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
    elif not quiet:
        from rich.console import Console
        from rich.text import Text

        from ..report.terminal import render

        con = Console()
        render(result, con)
        if html is not None:
            con.print(Text.assemble("report written to ", (str(html), "bold")))
    code = fail_exit_code(result, fail_on)
    if code:
        if not quiet and not json_out:
            print(f"gapwatch: a finding of severity {result.worst_severity.value if result.worst_severity else ''} "
                  f"is present (--fail-on {fail_on}): exit {code}", file=sys.stderr)
        raise typer.Exit(code)
