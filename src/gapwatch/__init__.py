"""gapwatch: find, forecast and fix overfitting in machine-learning training runs.

Core API (no torch needed)::

    import gapwatch
    history = gapwatch.load("runs/exp1/trainer_state.json")
    result = gapwatch.analyze(history)          # == what `gapwatch analyze PATH --json` prints
    print(result.to_dict())

The names below are imported on first use (PEP 562), so ``import gapwatch`` and ``gapwatch --help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name → module that defines it
_EXPORTS: dict[str, str] = {
    "Analysis": "analysis", "RunAnalysis": "analysis", "analyze": "analysis", "BestPoint": "analysis",
    "GapwatchError": "errors", "InputError": "errors", "UsageError": "errors",
    "Finding": "findings", "FindingKind": "findings", "Severity": "findings",
    "History": "history", "Run": "history", "Series": "history",
    "Monitor": "monitor", "load": "readers",
    "replay_history": "replay", "replay_values": "replay",
}

__all__ = [*_EXPORTS, "__version__"]

if TYPE_CHECKING:
    from .analysis import Analysis as Analysis
    from .analysis import BestPoint as BestPoint
    from .analysis import RunAnalysis as RunAnalysis
    from .analysis import analyze as analyze
    from .errors import GapwatchError as GapwatchError
    from .errors import InputError as InputError
    from .errors import UsageError as UsageError
    from .findings import Finding as Finding
    from .findings import FindingKind as FindingKind
    from .findings import Severity as Severity
    from .history import History as History
    from .history import Run as Run
    from .history import Series as Series
    from .monitor import Monitor as Monitor
    from .readers import load as load
    from .replay import replay_history as replay_history
    from .replay import replay_values as replay_values


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'gapwatch' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
