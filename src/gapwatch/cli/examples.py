"""``gapwatch examples TABLE``: per-example scores and rankings from an ExampleTable (.parquet) or an .npz.

``--json`` prints the ``gapwatch.examples/1`` document (see docs/examples.md); without it a rich summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import UsageError
from . import app


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

    tables = load(table, expected_n=n)
    if run is not None:
        tables = [t for t in tables if t.run == run]
        if not tables:
            raise UsageError(f"{table} has no run {run}")
    a = analyze_examples(tables, early=early, aum_cutoff=aum_cutoff)
    if as_json:
        typer.echo(json.dumps(a.to_json()))
        return
    _render(a, table, top)


def _render(a, path: Path, top: int) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(f"[bold]{path}[/]: {a.n} examples × {a.n_epochs} epochs (early window: first {a.early})")
    if not a.cutoff_reliable:
        con.print(f"[yellow]warning:[/] the {a.default_score} scores show no separate group of suspicious "
                  f"examples (separability {a.separability:.2f}); the ranking is still informative, the cut-off "
                  "is not")
    con.print(f"likely mislabelled: [bold red]{a.likely_mislabeled.size}[/] ({a.cutoff_rule}); "
              f"memorised: {a.memorized.size}; hard: {a.hard.size}; prunable: {a.prunable.size}")
    t = Table(title=f"most suspicious (by {a.default_score})")
    for c in ("rank", "index", a.default_score, "label", "suggested", "forgetting"):
        t.add_column(c, justify="right")
    pos = {int(i): p for p, i in enumerate(a.index.tolist())}
    for r, i in enumerate(a.likely_mislabeled[:top].tolist(), 1):
        p = pos[int(i)]
        f = a.scores.get("forgetting")
        t.add_row(str(r), str(i), f"{a.scores[a.default_score][p]:.3f}",
                  "-" if a.label is None else str(int(a.label[p])),
                  str(a.suggested_relabel.get(int(i), "-")), "-" if f is None else f"{f[p]:g}")
    con.print(t)
    if a.prunable.size:
        con.print(f"easiest (prunable) first: {', '.join(str(int(i)) for i in a.prunable[:top])}")
    con.print("scores: " + ", ".join(f"{k} ({'higher' if d == 'high' else 'lower'} = more suspicious)"
                                     for k, d in ((k, _dir(k)) for k in a.scores)))


def _dir(name: str) -> str:
    from ..examples.derive import DIRECTIONS

    return DIRECTIONS.get(name, "high")
