"""``gapwatch analyze PATH``: parse the options → :func:`gapwatch.analyze` → render.

Loads a run or a sweep (a directory of runs) and prints the verdict (one panel per run; a ranked table for
sweeps), writes ``--json`` (``gapwatch.analysis/1``, exactly ``gapwatch.analyze(gapwatch.load(PATH)).to_dict()``
for the same options) and ``--html`` (the self-contained report).

Exit codes: 0 success; 1 unreadable input; 2 usage error; 3 when ``--fail-on SEVERITY`` is given and a finding
of at least that severity is present (for CI gates: ``gapwatch analyze runs/ --quiet --fail-on critical``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from . import app
from ._options import (
    EXIT_FINDING,
    ExperimentName,
    FailOn,
    ForecastMethodOpt,
    MonitorMode,
    MonitorName,
    RunsPath,
    exit_on_findings,
    name_list,
)


@app.command("analyze")
def analyze_cmd(
    path: RunsPath,
    monitor: MonitorName = None,
    mode: MonitorMode = None,
    experiment: ExperimentName = None,
    json_out: bool = typer.Option(False, "--json", help="Print the gapwatch.analysis/1 JSON document to stdout."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report to this file."),
    force: bool = typer.Option(False, "--force", help="Allow --html to replace an existing file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (for CI); see --fail-on."),
    fail_on: FailOn = None,
    examples: bool = typer.Option(True, "--examples/--no-examples",
                                  help="Look for an example table beside each log and summarise it."),
    forecast: bool | None = typer.Option(
        None, "--forecast/--no-forecast",
        help="Forecast the monitored curve past its end (default: on for at most 20 runs)."),
    forecast_method: ForecastMethodOpt = typer.Option(
        ForecastMethodOpt.ensemble, "--forecast-method", help="ensemble (fast, no torch), pfn (needs torch), auto."),
    detectors: str | None = typer.Option(
        None, "--detectors", help="Run only these detectors, comma-separated (e.g. overfitting,instability)."),
    param: list[str] = typer.Option(
        [], "--param", help="Detector parameter OWNER.NAME=VALUE (repeatable), e.g. overfitting.min_z=4."),
) -> None:
    """Load the run(s), run every detector and print the verdict."""
    from ..analysis import analyze
    from ..documents import dumps
    from ..io import check_destination
    from ..monitor import parse_monitor
    from ..params import parse_cli_params
    from ..readers import load

    if html is not None:  # before any work: an existing file, a link, a device, the input itself
        check_destination(html, overwrite=force, inputs=[path])
    result = analyze(load(path, experiment=experiment), monitor=parse_monitor(monitor, mode), forecast=forecast,
                     forecast_method=forecast_method.value, examples=examples, params=parse_cli_params(param),
                     detectors=name_list(detectors))
    if html is not None:
        from ..report.html import write_html

        write_html(result, html, overwrite=force)
    if json_out:
        sys.stdout.write(dumps(result.to_dict()) + "\n")
    elif not quiet:
        from ..report.terminal import render_analysis

        render_analysis(result, html)
    exit_on_findings(result.worst_severity, fail_on, announce=not quiet and not json_out)


__all__ = ["EXIT_FINDING", "analyze_cmd"]
