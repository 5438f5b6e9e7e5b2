"""The one monitor decision (gapwatch.monitor.decide): intent sources in order, the reason recorded, and every
consumer (detectors, forecast, guard, analysis) agreeing on it."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from gapwatch import History
from gapwatch.detectors._common import monitor_or_none
from gapwatch.errors import InputError, UsageError
from gapwatch.guard import Guard
from gapwatch.monitor import Monitor, MonitorDecision, NoMonitorError, choose_monitor, decide, parse_monitor, role_of
from gapwatch.names import normalize


def run(names: list[str], n: int = 6, meta: dict[str, Any] | None = None, **values: list[float]) -> History:
    """A run logging ``names`` (falling curves) and ``values`` (given curves) at epochs 1..n, steps 100 e."""
    rows = []
    for e in range(1, n + 1):
        rec: dict[str, Any] = {"epoch": e, "step": 100 * e}
        rec.update({k: 1.0 / e for k in names})
        rec.update({k: v[e - 1] for k, v in values.items()})
        rows.append(rec)
    h = History.from_records(rows, run="r")
    return h.with_meta("r", **meta) if meta else h


V = Monitor  # shorter table rows


@pytest.mark.parametrize("names,expected,source,reason", [
    (["train_loss", "val_loss", "val_acc"], V("val", "acc", "max"), "task_metric", "task metric acc beside"),
    (["loss", "eval_loss", "eval_wer"], V("val", "wer", "min"), "task_metric", "task metric wer beside loss"),
    (["eval_loss", "eval_overall_precision", "eval_overall_f1", "eval_overall_accuracy", "eval_LOC_f1"],
     V("val", "overall_f1", "max"), "task_metric", "overall_f1"),
    (["eval_loss", "eval_bleu"], V("val", "bleu", "max"), "task_metric", "bleu"),
    (["eval_loss", "eval_rouge1", "eval_rougeL"], V("val", "rouge1", "max"), "task_metric", "rouge1"),
    (["train_loss", "val_loss"], V("val", "loss", "min"), "loss", "validation loss (no task metric)"),
    (["train_loss", "val_acc"], V("val", "acc", "max"), "task_metric", "task metric acc"),
    (["train_loss", "test_loss", "test_acc"], V("test", "acc", "max"), "task_metric", "test split"),
    (["val_loss/dataloader_idx_0", "val_acc/dataloader_idx_0", "val_loss/dataloader_idx_1",
      "val_acc/dataloader_idx_1"], V("val", "acc_dataloader_idx_0", "max"), "task_metric", "beside"),
    (["eval_squad_loss", "eval_squad_accuracy"], V("squad", "acc", "max"), "task_metric", "squad"),
    (["val_loss", "val_acc", "val_pgd_acc", "val_top5_acc"], V("val", "acc", "max"), "task_metric", "acc"),
])
def test_decide_by_name(names: list[str], expected: Monitor, source: str, reason: str) -> None:
    d = decide(run(names))
    assert d.monitor == expected
    assert d.source == source and reason in d.reason
    assert choose_monitor(run(names)) == expected


def test_the_loss_is_evidence_when_the_task_metric_decides() -> None:
    d = decide(run(["train_loss", "val_loss", "val_acc", "retention_acc", "retention_loss"]))
    assert d.monitor == V("val", "acc", "max")
    # the deciding set's loss first, then the same measure on the other held-out sets
    assert d.evidence == (V("val", "loss", "min"), V("retention", "acc", "max"))
    doc = d.to_dict()
    assert doc == {"split": "val", "metric": "acc", "mode": "max", "reason": "task metric acc beside loss",
                   "source": "task_metric",
                   "evidence": [{"split": "val", "metric": "loss", "mode": "min"},
                                {"split": "retention", "metric": "acc", "mode": "max"}]}
    json.dumps(doc)


def test_requested_wins_and_must_be_logged() -> None:
    h = run(["val_loss", "val_acc"])
    d = decide(h, V("val", "loss", "min"))
    assert (d.monitor, d.source) == (V("val", "loss", "min"), "requested")
    assert d.evidence == (V("val", "acc", "max"),)
    with pytest.raises(InputError, match=r"val/f1 was not logged.*val_loss, val_acc"):
        decide(h, V("val", "f1", "max"))


def test_guard_header_names_the_monitor() -> None:
    h = run(["val_loss", "val_acc"], meta={"monitor": "val_loss", "monitor_mode": "min"})
    d = decide(h)
    assert (d.monitor, d.source, d.reason) == (V("val", "loss", "min"), "guard_header",
                                               "guard log header names val_loss")


WER = [0.40, 0.30, 0.25, 0.22, 0.23, 0.24]
LOSS_UP = [0.30, 0.32, 0.35, 0.39, 0.44, 0.50]


def test_hf_best_metric_is_matched_to_its_series() -> None:
    """trainer_state.json says best_metric 0.22 at checkpoint-400: that is eval_wer's value at step 400."""
    meta = {"hf": {"best_metric": 0.22, "best_model_checkpoint": "out/checkpoint-400"}}
    d = decide(run([], meta=meta, eval_loss=LOSS_UP, eval_wer=WER))
    assert (d.monitor, d.source) == (V("val", "wer", "min"), "hf_best_metric")
    assert d.reason == "HF best_metric 0.22 matches eval_wer at step 400"
    # a best_metric that is the loss's value is the Trainer's default (metric_for_best_model unset): with a task
    # metric beside the loss, the task metric decides and the reason says why
    meta = {"hf": {"best_metric": 0.30, "best_global_step": 100}}
    d = decide(run([], meta=meta, eval_loss=LOSS_UP, eval_wer=WER))
    assert (d.monitor, d.source) == (V("val", "wer", "min"), "task_metric")
    assert "HF best_metric 0.3 matches eval_loss at step 100" in d.reason and "default" in d.reason
    # ... unless the arguments name the loss: then it was chosen, and it decides
    meta = {"hf": {"best_metric": 0.30, "best_global_step": 100,
                   "training_args": {"metric_for_best_model": "loss"}}}
    d = decide(run([], meta=meta, eval_loss=LOSS_UP, eval_wer=WER))
    assert (d.monitor, d.source) == (V("val", "loss", "min"), "hf_best_metric")
    # ... and without a task metric the matched loss decides as before
    d = decide(run([], meta={"hf": {"best_metric": 0.30, "best_global_step": 100}}, eval_loss=LOSS_UP))
    assert (d.monitor, d.source) == (V("val", "loss", "min"), "hf_best_metric")


def test_hf_metric_for_best_model_and_greater_is_better() -> None:
    meta = {"hf": {"training_args": {"metric_for_best_model": "loss", "greater_is_better": False}}}
    d = decide(run([], meta=meta, eval_loss=LOSS_UP, eval_wer=WER))
    assert (d.monitor, d.source) == (V("val", "loss", "min"), "hf_metric_for_best_model")
    meta = {"hf": {"best_metric": 0.77, "training_args": {"metric_for_best_model": "eval_wer"}}}
    d = decide(run([], meta=meta, eval_loss=LOSS_UP, eval_wer=WER))  # best_metric matches nothing
    assert (d.monitor, d.source) == (V("val", "wer", "min"), "hf_metric_for_best_model")


def test_lightning_hparams_monitor() -> None:
    hp = {"lr": 0.1, "callbacks": [{"class_path": "ModelCheckpoint", "init_args": {"monitor": "val_loss",
                                                                                   "mode": "min"}}]}
    d = decide(run(["val_loss", "val_acc"], meta={"hparams": hp}))
    assert (d.monitor, d.source) == (V("val", "loss", "min"), "lightning_hparams")
    assert "monitor=val_loss" in d.reason


def test_no_heldout_series_and_test_only_for_the_guard() -> None:
    with pytest.raises(NoMonitorError, match=r"no validation series.*loss, accuracy"):
        decide(History.from_records([{"epoch": 1, "loss": 1.0, "accuracy": 0.5}]))
    h = run(["train_loss", "test_acc"])
    assert decide(h).monitor == V("test", "acc", "max")
    with pytest.raises(NoMonitorError, match="only test metrics"):
        decide(h, allow_test=False)


def _continual(requested: Monitor | None = None) -> History:
    rows = [{"step": 10 * i, "task0_acc": 0.9 - 0.01 * i, "task1_acc": 0.1 + 0.05 * i} for i in range(1, 10)]
    return History.from_records(rows, run="cl")


def test_continual_learning_per_task_accuracies_never_decide_alone() -> None:
    """The log of the issue: stability_gap judges it; no consumer monitors one task's accuracy by default."""
    h = _continual()
    with pytest.raises(NoMonitorError, match="per-task accuracies"):
        decide(h)
    assert monitor_or_none(h, None) is None
    # the user may still name one: then every consumer monitors it
    want = V("task0", "acc", "max")
    assert decide(h, want).monitor == want and monitor_or_none(h, want) == want


def test_every_consumer_agrees() -> None:
    """analysis, detectors, forecast and the live guard take the same decision on the same log."""
    from gapwatch.analysis import analyze
    from gapwatch.forecast.core import _series

    rows = [{"epoch": e, "step": 10 * e, "train_loss": 1 / e, "val_loss": 0.5 + (e - 8) ** 2 / 200,
             "val_acc": min(0.5 + e / 40, 0.95)} for e in range(1, 25)]
    h = History.from_records(rows, run="r")
    want = decide(h).monitor
    assert want == V("val", "acc", "max")
    assert monitor_or_none(h, None) == want
    assert _series(h, None)[0] == want
    assert analyze(h).runs[0].monitor == want
    g = Guard(monitor=None, verbose=False)  # (Guard's default is monitor="val_loss": an explicit choice)
    g.observe(**rows[0])
    assert g.monitored == want


def test_mode_is_validated_and_parsed() -> None:
    with pytest.raises(UsageError, match="mode must be 'min' or 'max'"):
        Monitor("val", "loss", "up")  # type: ignore[arg-type]
    assert parse_monitor("eval_wer") == V("val", "wer", "min")
    assert parse_monitor("val_acc/dataloader_idx_1") == V("val", "acc_dataloader_idx_1", "max")
    assert parse_monitor("val_loss", "max") == V("val", "loss", "max")


@pytest.mark.parametrize("split,metric,heldout_set,measure,role", [
    ("val", "loss", "val", "loss", "loss"),
    ("val", "overall_f1", "val", "overall_f1", "task"),
    ("val", "loc_f1", "val/loc", "f1", "task"),
    ("val", "loss_dataloader_idx_1", "val/dataloader_idx_1", "loss", "loss"),
    ("val", "pgd10_acc", "val", "pgd10_acc", "task"),
    ("retention", "acc", "retention", "acc", "task"),
    ("val", "loc_number", "val/loc", "number", "other"),
])
def test_roles(split: str, metric: str, heldout_set: str, measure: str, role: str) -> None:
    r = role_of(split, metric)
    assert (r.heldout_set, r.measure, r.role) == (heldout_set, measure, role)
    assert r.off_target == (split == "retention")


@pytest.mark.parametrize("logged,heldout_set,measure,role,mode", [
    # a hand-written Keras metric function: the measure, then _coef/_score/_m/_index
    ("val_dice_coef", "val", "dice_coef", "task", "max"),
    ("val_iou_score", "val", "iou_score", "task", "max"),
    ("val_f1_m", "val", "f1_m", "task", "max"),
    ("val_jaccard_index", "val", "jaccard_index", "task", "max"),
    # Keras's built-in names, Cohen's kappa, mIoU, pixAcc
    ("val_binary_accuracy", "val", "binary_acc", "task", "max"),
    ("val_top_k_categorical_accuracy", "val", "top_k_categorical_acc", "task", "max"),
    ("val_mean_io_u", "val", "mean_iou", "task", "max"),
    ("val_cohen_kappa", "val", "cohen_kappa", "task", "max"),
    ("val_mIoU", "val", "miou", "task", "max"),
    ("val_pixAcc", "val", "pix_acc", "task", "max"),
    # torchmetrics' class names as a MetricCollection logs them
    ("val_MulticlassAccuracy", "val", "multiclass_acc", "task", "max"),
    ("val_MulticlassF1Score", "val", "multiclass_f1", "task", "max"),
    ("val_BinaryAUROC", "val", "binary_auc", "task", "max"),
    ("val_R2Score", "val", "r2", "task", "max"),
    # words after the measure that refine it
    ("eval_f1_macro", "val", "f1_macro", "task", "max"),
    ("val_accuracy_macro", "val", "accuracy_macro", "task", "max"),
    ("val_iou_mean", "val", "iou_mean", "task", "max"),
    ("val_rougeL_fmeasure", "val", "rougel_fmeasure", "task", "max"),
    ("eval_rougeLsum", "val", "rouge_lsum", "task", "max"),
    ("val_loss_mean", "val", "loss_mean", "loss", "min"),
    # a cut-off or k after the measure (retrieval, top-k)
    ("val_acc@5", "val", "acc@5", "task", "max"),
    ("val_recall@10", "val", "recall@10", "task", "max"),
    ("val_ndcg@10", "val", "ndcg@10", "task", "max"),
    ("val_hit@10", "val", "hit@10", "task", "max"),
    # smaller-is-better task measures
    ("val_hd95", "val", "hd95", "task", "min"),
    ("val_mape", "val", "mape", "task", "min"),
    ("val_fid", "val", "fid", "task", "min"),
    # a set named before a measure stays a set
    ("val_squad_f1", "val/squad", "f1", "task", "max"),
    # a unit after the measure (hand-written logs: accuracy_percent, acc_pct, Acc(%)) is no measure of its own
    ("val_accuracy_percent", "val", "accuracy_percent", "task", "max"),
    ("val_acc_pct", "val", "acc_pct", "task", "max"),
    ("val_accuracy(%)", "val", "accuracy_%", "task", "max"),
    ("val_f1_percent", "val", "f1_percent", "task", "max"),
    ("val_error_pct", "val", "error_pct", "task", "min"),
])
def test_logged_names_of_measures_are_read_whole(logged: str, heldout_set: str, measure: str, role: str,
                                                 mode: str) -> None:
    """A word of a measure's name is not a held-out set: read as one, ``val_dice_coef`` was the measure ``coef``
    of a set ``dice`` and the run's validation loss decided over its Dice."""
    r = role_of(*normalize(logged))
    assert (r.heldout_set, r.measure, r.role, r.mode) == (heldout_set, measure, role, mode)


def test_decision_is_typed() -> None:
    d = decide(run(["val_loss", "val_acc"]))
    assert isinstance(d, MonitorDecision) and d.monitor.mode in ("min", "max")
    assert np.isfinite(d.monitor.sign)


def test_live_guard_restores_by_the_task_metric_and_reports_the_disagreement() -> None:
    """Issue 13 item 4 on the live path: loss rising from the first evaluation while accuracy improves. With the
    default decision the guard does not stop on the loss; its best point is the accuracy's best; the periodic
    detector pass reports the disagreement as it arises."""
    n = 30
    rows = [{"epoch": e, "step": 10 * e, "train_loss": 1 / e, "val_loss": 0.3 + 0.02 * e,
             "val_acc": 0.9 - 0.4 * float(np.exp(-e / 5))} for e in range(1, n + 1)]
    g = Guard(monitor=None, verbose=False, detect_every=5, detect_budget=None)
    ds = [g.observe(**r) for r in rows]
    assert g.monitored == V("val", "acc", "max")
    assert not any(d.stop for d in ds)
    assert ds[-1].best_index == n - 1
    kinds = {str(f.kind) for d in ds for f in d.findings}
    assert "metric_disagreement" in kinds
    by_loss = Guard(monitor="val_loss", verbose=False, detectors=[])
    assert any(by_loss.observe(**r).stop for r in rows)  # what following the loss would have done


def test_continual_learning_log_of_the_issue_one_story() -> None:
    """Per-task accuracies only (the issue's case): no monitor anywhere, and stability_gap judges the tasks."""
    from gapwatch.detectors import run_all
    from gapwatch.testing import synth

    df = synth.generate("stability_gap", 0).history.frame
    h = History(df[~((df["split"] == "val") & (df["metric"] == "acc"))])  # drop the mean over tasks
    with pytest.raises(NoMonitorError, match="per-task accuracies"):
        decide(h)
    assert monitor_or_none(h, None) is None
    assert [str(f.kind) for f in run_all(h)] == ["stability_gap"]


def test_a_name_without_a_split_is_held_out_when_the_monitor_names_it(tmp_path: Any) -> None:
    """A hand-written ``json.dump`` of per-epoch records whose only accuracy is the test set's, named without a
    split (``accuracy_percent``): refused for want of a held-out series, the refusal says to pass ``--monitor``,
    and ``--monitor accuracy_percent`` then judges that series (higher is better), with a note."""
    from gapwatch import analyze, load

    acc = [60.1, 66.5, 70.2, 72.9, 74.4, 76.0, 77.3, 78.1, 78.7, 79.0]
    rows = [{"epoch": e, "loss": round(1.5 / e ** 0.5, 4), "accuracy_percent": a, "sparsity_percent": 0.0}
            for e, a in enumerate(acc, start=1)]
    path = tmp_path / "history.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    h = load(path)
    with pytest.raises(InputError, match="--monitor NAME"):
        analyze(h, forecast=False, examples=False)
    a = analyze(h, monitor=parse_monitor("accuracy_percent"), forecast=False, examples=False)
    r = a.runs[0]
    assert r.error is None and r.monitor == V("val", "accuracy_percent", "max")
    assert r.best is not None and r.best.value == pytest.approx(79.0)
    assert not [f for f in r.findings if f.kind == "overfitting"]
    assert any("accuracy_percent: read as the val series" in f.message for f in r.findings)
    # the training loss stays the training loss; a name that carries a split is never moved
    assert r.history.has("train", "loss") and not r.history.has("train", "accuracy_percent")
    with pytest.raises(InputError, match="was not logged"):
        analyze(run(["train_acc", "train_loss"]), monitor=parse_monitor("acc"), forecast=False, examples=False)
    # a training series named as the monitor is refused with the way out
    with pytest.raises(InputError, match=r"training series.*--monitor accuracy_percent"):
        analyze(h, monitor=parse_monitor("train/accuracy_percent"), forecast=False, examples=False)
