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
    # (a held-out accuracy that moves a little: one at one value for 5+ evaluations is the frozen rule's)
    ("memorising: training accuracy fitted", {"val_acc": [0.1, 0.11, 0.1, 0.09, 0.1, 0.11, 0.1, 0.1],
                                              "train_acc": [0.1, 0.3, 0.6, 0.9, 1, 1, 1, 1]}, False),
    ("accuracy gained 6 points", {"val_acc": [0.20, 0.26, 0.22, 0.20], "val_loss": [1.6, 1.7, 1.7, 1.8]}, False),
    ("ends better than it started", {"val_loss": [1.0, 1.2, 1.1, 0.90]}, False),
    ("at chance over 3 classes while F1 decides (surely_zoe trainer_state-like, 2 evaluations)",
     {"val_f1_score": [0.164, 0.165], "val_loss": [1.117, 1.107], "val_acc": [0.330, 0.3315]}, True),
    ("loss a few percent better, accuracy at the majority share (ravindra_pandey-like)",
     {"val_acc": [0.730, 0.728, 0.732, 0.725, 0.730, 0.731], "val_loss": [0.551, 0.549, 0.548, 0.550, 0.547, 0.5465],
      "train_loss": [0.551, 0.545, 0.540, 0.535, 0.530, 0.524]}, True),
    ("accuracy on 47 images up 4 images: sampling noise (ElectronicXX-like)",
     {"val_acc": [26 / 47, 26 / 47, 27 / 47, 26 / 47, 28 / 47, 29 / 47, 30 / 47, 30 / 47],
      "val_loss": [0.690, 0.689, 0.688, 0.684, 0.680, 0.674, 0.668, 0.667]}, True),
    ("accuracy on 1000 images up 8 points: learning", {"val_acc": [0.500, 0.52, 0.55, 0.56, 0.57, 0.58],
                                                       "val_loss": [0.690, 0.689, 0.688, 0.684, 0.680, 0.674]}, False),
    ("loss 8% better: learning", {"val_loss": [1.0, 0.97, 0.95, 0.93, 0.92]}, False),
    ("F1 saturated from the first evaluation: converged, not stuck",
     {"val_f1": [0.9989, 0.9990, 0.9995, 0.9992, 0.9995], "val_loss": [0.2009, 0.2003, 0.2000, 0.1998, 0.1996]},
     False),
])
def test_not_learning_table(name: str, cols: dict[str, list[float]], expected: bool) -> None:
    found = not_learning.check(run(**cols))
    if not expected:
        assert found == [], name
        return
    (f,) = found
    assert f.kind == FindingKind.NOT_LEARNING and f.severity == Severity.WARNING
    assert f.epoch == float(len(next(iter(cols.values()))) - 1)  # at the last evaluation
    assert "not learning" in f.message or "at chance level" in f.message


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


@pytest.mark.parametrize("values,frozen", [
    ([0.02913092, 0.02912889, 0.02912889, 0.02912889, 0.02912889], True),   # weights stopped changing
    ([0.02913, 0.02913, 0.02913, 0.02913, 0.02913, 0.02913], True),          # every evaluation
    ([0.69, 0.69, 0.69, 0.69, 0.69], False),                                 # printed to two decimals
    ([0.512, 0.431, 0.40213, 0.40213, 0.40213], False),                      # 3 of 5: no longer than half
    ([0.9, 0.7, 0.5, 0.41, 0.38, 0.3631, 0.3631, 0.3631], False),            # too short a repeat
    ([0.5, 0.4, 0.35, 0.3221, 0.3221, 0.3221, 0.3221, 0.3221], False),        # learned, then froze: flatlined
    ([0.3301, 0.3322, 0.3221, 0.3321, 0.3321, 0.3321, 0.3321, 0.3321], True),
])
def test_a_held_out_loss_that_repeats_to_the_digit_is_frozen(values: list[float], frozen: bool) -> None:
    """A loss is continuous: a learning model's held-out loss never repeats to the digit. A StepLR run blown up at
    LR 10 and decayed to 1e-22 logs the same test loss (0.02912889) at every evaluation after the first."""
    n = len(values)
    train = [2.3 - 0.01 * i for i in range(n)]
    h = run(train_loss=train, val_loss=values)
    fs = [f for f in not_learning.check(h) if f.evidence.get("mode") == "frozen"]
    assert bool(fs) is frozen
    if fs:
        assert fs[0].severity == Severity.WARNING and fs[0].evidence["frozen_evaluations"] >= 4


def test_a_noiseless_loss_still_converging_below_frozen_rtol_is_not_frozen() -> None:
    """Hypothesis's counter-example to the strictly-improving property (geometric decrements of ratio 0.3125 from
    a loss near 46): the last eight values differ by less than ``frozen_rtol`` but fall at every evaluation — a
    curve converging, not a model whose predictions stopped changing."""
    d = np.minimum.accumulate(np.array([0.3125 ** i for i in range(16)]) * 1.01)
    val = 47.0 - np.cumsum(d)
    h = History.from_records([{"epoch": e + 1, "train_loss": float(v - 0.1), "val_loss": float(v)}
                              for e, v in enumerate(val)], run="r")
    assert not_learning.check(h) == []


@pytest.mark.parametrize("name,cols,expected", [
    ("Keras regression on a standardised target, MSE pinned at 1.0",
     {"loss": [1.0007, 1.0001, 1.0000, 1.0000], "val_loss": [1.0013, 1.0003, 1.0000, 1.00005],
      "val_mse": [1.0013, 1.0003, 1.0000, 1.00005]}, True),
    ("diffusion model predicting zero noise for 12 epochs",
     {"train_loss": [1.007, 0.99, 0.995, 0.988, 0.99, 0.992, 0.989, 0.99, 0.991, 0.99, 0.989, 0.991],
      "val_loss": [1.003, 0.99, 0.987, 0.994, 0.986, 0.99, 0.988, 0.991, 0.989, 0.99, 0.987, 0.989]}, True),
    ("a loss that reaches 1.0 from above learned", {"train_loss": [1.6, 1.3, 1.1, 1.0, 1.0],
                                                     "val_loss": [1.5, 1.2, 1.05, 1.01, 1.0]}, False),
    ("training loss falls far below 1.0 (overfitting, not a constant)",
     {"train_loss": [1.01, 0.8, 0.5, 0.3, 0.2], "val_loss": [1.0, 0.99, 1.0, 1.01, 1.02]}, False),
    ("held-out loss leaves the band once", {"train_loss": [1.0, 1.0, 0.99, 1.0, 1.0],
                                             "val_loss": [1.0, 0.99, 0.9, 1.0, 1.0]}, False),
    ("too short (3 evaluations)", {"train_loss": [1.0, 1.0, 1.0], "val_loss": [1.0, 1.01, 0.99]}, False),
])
def test_unit_variance_loss(name: str, cols: dict[str, list[float]], expected: bool) -> None:
    found = [f for f in not_learning.check(run(**cols)) if f.evidence.get("mode") == "unit_loss"]
    assert bool(found) == expected, name
    if found:
        assert "1.0 ± 0.03" in found[0].message and found[0].severity == Severity.WARNING


def test_unit_variance_loss_tolerance_is_a_validated_parameter() -> None:
    h = run(train_loss=[1.0, 1.0, 1.0, 1.0, 1.0], val_loss=[1.0, 1.05, 1.04, 1.05, 1.05])
    assert not [f for f in not_learning.check(h) if f.evidence.get("mode") == "unit_loss"]
    assert [f for f in not_learning.check(h, unit_loss_tol=0.06) if f.evidence.get("mode") == "unit_loss"]
    with pytest.raises(UsageError):
        not_learning.check(h, unit_loss_tol=0.0)


@pytest.mark.parametrize("name,cols,expected", [
    ("wav2vec2 CTC collapse: WER exactly 1.0, CER 0.9993",
     {"train_loss": [32.3, 5.0, 5.0, 4.99, 5.0, 4.98], "eval_loss": [5.02, 4.98, 4.97, 4.98, 4.97, 4.98],
      "eval_wer": [1.0] * 6, "eval_cer": [0.9993] * 6}, True),
    ("WER logged as a percentage, 100 throughout", {"train_loss": [3.0, 2.9, 2.9, 2.9],
                                                     "val_wer": [100.0, 100.0, 100.0, 100.0]}, True),
    ("a WER that learns from 1.0", {"train_loss": [3.0, 2.0, 1.5, 1.2], "val_wer": [1.0, 0.8, 0.5, 0.4]}, False),
    ("a CER of 1.3-1.5 percent is a good model, not a fraction above 1",
     {"train_loss": [0.17, 0.1, 0.05, 0.03, 0.02], "val_wer": [4.67, 4.37, 4.5, 4.6, 4.68],
      "val_cer": [1.46, 1.32, 1.4, 1.45, 1.5]}, False),
    ("too short (2 evaluations)", {"train_loss": [3.0, 2.9], "val_wer": [1.0, 1.0]}, False),
])
def test_error_rate_at_its_worst(name: str, cols: dict[str, list[float]], expected: bool) -> None:
    found = [f for f in not_learning.check(run(**cols)) if f.evidence.get("mode") == "worst_error"]
    assert bool(found) == expected, name
    if found:
        assert "never produced an answer" in found[0].message
        assert "1–1 " not in found[0].message and "100–100" not in found[0].message  # (one value: said once)


@pytest.mark.parametrize("cls_drop, fires", [(0.19, False), (0.03, True)])
def test_a_fine_tune_whose_loss_terms_fall_learns_the_training_set(cls_drop: float, fires: bool) -> None:
    """YOLOv8-seg fine-tune resumed from its best.pt (batch 30, judged clean): mask mAP50-95 starts at 0.427, dips
    to 0.382 and ends 0.435 — never better than its first evaluation by more than its noise — while
    ``train/cls_loss`` falls 19%. No total ``train/loss`` is logged, so the terms of the objective say whether the
    training set is learned: it is, and a held-out set that holds its level is no 'not learning'. With every term
    flat (3%), it is."""
    n = 50
    e = np.arange(n)
    dip = 0.427 - 0.045 * np.sin(np.pi * np.minimum(e, 20) / 20) + 0.0002 * e
    h = run(**{"train/box_loss": list(0.80 - 0.0016 * e * (cls_drop / 0.19)),
               "train/cls_loss": list(0.74 * (1 - cls_drop * e / (n - 1))),
               "train/dfl_loss": list(1.08 - 0.001 * e * (cls_drop / 0.19)),
               "val/map50_95": list(dip), "val/seg_loss": list(2.06 + 0.003 * e)})
    found = [f for f in run_all(h) if f.kind == FindingKind.NOT_LEARNING]
    assert bool(found) == fires
