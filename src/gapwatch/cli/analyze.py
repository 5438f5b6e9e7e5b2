"""``gapwatch analyze PATH``: parse the options → :func:`gapwatch.analyze` → render (a panel per run, a ranked
table for a sweep), ``--json`` (exactly ``gapwatch.analyze(gapwatch.load(PATH)).to_dict()`` for the same
options) or ``--html``. Exit codes as in the README's "Command line" (3: a finding at or above ``--fail-on``).
"""

from pathlib import Path

import typer

from . import _options as opt
from . import app


@app.command("analyze")
def analyze_cmd(
    path: opt.RunsPath,
    monitor: opt.MonitorName = None,
    mode: opt.MonitorMode = None,
    experiment: opt.ExperimentName = None,
    json_out: bool = typer.Option(False, "--json", help="Print the gapwatch.analysis/1 JSON document to stdout."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report to this file."),
    force: bool = typer.Option(False, "--force", help="Allow --html to replace an existing file."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (for CI); see --fail-on."),
    fail_on: opt.FailOn = None,
    examples: bool = typer.Option(True, "--examples/--no-examples",
                                  help="Look for an example table beside each log and summarise it."),
    forecast: bool | None = typer.Option(None, "--forecast/--no-forecast", help="Forecast the monitored curve past "
                                         "its end (default: on for at most 20 runs)."),
    forecast_method: opt.ForecastMethodOpt = typer.Option(opt.ForecastMethodOpt.ensemble, "--forecast-method",
                                                          help="ensemble (fast, no torch), pfn (needs torch), auto."),
    detectors: str | None = typer.Option(
        None, "--detectors", help="Run only these detectors, comma-separated (e.g. overfitting,instability)."),
    param: list[str] = typer.Option(
        [], "--param", help="Detector parameter OWNER.NAME=VALUE (repeatable), e.g. overfitting.min_z=4."),
) -> None:
    """Load the run(s), run every detector and print the verdict."""
    from ..analysis import analyze
    from ..io import check_destination
    from ..monitor import parse_monitor
    from ..params import parse_cli_params
    from ..readers import load

    if html is not None:  # before any work: an existing file, a link, a device, the input itself
        check_destination(html, overwrite=force, inputs=[path])
    result = analyze(load(path, experiment=experiment), monitor=parse_monitor(monitor, mode), forecast=forecast,
                     forecast_method=forecast_method.value, examples=examples, params=parse_cli_params(param),
                     detectors=opt.name_list(detectors))
    if html is not None:
        from ..report.html import write_html

        write_html(result, html, overwrite=force)
    if json_out:
        opt.print_json(result.to_dict())
    elif not quiet:
        from ..report.terminal import render_analysis

        render_analysis(result, html)
    opt.exit_on_findings(result.worst_severity, fail_on, announce=not quiet and not json_out)
