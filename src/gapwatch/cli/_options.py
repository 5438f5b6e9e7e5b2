"""Option types, shared options and parsers of the sub-commands (``--monitor``/``--mode``, ``--param``,
``--fail-on``), declared once so every command that takes them reads and checks them the same way."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

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


class ForecastMethodOpt(str, Enum):
    """``--forecast-method`` / ``--method``: which forecaster (see docs/forecast.md)."""

    ensemble = "ensemble"
    pfn = "pfn"
    auto = "auto"


#: The input of every command that reads training logs.
RunsPath = Annotated[Path, typer.Argument(help="A log file, a run directory, or a directory of runs (a sweep).")]
#: ``--monitor`` and ``--mode``: the series that decides a run (see :func:`monitor_option`).
MonitorName = Annotated[str | None, typer.Option(
    "--monitor", help="Series to watch, e.g. val_loss, eval/accuracy.")]
MonitorMode = Annotated[Mode | None, typer.Option("--mode", help="min or max (default: from the metric name).")]
#: ``--experiment``: the runs of one experiment of a tracker store (passed on as ``load(path, experiment=...)``).
ExperimentName = Annotated[str | None, typer.Option(
    "--experiment", help="Read only this experiment of a tracker store (MLflow, W&B, trackio).")]
#: ``--fail-on``: the exit status of CI gates (see :func:`exit_on_findings`).
FailOn = Annotated[Severity | None, typer.Option(
    "--fail-on", help="Exit with code 3 when a finding of this severity or worse is present.")]


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


def name_list(text: str | None) -> list[str] | None:
    """A comma-separated option (``--detectors overfitting,instability``) as a list; None when not given."""
    return [d.strip() for d in text.split(",") if d.strip()] if text is not None else None


def check_new_file(path: Path | None, force: bool) -> None:
    """Refuse to replace an existing output file unless ``--force`` was given (before any work is done)."""
    if path is not None and (path.exists() or path.is_symlink()) and not force:
        raise UsageError(f"{path} already exists; refusing to overwrite it (choose another name or pass --force)")


def exit_on_findings(worst: Severity | None, fail_on: Severity | None, *, announce: bool) -> None:
    """Raise ``typer.Exit(EXIT_FINDING)`` when ``--fail-on`` is set and the worst finding reaches it (saying so
    on stderr when ``announce``); return otherwise."""
    if fail_on is None or worst is None or worst.rank < fail_on.rank:
        return
    if announce:
        print(f"gapwatch: a finding of severity {worst.value} is present (--fail-on {fail_on.value}): "
              f"exit {EXIT_FINDING}", file=sys.stderr)
    raise typer.Exit(EXIT_FINDING)
