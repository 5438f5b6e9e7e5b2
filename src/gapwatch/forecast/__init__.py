"""Learning-curve forecasting that sees overfitting coming (see docs/forecast.md).

``forecast(history_run, monitor=None, observed=N|fraction, horizon=H) -> Forecast`` gives quantiles 0.1 / 0.5 /
0.9 of the monitored validation metric at each future evaluation, the predicted best evaluation with an
interval, and P(best already behind). Backed by a prior-data fitted network (torch, optional) or a parametric
ensemble (numpy/scipy). torch is never imported at module level.
"""

from __future__ import annotations

from .core import (
    DEFAULT_HORIZON_FACTOR,
    METHODS,
    MIN_OBSERVED,
    QUANTILES,
    SCHEMA,
    Forecast,
    forecast,
    forecast_curve,
    forecast_for_analysis,
)

__all__ = [
    "DEFAULT_HORIZON_FACTOR",
    "METHODS",
    "MIN_OBSERVED",
    "QUANTILES",
    "SCHEMA",
    "Forecast",
    "forecast",
    "forecast_curve",
    "forecast_for_analysis",
]
