"""Option types and shared options of the sub-commands (``--monitor``/``--mode``, ``--experiment``,
``--fail-on``), declared once so every command that takes them reads and checks them the same way."""

import sys
from enum import Enum
from typing import Annotated

import typer

from ..findings import Severity

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
RunsPath = Annotated[str, typer.Argument(help="A log file, a run directory, a directory of runs (a sweep), or a "
                                          "tracker URI (sqlite:///mlflow.db, http://host:5000).")]
#: ``--monitor`` and ``--mode``: the series that decides a run (:func:`gapwatch.monitor.parse_monitor`).
MonitorName = Annotated[str | None, typer.Option(
    "--monitor", help="Series to watch, e.g. val_loss, eval/accuracy.")]
MonitorMode = Annotated[Mode | None, typer.Option("--mode", help="min or max (default: from the metric name).")]
#: ``--experiment``: the runs of one experiment of a tracker store (passed on as ``load(path, experiment=...)``).
ExperimentName = Annotated[str | None, typer.Option(
    "--experiment", help="Read only this experiment of a tracker store (MLflow, W&B, trackio).")]
#: ``--fail-on``: the exit status of CI gates (see :func:`exit_on_findings`).
FailOn = Annotated[Severity | None, typer.Option(
    "--fail-on", help="Exit with code 3 when a finding of this severity or worse is present.")]


def print_json(doc: object, *, indent: int | None = 2) -> None:
    """``--json``: ``doc`` as strict JSON (:func:`gapwatch.documents.dumps`) and a newline on stdout."""
    from ..documents import dumps

    sys.stdout.write(dumps(doc, indent=indent) + "\n")


def name_list(text: str | None) -> list[str] | None:
    """A comma-separated option (``--detectors overfitting,instability``) as a list; None when not given."""
    return [d.strip() for d in text.split(",") if d.strip()] if text is not None else None


def exit_on_findings(worst: Severity | None, fail_on: Severity | None, *, announce: bool) -> None:
    """Raise ``typer.Exit(EXIT_FINDING)`` when ``--fail-on`` is set and the worst finding reaches it (saying so
    on stderr when ``announce``); return otherwise."""
    if fail_on is None or worst is None or worst.rank < fail_on.rank:
        return
    if announce:
        print(f"gapwatch: a finding of severity {worst.value} is present (--fail-on {fail_on.value}): "
              f"exit {EXIT_FINDING}", file=sys.stderr)
    raise typer.Exit(EXIT_FINDING)
