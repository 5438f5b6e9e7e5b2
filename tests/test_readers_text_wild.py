"""Text-log shapes found in bench/wild batches 29–30: fixtures in the shape of the real files, numbers changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gapwatch import load


def test_a_parenthesised_summary_qualifier_keeps_the_measure_and_its_split(tmp_path: Path) -> None:
    """Chinese dev notes quoting a segmentation log (batch 30): ``Eval Acc (total): 0.8812`` after each epoch's
    batch lines. The qualifier ``(total)`` was read as a training measure named ``total`` — the evaluation's
    accuracy was lost and the run had 'no validation series'."""
    lines = []
    for e in range(1, 7):
        lines += [f"epoch:  {e}/10 batch   {b}/23 Train loss: {0.7 - 0.02 * e - 0.001 * b:.6f}, Acc: "
                  f"{0.80 + 0.01 * e:.6f}" for b in (1, 2)]
        lines += [f"Eval Acc (total): {0.8812 + 0.001 * e:.10f}", "best epoch num: 1"]
    p = tmp_path / "dev_records.md"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert h.has("val", "acc") and not h.has("train", "total")
    assert len(h.series("val", "acc")) == 6


@pytest.mark.parametrize("printed, key", [
    ("Val Loss (avg): 0.41", ("val", "loss")),
    ("valid accuracy (overall): 0.91", ("val", "acc")),
    ("Error (MPJPE): 45.1", ("train", "error_mpjpe")),
])
def test_qualifiers_after_a_name(tmp_path: Path, printed: str, key: tuple[str, str]) -> None:
    """A summary qualifier (total, overall, avg, mean…) is dropped; any other stays part of the name."""
    assert load(_epoch_log(tmp_path, printed, ": ")).has(*key)


def _epoch_log(tmp_path: Path, printed: str, sep: str) -> Path:
    """``train.log`` of 7 epochs, each ``Epoch e: train_loss: … | <name><sep><value + 0.01 e>`` (``printed`` is
    ``<name><sep><value>``)."""
    name, value = printed.split(sep)
    p = tmp_path / "train.log"
    p.write_text("".join(f"Epoch {e}: train_loss: {1.0 - 0.05 * e:.3f} | {name}{sep}{float(value) + 0.01 * e:.3f}\n"
                         for e in range(1, 8)))
    return p


def test_a_measure_named_on_its_set_after_it(tmp_path: Path) -> None:
    """A grid search over a query-cost model (batch 32): ``Validation Loss: …, Median Qerror on Validation Set:
    …`` each epoch. The q-error, the metric the run early-stopped on, was not read (a name that puts its set after
    ``on``), so the unnormalised validation loss decided alone and its late rise was a critical overfitting."""
    lines = []
    for e in range(1, 13):
        lines += [f"Epoch {e}/1000, Training Loss: {8.6e18 - 1e17 * e:.4f}",
                  f"Validation Loss: {1.7e18 - 5e16 * e:.4f}, Median Qerror on Validation Set: {3.2 + 40 / e:.4f}",
                  f"Improved validation q-error to {3.2 + 40 / e:.4f}"]
    p = tmp_path / "gridsearch.txt"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert h.has("val", "median_error") and h.has("val", "loss")
    assert len(h.series("val", "median_error")) == 12


@pytest.mark.parametrize("printed, key", [
    ("Accuracy on validation set: 0.81", ("val", "acc")),
    ("accuracy on the test set = 0.77", ("test", "acc")),
    ("Loss on training data: 0.52", ("train", "loss")),
])
def test_on_the_set_phrasings(tmp_path: Path, printed: str, key: tuple[str, str]) -> None:
    assert load(_epoch_log(tmp_path, printed, ": " if ": " in printed else " = ")).has(*key)
