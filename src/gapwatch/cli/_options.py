"""Option types and parsers shared by the sub-commands (choices, ``--monitor``, ``--param``, ``--fail-on``)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..findings import Severity

if TYPE_CHECKING:
    from ..monitor import Monitor

#: Exit code when a finding reaches the ``--fail-on`` severity.
EXIT_FINDING = 3


class Mode(str, Enum):
    """``--mode``: whether lower (``min``) or higher (``max``) values of the monitored metric are better."""

    min = "min"
    max = "max"


class FailOn(str, Enum):
    """``--fail-on``: the finding severity that makes the command exit with :data:`EXIT_FINDING`."""

    info = "info"
    warning = "warning"
    critical = "critical"


class ForecastMethodOpt(str, Enum):
    """``--forecast-method`` / ``--method``: which forecaster (see docs/forecast.md)."""

    ensemble = "ensemble"
    pfn = "pfn"
    auto = "auto"


def monitor_option(monitor: str | None, mode: Mode | None) -> Monitor | None:
    """``--monitor`` and ``--mode`` as a :class:`Monitor` (None when no ``--monitor`` was given)."""
    from ..monitor import parse_monitor

    return parse_monitor(monitor, mode.value if mode is not None else None) if monitor else None


def detector_params(items: Sequence[str]) -> dict[str, dict[str, Any]] | None:
    """``["overfitting.min_z=4", ...]`` → ``{"overfitting": {"min_z": 4.0}}``, each typed and checked by the
    parameter's spec (:func:`gapwatch.params.parse_cli_param`)."""
    if not items:
        return None
    from ..params import parse_cli_param

    out: dict[str, dict[str, Any]] = {}
    for it in items:
        owner, name, value = parse_cli_param(it)
        out.setdefault(owner, {})[name] = value
    return out


def check_new_file(path: Path | None, force: bool) -> None:
    """Refuse to replace an existing output file unless ``--force`` was given (before any work is done)."""
    if path is not None and (path.exists() or path.is_symlink()) and not force:
        raise UsageError(f"{path} already exists; refusing to overwrite it (choose another name or pass --force)")


def fail_exit_code(worst: Severity | None, fail_on: FailOn | None) -> int:
    """:data:`EXIT_FINDING` when ``fail_on`` is set and the worst finding reaches it, else 0."""
    if fail_on is None or worst is None:
        return 0
    return EXIT_FINDING if worst.rank >= Severity(fail_on.value).rank else 0
