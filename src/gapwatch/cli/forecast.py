"""``gapwatch forecast PATH``: forecast the monitored validation curve of each run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ..errors import UsageError
from . import app


def parse_observed(text: str | None) -> int | float | None:
    """``--observed`` as a count (``20``) or a fraction (``0.3``); None means every logged evaluation."""
    if text is None:
        return None
    try:
        if any(c in text for c in ".eE"):
            return float(text)
        return int(text)
    except ValueError:
        raise UsageError(f"--observed must be a count (e.g. 20) or a fraction (e.g. 0.3), got {text!r}") from None


def parse_bound(text: str) -> float | str | None:
    """``--bound``: ``auto``, ``none`` or a finite number."""
    t = text.strip().lower()
    if t in ("auto", "none"):
        return None if t == "none" else "auto"
    try:
        v = float(t)
    except ValueError:
        raise UsageError(f"--bound must be auto, none or a number, got {text!r}") from None
    if not v == v or v in (float("inf"), float("-inf")):
        raise UsageError(f"--bound must be finite, got {text!r}")
    return v


@app.command("forecast")
def forecast_cmd(
    path: Path = typer.Argument(..., help="A log file, a run directory, or a directory of runs (a sweep)."),
    observed: str | None = typer.Option(
        None, "--observed", help="Evaluations to condition on: a count (20) or a fraction (0.3). Default: all."),
    horizon: int | None = typer.Option(
        None, "--horizon", help="Forecast up to this many evaluations in total (> observed). "
        "Default: the rest of the log, or 50% more evaluations."),
    monitor: str | None = typer.Option(None, "--monitor", help="Series to forecast, e.g. val_loss."),
    mode: str | None = typer.Option(None, "--mode", help="min or max (default: from the metric name)."),
    method: str = typer.Option("auto", "--method", help="auto, pfn or ensemble."),
    bound: str = typer.Option(
        "auto", "--bound", help="Upper bound of a higher-is-better score (forecast as the log distance to it): "
        "auto (1 for scores in [0, 1], 100 for accuracy-like percentages), none, or a number."),
    json_out: bool = typer.Option(False, "--json", help="Print the gapwatch.forecast/1 JSON document."),
) -> None:
    """Forecast the validation metric: quantiles per future evaluation, the best evaluation, P(best behind)."""
    from ..forecast.sweep import forecast_sweep
    from ..readers import load

    obs, bnd, mon = _parse_options(observed, monitor, mode, method, bound)
    result = forecast_sweep(load(path), mon, observed=obs, horizon=horizon, method=method, bound=bnd)
    if json_out:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
        return
    _render_forecasts(result)


def _parse_options(observed: str | None, monitor: str | None, mode: str | None, method: str, bound: str
                   ) -> tuple[int | float | None, float | str | None, Any]:
    """The validated ``--observed``, ``--bound`` and ``--monitor`` (``--mode`` and ``--method`` checked)."""
    from ..monitor import parse_monitor

    if mode is not None and mode not in ("min", "max"):
        raise UsageError(f"--mode must be 'min' or 'max', got {mode!r}")
    obs = parse_observed(observed)
    bnd = parse_bound(bound)
    mon = parse_monitor(monitor, mode) if monitor else None
    if method not in ("auto", "pfn", "ensemble"):
        raise UsageError(f"--method must be auto, pfn or ensemble, got {method!r}")
    return obs, bnd, mon


def _render_forecasts(fcs: Any, console: Any = None) -> None:
    """Print a :class:`~gapwatch.forecast.sweep.SweepForecast` as rich text (``console``: default a new one)."""
    from rich.console import Console

    con = console if console is not None else Console()
    for r in fcs.runs:
        if r.forecast is None:
            con.print(f"[bold]{r.name}[/bold]: no forecast: {r.error}")
            continue
        _render_run(con, r)
    for n in fcs.notes:
        con.print(f"note: {n}")


def _render_run(con: Any, r: Any) -> None:
    """One run's forecast: header, best evaluation, quantile table, cross-run line and notes."""
    from rich.table import Table

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
