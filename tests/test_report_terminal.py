"""The rich terminal verdict: one screen per run, a ranked table for sweeps, literal user text."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from gapwatch.analysis import analyze
from gapwatch.history import History
from gapwatch.report.terminal import MAX_FINDINGS, render, sparkline
from gapwatch.testing import samples as sample


def _render(a, width: int = 100) -> str:  # type: ignore[no-untyped-def]
    con = Console(record=True, width=width, color_system=None, force_terminal=False)
    render(a, con)
    return con.export_text()


def test_single_run_fits_one_screen() -> None:
    out = _render(sample.single_analysis(forecast=False, examples=False))
    assert "Overfitting since epoch" in out
    assert "best 0.6" in out and "cost +" in out and "past best" in out and "▲ best" in out
    assert "what to do" in out
    assert len(out.splitlines()) <= 40  # one screen


def test_every_kind_is_capped_to_one_screen() -> None:
    out = _render(sample.every_kind_analysis())
    assert "more finding(s)" in out or len(sample.every_finding()) <= MAX_FINDINGS
    assert len(out.splitlines()) <= 45


def test_sweep_table_ranks_runs() -> None:
    a = sample.sweep_analysis(50)
    out = _render(a, width=140)
    assert "50 runs, ranked by best value" in out
    assert "of 50 runs overfit" in out
    assert "learning_rate" in out  # the hyperparameter that drives overfitting in the generator
    lines = [ln for ln in out.splitlines() if ln.strip().startswith("│ 1 ") or ln.strip().startswith("│  1 ")]
    assert lines, out[:2000]


def test_markup_is_literal() -> None:
    h = sample.overfitting_history("[red]boom[/red]", extra_split=False)
    out = _render(analyze(h))
    assert "[red]boom[/red]" in out


def test_run_without_validation() -> None:
    good = sample.overfitting_history("good", extra_split=False)
    bad = History.from_records([{"epoch": e, "train_loss": 1 / e} for e in range(1, 6)], run="bad")
    out = _render(analyze(History.concat([good, bad])))
    assert "error" in out


@pytest.mark.parametrize("values,expected", [
    ([1, 2, 3, 4, 5, 6, 7, 8], "▁▂▃▄▅▆▇█"),
    ([5, 5, 5], "▁▁▁"),
    ([1, float("nan"), 3], "▁×█"),
    ([], ""),
])
def test_sparkline_table(values: list[float], expected: str) -> None:
    assert sparkline(values).plain == expected


def test_sparkline_resamples_long_series() -> None:
    assert len(sparkline(np.arange(1000.0), width=20).plain) == 20
