"""Findings: what a detector says about a run, as data.

The CLI, the HTML report, the JSON output and the live callbacks all render the same :class:`Finding`.
The ``kind`` values are part of the public JSON contract (``gapwatch.analysis/1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

#: Longest evidence list written to JSON (points). A per-evaluation trajectory of a 24,000-evaluation run is
#: thinned evenly to this many points (first and last kept) when the finding is written, and the positions kept
#: are listed under ``<key>_index``; the Finding itself keeps every point and decisions never see the thinning.
MAX_EVIDENCE_POINTS = 500


class Severity(str, Enum):
    """How much a finding matters: ``info`` (worth knowing), ``warning`` (act on it), ``critical``
    (the run is wasting compute or the model is broken)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class FindingKind(str, Enum):
    """The phenomena gapwatch names (public contract)."""

    OVERFITTING = "overfitting"
    DOUBLE_DESCENT = "double_descent"
    GROKKING = "grokking"
    MEMORIZATION = "memorization"
    INSTABILITY = "instability"
    UNDERFITTING = "underfitting"
    CATASTROPHIC_OVERFITTING = "catastrophic_overfitting"
    STABILITY_GAP = "stability_gap"
    METRIC_DISAGREEMENT = "metric_disagreement"  # held-out loss and task metric tell different stories
    HELDOUT_REGRESSION = "heldout_regression"  # one of several held-out sets degrades (off-target, per group)
    NOT_LEARNING = "not_learning"  # no held-out series ever beat its first evaluation
    DATA = "data"  # a problem with the log itself (single evaluation, resumed steps, no validation)

    def __str__(self) -> str:  # the value, as a plain string would print (f"{kind}" == "overfitting")
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


@dataclass(frozen=True)
class Finding:
    """One observation about a run.

    Attributes:
        kind: a :class:`FindingKind` (a plain string naming one is converted; an unknown name is refused).
        severity: a :class:`Severity`.
        step, epoch: where it happened (the onset), ``None`` when not tied to one point.
        message: one line for people.
        evidence: the numbers behind it (JSON-serialisable; floats, ints, strings, lists).
        actions: recommended changes, most useful first.
        references: paper titles the finding rests on.
        detector: name of the detector that produced it.
    """

    kind: FindingKind
    severity: Severity
    message: str
    step: float | None = None
    epoch: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    actions: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    detector: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.kind, FindingKind):
            try:
                object.__setattr__(self, "kind", FindingKind(str(self.kind)))
            except ValueError:
                known = ", ".join(k.value for k in FindingKind)
                raise ValueError(f"Finding.kind must be one of {known}; got {self.kind!r}") from None
        if not isinstance(self.severity, Severity):
            object.__setattr__(self, "severity", Severity(str(self.severity)))

    def to_dict(self, *, max_evidence_points: int = MAX_EVIDENCE_POINTS) -> dict[str, Any]:
        """JSON-ready dict in the ``gapwatch.analysis/1`` finding shape (evidence lists longer than
        ``max_evidence_points`` thinned, see :data:`MAX_EVIDENCE_POINTS`)."""
        # built field by field: dataclasses.asdict would deep-copy the evidence only for _clean to copy it again
        return {"kind": self.kind.value, "severity": self.severity.value, "message": self.message,
                "step": _clean(self.step), "epoch": _clean(self.epoch),
                "evidence": _clean(thin_evidence(self.evidence, max_evidence_points)),
                "actions": list(self.actions), "references": list(self.references), "detector": self.detector}


def thin_evidence(evidence: Mapping[str, Any], max_points: int) -> dict[str, Any]:
    """``evidence`` with every list longer than ``max_points`` thinned evenly (first and last element kept) and
    the kept positions added as ``<key>_index`` (unless the evidence already has that key)."""
    out = dict(evidence)
    for k, v in evidence.items():
        if isinstance(v, (list, tuple)) and len(v) > max_points >= 2 and f"{k}_index" not in evidence:
            n = len(v)
            keep = sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})
            out[k] = [v[i] for i in keep]
            out[f"{k}_index"] = keep
    return out


def _clean(obj: Any) -> Any:
    from .documents import clean

    return clean(obj)


#: Kept for callers of the earlier name; the owner is :func:`gapwatch.documents.clean`.
clean_json = _clean
