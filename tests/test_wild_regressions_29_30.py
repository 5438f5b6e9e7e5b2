"""Instability and overfitting regressions found on the corpus of real logs (bench/wild, batches 29–30): fixtures in
the shape of the real files, numbers changed, with the verdict a reader of the raw curves gave them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gapwatch import analyze, load
from gapwatch.findings import FindingKind, Severity

#: An Ultralytics YOLOv8-pose results.csv header (space-padded, as the trainer writes it).
POSE_COLUMNS = ("epoch", "train/box_loss", "train/pose_loss", "train/kobj_loss", "train/cls_loss", "train/dfl_loss",
                "metrics/mAP50-95(B)", "metrics/mAP50-95(P)", "val/box_loss", "val/pose_loss", "val/kobj_loss",
                "val/cls_loss", "val/dfl_loss")
#: Epoch-1 value of each term, train and val; the curve decays from it with a little deterministic wobble.
_START = {"box": 1.08, "pose": 3.8, "kobj": 0.34, "cls": 0.96, "dfl": 1.22}


def _pose_results(tmp_path: Path, spikes_at: set[int], epochs: int = 100) -> Path:
    """A results.csv whose five training loss terms all jump together at each epoch of ``spikes_at`` (by about
    20% of their level) and are back the next epoch; the held-out losses move with them, the mAPs climb."""
    rows = []
    for e in range(1, epochs + 1):
        decay = 0.7 + 0.3 * 0.97 ** e
        wob = 0.004 * ((e * 7) % 3 - 1)
        bump = 1.2 if e in spikes_at else 1.0
        train = [v * (decay + wob) * bump for v in _START.values()]
        val = [v * 1.1 * (decay - wob) * (1.05 if e in spikes_at else 1.0) for v in _START.values()]
        maps = [0.45 + 0.13 * (1 - 0.95 ** e) - 0.002 * (e % 2), 0.19 + 0.15 * (1 - 0.95 ** e) - 0.002 * (e % 3)]
        rows.append([e] + train + maps + val)
    lines = [",".join(f"{c:>24}" for c in POSE_COLUMNS)]
    lines += [",".join([f"{r[0]:>24d}"] + [f"{v:>24.5g}" for v in r[1:]]) for r in rows]
    p = tmp_path / "results.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def _spikes(p: Path) -> list:
    (r,) = analyze(load(p), forecast=False).runs
    return [f for f in r.findings if f.kind == FindingKind.INSTABILITY and f.evidence.get("type") == "spikes"]


def test_loss_terms_that_spike_together_in_the_warm_up_are_one_early_event(tmp_path: Path) -> None:
    """YOLOv8-pose (batch 29, judged clean): at epoch 4, the end of the warm-up, box/pose/kobj/cls/dfl losses jump
    together and recover. Five spikes of one moment used to count as 'recurring' (three or more) and warn."""
    (f,) = _spikes(_pose_results(tmp_path, {4}))
    assert f.severity == Severity.INFO
    assert f.evidence["count"] == 5 and f.evidence["events"] == 1
    assert "1 moment at which several loss terms spike together" in f.message


def test_loss_terms_spiking_together_at_three_moments_still_recur(tmp_path: Path) -> None:
    """The same terms jumping together at epochs 30, 60 and 80: three events, a recurring instability. (Not at 90:
    a results.csv without args.yaml switches mosaic off, by Ultralytics' default, at epoch 91 of 100, and a jump
    right there is the switch's doing.)"""
    (f,) = _spikes(_pose_results(tmp_path, {30, 60, 80}))
    assert f.severity == Severity.WARNING
    assert f.evidence["events"] == 3


@pytest.mark.parametrize("tail, diverges", [(1, False), (2, False), (3, True), (8, True)])
def test_divergence_needs_the_rise_to_have_stayed_up(tmp_path: Path, tail: int, diverges: bool) -> None:
    """A training loss that falls 1.36 → 0.70 and, over its last ``tail`` evaluations, sits at 1.8 (batch 29: a
    YOLOv8-pose ``train/cls_loss`` whose one final value was called a divergence 'from epoch 54'). One or two
    high values at the end of the log cannot be told from a spike the log stops in; three can."""
    n = 54
    train = [0.70 + 0.66 * 0.85 ** e + 0.004 * ((e * 5) % 3) for e in range(n - tail)] + [1.8 + 0.01 * k
                                                                                        for k in range(tail)]
    val = [0.5 + 0.5 * 0.9 ** e + 0.003 * ((e * 7) % 3) for e in range(n)]
    p = tmp_path / "metrics.csv"
    p.write_text("epoch,train_loss,val_loss\n" + "".join(f"{e},{t:.5f},{v:.5f}\n"
                                                          for e, (t, v) in enumerate(zip(train, val, strict=True))))
    (r,) = analyze(load(p), forecast=False).runs
    found = [f for f in r.findings if f.evidence.get("type") == "divergence"]
    assert bool(found) == diverges
    if found:
        assert found[0].evidence["onset_index"] == n - tail


def _results_with_box_loss(tmp_path: Path, box: list[float]) -> Path:
    """A YOLOv8-seg-shaped results.csv (columns cut down) whose ``train/box_loss`` is ``box``; mAP falls to 0."""
    n = len(box)
    lines = ["epoch,train/box_loss,train/seg_loss,metrics/mAP50-95(M),val/box_loss"]
    for e in range(n):
        lines.append(f"{e + 1},{box[e]:.5f},{2.0 + 0.01 * ((e * 3) % 4):.5f},{max(0.07 - 0.01 * e, 0.0):.4f},"
                     f"{0.45 + 0.05 * e:.4f}")
    p = tmp_path / "results.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_a_noisy_level_shift_that_stays_up_is_divergence(tmp_path: Path) -> None:
    """YOLOv8-seg (batch 30, judged diverging): ``train/box_loss`` falls 1.84 → 0.87 by epoch 3, jumps at epoch 7
    and stays at 1.5–2.6 (noisy) to epoch 50. No single value stays 4 noise levels above the best from some point
    on, so it used to be missed (or called from epoch 49 by luck); its level — means of three — does."""
    wobble = [0.0, 0.31, -0.12, 0.18, -0.2, 0.05, 0.27, -0.15, 0.1, -0.05]
    box = [1.84, 1.44, 0.87, 0.94, 1.22, 1.0] + [1.9 + 0.6 * wobble[e % 10] for e in range(44)]
    (r,) = analyze(load(_results_with_box_loss(tmp_path, box)), forecast=False).runs
    (f,) = [f for f in r.findings if f.evidence.get("type") == "divergence"]
    assert f.evidence["series"] == "train/box_loss" and f.epoch is not None and 6 <= f.epoch <= 9


def test_a_loss_printed_as_zero_at_its_best_is_not_judged_for_divergence(tmp_path: Path) -> None:
    """PointNet++ stdout (``mean loss: 0.000000``, batch 12): a fine-tune resumed at 100% accuracy whose training
    loss reads 0.000000–0.000023 at six decimals. The last values' rise from 0.000000 is not a measured rise: it was
    called a divergence ('final 0 vs best 0; 100% of the improvement undone')."""
    vals = [0.000002, 0.0, 0.000001] + [0.0] * 60 + [0.000001, 0.000023, 0.000012, 0.000009, 0.000015, 0.00001]
    box = [0.000158] + vals
    (r,) = analyze(load(_results_with_box_loss(tmp_path, box)), forecast=False).runs
    assert not [f for f in r.findings if f.evidence.get("type") == "divergence"]


@pytest.mark.parametrize("values, quantum", [
    ([0.000158, 0.000001, 0.0], 1e-6), ([0.5, 1.25], 0.01), ([2.0, 3.0], 1.0), ([0.0], 1.0),
    ([1234.5678, 0.0001], 1e-4), ([0.123456789123], 0.0), ([1 / 3, 0.2], 0.0), ([1e-13], 0.0),
    ([float("nan"), 0.25], 0.01), ([float("nan")], 0.0)])
def test_print_quantum(values: list[float], quantum: float) -> None:
    from gapwatch.detectors.instability import print_quantum
    assert print_quantum(np.asarray(values)) == pytest.approx(quantum)


@pytest.mark.parametrize("train_falls, severity", [(False, Severity.INFO), (True, Severity.WARNING)])
def test_the_sum_of_the_loss_terms_says_whether_training_still_improved(tmp_path: Path, train_falls: bool,
                                                                       severity: Severity) -> None:
    """YOLO segmentation (batch 30, judged clean): mask mAP50-95 best 0.263 at epoch 37, 0.220 at epoch 50, while
    the training terms (no ``train/loss`` is logged) stop improving at the same time — both curves plateaued, an
    ``info`` finding. The same held-out curve beside terms that keep falling is a warning."""
    lines = ["epoch,train/box_loss,train/seg_loss,train/cls_loss,metrics/mAP50-95(M),val/seg_loss"]
    for e in range(1, 51):
        t = e if train_falls else min(e, 36)
        wob = 0.004 * ((e * 7) % 3)
        m = 0.263 * (1 - 0.93 ** e) / (1 - 0.93 ** 37) if e <= 37 else 0.263 - 0.0033 * (e - 37)
        lines.append(f"{e},{1.9 * 0.985 ** t + wob:.4f},{3.0 * 0.985 ** t + wob:.4f},{2.5 * 0.985 ** t + wob:.4f},"
                     f"{m - 0.001 * (e % 2):.4f},{1.6 + 0.004 * abs(e - 36) + wob:.4f}")
    p = tmp_path / "results.csv"
    p.write_text("\n".join(lines) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert f.severity == severity


@pytest.mark.parametrize("train_falls, info", [(True, False), (False, True)])
def test_a_spiky_training_loss_that_keeps_falling_is_not_a_plateau(tmp_path: Path, train_falls: bool,
                                                                  info: bool) -> None:
    """Chainer LogReport of a speech-emotion regressor (batch 31, judged overfitting): the validation loss is best at
    epoch 753 of 2,000 and ends 25% higher; the training loss, spiky and right-skewed, halves its typical value after
    that best (median 0.0079 → 0.0042) while means of three values sit level. The plateau test on means called it
    'both plateaued' (info); the training values' Mann–Kendall trend after the best says training kept improving. A
    training loss with the same spikes and no trend is still a plateau."""
    import json

    rng = np.random.default_rng(31)
    n = 400
    recs = []
    for e in range(1, n + 1):
        base = 0.008 * (0.5 ** ((e - 150) / 250) if (train_falls and e > 150) else 1.0) if e > 20 else 0.2 / e
        spike = 0.06 * rng.random() if e % 4 == 0 else 0.0
        val = 0.07 + 0.07 * np.exp(-e / 30) + (0.00006 * (e - 150) if e > 150 else 0.0) + 0.0005 * rng.random()
        recs.append({"main/loss": base * (1 + 0.3 * rng.random()) + spike, "validation/main/loss": val,
                     "epoch": e, "iteration": 10 * e, "elapsed_time": 1.5 * e})
    p = tmp_path / "log"
    p.write_text(json.dumps(recs, indent=4))
    (r,) = analyze(load(p), forecast=False).runs
    (f,) = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert (f.severity == Severity.INFO) == info
