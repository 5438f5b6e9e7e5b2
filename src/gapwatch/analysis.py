"""Analysis of loaded runs: monitored series, best point, findings, and the ``gapwatch.analysis/1`` JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .detectors import run_all
from .errors import InputError
from .findings import Finding, FindingKind, Severity, clean_json
from .history import History
from .monitor import Monitor, choose_monitor

SCHEMA = "gapwatch.analysis/1"


@dataclass
class RunAnalysis:
    """Everything gapwatch concluded about one run.

    Attributes:
        name, source: run name and the file or directory it came from.
        x: ``"epoch"`` or ``"step"``: the axis of the monitored series.
        monitor: what was monitored; ``None`` when the run has no held-out series (then ``error`` says why).
        best: ``{"step", "epoch", "value"}`` of the best monitored evaluation.
        findings: detector findings, most severe first.
        history: the run's History (not serialised).
        extra: keys later capabilities add to the run's JSON (``"forecast"``, ``"examples"``).
    """

    name: str
    source: str
    x: str
    monitor: Monitor | None
    best: dict[str, Any] | None
    findings: list[Finding]
    history: History
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def worst_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "x": self.x,
            "monitor": self.monitor.to_dict() if self.monitor else None,
            "best": clean_json(self.best),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.error:
            d["error"] = self.error
        d.update(clean_json(self.extra))
        return d


@dataclass
class Analysis:
    """The analysis of every run loaded from one path."""

    runs: list[RunAnalysis]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "runs": [r.to_dict() for r in self.runs]}

    @property
    def worst_severity(self) -> Severity | None:
        return max((s for r in self.runs if (s := r.worst_severity)), key=lambda s: s.rank, default=None)


def analyze_run(
    history: History,
    *,
    monitor: Monitor | None = None,
    detector_params: dict[str, dict[str, Any]] | None = None,
) -> RunAnalysis:
    """Analyse one run. A run without a held-out series gets ``error`` set instead of raising, so one bad
    run does not hide a sweep; :func:`analyze` raises when *every* run is unusable."""
    name, source = history.name, history.source
    data_findings = [
        Finding(FindingKind.DATA.value, Severity.INFO, f"{n.message}" + (f" ({n.source})" if n.source else ""),
                detector="history")
        for n in history.notes
    ]
    try:
        mon = choose_monitor(history, monitor)
    except InputError as exc:
        return RunAnalysis(name, source, "epoch", None, None, data_findings, history, error=str(exc))
    s = history.series(mon.split, mon.metric)
    fin = np.isfinite(s.values)
    best = None
    if fin.any():
        b = int(np.argmin(np.where(fin, mon.sign * s.values, np.inf)))
        best = {**s.at(b), "value": float(s.values[b])}
    if mon.split == "test":
        data_findings.append(Finding(
            FindingKind.DATA.value, Severity.WARNING,
            "no validation split was logged, so the test split is monitored: decisions taken on test data "
            "overstate how good the chosen point is; log a separate validation set",
            detector="monitor"))
    if int(fin.sum()) < 2:
        data_findings.append(Finding(
            FindingKind.DATA.value, Severity.WARNING,
            f"{s.name} has {int(fin.sum())} finite evaluation(s) in {source or name}: at least 2 are needed to "
            "say anything about the curve; evaluate more often (e.g. every epoch)",
            evidence={"evaluations": int(fin.sum())}, detector="monitor"))
    findings = run_all(history, monitor=mon, params=detector_params)
    return RunAnalysis(name, source, s.x_kind, mon, best, findings + data_findings, history)


def analyze(
    history: History,
    *,
    monitor: Monitor | None = None,
    detector_params: dict[str, dict[str, Any]] | None = None,
) -> Analysis:
    """Analyse every run of ``history``.

    Raises:
        InputError: when no run has a usable held-out series (the message of the first run says what to log).
    """
    runs = [analyze_run(h, monitor=monitor, detector_params=detector_params) for h in history]
    if runs and all(r.error for r in runs):
        raise InputError(runs[0].error or "no run could be analysed")
    return Analysis(runs)
