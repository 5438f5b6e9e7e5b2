"""Regressions from the twenty-second session's work on real logs (issue 12): each test holds the shape of a public
log (numbers from a permissively licensed run of the corpus, or changed) that gapwatch misjudged."""

from __future__ import annotations

from pathlib import Path

from gapwatch import analyze, load
from gapwatch.detectors import metric_disagreement

# An Ultralytics YOLOv8-seg run (bench/wild, MIT): 50 epochs of a lane-marking segmenter. The mask mAP climbs to
# 0.574 at epoch 44 and ends at 0.549 (a noisy plateau); val/seg_loss is at its lowest at epoch 41 and drifts up
# over the last nine epochs (+9%) after swinging between 1.56 and 1.80 over the ten before.
_TRAIN_SEG = ("3.89477 2.74846 2.44294 2.14219 2.02743 1.9064 1.85769 1.83034 1.67402 1.78409 1.78638 1.7214 1.65482 "
              "1.62069 1.4764 1.54629 1.59347 1.52578 1.52885 1.45659 1.46456 1.47943 1.45342 1.39235 1.39684 "
              "1.34654 1.33312 1.29332 1.29515 1.30146 1.33498 1.26436 1.25611 1.25834 1.3245 1.27854 1.21486 "
              "1.20771 1.21686 1.23234 1.06743 1.11967 1.03195 1.03375 1.07925 1.06813 1.07896 1.01577 1.0046 "
              "1.02627")
_VAL_SEG = ("2.87951 2.61272 2.32356 2.31939 2.22077 2.18492 2.31449 2.24384 2.08661 2.31106 2.28125 2.41476 1.96899 "
            "2.0233 1.92319 1.83953 1.93067 1.73168 1.69175 1.61533 1.74691 1.74049 1.9947 1.76785 1.71775 1.58753 "
            "1.61721 1.56706 1.56355 1.61221 1.67174 1.70934 1.71015 1.66656 1.73479 1.78472 1.79941 1.74585 "
            "1.65561 1.56427 1.54861 1.57648 1.5956 1.61542 1.62185 1.61848 1.62154 1.65213 1.67665 1.68925")
_MAP = ("0.01868 0.13812 0.25099 0.3289 0.38695 0.38058 0.40245 0.38709 0.43393 0.36601 0.38624 0.3654 0.47174 "
        "0.4856 0.5081 0.5003 0.47355 0.50654 0.50622 0.52469 0.49667 0.49311 0.47256 0.48938 0.48513 0.53819 "
        "0.55034 0.5662 0.55168 0.56941 0.53707 0.52825 0.53589 0.49543 0.50554 0.50689 0.51933 0.53498 0.52863 "
        "0.55503 0.568 0.55757 0.56171 0.57385 0.57026 0.56734 0.55492 0.5485 0.54537 0.54875")


def _yolo_seg(tmp_path: Path, last: int = 50) -> Path:
    cols = [c.split()[:last] for c in (_TRAIN_SEG, _VAL_SEG, _MAP)]
    rows = ["                  epoch,         train/seg_loss,    metrics/mAP50-95(M),           val/seg_loss"]
    rows += [f"{i + 1:>23},{t:>23},{m:>23},{v:>23}" for i, (t, v, m) in enumerate(zip(*cols, strict=True))]
    p = tmp_path / "results.csv"
    p.write_text("\n".join(rows) + "\n")
    return p


def test_a_long_runs_loss_drift_after_its_minimum_is_judged_in_the_whole_curves_noise(tmp_path: Path) -> None:
    """Judged in the noise of the nine evaluations after its minimum (one smooth drift), the loss's rise read as
    42 standard errors and the plateaued mAP made it overfitting; in the whole curve's noise it is about three, no
    more than the swings just before the minimum. A 50-evaluation run is not short: no overfitting."""
    h = load(_yolo_seg(tmp_path))
    (r,) = analyze(h, forecast=False).runs
    assert not [f for f in r.findings if f.kind.value == "overfitting"]
    # judged in the stretch after the minimum (the rule for short runs, stretched to this one) it is "overfitting"
    (long,) = analyze(h, forecast=False, params={"metric_disagreement": {"post_best_max_evaluations": 60}}).runs
    (f,) = [f for f in long.findings if f.kind.value == "overfitting"]
    assert f.evidence["loss_rise_z"] > 30 and metric_disagreement.DEFAULTS["post_best_max_evaluations"] == 20


def _lightning_best_reevaluated(tmp_path: Path, gap: int = 1) -> Path:
    """A Lightning ``metrics.csv`` (the shape of an NER fine-tune of the corpus, numbers changed): three epochs of
    validation rows and training-loss rows, then ``trainer.validate(ckpt_path="best")`` after fit, which logs the
    first epoch's validation metrics once more, one step after the last."""
    p = tmp_path / "metrics.csv"
    rows = ["val_precision,val_recall,val_f1,val_avg_loss,epoch,step,avg_train_loss",
            "0.7691348075866699,0.8402117490768433,0.8031265139579773,0.24117302894592285,0,212,",
            ",,,,0,212,0.21136408925056458",
            "0.7644301652908325,0.8219883441925049,0.7921574115753174,0.2707961201667786,1,425,",
            ",,,,1,425,0.08213952928781509",
            "0.7570452094078064,0.8063721060752869,0.7809135317802429,0.2913386225700378,2,638,",
            ",,,,2,638,0.05310272052884102",
            f"0.7691348075866699,0.8402117490768433,0.8031265139579773,0.24117302894592285,3,{638 + gap},"]
    p.write_text("\n".join(rows) + "\n")
    return p


def test_a_final_reevaluation_of_the_best_checkpoint_is_not_a_point_of_the_curve(tmp_path: Path) -> None:
    """Read as a fourth evaluation, the repeat made the run end at its best (no cost, nothing past the best); it
    is the best checkpoint validated again after training, and the curve ends at epoch 2, 2.8% below its best."""
    h = load(_lightning_best_reevaluated(tmp_path))
    f1 = h.series("val", "f1")
    assert f1.values.tolist() == [0.8031265139579773, 0.7921574115753174, 0.7809135317802429]
    assert any("re-evaluation of that checkpoint" in n.message for n in h.notes)
    # an epoch's worth of steps later the same numbers are a point of the curve (a converged model can repeat)
    later = load(_lightning_best_reevaluated(tmp_path, gap=213))
    assert len(later.series("val", "f1").values) == 4
    assert not any("re-evaluation of that checkpoint" in n.message for n in later.notes)


def test_an_accuracy_logged_in_percent_is_not_memorisation_at_98_percent(tmp_path: Path) -> None:
    """A column-wise JSON history of a text classifier (the shape of a batch-38 dev log, numbers changed): the
    held-out accuracy is 98.9% from the first epoch and stays there, the training accuracy reaches 100%, and the
    held-out loss doubles after epoch 2. Read as fractions, the memorisation test's thresholds (fitted at 0.95,
    a gain of 0.5) took a training accuracy of 97.6% → 100% for a fit from chance and 98.9% for no
    generalisation: "memorising" — which also downgraded the overfitting finding to info."""
    import json

    import numpy as np

    from gapwatch.detectors import memorization

    e = np.arange(1, 16)
    train_acc = np.minimum(100.0, 97.6 + 0.8 * (e - 1))
    val_acc = np.array([98.93, 98.99, 99.02, 99.05, 99.08, 99.0, 98.96, 98.93, 98.95, 98.93, 98.9, 98.93, 98.96,
                        98.93, 98.93])
    val_loss = np.concatenate([[0.061, 0.052, 0.050], np.linspace(0.056, 0.097, 12)])
    train_loss = 0.08 * np.exp(-0.9 * (e - 1)) + 6e-6
    doc = {"epochs": e.tolist(), "train_loss": train_loss.tolist(), "val_loss": val_loss.tolist(),
           "train_acc": train_acc.tolist(), "val_acc": val_acc.tolist()}
    p = tmp_path / "training_history.json"
    p.write_text(json.dumps(doc))
    h = load(p)
    assert memorization.check(h) == []
    (r,) = analyze(h, forecast=False).runs
    assert not [f for f in r.findings if f.kind.value == "memorization"]
    # the same run logged as fractions was never memorisation either
    frac = {**doc, "train_acc": (train_acc / 100).tolist(), "val_acc": (val_acc / 100).tolist()}
    p.write_text(json.dumps(frac))
    assert memorization.check(load(p)) == []


def _settled_csv(tmp_path: Path, level: float, acc: list[float] | None = None) -> Path:
    """A hand-written per-epoch CSV (the shape of a batch-35 dev log, numbers changed): train and test losses fall
    from 1.04 / 0.90 and, from epoch 7, sit within a few thousandths of ``level`` for 33 more epochs."""
    import numpy as np

    rng = np.random.default_rng(7)
    e = np.arange(1, 41)
    train = np.where(e < 7, 1.04 - (1.04 - level) * (e - 1) / 6, level - 0.007 + 0.002 * rng.standard_normal(40))
    test = np.where(e < 7, 0.90 - (0.90 - level) * (e - 1) / 6, level - 0.004 + 0.001 * rng.standard_normal(40))
    head = "epoch,train_loss,test_loss" + (",test_acc" if acc else "")
    rows = [f"{i},{a:.4f},{b:.4f}" + (f",{acc[i - 1]:.4f}" if acc else "") for i, a, b in zip(e, train, test,
                                                                                              strict=True)]
    p = tmp_path / "losses.csv"
    p.write_text("\n".join([head, *rows]) + "\n")
    return p


def test_losses_that_settle_at_ln_2_are_a_model_at_chance(tmp_path: Path) -> None:
    """Both losses went to the cross-entropy of a 50/50 guess and stayed there: nothing said before ("at chance"
    needs an accuracy and every evaluation near ln C; the first ones are above it)."""
    import numpy as np

    from gapwatch.detectors import not_learning

    (f,) = not_learning.check(load(_settled_csv(tmp_path, float(np.log(2)))))
    assert f.evidence["mode"] == "settled_at_chance" and f.evidence["classes"] == 2
    assert "ln 2" in f.message
    # the same losses beside a held-out accuracy that keeps rising: learning while the loss has not moved yet
    rising = list(np.linspace(0.5, 0.8, 40))
    assert not_learning.check(load(_settled_csv(tmp_path, float(np.log(2)), acc=rising))) == []
    # a flat loss between ln 2 and ln 3 (0.9) is no uniform guess; one near ln 50 is too close to its neighbours
    for level in (0.9, float(np.log(50))):
        found = not_learning.check(load(_settled_csv(tmp_path, level)))
        assert not [f for f in found if f.evidence["mode"] == "settled_at_chance"]


def test_a_run_at_chance_whose_accuracy_is_logged_in_percent(tmp_path: Path) -> None:
    """A loss at ln 10 at every evaluation beside an accuracy of 9–11 *percent*: at chance, as it is when the
    accuracy is logged as a fraction (the values above 1 made the rule give up)."""
    import numpy as np

    from gapwatch.detectors import not_learning

    rng = np.random.default_rng(3)
    loss = np.log(10) + 0.004 * rng.standard_normal(12)
    for scale in (1.0, 100.0):
        acc = scale * (0.1 + 0.008 * rng.standard_normal(12))
        rows = [f"{i},{2.31 - 0.001 * i:.4f},{v:.4f},{a:.4f}" for i, (v, a) in enumerate(zip(loss, acc, strict=True))]
        p = tmp_path / "log.csv"
        p.write_text("epoch,loss,val_loss,val_acc\n" + "\n".join(rows) + "\n")
        (f,) = not_learning.check(load(p))
        assert f.evidence["mode"] == "at_chance" and f.evidence["classes"] == 10


def test_leaving_out_a_final_reevaluation_does_not_change_the_parts_read_again(tmp_path: Path) -> None:
    """``watch`` builds a History from the same parts at every poll: leaving the re-evaluation out must not cut a
    row from those parts (the next poll would lose a real evaluation) nor add its note twice."""
    from gapwatch.readers import lightning_csv
    from gapwatch.readers._parts import build

    parts = lightning_csv.read_parts(_lightning_best_reevaluated(tmp_path), "metrics")
    sizes = [b.value.shape[0] for p in parts for b in p.blocks]
    first, second = build(parts), build(parts)
    assert [b.value.shape[0] for p in parts for b in p.blocks] == sizes
    assert len(first.series("val", "f1").values) == len(second.series("val", "f1").values) == 3
    assert sum("re-evaluation" in n.message for n in second.notes) == 1
