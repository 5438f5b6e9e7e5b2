"""Findings: what a detector says about a run, as data.

The CLI, the HTML report, the JSON output and the live callbacks all render the same :class:`Finding`.
The ``kind`` values are part of the public JSON contract (``gapwatch.analysis/1``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


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
    DATA = "data"  # a problem with the log itself (single evaluation, resumed steps, no validation)


@dataclass(frozen=True)
class Finding:
    """One observation about a run.

    Attributes:
        kind: a :class:`FindingKind` value.
        severity: a :class:`Severity`.
        step, epoch: where it happened (the onset), ``None`` when not tied to one point.
        message: one line for people.
        evidence: the numbers behind it (JSON-serialisable; floats, ints, strings, lists).
        actions: recommended changes, most useful first.
        references: paper titles the finding rests on.
        detector: name of the detector that produced it.
    """

    kind: str
    severity: Severity
    message: str
    step: float | None = None
    epoch: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    actions: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    detector: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the ``gapwatch.analysis/1`` finding shape."""
        d = asdict(self)
        d["kind"] = str(self.kind.value if isinstance(self.kind, Enum) else self.kind)
        d["severity"] = self.severity.value
        d["step"] = _clean(self.step)
        d["epoch"] = _clean(self.epoch)
        d["evidence"] = _clean(self.evidence)
        d["actions"] = list(self.actions)
        d["references"] = list(self.references)
        return d


def _clean(obj: Any) -> Any:
    """Make numbers JSON-safe: numpy scalars → Python, NaN/inf → None, integral floats of steps kept."""
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            obj = obj.item()
        if isinstance(obj, np.ndarray):
            obj = obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


clean_json = _clean
