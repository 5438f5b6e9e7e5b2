"""Terminal rendering of ``gapwatch forecast`` (rich): one block per run of a
:class:`~gapwatch.forecast.sweep.SweepForecast` — header, best evaluation, quantile table, cross-run line, notes;
a run that could not be forecast is one line with its error."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def render_forecasts(fcs: Any, console: Console | None = None) -> None:
    """Print a :class:`~gapwatch.forecast.sweep.SweepForecast` as rich text (``console``: default a new one)."""
    con = console if console is not None else Console()
    for r in fcs.runs:
        if r.forecast is None:
            con.print(f"[bold]{r.name}[/bold]: no forecast: {r.error}")
            continue
        _render_run(con, r)
    for n in fcs.notes:
        con.print(f"note: {n}")


def _render_run(con: Console, r: Any) -> None:
    """One run's forecast: header, best evaluation, quantile table, cross-run line and notes."""
    f = r.forecast
    label = f.monitor.label if f.monitor else "?"
    con.print(f"[bold]{f.name}[/bold] {label}: {f.observed} evaluations observed, forecast to x={f.x[-1]:g} "
              f"({f.method})")
    con.print(f"  P(best already behind) = {f.p_best_behind:.2f}; best evaluation at x≈{f.best['x']:g} "
              f"(80%: {f.best['low']:g}–{f.best['high']:g})")
    tab = Table("x", "q0.1", "median", "q0.9")
    idx = sorted({round(i) for i in (0, len(f.x) / 4, len(f.x) / 2, 3 * len(f.x) / 4, len(f.x) - 1)})
    for i in idx:
        tab.add_row(f"{f.x[i]:g}", *(f"{f.quantiles[k][i]:.4g}" for k in ("0.1", "0.5", "0.9")))
    con.print(tab)
    if r.cross is not None and r.cross.target is not None:
        con.print(f"  sweep: P(beats the best other run's {r.cross.target:.4g} by x={r.cross.horizon:g}) = "
                  f"{r.cross.p_beat:.2f}; expected best {r.cross.expected_best:.4g} "
                  f"({r.cross.analogs} analog runs)")
    for n in f.notes:
        con.print(f"  note: {n}")
