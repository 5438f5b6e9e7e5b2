"""``gapwatch replay PATH``: parse → :func:`gapwatch.replay.replay_history` (the live guard's
:class:`~gapwatch.policy.StopPolicy` fed one evaluation at a time) → render; ``--json``: ``gapwatch.replay/1``."""

import sys

import typer

from . import app
from ._options import ExperimentName, MonitorMode, MonitorName, RunsPath, print_json


@app.command("replay")
def replay_cmd(
    path: RunsPath,
    monitor: MonitorName = None,
    mode: MonitorMode = None,
    experiment: ExperimentName = None,
    json_out: bool = typer.Option(False, "--json", help="Print the gapwatch.replay/1 JSON document to stdout."),
    param: list[str] = typer.Option([], "--param", help="Policy parameter KEY=VALUE (repeatable), "
                                    "e.g. --param max_wait=10. See docs/policy.md."),
    keep_through_memorization: bool = typer.Option(
        False, "--keep-through-memorization",
        help="Do not stop while the held-out metric has made no progress (train through grokking)."),
) -> None:
    """Feed each run's monitored validation series to the stop policy one evaluation at a time."""
    from ..monitor import parse_monitor
    from ..readers import load
    from ..replay import parse_params, replay_history, to_document

    params = parse_params(list(param), keep_through_memorization)
    results = replay_history(load(path, experiment=experiment), parse_monitor(monitor, mode), params)
    for r in results:
        if r.error:
            print(f"gapwatch: warning: {r.name}: {r.error}", file=sys.stderr)
    if json_out:
        print_json(to_document(results))
        return
    from ..report.terminal import render_replay

    render_replay(results)
