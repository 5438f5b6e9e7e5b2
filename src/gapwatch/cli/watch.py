"""``gapwatch watch PATH``: parse → :func:`gapwatch.watch.watch` (follows growing logs, alerts) → render each
event (rich lines, or ``--json``: one ``gapwatch.watch/1`` object per line). Exit status: 0 (also after
SIGINT/SIGTERM), 3 with ``--fail-on`` when a finding at or above it was reported, 1/2 bad input / options."""

from pathlib import Path

import typer

from ..findings import Severity
from . import app
from ._options import ExperimentName, FailOn, MonitorMode, MonitorName


@app.command("watch")
def watch_cmd(
    path: Path = typer.Argument(..., help="A log file, a run directory, or a directory of runs to follow."),
    interval: float = typer.Option(10.0, "--interval", help="Seconds between polls (default 10)."),
    once: bool = typer.Option(False, "--once", help="One pass over what is logged now, then exit (cron)."),
    json_out: bool = typer.Option(False, "--json", help="One gapwatch.watch/1 JSON object per line."),
    fail_on: FailOn = None,
    monitor: MonitorName = None,
    mode: MonitorMode = None,
    experiment: ExperimentName = None,
    param: list[str] = typer.Option([], "--param", help="Stop-policy parameter KEY=VALUE (repeatable); "
                                    "see docs/policy.md."),
    detector_param: list[str] = typer.Option([], "--detector-param", help="Detector parameter "
                                             "DETECTOR.KEY=VALUE (repeatable), as for analyze."),
    notify: list[str] = typer.Option([], "--notify", help="Shell command run with each alert's JSON on stdin "
                                     "(repeatable)."),
    webhook: list[str] = typer.Option([], "--webhook", help="URL that receives each alert as a Slack/Discord/"
                                      "Teams-compatible JSON POST (repeatable)."),
    alert_on: Severity = typer.Option(Severity.WARNING, "--alert-on", help="Lowest finding severity that alerts "
                                    "(stop recommendations always do)."),
    state: Path | None = typer.Option(None, "--state", help="Alert state file (default: .gapwatch-watch.json "
                                      "next to PATH; written only when alerts are configured)."),
    idle_end: float | None = typer.Option(None, "--idle-end", help="Report a run ended after this many "
                                          "seconds without new data."),
    no_watchdog: bool = typer.Option(False, "--no-watchdog", help="Poll only, even with watchdog installed."),
) -> None:
    """Follow training logs as they grow: findings and stop recommendations as they arise, with alerts."""
    from ..monitor import parse_monitor
    from ..params import parse_cli_params
    from ..replay import parse_params
    from ..report.watch_view import watch_printer
    from ..watch import WatchOptions, watch

    opts = WatchOptions(interval=interval, monitor=parse_monitor(monitor, mode), policy_params=parse_params(param),
                        detector_params=parse_cli_params(detector_param), fail_on=fail_on, alert_on=alert_on,
                        idle_end=idle_end, use_watchdog=not no_watchdog, experiment=experiment)
    code = watch(path, opts, once=once, notify=notify, webhooks=webhook, state_path=state,
                 emit=watch_printer(json_out), handle_signals=True)
    if code:
        raise typer.Exit(code)  # EXIT_FINDING: a finding at or above --fail-on was reported
