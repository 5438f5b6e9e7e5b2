"""Regressions found on the corpus of real logs (bench/wild) in the twentieth session: fixtures in the shape of the
real files, numbers changed, with the verdict a reader of the raw curves gave them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gapwatch import analyze, load

#: An Ultralytics YOLO-OBB results.csv header (as the trainer writes it, without args.yaml beside it).
OBB_COLUMNS = ("epoch", "time", "train/box_loss", "train/cls_loss", "train/dfl_loss", "train/angle_loss",
               "metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)",
               "val/box_loss", "val/cls_loss", "val/dfl_loss", "val/angle_loss", "lr/pg0", "lr/pg1", "lr/pg2")


def _obb(tmp_path: Path, step_from: int, epochs: int = 100) -> Path:
    """A detector that never learns (every mAP exactly 0, the held-out losses flat) whose training losses fall
    from 2.2 to about 1.0 and step back up by 1.5 from epoch ``step_from`` on, staying there."""
    rng = np.random.default_rng(5)
    lines = [",".join(OBB_COLUMNS)]
    for e in range(1, epochs + 1):
        level = 1.0 + 1.2 * 0.95 ** e + (1.5 if e >= step_from else 0.0)
        train = [level * k + 0.05 * rng.standard_normal() for k in (1.0, 2.5, 2.0, 0.3)]
        val = [2.83 + 0.002 * rng.standard_normal(), 7.3 + 0.01 * rng.standard_normal(), 4.159, 0.76]
        lr = 1e-4 * (1 - e / epochs) + 1e-6
        cells = [str(e), f"{6.3 + 0.6 * e:.5g}"] + [f"{v:.5g}" for v in train] + ["0", "0", "0", "0"] \
            + [f"{v:.5g}" for v in val] + [f"{lr:.6g}"] * 3
        lines.append(",".join(cells))
    p = tmp_path / "results.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def _kinds(p: Path) -> dict[str, str]:
    (r,) = analyze(load(p), forecast=False).runs
    return {f"{f.kind.value}:{f.evidence.get('type', '')}": f.severity.value for f in r.findings}


def test_a_training_loss_stepping_up_at_the_default_close_mosaic_is_not_divergence(tmp_path: Path) -> None:
    """YOLO-OBB on DOTA8 (batch 30, judged stuck, not diverging): results.csv without args.yaml, mAP 0 at all 100
    epochs, and a training loss term that steps up at epoch 91 — where Ultralytics' default close_mosaic (10)
    turns mosaic off. It was called divergence beside the (right) 'never learned' warning."""
    found = _kinds(_obb(tmp_path, 91))
    assert found.get("not_learning:") == "warning"
    assert "instability:divergence" not in found


def test_the_same_step_twenty_epochs_earlier_is_still_divergence(tmp_path: Path) -> None:
    found = _kinds(_obb(tmp_path, 71))
    assert "instability:divergence" in found
    assert found.get("not_learning:") == "warning"


def test_an_args_yaml_that_keeps_mosaic_on_leaves_the_step_judged(tmp_path: Path) -> None:
    """With args.yaml saying close_mosaic 0 there is no switch: the step at 91 is judged as before."""
    p = _obb(tmp_path, 91)
    (tmp_path / "args.yaml").write_text("task: obb\nepochs: 100\nclose_mosaic: 0\n")
    assert "instability:divergence" in _kinds(p)
