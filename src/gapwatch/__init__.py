"""gapwatch: find, forecast and fix overfitting in machine-learning training runs.

Core API (no torch needed)::

    import gapwatch
    history = gapwatch.load("runs/exp1/trainer_state.json")
    result = gapwatch.analyze(history)
"""

from __future__ import annotations

__version__ = "0.1.0"

from .analysis import Analysis, RunAnalysis, analyze
from .errors import GapwatchError, InputError, UsageError
from .findings import Finding, FindingKind, Severity
from .history import History, Series
from .monitor import Monitor
from .readers import load

__all__ = [
    "Analysis", "RunAnalysis", "analyze", "GapwatchError", "InputError", "UsageError", "Finding",
    "FindingKind", "Severity", "History", "Series", "Monitor", "load", "__version__",
]
