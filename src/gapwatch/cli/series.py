"""``gapwatch series PATH``: parse → :func:`gapwatch.names.series_table` → render. ``--json`` prints rows
``{"run", "name", "role", "split", "metric", "mode"}`` (role: metric, bookkeeping, schedule or signal; split,
metric and mode are null for names that are not metrics)."""

import typer

from . import app
from ._options import ExperimentName, RunsPath, print_json


@app.command("series")
def series_cmd(
    path: RunsPath,
    experiment: ExperimentName = None,
    json_out: bool = typer.Option(False, "--json", help="Print the rows as a JSON list."),
) -> None:
    """How every logged name was read: name → role, split, metric, mode."""
    from ..names import series_table
    from ..readers import load

    rows = series_table(load(path, experiment=experiment))
    if json_out:
        print_json(rows)
        return
    from ..report.terminal import render_series

    render_series(rows)
