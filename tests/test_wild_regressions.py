"""Regressions found on the corpus of real logs (bench/wild): each a small fixture in the shape of the real
file, with the numbers changed, and the verdict a reader of the raw curves gave it."""

from __future__ import annotations

from pathlib import Path

from gapwatch import analyze, load
from gapwatch.findings import FindingKind

KERAS_HEADER = "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n"


def test_short_run_whose_accuracy_climbs_is_not_stuck(tmp_path: Path) -> None:
    """Keras CSVLogger, 5 epochs: training accuracy 0.35 → 0.49 while the loss falls every epoch. The first and
    final accuracy windows used to overlap on a run this short, which halved the gain and called it stuck."""
    rows = [(0, 0.352, 1e-4, 1.241, 0.561, 1.052), (1, 0.388, 1e-4, 1.131, 0.575, 1.026),
            (2, 0.432, 1e-4, 1.071, 0.521, 1.004), (3, 0.468, 1e-4, 1.050, 0.586, 0.975),
            (4, 0.491, 1e-4, 1.029, 0.601, 0.951)]
    p = tmp_path / "training_log.csv"
    p.write_text(KERAS_HEADER + "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.UNDERFITTING and f.evidence.get("mode") == "stuck"]


def test_held_out_loss_rising_while_accuracy_plateaus_is_overfitting(tmp_path: Path) -> None:
    """pandas ``DataFrame(history.history).to_csv()`` of a 60-epoch CNN: val_loss bottoms out at epoch 20 and
    climbs by a third, val_acc stops improving at the same time, the training loss keeps falling. A reader calls
    it overfitting since epoch 20; the deciding series (val_acc) alone shows no significant decline."""
    lines = [",acc,loss,val_acc,val_loss"]
    for e in range(60):
        t = e + 1
        loss = 4.0 * 0.93 ** t + 0.05
        val_loss = 3.0 + 0.0025 * (t - 20) ** 2 + 0.01 * ((e * 7) % 5 - 2)
        val_acc = min(0.02 * t, 0.4) + 0.004 * ((e * 3) % 5 - 2)
        acc = min(0.015 * t, 0.9)
        lines.append(f"{e},{acc},{loss},{val_acc},{val_loss}")
    p = tmp_path / "performance_metrics.csv"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and over[0].evidence["pattern"] == "loss_worse_metric_stalled"
    assert abs(over[0].epoch - 20) <= 2
