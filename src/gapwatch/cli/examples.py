"""``gapwatch examples TABLE``: per-example scores and rankings from an ExampleTable (.parquet) or an .npz;
``--json`` prints the ``gapwatch.examples/1`` document (see docs/examples.md), else a rich summary."""

from pathlib import Path

import typer

from . import app
from ._options import print_json


@app.command("examples")
def examples_cmd(
    table: Path = typer.Argument(..., help="examples.parquet (gapwatch layout) or .npz with loss (epochs × n), "
                                 "optional margin (epochs × n) and label (n)."),
    as_json: bool = typer.Option(False, "--json", help="Print the gapwatch.examples/1 JSON document."),
    early: int | None = typer.Option(None, "--early", min=1,
                                     help="Epochs counted as early training (default: first quarter)."),
    aum_cutoff: float | None = typer.Option(None, "--aum-cutoff",
                                            help="AUM threshold (e.g. from threshold samples); default 0."),
    n: int | None = typer.Option(None, "--n", min=1, help="Expected dataset size (rejects other tables)."),
    run: int | None = typer.Option(None, "--run", help="Use only this run id of a multi-run table."),
    top: int = typer.Option(20, "--top", min=1, help="Rows shown in the terminal tables."),
) -> None:
    """Find likely mislabelled, memorised, hard and prunable training examples."""
    from ..examples.derive import analyze_examples
    from ..examples.table import load

    a = analyze_examples(load(table, expected_n=n, run=run), early=early, aum_cutoff=aum_cutoff)
    if as_json:
        print_json(a.to_dict(), indent=None)
        return
    from ..report.terminal import render_examples

    render_examples(a, table, top)
