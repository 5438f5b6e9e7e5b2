"""Regressions found on the corpus of real logs (bench/wild): each a small fixture in the shape of the real
file, with the numbers changed, and the verdict a reader of the raw curves gave it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gapwatch import analyze, load
from gapwatch.detectors import underfitting
from gapwatch.errors import InputError, UsageError
from gapwatch.findings import Finding, FindingKind, Severity

KERAS_HEADER = "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n"


def _run_without_critical(p: Path, text: str) -> Any:
    """Write ``text`` to ``p``, analyse its one run (no forecast) and check no finding is critical; the run."""
    p.write_text(text)
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.severity.value == "critical"]
    return r


def _not_learning_modes(p: Path, text: str) -> list[Any]:
    """Write ``text`` to ``p``, analyse its one run (no forecast); the modes of its ``not_learning`` findings."""
    p.write_text(text)
    (r,) = analyze(load(p), forecast=False).runs
    return [f.evidence.get("mode") for f in r.findings if f.kind == FindingKind.NOT_LEARNING]


def test_short_run_whose_accuracy_climbs_is_not_stuck(tmp_path: Path) -> None:
    """Keras CSVLogger, 5 epochs: training accuracy 0.35 → 0.49 while the loss falls every epoch. The first and
    final accuracy windows used to overlap on a run this short, which halved the gain and called it stuck."""
    rows = [(0, 0.349, 1e-4, 1.245, 0.562, 1.056), (1, 0.391, 1e-4, 1.127, 0.578, 1.022),
            (2, 0.429, 1e-4, 1.076, 0.520, 1.006), (3, 0.472, 1e-4, 1.051, 0.583, 0.973),
            (4, 0.488, 1e-4, 1.028, 0.605, 0.948)]
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
    # the headline says what judged it: the loss rose while the deciding series stalled
    assert r.summary is not None
    assert r.summary.headline.startswith("Overfitting since epoch 2")
    assert "val_loss rose" in r.summary.headline and "while val_acc stopped improving" in r.summary.headline


def test_yolov5_results_decide_by_map50_95_and_loss_parts_are_one_set(tmp_path: Path) -> None:
    """Ultralytics YOLOv5 ``results.csv`` (padded header): mAP improves throughout while the tiny validation
    class loss doubles. The deciding series is mAP@0.5:0.95 (Ultralytics' own fitness weighs it 0.9), not
    precision; ``val/box_loss``, ``val/obj_loss`` and ``val/cls_loss`` are parts of one validation loss, not
    three held-out sets, so no "held-out set degrades" warning."""
    cols = ["epoch", "train/box_loss", "train/obj_loss", "train/cls_loss", "metrics/precision", "metrics/recall",
            "metrics/mAP_0.5", "metrics/mAP_0.5:0.95", "val/box_loss", "val/obj_loss", "val/cls_loss", "x/lr0",
            "x/lr1", "x/lr2"]
    lines = [",".join(f"{c:>20}" for c in cols)]
    for e in range(120):
        t = e + 1.0
        up = 1 - 0.9 ** t
        prec = 0.5 + 0.4 * up + 0.01 * ((e * 5) % 3 - 1)
        cls = 0.002 + 0.002 * max(0.0, t - 40) / 80 + 0.0001 * ((e * 7) % 3 - 1)
        row = [e, 0.1 - 0.05 * up, 0.05 - 0.02 * up, 0.02 - 0.015 * up, prec, 0.4 + 0.5 * up, 0.45 + 0.5 * up,
               0.2 + 0.5 * up, 0.06 - 0.03 * up, 0.03 - 0.01 * up, cls, 0.01, 0.01, 0.01]
        lines.append(",".join(f"{v:>20}" for v in row))
    p = tmp_path / "results.csv"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.decision is not None and r.decision.monitor.metric == "map_0_5_0_95"
    assert not [f for f in r.findings if f.kind == FindingKind.HELDOUT_REGRESSION]


def test_headlines_name_the_deciding_series_as_logged(tmp_path: Path) -> None:
    """The headline names the series that judged the run, by the name the log gave it."""
    p = tmp_path / "trainer_state.json"
    hist = [{"epoch": float(e), "step": 100 * e, "eval_loss": 1.0 / e, "eval_wer": 0.5 / e} for e in range(1, 8)]
    p.write_text(json.dumps({"log_history": hist, "global_step": 700}))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.summary is not None and "(by eval_wer" in r.summary.headline


def test_a_slight_rise_after_a_long_plateau_is_info_not_a_warning(tmp_path: Path) -> None:
    """An MAE-style log: the held-out loss falls from 0.9 to 0.256 by epoch 50 and ends 1.6% above its best
    (3% of the improvement undone) — significant against tiny noise, but a plateau to a reader."""
    lines = [",Loss,ValLoss"]
    for e in range(100):
        val = 0.256 + 0.65 * 0.85 ** e + (0.013 * (e - 50) / 50 if e > 50 else 0.0) + 1e-4 * ((e * 7) % 3 - 1)
        lines.append(f"{e},{0.3 + 0.6 * 0.9 ** e - 0.0005 * e},{val}")
    p = tmp_path / "train_history.csv"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and all(f.severity.value == "info" for f in over)


def test_python_logging_lines_with_a_split_named_before_the_measurements(tmp_path: Path) -> None:
    """``logging`` with ``%(asctime)s - %(name)s - %(levelname)s - %(message)s``: the epoch line carries the
    training measures, the next line ``Validation - Loss: …, F1: …`` the held-out ones (never the training
    loss). The training F1 is fitted, so a loss flat at its floor is not "stuck"."""
    lines = ["2025-10-18 21:46:50,232 - __main__ - INFO - Starting training",
             "2025-10-18 21:46:50,233 - __main__ - INFO -   num_train_epochs: 6"]
    for e in range(1, 7):
        tl, vl = 0.0497 + 0.3 / e ** 3, 0.20 + 0.5 / e ** 2
        lines.append(f"2025-10-18 21:47:{10 + e:02d},335 - src.training.train - INFO - Epoch {e}/6 - "
                     f"Train Loss: {tl:.4f}, Train F1: {min(0.999, 0.8 + 0.05 * e):.4f}")
        lines.append(f"2025-10-18 21:47:{10 + e:02d},618 - src.training.train - INFO - Validation - "
                     f"Loss: {vl:.4f}, F1: {min(0.999, 0.7 + 0.06 * e):.4f}, AUC: 0.99")
    p = tmp_path / "training.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("val", "loss").values, [round(0.2 + 0.5 / e ** 2, 4) for e in range(1, 7)])
    np.testing.assert_allclose(h.series("train", "loss").values,
                               [round(0.0497 + 0.3 / e ** 3, 4) for e in range(1, 7)])
    (r,) = analyze(h, forecast=False).runs
    assert r.decision is not None and r.decision.monitor.metric == "f1"
    assert not [f for f in r.findings if f.severity.value in ("warning", "critical")]


def test_an_indented_evaluation_block_belongs_to_the_held_out_split(tmp_path: Path) -> None:
    """``logging.basicConfig`` lines (``INFO:__main__:``): per-step training lines, then an
    ``📊 Evaluation Results:`` heading and indented ``Loss:``/``Perplexity:`` lines."""
    lines = ["nohup: ignoring input", "INFO:__main__:Configuration:", "INFO:__main__:  epochs: 3"]
    for e in range(3):
        for s in range(0, 50, 10):
            lines.append(f"INFO:__main__:Epoch {e} | Step {s:4d}/50 | Loss: {0.9 - 0.1 * e - 0.001 * s:.4f} | "
                         "PPL: 2.0 | LR: 1.0e-04")
        lines += ["INFO:__main__:📊 Evaluation Results:", f"INFO:__main__:   Loss: {0.53 - 0.02 * e:.4f}",
                  f"INFO:__main__:   Perplexity: {1.70 - 0.03 * e:.2f}", "INFO:__main__:   Tokens: 2,982,385",
                  f"INFO:__main__:✅ Epoch {e} completed in 4729.23s | Avg Loss: {0.6 - 0.1 * e:.4f}"]
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("val", "loss").values, [0.53, 0.51, 0.49])
    assert h.series("train", "loss").values[-1] < 0.9


def test_a_csv_column_of_printed_arrays_is_skipped_with_a_note(tmp_path: Path) -> None:
    """A hand-written CSV logger that also writes a numpy array per epoch: the column is not read (a note says
    so) and the losses are; a bad cell inside a numeric column is still an error naming it."""
    rows = ["Epoch,Training Loss,Validation Loss,Learnable Weights"]
    rows += [f"{e},{1 / e:.4f},{1.2 / e:.4f},[0.93 0.80 0.76 {0.8 + 0.01 * e:.2f}]" for e in range(1, 9)]
    p = tmp_path / "training_log.csv"
    p.write_text("\n".join(rows) + "\n")
    h = load(p)
    assert len(h.series("val", "loss")) == 8
    assert any("'Learnable Weights' holds no numbers" in n.message for n in h.notes)
    rows[3] = rows[3].replace(f"{1.2 / 3:.4f}", "oops")
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="column 'Validation Loss': expected a number, got 'oops'"):
        load(p)


def _glued(step: int, total: int, msg: str) -> str:
    """A tqdm bar rewritten in place with ``\\r`` and a logging line glued to it (no newline in between), as
    ``nohup python train.py > train.log`` captures it."""
    pct = 100 * step // total
    bar = f"Training: {pct:3d}%|{'█' * (pct // 10):<10}| {step}/{total} [01:00<02:00,  1.62s/it]"
    return f"\r{bar}2025-10-19 20:17:28,841 - src.training.train - INFO - {msg}"


def test_a_log_that_prints_steps_and_ends_each_epoch_with_a_summary_line(tmp_path: Path) -> None:
    """``nohup`` log of a hand-written loop: ``Step N, Loss: x`` lines glued to a tqdm bar, and at the end of
    each epoch ``Epoch k/5 - Train Loss: …`` then ``Validation - Loss: …, F1: …``. Read by epochs (the step
    lines of the next epoch do not add a second training loss), the bar's percentage is not a measurement and
    the end-of-run summary's ``Total epochs: 5`` is bookkeeping."""
    lines = ["nohup: ignoring input", "2025-10-19 20:14:32,226 - __main__ - INFO -   num_train_epochs: 5"]
    per_epoch, total = 300, 1500
    for e in range(1, 6):
        for s in range(100 * (3 * e - 2), 300 * e + 1, 100):
            lines.append(_glued(s, total, f"Step {s}, Loss: {0.0497 + 0.002 / s:.4f}"))
        lines.append(_glued(per_epoch * e, total, f"Epoch {e}/5 - Train Loss: {0.0497 + 0.01 / e:.4f}, "
                                                  f"Train F1: {0.99 + 0.001 * e:.4f}"))
        lines.append(f"2025-10-19 21:42:41,484 - src.training.train - INFO - Validation - Loss: "
                     f"{0.2 + 0.001 * (e % 2):.4f}, F1: {0.998 + 0.0002 * (e % 2):.4f}, AUC: 0.9997")
    lines += ["2025-10-20 03:34:52,243 - src.training.train - INFO - Training Summary:",
              "2025-10-20 03:34:52,243 - src.training.train - INFO -   Total epochs: 5",
              "2025-10-20 03:34:52,243 - src.training.train - INFO -   Total steps: 1500"]
    p = tmp_path / "training_balanced.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("train", "loss").values, [round(0.0497 + 0.01 / e, 4) for e in range(1, 6)])
    np.testing.assert_allclose(h.series("val", "f1").values, [0.9982, 0.998, 0.9982, 0.998, 0.9982])
    assert "Training" not in set(h.frame["name"]) and "Total epochs" not in set(h.frame["name"])
    (r,) = analyze(h, forecast=False).runs
    assert not [f for f in r.findings if f.severity.value in ("warning", "critical")]
    assert not [f for f in r.findings if f.kind == FindingKind.DATA]


def test_a_log_that_prints_only_steps_is_read_step_by_step(tmp_path: Path) -> None:
    """No epoch marker at all: ``Step N, Loss: x`` lines (and ``iter N | loss x``), a validation line after
    some of them. Each step line opens a record at its step; the validation line belongs to the last one."""
    lines = ["nohup: ignoring input"]
    for s in range(100, 2100, 100):
        lines.append(_glued(s, 2000, f"Step {s}, Loss: {1.0 / (1 + s / 500):.4f}"))
        if s % 500 == 0:
            lines.append(f"2025-10-19 21:42:41,484 - train - INFO - Validation - Loss: {1.2 / (1 + s / 800):.4f}")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    tr, va = h.series("train", "loss"), h.series("val", "loss")
    np.testing.assert_allclose(tr.x, np.arange(100, 2100, 100))
    np.testing.assert_allclose(va.x, [500, 1000, 1500, 2000])
    np.testing.assert_allclose(va.values, [round(1.2 / (1 + s / 800), 4) for s in (500, 1000, 1500, 2000)])
    q = tmp_path / "iters.log"
    q.write_text("".join(f"iter {i} | loss {2.0 / i:.3f} | acc {1 - 1 / i:.3f}\n" for i in range(1, 30)))
    assert load(q).series("train", "loss").x[-1] == 29


def test_a_training_loss_that_rises_ninefold_from_its_best_diverges(tmp_path: Path) -> None:
    """A hand-written CSV (``epoch,train_loss,val_loss``): the training loss falls 40x to 0.061 at epoch 13, then
    rises every epoch to 0.55 — 9x its best, but only ~20% of the improvement in loss units. On the log scale
    (how a loss is read) most of the improvement is undone: divergence, and only with the log scale on."""
    train = [2.58, 2.38, 1.65, 1.30, 1.10, 0.885, 0.670, 0.496, 0.339, 0.209, 0.114, 0.0694, 0.0609, 0.0674,
             0.110, 0.204, 0.334, 0.462, 0.554]
    val = [2.72, 2.99, 0.807, 1.03, 1.70, 0.981, 0.779, 0.384, 0.322, 0.0781, 0.0704, 0.0658, 0.0604, 0.0759,
           0.111, 0.328, 0.331, 0.727, 0.181]
    p = tmp_path / "training_history.csv"
    p.write_text("epoch,train_loss,val_loss\n" + "".join(f"{e},{t},{v}\n" for e, (t, v) in
                                                          enumerate(zip(train, val, strict=True), start=1)))

    def divergence(**params: object) -> list[object]:
        (r,) = analyze(load(p), forecast=False, params={"instability": params} if params else None).runs
        return [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence["type"] == "divergence"]

    (f,) = divergence()
    assert f.severity.value == "critical" and f.epoch == 16
    assert divergence(divergence_log_scale=False) == []


def test_an_accuracy_that_climbs_is_learning_even_when_a_short_loss_is_noisy(tmp_path: Path) -> None:
    """Lightning ``metrics.csv`` of a 5-epoch run (5 classes): ``acc`` 0.15 → 0.50 while ``val_loss`` bumps up
    once and then falls 1.71 → 1.29. Five noisy points leave the loss's fall within its noise estimate; the
    accuracy's gain of 0.35 is learning, so the run is not stuck."""
    rows = [(0.15, 0, 24, 1.7054), (0.16, 1, 49, 1.8369), (0.46, 2, 74, 1.3662), (0.42, 3, 99, 1.3309),
            (0.50, 4, 124, 1.2941)]
    d = tmp_path / "lightning_logs" / "version_0"
    d.mkdir(parents=True)
    (d / "metrics.csv").write_text("acc,epoch,step,val_loss\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    (r,) = analyze(load(d / "metrics.csv"), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.UNDERFITTING]


def test_divergence_is_judged_on_the_training_loss_parts_when_only_parts_are_logged(tmp_path: Path) -> None:
    """Ultralytics ``results.csv`` logs the training loss in parts (``train/box_loss``, ``train/cls_loss``,
    ``train/dfl_loss``). With the parts falling all run, a held-out part that climbs back above its start (the
    box loss of a detector trained long, while mAP keeps improving) is not divergence: divergence is
    judged on the training parts, the held-out loss only when no training loss is logged."""
    head = ("epoch,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
            "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss\n")
    rows = []
    for e in range(1, 41):
        wob = 0.01 * ((e * 7) % 5 - 2)
        tb, tc, td = 0.6 + 0.9 * 0.93 ** e, 0.4 + 1.6 * 0.9 ** e, 0.9 + 0.4 * 0.95 ** e
        m50_95 = 0.45 * (1 - 0.9 ** e) + wob / 5
        vb = 1.0 + 0.8 * 0.7 ** e + 0.05 * max(0, e - 12) + wob
        vc = 1.0 + 0.4 * 0.8 ** e + 0.004 * max(0, e - 15) + wob
        rows.append(f"{e},{tb:.4f},{tc:.4f},{td:.4f},0.7,0.6,{m50_95 + 0.2:.4f},{m50_95:.4f},{vb:.4f},{vc:.4f},1.1\n")
    d = tmp_path / "runs" / "detect" / "train"
    d.mkdir(parents=True)
    (d / "results.csv").write_text(head + "".join(rows))
    (r,) = analyze(load(d / "results.csv"), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence["type"] == "divergence"]
    assert r.decision is not None and r.decision.monitor.metric == "map50_95"


def test_a_split_named_with_a_word_after_the_epoch_marker(tmp_path: Path) -> None:
    """``Epoch [3/150]: Train Stats: Acc: … Loss: …`` and ``Epoch [3/150]: Test Stats: Acc: … Loss: … Best Acc:
    …`` lines: the second line's measurements are the test set's (they used to overwrite the training ones), and
    the running best printed beside them is not a series of its own."""
    lines = ["Namespace(dataset='ROSMA', epochs=150, lr=0.001)"]
    for e in range(1, 21):
        lines.append(f"Epoch [{e}/150]: Train Stats: Acc: {0.5 + 0.02 * e:.6f}   Loss: {3.0 / e:.6f}")
        lines.append(f"Epoch [{e}/150]: Test Stats: Acc: {0.4 + 0.01 * e:.6f}   Loss: {2.5 + 0.01 * e:.6f}   "
                     "Best Acc: 0.8    Best Loss: 2.5")
        lines.append("")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("train", "acc").values, [0.5 + 0.02 * e for e in range(1, 21)])
    np.testing.assert_allclose(h.series("test", "loss").values, [2.5 + 0.01 * e for e in range(1, 21)])
    logged = h.keys()
    assert {m for _, m in logged} == {"acc", "loss"}


def test_a_log_without_epoch_or_step_markers_is_one_record_per_line(tmp_path: Path) -> None:
    """``print("Log > train_acc:", …, "- val_acc:", …, "- train_loss:", …, "- val_loss:", …)`` once per epoch:
    no epoch is printed, so the records are numbered 1, 2, …; the first pair after ``Log >`` counts. A training
    line followed by a validation line (no name repeated) is one record."""
    p = tmp_path / "train.txt"
    p.write_text("".join(f"Log > train_acc: {0.5 + 0.03 * e:.4f} - val_acc: {0.45 + 0.02 * e:.4f} - train_loss: "
                         f"{1.0 / e:.4f} - val_loss: {1.1 / e + 0.01 * e:.4f}\n" for e in range(1, 16)))
    h = load(p)
    np.testing.assert_allclose(h.series("train", "acc").x, np.arange(1, 16))
    np.testing.assert_allclose(h.series("val", "loss").values, [round(1.1 / e + 0.01 * e, 4) for e in range(1, 16)])
    q = tmp_path / "two_lines.txt"
    q.write_text("".join(f"train loss: {1.0 / e:.3f}\nvalid loss: {1.2 / e:.3f}, valid acc: {0.1 * e:.2f}\n"
                         for e in range(1, 8)))
    h = load(q)
    assert len(h.series("train", "loss")) == 7 and len(h.series("val", "acc")) == 7
    prose = tmp_path / "notes.txt"
    prose.write_text("We trained for a while.\nThe final accuracy: 0.91, which is fine.\n")
    with pytest.raises(InputError):
        load(prose)


def test_a_batch_index_that_restarts_every_epoch_is_not_the_step_axis(tmp_path: Path) -> None:
    """``Epoch:  0 step:  5 loss: 11.76``: ``step`` counts batches within the epoch, so every epoch ends at the
    same step; the records keep the epoch axis (one loss per epoch: the last printed) instead of collapsing."""
    p = tmp_path / "train.log"
    p.write_text("Start training...\n" + "".join(f"Epoch:  {e} step: {s:2d} loss: {11.76 - 0.1 * (e * 20 + s):.2f}\n"
                                                 for e in range(3) for s in range(20)))
    s = load(p).series("train", "loss")
    np.testing.assert_allclose(s.x, [0, 1, 2])
    np.testing.assert_allclose(s.values, [9.86, 7.86, 5.86])


def test_a_tqdm_only_log_reads_the_final_state_of_each_bar(tmp_path: Path) -> None:
    """A log of tqdm bars and nothing else (``tqdm(loader)`` with ``set_postfix(loss=…, acc=…)`` for training and
    ``val_loss``/``val_acc`` for validation, rewritten in place with ``\\r``): each bar's last state is one epoch's
    values, numbered from 1 (the intermediate updates are not epochs)."""
    lines = []
    for e in range(1, 13):
        lines.append("\r".join(f"{b}%|{'█' * (b // 10):<10}| {b * 4}/400 [00:{b // 5:02d}<00:20, 19.2it/s, "
                               f"loss={1 / e + 0.01 * (100 - b) / 100:.3f}, acc={0.5 + 0.03 * e:.3f}]"
                               for b in range(0, 101, 25)))
        lines.append("\r".join(f"{b}%|{'█' * (b // 10):<10}| {b}/100 [00:01<00:00, 50it/s, val_loss="
                               f"{1.1 / e + 0.02 * e:.3f}, val_acc={0.45 + 0.025 * e:.3f}]" for b in (50, 100)))
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n", newline="")
    h = load(p)
    np.testing.assert_allclose(h.series("train", "loss").values, [round(1 / e, 3) for e in range(1, 13)])
    np.testing.assert_allclose(h.series("val", "acc").x, np.arange(1, 13))


@pytest.mark.parametrize("style", ["mmengine", "mmcv"])
def test_openmmlab_logs_read_train_and_val_epochs(tmp_path: Path, style: str) -> None:
    """OpenMMLab text logs: ``Epoch(train) [3][100/150]  lr: …  loss: …`` (mmengine, ``2023/05/01`` dates) or
    ``Epoch [3][100/150]\\tlr: …, loss: …`` (mmcv), and ``Epoch(val) [3][500/500]  coco/bbox_mAP: …``: the val
    line's measurements are the validation set's (they were read as training), the iterations within an epoch
    give one record per epoch."""
    lines = []
    for e in range(1, 13):
        for it in (50, 100, 150):
            if style == "mmengine":
                lines.append(f"2023/05/01 10:00:00 - mmengine - INFO - Epoch(train)  [{e}][{it:3d}/150]  lr: 2.0000e-02"
                             f"  eta: 1:00:00  time: 0.5012  loss: {1.5 / e:.4f}  loss_cls: {0.5 / e:.4f}")
            else:
                lines.append(f"2021-05-01 10:00:00,000 - mmdet - INFO - Epoch [{e}][{it}/150]\tlr: 2.000e-02, eta: "
                             f"0:10:00, time: 0.500, loss_cls: {0.5 / e:.4f}, loss: {1.5 / e:.4f}")
        m = f"{0.3 + 0.01 * e:.4f}"
        lines.append(f"2023/05/01 10:10:00 - mmengine - INFO - Epoch(val) [{e}][500/500]    coco/bbox_mAP: {m}  "
                     "data_time: 0.01" if style == "mmengine" else
                     f"2021-05-01 10:10:00,000 - mmdet - INFO - Epoch(val) [{e}][500]\tbbox_mAP: {m}, bbox_mAP_50: 0.5")
    p = tmp_path / "20230501_100000.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    logged = h.keys()
    ((split, metric),) = [k for k in logged if k[1] in ("bbox_map", "coco_bbox_map")]
    assert split == "val"
    np.testing.assert_allclose(h.series(split, metric).values, [0.3 + 0.01 * e for e in range(1, 13)])
    np.testing.assert_allclose(h.series("train", "loss").x, np.arange(1, 13))


def test_the_pytorch_mnist_example_log(tmp_path: Path) -> None:
    """The PyTorch examples' print format: ``Train Epoch: 3 [12800/60000 (21%)]\\tLoss: 0.1234`` per batch and
    ``Test set: Average loss: 0.0520, Accuracy: 9835/10000 (98%)`` per epoch. Epochs come from the ``Train
    Epoch`` marker (not one record per batch line), the accuracy is the ratio 0.9835, and both are the test set's."""
    lines = []
    for e in range(1, 15):
        lines += [f"Train Epoch: {e} [{b}/60000 ({100 * b / 60000:.0f}%)]\tLoss: {0.3 / e + 0.01 * b / 60000:.6f}"
                  for b in range(0, 60000, 12800)]
        correct = 9700 + 10 * min(e, 8)
        lines += ["", f"Test set: Average loss: {0.05 + 0.03 / e:.4f}, Accuracy: {correct}/10000 "
                  f"({correct / 100:.0f}%)", ""]
    p = tmp_path / "mnist.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("train", "loss").x, np.arange(1, 15))
    np.testing.assert_allclose(h.series("test", "acc").values, [(9700 + 10 * min(e, 8)) / 10000 for e in range(1, 15)])
    assert len(h.series("test", "loss")) == 14


@pytest.mark.parametrize("stamped", [True, False])
def test_fairseq_logs_put_train_and_valid_lines_in_their_splits(tmp_path: Path, stamped: bool) -> None:
    """fairseq: ``… | INFO | train | epoch 003 | loss 5.25 | nll_loss … | ppl … | wps … | num_updates …`` and
    ``… | valid | epoch 003 | valid on 'valid' subset | loss 5.63 | …`` (older versions without the timestamp
    and the split field: ``| epoch 003 | valid on 'valid' subset | …``). The valid line's values are the
    validation set's (they overwrote the training ones); throughput and update counts are bookkeeping."""
    lines = []
    for e in range(1, 13):
        head = f"2021-01-01 10:00:00 | INFO | {{}} | epoch {e:03d} |" if stamped else f"| epoch {e:03d} |"
        lines.append(head.format("train") + f" loss {9.1 / e ** 0.5:.3f} | ppl 4.2 | wps 12345 | ups 3.2 | "
                                            f"num_updates {1000 * e} | lr 0.0005 | gnorm 1.2 | train_wall 300")
        lines.append(head.format("valid") + f" valid on 'valid' subset | loss {8.5 / e ** 0.4 + 0.05 * e:.3f} | "
                                            f"ppl 5.1 | wps 30000 | num_updates {1000 * e} | best_loss 5.2")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("train", "loss").values, [round(9.1 / e ** 0.5, 3) for e in range(1, 13)])
    np.testing.assert_allclose(h.series("val", "loss").values,
                               [round(8.5 / e ** 0.4 + 0.05 * e, 3) for e in range(1, 13)])
    logged = h.keys()
    assert {m for _, m in logged} == {"loss", "perplexity"}


def test_fairseq_json_log_format_quotes_its_numbers(tmp_path: Path) -> None:
    """fairseq with ``--log-format json``: ``… | INFO | train_inner | {"epoch": 2, "update": 1.002, "loss": "2.474",
    …}`` every ``--log-interval`` updates and per epoch ``… | INFO | valid | {"epoch": 2, "valid_loss": "2.253", …}``
    and ``… | INFO | train | {"epoch": 2, "train_loss": "3.001", …}``, every number written as a JSON string. The
    quoted numbers are read (they were not: the whole log was refused as an unknown format); ``update`` (the
    epoch's progress) and ``gb_free`` are bookkeeping, not measures."""
    lines = ["2025-05-29 21:53:44 | INFO | fairseq_cli.train | Namespace(activation_dropout=0.0, arch='transformer')"]
    for e in range(1, 9):
        for k in range(1, 4):
            lines.append(f'2025-05-29 22:{e:02d}:{k:02d} | INFO | train_inner | {{"epoch": {e}, "update": '
                         f'"{e - 1 + k / 4:.3f}", "loss": "{3 / e + 0.01 * k:.3f}", "ppl": "2.5", "wps": "9334.2", '
                         f'"num_updates": "{100 * (4 * (e - 1) + k)}", "lr": "0.0002", "gnorm": "0.7", '
                         f'"gb_free": "9.8"}}')
        lines.append(f'2025-05-29 22:{e:02d}:50 | INFO | valid | {{"epoch": {e}, "valid_loss": '
                     f'"{2.4 - 0.05 * e:.3f}", "valid_nll_loss": "0.411", "valid_ppl": "1.33", "valid_wps": '
                     f'"27890.1", "valid_num_updates": "{400 * e}", "valid_best_loss": "{2.4 - 0.05 * e:.3f}"}}')
        lines.append(f'2025-05-29 22:{e:02d}:51 | INFO | train | {{"epoch": {e}, "train_loss": "{3 / e:.3f}", '
                     f'"train_ppl": "2.54", "train_wps": "9334.2", "train_num_updates": "{400 * e}", '
                     f'"train_lr": "0.000219894", "train_gb_free": "9.8", "train_wall": "6286"}}')
    p = tmp_path / "training.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("val", "loss").values, [round(2.4 - 0.05 * e, 3) for e in range(1, 9)])
    np.testing.assert_allclose(h.series("train", "loss").values, [round(3 / e, 3) for e in range(1, 9)])
    logged = h.keys()
    assert not {m for _, m in logged} & {"update", "gb_free", "wps", "num_updates", "best_loss"}



@pytest.mark.parametrize("form", ["paren", "letters", "bracket"])
def test_split_groups_keep_each_splits_measurements(tmp_path: Path, form: str) -> None:
    """A split's measurements grouped in brackets after its name: ``Epoch 3 | Train(loss=0.41, acc=0.80) |
    Valid(loss=0.48, acc=0.75)`` and a fingerprint-matching script's ``12 \tTrain(L=0.408 | A=0.804) \tValid(L=0.481
    | A=0.745) \tTest(L=0.612 | A=0.696) \t> Best`` (L, A: loss, accuracy). The second group's bare ``acc`` used to
    overwrite the first's (one accuracy series, the validation set's values, named the training set's) and the
    lettered form was refused as an unknown format; each group's values now go to its split."""
    lines = ["", " " + "#" * 50, "TRAIN \ton Dataset: FVC1 \ttag: 28-new-fc", "Data Prepared:"]
    tr_loss = [0.69 - 0.04 * e for e in range(1, 13)]
    va_acc = [0.5 + 0.03 * e for e in range(1, 13)]
    for e in range(1, 13):
        tl, ta, vl, va = tr_loss[e - 1], 0.5 + 0.04 * e, 0.70 - 0.02 * e, va_acc[e - 1]
        if form == "paren":
            lines.append(f"Epoch {e} | Train(loss={tl:.3f}, acc={ta:.3f}) | Valid(loss={vl:.3f}, acc={va:.3f})")
        elif form == "letters":
            lines.append(f"{e} \tTrain(L={tl:.3f}  | A={ta:.3f}) \tValid(L={vl:.3f}  | A={va:.3f}) \t"
                         f"Test(L={vl + 0.1:.3f}  | A={va - 0.05:.3f}) \t> Best")
        else:
            lines.append(f"epoch {e}: train[loss: {tl:.3f}, acc: {100 * ta:.1f}%] val[loss: {vl:.3f}, "
                         f"acc: {100 * va:.1f}%]")
    p = tmp_path / "log.txt"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    scale = 100.0 if form == "bracket" else 1.0
    np.testing.assert_allclose(h.series("train", "loss").values, np.round(tr_loss, 3))
    np.testing.assert_allclose(h.series("val", "acc").values, np.round(np.array(va_acc) * scale, 3), rtol=1e-3)
    np.testing.assert_allclose(h.series("train", "acc").values[-1], round((0.5 + 0.48) * scale, 3), rtol=1e-3)
    if form == "letters":
        np.testing.assert_allclose(h.series("test", "loss").values[0], 0.78, rtol=1e-3)


def test_a_split_group_without_measurements_is_prose(tmp_path: Path) -> None:
    """``train (5000 samples)`` and OpenMMLab's ``Epoch(val) [1][500/500]`` are not split groups: nothing in them
    is read as a measurement of that split."""
    from gapwatch.readers.text import pairs

    assert pairs("Data: train (5000 samples) val (500 samples)") == {}
    assert pairs("Epoch(val) [1][500/500]    loss: 0.52") == {"loss": 0.52}

def test_printed_dicts_without_an_epoch_are_evaluations_in_order(tmp_path: Path) -> None:
    """``print({'train_loss': …, 'val_loss': …})`` once an epoch, no epoch or step in the dict: the records are
    numbered 1, 2, … (as any log that prints no marker). They had no place on any axis before, and a finding on
    them read "best … at epoch ?" and "after 395 more evaluations (0% of the run)"."""
    lines = [str({"train_loss": round(1 / e, 4), "val_loss": round(0.5 + 0.02 * (e - 6) ** 2, 4)})
             for e in range(1, 13)]
    p = tmp_path / "out.log"
    p.write_text("\n".join(lines) + "\n")
    s = load(p).series("val", "loss")
    np.testing.assert_allclose(s.x, np.arange(1, 13))
    assert np.isfinite(s.x).all()


def test_the_hugging_face_trainer_stdout(tmp_path: Path) -> None:
    """``python run_glue.py … > train.log``: the ``Trainer`` prints its logs as Python dicts, glued to the tqdm bar
    (``45%|████▌     | 90/200 [00:30<00:37,  2.9it/s]{'loss': 0.41, …, 'epoch': 0.45}``) and evaluations as
    ``{'eval_loss': …, 'eval_accuracy': …, 'epoch': 1.0}``; the closing ``train_runtime`` dict is a summary."""
    lines = []
    for e in range(1, 9):
        for k in range(4):
            ep = e - 1 + (k + 1) / 4
            bar = f"{int(ep * 100 / 8):3d}%|{'█' * int(ep * 10 / 8):<10}| {int(ep * 25)}/200 [00:30<00:37,  2.9it/s]"
            lines.append(bar + str({"loss": round(1 / ep, 4), "grad_norm": 1.5, "learning_rate": 5e-05,
                                    "epoch": round(ep, 2)}))
        lines.append(str({"eval_loss": round(0.9 / e + 0.04 * e, 4), "eval_accuracy": round(0.6 + 0.02 * e, 4),
                          "eval_runtime": 1.2, "eval_samples_per_second": 300.1, "epoch": float(e)}))
    lines.append(str({"train_runtime": 100.0, "train_samples_per_second": 10.0, "train_loss": 0.4, "epoch": 8.0}))
    p = tmp_path / "train.log"
    p.write_text("\r".join(lines[:3]) + "\n" + "\n".join(lines[3:]) + "\n", newline="")
    h = load(p)
    assert len(h.series("train", "loss")) == 32
    np.testing.assert_allclose(h.series("val", "acc").values, [round(0.6 + 0.02 * e, 4) for e in range(1, 9)])
    logged = h.keys()
    assert {m for _, m in logged} == {"loss", "acc"}


def test_gradient_boosting_round_logs(tmp_path: Path) -> None:
    """LightGBM (``[10]\\ttraining's binary_logloss: 0.70\\tvalid_1's binary_logloss: 0.78``) and XGBoost
    (``[3]\\ttrain-logloss:0.41\\teval-logloss:0.52``) print one line per boosting round: the round is the step, the
    sets are training and validation; the validation loss turning up after round 300 is overfitting."""
    p = tmp_path / "lgbm.log"
    p.write_text("".join(f"[{i}]\ttraining's binary_logloss: {0.69 * 0.995 ** i + 0.05:.6f}\tvalid_1's "
                         f"binary_logloss: {0.69 * 0.99 ** i + 0.2 + 0.0004 * max(0, i - 300):.6f}\n"
                         for i in range(10, 1010, 10)))
    h = load(p)
    np.testing.assert_allclose(h.series("train", "binary_logloss").x, np.arange(10, 1010, 10))
    (r,) = analyze(h, forecast=False).runs
    assert r.decision is not None and r.decision.monitor.split == "val"
    assert [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    q = tmp_path / "xgb.log"
    q.write_text("".join(f"[{i}]\ttrain-logloss:{1 / (i + 1):.5f}\teval-logloss:{1.2 / (i + 1) + 0.1:.5f}\n"
                         for i in range(40)))
    np.testing.assert_allclose(load(q).series("val", "logloss").x, np.arange(40))


def test_keras_sparse_categorical_accuracy_is_the_training_accuracy(tmp_path: Path) -> None:
    """Keras CSVLogger of a model compiled with ``metrics=["sparse_categorical_accuracy"]``: the name's first word
    was read as a held-out set called ``sparse``, so the training accuracy was judged as if held out. It is the
    training split's accuracy, and the validation accuracy (falling from epoch 8 on) decides."""
    lines = ["epoch,loss,sparse_categorical_accuracy,val_loss,val_sparse_categorical_accuracy"]
    for e in range(30):
        val_acc = 0.80 - 0.006 * max(0, e - 7) + 0.002 * ((e * 3) % 3 - 1) + 0.1 * min(e, 7) / 7
        lines.append(f"{e},{1.5 * 0.85 ** e + 0.02:.4f},{min(0.99, 0.5 + 0.02 * e):.4f},"
                     f"{0.9 + 0.02 * (e - 7) ** 2 / 7:.4f},{val_acc:.4f}")
    p = tmp_path / "training.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert sorted({split for split, _ in list(h.keys())}) == ["train", "val"]
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "sparse_categorical_acc")
    assert r.monitor.mode == "max"
    assert [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


NANOGPT = """step 0: train loss 10.9882, val loss 10.9891
iter 0: loss 10.9883, time 28211.56ms, mfu -100.00%
iter 10: loss 9.5541, time 312.40ms, mfu 4.51%
iter 20: loss 8.8713, time 311.94ms, mfu 4.52%
step 30: train loss 8.1020, val loss 8.2015
saving checkpoint to out-shakespeare
iter 30: loss 8.0975, time 9981.21ms, mfu 4.07%
iter 40: loss 7.5213, time 312.02ms, mfu 4.11%
iter 50: loss 7.0102, time 311.87ms, mfu 4.15%
step 60: train loss 6.4031, val loss 6.9112
iter 60: loss 6.3520, time 9978.65ms, mfu 3.74%
"""


def test_nanogpt_stdout_is_read_with_its_two_training_losses_apart(tmp_path: Path) -> None:
    """nanoGPT's ``train.py`` prints ``step N: train loss …, val loss …`` at each evaluation and ``iter N: loss
    …, time …ms, mfu …%`` every ``log_interval`` iterations. It used to be "unknown log format"; the two
    training losses must not merge into one curve with repeated steps."""
    p = tmp_path / "train.log"
    p.write_text(NANOGPT)
    h = load(p)
    assert sorted(h.keys()) == [("train", "bare_loss"), ("train", "loss"), ("val", "loss")]
    assert h.series("val", "loss").values.tolist() == [10.9891, 8.2015, 6.9112]
    assert h.series("train", "loss").step.tolist() == [0, 30, 60]
    assert len(h.series("train", "bare_loss")) == 7
    assert not h.notes  # no "resumed run?" note from interleaved steps


def test_comma_separated_prose_is_not_read_as_measurements(tmp_path: Path) -> None:
    p = tmp_path / "notes.log"
    p.write_text("found 5 files, using 3 workers\nloaded 100 images, skipped 2 corrupt ones\n" * 5)
    with pytest.raises(InputError, match="unknown log format"):
        load(p)


def test_detectron2_metrics_json(tmp_path: Path) -> None:
    """detectron2's ``metrics.json``: training records every 20 iterations (``total_loss``, ``loss_cls``,
    ``fast_rcnn/cls_accuracy``, ``lr``) and evaluation records with COCO AP (``bbox/AP``) but no split token."""
    lines = []
    for it in range(19, 2000, 20):
        lines.append(json.dumps({"data_time": 0.002, "eta_seconds": 300.0, "fast_rcnn/cls_accuracy": 0.9,
                                 "iteration": it, "loss_box_reg": 0.3, "loss_cls": 0.4, "lr": 0.00025,
                                 "time": 0.3, "total_loss": 2.0 - it / 2000}))
        if (it + 1) % 400 == 0:
            ap = 30.0 + (it + 1) / 200 - (0.01 * (it - 1000) if it > 1000 else 0)
            lines.append(json.dumps({"bbox/AP": ap, "bbox/AP50": ap + 20, "bbox/APs": ap - 10, "iteration": it}))
    p = tmp_path / "metrics.json"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    keys = set(h.keys())
    assert {("val", "bbox_ap"), ("val", "bbox_ap50"), ("train", "loss"), ("train", "fast_rcnn_cls_acc")} <= keys
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric, r.monitor.mode) == ("val", "bbox_ap", "max")


_MLX_TRAIN = "Iter {}: Train loss {}, Learning Rate 1.000e-05, It/sec 0.412, Tokens/sec 368.412, Trained Tokens {}, " \
    "Peak mem 18.204 GB\n"
MLX_LM = ("Loading pretrained model\nLoading datasets\nTraining\nTrainable parameters: 0.071% (5.243M/7241.732M)\n"
          "Starting training..., iters: 60\nIter 1: Val loss 2.910, Val took 12.310s\n"
          + _MLX_TRAIN.format(10, "1.242", 9000) + _MLX_TRAIN.format(20, "0.981", 18000)
          + "Iter 20: Val loss 1.402, Val took 12.101s\n"
          "Iter 20: Saved adapter weights to adapters/adapters.safetensors and adapters/0000020_adapters.safetensors.\n"
          + _MLX_TRAIN.format(30, "0.702", 27000) + _MLX_TRAIN.format(40, "0.513", 36000)
          + "Iter 40: Val loss 1.455, Val took 12.087s\n"
          + _MLX_TRAIN.format(50, "0.301", 45000) + _MLX_TRAIN.format(60, "0.187", 54000)
          + "Iter 60: Val loss 1.618, Val took 12.113s\n")


def test_mlx_lm_lora_stdout(tmp_path: Path) -> None:
    """``mlx_lm.lora`` prints ``Iter N: Train loss …, Learning Rate …, It/sec …, Peak mem … GB`` and ``Iter N: Val
    loss …, Val took …s``: the losses are read by iteration, the learning rate is kept aside, the throughput
    numbers are bookkeeping."""
    p = tmp_path / "lora.log"
    p.write_text(MLX_LM)
    h = load(p)
    assert sorted(h.keys()) == [("train", "loss"), ("val", "loss")]
    assert h.series("val", "loss").step.tolist() == [1, 20, 40, 60]
    assert h.series("train", "loss").values[-1] == 0.187
    (r,) = analyze(h, forecast=False).runs
    assert [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


def test_unet_dice_coef_decides_when_the_loss_disagrees(tmp_path: Path) -> None:
    """Keras CSVLogger of a U-Net compiled with hand-written ``dice_coef``/``iou_score`` metrics: the validation
    loss (binary cross-entropy) doubles from epoch 10 while the validation Dice keeps improving. The Dice decides
    (the task metric beside the loss); the loss's rise is a disagreement, never a critical overfitting."""
    lines = ["epoch,dice_coef,iou_score,loss,val_dice_coef,val_iou_score,val_loss"]
    for e in range(40):
        dice = 0.9 - 0.6 * 0.9 ** e
        vdice = 0.85 - 0.6 * 0.92 ** e
        vloss = 0.30 * 0.85 ** min(e, 10) + (0.012 * (e - 10) if e > 10 else 0)
        lines.append(f"{e},{dice:.4f},{dice - 0.1:.4f},{0.4 * 0.88 ** e + 0.01:.4f},{vdice:.4f},{vdice - 0.1:.4f},"
                     f"{vloss:.4f}")
    p = tmp_path / "training_log.csv"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.split == "val" and r.monitor.metric in ("dice_coef", "iou_score")
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING and f.severity.value == "critical"]


def _mae_history(tail_noise: float, level: float, n: int = 120) -> str:
    """pandas ``DataFrame(history).to_csv()`` of a masked-autoencoder run (the shape of a public MAE log): the
    losses fall for a dozen epochs and then sit at ``level`` with relative wiggle ``tail_noise``."""
    lines = [",Loss,ValLoss,ReconstructRate,ValReconstructRate"]
    for e in range(n):
        wiggle = tail_noise * (((e * 7) % 11) - 5) / 5
        drop = max(0.0, 1 - e / 12)
        loss = level * (1 + wiggle) + 3.0 * drop
        val = (level - 0.002) * (1 - wiggle) + 2.5 * drop
        lines.append(f"{e},{loss:.6f},{val:.6f},{0.8633 + 0.0035 * (1 - drop):.6f},{0.8631 + 0.004 * (1 - drop):.6f}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("wiggle", [1e-5, 0.0])
def test_a_loss_that_falls_and_then_freezes_for_half_the_run_is_stuck(tmp_path: Path, wiggle: float) -> None:
    """A public MAE log: training and validation loss fall from 5.9 to 2.897 (≈ ln 18: the entropy of the token
    marginal, a collapsed model) and stay there to four digits for 480 epochs. The noise test of "stuck" cannot
    see it (the early fall is far beyond the near-zero noise); a run that no longer changes at all is stuck. The
    same with an exactly constant tail (benchmark VAE runs that fell to 110 and repeat it for 26 epochs)."""
    p = tmp_path / "training_history_2.csv"
    p.write_text(_mae_history(wiggle, 2.897))
    (r,) = analyze(load(p), forecast=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.UNDERFITTING]
    assert f.evidence["mode"] == "stuck" and f.evidence["flatlined"]["evaluations"] == 60
    assert f.evidence["flatlined"]["heldout"] == "ValLoss"
    assert "stopped changing" in f.message and "2.897" in f.message
    assert ("exactly at" in f.message) == (wiggle == 0.0)


def test_a_plateau_with_batch_noise_is_not_flatlined(tmp_path: Path) -> None:
    """The same run with a plateau that moves by 0.4% of its level (mini-batch noise: converged, not frozen)."""
    p = tmp_path / "training_history.csv"
    p.write_text(_mae_history(0.004, 2.897))
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.UNDERFITTING and "flatlined" in f.evidence]


def test_a_frozen_training_loss_without_a_held_out_loss_is_not_flatlined(tmp_path: Path) -> None:
    """Only a training loss, flat after its fall: it may be a fitted loss resting near its floor, so the
    flatline rule needs the held-out loss to be frozen too."""
    lines = ["epoch,loss"] + [f"{e},{2.897 + 3.0 * max(0.0, 1 - e / 12) + 1e-6 * (e % 3):.7f}" for e in range(120)]
    p = tmp_path / "training_log.csv"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert not underfitting.check(h.run(h.runs()[0]))  # (analyze refuses a log without a held-out series)


def test_a_held_out_set_at_chance_for_two_epochs_is_not_learning(tmp_path: Path) -> None:
    """Keras CSVLogger of a 7-class facial-expression model, two epochs: the training accuracy rises 0.19 →
    0.31, but val_loss stays at 1.89 ≈ ln 7 and val_accuracy at 0.075 (below 1/7). Loss and accuracy both at the
    chance level of the same C are evidence enough for a warning even with two evaluations."""
    p = tmp_path / "training_log.csv"
    p.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n"
                 "0,0.1919821798801422,1.7323673963546753,0.07500000298023224,1.8923871517181396\n"
                 "1,0.3125,1.6072986125946045,0.0744047611951828,1.8913871049880981\n")
    (r,) = analyze(load(p), forecast=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]
    assert f.severity.value == "warning" and f.evidence["mode"] == "at_chance" and f.evidence["classes"] == 7
    assert "ln(7)" in f.message and "chance" in f.message


@pytest.mark.parametrize("rows", [
    # the loss sits near ln 2 but the accuracy is far above 1/2: a hard binary task that learns
    ["0,0.70,0.69,0.68,0.690", "1,0.72,0.68,0.70,0.689"],
    # the loss fell from ln 1000 to near ln 100 with an accuracy above 1/100 + 5 points: learning, not chance
    ["0,0.02,6.9,0.08,4.60", "1,0.06,5.5,0.12,4.62"],
])
def test_a_loss_near_ln_c_with_an_accuracy_above_chance_is_not_at_chance(tmp_path: Path, rows: list[str]) -> None:
    p = tmp_path / "training_log.csv"
    p.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n" + "\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]


def _segmentation_csv(path: Path, metric: str) -> Path:
    """A Keras ``CSVLogger`` file of a segmentation run (numbers changed): the training loss falls throughout,
    the held-out loss is best at epoch 8 and then rises by more than its whole improvement, while the held-out
    task metric (a hand-written ``dice_coef``-style function, Keras's ``MeanIoU``…) keeps improving."""
    rows = []
    for e in range(30):
        tr, va = 1.0 / (e + 1), 0.5 + abs(e - 8) / 20
        rows.append(f"{e},{tr:.5f},{0.4 + 0.5 * (1 - tr):.5f},{va:.5f},{0.4 + 0.3 * (1 - 1 / (e + 2)):.5f}\n")
    path.write_text(f"epoch,loss,{metric},val_loss,val_{metric}\n" + "".join(rows))
    return path


@pytest.mark.parametrize(("column", "monitored"), [
    ("dice_coef", "dice_coef"), ("dice_coefficient", "dice_coefficient"), ("jaccard_coef", "jaccard_coef"),
    ("iou_score", "iou_score"), ("mean_io_u", "mean_iou"), ("f1_m", "f1_m"), ("f1_score", "f1_score"),
    ("binary_accuracy", "binary_acc"), ("cohen_kappa", "cohen_kappa"), ("top5", "top5"),
    ("sensitivity", "sensitivity")])
def test_a_keras_metric_function_is_the_task_metric_not_a_held_out_set(tmp_path: Path, column: str,
                                                                      monitored: str) -> None:
    """``val_dice_coef`` is the Dice coefficient of the validation set — not the measure ``coef`` of a set named
    ``dice``. Read that way the run has no task metric, its validation loss decides, and a segmentation run whose
    Dice keeps improving got a *critical* overfitting finding. The task metric decides; the loss's rise is a
    loss/metric disagreement."""
    (r,) = analyze(load(_segmentation_csv(tmp_path / "training_log.csv", column)), forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric, r.monitor.mode) == ("val", monitored, "max")
    kinds = {f.kind: f.severity.value for f in r.findings}
    assert FindingKind.OVERFITTING not in kinds
    assert kinds.get(FindingKind.METRIC_DISAGREEMENT) == "warning"


def test_a_training_loss_that_turns_nan_is_divergence_not_overfitting(tmp_path: Path) -> None:
    """A Lightning ``metrics.csv`` of a YOLOv3 run (numbers changed): the per-step training loss turns NaN in
    epoch 4 and stays NaN; the validation class accuracy (per epoch) falls from 32% to 3.7% and stays there. The
    held-out values after the break come from a broken model: the run diverged (instability, critical), it did
    not overfit."""
    lines = ["lr-Adam,step,train_loss,epoch,val_Class_Accuracy,val_No_Obj_Accuracy,val_Obj_Accuracy\n"]
    step = 0
    for epoch in range(20):
        for _ in range(10):
            step += 50
            loss = "nan" if epoch >= 4 else f"{16 - epoch - 0.1 * (step % 7):.3f}"
            lines.append(f",{step},{loss},{epoch},,,\n")
        acc = [30.1, 31.9, 32.8, 32.3][epoch] if epoch < 4 else 3.6657
        lines.append(f",{step},,{epoch},{acc},{100.0},{0.0}\n")
    p = tmp_path / "metrics.csv"
    p.write_text("".join(lines))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "class_acc"
    kinds = {(f.kind, f.evidence.get("type")): f.severity.value for f in r.findings}
    assert kinds.get((FindingKind.INSTABILITY, "non_finite")) == "critical"
    assert not any(k == FindingKind.OVERFITTING for k, _ in kinds)


def test_a_pandas_history_csv_with_doubled_carriage_returns(tmp_path: Path) -> None:
    """``pd.DataFrame(history.history).to_csv()`` on Windows into a file opened in text mode ends every row with
    ``\\r\\r\\n``: a blank line after each row. It is still the pandas history CSV (blank first header cell)."""
    rows = [",loss,accuracy,val_loss,val_accuracy"] + [
        f"{i},{2.2 - 0.03 * i},{0.40 + 0.01 * i},{2.87 + 0.01 * (i % 3)},{0.25 + 0.001 * i}" for i in range(20)]
    p = tmp_path / "history.csv"
    p.write_bytes("".join(r + "\r\r\n" for r in rows).encode())
    h = load(p)
    assert len(h.series("val", "acc")) == 20 and h.series("val", "acc").epoch[0] == 1.0


def test_a_held_out_loss_that_is_inf_at_every_evaluation_broke_nothing(tmp_path: Path) -> None:
    """An Ultralytics ``results.csv`` (numbers changed) whose ``val/cls_loss`` is inf and ``val/box_loss`` 0 at
    every epoch (a validation set without labels), while mAP rises: no breakdown, a note that the series never
    measured anything."""
    head = ("epoch,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
            "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2\n")
    rows = [f"{e},{1.6 - e / 40:.4f},{4.1 - e / 12:.4f},{1.5 - e / 50:.4f},{0.5 + e / 60:.4f},{0.6 + e / 80:.4f},"
            f"{0.04 + 0.8 * (1 - np.exp(-e / 8)):.4f},{0.02 + 0.45 * (1 - np.exp(-e / 8)):.4f},0,inf,0,"
            f"0.01,0.01,0.01\n" for e in range(30)]
    r = _run_without_critical(tmp_path / "results.csv", head + "".join(rows))
    (note,) = [f for f in r.findings if f.evidence.get("type") == "never_finite"]
    assert note.kind == FindingKind.DATA and note.severity.value == "info" and "val/cls_loss" in note.message


def test_a_held_out_loss_that_rises_after_the_metric_stalled_for_good(tmp_path: Path) -> None:
    """An HF ``trainer_state.json`` of a 46-epoch fine-tune (numbers changed): eval_loss is best at epoch 5 and
    rises steadily to +57%, eval_accuracy keeps improving until epoch 17 and then stays flat for the last 29
    evaluations while the training loss falls to ~0. Judged from the metric's best: the loss got worse after the
    metric stopped improving — overfitting, restored at the metric's best."""
    log = []
    for e in range(1, 46):
        step = 98 * e
        if e % 5 == 0:
            log.append({"epoch": float(e), "step": step, "loss": round(0.94 * 0.5 ** (e / 5), 5),
                        "learning_rate": 2e-5})
        acc = 0.54 + 0.29 * (1 - np.exp(-e / 4)) if e <= 17 else 0.8223 + 0.002 * np.sin(e)
        loss = 0.82 + 0.01 * (e - 5) ** 2 if e < 5 else 0.82 + 0.47 * (e - 5) / 40 + 0.005 * np.sin(3 * e)
        log.append({"epoch": float(e), "step": step, "eval_loss": round(float(loss), 4),
                    "eval_accuracy": round(float(acc), 4)})
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"log_history": log, "global_step": 98 * 45, "best_metric": None}))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "acc"
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert f.detector == "metric_disagreement" and f.evidence["measured_from"] == "metric_best"  # (kept over
    # the overfitting detector's info: 1% of the improvement undone)
    assert 15 <= f.evidence["restore"]["epoch"] <= 18


def _ultralytics(path: Path, map50_95: list[float]) -> Path:
    head = ("epoch,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
            "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2\n")
    rows = [f"{e + 1},0,{100 / (e + 1):.4f},0,{m:.5f},{m:.5f},{2 * m:.5f},{m:.5f},0,{3.4 + e / 15:.4f},0,0.01,0.01,"
            "0.01\n" for e, m in enumerate(map50_95)]
    path.write_text(head + "".join(rows))
    return path


def test_a_detector_whose_map_never_leaves_zero_is_not_learning(tmp_path: Path) -> None:
    """YOLOv8 ``results.csv`` of a run without training boxes (numbers changed): mAP50-95 peaks at 0.007 in epoch 8,
    then 0 for 40 epochs. The model never did the task: not learning; the "overfitting" from 0.007 to 0 is
    downgraded to info, never critical."""
    maps = [0.001 * min(e, 7) for e in range(1, 9)] + [0.0] * 40
    (r,) = analyze(load(_ultralytics(tmp_path / "results.csv", maps)), forecast=False).runs
    kinds = {f.kind: f for f in r.findings}
    assert kinds[FindingKind.NOT_LEARNING].evidence["mode"] == "never_above_zero"
    assert kinds[FindingKind.NOT_LEARNING].severity.value == "warning"
    assert all(f.severity.value == "info" for f in r.findings if f.kind == FindingKind.OVERFITTING)


def test_a_held_out_accuracy_frozen_at_the_background_share_is_not_learning(tmp_path: Path) -> None:
    """Keras ``CSVLogger`` of a 4-class U-Net (numbers changed): val_accuracy is 0.9866 — the background's share of
    the pixels — at every epoch, while val_dice_coef creeps 0.26 → 0.28. Dice decides (pixel accuracy is dominated
    by the background); the frozen accuracy says the predictions never change."""
    rows = [f"{e},{0.98 + e / 10000:.5f},{0.2 + e / 100:.4f},{0.3 / (e + 1):.4f},0.9866,{0.26 + e / 1700:.5f},"
            f"{0.07 - e / 10000:.5f}\n" for e in range(35)]
    p = tmp_path / "training.log"
    p.write_text("epoch,accuracy,dice_coef,loss,val_accuracy,val_dice_coef,val_loss\n" + "".join(rows))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "dice_coef"
    (f,) = [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]
    assert f.evidence["mode"] == "frozen" and f.evidence["value"] == pytest.approx(0.9866)


def test_a_measure_frozen_at_zero_beside_a_learning_one_is_no_finding(tmp_path: Path) -> None:
    """A translation log (numbers changed): the sequence-level accuracy is 0 at every evaluation (exact matches of
    whole sentences are rare) while the token accuracy climbs: the run learns."""
    rows = [f"{e},{5 - e / 20:.3f},{5.2 - e / 20:.3f},{0.1 + e / 100:.3f},0\n" for e in range(30)]
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss,val_loss,val_token_acc,val_seq_acc\n" + "".join(rows))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "token_acc"
    assert not [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]


@pytest.mark.parametrize(("f1", "why"), [
    ([0.0] * 20, "an eval_f1 that is 0 at every evaluation"),
    ([1.0 + 0.03 * np.sin(e) for e in range(20)], "an F1 above 1 that never reaches 2: neither share nor percent"),
])
def test_a_broken_task_metric_does_not_decide(tmp_path: Path, f1: list[float], why: str) -> None:
    rows = [f"{e},{1 / (e + 1):.4f},{0.8 / (e + 1) + 0.3:.4f},{0.5 + e / 50:.4f},{v:.5f}\n"
            for e, v in enumerate(f1)]
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss,val_loss,val_accuracy,val_f1\n" + "".join(rows))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "acc", why


def test_per_epoch_aggregates_of_batch_losses_are_training_series(tmp_path: Path) -> None:
    """A hand-written logger's ``epoch,avg_loss,min_loss,max_loss``: min and max are aggregates of the epoch's
    batch losses, not held-out sets named "min" and "max". The log has no validation series: refused with the
    reason."""
    p = tmp_path / "training_log.csv"
    p.write_text("epoch,avg_loss,min_loss,max_loss\n" + "".join(
        f"{e},{0.15 - e / 1000:.4f},{0.02 + e / 1000:.4f},{0.31:.4f}\n" for e in range(1, 30)))
    with pytest.raises(InputError, match="no validation series"):
        analyze(load(p), forecast=False)


def test_a_map_of_exactly_zero_at_every_epoch_still_decides_and_is_not_learning(tmp_path: Path) -> None:
    """A YOLO ``results.csv`` (numbers changed) whose precision, recall and mAP are exactly 0 for all 30 epochs:
    nothing else moves but the losses. A constant task metric yields only to another task metric that varies,
    so mAP decides and the run never did the task."""
    (r,) = analyze(load(_ultralytics(tmp_path / "results.csv", [0.0] * 30)), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "map50_95"
    (f,) = [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]
    assert f.evidence["mode"] == "never_above_zero"
    assert not [f for f in r.findings if f.severity.value == "critical"]


def test_a_per_entity_recall_that_repeats_is_not_a_frozen_model(tmp_path: Path) -> None:
    """An HF token-classification ``trainer_state.json`` (seqeval names, numbers changed): the overall F1 climbs
    while the recall of a rare entity (``eval_T037_recall``, two examples) is 0.5 at every evaluation. A group's
    share may repeat; only the deciding set's own shares can show a frozen model."""
    log = [{"epoch": float(e), "step": 50 * e, "eval_loss": 1.0 / e, "eval_overall_f1": 0.5 + e / 40,
            "eval_overall_accuracy": 0.8 + e / 100, "eval_T037_recall": 0.5, "eval_T037_f1": 0.4 + e / 100}
           for e in range(1, 13)]
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"log_history": log, "global_step": 600}))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "overall_f1"
    assert not [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]


def test_a_captured_stdout_log_with_ansi_colour_codes(tmp_path: Path) -> None:
    """A coloured ``logging`` handler captured in W&B's ``output.log`` keeps its escape sequences around the
    timestamp, the level and the names: they are not part of the names or the numbers."""
    lines = [f"\x1b[32m2025-10-18 21:47:{e:02d},335\x1b[0m - train - \x1b[1mINFO\x1b[0m - Epoch {e}: "
             f"\x1b[36mTrain Loss\x1b[0m={1 / e:.4f}, \x1b[36mVal Loss\x1b[0m={1.1 / e + 0.1:.4f}, "
             f"\x1b[36mVal Acc\x1b[0m={0.5 + e / 25:.4f}\n" for e in range(1, 9)]
    p = tmp_path / "output.log"
    p.write_text("".join(lines))
    h = load(p)
    assert len(h.series("val", "loss")) == 8 and len(h.series("val", "acc")) == 8


def test_a_resumed_segment_on_a_plateau_does_not_diverge(tmp_path: Path) -> None:
    """A Lightning ``metrics.csv`` of a resumed run's last 13 epochs (480–492; numbers changed): the per-epoch
    training loss wanders 0.0396–0.0522 on a plateau. It never improved in this file, so ending at 1.1× its best
    is noise, not divergence (that needs ``divergence_fresh_ratio``, 1.5×, when there was no improvement to
    undo)."""
    train = [0.0402, 0.0396, 0.0405, 0.0403, 0.0408, 0.0460, 0.0522, 0.0493, 0.0463, 0.0465, 0.0456, 0.0474, 0.0450]
    val = [0.0419, 0.0391, 0.0453, 0.0388, 0.0427, 0.0503, 0.0452, 0.0501, 0.0457, 0.0504, 0.0443, 0.0464, 0.0436]
    rows = [f"{480 + i},{686889 + 150 * i},{t},{v}\n" for i, (t, v) in enumerate(zip(train, val, strict=True))]
    p = tmp_path / "metrics.csv"
    p.write_text("epoch,step,train_loss_epoch,val_loss_epoch\n" + "".join(rows))
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.severity.value == "critical"]
    # a log that starts at epoch 480 and spans 12 is the tail of a longer run: flat is its plateau, not stuck
    assert not [f for f in r.findings if f.kind == FindingKind.UNDERFITTING]


def test_the_same_flat_run_from_its_first_epoch_is_stuck() -> None:
    """The counterpart: the same flat loss logged from epoch 0 never improved — stuck."""
    from gapwatch import History
    train = [0.0402, 0.0396, 0.0405, 0.0403, 0.0408, 0.0460, 0.0522, 0.0493, 0.0463, 0.0465, 0.0456, 0.0474, 0.0450]
    h = History.from_records([{"epoch": i, "train_loss": v} for i, v in enumerate(train)])
    found = underfitting.check(h)
    assert found and found[0].evidence["mode"] == "stuck"
    late = History.from_records([{"epoch": 480 + i, "train_loss": v} for i, v in enumerate(train)])
    assert underfitting.check(late) == []


def test_the_swin_transformer_logger(tmp_path: Path) -> None:
    """The Swin Transformer's ``create_logger`` (copied by many research repositories), as W&B's ``output.log``
    captures it with its colours (numbers changed): ``Train: [e/N]`` and ``Validate:`` lines of tab-separated
    ``name value (running mean)`` fields and a `` * Val Acc … Val Loss …`` summary per epoch."""
    pre = "\x1b[32m[2025-10-20 20:55:{:02d} alexnet]\x1b[0m\x1b[33m(main.py {})\x1b[0m: INFO "
    lines = [pre.format(0, 107) + "Start training\n"]
    for e in range(12):
        tr_loss, va_loss, va_acc = 2.2 / (e + 1) + 0.1, 1.9 / (e + 1) + 0.3 + 0.02 * max(0, e - 6), 20 + 5 * min(e, 8)
        lines += [pre.format(e, 186) + f"Train: [{e}/12]\tlr 0.000300\ttime 0.0180 (0.0178)\tloss 1.9 ({tr_loss:.4f})"
                  f"\tAcc@1 27.500 ({30 + 5 * e:.3f})\tMem 285MB\n",
                  pre.format(e, 195) + f"EPOCH {e} training takes 0:00:03\n",
                  pre.format(e, 111) + f" * Train Acc {30 + 5 * e:.3f} Train Loss {tr_loss:.3f}\n",
                  pre.format(e, 228) + f"Validate: \tTime 0.007 (0.031)\tLoss 1.98 ({va_loss:.4f})\tAcc@1 25.000 "
                  f"({va_acc:.3f})\tMem 285MB\n",
                  pre.format(e, 116) + f" * Val Acc {va_acc:.3f} Val Loss {va_loss:.3f}\n",
                  pre.format(e, 117) + f"Accuracy of the network on the 10000 val images: {va_acc:.1f}%\n"]
    p = tmp_path / "output.log"
    p.write_text("".join(lines))
    h = load(p)
    loss, acc = h.series("val", "loss"), h.series("val", "acc")
    assert len(loss) == 12 and len(acc) == 12 and list(loss.epoch[:2]) == [0.0, 1.0]
    assert loss.values[0] == pytest.approx(2.2) and acc.values[-1] == pytest.approx(60.0)
    assert h.series("train", "loss").values[0] == pytest.approx(2.3)


def _yolov5_row(ep: int, last: int, box: float, m50: float, m5095: float, vbox: float) -> str:
    p, r = 0.3 + m50 / 2, 0.2 + m50 / 3
    return (f"{ep:>10d}/{last}     3.21G   {box:.5f}   0.05125   0.02806    {box + 0.08:.4f}        41       640"
            f"    {p:.4f}    {r:.4f}   {m50:.5f}   {m5095:.5f}   {vbox:.5f}   0.03512   0.01874\n")


def test_yolov5_results_txt_without_a_header(tmp_path: Path) -> None:
    """YOLOv5 ≤ 5.0 wrote ``runs/train/exp/results.txt``: 15 space-separated fields, no header. Read with the
    names of YOLOv5's results.csv; mAP@0.5:0.95 decides; a mAP that peaks at epoch 19 and falls for 20 epochs
    while the training losses fall is overfitting."""
    rows = [_yolov5_row(e, 39, 0.09 - 0.001 * e, 0.3 + 0.02 * min(e, 19) - 0.008 * max(0, e - 19),
                        0.1 + 0.01 * min(e, 19) - 0.004 * max(0, e - 19) + 0.001 * (e % 3), 0.07 - 0.001 * e)
            for e in range(40)]
    p = tmp_path / "results.txt"
    p.write_text("".join(rows))
    h = load(p)
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "map_0_5_0_95")
    assert h.series("val", "map_0_5_0_95").epoch[0] == 0
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and over[0].epoch is not None and 17 <= over[0].epoch <= 21


def test_yolov3_results_txt_reads_its_f1_column(tmp_path: Path) -> None:
    """YOLOv3's results.txt has the same shape, but its fourth measure is F1 = 2PR/(P+R), not mAP@0.5:0.95."""
    lines = []
    for e in range(12):
        p, r = 0.2 + 0.03 * e, 0.1 + 0.04 * e
        f1 = 2 * p * r / (p + r)
        lines.append(f"  {e}/11  5.1G  5.5  3.4  10.2  19.1  60  416  {p:.4f}  {r:.4f}  {0.05 * e:.4f}  {f1:.4f}"
                     "  5.2  2.9  10.1\n")
    path = tmp_path / "results.txt"
    path.write_text("".join(lines))
    h = load(path)
    assert ("val", "f1") in set(h.keys())
    assert ("val", "map_0_5_0_95") not in set(h.keys())


@pytest.mark.parametrize("val_total", [True, False])
def test_a_yolov5_fork_results_txt_with_a_fourth_loss_part(tmp_path: Path, val_total: bool) -> None:
    """Forks of YOLOv5 write more loss columns in the same order: YOLOv5-OBB's angle loss (four training parts
    and their total; four validation parts and their total: 18 fields), a table-detection fork's fourth training
    part with three validation parts (16 fields). The layout is found by the total that follows the parts."""
    lines = []
    for e in range(30):
        parts = [0.12 - 0.002 * e, 0.028 + 0.0001 * e, 0.057 - 0.001 * e, 0.56 - 0.01 * e]
        m5095 = 0.05 + 0.01 * e
        vparts = [0.10 - 0.001 * e, 0.031, 0.042 - 0.0005 * e] + ([0.22 - 0.002 * e] if val_total else [])
        tail = vparts + ([sum(vparts)] if val_total else [])
        nums = [*parts, sum(parts), 20, 416, 0.4 + 0.01 * e, 0.1 + 0.01 * e, 0.1 + 0.015 * e, m5095, *tail]
        lines.append(f"    {e:>2d}/29     0.47G" + "".join(f" {v:>10.4g}" for v in nums) + "\n")
    p = tmp_path / "results.txt"
    p.write_text("".join(lines))
    h = load(p)
    keys = set(h.keys())
    assert {("train", "loss_part4"), ("val", "map_0_5_0_95"), ("val", "box_loss"), ("val", "cls_loss")} <= keys
    assert (("val", "loss_part4") in keys) is val_total
    np.testing.assert_allclose(h.series("val", "map_0_5_0_95").values[:3], [0.05, 0.06, 0.07], rtol=1e-3)
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "map_0_5_0_95")
    assert not [f for f in r.findings if f.severity.value in ("warning", "critical")]


def test_a_results_txt_row_of_another_shape_names_its_line(tmp_path: Path) -> None:
    p = tmp_path / "results.txt"
    p.write_text(_yolov5_row(0, 9, 0.09, 0.3, 0.1, 0.07) + "     1/9     3.21G   0.08\n"
                 + _yolov5_row(2, 9, 0.08, 0.3, 0.1, 0.07))
    with pytest.raises(InputError, match=r"line 2: expected 15 space-separated fields"):
        load(p)


def test_mmdetection_log_json_with_metadata_line_and_modes(tmp_path: Path) -> None:
    """MMDetection 2.x ``work_dirs/<cfg>/<time>.log.json``: a first line of run metadata, then ``"mode":
    "train"`` records every 50 iterations and one ``"mode": "val"`` record per epoch with COCO mAPs and a
    ``bbox_mAP_copypaste`` summary string. The val records' keys are the validation set's."""
    lines = [json.dumps({"env_info": "sys.platform: linux\nPython: 3.8", "config": "model = dict(...)", "seed": 0,
                         "exp_name": "faster_rcnn.py", "hook_msgs": {}})]
    for ep in range(1, 13):
        for it in (50, 100, 150):
            lines.append(json.dumps({"mode": "train", "epoch": ep, "iter": it, "lr": 0.02, "memory": 3300,
                                     "data_time": 0.01, "loss_rpn_cls": 0.05 / ep, "loss_cls": 0.4 / ep,
                                     "loss": 0.9 / ep + 0.001 * it / 50, "grad_norm": 4.1, "time": 0.31}))
        m = 0.2 + 0.01 * min(ep, 6) - 0.008 * max(0, ep - 6)
        lines.append(json.dumps({"mode": "val", "epoch": ep, "iter": 620, "lr": 0.02, "bbox_mAP": m,
                                 "bbox_mAP_50": m + 0.2, "bbox_mAP_copypaste": f"{m:.3f} {m + 0.2:.3f} 0.1 0.1"}))
    p = tmp_path / "20230101_120000.log.json"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert {("val", "bbox_map"), ("train", "loss")} <= set(h.keys())
    assert any("metadata" in n.message for n in h.notes)
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "bbox_map")
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and over[0].epoch == 6


def test_a_jsonl_log_whose_first_line_is_text_after_values_is_still_an_error(tmp_path: Path) -> None:
    """Only the first record may be metadata: a text value later is a damaged log, named by its line."""
    p = tmp_path / "log.jsonl"
    p.write_text('{"epoch": 1, "loss": 0.5}\n{"note": "hello"}\n{"epoch": 2, "loss": 0.4}\n')
    with pytest.raises(InputError, match="line 2"):
        load(p)


def test_mmengine_scalars_json_reads_validation_steps_as_epochs(tmp_path: Path) -> None:
    """MMEngine's ``vis_data/scalars.json`` (MMDetection 3): training records carry ``epoch`` and the global
    iteration as ``step``; validation records carry no epoch and ``step`` = the epoch. Read on the epoch axis, the
    mAP's best (epoch 5) and its decline are where they are, not at iterations 1–12."""
    lines = []
    for ep in range(1, 13):
        for it in (50, 100):
            i = (ep - 1) * 100 + it
            lines.append(json.dumps({"lr": 0.02, "data_time": 0.01, "loss": 0.8 / ep + 0.0001 * it,
                                     "loss_cls": 0.3 / ep, "time": 0.3, "epoch": ep, "iter": i, "memory": 3000,
                                     "step": i}))
        m = 0.2 + 0.02 * min(ep, 5) - 0.01 * max(0, ep - 5) + 0.002 * (ep % 2)
        lines.append(json.dumps({"coco/bbox_mAP": m, "coco/bbox_mAP_50": m + 0.15 + 0.001 * ep,
                                 "data_time": 0.01, "time": 0.1, "step": ep}))
    p = tmp_path / "scalars.json"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    s = h.series("val", "coco_bbox_map")
    assert list(s.epoch[:3]) == [1, 2, 3]
    assert any("step = epoch" in n.message for n in h.notes)
    (r,) = analyze(h, forecast=False).runs
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and over[0].epoch == 5


def test_yolox_loguru_log_with_coco_summaries(tmp_path: Path) -> None:
    """YOLOX's ``train_log.txt``: loguru's prefix (``2021-07-20 12:00:00 | INFO | yolox.core.trainer:260 - ``),
    ``epoch: 3/12, iter: 10/100, …, iou_loss: 4.5, conf_loss: 8.1`` per logged iteration, and pycocotools'
    summary after each evaluation. ``iou_loss``/``conf_loss`` are loss terms (not a held-out set named ``iou``);
    the COCO AP is the validation set's mAP and decides."""
    lines = []
    for ep in range(1, 13):
        for it in (10, 20):
            lines.append(f"2021-07-20 12:00:{it:02d} | INFO     | yolox.core.trainer:260 - epoch: {ep}/12, iter: "
                         f"{it}/100, mem: 5000Mb, iter_time: 0.5s, data_time: 0.01s, total_loss: {15 / ep:.2f}, "
                         f"iou_loss: {4.5 / ep:.2f}, l1_loss: 0.0, conf_loss: {8.1 / ep:.2f}, cls_loss: 2.6, "
                         f"lr: 1.6e-03, size: 640, ETA: 1 day, 2:00:00")
        lines.append("2021-07-20 12:00:30 | INFO     | yolox.core.trainer:340 - ")
        lines.append("Average forward time: 5.01 ms, Average NMS time: 1.02 ms, Average inference time: 6.03 ms")
        ap = 0.1 + 0.02 * min(ep, 6) - 0.01 * max(0, ep - 6)
        lines.append(f" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = {ap:.3f}")
        lines.append(f" Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = {ap + 0.2:.3f}")
        lines.append(" Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = -1.000")
        lines.append(f" Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = {ap:.3f}")
    p = tmp_path / "train_log.txt"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    keys = set(h.keys())
    assert {("train", "iou_loss"), ("train", "conf_loss"), ("val", "map"), ("val", "map50")} <= keys
    assert not any(split in ("iou", "conf") for split, _ in keys)
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "map")
    assert list(h.series("val", "map").epoch) == list(range(1, 13))
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and over[0].epoch == 6


def _nnunet_v2(epochs: int, dice: list[float], val_loss: list[float]) -> str:
    lines = []
    for ep in range(epochs):
        t = "2023-06-01 10:00:00.000000: "
        lines += [t, f"{t}Epoch {ep}", f"{t}Current learning rate: {0.01 * (1 - ep / epochs) ** 0.9:.5f}",
                  f"{t}train_loss {-0.3 - 0.6 * (1 - 0.93 ** ep):.4f}", f"{t}val_loss {val_loss[ep]:.4f}",
                  f"{t}Pseudo dice [{dice[ep] - 0.02:.4f}, {dice[ep] + 0.02:.4f}]", f"{t}Epoch time: 301.2 s"]
    return "\n".join(lines) + "\n"


def test_nnunet_v2_pseudo_dice_decides_over_a_rising_loss(tmp_path: Path) -> None:
    """nnU-Net v2's ``training_log_*.txt``: the per-class ``Pseudo dice [a, b]`` is the validation Dice (its
    mean, as nnU-Net's own EMA uses). A validation loss that creeps up while the Dice keeps improving is no
    overfitting; a Dice that falls for half the run is."""
    n = 40
    rising = [-0.3 - 0.4 * (1 - 0.9 ** min(e, 12)) + 0.004 * max(0, e - 12) for e in range(n)]
    p = tmp_path / "training_log_2023_6_1_10_00_00.txt"
    p.write_text(_nnunet_v2(n, [0.5 + 0.4 * (1 - 0.93 ** e) for e in range(n)], rising))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "pseudo_dice")
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    falling = [0.5 + 0.3 * (1 - 0.85 ** min(e, 20)) - 0.006 * max(0, e - 20) for e in range(n)]
    p.write_text(_nnunet_v2(n, falling, rising))
    (r,) = analyze(load(p), forecast=False).runs
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and 18 <= (over[0].epoch or 0) <= 22


def test_nnunet_v1_global_foreground_dice(tmp_path: Path) -> None:
    """nnU-Net v1: ``epoch:  5`` on its own line, ``train loss : -0.75``, ``validation loss: -0.70`` and
    ``Average global foreground Dice: [0.87, 0.90]`` (read as the validation Dice, the list's mean)."""
    lines = []
    for ep in range(20):
        t = "2020-09-09 10:00:00.000000: "
        d = 0.6 + 0.3 * (1 - 0.8 ** ep)
        lines += [t, f"epoch:  {ep} ", f"{t}train loss : {-0.3 - 0.5 * (1 - 0.9 ** ep):.4f} ",
                  f"{t}validation loss: {-0.3 - 0.4 * (1 - 0.9 ** ep):.4f} ",
                  f"{t}Average global foreground Dice: [{d - 0.01:.4f}, {d + 0.01:.4f}] ",
                  f"{t}(interpret this as an estimate for the Dice of the different classes. This is not exact.) ",
                  f"{t}lr: 0.00995 ", f"{t}This epoch took 300.1 s", ""]
    p = tmp_path / "training_log_2020_9_9_10_00_00.txt"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    s = h.series("val", "global_foreground_dice")
    assert len(s) == 20 and s.values[-1] == pytest.approx(0.6 + 0.3 * (1 - 0.8 ** 19), abs=1e-3)


def test_ms_swift_logging_jsonl_with_progress_strings(tmp_path: Path) -> None:
    """ms-swift's ``logging.jsonl``: training and evaluation records with text progress fields
    (``"percentage": "1.00%"``, ``"global_step/max_steps": "10/1000"``, ``"elapsed_time": "1m 2s"``) and
    ``memory(GiB)``/``train_speed(iter/s)`` — bookkeeping, not measurements (a text value there is no error)."""
    lines = []
    for s in range(10, 1010, 10):
        lines.append(json.dumps({"loss": round(2.0 / (1 + s / 200), 4), "token_acc": 0.5 + s / 4000,
                                 "grad_norm": 1.1, "learning_rate": 5e-5, "memory(GiB)": 20.1,
                                 "train_speed(iter/s)": 0.5, "epoch": round(s / 333, 3),
                                 "global_step/max_steps": f"{s}/1000", "percentage": f"{s / 10:.2f}%",
                                 "elapsed_time": "1m 2s", "remaining_time": "1h"}))
        if s % 100 == 0:
            lines.append(json.dumps({"eval_loss": round(1.5 / (1 + s / 300) + 0.0008 * max(0, s - 500), 4),
                                     "eval_token_acc": 0.6 + min(s, 500) / 5000 - max(0, s - 500) / 8000,
                                     "eval_runtime": 10.0, "eval_samples_per_second": 5.0,
                                     "epoch": round(s / 333, 3), "global_step/max_steps": f"{s}/1000",
                                     "percentage": f"{s / 10:.2f}%", "elapsed_time": "1m", "remaining_time": "1h"}))
    p = tmp_path / "logging.jsonl"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert set(h.keys()) == {("train", "loss"), ("train", "token_acc"), ("val", "loss"),
                                     ("val", "token_acc")}
    (r,) = analyze(h, forecast=False).runs
    assert [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


def test_torchtune_step_log_memory_is_bookkeeping(tmp_path: Path) -> None:
    """torchtune's ``log_<time>.txt``: ``Step 12 | loss:1.23 lr:2e-05 tokens_per_second_per_gpu:1500.3
    peak_memory_active:10.2 …`` — memory figures are not series; with no held-out series the log is refused
    with the one measurement it found named."""
    p = tmp_path / "log_1700000000.txt"
    p.write_text("".join(f"Step {s} | loss:{2.0 / (1 + s / 50):.4f} lr:2e-05 tokens_per_second_per_gpu:1500.3 "
                         "peak_memory_active:10.2 peak_memory_alloc:10.2 peak_memory_reserved:12.0 \n"
                         for s in range(1, 60)))
    assert set(load(p).keys()) == {("train", "loss")}


def _notebook(outputs: list[list[str]]) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# Training\n"]}]
    for k, text in enumerate(outputs, start=1):
        cells.append({"cell_type": "code", "execution_count": k, "metadata": {},
                      "source": ["history = model.fit(x, y, epochs=10, validation_split=0.2)\n"],
                      "outputs": [{"name": "stdout", "output_type": "stream", "text": text},
                                  {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="},
                                   "metadata": {}}]})
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4,
                       "nbformat_minor": 5}, indent=1)


def _keras_fit(best: int) -> list[str]:
    out = []
    for ep in range(1, 11):
        va = 0.5 + 0.04 * min(ep, best) - 0.01 * max(0, ep - best)
        out += [f"Epoch {ep}/10\n", f"100/100 [==============================] - 3s 30ms/step - loss: {1 / ep:.4f} - "
                f"accuracy: {0.5 + ep * 0.04:.4f} - val_loss: {0.9 / ep + 0.05 * max(0, ep - best):.4f} - "
                f"val_accuracy: {va:.4f}\n"]
    return out


def test_a_notebook_s_printed_keras_output(tmp_path: Path) -> None:
    """A Jupyter notebook that ran ``model.fit`` in a cell: the printed progress lines in the cell's stream output
    are the log (each a separate string ending in ``\\n`` inside the JSON); images and code are not read."""
    p = tmp_path / "train.ipynb"
    p.write_text(_notebook([_keras_fit(5)]))
    h = load(p)
    assert set(h.keys()) == {("train", "loss"), ("train", "acc"), ("val", "loss"), ("val", "acc")}
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "acc"
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and over[0].epoch == 5


def test_a_notebook_with_two_fits_is_two_runs_and_one_without_output_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "train.ipynb"
    p.write_text(_notebook([_keras_fit(5), _keras_fit(8)]))
    assert load(p).runs() == ["train#1", "train#2"]
    p.write_text(_notebook([["Model: sequential\n", "Total params: 1,234\n"]]))
    with pytest.raises(InputError, match="no training measurements in the notebook"):
        load(p)
    p.write_text('{"cells": 3}')
    with pytest.raises(InputError, match="expected a JSON object with a 'cells' list"):
        load(p)


def test_a_notebook_in_a_sweep_directory_is_not_a_run(tmp_path: Path) -> None:
    """An analysis notebook beside the runs of a sweep is a document, as README.md and train.py are."""
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "log.csv").write_text("epoch,loss,val_loss\n" + "".join(
        f"{e},{1 / (e + 1):.3f},{1 / (e + 1) + 0.01:.3f}\n" for e in range(8)))
    (tmp_path / "analysis.ipynb").write_text(_notebook([_keras_fit(5)]))
    assert load(tmp_path).runs() == ["run1/log"]


def _spiky(at: list[int], height: float) -> list[float]:
    base = [0.5 * 0.95 ** e + 0.05 + 0.002 * ((e * 7) % 3) for e in range(60)]
    for a in at:
        base[a] += height
    return base


@pytest.mark.parametrize(("at", "height", "val_trace", "severity"), [
    ([20], 0.08, False, "info"),             # one spike, 18% of the improvement, recovered: unharmed (Ultralytics)
    ([20, 40], 0.08, False, "info"),         # two
    ([25, 38, 50], 0.08, False, "warning"),  # recurring: the optimisation is on the edge
    ([20], 0.3, True, "warning"),            # one spike that undid most of the progress, the validation loss too
    ([20], 0.3, False, "info"),              # the same spike, the validation loss unmoved: no harm done
])
def test_transient_training_loss_spikes_are_info_unless_they_recur_or_are_large(at: list[int], height: float,
                                                                                 val_trace: bool,
                                                                                 severity: str) -> None:
    """Real Ultralytics and Keras logs judged healthy show an epoch-mean training loss that jumps once (9x its
    local noise) and is back the next epoch, the held-out measures unharmed."""
    from gapwatch import History
    train = _spiky(at, height)
    val = [0.6 * 0.95 ** e + 0.1 + (height if val_trace and e in at else 0.0) for e in range(len(train))]
    h = History.from_records([{"epoch": e, "train_loss": t, "val_loss": v}
                              for e, (t, v) in enumerate(zip(train, val, strict=True))])
    (r,) = analyze(h, forecast=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence.get("type") == "spikes"]
    assert f.severity.value == severity


def test_a_csv_committed_mid_merge_is_one_run_per_side(tmp_path: Path) -> None:
    """A hand-written CSV logger's file committed in the middle of a git merge: the HEAD side holds the long
    run, the other side two rows of another. Both are read, each as a run named by its side, with a note."""
    head = [f"{e},{0.4 * 0.9 ** e:.4f},{86 + min(e, 10):.2f},{0.06 * 0.9 ** e + 0.01:.4f},"
            f"{97.9 + min(e, 15) / 10:.2f}\n" for e in range(40)]
    text = ("epoch,train_loss,train_accuracy,val_loss,val_accuracy\n<<<<<<< HEAD\n" + "".join(head)
            + "=======\n0,0.44,85.9,0.065,97.9\n1,0.13,96.1,0.024,99.2\n"
            + ">>>>>>> d0150e4 (Reduce model size)\n")
    p = tmp_path / "training_log.csv"
    p.write_text(text)
    h = load(p)
    assert h.runs() == ["training_log#HEAD", "training_log#d0150e4"]
    assert len(h.series("val", "acc", run="training_log#HEAD")) == 40
    assert any("merge conflict" in n.message and "lines 3–42" in n.message for n in h.notes)
    # an unfinished conflict (no closing marker) is still refused with the marker named
    p.write_text(text.rsplit(">>>>>>>", 1)[0])
    with pytest.raises(InputError, match="merge-conflict marker"):
        load(p)


def test_a_held_out_loss_inf_once_while_training_stays_finite_is_an_evaluation_glitch(tmp_path: Path) -> None:
    """An Ultralytics results.csv (numbers changed): ``val/cls_loss`` is ``inf`` at one early epoch and finite
    after; every training loss is finite. The evaluation failed there; training did not break down — a data
    warning, never a critical breakdown. The same inf in the training loss, isolated (finite before, after and at
    the end), is an instability warning (tenth session: an overflowing batch, the run went on); two in a row are a
    critical breakdown."""
    head = "epoch,train/box_loss,train/cls_loss,metrics/mAP50-95(B),val/box_loss,val/cls_loss\n"
    rows = []
    for e in range(1, 31):
        vcls = "inf" if e == 7 else f"{2.0 * 0.93 ** e + 0.5:.4f}"
        rows.append(f"{e},{1.5 * 0.95 ** e:.4f},{2.5 * 0.93 ** e:.4f},{0.7 * (1 - 0.9 ** e):.4f},"
                    f"{1.4 * 0.95 ** e + 0.3:.4f},{vcls}\n")
    p = tmp_path / "results.csv"
    r = _run_without_critical(p, head + "".join(rows))
    (f,) = [f for f in r.findings if f.evidence.get("type") == "non_finite_heldout"]
    assert f.kind == FindingKind.DATA and f.severity.value == "warning" and "epoch 7" in f.message
    p.write_text(head + "".join(r.replace(",inf\n", ",1.0\n") if i != 6 else
                                r.replace(f"{r.split(',')[2]}", "inf", 1) for i, r in enumerate(rows)))
    (r,) = analyze(load(p), forecast=False).runs
    (nf,) = [f for f in r.findings if f.evidence.get("type") == "non_finite"]
    assert nf.severity.value == "warning" and nf.evidence["isolated"]
    p.write_text(head + "".join(r.replace(",inf\n", ",1.0\n") if i not in (6, 7) else
                                r.replace(f"{r.split(',')[2]}", "inf", 1) for i, r in enumerate(rows)))
    (r,) = analyze(load(p), forecast=False).runs
    assert [f for f in r.findings if f.evidence.get("type") == "non_finite" and f.severity.value == "critical"]


def test_an_accuracy_on_25_images_moving_by_one_or_two_is_noise(tmp_path: Path) -> None:
    """``json.dump(history.history)`` with a 25-image validation set (float32 values: steps of 0.04): val_accuracy
    0.96 at the first epoch, 0.92 for seven epochs, 0.88, then 0.96 again. The steady 0.92s made the epoch-to-epoch
    noise near zero and the dip "z > 100"; the binomial standard error of an accuracy over 25 images (0.04) says a
    change of one image is noise — and the final model is back at the best anyway."""
    va = [0.96, 0.92, 0.92, 0.92, 0.92, 0.92, 0.92, 0.92, 0.88, 0.96]
    hist = {"accuracy": [float(np.float32(0.81 + 0.005 * e)) for e in range(10)],
            "loss": [0.44 - 0.01 * e for e in range(10)],
            "val_accuracy": [float(np.float32(v)) for v in va],
            "val_loss": [0.321 - 0.005 * e for e in range(10)]}
    p = tmp_path / "history.json"
    p.write_text(json.dumps(hist))
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    # the same shape ending at 0.84, well below the best by several images, on 25 images: still not significant
    # at the detector's 3.5 standard errors — but on 2000 images (steps of 0.0005) the same drop is overfitting
    big = dict(hist, val_accuracy=[float(np.float32(v * 0.5 + 0.45 + 0.0005 * (e % 2)))
                                   for e, v in enumerate(va[:-1] + [0.80])])
    p.write_text(json.dumps(big))
    (r,) = analyze(load(p), forecast=False).runs
    assert [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


@pytest.mark.parametrize(("values", "n"), [
    ([float(np.float32(v)) for v in (0.96, 0.92, 0.88, 0.92)], 25),  # float32 values (a Keras history)
    ([0.96, 0.92, 0.88, 0.92], None),                     # two decimals: 25 cannot be told from rounding
    ([float(np.float32(k / 820)) for k in (667, 698, 702, 706)] + [0.8536585], 820),  # one value at two precisions
    ([23 / 24, 22 / 24, 21 / 24, 20 / 24], 24),
    ([round(v, 4) for v in (23 / 24, 22 / 24, 21 / 24)], 24),
    ([0.73, 0.74, 0.71, 0.75], None),                     # two decimals: any grid up to 100 fits by rounding alone
    ([0.8123, 0.8301, 0.8455, 0.8512], None),
    ([1.2, 0.5, 0.3], None),                              # not a share
    ([0.5, 0.5, 0.5], None),                              # fewer than three distinct values
])
def test_share_grid_size(values: list[float], n: int | None) -> None:
    from gapwatch.stats import share_grid_size
    assert share_grid_size(np.asarray(values, dtype=float)) == n


def test_share_grid_size_finds_no_grid_in_random_float32_accuracies() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from gapwatch.stats import share_grid_size

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.floats(0.3, 0.99), min_size=6, max_size=30, unique=True))
    def check(vals: list[float]) -> None:
        v = np.asarray(vals, dtype=np.float32).astype(float)
        n = share_grid_size(v)
        # a grid found must explain every value to float32 precision
        assert n is None or np.allclose(v * n, np.round(v * n), atol=n * 3e-7)
    check()


def test_hrnet_segmentation_log_parts_and_its_validation_line(tmp_path: Path) -> None:
    """HRNet-style semantic segmentation log (numbers changed): per-iteration lines ``Epoch: [3/520]
    Iter:[10/247], …, Loss: 5.6, Acc:0.04, Semantic loss: 3.4, IC loss: 2.1`` (the total and its parts) and,
    after each validation, ``Loss: 3.124, MeanIU:  0.0649, Best_mIoU:  0.0649`` — a line with a running best
    reports the evaluation. ``MeanIU`` is the mean IoU (larger is better). The training loss jumps at epoch 27
    and never comes back: diverging."""
    lines = []
    for ep in range(40):
        sem = 3.4 * 0.95 ** ep + 0.5 + (1.2 if ep >= 27 else 0.0)
        ic = 2.0 * 0.93 ** ep + 0.3 + (0.9 if ep >= 27 else 0.0)
        for it in (0, 100, 200):
            lines.append(f"Epoch: [{ep}/520] Iter:[{it}/247], Time: 0.73, lr: [0.001], Loss: {sem + ic:.6f}, "
                         f"Acc:{0.5 + 0.01 * min(ep, 27):.6f}, Semantic loss: {sem:.6f}, IC loss: {ic:.6f}")
        miou = 0.06 + 0.01 * min(ep, 27) - (0.1 if ep >= 27 else 0.0)
        lines.append(f"Loss: {3.1 * 0.97 ** ep + (1.0 if ep >= 27 else 0):.3f}, MeanIU: {miou: 4.4f}, "
                     f"Best_mIoU: {0.06 + 0.01 * min(ep, 27): 4.4f}")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    keys = set(h.keys())
    assert {("train", "loss"), ("train", "semantic_loss"), ("train", "ic_loss"), ("val", "loss"),
            ("val", "miou")} <= keys
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric, r.monitor.mode) == ("val", "miou", "max")
    assert [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence.get("type") == "divergence"]


def test_keras_multi_output_losses_are_parts_of_the_loss() -> None:
    """Keras multi-output models log ``loss``, ``<output>_loss`` per head and their ``val_`` twins: the heads'
    losses are terms of the total, not held-out sets named after the heads; ``ood_loss`` beside ``ood_acc`` and
    ``retention_loss`` beside an explicit ``train_loss`` still name held-out sets."""
    from gapwatch.names import normalize_columns
    read = normalize_columns(["loss", "age_loss", "gender_loss", "val_loss", "val_age_loss", "val_gender_loss"])
    assert read["age_loss"] == ("train", "age_loss") and read["val_age_loss"] == ("val", "age_loss")
    assert normalize_columns(["loss", "ood_loss", "ood_acc"])["ood_loss"] == ("ood", "loss")
    assert normalize_columns(["train_loss", "retention_loss", "val_loss"])["retention_loss"] == ("retention", "loss")


def test_a_space_aligned_table_printed_by_the_training_script(tmp_path: Path) -> None:
    """A training script's own summary (numbers changed): a title, ``Epochs run: 5 of 5``, then a header of
    space-aligned columns and one row per epoch, accuracies printed with ``%``."""
    text = ("Crop Disease Detection -- training log\n" + "=" * 78 + "\nEpochs run: 5 of 5\n"
            "Best epoch: 5 (lowest val_loss)\nTotal time: 14.5 min\n\n"
            "epoch  train_loss  train_acc   val_loss   val_acc         lr    secs\n" + "-" * 78 + "\n")
    for e, (tl, ta, vl, va) in enumerate([(1.23, 58.9, 2.91, 27.5), (0.78, 73.4, 2.89, 38.7),
                                          (0.65, 78.3, 2.96, 46.0), (0.53, 82.4, 0.83, 75.2),
                                          (0.46, 84.8, 0.75, 75.1)], start=1):
        text += f"{e:>5d}  {tl:>10.4f}  {ta:>8.2f}%  {vl:>9.4f}  {va:>6.2f}%   1.00e-03   {160 + e:.1f}\n"
    p = tmp_path / "training_log.txt"
    p.write_text(text)
    h = load(p)
    assert set(h.keys()) == {("train", "loss"), ("train", "acc"), ("val", "loss"), ("val", "acc")}
    s = h.series("val", "acc")
    assert list(s.epoch) == [1, 2, 3, 4, 5] and s.values[-1] == pytest.approx(75.1)


def test_a_noisy_per_batch_training_loss_beside_an_improving_held_out_loss_is_not_stuck() -> None:
    """Lightning TensorBoard of a Fashion-MNIST run (numbers changed): the per-step training loss is mini-batch
    noise around a slowly falling level (0.5 → 0.4, batches ±0.25 around it), too noisy for its own progress to
    clear the noise test (it was called stuck); the per-epoch validation loss fell 0.42 → 0.35 far beyond its
    noise. The model learns."""
    from gapwatch import History
    rng = np.random.default_rng(3)
    recs: list[dict[str, float]] = []
    for ep in range(35):
        for k in range(4):
            step = ep * 4 + k
            recs.append({"step": step, "epoch": ep, "train_loss": 0.4 + 0.1 * 0.9 ** ep + rng.uniform(-0.25, 0.25)})
        recs.append({"step": ep * 4 + 3, "epoch": ep, "val_loss": 0.35 + 0.07 * 0.85 ** ep + rng.normal(0, 0.002),
                     "val_acc": 0.885 - 0.037 * 0.85 ** ep + rng.normal(0, 0.001)})
    (r,) = analyze(History.from_records(recs), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.UNDERFITTING and f.evidence.get("mode") == "stuck"]


def test_an_ultralytics_map50_pinned_at_its_ceiling_is_perfect_not_frozen(tmp_path: Path) -> None:
    """A YOLOv8-seg run on an easy set (numbers changed): box mAP50 is 0.995 at every epoch — the interpolated AP
    Ultralytics reports for a perfect detector — while mAP50-95 keeps improving. Not a frozen model."""
    head = "epoch,train/box_loss,train/seg_loss,metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/seg_loss\n"
    rows = [f"{e},{1.2 * 0.96 ** e:.4f},{1.5 * 0.96 ** e:.4f},0.995,{0.6 + 0.3 * (1 - 0.93 ** e):.4f},"
            f"{1.0 * 0.97 ** e + 0.2:.4f},{1.1 * 0.97 ** e + 0.3:.4f}\n" for e in range(1, 31)]
    p = tmp_path / "results.csv"
    p.write_text(head + "".join(rows))
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]


def test_a_first_jsonl_record_with_a_run_name_and_a_loss_is_not_metadata(tmp_path: Path) -> None:
    """Only a first line without measures is run metadata: ``{"run": "a", "loss": 0.5, "val_loss": 0.6}`` (rows in
    order, no step or epoch) is the first record, kept."""
    p = tmp_path / "log.jsonl"
    p.write_text("".join(json.dumps({"run": "a", "loss": 0.5 - 0.01 * i, "val_loss": 0.6 - 0.01 * i}) + "\n"
                         for i in range(6)))
    h = load(p)
    assert len(h.series("val", "loss")) == 6 and not any("metadata" in n.message for n in h.notes)


def test_a_divergence_from_a_tiny_improvement_says_so_in_words() -> None:
    """A grid-search log (numbers changed): the training loss improved by 0.0005 and then rose by 0.09 — "14895% of
    the improvement undone" is a number nobody reads; the message says the loss is worse than at the start."""
    from gapwatch import History
    from gapwatch.detectors import instability
    train = [1.9725, 1.9722, 1.972, 1.972, 1.9721, 1.9722, 1.972, 1.9721] + [2.06 + 0.0003 * (i % 3) for i in range(12)]
    h = History.from_records([{"epoch": e, "train_loss": v} for e, v in enumerate(train)])
    msgs = [f.message for f in instability.check(h) if f.evidence.get("type") == "divergence"]
    assert msgs and "worse than at the first evaluation" in msgs[0] and "%" not in msgs[0].split(";")[1]


def test_undone_text() -> None:
    from gapwatch.detectors._common import undone_text
    assert undone_text(0.37) == "37% of the improvement undone"
    assert undone_text(148.9) == undone_text(float("inf")) == "worse than at the first evaluation"


def test_long_format_json_lines(tmp_path: Path) -> None:
    """One observation a line, as the long CSV: ``{"step": 3, "split": "val", "metric": "loss", "value": 0.58}``."""
    p = tmp_path / "metrics.jsonl"
    p.write_text("".join(json.dumps({"step": s, "split": sp, "metric": "loss", "value": v}) + "\n"
                         for s in range(1, 9) for sp, v in (("train", 1 / s), ("val", 1 / s + 0.1))))
    h = load(p)
    assert set(h.keys()) == {("train", "loss"), ("val", "loss")} and len(h.series("val", "loss")) == 8


def test_a_keras_csvlogger_committed_mid_merge_and_a_bad_side(tmp_path: Path) -> None:
    """The conflict rule is every reader's (``readers._conflict``): a Keras ``CSVLogger`` file committed mid-merge is
    two runs too; a side that cannot be read is refused naming the file, never its temporary copy."""
    p = tmp_path / "training.log"
    rows = "".join(f"{e},{0.5 + 0.01 * e:.3f},{1 / (e + 1):.3f},{0.45 + 0.01 * e:.3f},{1.1 / (e + 1):.3f}\n"
                   for e in range(1, 6))
    p.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.4,1.0,0.4,1.1\n<<<<<<< HEAD\n" + rows
                 + "=======\n1,0.5,0.9,0.45,1.0\n>>>>>>> feature\n")
    assert load(p).runs() == ["training#HEAD", "training#feature"]
    p.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.4,1.0,0.4,1.1\n<<<<<<< HEAD\n1,x,0.9,0.4,1.0\n"
                 "=======\n1,0.5,0.9,0.45,1.0\n>>>>>>> feature\n")
    with pytest.raises(InputError) as e:
        load(p)
    assert str(p) in str(e.value) and "gapwatch-merge" not in str(e.value) and "one side" in str(e.value)


def test_opennmt_py_log_with_bracketed_timestamps(tmp_path: Path) -> None:
    """OpenNMT-py's log (numbers changed): ``[2024-05-08 04:06:28,390 INFO] Step 200/100000; acc:  45.52; ppl:
    6.11; xent: 1.81; …`` and, after each validation, ``[… INFO] Validation perplexity: 5.45`` and ``Validation
    accuracy: 44.63``. The bracket before the timestamp is the prefix's, not a separate piece of text."""
    lines = []
    for k, step in enumerate(range(50, 1650, 50)):
        lines.append(f"[2024-05-08 04:06:{k % 60:02d},390 INFO] Step {step}/100000; acc:  {40 + k * 1.5:.2f}; "
                     f"ppl:  {6 / (1 + k / 4):.2f}; xent: {1.8 / (1 + k / 4):.2f}; lr: 1.00000; 14904/11549 tok/s;"
                     f"     {15 + k} sec")
        if step % 200 == 0:
            lines.append(f"[2024-05-08 04:06:{k % 60:02d},401 INFO] number of examples: 100")
            lines.append(f"[2024-05-08 04:06:{k % 60:02d},463 INFO] Validation perplexity: {1 + 4 / (1 + k):.5f}")
            lines.append(f"[2024-05-08 04:06:{k % 60:02d},463 INFO] Validation accuracy: {99 - 50 / (1 + k):.4f}")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert ("val", "acc") in set(h.keys()) and len(h.series("val", "acc")) == 8


def test_a_metrics_csv_of_a_test_call_alone_is_refused(tmp_path: Path) -> None:
    """A Lightning ``metrics.csv`` written by ``trainer.test()`` alone: one row of test metrics, no curve — refused
    with one line naming the file, as a summary is; a live log after its first epoch is not."""
    from gapwatch.errors import InputError as Err
    p = tmp_path / "metrics.csv"
    p.write_text("epoch,step,test_acc,test_loss\n0,0,0.954,0.157\n")
    with pytest.raises(Err, match="single value of each series.*not a training curve") as e:
        analyze(load(p), forecast=False)
    assert str(p) in str(e.value) and "\n" not in str(e.value)
    p.write_text("epoch,step,train_loss,val_loss\n0,10,0.9,0.95\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.error is None


def test_a_held_out_loss_that_rises_from_its_first_epoch_while_accuracy_stays_put_is_overfitting(
        tmp_path: Path) -> None:
    """``pd.DataFrame(history.history).to_csv()`` of a sentiment classifier (the shape of a batch-8 dev log,
    not redistributable): val_loss is best at epoch 0 and rises six-fold while val_accuracy stays within
    0.943-0.953 and the training loss falls to 0.003. Before, nothing was reported: the loss-worse-metric-stalled
    pattern required the loss to improve first, and not_learning steps aside when the training loss falls."""
    rng = np.random.default_rng(3)
    n = 60
    t = np.arange(n, dtype=float)
    rows = [",loss,accuracy,val_loss,val_accuracy"]
    for i in range(n):
        loss = 0.17 * np.exp(-t[i] / 12) + 0.003
        val_loss = 0.111 + 0.55 * (1 - np.exp(-t[i] / 40)) + 0.01 * rng.standard_normal()
        val_acc = 0.948 + 0.002 * rng.standard_normal()
        rows.append(f"{i},{loss:.6f},{min(0.999, 0.93 + 0.07 * (1 - np.exp(-t[i] / 12))):.6f},"
                    f"{max(val_loss, 0.111):.6f},{val_acc:.6f}")
    p = tmp_path / "model_history.csv"
    p.write_text("\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False, examples=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert f.severity == Severity.WARNING and f.epoch is not None and f.epoch <= 5  # (the loss best, in noise)
    assert "never moved beyond its noise" in f.message
    assert "never moved beyond its noise" in r.summary.headline


def test_a_printed_split_measure_value_line_is_read(tmp_path: Path) -> None:
    """W&B's ``output.log`` of ``print('-- "test accuracy', acc)`` under `` epoch N`` headers, between tqdm bars
    (the shape of a batch-8 dev log): one ``split measure value`` item on a line is a measurement, while prose
    with a number (``nr. of training examples 6250``) stays prose."""
    lines = ["- nr. of training examples 6250", "- nr. of test examples 6250"]
    for e, acc in enumerate([0.642, 0.700, 0.747, 0.767, 0.782, 0.784]):
        lines += [f" epoch {e}", "100%|████████| 6250/6250 [03:46<00:00, 27.65it/s]", f'-- "test accuracy {acc}']
    p = tmp_path / "output.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    (run,) = h.runs()
    s = h.series("test", "acc")
    assert s.values.tolist() == [0.642, 0.700, 0.747, 0.767, 0.782, 0.784]
    assert s.epoch.tolist() == [0, 1, 2, 3, 4, 5]
    assert {n for n in h.names()} == {"test accuracy"}


def test_accuracy_spelled_out_is_a_measure() -> None:
    from gapwatch.names import is_measure

    assert is_measure("accuracy") and is_measure("test accuracy") and is_measure("val_accuracy")
    assert not is_measure("batch size") and not is_measure("epoch")


@pytest.mark.parametrize("style", ["mmsr", "basicsr"])
def test_basicsr_logs_are_read_with_psnr_as_the_validation_measure(tmp_path: Path, style: str) -> None:
    """BasicSR / mmsr logs (super-resolution: ESRGAN, SwinIR, HDRUNet…), the shape of a batch-8 dev log:
    ``23-05-05 21:26:52.413 - INFO: [epoch:  0, iter:     100, lr:(2.000e-04,)] l_pix: 2.9e-02`` (a two-digit
    year), then ``# Validation # PSNR: 3.0e+01`` (mmsr) or a ``Validation Set5`` heading with tab-indented
    ``# psnr: 30.06\\tBest: 30.06 @ 5000 iter`` lines (BasicSR 1.x). One validation per epoch here: the text
    reader keeps one record per epoch, so two validations within one epoch keep the last (a known limit)."""
    lines = ["23-05-05 21:25:37.738 - INFO:   name: HDRUNet_v1", "  use_tb_logger: True", "  model: sr"]
    it = 0
    for v in range(6):
        for _ in range(5):
            it += 200
            loss = 0.05 * np.exp(-it / 1000) + 0.01
            if style == "mmsr":
                lines.append(f"23-05-05 21:26:52.413 - INFO: [epoch:  {it // 1000}, iter: {it:7,d}, "
                             f"lr:(2.000e-04,)] l_pix: {loss:.4e} ")
            else:
                lines.append(f"2022-08-30 10:47:46,171 INFO: [train..][epoch:  {it // 1000}, iter: {it:7,d}, "
                             f"lr:(1.000e-04,)] [eta: 1 day, 3:51:35, time (data): 0.361 (0.004)] l_pix: {loss:.4e}")
        psnr = 30 + 0.5 * v
        if style == "mmsr":
            lines.append(f"23-05-05 23:19:59.153 - INFO: # Validation # PSNR: {psnr:.4e}")
        else:
            lines += ["2022-08-30 10:49:46,171 INFO: Validation Set5",
                      f"\t # psnr: {psnr:.4f}\tBest: {psnr:.4f} @ {it} iter",
                      f"\t # ssim: {0.8 + 0.01 * v:.4f}\tBest: {0.8 + 0.01 * v:.4f} @ {it} iter", ""]
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("val", "psnr").values, [30, 30.5, 31, 31.5, 32, 32.5], rtol=1e-4)
    assert h.series("train", "l_pix").values[0] > h.series("train", "l_pix").values[-1]
    (r,) = analyze(h, forecast=False, examples=False).runs
    assert (r.monitor.split, r.monitor.metric) == ("val", "psnr")
    assert not [f for f in r.findings if f.severity != Severity.INFO and f.kind != FindingKind.DATA]


def test_an_epoch_counter_inside_a_line_marks_the_epoch_and_appended_runs(tmp_path: Path) -> None:
    """``Date: …, Time_Cost: 98s, Epoch: [k/100],Val_PSNR: x, Val_SSIM: y`` (the shape of a batch-8 dev log):
    the bracketed counter in mid-line is the epoch, so six trainings appended to one file (the counter back at 1)
    are six runs. Before, the lines were numbered 1…600 as one curve and the restarts read as a critical
    collapse."""
    lines = []
    for run in range(3):
        for e in range(1, 21):
            lines.append(f"Date: 2023-10-29 11:25:34s, Time_Cost: 98s, Epoch: [{e}/20],"
                         f"Val_PSNR: {28 + 2 * e - 0.03 * e * e + 0.1 * run:.2f}, Val_SSIM: {0.94 + 0.002 * e:.4f}")
    p = tmp_path / "train_log.txt"
    p.write_text("\n".join(lines) + "\n")
    a = analyze(load(p), forecast=False, examples=False)
    assert [r.name for r in a.runs] == ["train_log#1", "train_log#2", "train_log#3"]
    for r in a.runs:
        assert r.history.series("val", "psnr").epoch.tolist() == list(range(1, 21))
        assert not [f for f in r.findings if f.severity == Severity.CRITICAL]


def test_a_chinese_log_is_read_in_english(tmp_path: Path) -> None:
    """``Epoch 16 完成 | 训练损失: 4.6130 | 验证损失: 6.0073 | 时间: 385.8s`` (the shape of a batch-9 dev log):
    训练 (training), 验证 (validation), 损失 (loss), 准确率 (accuracy) and full-width colons are read."""
    lines = [f"Epoch {e} 完成 | 训练损失: {4.6 - 0.02 * e:.4f} | 验证损失：{6.0 - 0.01 * e:.4f} | 验证准确率: "
             f"{0.3 + 0.01 * e:.3f} | 时间: 385.8s" for e in range(1, 9)]
    p = tmp_path / "training_log.txt"
    p.write_text("示例翻译:\n" + "\n".join(lines) + "\n", encoding="utf-8")
    h = load(p)
    np.testing.assert_allclose(h.series("val", "loss").values, [6.0 - 0.01 * e for e in range(1, 9)], atol=1e-4)
    np.testing.assert_allclose(h.series("val", "acc").values[-1], 0.38)
    assert h.series("train", "loss").values[0] == pytest.approx(4.58)


def test_a_utf16_log_from_a_powershell_redirect_is_read(tmp_path: Path) -> None:
    """``python train.py > log.txt`` in Windows PowerShell writes UTF-16 LE with a byte order mark (the shape of a
    batch-9 log): read like any text log, not refused as binary."""
    lines = [f"Epoch {e}/10 - loss: {1.0 - 0.05 * e:.4f} - val_loss: {1.1 - 0.04 * e:.4f}" for e in range(1, 11)]
    p = tmp_path / "log.txt"
    p.write_bytes(("\n".join(lines) + "\n").encode("utf-16"))
    h = load(p)
    assert len(h.series("val", "loss")) == 10


def test_split_tags_progress_counters_and_course_template_lines_are_read(tmp_path: Path) -> None:
    """``[train] epoch:1 iter:0/18 0.00% lr:0.000753 loss:0.608553 ETA:0.0min`` and ``[val] epoch:1 miou:0.48``
    (UNet++ log), and ``[ Valid | 001/100 ] loss = 1.65302, acc = 0.37931`` (a widely copied course template),
    shapes of batch-9 dev logs."""
    a = tmp_path / "train_log.txt"
    a.write_text("".join(f"[train] epoch:{e} iter:0/18 0.00% lr:0.001000 loss:{1.3 - 0.1 * e:.6f} ETA:0.0min\n"
                         f"[val] epoch:{e} miou:{0.2 + 0.05 * e:.2f}\n" for e in range(6)))
    h = load(a)
    np.testing.assert_allclose(h.series("val", "miou").values, [0.2, 0.25, 0.3, 0.35, 0.4, 0.45])
    np.testing.assert_allclose(h.series("train", "loss").values[-1], 0.8)
    b = tmp_path / "output.log"
    b.write_text("".join(f"[ Train | {e:03d}/100 ] loss = {1.9 - 0.1 * e:.5f}, acc = {0.3 + 0.02 * e:.5f}\n"
                         f"[ Valid | {e:03d}/100 ] loss = {1.7 - 0.05 * e:.5f}, acc = {0.35 + 0.02 * e:.5f}\n"
                         for e in range(1, 7)))
    h = load(b)
    assert h.series("val", "acc").epoch.tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(h.series("val", "loss").values[0], 1.65)
    np.testing.assert_allclose(h.series("train", "acc").values[-1], 0.42)


def test_a_history_json_that_lists_its_epochs_first_is_read(tmp_path: Path) -> None:
    """``{"epochs": [1, 2, …], "loss": […], "val_loss": […], "val_acc": […]}`` (the shape of a batch-9 dev log)."""
    n = 12
    doc = {"epochs": list(range(1, n + 1)), "loss": [0.7 - 0.02 * i for i in range(n)],
           "val_loss": [0.69 - 0.01 * i for i in range(n)], "val_acc": [0.5 + 0.02 * i for i in range(n)]}
    p = tmp_path / "training_history.json"
    p.write_text(json.dumps(doc, indent=2))
    h = load(p)
    assert h.series("val", "acc").epoch.tolist()[0] in (0, 1) and len(h.series("val", "acc")) == n


def test_a_held_out_measure_worse_than_its_first_evaluation_is_never_critical(tmp_path: Path) -> None:
    """With its best at the first evaluation there is no improvement to undo: a perplexity 6% above it is at most
    a warning, not a critical finding that fails a CI gate (a batch-9 dev log's appended run)."""
    val = [1166, 1171, 1226, 1266, 1230, 1229, 1240, 1230, 1237, 1232]
    train = [1026, 859, 808, 817, 815, 817, 818, 815, 818, 819]
    p = tmp_path / "metrics.csv"
    p.write_text("epoch,train_perplexity,val_perplexity\n"
                 + "".join(f"{e + 1},{t},{v}\n" for e, (t, v) in enumerate(zip(train, val))))
    (r,) = analyze(load(p), forecast=False, examples=False).runs
    assert not [f for f in r.findings if f.severity == Severity.CRITICAL]


def test_step_and_epoch_twins_stay_apart_in_every_reader() -> None:
    """Lightning's ``on_step=True, on_epoch=True`` logs ``val_loss_step`` and ``val_loss_epoch``; TensorBoard
    files hold both (a batch-9 dev log). The epoch means are the curve; the per-step values keep their own series
    (before, in TensorBoard, they were merged into one curve and the curve was judged on per-batch values)."""
    from gapwatch.names import normalize_columns, step_twins

    names = ["val_loss_step", "val_loss_epoch", "train_loss_step", "train_loss_epoch", "val_f1", "loss/step"]
    assert step_twins(names) == {"val_loss_step", "train_loss_step"}
    read = normalize_columns(names)
    assert read["val_loss_epoch"] == ("val", "loss") and read["val_loss_step"] == ("val", "loss_step")
    assert read["train_loss_step"] == ("train", "loss_step")


def test_several_re_evaluations_at_the_last_step_are_left_out_of_the_curve() -> None:
    """``trainer.validate()`` called several times after ``fit`` (another event file each) adds values at the last
    step: the fit's own evaluation stays the curve's last point, the others are re-evaluations (a note says so)."""
    from gapwatch import History

    rows = [{"step": 100 * (i + 1), "val_f1": 0.5 + 0.01 * i} for i in range(10)]
    rows += [{"step": 1000, "val_f1": v} for v in (0.85, 0.86, 0.87)]
    h = History.from_records(rows, run="r").dedupe()
    s = h.series("val", "f1")
    assert len(s) == 10 and s.values[-1] == pytest.approx(0.59)
    assert any("the 3 after the first are read as final re-evaluations" in n.message for n in h.notes)


def _yolo8_console(epochs: int, maps: list[float], seg: bool) -> str:
    """Ultralytics 8.x ``train`` stdout in the exact shape people commit (progress rewritten with ``\\r``, ANSI
    erase codes, the validation header and ``all`` row per epoch, best.pt validated after training)."""
    cols = "box_loss   seg_loss   cls_loss   dfl_loss" if seg else "box_loss   cls_loss   dfl_loss"
    val = ("Box(P          R      mAP50  mAP50-95)     Mask(P          R      mAP50  mAP50-95)" if seg
           else "Box(P          R      mAP50  mAP50-95)")
    out = ["Ultralytics 8.3.235 🚀 Python-3.12.10 torch-2.9.1+cu128 CUDA:0", "Starting training for "
           f"{epochs} epochs..."]
    for e in range(1, epochs + 1):
        losses = [1.2 - 0.02 * e, 2.8 - 0.05 * e, 1.5 - 0.01 * e] + ([1.4 - 0.01 * e] if seg else [])
        out.append("")
        out.append(f"      Epoch    GPU_mem   {cols}  Instances       Size")
        bars = []
        for k, pct in ((0, 0), (25, 50), (50, 100)):
            nums = "  ".join(f"{x + 0.01 * (50 - k) / 50:9.4g}" for x in losses)
            bars.append(f"\x1b[K      {e}/{epochs}      1.27G  {nums}         73        640: {pct}% ━━━━ {k}/50 9.3s")
        out.append("\r".join(bars))
        m = maps[e - 1]
        row = f"{0.6:10.3g} {0.5:10.3g} {m + 0.1:10.3g} {m:10.3g}"
        out.append(f"                 Class     Images  Instances      {val}: 100% ━━━━ 1/1 3.1it/s")
        out.append(f"                   all         18         18 {row}" + (f" {row}" if seg else ""))
    out += ["", f"{epochs} epochs completed in 0.1 hours.", "Validating runs/segment/train/weights/best.pt...",
            f"                 Class     Images  Instances      {val}: 100% ━━━━ 1/1 3.1it/s",
            f"                   all         18         18 {0.9:10.3g} {0.9:10.3g} {0.99:10.3g} {0.98:10.3g}"
            + (f" {0.9:10.3g} {0.9:10.3g} {0.99:10.3g} {0.98:10.3g}" if seg else "")]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("seg", [False, True])
def test_ultralytics_console_output_is_read_like_its_results_csv(tmp_path: Path, seg: bool) -> None:
    """YOLOv8/11 stdout saved as a log (the shape of a batch-8 dev log, a segmenter): per-epoch mean losses from
    the last state of the progress line, mAP from the ``all`` row (the mask group for a segmenter, the box group
    apart), and the validation of best.pt after training left out of the curve."""
    maps = [0.1, 0.3, 0.36, 0.37, 0.33, 0.30, 0.28, 0.27]
    p = tmp_path / "training.log"
    p.write_text(_yolo8_console(len(maps), maps, seg), encoding="utf-8")
    h = load(p)
    s = h.series("val", "map50_95")
    assert s.epoch.tolist() == list(range(1, 9))
    np.testing.assert_allclose(s.values, maps, atol=1e-3)
    box = h.series("train", "box_loss").values
    np.testing.assert_allclose(box, [1.2 - 0.02 * e for e in range(1, 9)], atol=1e-3)
    if seg:
        np.testing.assert_allclose(h.series("val", "box_map50_95").values, maps, atol=1e-3)
    (r,) = analyze(h, forecast=False, examples=False).runs
    assert (r.monitor.split, r.monitor.metric) == ("val", "map50_95")


@pytest.mark.parametrize("counted", ["Labels", "Targets"])
def test_yolov5_console_output_is_read(tmp_path: Path, counted: str) -> None:
    """YOLOv5's older stdout: ``Epoch gpu_mem box obj cls total labels img_size`` (0-based ``0/5``; ``total`` is
    the training loss) and ``Class Images Labels P R mAP@.5 mAP@.5:.95`` with its ``all`` row (``Targets`` in the
    2020 releases, as a W&B ``output.log`` of one captured it)."""
    lines = []
    for e in range(6):
        lines += ["     Epoch   gpu_mem       box       obj       cls     total    labels  img_size",
                  f"       {e}/5     3.23G   {0.05 - 0.004 * e:.5f}   {0.03 - 0.002 * e:.5f}  0.00000   "
                  f"{0.08 - 0.006 * e:.5f}        12       640: 100% 2000/2000 [10:00<00:00,  3.33it/s]",
                  f"               Class      Images     {counted:>7}           P           R      mAP@.5  mAP@.5:.95: "
                  "100% 100/100 [00:20<00:00,  5.00it/s]",
                  f"                 all         500        1200       0.6       0.5    {0.5 + 0.02 * e:.3f}"
                  f"    {0.3 + 0.01 * e:.3f}"]
    p = tmp_path / "output.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert h.series("val", "map_0_5_0_95").epoch.tolist() == [0, 1, 2, 3, 4, 5]
    np.testing.assert_allclose(h.series("train", "loss").values, [0.08 - 0.006 * e for e in range(6)], atol=1e-6)


def test_a_large_training_spike_that_left_no_trace_on_validation_is_info(tmp_path: Path) -> None:
    """A hand-written history CSV (the shape of a batch-8 dev log): the training loss jumps 500-fold once and is
    back the next epoch while val_loss and val_f1 do not move: transient, ``info``. The same spike with the
    validation loss jumping with it stays a warning."""
    rng = np.random.default_rng(0)
    n = 40
    train = 0.07 * np.exp(-np.arange(n) / 4) + 0.004 + 0.001 * rng.random(n)
    val = 0.012 * np.exp(-np.arange(n) / 6) + 0.003 + 0.0005 * rng.random(n)
    train[10] = 6.33
    for jump, expected in ((False, Severity.INFO), (True, Severity.WARNING)):
        v = val.copy()
        if jump:
            v[10] = 0.5
        p = tmp_path / f"history_{jump}.csv"
        p.write_text("epoch,train_loss,val_loss,val_f1\n" + "".join(
            f"{e + 1},{train[e]:.6g},{v[e]:.6g},{0.996 + 0.003 * (1 - np.exp(-e / 8)):.6f}\n" for e in range(n)))
        (r,) = analyze(load(p), forecast=False, examples=False).runs
        (f,) = [f for f in r.findings if f.kind == FindingKind.INSTABILITY]
        assert f.severity == expected, f.message
        assert f.evidence["heldout_trace"] is jump


def test_a_json_array_of_per_epoch_records_is_read(tmp_path: Path) -> None:
    """``json.dump(history, f)`` of a list of per-epoch dicts (the shape of a batch-10 dev log), with and without an
    ``epoch`` key: read record by record; learning rates are the schedule."""
    recs = [{"epoch": e, "loss": 1.45 - 0.07 * e, "val_loss": 1.3 - 0.05 * e, "val_accuracy": 0.6 + 0.02 * e,
             "lr": 0.001} for e in range(1, 11)]
    p = tmp_path / "history.json"
    p.write_text(json.dumps(recs, indent=2))
    h = load(p)
    assert h.series("val", "acc").epoch.tolist() == list(range(1, 11))
    assert "lr" in h.meta["history"]["schedule"]
    q = tmp_path / "records.json"
    q.write_text(json.dumps([{k: v for k, v in r.items() if k != "epoch"} for r in recs]))
    assert load(q).series("val", "loss").epoch.tolist() == list(range(1, 11))


def test_split_headings_and_split_words_before_the_epoch(tmp_path: Path) -> None:
    """Shapes of batch-10 dev logs: a ``Test on Epoch 1`` / ``Evaluation`` heading whose unindented ``mAP: 0.86``
    lines (between progress bars) measure that split (PaddlePaddle CSRA); ``TRAIN in epoch 0 , step 50, loss = …``
    beside ``TEST in epoch0, loss = …, acc = 44.1%``; ``Validating Epoch: 1, accuracy: 0.94``."""
    a = tmp_path / "csra.log"
    lines = []
    for e in range(1, 6):
        lines += [f"Epoch {e}[16/5011]: loss:{0.7 / e:.5f}, lr:0.00100, batch time:0.4156, data time:1.6631",
                  f"Epoch {e} training ends, total 98.49s", f"Test on Epoch {e}",
                  "100%|██████████| 310/310 [00:32<00:00,  9.54it/s]", "Evaluation",
                  "100%|██████████| 20/20 [00:00<00:00, 224.92it/s]", f"mAP: {0.86 + 0.01 * e:.6f}"]
    a.write_text("\n".join(lines) + "\n")
    np.testing.assert_allclose(load(a).series("val", "map").values, [0.87, 0.88, 0.89, 0.90, 0.91])
    b = tmp_path / "train.out"
    lines = []
    for e in range(5):
        lines += [f"TRAIN in epoch {e} , step {s}, loss = {2.5 - 0.3 * e - 0.001 * s:.5f}" for s in (0, 50)]
        lines.append(f"TEST in epoch{e}, loss = {2.2 - 0.05 * e:.5f}, acc = {44.1 + e:.4f}%")
    b.write_text("\n".join(lines) + "\n")
    h = load(b)
    np.testing.assert_allclose(h.series("test", "acc").values, [44.1, 45.1, 46.1, 47.1, 48.1])
    np.testing.assert_allclose(h.series("train", "loss").values[0], 2.45)
    c = tmp_path / "seg.log"
    c.write_text("".join(f"2020-11-08 16:35:15,207 - INFO - Training Epoch: {e}, Loss: {0.5 - 0.05 * e:.4f}\n"
                         f"2020-11-08 16:35:15,207 - INFO - Validating Epoch: {e}, accuracy: {0.90 + 0.01 * e:.4f}, "
                         f"Pk: 0.3352, F1: 0.5 . \n" for e in range(1, 5)))
    np.testing.assert_allclose(load(c).series("val", "acc").values, [0.91, 0.92, 0.93, 0.94])


def test_a_five_epoch_lightning_run_whose_val_loss_rises_after_epoch_1_overfits(tmp_path: Path) -> None:
    """Lightning CSV (the shape of a batch-10 dev log): a per-step train_loss every 50 steps beside five epoch-end
    val_loss values, best at epoch 1 and worse at each evaluation after it (+7.8%) while training keeps falling.
    Five points give the noise-based test nothing to work with; the short-run rule's shape applies, and the
    per-batch training loss is compared by its means over the steps between two evaluations. A val_loss that is
    flat from the start (0.5105, 0.5101, 0.5128, 0.5171: four evaluations, the short-run rule alone) has no best to
    fall from."""
    rng = np.random.default_rng(1)
    rows = ["epoch,step,train_loss,val_loss"]
    val = [0.2386, 0.2304, 0.2326, 0.2404, 0.2484]
    step = 0
    for e in range(5):
        for _ in range(9):
            step += 50
            rows.append(f"{e},{step},{0.32 - 0.035 * e + 0.08 * rng.standard_normal():.4f},")
        rows.append(f"{e},{step},,{val[e]}")
    p = tmp_path / "metrics.csv"
    p.write_text("\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False, examples=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert f.evidence["short_run"] and f.severity == Severity.WARNING
    flat = tmp_path / "flat" / "metrics.csv"
    flat.parent.mkdir()
    flat.write_text(p.read_text().replace("0.2386", "0.5105").replace("0.2304", "0.5101")
                    .replace("0.2326", "0.5128").replace("0.2404", "0.5171").replace(",0.2484", ","))
    (r,) = analyze(load(flat), forecast=False, examples=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


def test_the_undone_share_in_a_message_is_computed_from_the_values_it_shows(tmp_path: Path) -> None:
    """A held-out accuracy 44.1 → best 49.6 → final 45.5 (still above its first value): the message says which
    share of first → best the final value took back (73.9%), never "more than all of the improvement undone" (which
    trailing levels can give when the first evaluations are already near the best)."""
    acc = [44.1, 46.5, 48.0, 49.35, 48.85, 49.58, 49.0, 48.4, 48.0, 47.6, 47.3, 47.0, 46.7, 46.5, 46.3, 46.1, 46.0,
           45.9, 45.8, 45.7, 45.6, 45.55, 45.53]
    rows = "".join(f"{e},{2.7 * 0.9 ** e:.4f},{a}\n" for e, a in enumerate(acc))
    p = tmp_path / "log.csv"
    p.write_text("epoch,train_loss,val_acc\n" + rows)
    (r,) = analyze(load(p), forecast=False, examples=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert "73.9% of the improvement undone" in f.message and "more than all" not in f.message


def test_paddle_hapi_mxnet_and_tagged_lines_of_batch_11_dev_logs(tmp_path: Path) -> None:
    """Shapes of batch-11 dev logs: PaddlePaddle ``Model.fit`` stdout (``Epoch 1/10``, ``step 10/614 - loss: …``,
    ``Eval begin...``, the evaluation loop's own ``step 10/88 - loss: … - AUROC_avg: …``, ``Eval samples: N``); an
    MXNet script's ``2020-08-31 14:53:06,644 - train_net.py[line:175] - INFO: [Epoch 0][Batch 0], …, val_AP=0.136``;
    a ``[SeqAR-Diffusion] Epoch 1/400 Train Loss: 0.16 | Val Loss: 0.05`` line; ``Valid acc: 0.84 | loss: 0.51``."""
    a = tmp_path / "paddle.log"
    lines = []
    for e in range(1, 6):
        lines.append(f"Epoch {e}/5")
        lines += [f"step {s:3d}/614 - loss: {0.2 - 0.01 * e:.4f} - AUROC_avg: {0.7 + 0.02 * e:.4f} - 1s/step"
                  for s in (10, 20)]
        lines += ["Eval begin...", f"step 10/88 - loss: {0.18 - 0.005 * e:.4f} - AUROC_avg: {0.77 + 0.01 * e:.4f}"
                  " - 1s/step", "Eval samples: 11219"]
    a.write_text("\n".join(lines) + "\n")
    h = load(a)
    np.testing.assert_allclose(h.series("val", "auroc_avg").values, [0.78, 0.79, 0.80, 0.81, 0.82])
    np.testing.assert_allclose(h.series("train", "loss").values, [0.19, 0.18, 0.17, 0.16, 0.15])
    b = tmp_path / "train.log"
    b.write_text("".join(f"2020-08-31 14:53:06,644 - train_net.py[line:175] - INFO: [Epoch {e}][Batch {k}], "
                         f"Speed: 0.926 samples/sec, CrossEntropy={1.8 / (e + 1):.2e}, SmoothL1=3.00e-03, "
                         f"val_AP={0.1 + 0.05 * e:.3f}\n" for e in range(5) for k in (0, 50)))
    np.testing.assert_allclose(load(b).series("val", "ap").values, [0.1, 0.15, 0.2, 0.25, 0.3])
    c = tmp_path / "diffusion.log"
    c.write_text("".join(f"[SeqAR-Diffusion] Epoch {e}/400 Train Loss: {0.16 - 0.01 * e:.4f} | Val Loss: "
                         f"{0.05 + 0.001 * e:.4f}\n" for e in range(1, 7)))
    h = load(c)
    assert h.series("train", "loss").epoch.tolist() == [1, 2, 3, 4, 5, 6] and len(h.series("val", "loss")) == 6
    from gapwatch.readers.text import pairs
    assert pairs("Valid acc: 0.84 | loss: 0.51") == {"Valid acc": 0.84, "Valid loss": 0.51}
    assert pairs("loss: 0.4 | val_loss: 0.5 | lr: 0.001") == {"loss": 0.4, "val_loss": 0.5, "lr": 0.001}
    from gapwatch.names import is_measure
    assert all(is_measure(n) for n in ("mAP", "val_AP", "MAE", "CrossEntropy", "ndcg@10"))
    assert not any(is_measure(n) for n in ("Speed", "samples", "apple", "lr", "batch size"))


def test_a_line_tagged_as_the_best_models_metrics_is_a_running_best(tmp_path: Path) -> None:
    """``[Best Model Metrics] Epoch 1 | MAE: 221.06 | RMSE: 352.36`` (the shape of a batch-11 dev log) is printed
    only when a new best model is saved: a running best, not a curve; the epoch lines' losses decide."""
    lines = []
    for e in range(1, 31):
        val = 0.05 + 0.002 * max(0, e - 10)
        lines.append(f"[SeqAR-Diffusion] Epoch {e}/400 Train Loss: {0.16 * 0.95 ** e:.4f} | Val Loss: {val:.4f}")
        if e <= 10:
            lines.append(f"[Best Model Metrics] Epoch {e} | MAE: {221 - 3 * e:.2f} | RMSE: {352 - 4 * e:.2f}")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert "MAE" not in h.names() and "RMSE" not in h.names()
    (r,) = analyze(h, forecast=False, examples=False).runs
    assert (r.monitor.split, r.monitor.metric) == ("val", "loss")
    assert [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


def test_a_fine_tune_whose_held_out_metric_climbs_is_not_stuck(tmp_path: Path) -> None:
    """PaddlePaddle Model.fit stdout of a multi-label fine-tune (a public log from the wild corpus, numbers
    changed): the training loss is the current batch's (noisy), so it shows no progress beyond its noise, while the
    held-out AUROC climbs 0.77 -> 0.83 over ten epochs. The deciding metric learned: no "training is stuck"."""
    auc = [0.771, 0.790, 0.801, 0.777, 0.812, 0.818, 0.822, 0.829, 0.826, 0.827]
    noise = [0.21, 0.05, 0.12, 0.03, 0.17, 0.08, 0.14, 0.04, 0.11, 0.06]
    lines = []
    for e, (a, ls) in enumerate(zip(auc, noise, strict=True), start=1):
        lines += [f"Epoch {e}/10", f"step 614/614 - loss: {ls:.4f} - AUROC_avg: {0.70 + 0.015 * e:.4f}",
                  "Eval begin...", f"step 88/88 - loss: {0.147 - 0.001 * e:.4f} - AUROC_avg: {a:.4f}",
                  "Eval samples: 11212"]
    r = _run_without_critical(tmp_path / "train.log", "\n".join(lines) + "\n")
    assert r.monitor.metric == "auroc_avg"
    assert not [f for f in r.findings if f.kind == FindingKind.UNDERFITTING]


def test_a_pipeline_log_whose_first_epoch_comes_after_a_long_preamble(tmp_path: Path) -> None:
    """A pipeline log (``date | LEVEL | msg``, a public log from the wild corpus, numbers changed) prints its
    configuration and ~1,600 duplicate-image warnings (300 KB) before its first epoch line, ``F1 Ep  k/N | Tr
    loss= acc= f1= | Va loss= acc= f1= | LR= best=``: the sniffer looks past the first 64 KiB of a ``.log``, ``Ep
    k/N`` is the epoch, ``Tr``/``Va`` are the splits. A ``Va loss=nan`` at the last epoch of an aborted start,
    beside a finite validation accuracy, is a failed loss computation (a data warning), not a critical breakdown."""
    pre = "".join(f"2026-04-25 23:12:42 | WARNING | Duplicate found: C:\\data\\train\\a\\img{i}.jpeg  (original: "
                  f"C:\\data\\train\\a\\img{i + 7}.jpeg)\n" for i in range(1700))
    assert len(pre) > 65536
    rows = [(0.20, 0.932, 0.10, 0.967), (0.16, 0.939, 0.06, 0.978), (0.11, 0.958, 0.05, 0.979),
            (0.09, 0.967, 0.04, 0.985), (0.08, 0.971, 0.035, 0.986), (0.07, 0.975, 0.03, 0.988),
            (0.06, 0.979, 0.028, 0.989), (0.05, 0.982, 0.027, 0.990)]
    lines = [f"2026-04-26 12:{20 + e}:02 | INFO |   F1 Ep {e:2d}/50 | Tr loss={a:.4f} acc={b:.3f} f1={b:.3f} | "
             f"Va loss={c:.4f}  acc={d:.3f}  f1={d:.3f} | LR=1.0e-04 best={d:.3f} [105s]"
             for e, (a, b, c, d) in enumerate(rows, start=1)]
    p = tmp_path / "training.log"
    p.write_text(pre + "\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor.split == "val" and r.monitor.metric in ("f1", "acc")
    assert len(r.history.series("val", "loss")) == len(rows)
    assert not [f for f in r.findings if f.severity.value in ("warning", "critical")]
    aborted = "\n".join(lines[:1] + [lines[1].replace("Va loss=0.0600", "Va loss=nan")]) + "\n"
    q = tmp_path / "aborted.log"
    q.write_text(pre + aborted)
    (r,) = analyze(load(q), forecast=False).runs
    assert not [f for f in r.findings if f.severity.value == "critical"]
    assert [f for f in r.findings if f.evidence.get("type") == "non_finite_heldout"]


def test_a_correlation_named_r_is_larger_is_better(tmp_path: Path) -> None:
    """``ft ep  k/50  train=…  val_r=…`` (an MRI regression fine-tune from the wild corpus, numbers changed): the
    validation Pearson correlation climbs 0.28 -> 0.86 and then holds: no overfitting (read as smaller-is-better it
    was a critical one)."""
    vr = [0.28, 0.50, 0.13, 0.23, 0.28, 0.45, 0.29, 0.38, 0.36, 0.48, 0.49, 0.65, 0.60, 0.58, 0.62, 0.68, 0.75,
          0.75, 0.80, 0.84, 0.86, 0.84, 0.85, 0.87, 0.85, 0.83, 0.82, 0.86, 0.85, 0.84, 0.86, 0.87, 0.85, 0.86]
    text = "".join(f"  ft ep {e:2d}/50  train={0.024 * 0.93 ** e:.5f}  val_r={v:.3f}\n"
                   for e, v in enumerate(vr, start=1))
    r = _run_without_critical(tmp_path / "dino_headline_run.log", text)
    assert r.monitor.metric == "r" and r.monitor.mode == "max"
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


def test_text_phrasings_of_held_out_lines(tmp_path: Path) -> None:
    """Three held-out phrasings from the wild corpus's text logs (numbers changed): a split tagged after the epoch
    (``Epoch 1/200 [Val]   loss: …``), a split field before rank cut-off measures (``Validation | R@1: … | R@5:
    …``) and a measure named for its epoch (``Test loss for epoch 3: 0.15, Acc = 0.72``)."""
    tagged = []
    for e in range(1, 13):
        tagged += [f"2026-03-06 13:07:09,323 INFO: Epoch {e}/200 [Train] loss: {0.7 * 0.85 ** e:.6f}, lr: 0.000026",
                   f"2026-03-06 13:08:15,988 INFO: Epoch {e}/200 [Val]   loss: {0.36 * 0.9 ** e + 0.1:.6f}"]
    (tmp_path / "train0.log").write_text("\n".join(tagged) + "\n")
    h = load(tmp_path / "train0.log")
    assert len(h.series("val", "loss")) == 12 and len(h.series("train", "loss")) == 12
    recall = []
    for e, r1 in enumerate([0.825, 0.91, 0.95, 0.97, 0.982, 0.981], start=1):
        recall += [f"Epoch {e}/50 | Loss: {0.98 * 0.6 ** e:.4f} | Time: 13635.27s",
                   f"Validation | R@1: {r1:.4f} | R@5: {min(1.0, r1 + 0.1):.4f} | R@10: {min(1.0, r1 + 0.14):.4f}"]
    (tmp_path / "training.log").write_text("\n".join(recall) + "\n")
    d = analyze(load(tmp_path / "training.log"), forecast=False).runs[0]
    assert d.monitor.split == "val" and d.monitor.metric == "r@1" and d.monitor.mode == "max"
    named = []
    for e in range(8):
        named += [f"Loss for Iter {50 * e + 1}: {0.5 * 0.8 ** e:.6f}, acc = {0.1 + 0.1 * e:.6f}", "-" * 20,
                  f"Test loss for epoch {e}: {0.22 * 0.85 ** e:.6f}, Acc = {0.61 + 0.03 * e:.6f}"]
    (tmp_path / "log_train.txt").write_text("\n".join(named) + "\n")
    h = load(tmp_path / "log_train.txt")
    assert len(h.series("test", "loss")) == 8 and len(h.series("test", "acc")) == 8


def test_csv_with_a_phase_column_and_a_file_named_for_its_split(tmp_path: Path) -> None:
    """``Epoch,Phase,Loss,Accuracy`` with a train and a test row per epoch (a hand-written logger from the wild
    corpus), and a ``valid.log`` headed ``epoch,loss,ppl,accuracy`` whose name is its only split (the
    attention-is-all-you-need-pytorch trainer writes train.log and valid.log): both are held-out curves."""
    rows = ["Epoch,Phase,Loss,Accuracy"]
    for e in range(1, 11):
        rows += [f"{e},train,{0.47 - 0.01 * e:.4f},{0.85 + 0.01 * e:.4f}",
                 f"{e},test,{0.47 - 0.005 * e:.4f},{0.84 + 0.006 * e:.4f}"]
    (tmp_path / "training_log.csv").write_text("\n".join(rows) + "\n")
    h = load(tmp_path / "training_log.csv")
    assert len(h.series("test", "acc")) == 10 and len(h.series("train", "loss")) == 10
    valid = ["epoch,loss,ppl,accuracy"] + [f"{e}, {9.1 * 0.8 ** e:.5f}, {2.0 ** (9.1 * 0.8 ** e):.5f},"
                                           f"{min(60.0, 12.0 * e):.3f}" for e in range(12)]
    (tmp_path / "valid.log").write_text("\n".join(valid) + "\n")
    h = load(tmp_path / "valid.log")
    assert set(h.splits()) == {"val"}
    (tmp_path / "metrics.csv").write_text("epoch,loss,step\n0,2.37,49\n0,2.23,99\n0,2.1,149\n")
    assert set(load(tmp_path / "metrics.csv").splits()) == {"train"}


def test_bare_bracketed_counters_are_epochs_and_appended_runs_split(tmp_path: Path) -> None:
    """Python logging of many trainings appended (a per-target classifier from the wild corpus, numbers changed):
    ``INFO:root:[e/1000]: train_auc: …, train_loss: …, test_auc: …, test_loss: …`` — the bare counter is the epoch,
    so each restart at ``[1/1000]`` starts a run (it used to be one run of thousands of "epochs", called
    diverging)."""
    lines = []
    for k in range(3):
        lines += ["INFO:root:=================================", f"INFO:root:{k}: TARGET_{k}"]
        for e in range(1, 13):
            lines.append(f"INFO:root:[{e}/1000]: train_auc: {80 + 1.5 * e:.2f}, train_loss: {0.67 * 0.85 ** e:.4f}, "
                         f"test_auc: {90 + 0.6 * e:.2f}, test_loss: {0.64 * 0.88 ** e + 0.1:.4f}")
    p = tmp_path / "training.log"
    p.write_text("\n".join(lines) + "\n")
    runs = analyze(load(p), forecast=False).runs
    assert len(runs) == 3 and all(len(r.history.series("test", "auc")) == 12 for r in runs)
    assert not [f for r in runs for f in r.findings if f.severity.value == "critical"]


def test_an_eval_loss_nan_at_every_evaluation_of_a_healthy_run_is_no_breakdown(tmp_path: Path) -> None:
    """HF trainer_state.json of a fine-tune whose ``eval_loss`` is NaN at all its evaluations (float16 overflow in
    the evaluation) while the training loss falls: nothing was measured, nothing broke down — no critical."""
    logs = []
    for i in range(1, 8):
        logs.append({"step": 500 * i, "epoch": i - 0.5, "loss": 5.9 - 0.1 * i, "grad_norm": 4.0 + i})
        logs.append({"step": 500 * i + 250, "epoch": float(i), "eval_loss": float("nan")})
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"log_history": logs, "global_step": 3750}))
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.severity.value == "critical"]
    assert [f for f in r.findings if f.evidence.get("type") == "never_finite"]


def test_a_measure_that_drifts_while_another_of_its_set_improves_is_not_critical(tmp_path: Path) -> None:
    """One line per epoch of a hyperspectral reconstruction network (from the wild corpus, numbers changed): val
    RMSE best at epoch 41 and 30% higher at the end while val PSNR of the same set keeps improving to epoch 154.
    The RMSE's decline is reported as a warning that names the PSNR, not as critical."""
    rng = np.random.default_rng(5)
    lines = []
    for e in range(1, 181):
        rmse = 0.0089 + (0.008 * np.exp(-e / 8) if e < 41 else 0.00002 * (e - 41)) + rng.normal(0, 0.00008)
        psnr = 37.3 + 7.5 * (1 - np.exp(-e / 40)) + rng.normal(0, 0.05)
        lines.append(f"2024-01-01 00:00:00 - Epoch[{e}] Iter[{e * 100}] Time:1.2, main_loss: "
                     f"{0.0295 * 0.987 ** e + 0.003:.5f}, val_rmse: {rmse:.6f}, val psnr: {psnr:.3f}, lr: 0.0001")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert r.monitor.metric == "rmse"
    assert over and all(f.severity == Severity.WARNING for f in over)
    assert any((f.evidence.get("loss_improving_z") or 0) >= 3.0 for f in over)


@pytest.mark.parametrize("auc,expected", [
    ([0.512, 0.487, 0.536, 0.503, 0.521, 0.494, 0.509, 0.515], True),   # chance at every evaluation
    ([0.52, 0.58, 0.63, 0.66, 0.70, 0.71, 0.73, 0.74], False),          # learns to rank
    ([0.51, 0.49, 0.50, 0.52], False),                                  # too few evaluations
    ([0.50, 0.51, 0.52, 0.54, 0.56, 0.58, 0.60, 0.61], False),          # leaves the band
])
def test_a_held_out_auc_at_chance_is_not_learning(tmp_path: Path, auc: list[float], expected: bool) -> None:
    """An epoch-wise text detector from the wild corpus (numbers changed): training and validation loss fall
    together, the thresholded F1 jumps as the threshold flips, but the validation AUC never leaves 0.5 ± 0.05 —
    the classifier never separates the classes."""
    lines = [f"2025-01-01 00:00:00 | INFO | Epoch {e}/25 | train_loss={2.2 * 0.3 ** e + 0.7:.4f} | "
             f"val_loss={2.2 * 0.3 ** e + 0.72:.4f} | train_f1=0.6 | val_f1={0.24 if e % 2 else 0.67} | val_auc={a}"
             for e, a in enumerate(auc, start=1)]
    p = tmp_path / "training.log"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    hit = [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING and f.evidence.get("mode") == "auc_at_chance"]
    assert bool(hit) == expected


def test_a_single_final_test_value_is_no_training_curve(tmp_path: Path) -> None:
    """An ASR fine-tune's stdout (from the wild corpus, numbers changed): HF dicts with the eval loss, a per-epoch
    ``[epoch e.00] eval_wer=x%`` callback line and, at the very end, ``cv22_test: WER=5.28%`` — one number read as
    the training split's WER. The short-run rule compares the held-out WER with the training loss, not with that
    one number: the WER that rose at each of the last three evaluations is overfitting."""
    wer = [4.67, 4.37, 4.42, 4.63, 4.68]
    lines = []
    for e in range(1, 6):
        for k in range(1, 9):
            lines.append(f"{{'loss': {0.18 * 0.6 ** (e - 1 + k / 8) + 0.015:.4f}, 'epoch': {e - 1 + k / 8:.2f}}}")
        lines += [f"{{'eval_loss': {0.07 + 0.002 * (e - 2) ** 2:.4f}, 'eval_runtime': 240.1, 'epoch': {e:.2f}}}",
                  f"  [epoch {e}.00] eval_wer={wer[e - 1]:.2f}%  eval_cer=1.46%  (n=12032)"]
    lines.append("  cv22_test: WER=5.28%  CER=1.68%  (12033 samples)")
    p = tmp_path / "training_nl.log"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor.metric == "wer"
    assert [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert "test" in load(p).splits()  # (``cv22_test: WER=…``: a set's label before the split)


def test_a_log_of_task_metrics_only_is_an_evaluation(tmp_path: Path) -> None:
    """``epoch:e<TAB>Accuracy:…<TAB>Average precision:…<TAB>Average recall:…`` (a ResNet-50 digit classifier from
    the wild corpus; its training loss is in another file): no split named, no loss — the measurements are the
    evaluation's, judged as held-out (a converged plateau: clean). A spread printed after a value (``Dice = 0.60
    ± 0.08``) is read as the value."""
    acc = [71.0, 83.5, 92.6, 95.0, 96.4, 97.1, 97.7, 98.1, 98.4, 98.6, 98.7, 98.6, 98.8, 98.7, 98.9, 98.8]
    lines = [f"epoch:{e}\tAccuracy:{a}\tAverage precision:{a + 0.5}\tAverage recall:{a - 0.7}"
             for e, a in enumerate(acc, start=1)]
    r = _run_without_critical(tmp_path / "log.txt", "\n".join(lines) + "\n")
    assert r.monitor.split == "val" and r.monitor.metric == "acc"
    assert not [f for f in r.findings if f.severity.value in ("warning", "critical")]
    p = tmp_path / "eval.txt"
    p.write_text("".join(f"Epoch {e}: Dice = {0.6 + 0.01 * e:.4f} ± 0.0759 | HD95 = 3.1\n" for e in range(1, 9)))
    assert len(load(p).series("val", "dice")) == 8


def test_split_and_value_fields_are_the_splits_losses(tmp_path: Path) -> None:
    """``epoch 201 | train 1.1132 (seg 0.0766, thick 1.0367) | val 1.3223 (seg 0.0771, thick 1.2452) | lr … |
    epoch time 12m 44s`` (a resumed emulator run from the wild corpus, numbers changed): a field that is a split
    and one number is that split's loss (the parts in parentheses are its terms). The log used to be refused."""
    lines = ["nohup: ignoring input", "Train samples: 72470 | Val samples: 9082"]
    for e in range(201, 221):
        tr, va = 1.1132 - 0.0003 * (e - 201), 1.3223 + 0.0002 * ((e * 7) % 5 - 2)
        lines.append(f"epoch {e} | train {tr:.4f} (seg 0.0766, thick {tr - 0.0766:.4f}) | val {va:.4f} (seg 0.0771, "
                     f"thick {va - 0.0771:.4f}) | lr 3.91e-06 | epoch time 12m 44s | elapsed 12m 44s")
    p = tmp_path / "training_log.txt"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert len(h.series("val", "loss")) == 20 and len(h.series("train", "loss")) == 20


def test_a_history_printed_as_lists(tmp_path: Path) -> None:
    """A Keras History written as text, one series a line (``val_loss: [0.66, 0.56, …]``, a Mask R-CNN run from
    the wild corpus, numbers changed), or printed whole (``print(history.history)``): one record per epoch. A
    per-class list printed on its own line every epoch stays a per-epoch mean."""
    names = ["loss", "rpn_class_loss", "mrcnn_mask_loss", "val_loss", "val_rpn_class_loss", "val_mrcnn_mask_loss"]
    rows = {n: [round(1.0 * 0.8 ** e + (0.3 if n.startswith("val") else 0.0), 4) for e in range(10)] for n in names}
    p = tmp_path / "training_logs.txt"
    p.write_text("".join(f"{n}: {rows[n]}\n" for n in names))
    h = load(p)
    assert len(h.series("val", "loss")) == 10 and len(h.series("train", "loss")) == 10
    q = tmp_path / "history.txt"
    q.write_text(repr({"loss": rows["loss"], "accuracy": [0.5 + 0.04 * e for e in range(10)],
                       "val_loss": rows["val_loss"], "val_accuracy": [0.5 + 0.03 * e for e in range(10)]}) + "\n")
    assert len(load(q).series("val", "acc")) == 10
    per_class = "".join(f"Epoch {e}: loss: {0.9 * 0.9 ** e:.3f}, val_loss: {0.8 * 0.9 ** e:.3f}\nval IoU: "
                        f"[{0.2 + 0.01 * e:.2f}, {0.3 + 0.01 * e:.2f}, {0.4 + 0.01 * e:.2f}]\n" for e in range(1, 7))
    (tmp_path / "seg.log").write_text(per_class)
    s = load(tmp_path / "seg.log").series("val", "iou")
    assert len(s) == 6 and abs(float(s.values[0]) - 0.31) < 1e-9


def test_a_torch7_optim_logger_file(tmp_path: Path) -> None:
    """Lua Torch7's ``optim.Logger`` (two repositories of the wild corpus commit ``logs/test.log``): a ``%`` header
    naming the column and its set, one tab-terminated number per epoch. Read as the test set's accuracy; a row of
    another shape is an error naming its line."""
    vals = [70.91, 86.07, 89.71, 92.82, 94.21, 94.65, 95.54, 95.7, 95.8, 95.8, 95.81, 95.8]
    p = tmp_path / "test.log"
    p.write_text("% mean class accuracy (test set)\t\n" + "".join(f" {v:.4e}\t\n" for v in vals))
    r = _run_without_critical(p, p.read_text())
    assert (r.monitor.split, r.monitor.mode) == ("test", "max")
    assert len(r.history.series("test", r.monitor.metric)) == 12
    q = tmp_path / "train.log"
    q.write_text("% mean class accuracy (train set)\t\n 7.1e+01\t\n 8.2e+01\t\n oops\t\n 9.0e+01\t\n")
    with pytest.raises(InputError, match=r"train\.log.*line 4"):
        load(q)


def test_double_spaced_fields_and_ranking_measures_of_a_recommender(tmp_path: Path) -> None:
    """``Epoch   45/200  loss=0.1252  time=20.7s  HR@10: 0.6978  HR@20: 0.8520  NDCG@10: 0.4106`` (a LightGCN
    recommender from the wild corpus, numbers changed): fields separated by two spaces are fields (a value with a
    unit, ``20.7s``, no longer hides the pairs after it), and bare ranking measures at a cut-off are the held-out
    evaluation's; the loss stays the training split's."""
    lines = [f"Epoch {e:4d}/200  loss={0.28 * 0.97 ** e:.4f}  time=20.7s  HR@10: {0.5 + 0.2 * (1 - 0.95 ** e):.4f}  "
             f"HR@20: {0.7 + 0.15 * (1 - 0.95 ** e):.4f}  NDCG@10: {0.28 + 0.15 * (1 - 0.95 ** e):.4f}"
             for e in range(5, 205, 5)]
    r = _run_without_critical(tmp_path / "train_log.txt", "\n".join(lines) + "\n")
    assert (r.monitor.split, r.monitor.metric, r.monitor.mode) == ("val", "ndcg@10", "max")
    assert len(r.history.series("train", "loss")) == 40
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


def test_segmenter_box_group_is_kept_apart_from_the_mask_group(tmp_path: Path) -> None:
    """A YOLOv8-seg ``results.csv`` logs every measure for the box group ``(B)`` and the mask group ``(M)``: both
    were read as one series (and a false "epochs go back (a resumed run?)" note); the box group is ``box_*``."""
    cols = ["epoch", "train/box_loss", "train/seg_loss", "metrics/precision(B)", "metrics/mAP50-95(B)",
            "metrics/precision(M)", "metrics/mAP50-95(M)", "val/box_loss", "val/seg_loss"]
    rows = [",".join(cols)]
    for e in range(1, 21):
        m = 0.9 - 0.5 * 0.8 ** e
        rows.append(",".join(str(v) for v in (e, 1.5 * 0.9 ** e, 2.0 * 0.9 ** e, m + 0.02, m + 0.03, m, m - 0.05,
                                               0.5 + 0.2 * 0.9 ** e, 0.8 + 0.2 * 0.9 ** e)))
    p = tmp_path / "results.csv"
    p.write_text("\n".join(rows) + "\n")
    h = load(p)
    assert h.has("val", "box_map50_95") and h.has("val", "map50_95") and h.has("val", "box_precision")
    assert not any("go back" in n.message for n in h.notes)
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor.metric == "map50_95"


def test_a_lone_named_loss_is_the_training_loss(tmp_path: Path) -> None:
    """``co-RMS-loss: 719.5`` once an epoch and nothing else: a loop that names its objective, not a held-out set
    named ``co`` (which was judged for overfitting, critical, against nothing)."""
    p = tmp_path / "train.log"
    p.write_text("".join(f"2021-03-02 00:29:42,827:INFO: co-RMS-loss: {1218 * 0.97 ** e + 170:.2f}\n"
                         for e in range(40)))
    with pytest.raises(InputError, match="no validation series"):
        analyze(load(p), forecast=False)


def test_unnamed_measure_after_a_validation_pair_is_the_validation_sets(tmp_path: Path) -> None:
    """``train loss: 3.52, val loss: 2.93, accuracy: 55.02`` (the accuracy is the validation set's: it was read as
    the training split's), and a closing report's single ``Macro F1 Score`` does not decide over it."""
    lines = []
    for e in range(1, 21):
        lines.append(f"Epoch {e}/20; Current learning rate 3e-05\n")
        lines.append(f"train loss: {3.5 * 0.85 ** e:.6f}, val loss: {2.9 * 0.9 ** e + 0.6:.6f}, accuracy: "
                     f"{75 - 20 * 0.8 ** e:.2f}\n")
    lines.append("Overall Test Accuracy: 0.7521\nMacro F1 Score: 0.7321\n")
    p = tmp_path / "training_logs.txt"
    p.write_text("".join(lines))
    h = load(p)
    assert len(h.series("val", "acc").values) == 20
    (r,) = analyze(h, forecast=False).runs
    assert (r.monitor.split, r.monitor.metric) == ("val", "acc")


def test_pipeline_stages_in_a_phase_column_are_runs(tmp_path: Path) -> None:
    """A hand-written CSV ``timestamp,phase,epoch,…,train_loss,val_loss,…`` whose phase column names the stages of
    a pipeline (``phase1_event``, ``phase2_tactical``), each its own model: one run per stage (they were one
    curve with "epochs go back" notes and a critical divergence)."""
    rows = ["timestamp,phase,epoch,total_epochs,train_loss,val_loss,notes"]
    for e in range(1, 41):
        val = 1.9 - 0.5 * (1 - 0.9 ** e) + (0.012 * (e - 20) if e > 20 else 0.0)
        rows.append(f"2026-04-23 11:09:34,phase1_event,{e},40,{1.97 * 0.985 ** e:.6f},{val:.6f},run1 saved")
    for e in range(1, 16):
        rows.append(f"2026-04-23 12:09:34,phase2_tactical,{e},15,{2.302 + 0.003 * (-1) ** e:.6f},"
                    f"{2.300 + 0.002 * (-1) ** e:.6f},run1")
    p = tmp_path / "training_log.csv"
    p.write_text("\n".join(rows) + "\n")
    res = analyze(load(p), forecast=False)
    by = {r.name: r for r in res.runs}
    assert set(by) == {"training_log/phase1_event", "training_log/phase2_tactical"}
    assert any(f.kind == FindingKind.OVERFITTING for f in by["training_log/phase1_event"].findings)
    assert not any(f.severity == Severity.CRITICAL for f in by["training_log/phase2_tactical"].findings)


@pytest.mark.parametrize("names", [["D_Loss", "G_Loss", "D_Real", "D_Fake"],
                                   ["policy_loss", "value_loss", "entropy_loss"],
                                   ["actor_loss", "critic_loss"]])
def test_gan_and_rl_loss_terms_are_no_held_out_sets(tmp_path: Path, names: list[str]) -> None:
    """A GAN's ``D_Loss``/``G_Loss`` and PPO's ``policy_loss``/``value_loss`` are training objectives, not the
    losses of held-out sets named ``D``, ``G``, ``policy`` (a GAN log got a held-out regression warning)."""
    p = tmp_path / "training_log.csv"
    p.write_text("epoch," + ",".join(names) + "\n" + "".join(
        f"{e}," + ",".join(f"{1.0 / (e + k + 1):.4f}" for k in range(len(names))) + "\n" for e in range(30)))
    with pytest.raises(InputError, match="no validation series"):
        analyze(load(p), forecast=False)


def test_training_loss_jump_while_the_monitored_metric_holds_is_a_warning(tmp_path: Path) -> None:
    """A video classifier whose script reloads its best weights when ReduceLROnPlateau halves the learning rate:
    the training loss jumps 0.14 → 1.2 and stays up while validation accuracy holds its best. The divergence is
    reported, as a warning (it was critical: the model being evaluated is not broken)."""
    lines = []
    for e in range(1, 31):
        tr = 3.5 * 0.8 ** e + 0.1 if e < 21 else 1.2 + 0.01 * ((e * 7) % 3)
        va = 77.0 - 22.0 * 0.75 ** e + 0.3 * ((e * 5) % 3 - 1)
        lines.append(f"Epoch {e}/30; Current learning rate 3e-05\n")
        lines.append(f"train loss: {tr:.6f}, val loss: {0.9 + 2 * 0.8 ** e:.6f}, accuracy: {va:.2f}\n")
    p = tmp_path / "training_logs.txt"
    p.write_text("".join(lines))
    (r,) = analyze(load(p), forecast=False).runs
    div = [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence.get("type") == "divergence"]
    assert div and div[0].severity == Severity.WARNING and div[0].evidence["monitor_held"]


def test_loss_at_ln2_throughout_is_chance_whatever_a_small_validation_accuracy_does(tmp_path: Path) -> None:
    """Keras CSVLogger of a binary deepfake detector, 7 epochs: val_loss 0.6957 → 0.6845 never leaves ln 2, while
    the accuracy of a small validation set wanders 0.41–0.60 (above 1/2 + 5 points by sampling noise alone)."""
    rows = [(0, 0.51, 1e-4, 0.6931, 0.41, 0.6957), (1, 0.53, 1e-4, 0.688, 0.50, 0.6921),
            (2, 0.55, 1e-4, 0.676, 0.58, 0.6902), (3, 0.58, 1e-4, 0.664, 0.55, 0.6899),
            (4, 0.60, 1e-4, 0.650, 0.57, 0.6871), (5, 0.63, 1e-4, 0.637, 0.52, 0.6866),
            (6, 0.65, 1e-4, 0.622, 0.60, 0.6845)]
    p = tmp_path / "training_log.csv"
    p.write_text(KERAS_HEADER + "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    (r,) = analyze(load(p), forecast=False).runs
    chance = [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING and f.evidence.get("mode") == "at_chance"]
    assert chance and chance[0].evidence["classes"] == 2


def test_a_bare_split_before_a_percentage_is_its_accuracy(tmp_path: Path) -> None:
    """``Epoch: 001/010 | Train: 90.36% | Validation: 92.77%`` (the per-epoch line of a widely copied PyTorch
    classifier template): the validation accuracy, which was read as a validation *loss* and its rise called
    overfitting."""
    lines = []
    for e in range(1, 11):
        lines.append(f"Epoch: {e:03d}/010 | Batch 0050/0422 | Loss: {1.5 * 0.8 ** e:.4f}\n")
        lines.append(f"Epoch: {e:03d}/010 | Train: {97 - 7 * 0.7 ** e:.2f}% | Validation: {97 - 5 * 0.7 ** e:.2f}%\n")
    p = tmp_path / "training.log"
    p.write_text("".join(lines))
    (r,) = analyze(load(p), forecast=False).runs
    assert (r.monitor.split, r.monitor.metric) == ("val", "acc")
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


def test_one_isolated_inf_training_loss_is_a_warning(tmp_path: Path) -> None:
    """A history CSV whose training loss is ``inf`` at one epoch (an overflowing batch under a mixed-precision loss
    scaler) and finite before and after it: a warning, not a critical breakdown."""
    rows = ["epoch,loss,accuracy,val_loss,val_accuracy"]
    for e in range(1, 41):
        loss = "inf" if e == 22 else f"{0.9 * 0.92 ** e + 0.02:.5f}"
        acc, val_loss, val_acc = 0.99 - 0.4 * 0.9 ** e, 0.5 * 0.93 ** e + 0.05, 0.995 - 0.3 * 0.85 ** e
        rows.append(f"{e},{loss},{acc:.4f},{val_loss:.5f},{val_acc:.4f}")
    p = tmp_path / "training_history.csv"
    p.write_text("\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    nf = [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence.get("type") == "non_finite"]
    assert nf and nf[0].severity == Severity.WARNING and nf[0].evidence["isolated"]


def test_a_flat_loss_at_ln_c_wandering_by_a_percent_is_not_divergence() -> None:
    """An EstraNet run whose training loss sits at ln 256 = 5.545 for 400k steps, wandering 5.52–5.57 (a model that
    never learned): a final level 1% above the best is no blow-up (it was a critical divergence)."""
    from gapwatch import History
    from gapwatch.detectors import instability
    train = [5.60, 5.56, 5.54, 5.53, 5.523, 5.524] + [5.57 + 0.002 * ((i * 7) % 3) for i in range(30)]
    h = History.from_records([{"epoch": e, "train_loss": v} for e, v in enumerate(train)])
    assert not [f for f in instability.check(h) if f.evidence.get("type") == "divergence"]


def test_a_timing_in_parentheses_after_the_last_pair_keeps_it(tmp_path: Path) -> None:
    """``epoch 6/30  train_loss=0.03718  val_loss=0.03926  (223.5s)`` (batch 15): the epoch's time in parentheses
    after the last ``name=value`` pair used to make the pair prose, and the run had no validation series."""
    lines = ["=== Final training: up to 30 epochs, patience=8 ==="]
    vals = [0.151, 0.061, 0.063, 0.049, 0.046, 0.039, 0.045, 0.047, 0.043, 0.052]
    lines += [f"epoch {e}/30  train_loss={0.38 / e:.5f}  val_loss={v:.5f}  (22{e}.3s)" for e, v in enumerate(vals, 1)]
    p = tmp_path / "training_log.txt"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "loss")
    assert r.best is not None and r.best.epoch == 6


def test_a_named_percentage_after_the_epoch_marker_is_a_measure(tmp_path: Path) -> None:
    """`` epoch 10: loss 0.0440; validation agreement 98.302%`` (batch 15): a percentage right after a measure's
    name is its value (only a bare percentage is a progress counter), and ``agreement`` is larger-is-better."""
    rows = [(1, 0.4864, 84.992), (10, 0.0440, 98.302), (20, 0.0209, 99.005), (30, 0.0147, 99.252)]
    p = tmp_path / "training.log"
    p.write_text("connectome 11\n" + "".join(f" epoch {e}: loss {lo:.4f}; validation agreement {a}%\n"
                                             for e, lo, a in rows))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "agreement" and r.monitor.mode == "max"
    assert not [f for f in r.findings if f.severity.value in ("warning", "critical")]


def test_ragged_closing_rows_of_a_csv_are_left_out_with_a_note(tmp_path: Path) -> None:
    """A hand-written CSV whose last two rows come from other runs with one more column (batch 15): they are left
    out with a note naming the first; a row with more cells before the end stays an error naming its line."""
    head = "epoch,train_loss,val_loss,train_wer,val_wer\n"
    body = "".join(f"{e},{1 / e:.4f},{1.1 / e + 0.01:.4f},{90 / e:.2f},{95 / e:.2f}\n" for e in range(1, 9))
    tail = "51,7259933,0.046,0.124,8.23,11.74\n31,7259933,0.323,0.314,27.3,33.4\n"
    p = tmp_path / "training_log.csv"
    p.write_text(head + body + tail)
    (r,) = analyze(load(p), forecast=False).runs
    notes = [n.message for n in load(p).notes]
    assert any("line 10: 2 closing row(s) with 6 cells" in n for n in notes)
    assert r.best is not None and r.best.epoch == 8
    rows = body.splitlines(keepends=True)
    p.write_text(head + "".join(rows[:4]) + tail + "".join(rows[4:]))
    with pytest.raises(InputError, match=r"line 6: 6 cells but the header has 5 columns"):
        load(p)


def test_a_per_epoch_change_column_is_not_a_measure(tmp_path: Path) -> None:
    """``train_loss_delta_%`` (the change of the loss from the epoch before, in percent) is a derived signal: its
    jumps are no divergence of the training loss (batch 15)."""
    head = "epoch,train_loss,val_loss,train_loss_delta_%,val_loss_delta_%\n"
    loss = [2.98 * 0.8 ** e for e in range(20)]
    val = [2.2 * 0.82 ** e + 0.2 for e in range(20)]
    rows = [f"{e + 1},{loss[e]:.5f},{val[e]:.5f},{'' if e == 0 else f'{100 * (loss[e] / loss[e - 1] - 1):.2f}'},"
            f"{'' if e == 0 else f'{100 * (val[e] / val[e - 1] - 1):.2f}'}\n" for e in range(20)]
    p = tmp_path / "training_log.csv"
    p.write_text(head + "".join(rows))
    h = load(p)
    assert not h.has("train", "loss_delta") and not h.has("val", "loss_delta")
    (r,) = analyze(h, forecast=False).runs
    assert not [f for f in r.findings if f.severity.value in ("warning", "critical")]
    from gapwatch.names import role
    assert role("train_loss_delta_%") == "signal" and role("val_loss") == "metric"


def test_a_history_json_with_a_stage_label_list_is_read(tmp_path: Path) -> None:
    """``json.dump`` of a history dict whose first list holds a text label per epoch (``"stage": ["warm-up", …]``,
    batch 15): the labels are left out with a note and the measures are read."""
    n = 12
    doc = {"stage": ["warm-up"] * 3 + ["fine-tune"] * (n - 3),
           "train_loss": [1.7 * 0.85 ** e for e in range(n)], "train_acc": [0.3 + 0.05 * e for e in range(n)],
           "val_loss": [1.4 * 0.9 ** e for e in range(n)], "val_acc": [0.4 + 0.04 * e for e in range(n)]}
    p = tmp_path / "history.json"
    p.write_text(json.dumps(doc, indent=2))
    h = load(p)
    assert h.has("val", "acc")
    assert any("stage: text labels" in n.message for n in h.notes)
    doc["stage"][4] = 3  # a list of labels and numbers is neither: refused with the key and the epoch
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="key 'stage', epoch 1: expected a number"):
        load(p)


def test_one_early_training_spike_is_info_whatever_its_size(tmp_path: Path) -> None:
    """YOLOv5-style epoch means (batch 12): the training loss jumps once at the third epoch, by more than half of
    its later improvement, and is back two epochs later (the early large-learning-rate phase); the run is healthy."""
    lines = ["epoch,train_loss,val_loss,val_acc"]
    for e in range(1, 41):
        tl = 0.25 * 0.97 ** e + (0.25 if e == 3 else 0.0) + 0.002 * ((e * 7) % 3)
        vl = 0.3 * 0.97 ** e + 0.1 + 0.002 * ((e * 5) % 3) + (0.2 if e == 3 else 0.0)  # (it shows on val too)
        lines.append(f"{e},{tl:.5f},{vl:.5f},{0.5 + 0.01 * e - 0.002 * ((e * 3) % 2):.4f}")
    p = tmp_path / "results.csv"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    spikes = [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence.get("type") == "spikes"]
    assert spikes and all(f.severity == Severity.INFO for f in spikes)
    assert "early large-learning-rate phase" in spikes[0].message


def test_held_out_loss_rising_while_accuracy_ties_its_plateau_at_the_end_is_overfitting(tmp_path: Path) -> None:
    """``epoch,train_loss_total,train_loss_ce,val_loss,train_acc,val_acc`` (batch 14): val_loss best at epoch 3
    then +33%, val_acc flat after epoch 3 and its last value a new best by less than its noise; the summed
    training objective (``train_loss_total``) is the training loss. Overfitting since epoch 3."""
    rows = [(1, 1.80, 1.68, 1.342, 0.42, 0.527), (2, 1.30, 1.20, 1.2245, 0.55, 0.583),
            (3, 1.00, 0.92, 1.1731, 0.64, 0.636), (4, 0.80, 0.71, 1.2156, 0.71, 0.620),
            (5, 0.62, 0.55, 1.3122, 0.77, 0.626), (6, 0.50, 0.43, 1.456, 0.82, 0.642),
            (7, 0.41, 0.35, 1.4809, 0.86, 0.623), (8, 0.34, 0.29, 1.432, 0.89, 0.639),
            (9, 0.29, 0.24, 1.5625, 0.92, 0.6524)]
    p = tmp_path / "training_history.csv"
    p.write_text("epoch,train_loss_total,train_loss_ce,val_loss,train_acc,val_acc\n"
                 + "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    (r,) = analyze(load(p), forecast=False).runs
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and over[0].evidence["pattern"] == "loss_worse_metric_stalled" and over[0].epoch == 3


def test_a_one_off_task_measure_after_a_loss_curve_does_not_decide(tmp_path: Path) -> None:
    """A forecaster's log prints ``val_loss`` every epoch, then a closing ``MAE: 0.39`` block (batch 15): one number
    is no curve; the validation loss decides."""
    lines = [f"epoch {e}/30  train_loss={0.4 / e:.5f}  val_loss={0.15 / e + 0.01 * e:.5f}" for e in range(1, 12)]
    lines += ["best val_loss=0.0392", "=== Validation metrics ===", "RMSE: 0.5919", "MAE:  0.3909"]
    p = tmp_path / "training_log.txt"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "loss"


def test_an_airflow_style_logging_prefix_is_read(tmp_path: Path) -> None:
    """``[{3667621017.py:45} INFO - Epoch    1, trlast = 0.3412, val = 0.4798`` (a notebook's logger in Airflow's
    ``{%(filename)s:%(lineno)d} %(levelname)s - `` format, batch 14): the prefix is no part of the message, and the
    bare ``val = x`` is the validation loss."""
    vals = [0.4798, 0.4776, 0.4745, 0.4745, 0.4712, 0.4698, 0.4660, 0.4671, 0.4650, 0.4652]
    lines = []
    for e, v in enumerate(vals, 1):
        lines.append(f"[{{3667621017.py:45}} INFO - Epoch {e:>4}, trlast = {0.34 - 0.01 * e:.4f}, val = {v}")
        lines.append("[{3667621017.py:54} INFO - saved intermediate checkpoint")
    lines += ["[{1225016807.py:7} INFO - Train: 0.4493", "[{1225016807.py:8} INFO - TimeNLL:0.4493 Acc:1.0000"]
    p = tmp_path / "log.txt"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.split == "val" and r.best is not None and r.best.epoch == 9


def test_a_time_of_day_logging_prefix_is_read(tmp_path: Path) -> None:
    """``23:37:06 | INFO     | Epoch 001/120  …`` (a logging format with the time of day alone, batch 16): the prefix
    is no part of the message; a time at the start of a line without a level stays text."""
    from gapwatch.readers.text import _LOG_PREFIX
    m = _LOG_PREFIX.match("23:37:06 | INFO     | Epoch 001/120  val_loss=0.2041  (62s)")
    assert m is not None and m.group(0) == "23:37:06 | INFO     | "
    m = _LOG_PREFIX.match("12:00:01 loss 0.5")
    assert m is not None and m.group(0) == ""
    lines = [f"23:{36 + e // 60:02d}:{e % 60:02d} | INFO     | Epoch {e:03d}/20  train_loss={1 / e:.4f}  "
             f"val_loss={1.2 / e + 0.1:.4f}  (62s)" for e in range(1, 21)]
    p = tmp_path / "training_log.txt"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.split == "val" and r.best is not None and r.best.epoch == 20


def test_a_ray_tune_progress_csv_is_read(tmp_path: Path) -> None:
    """Ray Tune's per-trial ``progress.csv`` (batch 16): ``training_iteration`` counts the reports, Ray's
    bookkeeping (``pid``, ``hostname``, ``done``, ``time_this_iter_s``…) is no measure, a set-valued cell is text."""
    head = ("val_accuracy,val_loss,train_accuracy,train_loss,used_classes,timestamp,checkpoint_dir_name,"
            "should_checkpoint,done,training_iteration,trial_id,date,time_this_iter_s,time_total_s,pid,hostname,"
            "node_ip,time_since_restore,iterations_since_restore\n")
    rows = [f"{60 + 2 * i},{2.0 / i:.4f},{0.5 + 0.01 * i:.3f},{1.4 / i:.4f},\"{{'a', 'b'}}\",{1700000000 + i},"
            f"checkpoint_{i:06d},True,False,{i},3f2a1_00000,2024-05-01_10-00-{i:02d},{12.5 + i % 3},{12.5 * i},"
            f"4242,node-1,10.0.0.1,{12.5 * i},{i}\n" for i in range(1, 13)]
    p = tmp_path / "progress.csv"
    p.write_text(head + "".join(rows))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "acc")
    assert r.best is not None and r.best.step == 12
    names = {n for n in load(p).names()}
    assert not names & {"pid", "done", "time_this_iter_s", "training_iteration", "iterations_since_restore"}


def test_stray_nul_characters_in_a_text_log_are_dropped(tmp_path: Path) -> None:
    """A crashed data-loader worker wrote ``\\x00ERROR: Unexpected segmentation fault`` into a 1 MB stdout
    (batch 16): a few NULs are dropped and the log read; a file full of them is still binary data."""
    lines = [f"step {100 * e} | Validation loss {1.0 / e + 0.5:.4f}" for e in range(1, 30)]
    lines.insert(10, "\x00ERROR: Unexpected segmentation fault encountered in worker.")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.split == "val"
    p.write_text("\n".join(lines[:5]) + "\n" + "\x00" * 200 + "\n" + "\n".join(lines[5:]) + "\n")
    with pytest.raises(InputError, match="binary data|unknown log format"):
        load(p)


def test_a_gan_players_loss_jumps_are_no_spikes(tmp_path: Path) -> None:
    """A generator's loss (``loss_G``) jumps whenever the discriminator gains (batch 16): no spike finding on it."""
    rows = []
    for i in range(1, 120):
        g = 2.0 - i / 100 + (6.0 if i % 17 == 0 else 0.0) + 0.05 * ((i * 7) % 5)
        rows.append(f"{i * 100},{g:.4f},{0.7 + 0.01 * ((i * 3) % 4):.4f},{1.0 / i + 0.9:.4f}")
    p = tmp_path / "metrics.csv"
    p.write_text("step,train_loss_G,train_loss_D,val_loss\n" + "\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence.get("type") == "spikes"]


def test_a_history_json_opening_with_its_settings_is_read(tmp_path: Path) -> None:
    """``{"config": {"batch_size": 128, …}, "epochs": [...], "train_loss": [...], "val_wer": [...], "test_wer":
    0.14}`` (batch 16): the settings object and the single test values are notes, the lists are the curves."""
    n = 20
    doc = {"config": {"batch_size": 128, "learning_rate": 3e-4, "epochs": n},
           "epochs": list(range(1, n + 1)), "train_loss": [2.0 * 0.9 ** e for e in range(n)],
           "val_loss": [2.1 * 0.92 ** e for e in range(n)], "val_wer": [1.0 * 0.93 ** e for e in range(n)],
           "test_wer": 0.14}
    p = tmp_path / "training_history.json"
    p.write_text(json.dumps(doc, indent=2))
    h = load(p)
    assert h.has("val", "wer") and any("config: an object of settings" in x.message for x in h.notes)
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "wer"


def test_unsplit_scores_beside_a_training_loss_are_the_evaluations(tmp_path: Path) -> None:
    """``epoch,lr,train_loss,mAP50,precision,recall`` (a hand-written YOLO summary, batch 16): the loss is named for
    the training set and nothing else for any split, so the detector's scores are the validation set's. A table
    that names a held-out column keeps its unsplit names as they are."""
    rows = [f"{e},0.001,{80 / e + 30:.3f},{min(0.9, 0.1 * e):.3f},{min(0.88, 0.1 * e):.3f},{min(0.9, 0.09 * e):.3f}"
            for e in range(1, 25)]
    p = tmp_path / "training_log.csv"
    p.write_text("epoch,lr,train_loss,mAP50,precision,recall\n" + "\n".join(rows) + "\n")
    h = load(p)
    assert h.has("val", "map50") and not h.has("train", "map50")
    from gapwatch.readers.generic_csv import eval_measures
    assert eval_measures(["epoch", "train_loss", "val_loss", "precision"]) == {}  # (a held-out column)
    assert eval_measures(["epoch", "loss", "accuracy"]) == {}  # (no loss named for the training set)
    assert eval_measures(["epoch", "train_loss", "mAP50", "lr"]) == {"mAP50": ("val", "map50")}


def test_printed_scalar_tensors_are_their_numbers(tmp_path: Path) -> None:
    """``Training loss average: tensor(9.2500, device='cuda:0', grad_fn=<DivBackward0>)`` (a loss printed without
    ``.item()``, batch 16)."""
    lines = []
    for e in range(12):
        lines += [f"Epoch number: {e}",
                  f"Training loss average: tensor({9.25 - 0.3 * e:.4f}, device='cuda:0', grad_fn=<DivBackward0>)",
                  f"Dev loss average: tensor({6451.3672 - 50 * e:.4f}, device='cuda:0')"]
    p = tmp_path / "5-shotlog.txt"
    p.write_text("\n" + "\n".join(lines) + "\n")
    h = load(p)
    assert h.has("val", "loss_average") and h.has("train", "loss_average")


def test_confusion_counts_are_no_held_out_groups() -> None:
    """Keras' ``true_positives``/``false_negatives`` and a hand-named ``val_TP_Score`` (batch 16) are counts, not
    measures or held-out groups: a count that falls with a threshold's drift is no regression of a group."""
    from gapwatch.names import role
    for n in ("val_TP_Score", "val_false_positives", "true_negatives", "val_fn"):
        assert role(n) == "signal", n
    for n in ("val_tpr", "tn_rate", "val_f1", "fn_loss"):
        assert role(n) == "metric", n


def test_named_loss_terms_beside_a_training_loss_are_training_terms() -> None:
    """A physics-informed network's Lightning CSV: ``train_loss`` beside ``dynamics_loss`` and
    ``initial_omega_loss`` and no validation (batch 16): the named losses are terms of the objective, not held-out
    sets; an off-target set's loss (``retention_loss``) stays a set, and so does any set beside a validation series."""
    from gapwatch.names import normalize_columns
    read = normalize_columns(["train_loss_epoch", "dynamics_loss_epoch", "initial_omega_loss_epoch"], "train")
    assert read["dynamics_loss_epoch"] == ("train", "dynamics_loss")
    assert read["initial_omega_loss_epoch"][0] == "train" and read["initial_omega_loss_epoch"][1].startswith("initial")
    assert normalize_columns(["train_loss", "retention_loss"], "train")["retention_loss"] == ("retention", "loss")
    assert normalize_columns(["train_loss", "val_loss", "ood_loss"], "train")["ood_loss"] == ("ood", "loss")


def test_a_chinese_ner_trainer_log_is_read(tmp_path: Path) -> None:
    """The ChineseNER trainer (copied by many repositories; batch 16): a logger named by a path,
    ``iteration:N step:k/M, NER loss:x`` (the iteration is the epoch, the step the batch within it), then
    ``evaluate:dev`` and conlleval's ``accuracy: …; precision: …; recall: …; FB1: …`` with per-tag lines."""
    pre = "2018-09-03 22:30:34,880 - /Users/me/ner/log/train.log - INFO - "
    lines = [pre + "model_type     :\tidcnn", pre + "start training"]
    f1 = [60.0, 70.5, 75.2, 78.1, 79.0, 80.2, 80.9, 81.5, 81.7, 82.0, 82.3]
    for it, f in enumerate(f1, 1):
        lines += [pre + f"iteration:{it} step:{k}/3, NER loss:{30 / (it + k):9.6f}" for k in range(3)]
        lines += [pre + "evaluate:dev",
                  pre + f"processed 109870 tokens with 3819 phrases; found: 3588 phrases; correct: {2700 + it}.",
                  pre + f"accuracy:  {96 + it / 10:.2f}%; precision:  {f - 1:.2f}%; recall:  {f + 1:.2f}%; "
                        f"FB1:  {f:.2f}",
                  pre + f"              LOC: precision:  75.85%; recall:  77.45%; FB1:  {f - 20:.2f}  1992"]
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric, r.monitor.mode) == ("val", "f1", "max")
    assert r.best is not None and r.best.epoch == 11


def test_a_step_column_that_restarts_each_epoch_is_made_global(tmp_path: Path) -> None:
    """``epoch,step,…`` with two rows per epoch at steps 299 and 599 of each epoch (batch 16): the step counts
    batches within the epoch, so the rows of later epochs follow on (no "steps go back" and no lost rows); a step
    that goes back within an epoch is left as it is."""
    from gapwatch.readers.generic_csv import _global_steps
    step = np.array([299.0, 599, 299, 599, 299, 599])
    epoch = np.array([1.0, 1, 2, 2, 3, 3])
    assert _global_steps(step, epoch).tolist() == [299, 599, 898, 1198, 1497, 1797]
    assert _global_steps(np.array([10.0, 20, 5, 30]), np.array([1.0, 1, 1, 2])).tolist() == [10, 20, 5, 30]
    rows = []
    for e in range(1, 21):
        for k, s in enumerate((299, 599)):
            t = 2 * e + k
            rows.append(f"{e},{s},{1.7 * 0.9 ** t:.4f},{1.5 * 0.93 ** t + 0.004 * max(0, t - 16) ** 2:.4f},"
                        f"{min(0.73, 0.3 + 0.03 * t):.4f}")
    p = tmp_path / "training_log_baseline.csv"
    p.write_text("epoch,step,train_loss,val_loss,val_acc\n" + "\n".join(rows) + "\n")
    h = load(p)
    assert len(h.series("val", "acc").values) == 40
    assert not [n for n in h.notes if "go back" in n.message]


def test_cost_is_the_loss_and_paired_split_prefixes_make_a_log(tmp_path: Path) -> None:
    """A Theano captioner prints ``Epoch 3 Update 100 Cost 277.85`` (``cost``: the objective's old name) beside
    ``validation loss: x``; a denoiser prints ``tr_ssl=0.31  va_full=0.14`` (measures named for no known metric,
    but for the training and a held-out set): both are training logs (batch 16)."""
    from gapwatch.names import normalize
    assert normalize("Cost") == ("train", "loss") and normalize("val_cost") == ("val", "loss")
    lines = [f"23:{e // 60:02d}:{e % 60:02d} | INFO     | Epoch {e:03d}/30  tr_ssl={0.3 / e:.4f}  "
             f"va_full={0.2 / e + 0.05:.4f}  (62s)" for e in range(1, 31)]
    p = tmp_path / "training_log.txt"
    p.write_text("23:00:00 | INFO     | ══════════════\n" + "\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.split == "val" and r.best is not None and r.best.epoch == 30


def test_epoch_headings_and_a_trend_remark_after_a_value(tmp_path: Path) -> None:
    """Python logging of an LSTM forecaster (batch 16): ``Epoch 3/100 - Training Phase`` and ``Epoch 3/100
    Complete:`` head each epoch, its measurements follow on their own lines, and ``Val Loss:   2.46 (↓+inf)``
    carries a remark in parentheses; two runs are appended. Keras's ``Epoch 00008: early stopping`` (no total) is
    still no heading."""
    pre = "2025-08-29 17:40:05,371 - src.training.train - INFO - "
    lines = []
    for _run in range(2):
        lines.append(pre + "Max epochs: 100")
        for e in range(1, 13):
            v = 2.0 / e + 0.3
            lines += [pre + f"Epoch {e}/100 - Training Phase",
                      pre + f"    Batch   0/ 19 | Loss: {4.0 / e:.6f} | Avg Loss: {2.0 / e:.6f} | Progress:   0.0%",
                      pre + f"Epoch {e}/100 - Validation Phase", pre + f"Epoch {e}/100 Complete:",
                      pre + f"  Train Loss: {2.5 / e:.6f}", pre + f"  Val Loss:   {v:.6f} (↓{0.1 / e:+.6f})"]
    p = tmp_path / "training.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert len(h.runs()) == 2
    v = h.series("val", "loss", run=h.runs()[1])
    np.testing.assert_array_equal(v.epoch, np.arange(1, 13))


def test_a_gbk_log_written_on_chinese_windows_is_read(tmp_path: Path) -> None:
    """A GBK-encoded log with no line ends (``第1轮：训练损失：0.78, 训练准确率:0.51,
    验证准确率:0.6, 耗时6.7秒第2轮：…``, batch 14): decoded as GB 18030 (its
    non-ASCII characters are CJK), one epoch per ``第N轮``. A Cyrillic Windows-1251 file is not mistaken
    for it."""
    from gapwatch.readers.base import text_encoding
    text = "".join(f"第{e}轮：训练损失：{0.8 / e:.4f}, 训练准确率:{0.5 + e / 50:.3f}, 验证准确率:{0.5 + e / 40:.3f}, "
                   f"耗时{6.7 - e / 10:.2f}秒" for e in range(1, 13))
    p = tmp_path / "train_log.txt"
    p.write_bytes(text.encode("gbk"))
    assert text_encoding(p.read_bytes()) == "gb18030"
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "acc")
    assert r.best is not None and r.best.epoch == 12
    assert text_encoding("Эпоха: 100 | loss 0.5".encode("cp1251")) == "utf-8"
    assert text_encoding("训练损失".encode()) == "utf-8"


def test_a_ragged_closing_row_after_too_few_rows_and_a_measure_named_object_are_still_errors(tmp_path: Path) -> None:
    """The closing-row and settings-object allowances keep damaged files errors: ragged rows after fewer than
    ``MIN_BODY_ROWS`` well-formed rows, and an object (not a list) under a measure's name."""
    p = tmp_path / "log.csv"
    p.write_text("epoch,val_loss\n1,0.5\n2,0.4,0.3,9\n")
    with pytest.raises(InputError, match=r"line 3: 4 cells but the header has 2 columns"):
        load(p)
    q = tmp_path / "history.json"
    q.write_text('{"config": {"lr": 0.1}, "loss": [1.0, 0.9], "val_loss": {"a": 1}}')
    with pytest.raises(InputError, match="key 'val_loss'"):
        load(q)


def test_an_accuracy_toggling_between_two_neighbouring_shares_is_sampling_noise(tmp_path: Path) -> None:
    """YOLOv8-cls on a 44-image validation set (batch 15): top-1 accuracy 42/44 in 9 of 10 epochs and 43/44 once.
    Two distinct values over ten evaluations still reveal the grid (N = 44), so the one-image drop from the blip
    is within the binomial noise: no overfitting, and never a critical one."""
    from gapwatch.stats import share_grid_size
    acc = [42 / 44] * 4 + [43 / 44] + [42 / 44] * 5
    assert share_grid_size(np.round(np.array(acc), 5)) == 44
    assert share_grid_size(np.array([0.5, 0.75, 0.5])) is None  # (three values: too few to read two as a grid)
    rows = [f"{e},{700 * e:.3f},{0.49 - 0.02 * e:.5f},{a:.5f},1,{0.39 - 0.002 * (e % 3):.5f},0.0002,0.0002,0.0002"
            for e, a in enumerate(acc, 1)]
    p = tmp_path / "results.csv"
    p.write_text("epoch,time,train/loss,metrics/accuracy_top1,metrics/accuracy_top5,val/loss,lr/pg0,lr/pg1,lr/pg2\n"
                 + "\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING and f.severity.rank >= Severity.WARNING.rank]


def test_a_held_out_accuracy_that_wanders_while_training_is_stuck_is_not_overfitting(tmp_path: Path) -> None:
    """A 7-class emotion CNN whose training accuracy stays at chance (0.09-0.14) and training loss at ln 7 (batch
    16): one lucky validation epoch followed by chance again is not overfitting — training never got better. The
    stuck underfitting finding stands; overfitting is info and says why."""
    # validation shares on a 1,292-image set: chance-level wandering, one lucky epoch (13), then a little lower
    val_acc = np.array([221, 198, 157, 205, 191, 172, 174, 172, 220, 185, 185, 181, 319, 175, 178, 157, 172, 169,
                        175, 168, 174]) / 1292
    train_acc = [0.114, 0.140, 0.125, 0.125, 0.132, 0.095, 0.124, 0.125, 0.130, 0.109, 0.111, 0.102, 0.100,
                 0.108, 0.089, 0.104, 0.111, 0.112, 0.107, 0.100, 0.106]
    loss = [2.04, 2.0, 2.01, 2.02, 2.02, 2.01, 2.0, 2.01, 1.99, 1.99, 1.99, 1.97, 1.98, 1.98, 2.01, 1.99, 1.99,
            1.98, 2.0, 1.98, 1.98]
    val_loss = [8.4, 4.7, 8.7, 8.5, 4.3, 7.2, 3.8, 5.5, 6.8, 6.8, 6.1, 7.3, 3.0, 4.8, 3.8, 7.4, 7.8, 5.5, 4.8, 6.1,
                4.1]
    rows = [f"{t:.6f},{lo:.6f},{a:.6f},{v:.6f},0.0005"
            for t, lo, a, v in zip(train_acc, loss, val_acc, val_loss, strict=True)]
    p = tmp_path / "training_history.csv"
    p.write_text("accuracy,loss,val_accuracy,val_loss,learning_rate\n" + "\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert any(f.kind == FindingKind.UNDERFITTING and f.evidence.get("mode") == "stuck" for f in r.findings)
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and all(f.severity == Severity.INFO and (f.evidence.get("train_stuck") or f.evidence["train_plateau"])
                        for f in over)  # (training never got better: info by the stuck rule or the plateau rule)


def test_the_latest_of_the_launches_appended_to_one_log_decides(tmp_path: Path) -> None:
    """A ``logging`` file that every launch of the script appends to (batch 12's grapheme-to-phoneme log holds 30):
    an early launch that stopped on a noisy rise and an aborted start after the real run. The latest launch with
    five or more evaluations decides; the earlier launch's overfitting finding stays, as info naming the deciding
    launch, and ``launches.latest_decides=False`` restores every launch's own severities."""
    def launch(n: int, rise: bool) -> list[str]:
        return [f"Epoch {e:02d} | Train Loss: {1.0 / e:.4f} | Val Loss: "
                f"{(0.5 / e + 0.3 + (0.08 * (e - 8) if rise and e > 8 else 0.0)):.4f}" for e in range(1, n + 1)]
    lines = ["Training started", *launch(20, rise=True), "Training started", *launch(30, rise=False),
             "Training started", *launch(2, rise=False)]
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    a = analyze(load(p), forecast=False)
    assert [r.name for r in a.runs] == ["train#1", "train#2", "train#3"]
    first = [f for f in a.runs[0].findings if f.kind == FindingKind.OVERFITTING]
    assert first and all(f.severity == Severity.INFO and f.evidence["deciding_launch"] == "train#2" for f in first)
    assert a.worst_severity is None or a.worst_severity.rank <= Severity.INFO.rank
    b = analyze(load(p), forecast=False, params={"launches": {"latest_decides": False}})
    assert any(f.kind == FindingKind.OVERFITTING and f.severity.rank >= Severity.WARNING.rank
               for f in b.runs[0].findings)
    with pytest.raises(UsageError, match="launches: unknown parameter"):
        analyze(load(p), forecast=False, params={"launches": {"latest": True}})


def test_an_average_or_running_loss_is_the_training_loss() -> None:
    """``Average loss for epoch 12: 0.2038`` beside ``Test accuracy after epoch 12: 88.80%`` (batch 16): "average"
    and "running" qualify the training loss; they name no held-out set."""
    from gapwatch.names import normalize
    assert normalize("Average loss") == ("train", "average_loss")
    assert normalize("running_loss") == ("train", "running_loss")
    assert normalize("val_average_precision") == ("val", "average_precision")


def test_paddleclas_logs_read_the_epoch_averages_of_train_and_eval(tmp_path: Path) -> None:
    """PaddleClas (``ppcls``) logs, batch 17: ``[2022/10/07 21:47:28] ppcls INFO: [Train][Epoch 1/400][Avg]CELoss:
    6.92, loss: 6.92`` and ``[Eval][Epoch 1][Avg]CELoss: 6.90, loss: 6.90, top1: 0.0015, top5: 0.0061``: the
    logger's name before the level is a prefix, ``[Eval][Epoch 1]`` the held-out split's epoch marker, ``[Avg]`` the
    epoch's mean (the per-iteration lines before it are overwritten by it)."""
    lines = ["[2022/10/07 21:40:32] ppcls INFO: Arch : ", "[2022/10/07 21:40:32] ppcls INFO:     class_num : 1000"]
    for e in range(1, 13):
        lo = 6.9 / e ** 0.3
        lines += [f"[2022/10/07 21:47:00] ppcls INFO: [Train][Epoch {e}/400][Iter: 40/98]lr(LinearWarmup): "
                  f"0.00008, CELoss: {lo + 0.1:.5f}, loss: {lo + 0.1:.5f}, batch_cost: 0.49s, ips: 260.1 samples/s",
                  f"[2022/10/07 21:47:28] ppcls INFO: [Train][Epoch {e}/400][Avg]CELoss: {lo:.5f}, loss: {lo:.5f}",
                  f"[2022/10/07 21:47:33] ppcls INFO: [Eval][Epoch {e}][Iter: 0/25]CELoss: 9.1, loss: 9.1, "
                  "top1: 0.00000, top5: 0.00049, batch_cost: 4.8s",
                  f"[2022/10/07 21:47:50] ppcls INFO: [Eval][Epoch {e}][Avg]CELoss: {lo + 0.05:.5f}, loss: "
                  f"{lo + 0.05:.5f}, top1: {0.02 * e:.5f}, top5: {0.05 * e:.5f}",
                  f"[2022/10/07 21:47:50] ppcls INFO: [Eval][Epoch {e}][best metric: {0.02 * e}]"]
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("val", "acc").values, [round(0.02 * e, 5) for e in range(1, 13)])
    np.testing.assert_allclose(h.series("train", "loss").values, [round(6.9 / e ** 0.3, 5) for e in range(1, 13)])


def test_histories_nested_by_split_are_read(tmp_path: Path) -> None:
    """Batch 17: a history JSON of ``{"loc_loss": {"train": [...], "validation": [...]}, "metrics": [{…}, …]}`` (each
    measure's lists under the split names; a list of nested objects is left out with a note), and a JSON Lines
    history of ``{"epoch": 0, "train": {"loss": 5.26}, "val": {"loss": 4.94, "top1": 3.3}, "sched": "cosine"}``
    (an object of numbers per split; a setting's name on every record is no measure)."""
    doc = {"loc_loss": {"train": [69.6, 47.5, 32.1, 30.0], "validation": [32.0, 87.6, 72.4, 70.0]},
           "class_loss": {"train": [10.7, 6.2, 3.7, 3.0], "validation": [6.5, 27.4, 33.3, 30.0]},
           "metrics": [{"AR": {"f1": [[0.0, 0.1]]}}] * 4}
    p = tmp_path / "train_history.json"
    p.write_text(json.dumps(doc, indent=4))
    h = load(p)
    np.testing.assert_allclose(h.series("val", "loc_loss").values, [32.0, 87.6, 72.4, 70.0])
    assert any("metrics: lists of nested objects" in n.message for n in h.notes)
    q = tmp_path / "log.jsonl"
    q.write_text("".join(json.dumps({"epoch": e, "train": {"loss": 5.3 - 0.1 * e}, "val": {"loss": 4.9 - 0.1 * e,
                                     "top1": 3.3 + e}, "aug": {"mixup": 0.2}, "sched": "cosine"}) + "\n"
                         for e in range(10)))
    h = load(q)
    assert h.has("val", "acc") and h.has("train", "loss") and len(h.series("val", "loss")) == 10


def test_mixed_name_value_items_and_spelled_out_map(tmp_path: Path) -> None:
    """``Train Loss: 3288.4 Validate Loss 3408.8`` (one item with a colon, one without; ``Validate`` names the
    validation set) and ``Mean Average Precision = 21.55%`` (mAP spelled out: a held-out measure), batch 17."""
    from gapwatch.names import normalize
    from gapwatch.readers.text import pairs
    assert pairs("Train Loss: 3288.4 Validate Loss 3408.8") == {"Train Loss": 3288.4, "Validate Loss": 3408.8}
    assert pairs("We trained 3 models 5 times") == {}
    assert normalize("Validate Loss") == ("val", "loss")
    assert normalize("Mean Average Precision") == ("val", "map")
    p = tmp_path / "output.log"
    p.write_text("Time to play:\n" + "".join(f"Epoch: {10 * e}  Train Loss: {9e4 / e:.3f}  Validate Loss "
                                              f"{7e4 / e + 100:.3f}\n" for e in range(1, 15)))
    assert load(p).has("val", "loss")


def test_practical_size_floors_of_overfitting_and_a_last_nan_evaluation(tmp_path: Path) -> None:
    """Batch 17: an AUC that converged before its first evaluation and drifts 0.976 → 0.971 (60% of a 0.008
    improvement undone, under one point) and a positive loss that ends 0.4% above its best are not overfitting
    (``min_share_drop``, ``min_relative_rise``); a final validation row of NaN after the epoch's last finite training
    losses is an evaluation that failed (a data warning), not a run that broke down (never critical)."""
    rows = [f"{e},{0.037 * 0.99 ** e:.5f},{0.0205 + 0.0003 * ((e * 7) % 5):.5f},"
            f"{min(0.9757, 0.9683 + 0.0015 * e) - (0.005 if e > 20 else 0) + 0.0004 * ((e * 3) % 4):.4f}"
            for e in range(1, 62)]
    p = tmp_path / "training_history.csv"
    p.write_text("epoch,train_loss,val_loss,val_auc\n" + "\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "auc"
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING and f.severity.rank >= Severity.WARNING.rank]
    q = tmp_path / "metrics.csv"
    body = [f"{e},{50 * (e + 1)},{1e3 / (e + 1) + 4:.4f}," for e in range(30)]
    body += [f"{e},{50 * (e + 1) + 25},,{1e3 / (e + 1) + 6:.4f}" for e in range(29)] + ["29,1525,,nan"]
    q.write_text("epoch,step,train_loss,val_loss\n" + "\n".join(body) + "\n")
    (r,) = analyze(load(q), forecast=False).runs
    assert not [f for f in r.findings if f.severity == Severity.CRITICAL]
    assert any(f.evidence.get("type") == "non_finite_heldout" for f in r.findings)


def test_rare_spikes_in_a_long_run_and_an_auc_learned_before_its_first_evaluation(tmp_path: Path) -> None:
    """Batch 12/17: five blips of a classification loss in a 600-epoch YOLOv5 run are rarer than one in a hundred
    evaluations (``warn_spike_rate``): info, not a warning; a clinical model's validation AUROC at 0.899 on its first
    evaluation and 0.903 at its best is not "not learning" (``auc_learned``): it ranks far above chance."""
    rows = []
    for e in range(600):
        cls = 0.02 + 0.03 * 0.99 ** e + 0.0004 * ((e * 7) % 5) + (0.02 if e in (150, 260, 330, 420, 555) else 0.0)
        rows.append(f"{e},{0.05 + 0.1 * 0.99 ** e:.5f},{cls:.5f},{min(0.9, 0.3 + e / 200):.4f},"
                    f"{0.04 + 0.08 * 0.99 ** e:.5f}")
    p = tmp_path / "results.csv"
    p.write_text("epoch,train/box_loss,train/cls_loss,metrics/mAP_0.5,val/box_loss\n" + "\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    spikes = [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence.get("type") == "spikes"]
    assert spikes and all(f.severity == Severity.INFO for f in spikes)
    assert spikes[0].evidence["count"] >= 3
    (r,) = analyze(load(p), forecast=False, params={"instability": {"warn_spike_rate": 0}}).runs
    assert any(f.severity == Severity.WARNING and f.evidence.get("type") == "spikes" for f in r.findings)
    d = tmp_path / "lightning_logs" / "version_0"
    d.mkdir(parents=True)
    auc = [0.8990, 0.9001, 0.8995, 0.9012, 0.9020, 0.9026, 0.9018]
    (d / "metrics.csv").write_text("epoch,step,val_loss,val_auroc_mean\n" + "".join(
        f"{e},{10 * e},{0.5497 + 0.001 * ((e * 3) % 4):.4f},{a}\n" for e, a in enumerate(auc)))
    (r,) = analyze(load(d / "metrics.csv"), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]


def test_a_short_run_that_ends_clearly_above_its_best_is_overfitting(tmp_path: Path) -> None:
    """A 7-epoch regression run from a C framework (batch 17): the held-out MSE is best at the second epoch and every
    later one is worse, though not each worse than the one before (0.649 → 0.684, 0.733, 0.742, 0.747, 0.714), while
    the training loss halves: overfitting by the short-run rule. A 10-evaluation run that slips at its last two
    evaluations only (two points after the best, fewer than a quarter of the run) is not."""
    val = [0.718, 0.649, 0.684, 0.733, 0.742, 0.747, 0.714]
    p = tmp_path / "training_history.csv"
    p.write_text("epoch,train_loss,val_mse\n" + "".join(f"{e},{0.80 * 0.87 ** e:.6f},{v}\n"
                                                        for e, v in enumerate(val)))
    (r,) = analyze(load(p), forecast=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert f.severity == Severity.WARNING and f.evidence["short_run"] and f.evidence["best_epoch"] == 1
    f1 = [0.19, 0.17, 0.20, 0.21, 0.22, 0.23, 0.235, 0.2461, 0.240, 0.2347]
    q = tmp_path / "log.csv"
    q.write_text("epoch,train_loss,val_f1\n" + "".join(f"{e},{1.5 - 0.03 * e:.4f},{v}\n" for e, v in enumerate(f1)))
    (r,) = analyze(load(q), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING and f.severity.rank >= Severity.WARNING.rank]


def test_watch_judges_appended_launches_as_analyze_does(tmp_path: Path) -> None:
    """``gapwatch watch --once`` on a finished log of appended launches reports what ``analyze`` reports: the
    earlier launch's overfitting at info, naming the deciding launch (the watcher used to warn on it); with
    ``launches.latest_decides=False`` it warns (critical here), and a bad ``launches`` parameter is a usage error."""
    from gapwatch.watch import Watcher, WatchOptions

    def launch(n: int, rise: bool) -> list[str]:
        return [f"Epoch {e:02d} | Train Loss: {1.0 / e:.4f} | Val Loss: "
                f"{(0.5 / e + 0.3 + (0.08 * (e - 8) if rise and e > 8 else 0.0)):.4f}" for e in range(1, n + 1)]
    p = tmp_path / "train.log"
    p.write_text("\n".join(["Training started", *launch(20, rise=True), "Training started",
                            *launch(30, rise=False)]) + "\n")

    def findings(**kw: Any) -> list[dict[str, Any]]:
        evs: list[dict[str, Any]] = []
        Watcher(p, WatchOptions(**kw), emit=evs.append).run(once=True)
        return [e["finding"] for e in evs if e["event"] == "finding" and e["run"] == "train#1"]
    first = [f for f in findings() if f["kind"] == "overfitting"]
    assert first and all(f["severity"] == "info" and f["evidence"]["deciding_launch"] == "train#2" for f in first)
    lib = analyze(load(p), forecast=False)
    assert {f.severity.value for f in lib.runs[0].findings if f.kind == FindingKind.OVERFITTING} == {"info"}
    every = findings(detector_params={"launches": {"latest_decides": False}})
    assert any(f["kind"] == "overfitting" and f["severity"] in ("warning", "critical") for f in every)
    with pytest.raises(UsageError, match="launches"):
        Watcher(p, WatchOptions(detector_params={"launches": {"latest": 1}}))


def test_an_earlier_launch_that_overfit_says_so_in_its_headline_and_the_sweep_table(tmp_path: Path) -> None:
    """The headline and the sweep table of an earlier launch that overfit say it is an earlier launch and which
    launch decides (they said "Overfitting since …" and "overfits" as for the deciding run)."""
    from rich.console import Console

    from gapwatch.report.terminal import sweep_table

    def launch(n: int, rise: bool) -> list[str]:
        return [f"Epoch {e:02d} | Train Loss: {1.0 / e:.4f} | Val Loss: "
                f"{(0.5 / e + 0.3 + (0.08 * (e - 8) if rise and e > 8 else 0.0)):.4f}" for e in range(1, n + 1)]
    p = tmp_path / "train.log"
    p.write_text("\n".join(["Training started", *launch(20, rise=True), "Training started",
                            *launch(30, rise=False)]) + "\n")
    a = analyze(load(p), forecast=False)
    first = a.runs[0].summary
    assert first is not None and "earlier launch appended to this log" in first.headline and "train#2" in first.headline
    assert first.level == "info"
    console = Console(width=200, record=True)
    console.print(sweep_table(a))
    assert "overfits (earlier launch)" in console.export_text()


def test_a_gbk_plus_minus_between_a_mean_and_its_spread_is_read(tmp_path: Path) -> None:
    """A Python-logging file written on Chinese Windows whose only non-ASCII character is the ``±`` of
    ``val_dice=0.666235 ± 0.278383`` (GBK bytes ``a1 c0``, batch 14): decoded as GB 18030 so every epoch's
    validation Dice is read (as UTF-8 with replacement characters, 2 of 20 were, from the "Saved new best" lines);
    a Latin-1 ``±`` (one byte ``b1``) stays UTF-8."""
    from gapwatch.readers.base import text_encoding
    dice = [0.666, 0.723, 0.693, 0.669, 0.605, 0.622, 0.663, 0.669, 0.693, 0.663, 0.568, 0.61, 0.64, 0.62, 0.531,
            0.6, 0.63, 0.61, 0.64, 0.625]
    lines = ["2026-01-15 15:19:36,869 - INFO - Training samples: 2200; Validation samples: 394"]
    best = 0.0
    for e, d in enumerate(dice, 1):
        lines += [f"2026-01-15 15:21:43,750 - INFO - Epoch {e}/20",
                  f"2026-01-15 15:21:43,750 - INFO - Epoch {e}: train_loss={0.72 / e ** 0.35:.6f}, "
                  f"val_dice={d:.6f} ± {0.27 + e / 1000:.6f}"]
        if d > best:
            best = d
            lines.append(f"2026-01-15 15:21:43,817 - INFO - Saved new best model to ./outputs/unet\\best.pth "
                         f"(val_dice={d:.6f})")
    p = tmp_path / "train.log"
    p.write_bytes("\n".join(lines).encode("gbk") + b"\n")
    assert text_encoding(p.read_bytes()) == "gb18030"
    h = load(p)
    np.testing.assert_allclose(h.series("val", "dice").values, dice)
    assert text_encoding("val_dice=0.66 ± 0.27".encode("latin-1")) == "utf-8"


def test_a_held_out_loss_that_drifts_up_while_training_plateaus_too_is_info(tmp_path: Path) -> None:
    """A Lightning CSV (EEG model, batch 18): ``train_loss`` every 50 steps (about six per epoch, per-batch noise
    0.10-0.15), ``val_loss`` per epoch, smooth: best 0.1218 at epoch 11, 0.1235 at epoch 29 (+1.4%, z 8.8) — but the
    training loss is as flat after epoch 11 as the held-out one (per-epoch means 0.12 ± 0.005). Both plateaued:
    info, with ``train_plateau`` (compared on the step axis, which the per-step training loss and the per-epoch
    evaluations share; before, the comparison found no training values "at the best epoch" and was skipped).
    The same file with a training loss that keeps falling stays a warning."""
    rng = np.random.default_rng(3)
    val = [0.1339, 0.1288, 0.127, 0.1257, 0.1251, 0.1241, 0.1234, 0.1228, 0.1225, 0.1224, 0.1222, 0.1218, 0.1218,
           0.1218, 0.1219, 0.1218, 0.1219, 0.1219, 0.1221, 0.1221, 0.1225, 0.1223, 0.1225, 0.1222, 0.1225, 0.1225,
           0.1228, 0.1228, 0.1234, 0.1235]

    def write(falling: bool) -> Path:
        rows, step = [], 0
        for e, v in enumerate(val):
            for _ in range(6):
                step += 50
                level = 0.16 * np.exp(-step / 800) + (0.12 if not falling else 0.125 - 0.0035 * e)
                rows.append(f"{e},,{step - 1},{level + rng.normal(0, 0.012):.6f},")
            rows.append(f"{e},,{step},,{v}")
        p = tmp_path / ("falling" if falling else "flat") / "metrics.csv"
        p.parent.mkdir()
        p.write_text("epoch,lr-Adam,step,train_loss,val_loss\n" + "\n".join(rows) + "\n")
        return p
    (r,) = analyze(load(write(falling=False)), forecast=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert f.severity == Severity.INFO and f.evidence["train_plateau"] and "both plateaued" in f.message
    (r,) = analyze(load(write(falling=True)), forecast=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert f.severity == Severity.WARNING and not f.evidence["train_plateau"]


def test_a_short_run_whose_held_out_loss_rises_from_its_first_evaluation_overfits(tmp_path: Path) -> None:
    """A Lightning CSV of a streamflow forecaster (batch 12), four epochs: ``val_loss`` 0.320 at epoch 0, then
    0.329, 0.333, 0.341 while the training loss falls 0.282 -> 0.207 — worse than its first evaluation at every
    later one: a short-run overfitting warning with ``from_first`` (the short-run rule needed an improvement before
    the best). Not when the rise is under ``short_first_min_rise`` (2%), when the training loss does not fall, or
    with only two evaluations after the first."""
    def run(val: list[float], train: list[float]) -> list[Finding]:
        rows = []
        for e, (v, t) in enumerate(zip(val, train, strict=True)):
            rows += [f"{e},{50 * e + 49},{t:.4f},,{t:.4f},", f"{e},{50 * e + 49},,{v:.4f},,{v:.4f}"]
        p = tmp_path / f"m{len(list(tmp_path.iterdir()))}" / "metrics.csv"
        p.parent.mkdir()
        p.write_text("epoch,step,train_loss,val_loss,train_mse,val_mse\n" + "\n".join(rows) + "\n")
        (r,) = analyze(load(p), forecast=False).runs
        return [f for f in r.findings if f.kind == FindingKind.OVERFITTING and f.severity.rank >= Severity.WARNING.rank]
    train = [0.282, 0.229, 0.216, 0.207]
    (f,) = run([0.320, 0.329, 0.333, 0.341], train)
    assert f.evidence["short_run"] and f.evidence["from_first"] and f.severity == Severity.WARNING
    assert "best at its first evaluation" in f.message and f.evidence["lost_fraction_of_improvement"] is None
    assert not run([0.320, 0.322, 0.3215, 0.323], train)  # (under 2%)
    assert not run([0.320, 0.329, 0.333, 0.341], [0.282, 0.283, 0.284, 0.285])  # (training not improving)
    assert not run([0.320, 0.329, 0.341], train[:3])  # (two evaluations after the first)


_POSE_COLUMNS = ("epoch,train/box_loss,train/pose_loss,train/kobj_loss,train/cls_loss,train/dfl_loss,"
                 "metrics/precision(B),metrics/recall(B),metrics/mAP50(B),metrics/mAP50-95(B),metrics/precision(P),"
                 "metrics/recall(P),metrics/mAP50(P),metrics/mAP50-95(P),val/box_loss,val/pose_loss,val/kobj_loss,"
                 "val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2")


def _pose_results(tmp_path: Path, pose_learns: bool, n: int = 50) -> Path:
    rows = []
    for e in range(1, n + 1):
        box = 0.6 * (1 - np.exp(-e / 12))
        pose = 0.5 * (1 - np.exp(-e / 15)) if pose_learns else 0.0
        rows.append(",".join(f"{v:.5g}" for v in (
            e, 2.7 / e ** 0.4, 10.8 - 2.6 * e / n, 0.73 / e ** 0.3, 8.6 / e ** 0.8, 2.3 / e ** 0.25,
            0.2 + box, 0.3 + box / 2, box + 0.1, box, pose, pose, pose, pose * 0.8,
            2.3 / e ** 0.2, 10.9 - 1.6 * e / n, 0.68 / e ** 0.2, 9.2 / e ** 0.6, 2.1 / e ** 0.15, 0.01, 0.01, 0.01)))
    p = tmp_path / ("learns" if pose_learns else "dead") / "results.csv"
    p.parent.mkdir()
    p.write_text(_POSE_COLUMNS + "\n" + "\n".join(rows) + "\n")
    return p


def test_a_pose_model_whose_keypoint_head_never_left_zero_is_not_learning(tmp_path: Path) -> None:
    """YOLOv8-pose ``results.csv`` (batches 17 and 19: three runs): every pose metric ``(P)`` is exactly 0 at all
    50 epochs while the box metrics ``(B)`` learn (mAP50-95(B) 0.01 -> 0.6). The box group decides (the pose
    shares hold one value), and it learned — so nothing was said; now ``not_learning`` says the keypoint head
    never did its task. A pose head that learns gets no such finding."""
    (r,) = analyze(load(_pose_results(tmp_path, pose_learns=False)), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric.startswith("box_")
    (f,) = [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]
    assert f.severity == Severity.WARNING and f.evidence["mode"] == "head_never_above_zero"
    assert f.evidence["head"] == "pose (keypoint)" and "metrics/mAP50(P)" in f.message
    (r,) = analyze(load(_pose_results(tmp_path, pose_learns=True)), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]


def test_tensorboard_box_and_pose_groups_are_read_apart(tmp_path: Path) -> None:
    """Ultralytics writes the same ``metrics/mAP50(B)`` and ``metrics/mAP50(P)`` tags to TensorBoard as to its
    CSV: read as one series each per group (``box_map50`` and ``map50``), by the reader and by ``watch``'s
    tailer alike. Before, both read as ``val/map50``: the two interleaved and one of each epoch's pair was dropped
    as a resumed run's duplicate (a silent wrong curve)."""
    SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter
    from gapwatch.readers._tfrecord import read_scalars
    from gapwatch.watch.tail import scalar_frames

    w = SummaryWriter(str(tmp_path / "run"))
    for e in range(12):
        w.add_scalar("metrics/mAP50(B)", 0.05 * e, e)
        w.add_scalar("metrics/mAP50(P)", 0.0, e)
        w.add_scalar("val/pose_loss", 11.0 - 0.01 * e, e)
    w.close()
    h = load(tmp_path / "run")
    np.testing.assert_allclose(h.series("val", "box_map50", x="step").values, 0.05 * np.arange(12), atol=1e-6)
    np.testing.assert_array_equal(h.series("val", "map50", x="step").values, np.zeros(12))
    assert not [n for n in h.notes if "go back" in n.message]
    (ev,) = (tmp_path / "run").glob("events*")
    frames = scalar_frames(read_scalars(ev), None, "run", tmp_path / "run")
    assert set().union(*(f.keys() for f in frames)) >= {("val", "box_map50"), ("val", "map50")}


def test_a_json_lines_file_of_a_sweeps_final_results_is_refused(tmp_path: Path) -> None:
    """A sweep's results file (batch 19): 72 JSON lines, each ``{"config": {...}, "accuracy": …, "f1_score": …}``
    of one configuration, no step or epoch. Read as a curve, its rows (ordered by dataset and learning rate) were
    72 "evaluations" and a sweep over learning rates "overfitted" critically at "epoch ?". Refused with a clear
    error; the same records with an epoch are a curve."""
    lines = [json.dumps({"config": {"dataset": d, "lr": lr, "num_epochs": ne, "crossmax_k": k},
                         "accuracy": 0.85 - lr, "f1_score": 0.84 - lr})
             for d in ("cifar10", "cifar100") for lr in (0.1, 0.01, 0.5) for ne in (4, 8, 16) for k in (2, 3)]
    p = tmp_path / "hyperparams.jsonl"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"own configuration under 'config' \(36 lines, 36 configurations\).*sweep"):
        load(p)
    q = tmp_path / "log.jsonl"
    q.write_text("\n".join(json.dumps({"epoch": e, "config": {"lr": 0.1}, "val_acc": 0.5 + e / 100})
                           for e in range(1, 6)) + "\n")
    assert len(load(q).series("val", "acc")) == 5


def test_a_json_lines_log_without_an_axis_counts_epochs(tmp_path: Path) -> None:
    """One record per epoch with no ``step`` or ``epoch`` key: each key's k-th value is its epoch k (as the JSON
    list of the same records is read), with a note. Before, the values had no place on either axis and the
    verdict said "Overfitting since epoch ?" and "0% of the run"."""
    p = tmp_path / "log.jsonl"
    val = [0.5 / e + 0.3 + (0.02 * (e - 10) if e > 10 else 0.0) for e in range(1, 31)]
    p.write_text("\n".join(json.dumps({"loss": 1.0 / e, "val_loss": v}) for e, v in enumerate(val, 1)) + "\n")
    h = load(p)
    np.testing.assert_array_equal(h.series("val", "loss").epoch, np.arange(1, 31))
    assert any("epochs 1, 2, 3" in n.message for n in h.notes)
    (r,) = analyze(h, forecast=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert f.epoch == 10 and "?" not in f.message and "(0% of the run)" not in f.message
    # ``watch`` reads JSON Lines through History.from_records, the Python API's record reader: the same rule
    from gapwatch.history import History
    from gapwatch.watch.tail import LineTailer
    tailed = LineTailer(p, "log", "jsonl").poll()
    assert tailed is not None
    np.testing.assert_array_equal(tailed.series("val", "loss").epoch, np.arange(1, 31))
    records = History.from_records([{"loss": 1.0 / e, "val_loss": v} for e, v in enumerate(val, 1)])
    np.testing.assert_array_equal(records.series("val", "loss").epoch, np.arange(1, 31))
    assert any("epochs 1, 2, 3" in n.message for n in records.notes)
    placed = History.from_records([{"step": 10 * e, "val_loss": v} for e, v in enumerate(val, 1)])
    assert np.isnan(placed.series("val", "loss").epoch).all() and not placed.notes


def test_a_detectron2_stdout_log_is_judged_by_its_bbox_ap(tmp_path: Path) -> None:
    """detectron2's ``log.txt`` (batch 19): ``d2.utils.events`` lines every 20 iterations and, every 1,000, an
    evaluation whose summary it prints as ``copypaste: Task: bbox`` / ``copypaste: AP,AP50,…`` / ``copypaste:
    10.9699,…``, after progress lines ``Inference done 1842/3334. Dataloading: 0.0016 s/iter. … Eval: 0.0002
    s/iter.`` The AP decides (``val_bbox_AP``); the timings are no measures (they read as ``val/s_iter``, which
    made a flat total_loss "stuck")."""
    rng = np.random.default_rng(5)
    lines, ap = [], [10.97, 12.52, 13.1, 13.6, 13.9, 14.2, 14.5, 14.4, 14.8, 14.97, 14.6, 14.9]
    for it in range(19, 12000, 20):
        if (it + 1) % 1000 == 0:
            k = (it + 1) // 1000 - 1
            lines += [
                "[11/18 14:33:11] d2.evaluation.evaluator INFO: Inference done 1842/3334. Dataloading: 0.0016 s/iter. "
                "Inference: 0.0392 s/iter. Eval: 0.0002 s/iter. Total: 0.0411 s/iter. ETA=0:01:01",
                "[11/18 14:34:12] d2.evaluation.evaluator INFO: Total inference time: 0:02:16.411997 (0.040977 s / "
                "iter per device, on 6 devices)",
                "[11/18 14:34:44] d2.evaluation.coco_evaluation INFO: Evaluation results for bbox: ",
                "|   AP   |  AP50  |  AP75  |  APs  |  APm  |  APl   |",
                "|:------:|:------:|:------:|:-----:|:-----:|:------:|",
                f"| {ap[k]:.3f} | 22.437 | 9.255  | 1.123 | 4.881 | 13.617 |",
                "[11/18 14:34:46] d2.engine.defaults INFO: Evaluation results for nyu_val in csv format:",
                "[11/18 14:34:46] d2.evaluation.testing INFO: copypaste: Task: bbox",
                "[11/18 14:34:46] d2.evaluation.testing INFO: copypaste: AP,AP50,AP75,APs,APm,APl",
                f"[11/18 14:34:46] d2.evaluation.testing INFO: copypaste: {ap[k]:.4f},22.4369,9.2552,1.1235,4.8808,"
                "13.6171"]
        lines.append(f"[11/18 14:34:46] d2.utils.events INFO:  eta: 20:49:44  iter: {it}  total_loss: "
                     f"{0.17 + rng.normal(0, 0.01):.4f}  loss_cls: 0.07874  loss_box_reg: 0.07092  time: 0.6834  "
                     "data_time: 0.0639  lr: 0.01999  max_mem: 4213M")
    p = tmp_path / "log.txt"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("val", "bbox_ap", x="step").values, ap, atol=1e-4)
    assert not [metric for _, metric in h.keys() if "iter" in metric]  # noqa: SIM118 (History.keys() is a method)
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "bbox_ap"
    assert not [f for f in r.findings if f.severity.rank >= Severity.WARNING.rank]


def test_an_accuracy_printed_as_zero_throughout_by_a_regression_script_is_no_measure(tmp_path: Path) -> None:
    """A regression MLP whose script prints ``Train Acc: 0.00% | Val Acc: 0.00%`` every epoch (batch 17): the
    accuracy decided (exactly 0 at all 30 epochs) and ``underfitting`` called the run stuck "with training accuracy
    0" while the loss fell 0.34 -> 0.03. An accuracy of exactly 0 throughout is no classifier's: the loss decides
    and nothing is said. An accuracy that is 0 only at first still decides."""
    val = [0.266 * 0.8 ** e + 0.04 for e in range(30)]
    lines = [f"2025-08-19 11:34:{e:02d},101 - INFO - Epoch [{e + 1}/30] Train Loss: {0.335 * 0.92 ** e:.4f}, "
             f"Train Acc: 0.00% | Val Loss: {v:.4f}, Val Acc: 0.00%" for e, v in enumerate(val)]
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "loss")
    assert not [f for f in r.findings if f.severity.rank >= Severity.WARNING.rank]
    q = tmp_path / "learns.log"
    q.write_text("\n".join(line.replace("Val Acc: 0.00%", f"Val Acc: {min(90.0, 10.0 * e):.2f}%")
                           for e, line in enumerate(lines)) + "\n")
    (r,) = analyze(load(q), forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "acc")


def test_a_printed_sentence_names_the_measure_and_a_dataset_size_is_no_measure(tmp_path: Path) -> None:
    """Deep-MIML's log (the shape of the real file, numbers changed): ``#validation images = 7`` at each start and
    ``validation mAP is: 0.85`` blocks. The run used to be monitored by the image count ('val images', lower is
    better) and its mAP read as a measure named 'map_is'."""
    lines = ["#training images = 15", "#validation images = 7", ""]
    for e in range(1, 21):
        lines += [f"Display training progress at (epoch {e}, total_steps {e * 320})",
                  f"loss: {0.9 - 0.03 * e:.4f}", f"mAP: {0.2 + 0.03 * e:.4f}", "end of display", ""]
        if e % 2 == 0:
            lines += [f"Display validation results at (epoch {e}, total_steps {e * 320})",
                      f"validation mAP is: {0.33 + 0.025 * e:.4f}", f"validation loss is: {0.7 - 0.02 * e:.4f}",
                      "end of display", ""]
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric, r.monitor.mode) == ("val", "map", "max")
    assert ("val", "images") not in set(h.keys())


SEG_COLS = ["epoch", "train/box_loss", "train/seg_loss", "train/cls_loss", "train/dfl_loss", "metrics/precision(B)",
            "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "metrics/precision(M)",
            "metrics/recall(M)", "metrics/mAP50(M)", "metrics/mAP50-95(M)", "val/box_loss", "val/seg_loss",
            "val/cls_loss", "val/dfl_loss", "lr/pg0", "lr/pg1", "lr/pg2"]


def _seg_results(n: int, seg_rise: float) -> str:
    """An Ultralytics YOLOv8-seg ``results.csv`` (padded columns): every training loss falls; the mask mAP
    climbs to a plateau by a third of the run (small wobble); the box losses and metrics improve throughout;
    ``val/seg_loss`` is lowest at a third of the run and rises by ``seg_rise`` of its value by the end."""
    lines = [",".join(f"{c:>23}" for c in SEG_COLS)]
    for e in range(1, n + 1):
        up = 0.5 * (1 - 0.93 ** e) + 0.5 * e / n  # the training losses fall to the end
        k = n / 3
        seg = 2.8 + 2.7 * 0.9 ** e + (seg_rise * 2.8 * (e - k) / (n - k) if e > k else 0.0) \
            + 0.01 * ((e * 7) % 5 - 2)
        mask = 0.2 * min(1.0, e / k) + 0.004 * ((e * 3) % 5 - 2)
        row = [e, 2.1 - 1.2 * up, 4.2 - 2.6 * up, 3.3 - 2.8 * up, 1.7 - 0.8 * up, 0.6 + 0.2 * up, 0.4 + 0.1 * up,
               0.3 + 0.2 * up, 0.1 + 0.15 * up, 0.6 + 0.2 * up, 0.35 + 0.003 * ((e * 2) % 3),
               0.2 + 0.25 * min(1.0, e / k), mask, 2.3 - 0.4 * up, seg, 3.9 - 2.0 * up, 2.0 - 0.5 * up,
               4e-4, 4e-4, 4e-4]
        lines.append(",".join(f"{round(v, 5):>23}" for v in row))
    return "\n".join(lines) + "\n"


def test_a_mask_map_is_judged_with_the_mask_loss_and_its_training_side(tmp_path: Path) -> None:
    """YOLOv8-seg (the shape of a real results.csv, numbers changed): the mask mAP plateaus from a third of the
    run while ``val/seg_loss`` rises by a fifth and every training loss keeps falling. The mask metric decides, so
    its loss is the mask head's ``seg_loss`` (not the box loss, which keeps improving) and "the training loss
    kept falling" is ``train/seg_loss`` (Ultralytics logs no plain training ``loss``): overfitting by the loss,
    confirmed by a metric that stopped improving. With a flat ``val/seg_loss`` nothing is said."""
    from gapwatch.monitor import companions, decide

    p = tmp_path / "results.csv"
    p.write_text(_seg_results(150, 0.2))
    h = load(p)
    mon = decide(h, None).monitor
    assert mon.metric == "map50_95"
    loss, task = companions(h, mon)
    assert loss is not None and loss.metric == "seg_loss" and task == mon
    assert companions(h, type(mon)("val", "box_map50_95", "max"))[0] == type(mon)("val", "box_loss", "min")
    (r,) = analyze(h, forecast=False).runs
    assert [f for f in r.findings if f.kind == FindingKind.OVERFITTING and f.severity == Severity.WARNING]
    p.write_text(_seg_results(150, 0.0))
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING and f.severity.rank >= Severity.WARNING.rank]


def _keras_json_line(epoch: int, acc: float, val_acc: float, loss: float, val_loss: float) -> str:
    return json.dumps({"epoch": epoch, "loss": loss, "accuracy": acc, "val_loss": val_loss, "val_accuracy": val_acc,
                       "batch_size": 16, "model_type": "FNet", "lr": 3e-4}) + "\n"


def test_json_lines_with_comment_lines_and_appended_fits_are_read_as_launches(tmp_path: Path) -> None:
    """A Keras JSON-lines log (the shape of a real file, numbers changed): one record per epoch written by a
    callback, several fits appended with ``// 4-layer FNet``-style comments between them. The comments are
    skipped with a note (they used to make the file an error at their line), each fit is a launch (the epoch goes
    back to 0), and the latest launch decides: its validation accuracy is best at epoch 0 and falls while the
    training accuracy climbs."""
    text = "// baseline FNet\n"
    text += "".join(_keras_json_line(e, 0.5 + 0.01 * e, 0.51 + 0.004 * (e % 2), 0.69, 0.69) for e in range(3))
    text += "\n# 4-layer FNet, lr 3e-4\n"
    text += "".join(_keras_json_line(e, 0.80 + 0.02 * e, 0.878 - 0.004 * e, 0.40 - 0.03 * e, 0.30 + 0.06 * e)
                    for e in range(10))
    p = tmp_path / "training_log.json"
    p.write_text(text)
    h = load(p)
    assert sorted(h.runs()) == ["training_log#1", "training_log#2"]
    notes = " ".join(n.message for n in h.notes)
    assert "2 comment line(s)" in notes and "read as 2 runs" in notes
    a = analyze(h, forecast=False)
    last = next(r for r in a.runs if r.name == "training_log#2")
    assert [f for f in last.findings if f.kind == FindingKind.OVERFITTING and f.severity.rank >= Severity.WARNING.rank]


def test_a_two_epoch_blip_at_the_end_of_a_fast_rise_is_no_critical_overfit(tmp_path: Path) -> None:
    """Hand-written CSV (epoch, train_loss, val_loss, val_dice) of a U-Net, 25 epochs: the Dice rises fast, sits
    at 0.90-0.92 and ends after a two-epoch blip (the training loss jumps too) at 0.86. The message says 10% of
    the improvement undone; the trailing levels (whose first window averages the fast rise) said 24% and made it
    critical. Critical needs both."""
    dice = [0.348, 0.727, 0.810, 0.819, 0.841, 0.864, 0.875, 0.877, 0.886, 0.889, 0.895, 0.896, 0.902, 0.877,
            0.886, 0.889, 0.919, 0.915, 0.917, 0.903, 0.902, 0.912, 0.900, 0.777, 0.863]
    val = [0.264, 0.155, 0.113, 0.081, 0.064, 0.051, 0.045, 0.040, 0.034, 0.031, 0.030, 0.027, 0.026, 0.029,
           0.026, 0.022, 0.0187, 0.0183, 0.0179, 0.0167, 0.0158, 0.0165, 0.0168, 0.0278, 0.0236]
    train = [0.376, 0.201, 0.132, 0.093, 0.071, 0.056, 0.046, 0.037, 0.030, 0.026, 0.023, 0.020, 0.018, 0.017,
             0.018, 0.014, 0.0119, 0.0105, 0.0096, 0.0091, 0.0083, 0.0077, 0.0072, 0.0088, 0.0245]
    text = "epoch,train_loss,val_loss,val_dice\n" + "".join(
        f"{i + 1},{t},{v},{d}\n" for i, (t, v, d) in enumerate(zip(train, val, dice, strict=True)))
    r = _run_without_critical(tmp_path / "training_history.csv", text)
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert f.severity == Severity.WARNING
    assert "of the improvement undone" in f.message


def test_tab_separated_logging_and_a_printed_model_are_read(tmp_path: Path) -> None:
    """Python logging with tab-separated fields (``%(asctime)s\\t%(name)s\\t%(levelname)s\\t%(message)s``) of an
    audio classifier, the model printed before training: the logger's name and level are a prefix, not part of
    the measures' names, so ``====> Epoch: N`` marks the epochs and a restart is a new launch; the module's
    settings (``stride=2``, ``in_features=16``) are no measurements."""
    stamp = "2023-07-27 16:01:49,869\troot\tINFO\t"
    model = ["CNNLSTM(", "  (conv1): Conv1d(1, 64, kernel_size=(3,), stride=(1,))",
             "  (pool): MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
             "  (fc1): Linear(in_features=16, out_features=8, bias=True)",
             "  (dropout): Dropout(p=0.5, inplace=False)", ")"]
    lines: list[str] = []
    for launch, n in ((0, 12), (1, 6)):
        lines += [stamp + m for m in model]
        for e in range(1, n + 1):
            lines.append(f"{stamp}====> Epoch: {e}")
            lines.append(f"{stamp}loss: {0.7 / e:.6f}  accuracy: {50 + 3 * e:.6f} [   50/66045]")
            lines.append(f"{stamp}Train  Loss: {0.6 / e:.6f} accuracy: {60 + 3 * e:.6f}% ")
            lines.append(f"{stamp}Val loss: {0.35 / e + 0.02 * launch:.6f} Val accuracy: {80 + e:.6f}%")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert not [n for n in h.names() if any(w in n.lower() for w in ("stride", "features", "padding", "info"))]
    runs = analyze(h, forecast=False).runs
    assert len(runs) == 2
    assert all(r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "acc") for r in runs)
    assert not [f for r in runs for f in r.findings if f.severity.value in ("warning", "critical")]


def test_a_tqdm_description_without_a_total_and_recall_at_k(tmp_path: Path) -> None:
    """W&B ``output.log`` of Proxy-Anchor metric learning: a tqdm bar over a loader of unknown length carries the
    loss in its description (``Loss: 12.06: : 65it [00:16,  3.93it/s]``), and each evaluation prints retrieval
    recall ``R@1 : 50.388`` on its own line: the loss is the training loss, R@1 the held-out measure."""
    lines = ["", "Random Sampling"]
    for e in range(12):
        for it in (2, 59, 65):
            lines.append(f"Train Epoch: {e} [{it}/65 ({int(100 * it / 66)}%)] Loss: {12.0 - 0.5 * e + 0.01 * it:.6f}: "
                         f": {it}it [00:16,  3.93it/s]")
        lines += ["", " 89%|████████▉ | 42/47 [00:05<00:00,  8.01it/s]"]
        for k, base in ((1, 50.0), (2, 64.0), (4, 76.0)):
            lines.append(f"R@{k} : {base + 1.5 * e - 0.08 * e * e:.3f}")
    p = tmp_path / "output.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert ("train", "loss") in set(h.keys()) and ("val", "r@1") in set(h.keys())
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "r@1")


def test_ultralytics_trained_with_val_off_has_one_evaluation_not_a_hundred(tmp_path: Path) -> None:
    """Ultralytics ``results.csv`` of a run trained with ``val=False``: precision, recall, mAP and the validation
    losses are 0 at every epoch but the last, where the final validation ran. The 0s are no evaluations: a rise
    from 0 to 0.81 is no curve, and none of it may read as a failed evaluation."""
    head = ("epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
            "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2\n")
    rows = [f"{e},{2.8 * e:.5g},{1.43 - 0.007 * e:.5g},{3.9 - 0.034 * e:.5g},{1.38 - 0.0044 * e:.5g},0,0,0,0,0,0,0,"
            "0.00024,0.00024,0.00024\n" for e in range(1, 100)]
    rows.append("100,280.1,0.7041,0.4558,0.9346,0.9889,0.964,0.9839,0.8076,0.6705,0.3986,0.947,2e-05,2e-05,2e-05\n")
    p = tmp_path / "results.csv"
    p.write_text(head + "".join(rows))
    h = load(p)
    assert len(h.series("val", "map50_95").finite()) == 1
    assert any("did not run" in n.message for n in h.notes)
    (r,) = analyze(h, forecast=False).runs
    assert not [f for f in r.findings if f.kind in (FindingKind.OVERFITTING, FindingKind.UNDERFITTING)
                or "failed" in f.message]


def test_a_validation_loss_at_ln_c_drifting_a_tenth_of_a_percent_is_no_regression(tmp_path: Path) -> None:
    """YOLOv8-cls ``results.csv`` (space-padded): the training loss falls while the validation loss sits at
    ln 105 (4.657 → 4.662) and top-1 stays at chance. The run is stuck (not learning), and a smooth 0.1% drift
    of a loss is no held-out set "degrading" (the overfitting detector's 1% floor holds here too)."""
    head = ("                  epoch,             train/loss,  metrics/accuracy_top1,  metrics/accuracy_top5,"
            "               val/loss,                 lr/pg0,                 lr/pg1,                 lr/pg2\n")
    rows = []
    for e in range(1, 66):
        top1 = 0.00195 + 0.0039 * ((e * 7) % 3) / 2
        rows.append(f"{e:>23d},{3.58 - 2.7 * (1 - 0.96 ** e):>23.5g},{top1:>23.5g},{0.02 + 0.004 * (e % 4):>23.5g},"
                    f"{4.6570 + 0.005 * e / 65:>23.5g},{0.0002:>23.5g},{0.0002:>23.5g},{0.0002:>23.5g}\n")
    p = tmp_path / "results.csv"
    p.write_text(head + "".join(rows))
    (r,) = analyze(load(p), forecast=False).runs
    kinds = {f.kind for f in r.findings if f.severity.value in ("warning", "critical")}
    assert FindingKind.HELDOUT_REGRESSION not in kinds and FindingKind.OVERFITTING not in kinds
    assert FindingKind.NOT_LEARNING in kinds or FindingKind.UNDERFITTING in kinds


@pytest.mark.parametrize("split,where", [("val", "the val images"), ("test", "the 10000 test images")])
def test_pytorch_tutorials_accuracy_of_the_network_is_a_split_accuracy(tmp_path: Path, split: str,
                                                                       where: str) -> None:
    """PyTorch's CIFAR-10 tutorial prints ``Accuracy of the network on the 10000 test images: 54 %``; training
    scripts copy it per epoch (``… on the val images: 96 %`` after ``[3] loss: 0.309``): the split's accuracy."""
    lines = ["Start training..."]
    for e in range(12):
        lines += [f"Training at epoch {e + 1}/12", f"epoch: {e} lr: 0.0005", f"[{e}] loss: {0.7 / (e + 1):.5f}",
                  f"Accuracy of the network on {where}: {60 + 3 * e} %"]
    p = tmp_path / "training.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert (split, "acc") in set(h.keys())
    np.testing.assert_allclose(h.series(split, "acc").values[:3], [60, 63, 66])


def test_a_float16_trainer_whose_loss_reads_zero_beside_nan_evaluations_broke_down(tmp_path: Path) -> None:
    """Derinhelm/syntax_finetuning (batch 23 dev, numbers changed): the Hugging Face Trainer's stdout of a float16
    LoRA fine-tune. Once the weights are NaN it prints ``{'loss': 0.0, 'grad_norm': nan, …}`` and
    ``{'eval_loss': nan, …}`` — Python's ``nan``, no literal, so those dicts were dropped and the run read as
    healthy. Read, the exactly-zero training loss beside NaN evaluations is no sign that training went on: a
    critical breakdown, not an evaluation glitch."""
    lines = []
    for k in range(1, 41):
        ep = round(k * 0.05, 2)
        broken = k > 24
        loss = "0.0" if broken else f"{0.9 * 0.93 ** k + 0.02:.4f}"
        gn = "nan" if broken else f"{1.5 - 0.02 * k:.3f}"
        lines.append(f"{{'loss': {loss}, 'grad_norm': {gn}, 'learning_rate': 0.0002, 'epoch': {ep}}}")
        if k % 4 == 0:
            ev = "nan" if broken else f"{0.5 * 0.9 ** k + 0.03:.5f}"
            lines.append(f"{{'eval_loss': {ev}, 'eval_runtime': 513.4, 'eval_samples_per_second': 9.7, "
                         f"'epoch': {ep}}}")
    p = tmp_path / "out.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    h = load(p)
    assert int(np.isnan(h.series("val", "loss").values).sum()) == 4
    (r,) = analyze(h, forecast=False, examples=False).runs
    (nf,) = [f for f in r.findings if f.evidence.get("type") == "non_finite"]
    assert nf.severity.value == "critical" and nf.evidence["series"] == "eval_loss"
    # the same evaluations beside a training loss that went on with real values: the evaluation failed
    p.write_text("\n".join(ln.replace("'loss': 0.0,", "'loss': 0.0412,") for ln in lines) + "\n", encoding="utf-8")
    (r,) = analyze(load(p), forecast=False, examples=False).runs
    assert not [f for f in r.findings if f.evidence.get("type") == "non_finite"]
    assert [f for f in r.findings if f.evidence.get("type") == "non_finite_heldout"]


def test_ultralytics_classify_top_k_accuracies_are_the_validation_sets_accuracy(tmp_path: Path) -> None:
    """YOLOv8-cls ``results.csv``: ``metrics/accuracy_top1`` is the validation set's (top-1) accuracy and
    ``metrics/accuracy_top5`` its top-5 accuracy, measured on the same set as ``val/loss``. The names read
    ``accuracy_acc`` / ``accuracy_top5`` (the measure's own name taken for a held-out set's), so a rising
    ``val/loss`` beside a plateaued top-1 was "1 of 2 held-out sets degrading"; it is one set, whose loss and
    accuracy disagree."""
    from gapwatch.names import normalize

    assert normalize("metrics/accuracy_top1") == ("val", "acc")
    assert normalize("metrics/accuracy_top5") == ("val", "top5_acc")
    assert normalize("val_pgd_acc") == ("val", "pgd_acc")
    rows = [f"{e},{1.5 / e:.4f},{min(0.9, 0.5 + 0.05 * e):.4f},{min(1.0, 0.8 + 0.02 * e):.4f},"
            f"{0.6 + 0.02 * max(0, e - 5):.4f},0.001,0.001,0.001" for e in range(1, 13)]
    p = tmp_path / "results.csv"
    p.write_text("epoch,train/loss,metrics/accuracy_top1,metrics/accuracy_top5,val/loss,lr/pg0,lr/pg1,lr/pg2\n"
                 + "\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.HELDOUT_REGRESSION]
    assert "accuracy_acc" not in " ".join(f.message for f in r.findings)


def test_a_frozen_validation_loss_beside_a_perfect_accuracy_is_not_a_model_that_does_not_learn(
        tmp_path: Path) -> None:
    """YOLOv8-cls on an easy task (batch 14): top-1 0.998 at the first epoch and 1.0 from epoch 8, while
    ``val/loss`` sits at 2.844 for the last 16 of 30 epochs (Ultralytics' classify loss on a tiny set). The frozen
    loss rule said the model was not learning; a share that started saturated was learned before the first
    evaluation, so the frozen loss is not news."""
    rows = []
    for e in range(1, 31):
        top1 = 0.99833 if e < 8 else 1.0
        vloss = 2.849 - 0.0003 * e if e < 15 else 2.844
        rows.append(f"{e},{0.97 * 0.87 ** e + 0.016:.5f},{top1:.5f},1,{vloss:.4f},0.0002,0.0002,0.0002")
    p = tmp_path / "results.csv"
    p.write_text("epoch,train/loss,metrics/accuracy_top1,metrics/accuracy_top5,val/loss,lr/pg0,lr/pg1,lr/pg2\n"
                 + "\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    assert not [f for f in r.findings if f.severity.rank >= Severity.WARNING.rank]


def test_overfitting_beside_a_held_out_set_at_chance_is_downgraded(tmp_path: Path) -> None:
    """YOLOv8-cls over ~106 classes (batch 16): ``val/loss`` within 4.657–4.662 (ln 106 = 4.663) and top-1 at
    0.002–0.010 (chance) for 65 epochs while the training loss falls. Its loss's drift of a tenth of a percent
    after top-1's best read as overfitting beside the at-chance finding; a model that never left chance did not
    learn the task it could overfit: the overfitting finding is info and says so."""
    from gapwatch.detectors import NEVER_LEARNED_NOTE

    rows = []
    for e in range(1, 66):
        top1 = [0.00195, 0.00389, 0.0058, 0.0078][e % 4] if e != 24 else 0.01038
        vloss = 4.657 + 0.005 * max(0, e - 15) / 50 + 0.0004 * (e % 2)
        rows.append(f"{e},{3.58 - 2.7 * (1 - 0.96 ** e):.5f},{top1:.5f},{0.02 + 0.004 * (e % 4):.5f},{vloss:.5f},"
                    "0.0002,0.0002,0.0002")
    p = tmp_path / "results.csv"
    p.write_text("epoch,train/loss,metrics/accuracy_top1,metrics/accuracy_top5,val/loss,lr/pg0,lr/pg1,lr/pg2\n"
                 + "\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    chance = [f for f in r.findings if f.kind == FindingKind.NOT_LEARNING]
    assert chance and chance[0].evidence["mode"] == "at_chance"
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and all(f.severity == Severity.INFO and NEVER_LEARNED_NOTE in f.message and f.evidence["never_learned"]
               for f in over)


def test_a_keras_history_saved_as_a_json_string_of_its_print(tmp_path: Path) -> None:
    """``json.dump(str(history.history), f)`` (batch 26): the file is one JSON string holding the printed dict,
    ``"{'loss': [7.12, …], 'accuracy': […], 'val_loss': […], 'val_accuracy': […]}"``. It was refused as an
    unknown format; it is the history."""
    hist = {"loss": [7.12, 5.12, 3.89, 3.90, 3.52], "accuracy": [0.05, 0.12, 0.2, 0.26, 0.31],
            "val_loss": [4.1, 3.2, 2.9, 2.7, 2.75], "val_accuracy": [0.3, 0.41, 0.52, 0.6, 0.62]}
    p = tmp_path / "history.json"
    p.write_text(json.dumps(str(hist)))
    h = load(p)
    np.testing.assert_allclose(h.series("val", "acc").values, hist["val_accuracy"])
    np.testing.assert_allclose(h.series("train", "loss").values, hist["loss"])


def test_a_capital_e_glued_to_the_epoch_counter_marks_the_epoch(tmp_path: Path) -> None:
    """``[Fold 0] Head E1/6: train_loss=4055.3845 val_sumMSE=390.1324 (SBP=281.1146, DBP=109.0178)`` (a 5-fold
    regression log, batch 26): ``E1/6`` is epoch 1 of 6, as ``Ep 1/6`` is; the log was refused as an unknown
    format. A number in scientific notation before a slash (``1e3/5``) is no epoch."""
    from gapwatch.readers.text import pairs

    lines = ["=== Training fold 0 ==="]
    for e in range(1, 7):
        lines.append(f"[Fold 0] Head E{e}/6: train_loss={4000 / e:.4f} val_sumMSE={400 - 10 * e:.4f} "
                     f"(SBP={280 - 7 * e:.4f}, DBP={120 - 3 * e:.4f})")
    p = tmp_path / "train_history.txt"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    np.testing.assert_allclose(h.series("val", "summse").values, [400 - 10 * e for e in range(1, 7)])
    np.testing.assert_allclose(h.series("train", "loss").values, [round(4000 / e, 4) for e in range(1, 7)])
    assert "epoch" not in pairs("lr 1e3/5 loss 0.2")


@pytest.mark.parametrize("names", [("valid_acc", "valid_loss"), ("Test_acc", "Val_loss_min")])
def test_one_result_line_per_subject_is_not_a_training_curve(tmp_path: Path, names: tuple[str, str]) -> None:
    """An EEG toolkit's results log (batch 20 and 26): ``Training on subject 3`` then ``Subject: 3   seed 1   time:
    1.5 m   valid_acc: 0.8966   valid_loss: 0.476`` for nine subjects and a summary table — each line one
    subject's final result. Read in order they made a nine-"epoch" curve (an underfitting warning, a test loss
    "best at epoch 3"); a subject, fold, participant or patient counter without an epoch or step is a results
    table: refused as not a log."""
    accs = [0.8448, 0.7759, 0.8966, 0.8103, 0.8793, 0.7759, 0.91, 0.88, 0.86]
    lines = [""]
    for k, a in enumerate(accs, 1):
        lines += [f"Training on subject {k}",
                  f"Subject: {k}   seed 1   time: 1.5 m   {names[0]}: {a:.4f}   {names[1]}: {1.2 - a:.3f}", ""]
    lines += ["---------------------------------", "Test performance (acc %):", "---------------------------------",
              "         sub_1   sub_2   sub_3     average", "Seed 1:  81.25   59.38   87.85     76.16"]
    p = tmp_path / "log.txt"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError):
        load(p)


def test_a_fold_counter_beside_an_epoch_counter_is_still_a_curve(tmp_path: Path) -> None:
    """The per-entity rule only drops lines without an epoch or step: ``Fold 2 | Epoch 3 | val_loss: …`` is a
    k-fold training log, one run per fold."""
    lines = [f"Fold {f} | Epoch {e} | train_loss: {1 / e:.3f} | val_loss: {1.1 / e + 0.01 * f:.3f}"
             for f in (1, 2) for e in range(1, 7)]
    p = tmp_path / "log.txt"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    logged = list(h.keys())
    assert ("val", "loss") in logged


@pytest.mark.parametrize("epochs,frozen", [(5, True), (4, False)])
def test_a_validation_accuracy_frozen_for_five_epochs_is_not_learning(tmp_path: Path, epochs: int,
                                                                      frozen: bool) -> None:
    """Lightning ``metrics.csv`` of an EEG classifier on a tiny subset (batch 17): ``val_acc`` 0.2857 (2 of 7) at
    every one of 5 epochs while the training accuracy rises 0.46 → 0.65 — a constant prediction on the held-out
    set. ``frozen_min_evaluations`` is 5 (it was 10, and this run was missed); four repeats are still too few."""
    rows = ["epoch,step,train_acc,train_loss,val_acc,val_loss"]
    val_loss = [1.70, 1.86, 1.45, 1.43, 1.57]
    for e in range(epochs):
        rows.append(f"{e},{10 * (e + 1) - 1},{0.46 + 0.05 * e:.3f},{1.08 - 0.07 * e:.3f},0.2857142984867096,"
                    f"{val_loss[e]:.3f}")
    modes = _not_learning_modes(tmp_path / "metrics.csv", "\n".join(rows) + "\n")
    assert ("frozen" in modes) is frozen


def test_an_unknown_utf16_file_is_described_by_its_first_line(tmp_path: Path) -> None:
    """A PowerShell ``>`` redirect writes UTF-16 with a byte order mark (batch 25: an Italian pre-training log
    without a held-out series). Refused, the message called it "binary data (first bytes ff fe 54 00 …)"; it
    quotes its first line, as for any other text file."""
    p = tmp_path / "training.log"
    p.write_bytes("Tile di pre-training: 10984 da 2746 immagini\r\nStep per epoca: 85\r\n".encode("utf-16"))
    with pytest.raises(InputError, match=r"first line 'Tile di pre-training: 10984 da 2746 immagini' \(UTF-16\)"):
        load(p)


def test_a_log_of_fid_alone_is_an_evaluations(tmp_path: Path) -> None:
    """A DDPM's ``fid_log.txt`` (batch 27): ``Epoch: 5, iter: 7590, FID: 361.9117`` every 5 epochs, nothing else.
    The Fréchet Inception Distance is computed against a reference set by an evaluation, never on training
    batches: without a split name or a loss, the log is an evaluation's (it was refused: "no validation
    series"). ``ndcg``/``mrr``/``kid`` likewise; a log with a loss beside them keeps its training default."""
    from gapwatch.names import normalize_columns

    fid = [361.9, 254.2, 186.7, 134.5, 104.7, 93.8, 85.3, 77.3, 76.5, 75.9, 77.0, 75.0, 77.9]
    p = tmp_path / "fid_log.txt"
    p.write_text("".join(f"Epoch: {5 * k}, iter: {1518 * 5 * k}, FID: {v:.4f}\n" for k, v in enumerate(fid, 1)))
    h = load(p)
    np.testing.assert_allclose(h.series("val", "fid").values, fid)
    assert normalize_columns(["KID", "FID"]) == {"KID": ("val", "kid"), "FID": ("val", "fid")}
    assert normalize_columns(["loss", "fid"])["fid"][0] == "train"


def test_a_fold_column_tells_the_runs_of_a_cross_validation_apart(tmp_path: Path) -> None:
    """A hand-written CSV of a 5-fold cross-validation plus a final run on all the data (batch 27): ``fold,epoch,
    cls,box,total,avg_batch_iou,val_f1`` with the epochs restarting per fold and ``Final`` in the fold column of
    the last run. It was refused ("column 'fold': expected a number, got 'Final'"); with numbers only, the folds
    were one run whose restarting epochs kept only the last fold's values and ``fold`` was read as a measure.
    Each fold is a run, as a ``run`` column's values are."""
    rows = ["fold,epoch,cls,box,total,avg_batch_iou,val_f1"]
    for fold in ("1", "2", "Final"):
        for e in range(1, 9):
            rows.append(f"{fold},{e},{2.5 / e:.4f},{0.2 / e:.4f},{3 / e:.4f},{0.05 * e:.3f},"
                        f"{min(0.86, 0.12 * e):.3f}")
    p = tmp_path / "train_metrics.csv"
    p.write_text("\n".join(rows) + "\n")
    h = load(p)
    assert h.runs() == ["train_metrics#fold 1", "train_metrics#fold 2", "train_metrics#fold Final"]
    for r in h.runs():
        assert len(h.series("val", "f1", run=r)) == 8
    assert ("train", "fold") not in list(h.keys())


def test_per_example_predictions_beside_a_history_are_not_curves(tmp_path: Path) -> None:
    """A training report JSON (batch 27): ``train_losses``/``val_losses``/``train_accs``/``val_accs`` of 14
    epochs beside ``predictions`` and ``targets`` of the 10,000 test images. Those were read as 10,000-"epoch"
    validation series, and every real list was "shorter than the longest list"; one value per example is no curve:
    left out, with a note that says so."""
    from gapwatch.names import per_example, role

    doc = {"train_losses": [1.6 / e for e in range(1, 15)], "val_losses": [1.3 / e + 0.05 * e for e in range(1, 15)],
           "train_accs": [40 + 4 * e for e in range(1, 15)], "val_accs": [53 + 2 * min(e, 9) for e in range(1, 15)],
           "epoch_times": [], "total_time": 0.0,
           "predictions": [k % 10 for k in range(10000)], "targets": [(k * 7) % 10 for k in range(10000)]}
    p = tmp_path / "metrics_data.json"
    p.write_text(json.dumps(doc))
    h = load(p)
    assert len(h.series("val", "acc")) == 14 and len(h.series("val", "loss")) == 14
    logged = list(h.keys())
    assert not [k for k in logged if k[1] in ("predictions", "targets")]
    notes = " ".join(n.message for n in h.notes)
    assert "predictions, targets: one value per example" in notes and "fewer values" not in notes
    assert per_example("val_predictions") and per_example("y_true") and not per_example("pred_loss")
    assert role("test_labels") == "bookkeeping" and role("labels_acc") == "metric"


def test_a_recommenders_ranking_cut_offs_after_the_training_loss_are_held_out(tmp_path: Path) -> None:
    """A SASRec log (batch 27): ``Training arguments: Namespace(…, embed_dim=64, …, eval_k=10)``, then per epoch
    ``Epoch 3/30 - Train Loss: 8.43, Recall@5: 0.0185, NDCG@5: 0.0114, Recall@10: 0.0316, NDCG@10: 0.0156`` and,
    after early stopping, one ``Test Recall@5: …, NDCG@10: …`` line. The argparse dump's settings were read as
    measurements (the run was "decided" by ``val k`` = 10), the cut-offs took the training split from ``Train
    Loss`` and the test line kept them there: they are the held-out interactions' ranking (``val``), and the
    Namespace is settings."""
    lines = ["2026-04-24 14:09:09,007 - INFO - Training arguments: Namespace(dataset='beauty', embed_dim=64, "
             "num_heads=2, dropout=0.2, lr=0.001, eval_k=10)"]
    ndcg = [0.0087, 0.0156, 0.021, 0.026, 0.03, 0.033, 0.035, 0.036, 0.0355, 0.035, 0.034, 0.0335]
    for e, v in enumerate(ndcg, 1):
        lines.append(f"2026-04-24 14:09:{10 + e:02d},596 - INFO - Epoch {e}/30 - Train Loss: {8.9 - 0.25 * e:.4f}, "
                     f"Recall@5: {1.6 * v:.4f}, NDCG@5: {0.7 * v:.4f}, Recall@10: {2 * v:.4f}, NDCG@10: {v:.4f}")
    lines.append("2026-04-24 14:10:30,001 - INFO - Test Recall@5: 0.0657, NDCG@5: 0.0403, Recall@10: 0.0966, "
                 "NDCG@10: 0.0503")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    keys = set(h.keys())
    np.testing.assert_allclose(h.series("val", "ndcg@10").values, ndcg)
    assert ("train", "loss") in keys and not {("val", "k"), ("train", "embed_dim"), ("train", "ndcg@10")} & keys


@pytest.mark.parametrize("vals,reported", [
    # a next-token accuracy over a large vocabulary (batch 21): doubling over 18 epochs, its best at the end
    ([0.0188, 0.0221, 0.0254, 0.0264, 0.0297, 0.0251, 0.0274, 0.034, 0.0297, 0.0347, 0.035, 0.031, 0.0317, 0.032,
      0.032, 0.0343, 0.0307, 0.0386], False),
    # a segmenter's mask mAP leaving 0 over its last four epochs of ten (batch 14)
    ([0.0, 0.0, 0.0004, 0.0, 0.0, 0.0, 0.0004, 0.0042, 0.013, 0.035], False),
    # a detector at mAP ~0 all along, a blip in the middle: still never above zero
    ([0.0, 0.0002, 0.0, 0.0011, 0.0003, 0.0, 0.0001, 0.0, 0.0002, 0.0001, 0.0, 0.0], True),
])
def test_a_share_rising_at_the_end_has_started_learning(tmp_path: Path, vals: list[float], reported: bool) -> None:
    """``never_above_zero`` says a model never did the task when its deciding share stays under 0.05; a share
    clearly rising at the end (last value its best, a significant Mann-Kendall trend) has started learning,
    however low it still is — no warning."""
    rows = ["epoch,loss,val_loss,val_accuracy"]
    for e, v in enumerate(vals, 1):
        rows.append(f"{e},{1.3 - 0.04 * e:.3f},{0.9 - 0.01 * min(e, 4):.3f},{v}")
    modes = _not_learning_modes(tmp_path / "training_log.csv", "\n".join(rows) + "\n")
    assert ("never_above_zero" in modes) is reported


def test_chainer_logreport_names_the_main_link_not_a_held_out_set(tmp_path: Path) -> None:
    """Chainer's ``LogReport`` (``result/log``, batch 28: 55 of them): a JSON list of records with ``main/loss``,
    ``main/accuracy``, ``validation/main/loss``, ``validation/main/accuracy``, ``epoch``, ``iteration``,
    ``elapsed_time``. ``main`` is the link the optimizer trains, not a qualifier: ``validation/main/accuracy`` read
    as ``main_acc`` made a held-out set of its own beside the loss, and a rising validation loss beside it was "1
    of 2 held-out sets degrading". It is the validation accuracy."""
    from gapwatch.names import normalize

    recs = [{"main/loss": 0.19 / e, "validation/main/loss": 0.066 + 0.002 * abs(e - 3), "iteration": 600 * e,
             "elapsed_time": 15.6 * e, "epoch": e, "main/accuracy": 0.94 + 0.006 * e,
             "validation/main/accuracy": 0.975 + 0.001 * min(e, 7)} for e in range(1, 9)]
    p = tmp_path / "log"
    p.write_text(json.dumps(recs, indent=4))
    h = load(p)
    assert set(h.keys()) == {("train", "loss"), ("val", "loss"), ("train", "acc"), ("val", "acc")}
    assert normalize("validation/main/accuracy") == ("val", "acc") and normalize("main_loss")[1] == "main_loss"
    (r,) = analyze(h, forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.HELDOUT_REGRESSION]


@pytest.mark.parametrize("rising,reported", [(False, True), (True, False)])
def test_a_loss_at_exactly_ln_c_is_chance_whatever_the_accuracy(tmp_path: Path, rising: bool,
                                                                 reported: bool) -> None:
    """A Chainer 5-class classifier (batch 28): ``validation/main/loss`` 1.6094 → 1.607 = ln 5 for 100 epochs
    while the validation accuracy wanders 0.26–0.40 (the majority class's share on a small set). A loss within
    0.5% of ln C over 10+ evaluations is a uniform output whatever its argmax scores — at chance; unless the
    accuracy clearly rises (an Ultralytics classifier whose top-1 climbs 0.005 → 0.06 while its loss has not yet
    left ln C)."""
    recs = []
    for e in range(1, 41):
        acc = 0.05 + 0.02 * e if rising else [0.26, 0.33, 0.40, 0.29, 0.35, 0.31, 0.38, 0.27][e % 8]
        recs.append({"epoch": e, "iteration": 50 * e, "main/loss": 1.6094 - 0.00005 * e,
                     "main/accuracy": 0.30 + 0.001 * (e % 3), "validation/main/loss": 1.6094 - 0.00006 * e,
                     "validation/main/accuracy": min(acc, 0.9), "elapsed_time": 3.0 * e})
    modes = _not_learning_modes(tmp_path / "log", json.dumps(recs, indent=4))
    assert ("at_chance" in modes) is reported
