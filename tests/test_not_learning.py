"""``not_learning``: the catch-all for runs whose held-out series never beat their first evaluation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from gapwatch import History
from gapwatch.detectors import not_learning, run_all
from gapwatch.errors import UsageError
from gapwatch.findings import FindingKind, Severity


def run(**cols: list[float]) -> History:
    n = max(len(v) for v in cols.values())
    rows: list[dict[str, Any]] = []
    for i in range(n):
        rec: dict[str, Any] = {"epoch": i, "step": 25 * (i + 1)}
        rec.update({k: float(v[i]) for k, v in cols.items() if i < len(v)})
        rows.append(rec)
    return History.from_records(rows, run="r")


LN200 = math.log(200)


@pytest.mark.parametrize("name,cols,expected", [
    ("chance accuracy, loss worse (4 evaluations)",
     {"val_acc": [0.29, 0.16, 0.25, 0.15], "val_loss": [1.58, 1.79, 1.68, 1.80]}, True),
    ("one class predicted, loss absurd", {"val_acc": [0.15, 0.16, 0.16, 0.16],
                                          "val_loss": [2.6e8, 3.8e8, 5.1e8, 2.9e8]}, True),
    ("loss stuck at ln(200), training loss named differently",
     {"val_loss": [LN200] * 12, "train_classification_loss": [LN200 + 0.01 * (i % 2) for i in range(12)]}, True),
    ("learning, 5 evaluations", {"val_acc": [0.15, 0.16, 0.46, 0.42, 0.50],
                                 "val_loss": [1.71, 1.84, 1.37, 1.33, 1.29]}, False),
    ("too short (3 evaluations)", {"val_acc": [0.29, 0.16, 0.15], "val_loss": [1.58, 1.79, 1.80]}, False),
    ("overfitting from the start: training learns", {"val_loss": [0.5, 0.55, 0.6, 0.7, 0.8],
                                                     "train_loss": [1.0, 0.6, 0.3, 0.1, 0.05]}, False),
    ("memorising: training accuracy fitted", {"val_acc": [0.1] * 8, "train_acc": [0.1, 0.3, 0.6, 0.9, 1, 1, 1, 1]},
     False),
    ("accuracy gained 6 points", {"val_acc": [0.20, 0.26, 0.22, 0.20], "val_loss": [1.6, 1.7, 1.7, 1.8]}, False),
    ("ends better than it started", {"val_loss": [1.0, 1.2, 1.1, 0.99]}, False),
])
def test_not_learning_table(name: str, cols: dict[str, list[float]], expected: bool) -> None:
    found = not_learning.check(run(**cols))
    if not expected:
        assert found == [], name
        return
    (f,) = found
    assert f.kind == FindingKind.NOT_LEARNING and f.severity == Severity.WARNING
    assert f.epoch == float(len(next(iter(cols.values()))) - 1)  # at the last evaluation
    assert "not learning" in f.message


def test_a_stuck_underfitting_finding_wins() -> None:
    """Both see a flat run: one finding, underfitting's (reconcile drops the catch-all)."""
    flat = [LN200 + 0.001 * ((i * 7) % 3) for i in range(20)]
    kinds = [f.kind for f in run_all(run(val_loss=flat, train_loss=flat))]
    assert FindingKind.UNDERFITTING in kinds and FindingKind.NOT_LEARNING not in kinds


@pytest.mark.parametrize("scale,offset", [(1.0, 0.0), (1000.0, 0.0), (0.001, 5.0)])
def test_invariant_to_scale_and_offset_of_a_loss(scale: float, offset: float) -> None:
    base = np.array([1.58, 1.79, 1.68, 1.80])
    assert len(not_learning.check(run(val_loss=list(scale * base + offset)))) == 1


@pytest.mark.parametrize("bad", [{"min_evaluations": 1}, {"max_metric_gain": 2}, {"max_train_drop": 0}])
def test_bad_parameters_name_the_value(bad: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match=r"^not_learning: "):
        not_learning.check(run(val_loss=[1.0, 1.1, 1.2, 1.3]), **bad)
