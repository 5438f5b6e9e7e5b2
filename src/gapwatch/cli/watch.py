"""``gapwatch watch PATH``: follow growing logs (no change to the training code), print findings and stop
recommendations as they arise, and alert.

Parse → :func:`gapwatch.watch.watch` → render each event (rich lines, or ``--json``: one ``gapwatch.watch/1``
object per line). Exit status: 0 (also after SIGINT/SIGTERM), 3 with ``--fail-on`` when a finding at or above
that severity was reported, 1/2 for unreadable input / bad options.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..findings import Severity
from . import app
from ._options import MonitorMode, detector_params, monitor_option


@app.command("watch")
def watch_cmd(
    path: Path = typer.Argument(..., help="A log file, a run directory, or a directory of runs to follow."),
    interval: float = typer.Option(10.0, "--interval", help="Seconds between polls (default 10)."),
    once: bool = typer.Option(False, "--once", help="One pass over what is logged now, then exit (cron)."),
    json_out: bool = typer.Option(False, "--json", help="One gapwatch.watch/1 JSON object per line."),
    fail_on: Severity | None = typer.Option(None, "--fail-on", help="Exit 3 when a finding of this severity "
                                            "or worse is reported."),
    monitor: str | None = typer.Option(None, "--monitor", help="Series to watch, e.g. val_loss."),
    mode: MonitorMode = None,
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
    from ..replay import parse_params
    from ..report.watch_view import watch_printer
    from ..watch import CommandSink, WatchOptions, WebhookSink, default_state_path, watch

    opts = WatchOptions(
        interval=interval,
        monitor=monitor_option(monitor, mode),
        policy_params=parse_params(list(param)),
        detector_params=detector_params(list(detector_param)),
        fail_on=fail_on,
        alert_on=alert_on,
        idle_end=idle_end,
        use_watchdog=not no_watchdog,
    )
    sinks = [CommandSink(c) for c in notify] + [WebhookSink(u) for u in webhook]
    state_path = (state or default_state_path(path)) if sinks and path.exists() else state
    code = watch(path, opts, once=once, sinks=sinks, state_path=state_path, emit=watch_printer(json_out),
                 handle_signals=True)
    if code:
        raise typer.Exit(code)  # EXIT_FINDING: a finding at or above --fail-on was reported
