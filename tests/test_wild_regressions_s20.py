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


def _short_detector(tmp_path: Path, maps: list[float]) -> Path:
    """An old-style (space-padded) YOLOv8 results.csv of len(maps) epochs: training losses wander, validation
    losses do not move, precision/recall/mAP as given."""
    cols = ("epoch", "train/box_loss", "train/cls_loss", "train/dfl_loss", "metrics/precision(B)",
            "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "val/box_loss", "val/cls_loss",
            "val/dfl_loss")
    lines = [",".join(f"{c:>23}" for c in cols)]
    for e, m in enumerate(maps, start=1):
        row = [3.38 + 0.1 * (e % 3), 5.71 + 0.01 * (e % 2), 4.3 - 0.01 * e, m, m, m, m / 2,
               3.4884 - 0.0002 * e, 5.7608 + 0.0003 * e, 4.159 - 0.001 * e]
        lines.append(",".join([f"{e:>23}"] + [f"{v:>23.5g}" for v in row]))
    p = tmp_path / "results.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_a_short_detector_run_with_every_metric_exactly_zero_never_learned(tmp_path: Path) -> None:
    """A 5-epoch YOLOv8 run (batch 31, judged stuck): precision, recall, mAP50 and mAP50-95 are exactly 0 at every
    epoch — not one object detected. Fewer than the 10 evaluations 'never above zero' asks of a share near 0, but
    exactly 0 each time is enough."""
    found = _kinds(_short_detector(tmp_path, [0.0] * 5))
    assert found.get("not_learning:") == "warning"


def test_a_short_run_whose_map_has_left_zero_is_not_called_stuck(tmp_path: Path) -> None:
    """The same five epochs with a mAP that has left the floor (0.001 → 0.02): too few evaluations to say."""
    found = _kinds(_short_detector(tmp_path, [0.001, 0.004, 0.008, 0.012, 0.02]))
    assert "not_learning:" not in found


def test_two_evaluations_of_zero_are_too_few(tmp_path: Path) -> None:
    assert "not_learning:" not in _kinds(_short_detector(tmp_path, [0.0, 0.0]))


def test_chainer_reports_several_times_an_epoch_keep_every_point(tmp_path: Path) -> None:
    """Chainer's LogReport with a trigger in iterations (batch 28): 104 reports over 15 epochs, each with its
    ``epoch`` and a global ``iteration``. They were read by epoch and deduplicated to each epoch's last report
    (89 of 104 dropped); the iteration is the step, so every report stays a point of the curve."""
    import json

    recs = []
    for k in range(1, 41):
        recs.append({"main/loss": 1.5 / k, "main/accuracy": 1 - 0.5 / k, "validation/main/loss": 0.5 + abs(k - 20) / 40,
                     "validation/main/accuracy": 0.8 - abs(k - 20) / 400, "epoch": (k * 150) // 400,
                     "iteration": k * 150, "elapsed_time": 31.3 * k})
    p = tmp_path / "log"
    p.write_text(json.dumps(recs, indent=4))
    h = load(p)
    s = h.series("val", "loss")
    assert len(s) == 40 and s.step[0] == 150 and s.step[-1] == 6000
    assert not any("share an epoch" in n.message for n in h.notes)


def test_an_iteration_that_restarts_each_epoch_is_not_a_step(tmp_path: Path) -> None:
    """``iteration`` counting batches within the epoch (0, 100, 200, 0, 100, 200 …) is no global step: the
    records stay read by epoch."""
    import json

    recs = [{"loss": 1.0 / (e + 1) + i / 1000, "val_loss": 1.2 / (e + 1), "epoch": e, "iteration": i}
            for e in range(6) for i in (0, 100, 200)]
    p = tmp_path / "history.json"
    p.write_text(json.dumps(recs))
    h = load(p)
    assert bool(np.isnan(h.series("val", "loss").step).all())


def test_a_classifier_whose_top1_is_exactly_zero_beside_its_top5_never_learned(tmp_path: Path) -> None:
    """YOLO classify, 3 epochs (batch 25, judged stuck): ``metrics/accuracy_top1`` is 0 at every epoch,
    ``accuracy_top5`` trivially 1 (fewer than five classes). An accuracy of exactly 0 throughout is read as a
    regression script's placeholder and never decides — but beside a top-5 accuracy it is a classifier's
    measurement: every validation image wrong."""
    from gapwatch.monitor import decide

    cols = ("epoch", "train/loss", "metrics/accuracy_top1", "metrics/accuracy_top5", "val/loss", "lr/pg0")
    rows = [(1, 0.49555, 0, 1, 1.1919, 0.00023333), (2, 0.18358, 0, 1, 1.3047, 0.000448),
            (3, 0.11071, 0, 1, 1.3125, 0.00063911)]
    lines = [",".join(f"{c:>23}" for c in cols)] + [",".join(f"{v:>23}" for v in r) for r in rows]
    p = tmp_path / "results.csv"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert decide(h).monitor.metric == "acc"
    assert _kinds(p).get("not_learning:") == "warning"


def test_a_zero_accuracy_without_a_top_k_beside_it_still_does_not_decide(tmp_path: Path) -> None:
    """A regression script's ``Val Acc: 0.00%`` at every epoch stays a placeholder: the loss decides."""
    from gapwatch.monitor import decide

    p = tmp_path / "train.log"
    p.write_text("".join(f"Epoch {e}: Train Loss: {1 / e:.4f} | Val Loss: {1.2 / e:.4f} | Val Acc: 0.00%\n"
                         for e in range(1, 8)))
    h = load(p)
    assert h.has("val", "acc") and len(h.series("val", "acc")) == 7
    assert decide(load(p)).monitor.metric == "loss"


def test_a_run_summary_that_keeps_its_history_as_records_under_a_key(tmp_path: Path) -> None:
    """A course assignment's ``training_log.json`` (batch 34): the run's id, seed and config, then ``"history":
    [{"epoch": 1, "train_loss": 2.02, "val_accuracy": 0.28, "epoch_time_sec": 14.8}, …]`` and a final accuracy. It
    was taken for a text log and refused ("no numeric observations")."""
    import json

    doc = {"student_id": 50628150, "seed": 325931515,
           "config": {"patch_size": 4, "embed_dim": 64, "lr": 0.001, "batch_size": 64, "epochs": 20},
           "history": [{"epoch": e, "train_loss": round(2.0 - 0.06 * e, 4),
                        "val_accuracy": round(0.28 + 0.01 * e - 0.0004 * e * e, 4), "epoch_time_sec": 14.8}
                       for e in range(1, 21)],
           "final_val_accuracy": 0.4507, "total_params": 209354}
    p = tmp_path / "training_log.json"
    p.write_text(json.dumps(doc, indent=2))
    h = load(p)
    assert len(h.series("val", "acc")) == 20 and len(h.series("train", "loss")) == 20
    assert h.series("val", "acc").epoch[-1] == 20


def test_records_without_an_axis_under_a_key_are_not_a_history(tmp_path: Path) -> None:
    """A list of per-model results under a key (no epoch or step in them) is no training curve: the history reader
    leaves it alone, and the file is refused with its format named unknown."""
    import json

    import pytest

    from gapwatch.errors import InputError
    from gapwatch.readers.history_json import sniff

    doc = {"experiment": "compare", "results": [{"model": f"m{i}", "accuracy": 0.8 + 0.01 * i} for i in range(5)]}
    p = tmp_path / "results.json"
    p.write_text(json.dumps(doc, indent=2))
    assert not sniff(p, p.read_text())
    with pytest.raises(InputError, match="unknown log format"):
        load(p)
