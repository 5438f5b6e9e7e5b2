"""Short runs (fewer evaluations than a noise estimate needs): overfitting's short-run rule and underfitting's
veto by a short held-out loss, on tables of small curves with known answers."""

from __future__ import annotations

import pytest

from gapwatch import History, analyze
from gapwatch.findings import FindingKind, Severity


def _run(val: list[float], train: list[float], every: int = 10) -> History:
    """Training loss every ``every`` steps, the validation loss at the end of each block of ``len(train) //
    len(val)`` training points (the first one at step 1, before training, as fine-tuning scripts do)."""
    rows: dict[str, list[object]] = {"run": [], "split": [], "metric": [], "value": [], "step": []}
    for i, v in enumerate(train):
        for k, x in (("split", "train"), ("metric", "loss"), ("value", v), ("step", (i + 1) * every)):
            rows[k].append(x)
        rows["run"].append("r")
    per = max(1, len(train) // max(1, len(val) - 1))
    for j, v in enumerate(val):
        for k, x in (("split", "val"), ("metric", "loss"), ("value", v), ("step", 1 if j == 0 else j * per * every)):
            rows[k].append(x)
        rows["run"].append("r")
    return History(rows)


TRAIN = [1.24, 0.98, 0.70, 0.51, 0.30, 0.19]


@pytest.mark.parametrize(("name", "val", "train", "want"), [
    ("rises at each of the two evaluations after the best", [2.91, 1.40, 1.46, 1.62], TRAIN, "warning"),
    ("three evaluations: best, then two rises", [1.40, 1.46, 1.62], TRAIN, None),  # no improvement before the best
    ("best, a rise, a fall: no monotone rise", [2.91, 1.40, 1.62, 1.50], TRAIN, None),
    ("rise too small to matter", [2.91, 1.40, 1.41, 1.42], TRAIN, None),
    ("still improving", [2.91, 1.40, 1.30, 1.25], TRAIN, None),
    ("training got worse too (diverging, not overfitting)", [2.91, 1.40, 1.46, 1.62],
     [1.24, 0.98, 0.70, 0.90, 1.10, 1.30], None),
])
def test_short_run_rule(name: str, val: list[float], train: list[float], want: str | None) -> None:
    (r,) = analyze(_run(val, train), forecast=False).runs
    over = [f for f in r.findings if f.kind is FindingKind.OVERFITTING]
    assert [f.severity.value for f in over] == ([want] if want else []), name
    if over:
        assert over[0].evidence["short_run"] is True
        assert over[0].severity is not Severity.CRITICAL


def test_short_rising_heldout_vetoes_train_longer() -> None:
    """The training loss is still falling steeply, but the held-out loss rose at its last evaluation: never the
    advice to train longer."""
    (r,) = analyze(_run([2.91, 1.40, 1.46, 1.62], TRAIN), forecast=False).runs
    assert not [f for f in r.findings if f.kind is FindingKind.UNDERFITTING]


def test_short_heldout_at_its_best_keeps_still_falling() -> None:
    (r,) = analyze(_run([2.91, 1.80, 1.50, 1.30], [2.0, 1.8, 1.6, 1.45, 1.3, 1.15]), forecast=False).runs
    under = [f for f in r.findings if f.kind is FindingKind.UNDERFITTING]
    assert under and "small train/held-out gap" in under[0].message
    assert under[0].evidence["gap_final"] == pytest.approx(1.30 - 1.15)  # held-out last - training final level
