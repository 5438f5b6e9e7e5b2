"""``gapwatch forecast PATH``: parse → :func:`gapwatch.forecast.sweep.forecast_sweep` → render."""

import typer

from . import app
from ._options import ExperimentName, RunsPath, print_json


@app.command("forecast")
def forecast_cmd(
    path: RunsPath,
    observed: str | None = typer.Option(
        None, "--observed", help="Evaluations to condition on: a count (20) or a fraction (0.3). Default: all."),
    horizon: int | None = typer.Option(None, "--horizon", help="Forecast up to this many evaluations in total "
                                       "(> observed). Default: the rest of the log, or 50% more evaluations."),
    monitor: str | None = typer.Option(None, "--monitor", help="Series to forecast, e.g. val_loss."),
    mode: str | None = typer.Option(None, "--mode", help="min or max (default: from the metric name)."),
    method: str = typer.Option("auto", "--method", help="auto, pfn or ensemble."),
    bound: str = typer.Option(
        "auto", "--bound", help="Upper bound of a higher-is-better score (forecast as the log distance to it): "
        "auto (1 for scores in [0, 1], 100 for accuracy-like percentages), none, or a number."),
    experiment: ExperimentName = None,
    json_out: bool = typer.Option(False, "--json", help="Print the gapwatch.forecast/1 JSON document."),
) -> None:
    """Forecast the validation metric: quantiles per future evaluation, the best evaluation, P(best behind)."""
    from ..forecast.sweep import forecast_options, forecast_sweep
    from ..readers import load

    obs, bnd, mon = forecast_options(observed, monitor, mode, method, bound)
    result = forecast_sweep(load(path, experiment=experiment), mon, observed=obs, horizon=horizon, method=method,
                            bound=bnd)
    if json_out:
        print_json(result.to_dict())
        return
    from ..report.forecast_view import render_forecasts

    render_forecasts(result)
