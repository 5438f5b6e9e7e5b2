"""Name normalisation: the zoo of logged metric names → (split, metric)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gapwatch.names import (
    SPLIT_ALIASES,
    is_bookkeeping,
    logged_name_key,
    metric_mode,
    normalize,
    normalize_columns,
    resolve_monitor_name,
    role,
    series_table,
    task_metric_rank,
)

TABLE = [
    # Hugging Face
    ("eval_loss", ("val", "loss")),
    ("eval_accuracy", ("val", "acc")),
    ("loss", ("train", "loss")),
    ("test_acc", ("test", "acc")),
    # slash-style (TensorBoard, W&B)
    ("val/loss", ("val", "loss")),
    ("train/loss", ("train", "loss")),
    ("eval/accuracy", ("val", "acc")),
    ("validation/loss", ("val", "loss")),
    ("accuracy/validation", ("val", "acc")),
    ("val.loss", ("val", "loss")),
    ("val-loss", ("val", "loss")),
    ("Val Loss", ("val", "loss")),
    # spelled-out splits
    ("valid_loss", ("val", "loss")),
    ("val_acc", ("val", "acc")),
    ("validation_accuracy", ("val", "acc")),
    ("dev_f1", ("val", "f1")),
    ("tr_loss", ("train", "loss")),
    ("loss_val", ("val", "loss")),
    # Lightning suffixes, Keras TensorBoard prefixes
    ("train_loss_epoch", ("train", "loss")),
    ("train_loss_step", ("train", "loss")),
    ("train/acc_epoch", ("train", "acc")),
    ("epoch_loss", ("train", "loss")),  # Keras TB tag in train/; the reader gives validation/ its split
    ("batch_accuracy", ("train", "acc")),
    # Keras CSV bare names
    ("accuracy", ("train", "acc")),
    # qualifiers kept, canonical measure last
    ("val_pgd_acc", ("val", "pgd_acc")),
    ("val_top5_acc", ("val", "top5_acc")),
    ("valid_acc1", ("val", "acc")),
    ("test_error_rate", ("test", "error")),
    ("val_ppl", ("val", "perplexity")),
    # named held-out sets survive as their own split
    ("retention_acc", ("retention", "acc")),
    ("ood/loss", ("ood", "loss")),
    ("task0_acc", ("task0", "acc")),
    # add_scalars' comparison title (PyTorch's tutorial): the sub-directory names the split
    ("Validation/Training vs. Validation Loss", ("val", "loss")),
    ("Training/Training vs. Validation Loss", ("train", "loss")),
    ("Train vs Val Accuracy", ("train", "acc")),
    ("train vs val", ("train", "vs_val")),  # nothing left but the title: kept as it is
    # TRL's preference trainers: the batch's rewards and log-probabilities, never a held-out set "rewards"
    ("rewards/accuracies", ("train", "rewards_acc")),
    ("eval_rewards/accuracies", ("val", "rewards_acc")),
    ("logps/chosen", ("train", "logps_chosen")),
]


@pytest.mark.parametrize("name,expected", TABLE)
def test_normalize_table(name: str, expected: tuple[str, str]) -> None:
    assert normalize(name) == expected


def test_default_split_applies_to_bare_names_only() -> None:
    assert normalize("loss", default_split="val") == ("val", "loss")
    assert normalize("train_loss", default_split="val") == ("train", "loss")


@pytest.mark.parametrize("name", ["epoch", "step", "global_step", "learning_rate", "lr", "grad_norm",
                                  "eval_runtime", "train_samples_per_second", "eval_steps_per_second",
                                  "total_flos", "train_runtime"])
def test_bookkeeping(name: str) -> None:
    assert is_bookkeeping(name)


@pytest.mark.parametrize("name", ["loss", "val_loss", "eval_accuracy", "retention_acc"])
def test_not_bookkeeping(name: str) -> None:
    assert not is_bookkeeping(name)


@pytest.mark.parametrize("metric,mode", [("loss", "min"), ("acc", "max"), ("pgd_acc", "max"), ("f1", "max"),
                                         ("perplexity", "min"), ("error", "min"), ("auc", "max")])
def test_metric_mode(metric: str, mode: str) -> None:
    assert metric_mode(metric) == mode


_tok = st.sampled_from(["loss", "acc", "accuracy", "f1", "pgd_acc", "top5_acc", "nll"])
_split = st.sampled_from(sorted(SPLIT_ALIASES))
_sep = st.sampled_from(["_", "/", ".", "-"])


@given(_split, _sep, _tok)
def test_prefix_split_always_wins(split: str, sep: str, metric: str) -> None:
    s, _ = normalize(f"{split}{sep}{metric}")
    assert s == SPLIT_ALIASES[split]


@given(_split, _sep, _tok)
def test_separator_does_not_matter(split: str, sep: str, metric: str) -> None:
    assert normalize(f"{split}{sep}{metric}") == normalize(f"{split}_{metric}")


@given(st.text(min_size=1, max_size=30))
def test_normalize_never_raises_and_gives_nonempty(name: str) -> None:
    split, metric = normalize(name)
    assert isinstance(split, str) and split
    assert isinstance(metric, str)


# ---------------------------------------------------------------- issue 12: conventions seen in real logs

ROLE_TABLE = [
    # Hugging Face TensorBoard tags and trainer_state keys
    ("train/epoch", "bookkeeping"),
    ("train/grad_norm", "signal"),
    ("grad_norm", "signal"),
    ("train/learning_rate", "schedule"),
    ("learning_rate", "schedule"),
    ("eval/runtime", "bookkeeping"),
    ("eval/samples_per_second", "bookkeeping"),
    ("eval/steps_per_second", "bookkeeping"),
    ("train/total_flos", "bookkeeping"),
    ("train/train_runtime", "bookkeeping"),
    ("train/train_loss", "bookkeeping"),  # one average over the whole run, not a point of the curve
    ("eval_gen_len", "signal"),
    ("eval/gen_len", "signal"),
    ("num_input_tokens_seen", "bookkeeping"),
    # Lightning (LearningRateMonitor, the hp_metric placeholder)
    ("lr-SGD", "schedule"),
    ("lr-AdamW/pg1", "schedule"),
    ("hp_metric", "bookkeeping"),
    ("epoch", "bookkeeping"),
    ("step", "bookkeeping"),
    # Ultralytics
    ("lr/pg0", "schedule"),
    ("x/lr0", "schedule"),
    ("metrics/mAP50(B)", "metric"),
    # fastai
    ("time", "bookkeeping"),
    ("epoch_time", "bookkeeping"),
    ("Time Taken", "bookkeeping"),
    ("time_per_epoch", "bookkeeping"),
    ("learningRate", "schedule"),
    # metrics stay metrics
    ("train/loss", "metric"),
    ("train_loss_epoch", "metric"),
    ("epoch_loss", "metric"),
    ("eval_loss", "metric"),
    ("eval_rougeL", "metric"),
    ("accuracy", "metric"),
    ("val_pgd_acc", "metric"),
]


@pytest.mark.parametrize("name,expected", ROLE_TABLE)
def test_role(name: str, expected: str) -> None:
    assert role(name) == expected
    assert is_bookkeeping(name) == (expected != "metric")


WILD_TABLE = [
    # Ultralytics results.csv: validation measures under metrics/, task mark (B) dropped
    ("metrics/mAP50(B)", ("val", "map50"), "max"),
    ("metrics/mAP50-95(B)", ("val", "map50_95"), "max"),
    ("metrics/precision(B)", ("val", "precision"), "max"),
    ("metrics/recall(B)", ("val", "recall"), "max"),
    ("metrics/mAP_0.5", ("val", "map_0_5"), "max"),
    ("val/box_loss", ("val", "box_loss"), "min"),
    # HF seq2seq and several evaluation sets
    ("eval_rougeL", ("val", "rougel"), "max"),
    ("eval_bleu", ("val", "bleu"), "max"),
    ("eval_wer", ("val", "wer"), "min"),
    ("eval_mnli-mm_accuracy", ("mnli_mm", "acc"), "max"),
    ("eval_squad_loss", ("squad", "loss"), "min"),
    ("eval_top5_accuracy", ("val", "top5_acc"), "max"),
    ("mAP", ("train", "map"), "max"),
    ("val_mAP", ("val", "map"), "max"),
    ("eval_exact_match", ("val", "exact_match"), "max"),
    ("dice_loss", ("train", "dice_loss"), "min"),
    ("approx_kl", ("train", "approx_kl"), "min"),
    # CamelCase columns of hand-written loggers
    ("ValLoss", ("val", "loss"), "min"),
    ("TrainAcc", ("train", "acc"), "max"),
    ("ValAcc", ("val", "acc"), "max"),
    # plain-text logs
    ("Batch loss", ("train", "loss"), "min"),
    ("Average Train Loss", ("train", "average_loss"), "min"),
    ("Valid Perplexity", ("val", "perplexity"), "min"),
    ("mean_val_acc", ("val", "mean_acc"), "max"),
]


@pytest.mark.parametrize("name,expected,mode", WILD_TABLE)
def test_wild_conventions(name: str, expected: tuple[str, str], mode: str) -> None:
    assert normalize(name) == expected
    assert metric_mode(expected[1]) == mode


def test_fastai_bare_metrics_are_validation() -> None:
    # fastai's recorder: train_loss, valid_loss, then the metrics (computed on the validation set) bare
    read = normalize_columns(["epoch", "train_loss", "valid_loss", "accuracy", "error_rate", "time"])
    assert read == {"train_loss": ("train", "loss"), "valid_loss": ("val", "loss"),
                    "accuracy": ("val", "acc"), "error_rate": ("val", "error")}


def test_keras_bare_metrics_stay_training() -> None:
    read = normalize_columns(["epoch", "accuracy", "loss", "val_accuracy", "val_loss"])
    assert read["accuracy"] == ("train", "acc")
    assert read["loss"] == ("train", "loss")
    assert read["val_accuracy"] == ("val", "acc")


def test_only_part_loss_of_a_split_is_its_loss() -> None:
    read = normalize_columns(["epoch", "train_classification_loss", "val_loss", "val_acc"])
    assert read["train_classification_loss"] == ("train", "loss")
    yolo = normalize_columns(["train/box_loss", "train/cls_loss", "val/box_loss", "val/cls_loss"])
    assert yolo["train/box_loss"] == ("train", "box_loss") and yolo["val/cls_loss"] == ("val", "cls_loss")


def test_monitor_name_matches_logged_column_first() -> None:
    assert resolve_monitor_name("accuracy", ["epoch", "accuracy", "loss"]) == ("train", "acc")
    assert resolve_monitor_name("Accuracy", ["accuracy"]) == ("train", "acc")
    assert resolve_monitor_name("val_acc", ["accuracy"]) is None
    assert resolve_monitor_name("epoch", ["epoch"]) is None


def test_series_table_from_names_lists_every_role() -> None:
    rows = series_table(["train/epoch", "train/loss", "eval/loss", "train/learning_rate", "train/grad_norm"])
    by = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows] == ["train/epoch", "train/loss", "eval/loss", "train/learning_rate",
                                         "train/grad_norm"]
    assert by["train/epoch"] == {"name": "train/epoch", "role": "bookkeeping", "split": None, "metric": None,
                                 "mode": None}
    assert by["train/loss"]["role"] == "metric" and by["train/loss"]["split"] == "train"
    ev = by["eval/loss"]
    assert (ev["split"], ev["metric"], ev["mode"]) == ("val", "loss", "min")
    assert by["train/learning_rate"]["role"] == "schedule"
    assert by["train/grad_norm"]["role"] == "signal"


def test_series_table_from_history_keeps_original_names() -> None:
    from gapwatch.history import History

    h = History.from_records([{"epoch": 1, "train_loss": 1.0, "valid_loss": 1.2},
                              {"epoch": 2, "train_loss": 0.8, "valid_loss": 1.1}], run="r")
    rows = series_table(h)
    assert {(r["name"], r["split"], r["metric"], r["mode"], r["role"]) for r in rows} == {
        ("train_loss", "train", "loss", "min", "metric"), ("valid_loss", "val", "loss", "min", "metric")}
    assert all(r["run"] == "r" for r in rows)


def test_series_table_from_history_adds_names_the_reader_dropped() -> None:
    from gapwatch.history import History

    h = History.from_records([{"epoch": 1, "loss": 1.0, "eval_loss": 1.2, "learning_rate": 1e-4},
                              {"epoch": 2, "loss": 0.8, "eval_loss": 1.1, "learning_rate": 5e-5}], run="r")
    h = h.with_meta("r", logged_names=["epoch", "loss", "eval_loss", "learning_rate"])
    rows = {r["name"]: r for r in series_table(h)}
    assert rows["learning_rate"]["role"] == "schedule" and rows["epoch"]["role"] == "bookkeeping"
    assert rows["eval_loss"]["split"] == "val"
    assert len(rows) == 4


def test_logged_name_key_resolves_the_users_words_against_original_names() -> None:
    from gapwatch.history import History

    h = History.from_records([{"epoch": 1, "accuracy": 0.5, "loss": 1.0, "val_accuracy": 0.4},
                              {"epoch": 2, "accuracy": 0.6, "loss": 0.9, "val_accuracy": 0.5}], run="r")
    assert logged_name_key(h, "accuracy") == ("train", "acc")
    assert logged_name_key(h, "VAL_ACCURACY") == ("val", "acc")
    assert logged_name_key(h, "f1") is None


def test_task_metric_rank_follows_framework_conventions() -> None:
    yolo = [normalize(n)[1] for n in ("metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)",
                                      "metrics/mAP50-95(B)")]
    assert min(yolo, key=task_metric_rank) == "map50_95"
    v5 = [normalize(n)[1] for n in ("metrics/precision", "metrics/mAP_0.5", "metrics/mAP_0.5:0.95")]
    assert min(v5, key=task_metric_rank) == "map_0_5_0_95"
    assert task_metric_rank("map50") == 1
    assert task_metric_rank("acc") == task_metric_rank("wer") == task_metric_rank("rougel") == 2
    assert task_metric_rank("precision") == 3
    assert task_metric_rank("loss") == 4


@pytest.mark.parametrize(("name", "expected"), [
    ("Total epochs", "bookkeeping"), ("total_steps", "bookkeeping"), ("num_updates", "bookkeeping"),
    ("num_train_epochs", "bookkeeping"), ("wps", "bookkeeping"), ("gnorm", "signal"),
    ("Best Acc", "bookkeeping"), ("best_val_acc", "bookkeeping"),
    # a measure plotted against a count stays a measure (Keras TensorBoard validation tags)
    ("evaluation_loss_vs_iterations", "metric"), ("evaluation_accuracy_vs_iterations", "metric"),
    ("val_loss", "metric"), ("best", "metric")])
def test_counts_running_bests_and_measures_against_counts(name: str, expected: str) -> None:
    assert role(name) == expected


@pytest.mark.parametrize(("metric", "mode"), [
    ("mean_io_u", "max"), ("binary_io_u", "max"), ("io_u", "max"), ("jaccard", "max"), ("jaccard_index", "max"),
    ("jaccard_distance", "min"), ("dice_coef", "max"), ("dice_loss", "min"),
    # MAPE is an error (not mAP); a Brier score is a loss; cosine similarity, explained variance, sensitivity and
    # specificity are larger-is-better
    ("mape", "min"), ("mean_absolute_percentage_error", "min"), ("brier_score", "min"),
    ("cosine_similarity", "max"), ("explained_variance", "max"), ("sensitivity", "max"), ("specificity", "max")])
def test_segmentation_metric_modes(metric: str, mode: str) -> None:
    """Keras logs its ``MeanIoU``/``BinaryIoU`` classes as ``mean_io_u``/``binary_io_u``; a Jaccard index is a
    similarity (larger is better), a Jaccard distance is not."""
    assert metric_mode(metric) == mode


@pytest.mark.parametrize(("columns", "expected"), [
    # Keras's built-in metric names: their first word is not a held-out set ("sparse", "binary", "root", "top")
    (["loss", "sparse_categorical_accuracy", "val_loss", "val_sparse_categorical_accuracy"],
     {"sparse_categorical_accuracy": ("train", "sparse_categorical_acc"),
      "val_sparse_categorical_accuracy": ("val", "sparse_categorical_acc")}),
    (["binary_accuracy", "val_binary_accuracy", "categorical_accuracy", "val_categorical_accuracy"],
     {"binary_accuracy": ("train", "binary_acc"), "val_binary_accuracy": ("val", "binary_acc"),
      "categorical_accuracy": ("train", "categorical_acc"), "val_categorical_accuracy": ("val", "categorical_acc")}),
    (["root_mean_squared_error", "val_root_mean_squared_error", "top_5_accuracy", "val_top_5_accuracy",
      "top_k_categorical_accuracy"],
     {"root_mean_squared_error": ("train", "root_mean_squared_error"),
      "val_root_mean_squared_error": ("val", "root_mean_squared_error"),
      "top_5_accuracy": ("train", "top_5_acc"), "val_top_5_accuracy": ("val", "top_5_acc"),
      "top_k_categorical_accuracy": ("train", "top_k_categorical_acc")}),
])
def test_keras_metric_names_are_not_held_out_sets(columns: list[str], expected: dict[str, tuple[str, str]]) -> None:
    got = normalize_columns(columns)
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize(("name", "expected"), [
    # MMDetection and detectron2 write COCO AP only for the held-out images, without a split token
    ("coco/bbox_mAP", ("val", "coco_bbox_map")),
    ("bbox_mAP_50", ("val", "bbox_map_50")),
    ("bbox/AP50", ("val", "bbox_ap50")),
    ("segm/APs", ("val", "segm_aps")),
    ("train/map", ("train", "map")),
    # measure variants whose first word is no held-out set
    ("foreground_acc", ("train", "foreground_acc")),
    ("fast_rcnn/cls_accuracy", ("train", "fast_rcnn_cls_acc")),
    # Ray Tune's Lightning examples log under a ``ptl/`` namespace
    ("ptl/val_loss", ("val", "loss")),
    ("ptl/val_accuracy", ("val", "acc")),
    # named held-out sets stay named
    ("retention_acc", ("retention", "acc")),
    ("ood/loss", ("ood", "loss")),
])
def test_normalize_framework_conventions(name: str, expected: tuple[str, str]) -> None:
    assert normalize(name) == expected


def test_detection_ap_is_larger_is_better_and_mfu_is_bookkeeping() -> None:
    assert metric_mode("segm_aps") == "max" and metric_mode("bbox_ap50") == "max"
    assert role("mfu") == "bookkeeping"


@pytest.mark.parametrize(("metric", "rank", "mode"), [
    # hand-written Keras metric functions: the measure's name then _coef/_score/_m/…; Keras's IoU classes
    ("dice_coef", 2, "max"), ("dice_coefficient", 2, "max"), ("iou_score", 2, "max"), ("jaccard_coef", 2, "max"),
    ("jacard_coef", 2, "max"), ("f1_score", 2, "max"), ("f1_m", 2, "max"), ("mean_io_u", 2, "max"),
    ("binary_io_u", 2, "max"), ("dsc", 2, "max"), ("precision_m", 3, "max"), ("recall_m", 3, "max"),
    # losses named after a measure stay losses
    ("dice_loss", 4, "min"), ("bce_dice_loss", 4, "min"), ("loss_m", 4, "min"),
])
def test_task_metric_rank_of_keras_metric_functions(metric: str, rank: int, mode: str) -> None:
    assert (task_metric_rank(metric), metric_mode(metric)) == (rank, mode)


@pytest.mark.parametrize("name", ["grad_2_norm_epoch", "grad_2.0_norm_total", "grad_2_norm_step",
                                  "grad_inf_norm/layer1.weight", "grad_2.0_norm/layer1.weight"])
def test_lightning_grad_norm_names_are_signals(name: str) -> None:
    """Lightning's ``grad_norm(module, norm_type=2)`` logs ``grad_2.0_norm_total`` and per-layer norms: an
    optimisation diagnostic, never judged as the quality of the model (a grad norm that grows 5 → 22 was read as a
    validation metric)."""
    assert role(name) == "signal"


@pytest.mark.parametrize("name", ["iou_loss", "giou_loss", "conf_loss", "obj_loss", "wh_loss", "gan_loss",
                                  "jaccard_loss", "lovasz_loss", "heatmap_loss"])
def test_a_loss_term_named_first_is_no_held_out_set(name: str) -> None:
    """YOLOX logs ``iou_loss`` and ``conf_loss``, CenterNet ``wh_loss``: terms of the training loss, not the loss
    of held-out sets named ``iou`` or ``conf``."""
    assert normalize(name) == ("train", name)


def test_a_named_held_out_set_is_still_one() -> None:
    assert normalize("ood_loss") == ("ood", "loss") and normalize("retention_acc") == ("retention", "acc")


@pytest.mark.parametrize(("name", "expected"), [
    # a printed sentence: ``validation mAP is: 0.85`` (Deep-MIML), ``Accuracy was 0.91``: the verb is no part of
    # the name
    ("validation mAP is", ("val", "map")),
    ("validation loss is", ("val", "loss")),
    ("test accuracy is", ("test", "acc")),
    ("Accuracy was", ("train", "acc")),
])
def test_a_verb_after_the_name_is_dropped(name: str, expected: tuple[str, str]) -> None:
    assert normalize(name) == expected
    assert role(name) == "metric"


@pytest.mark.parametrize("name", ["#validation images", "val_images", "train imgs", "num_images"])
def test_image_counts_are_bookkeeping(name: str) -> None:
    # ``#validation images = 7`` printed at each start is a dataset size, never a measure to monitor
    assert role(name) == "bookkeeping"


def test_a_lone_verb_stays_a_name() -> None:
    assert normalize("is") == ("train", "is")


def test_a_comparison_title_is_a_metric_and_its_twin_is_kept_apart() -> None:
    from gapwatch.names import comparison_twins_apart

    assert role("Training/Training vs. Validation Loss") == "metric"
    read = normalize_columns(["Loss/train", "Training/Training vs. Validation Loss",
                              "Validation/Training vs. Validation Loss"])
    assert read == {"Loss/train": ("train", "other_loss"), "Training/Training vs. Validation Loss": ("train", "loss"),
                    "Validation/Training vs. Validation Loss": ("val", "loss")}
    alone = {"Loss/train": ("train", "loss"), "Loss/val": ("val", "loss")}
    comparison_twins_apart(alone)
    assert alone == {"Loss/train": ("train", "loss"), "Loss/val": ("val", "loss")}


@pytest.mark.parametrize("name", ["Final Train Accuracy", "final_val_loss", "Final Test Accuracy", "final/loss"])
def test_a_final_value_is_a_summary_not_a_point(name: str) -> None:
    """A sweep's closing printout (``Final Train Accuracy: 98.0, Final Test Accuracy: 89.5``) holds one number a
    run: a summary of a curve, like a running best."""
    assert role(name) == "bookkeeping"


@pytest.mark.parametrize("name", ["final", "val_final_acc_step"])
def test_final_alone_or_inside_a_name_is_still_a_metric(name: str) -> None:
    assert role(name) == "metric"
