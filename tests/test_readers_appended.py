"""Runs appended to one hand-written CSV (batch 29 of bench/wild): fixtures in the shape of the real file, numbers
changed."""

from __future__ import annotations

from pathlib import Path

from gapwatch import analyze, load
from gapwatch.findings import FindingKind, Severity

HEADER = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,val_precision,val_recall,val_f1,lr\r\n"


def _rows(val_loss: list[float], val_acc: list[float]) -> str:
    out = []
    for e, (vl, va) in enumerate(zip(val_loss, val_acc, strict=True), start=1):
        tl = 0.31 * 0.55 ** (e - 1) + 0.01
        out.append(f"{e},{tl:.6f},{min(0.86 + 0.03 * e, 1.0):.6f},{vl},{va},{va + 0.01:.6f},{va - 0.01:.6f},"
                   f"{va:.6f},{0.0003 * 0.9 ** e:.8g}\r\n")
    return "".join(out)


def test_a_csv_whose_epoch_restarts_at_its_first_value_holds_several_runs(tmp_path: Path) -> None:
    """A ConvNeXt classifier's metrics.csv (CRLF) that every launch appended to: the epoch restarts at 1 three
    times. Each launch is its own run; the dedupe of a resumed run used to keep the last value of each epoch from
    whichever launch wrote it — a curve no launch drew — and the last launch's overfitting went unseen."""
    a = _rows([0.30, 0.62, 0.71, 0.42, 0.33, 0.36], [0.908, 0.876, 0.889, 0.908, 0.895, 0.908])
    b = _rows([0.29, 0.32, 0.41, 0.52, 0.79, 0.43, 0.41, 0.44, 0.45], [0.938, 0.917, 0.903, 0.910, 0.828, 0.903,
                                                                          0.900, 0.897, 0.895])
    c = _rows([0.25, 0.27, 0.38, 0.40, 0.47, 0.52, 0.58, 0.61, 0.66, 0.70],
              [0.931, 0.924, 0.910, 0.905, 0.900, 0.897, 0.890, 0.886, 0.882, 0.879])
    p = tmp_path / "metrics.csv"
    p.write_bytes((HEADER + a + b + c).encode())
    h = load(p)
    assert h.runs() == ["metrics#1", "metrics#2", "metrics#3"]
    assert len(h.series("val", "f1", run="metrics#3")) == 10
    assert any("goes back to its first value at line 8, 17" in n.message for n in h.notes)
    last = {r.name: r for r in analyze(h, forecast=False).runs}["metrics#3"]
    over = [f for f in last.findings if f.kind == FindingKind.OVERFITTING]
    assert over and over[0].severity in (Severity.WARNING, Severity.CRITICAL) and over[0].epoch == 1


def test_a_csv_resumed_from_a_later_epoch_stays_one_run(tmp_path: Path) -> None:
    """The epoch going back to a value other than its first (a resume from a checkpoint) is one run whose repeated
    epochs keep their last value, as before."""
    a = _rows([0.30, 0.28, 0.27, 0.26, 0.25], [0.90, 0.91, 0.915, 0.92, 0.925])
    resumed = "".join(line for line in a.splitlines(keepends=True)[3:])
    p = tmp_path / "metrics.csv"
    p.write_bytes((HEADER + a + resumed).encode())
    h = load(p)
    assert h.runs() == ["metrics"]
    assert len(h.series("val", "f1")) == 5
