"""``gapwatch demo``: the embedded default run (no download, no arguments)."""

from pathlib import Path

import typer

from . import app


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("gapwatch-demo"), "--out", help="Directory for the log and the report."),
    epochs: int = typer.Option(120, "--epochs", min=10, help="Epochs to train (the guard may stop earlier)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    compare: bool = typer.Option(True, "--compare/--no-compare", help="After the guard stops, keep training a "
                                 "copy to the last epoch to show what stopping saved (a real run just stops)."),
) -> None:
    """Train a small network on digits with 30% flipped labels under the live guard, then analyse its log."""
    from ..demo import run_demo

    run_demo(out, epochs=epochs, seed=seed, compare=compare)
