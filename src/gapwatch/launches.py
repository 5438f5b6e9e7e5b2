"""Launches appended to one log: the latest launch decides.

A log file that a training script opens in append mode (Keras ``CSVLogger(append=True)``, ``logging`` to a
fixed ``train.log``, ``>> nohup.out``) holds every launch of the script, one after another: aborted starts of one
or two epochs, reruns with other settings, and the run that is training now. The readers split such a file
where the epoch counter restarts and name the launches ``"<run>#1"``, ``"<run>#2"`` … (:mod:`gapwatch.readers`).

Each launch is analysed on its own, but the verdict on the file is the latest launch's: the earlier ones are
superseded — the user has already restarted them — and judged together they turn a file into a lottery (one of
thirty launches of a grapheme-to-phoneme model that stopped early on a noisy set, a smoke test at chance, an
aborted start with a NaN). The findings of every launch before the deciding one are kept, at ``info`` severity,
each saying which launch decides (``evidence["earlier_launch"]``, ``evidence["deciding_launch"]``).

The deciding launch is the last one whose deciding series holds at least ``min_evaluations`` finite
evaluations (an aborted start after it does not decide), else the last one with any, else the last launch.
Measured on the real-log corpus's ``dev`` logs that hold two or more appended launches (``bench/bench_wild.py``;
BENCHMARKS.md): judging every launch was right on 9 of 26, the latest launch on 19. ``gapwatch analyze`` and
``gapwatch watch`` apply the same rule (:func:`deciding`, :func:`deciding_by_counts`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from .params import Param, register, validate

if TYPE_CHECKING:
    from .analysis import RunAnalysis
    from .findings import Finding

#: A launch's name: the run's name, ``#`` and the launch's number (1, 2, …) in the file.
LAUNCH_NAME = re.compile(r"^(?P<base>.+)#(?P<k>\d+)$")

OWNER = "launches"

SPECS: tuple[Param, ...] = register(OWNER, (
    Param("latest_decides", True, "Judge a file of appended launches by its latest launch: the findings of the "
          "earlier launches become info and name the deciding launch (False: every launch keeps its own "
          "severities).", type=bool),
    Param("min_evaluations", 5, "Finite evaluations of its deciding series a launch needs to decide: an aborted "
          "start of fewer after the real run (a relaunch stopped at once) leaves the decision to the run before "
          "it; five, the fewest the noise-based detectors judge.", unit="evaluations", type=int, low=1),
))

#: Appended to the message of a finding from a launch that does not decide.
EARLIER_NOTE = "; from an earlier launch appended to the same log (the latest launch, {name}, decides)"


def deciding(runs: list[RunAnalysis], min_evaluations: int) -> dict[str, str]:
    """``{launch name: deciding launch name}`` for every launch of a file holding two or more appended launches
    (runs named ``<run>#<k>`` with the same ``<run>`` and source); runs that are not launches are absent."""
    return deciding_by_counts([(r.name, r.source, evaluations(r)) for r in runs], min_evaluations)


def deciding_by_counts(runs: list[tuple[str, str, int]], min_evaluations: int) -> dict[str, str]:
    """:func:`deciding` from ``(name, source, finite evaluations of its deciding series)`` of each run (what a
    follower of growing logs, :mod:`gapwatch.watch`, knows without the analyses)."""
    groups: dict[tuple[str, str], list[tuple[int, str, int]]] = {}
    for name, source, n in runs:
        m = LAUNCH_NAME.match(name)
        if m is not None:
            groups.setdefault((m.group("base"), source), []).append((int(m.group("k")), name, n))
    out: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        ordered = sorted(members)
        judged = [name for _, name, n in ordered if n >= min_evaluations]
        chosen = (judged or [name for _, name, n in ordered if n > 0] or [name for _, name, _ in ordered])[-1]
        out.update({name: chosen for _, name, _ in ordered})
    return out


def earlier(findings: list[Finding], chosen: str) -> list[Finding]:
    """``findings`` of a launch that does not decide: every one above ``info`` becomes ``info``, says which launch
    decides and carries ``evidence["earlier_launch"]``, ``evidence["deciding_launch"]``."""
    from .findings import Severity

    return [replace(f, severity=Severity.INFO, message=f.message + EARLIER_NOTE.format(name=chosen),
                    evidence={**f.evidence, "earlier_launch": True, "deciding_launch": chosen})
            if f.severity.rank > Severity.INFO.rank else f for f in findings]


def options(params: dict[str, Any] | None) -> dict[str, Any]:
    """The validated ``launches`` parameters (defaults filled in); :class:`~gapwatch.errors.UsageError` for an
    unknown name or a bad value."""
    return validate(OWNER, SPECS, params or {})


def evaluations(r: RunAnalysis) -> int:
    """Finite evaluations of the run's deciding series (0 without one)."""
    if r.monitor is None or r.error:
        return 0
    try:
        s = r.history.series(r.monitor.split, r.monitor.metric)
    except (KeyError, ValueError):
        return 0
    return int(np.count_nonzero(np.isfinite(s.values)))


def apply(runs: list[RunAnalysis], params: dict[str, Any] | None = None) -> list[str]:
    """Make the latest launch of each appended log decide (see the module docstring), in place: the findings of
    the earlier launches become ``info``. Returns the names of the runs whose findings changed (their summaries
    must be made again)."""
    from .findings import Severity

    p = options(params)
    if not p["latest_decides"]:
        return []
    decides = deciding(runs, p["min_evaluations"])
    changed = []
    for r in runs:
        chosen = decides.get(r.name)
        if chosen is None or chosen == r.name:
            continue
        if not any(f.severity.rank > Severity.INFO.rank for f in r.findings):
            continue
        r.findings = earlier(r.findings, chosen)
        changed.append(r.name)
    return changed
