"""Normalisation of the zoo of metric names that training frameworks log.

``eval_loss``, ``val/loss``, ``valid_loss``, ``validation_loss`` → split ``val``, metric ``loss``;
``loss``, ``train/loss``, ``train_loss_epoch`` → split ``train``, metric ``loss``; ``val_accuracy`` →
``val``/``acc``. The original name is always kept alongside (see :class:`gapwatch.history.History`).

Unknown prefixes that look like a held-out set (``retention_acc``, ``ood/loss``, ``task0_acc``) become their
own split, so continual-learning and fine-tuning retention evaluations survive normalisation; so do the
Hugging Face names of several evaluation sets (``eval_<set>_loss``, ``eval_<set>_accuracy``).

Every logged name also has a **role** (:func:`role`):

* ``metric`` — a measure of the model that a detector may judge (losses, accuracy, F1, mAP, WER, BLEU…);
* ``bookkeeping`` — counters, clocks and throughput (``epoch``, ``train/epoch``, ``eval/runtime``,
  ``eval/samples_per_second``, ``total_flos``, Lightning's placeholder ``hp_metric``);
* ``schedule`` — what the user set, not what the model did (``learning_rate``, ``lr/pg0``, ``lr-SGD``,
  ``x/lr0``, momentum, weight decay);
* ``signal`` — optimisation diagnostics that are evidence but not a measure of quality (``grad_norm``,
  ``loss_scale``, ``gen_len``).

Only ``metric`` names become series; :func:`is_bookkeeping` is true for the other three roles.
:func:`series_table` lists, for the names of a log or a :class:`~gapwatch.history.History`, how each was read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .history import History

#: Split aliases → canonical split. Keys are lower-case tokens.
SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "tr": "train",
    "trn": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "va": "val",  # (``Tr loss=0.20 acc=0.93 | Va loss=0.10 acc=0.97`` in hand-written prints, beside ``tr``)
    "eval": "val",
    "evaluation": "val",
    "validating": "val",  # (``Validating Epoch: 3, accuracy: …`` in text logs)
    "validate": "val",  # (``Train Loss: 3.2 Validate Loss 3.4``)
    "evaluating": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
    "tst": "test",
    # Ultralytics/YOLO write their validation-set measures as ``metrics/precision(B)``, ``metrics/mAP50(B)``
    "metrics": "val",
}

#: Metric aliases → canonical metric.
METRIC_ALIASES: dict[str, str] = {
    "loss": "loss",
    "losses": "loss",
    "nll": "loss",
    "cost": "loss",  # (Theano / TensorFlow 1 tutorials' name for the objective: ``Cost 277.85``)
    "acc": "acc",
    "accs": "acc",
    "accuracy": "acc",
    "accuracies": "acc",
    "top1": "acc",
    "acc1": "acc",
    "top1_acc": "acc",
    "err": "error",
    "error": "error",
    "error_rate": "error",
    "qerror": "error",  # (cardinality/cost estimation's q-error, max(estimate/true, true/estimate): lower is better)
    "ppl": "perplexity",
    "perplexity": "perplexity",
    "f1": "f1",
    "auc": "auc",
    "auroc": "auc",
    # Keras's ``MeanIoU`` metric is logged as ``mean_io_u`` (its CamelCase name split at each capital);
    # ``mIoU`` splits as ``m_iou``
    "io_u": "iou",
    "m_iou": "miou",
    # HRNet / semantic-segmentation codebases print ``MeanIU`` (mean intersection over union)
    "meaniu": "miou",
    "mean_iu": "miou",
    # torchmetrics' ``F1Score`` and ``R2Score`` classes (``val_MulticlassF1Score``)
    "f1score": "f1",
    "fb1": "f1",  # (conlleval's F-beta with beta 1)
    "r2score": "r2",
}
#: The measures (keys and values of :data:`METRIC_ALIASES`: ``accuracy`` as well as ``acc``) and the segmentation
#: and image measures, for :func:`is_measure`.
_MEASURE_WORDS: frozenset[str] = (frozenset(METRIC_ALIASES.values()) | frozenset(METRIC_ALIASES)
                                   | {"dice", "iou", "miou", "jaccard", "dsc", "psnr", "ssim"})

#: The four roles a logged name can have (see the module docstring).
ROLES: tuple[str, ...] = ("metric", "bookkeeping", "schedule", "signal")

#: Framework suffixes that carry no meaning for us (Lightning's ``_epoch``/``_step``).
_DROP_SUFFIXES = ("_epoch", "_step", "/epoch", "/step")
#: Axis prefixes that carry no meaning either (Keras's TensorBoard tags ``epoch_loss``, ``batch_loss``).
_DROP_PREFIXES = ("epoch_", "batch_", "epoch/", "batch/")

#: Names that are bookkeeping, not metrics: never treated as a series (whole names, lower case).
NON_METRICS: frozenset[str] = frozenset(
    {
        "epoch",
        "epochs",
        "step",
        "steps",
        "global_step",
        "iteration",
        "iter",
        "time",
        "timestamp",
        "wall_time",
        "walltime",
        "total_flos",
        "train_runtime",
        "eval_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "eval_samples_per_second",
        "eval_steps_per_second",
        "learning_rate",
        "lr",
        "grad_norm",
        "run",
        "fold",  # (a cross-validation fold's number: the run it belongs to, never a measure)
        "split",
        "metric",
        "value",
        "hp_metric",
        "index",
        "unnamed: 0",
        # Ray Tune's bookkeeping in a trial's progress.csv / result.json
        "training_iteration",
        "iterations_since_restore",
        "time_this_iter_s",
        "time_total_s",
        "time_since_restore",
        "timesteps_total",
        "timesteps_since_restore",
        "episodes_total",
        "pid",
        "hostname",
        "node_ip",
        "trial_id",
        "date",
        "done",
        "should_checkpoint",
        "checkpoint_dir_name",
    }
)

#: Last tokens that make a name bookkeeping: clocks, throughput, counters, memory.
_BOOKKEEPING_LAST: frozenset[str] = frozenset(
    {"runtime", "flos", "time", "timestamp", "seconds", "secs", "sec", "duration", "elapsed", "mem", "memory",
     "instances", "seen", "tokens", "samples", "examples", "images", "imgs", "size", "count", "throughput", "taken",
     "wps", "ups", "wpb", "bsz", "wall", "mfu",
     # settings printed with the run's configuration (``--eval_interval=500``, ``val_check_interval``, ``patience``)
     "interval", "freq", "frequency", "patience"}
)
#: Tokens that make a name bookkeeping wherever they stand: clocks, memory (torchtune's ``peak_memory_active``,
#: ms-swift's ``memory(GiB)``), speed (``train_speed(iter/s)``) and progress (``percentage``).
_BOOKKEEPING_ANYWHERE: frozenset[str] = frozenset(
    {"time", "runtime", "duration", "memory", "mem", "speed", "percentage", "progress"}
)
#: Whole names (after split tokens are removed) that are counters.
_BOOKKEEPING_REST: frozenset[str] = frozenset(
    {"epoch", "epochs", "step", "steps", "global_step", "iteration", "iter", "hp_metric", "batch", "nb_epoch",
     # configuration flags of an evaluation (absl's ``--max_eval_batch=100``, ``num_eval``, ``eval_every``)
     "max_batch", "num", "every",
     # fairseq's JSON records: ``update`` is the epoch's progress (``1.002``), ``gb_free`` the free GPU memory
     "update", "updates", "gb_free"}
)
#: Per-example arrays saved beside a history (a training report's ``predictions``/``targets`` of 10,000 test
#: images): one value per example, not per evaluation — bookkeeping (:func:`per_example`).
PER_EXAMPLE: frozenset[str] = frozenset(
    {"predictions", "prediction", "preds", "pred", "targets", "labels", "y_true", "y_pred", "y_score",
     "probabilities", "probs", "logits", "outputs", "ground_truth"}
)
#: Tokens that name an optimiser setting: its schedule, not the model.
_SCHEDULE_TOKENS: frozenset[str] = frozenset(
    {"lr", "learning_rate", "learningrate", "momentum", "weight_decay", "wd", "beta1", "beta2", "warmup"}
)
#: ``lr0``, ``lr_0``, ``lr-SGD``, ``pg0`` (param-group learning rates of Ultralytics and Lightning).
_SCHEDULE_TOKEN_RE = re.compile(r"^(lr\d+|pg\d+)$")
#: Diagnostics: evidence about the optimisation, never judged as the quality of the model.
_SIGNAL_NAMES: frozenset[str] = frozenset(
    {"grad_norm", "gradient_norm", "gradnorm", "grad", "param_norm", "weight_norm", "loss_scale", "scale",
     "gen_len", "grad_norm_total", "total_norm", "clip", "update_ratio", "gnorm"}
)

#: Metrics for which larger is better (everything else defaults to smaller is better).
MAX_METRICS: frozenset[str] = frozenset({"acc", "f1", "auc", "precision", "recall", "map", "bleu", "rouge"})
#: Token prefixes of larger-is-better measures (``map50``, ``rougel``, ``rouge_lsum``, ``bleu4``, ``miou``).
_MAX_PREFIXES: tuple[str, ...] = (
    "acc", "f1", "auc", "auroc", "precision", "prec", "recall", "map", "bleu", "rouge", "meteor", "chrf",
    "bertscore", "iou", "miou", "dice", "psnr", "ssim", "r2", "exact", "spearman", "pearson",
    "matthews", "mcc", "reward", "return", "top", "ndcg", "mrr", "kappa", "sacrebleu", "score", "jaccard",
    "jacard", "dsc", "specificity", "sensitivity", "tpr", "tnr", "similarity", "explained", "hit", "corr",
    "agreement", "fb1",
    # speech enhancement and separation: (scale-invariant) signal-to-distortion and signal-to-noise ratios in dB
    # (``SI-SDR``, ``SISDRi``, ``si_snr``, ``SDR``), perceptual quality (``PESQ``) and intelligibility (``STOI``)
    "sdr", "sisdr", "sisnr", "snr", "pesq", "stoi", "estoi",
    # rank and linear correlation with the targets (image and speech quality assessment, ranking): Spearman's
    # SRCC, Pearson's PLCC, Kendall's KRCC / tau
    "srcc", "plcc", "krcc", "kendall",
)
#: A signal ratio in dB (``SI-SDR``, ``SDR``, ``SI-SNR``), larger is better; negated (``neg_sisdr``, ``-SISDR``) it is
#: the loss a speech separation or enhancement model minimises ("SDR — Half-baked or Well Done?", Le Roux et al.,
#: ICASSP 2019, defines SI-SDR; Conv-TasNet, Luo & Mesgarani 2019, trains on its negative).
_SIGNAL_RATIO = re.compile(r"^(si)?(sdr|snr|sisdr|sisnr)i?$")
_NEG_TOKENS: frozenset[str] = frozenset({"neg", "negative"})
#: A minus sign glued to the front of a signal ratio's name: ``-SISDR`` (a loss printed as the negated metric).
_NEGATED = re.compile(r"^-(?=(?:si[-_]?)?(?:sdr|snr)(?:i?$|[_/\s]))")
#: Whole tokens of larger-is-better measures too short to be prefixes: ``em`` (exact match), ``ap``, ``ap50``,
#: ``r`` (a correlation coefficient: ``val_r``, ``pearson_r`` — scipy's ``pearsonr`` names it so), ``rho``
#: (Spearman's: ``val_rho``).
_MAX_TOKEN_RE = re.compile(r"^(em|ap\d*|r|rho)$")
#: A measure at a rank cut-off, ``<measure>@<k>``: ``Acc@1``, ``Prec@5``, ``R@1``, ``recall@10``, ``hit@5``,
#: ``ndcg@10`` (ImageNet recipes, retrieval and recommender logs): a measure whatever its base, larger is better
#: unless the base is a smaller-is-better token (``loss@k``, ``error@5``).
_AT_K = re.compile(r"^[a-z][a-z0-9]*@\d+$")
#: The prefixes of :data:`_MAX_PREFIXES` that name a measure whatever follows (for :func:`is_measure`; ``top``,
#: ``score``, ``hit``, ``return``… also start other words).
_MEASURE_PREFIXES: tuple[str, ...] = ("acc", "f1", "auc", "auroc", "map", "bleu", "rouge", "iou", "miou", "dice",
                                      "psnr", "ssim", "precision", "recall", "ndcg", "mrr", "mcc", "kappa",
                                      "jaccard", "sdr", "sisdr", "sisnr", "snr", "pesq", "stoi", "estoi",
                                      "spearman", "pearson", "srcc", "plcc", "krcc", "kendall")
#: Tokens of smaller-is-better measures; they win over the prefixes above (``dice_loss``, ``exact_error``).
_MIN_TOKENS: frozenset[str] = frozenset(
    {"loss", "error", "err", "wer", "cer", "mse", "mae", "rmse", "perplexity", "ppl", "nll", "fid", "lpips",
     "regret", "distance", "eer", "mape", "brier"}
)
#: Qualifiers that sit between a split and a measure without naming an evaluation set (``val_pgd_acc``).
#: :data:`gapwatch.monitor.MEASURE_QUALIFIERS` includes them all.
QUALIFIERS: frozenset[str] = frozenset(
    {"top1", "top5", "top3", "top10", "pgd", "fgsm", "adv", "clean", "robust", "macro", "micro", "weighted",
     "balanced", "token", "seq", "sequence", "char", "word", "mean", "avg", "total", "overall", "per",
     "class",
     # aggregates over an epoch's batches: "Average loss for epoch 12", running_loss, a smoothed curve
     "average", "running", "moving", "smoothed",
     "masked", "mlm", "lm", "ce", "kl", "box", "cls", "obj", "dfl", "seg", "mask", "bbox",
     # the words of Keras's built-in metric names: sparse_categorical_accuracy, binary_accuracy,
     # top_k_categorical_accuracy, root_mean_squared_error, mean_absolute_percentage_error …
     "sparse", "categorical", "binary", "top", "k", "root", "squared", "absolute", "percentage", "logarithmic",
     # fastai's foreground_acc, detectron2's fast_rcnn/cls_accuracy and rpn/…, other measure variants
     "foreground", "background", "fast", "rcnn", "rpn", "roi", "pixel", "exact", "multilabel", "hamming",
     # Cohen's (quadratic weighted) kappa: cohen_kappa, quadratic_weighted_kappa; torchmetrics' class names
     # (MulticlassAccuracy); pixAcc (semantic segmentation)
     "cohen", "quadratic", "multiclass", "pix",
     # aggregates of per-batch values a hand-written logger writes per epoch (min_loss, max_loss, std_loss)
     "min", "max", "std", "median",
     # TRL's preference trainers (DPO, KTO, ORPO): rewards/accuracies, rewards/margins, logps/chosen, logits/rejected
     # are the training batch's (eval_rewards/accuracies the evaluation's), never a held-out set "rewards"
     "rewards", "logps", "logits"}
)
#: A detection measure (COCO AP): ``map``, ``bbox_map_50``, ``bbox_ap50``, ``segm_aps``. It is only ever
#: computed on held-out images, so a qualified name with no split token that ends in one is read as validation
#: (MMDetection's ``coco/bbox_mAP``, detectron2's ``bbox/AP50``).
_DETECTION_AP = re.compile(r"(^|_)(map|ap)(\d+|_\d+|_[sml]|[sml])*$")

#: The words that name a GAN's two players in their losses (``D_Loss``, ``G_Loss``, ``loss_D``,
#: ``generator_loss``): training objectives, each rising whenever the other player wins.
GAN_PLAYERS: frozenset[str] = frozenset({"d", "g", "disc", "gen", "discriminator", "generator", "adversarial", "gan"})
#: First tokens of a bare ``<part>_loss`` that name a loss term, not a held-out set (``dice_loss``).
_LOSS_PARTS: frozenset[str] = frozenset(
    {"dice", "focal", "recon", "reconstruction", "kl", "ce", "bce", "mse", "l1", "l2", "aux", "contrastive",
     "triplet", "classification", "regression", "total", "main", "lm", "mlm", "ctc", "vq", "commitment",
     # detection and segmentation loss terms (YOLOX ``iou_loss``/``conf_loss``, CenterNet ``wh_loss``, Lovász)
     "iou", "giou", "diou", "ciou", "conf", "obj", "objectness", "cls", "box", "bbox", "dfl", "rpn", "mask",
     "kpt", "keypoint", "heatmap", "wh", "offset", "centerness", "lovasz", "tversky", "jaccard", "smooth",
     # generative and other objectives
     "nll", "hinge", "perceptual", "adversarial", "gan", "style", "content", "tv", "ssim", "cycle",
     # a reinforcement learner's heads (PPO ``policy_loss``, ``value_loss``, ``entropy_loss``; actor-critic
     # ``actor_loss``, ``critic_loss``; DQN ``q_loss``, ``td_loss``) and a GAN's players (:data:`GAN_PLAYERS`)
     "critic", "actor", "policy", "value", "vf", "pi", "entropy", "q", "td",
     # a speech model's signal-ratio objectives (``sisdr_loss``, ``snr_loss``)
     "sdr", "sisdr", "sisnr", "snr"}
) | GAN_PLAYERS

#: Leading words that name the logging axis, not the series (``Batch loss``, ``Epoch val_loss`` in text logs).
_AXIS_TOKENS: frozenset[str] = frozenset({"batch", "epoch", "step", "iter", "iteration"})

_SEP = re.compile(r"[/_.\-\s:]+")
#: Ultralytics marks the task of a metric in brackets: ``mAP50(B)`` (box), ``(M)`` (mask), ``(P)`` (pose).
_TASK_MARK = re.compile(r"\([a-z]\)$")


#: A lower-case letter followed by a capitalised word: the CamelCase joints of ``ValLoss``, ``TrainAcc``
#: (``mAP50`` and ``rougeL`` have none: the capital is not followed by a lower-case letter).
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])|(?<=[a-z]{2})(?=(?:F1|AUROC|AUC|R2|IoU)(?:[A-Z]|$))")
#: (The second alternative splits torchmetrics' class names as ``MetricCollection`` logs them:
#: ``MulticlassF1Score``, ``BinaryAUROC``, ``R2Score`` after a word, ``MulticlassJaccardIndex``; two lower-case
#: letters before it keep ``mIoU`` whole.)


#: A verb that ends a printed name: ``validation mAP is: 0.85``, ``Accuracy was 0.91`` (the name is what precedes it).
_COPULAS: frozenset[str] = frozenset({"is", "was", "are", "were", "equals"})


def _tokens(name: str) -> list[str]:
    low = _TASK_MARK.sub("", _CAMEL.sub("_", name.strip()).lower())
    low = low.replace("(", "_").replace(")", "_")
    toks = [t for t in _SEP.split(low) if t]
    return toks[:-1] if len(toks) > 1 and toks[-1] in _COPULAS else toks


def metric_mode(metric: str) -> str:
    """``"max"`` for metrics where larger is better (accuracy, F1, mAP, ROUGE, BLEU…), else ``"min"``.

    Decided on the tokens of the canonical metric name: a smaller-is-better token (``loss``, ``error``,
    ``wer``, ``perplexity``…) anywhere makes it ``min``; otherwise a token starting with a larger-is-better
    prefix (``acc``, ``map``, ``rouge``, ``bleu``, ``precision``, ``recall``…) makes it ``max``.
    """
    if metric in MAX_METRICS:
        return "max"
    toks = _tokens(metric)
    if any(t.split("@", 1)[0] in _MIN_TOKENS for t in toks):
        return "min"
    if len(toks) > 1 and toks[0] in _NEG_TOKENS and all(_SIGNAL_RATIO.match(t) or t == "si" for t in toks[1:]):
        return "min"  # neg_sisdr, neg_si_sdr: the negated ratio, a loss
    # ``mean_io_u``: Keras's snake_case of its ``MeanIoU`` metric class
    if any(t.startswith(_MAX_PREFIXES) or _MAX_TOKEN_RE.match(t) or _AT_K.match(t) for t in toks) \
            or "accuracy" in metric \
            or "io_u" in metric or _DETECTION_AP.search(metric):
        return "max"
    return "min"


def _rest_after_split(tokens: list[str]) -> list[str]:
    """Tokens without a leading split token and Lightning's trailing ``epoch``/``step`` marks."""
    rest = tokens[1:] if tokens and tokens[0] in SPLIT_ALIASES else tokens
    if len(rest) > 1 and rest[-1] in SPLIT_ALIASES:
        rest = rest[:-1]
    return rest


def per_example(name: str) -> bool:
    """Whether ``name`` (after its split) names a per-example array (:data:`PER_EXAMPLE`: ``val_predictions``,
    ``targets``, ``y_true``): one value per example, never a curve."""
    toks = _drop_comparison(_tokens(name.strip().lower()))
    return bool(toks) and "_".join(_rest_after_split(toks)) in PER_EXAMPLE


def role(name: str) -> str:
    """The role of a logged name: ``"metric"``, ``"bookkeeping"``, ``"schedule"`` or ``"signal"``.

    Examples: ``train/epoch`` and ``eval/runtime`` → bookkeeping; ``learning_rate``, ``lr/pg0``, ``lr-SGD``,
    ``x/lr0`` → schedule; ``train/grad_norm``, ``eval_gen_len`` → signal; ``eval_loss``,
    ``metrics/mAP50(B)`` → metric.
    """
    n = name.strip().lower()
    if not n:
        return "bookkeeping"
    if n in NON_METRICS and n not in ("learning_rate", "lr", "grad_norm"):
        return "bookkeeping"
    toks = _drop_comparison(_tokens(n))
    if not toks:
        return "bookkeeping"
    return _role_of_tokens(toks)


def _role_of_tokens(toks: list[str]) -> str:
    """The role of a name from its (non-empty) tokens: schedule, then signal, then bookkeeping, else metric."""
    joined = "_".join(toks)
    rest_joined = "_".join(_rest_after_split(toks))
    if _is_schedule(toks, joined):
        return "schedule"
    if _is_signal(joined, rest_joined):
        return "signal"
    if _is_counter_or_clock(toks, joined, rest_joined) or _is_run_summary(toks) or _is_running_best(toks) \
            or _is_final_value(toks):
        return "bookkeeping"
    return "metric"


#: Plural units whose count a name can hold: ``Total epochs``, ``total_steps``, ``num_updates``.
_COUNTED: frozenset[str] = frozenset({"epochs", "steps", "iterations", "batches", "updates"})


def _is_count_of(toks: list[str]) -> bool:
    """A count of epochs, steps… (``Total epochs``, ``num_updates``) or a batch setting (absl's
    ``max_eval_batch``) — not a measure plotted against them (Keras's ``evaluation_loss_vs_iterations`` names a
    loss, ``val_loss_batch`` a loss per batch)."""
    return (toks[-1] in _COUNTED or toks[-1] == "batch") and "vs" not in toks and not any(
        "loss" in t or t in _MEASURE_WORDS for t in toks)


def is_running_best(name: str) -> bool:
    """Whether a logged name is a running best printed beside the value (``Best_mIoU``, ``best_val_acc``)."""
    return _is_running_best(_tokens(_strip_affixes(name).lower()))


def _is_running_best(toks: list[str]) -> bool:
    """A running best printed beside the value (``Best Acc``, ``best_val_acc``, ``val_best_loss``): a summary of
    another series, never a measurement of its own."""
    return "best" in toks[:2] and len(toks) >= 2 and toks[-1] != "best"


def _is_final_value(toks: list[str]) -> bool:
    """A run's closing value (``Final Train Accuracy``, ``final_val_loss``): one number printed once the run ended,
    a summary of a curve, never a point of one."""
    return len(toks) >= 2 and toks[0] == "final"


def _is_schedule(toks: list[str], joined: str) -> bool:
    """An optimiser setting: ``learning_rate``, ``lr/pg0``, ``lr-SGD``, momentum, weight decay."""
    return any(t in _SCHEDULE_TOKENS or _SCHEDULE_TOKEN_RE.match(t) for t in toks) or "learning_rate" in joined


#: Lightning's ``grad_norm(module, norm_type)`` names: ``grad_2.0_norm_total``, ``grad_2_norm``,
#: ``grad_inf_norm/layer1.weight`` (after tokenising: ``grad_2_0_norm_total``…).
_GRAD_P_NORM = re.compile(r"(^|_)grad_(\d+_)*(\d+|inf)_norm(_|$)")


#: Tokens that make a name the change of a measure between evaluations (``val_loss_delta_%``), not the measure.
_CHANGE_TOKENS: frozenset[str] = frozenset({"delta"})


#: Counts of a confusion matrix (Keras' ``tf.keras.metrics.TruePositives`` logs ``true_positives``; ``TP_Score``):
#: they grow with the set's size and the threshold, a quality measure only through a ratio of them.
_CONFUSION_COUNTS: frozenset[str] = frozenset(
    {"true_positives", "false_positives", "true_negatives", "false_negatives", "tp", "fp", "tn", "fn"})


def _is_signal(joined: str, rest_joined: str) -> bool:
    """An optimisation diagnostic: ``grad_norm``, ``grad_2.0_norm_total``, ``loss_scale``, ``gen_len``; the
    change of a measure from one evaluation to the next (``train_loss_delta_%``); a confusion-matrix count
    (:data:`_CONFUSION_COUNTS`: ``val_false_positives``, ``TP_Score``)."""
    return (rest_joined in _SIGNAL_NAMES or joined in _SIGNAL_NAMES
            or "grad_norm" in joined or "gen_len" in joined or _GRAD_P_NORM.search(joined) is not None
            or any(t in _CHANGE_TOKENS for t in joined.split("_"))
            or rest_joined in _CONFUSION_COUNTS or (rest_joined.split("_")[0] in _CONFUSION_COUNTS and set(
                rest_joined.split("_")[1:]) <= {"score", "count", "counts"}))


def _is_counter_or_clock(toks: list[str], joined: str, rest_joined: str) -> bool:
    """Counters, clocks, throughput and memory."""
    return (rest_joined in _BOOKKEEPING_REST or rest_joined in PER_EXAMPLE or toks[-1] in _BOOKKEEPING_LAST
            or "per_second" in joined
            or _is_count_of(toks)
            or any(t in _BOOKKEEPING_ANYWHERE for t in toks))


def _is_run_summary(toks: list[str]) -> bool:
    """HF's end-of-training summary ``train/train_loss`` is one average over the whole run, not a point."""
    return len(toks) >= 3 and toks[0] in SPLIT_ALIASES and toks[1] == toks[0]


def is_bookkeeping(name: str) -> bool:
    """True for names that are not metrics: bookkeeping, schedule and signal (see :func:`role`)."""
    return role(name) != "metric"


def normalize(name: str, default_split: str = "train") -> tuple[str, str]:
    """Map a logged metric name to ``(split, metric)``.

    Args:
        name: the name as logged (``"eval_loss"``, ``"val/acc"``, ``"train_loss_epoch"``, ``"loss"``).
        default_split: split for names with no split token (Keras/HF log training ``loss`` bare).

    Returns:
        ``(split, metric)``; ``metric`` keeps any qualifier (``val_pgd_acc`` → ``("val", "pgd_acc")``).
        ``eval_<set>_loss``/``eval_<set>_accuracy`` (Hugging Face, several evaluation sets) →
        ``(<set>, "loss")``/``(<set>, "acc")``; ``metrics/mAP50(B)`` (Ultralytics) → ``("val", "map50")``.
    """
    low = _CHAINER_MAIN.sub(r"\1", _strip_namespace(_strip_affixes(name)))
    if _NEGATED.match(low):
        low = "neg_" + low[1:]  # ``-SISDR``: the negated ratio a separation model minimises (its loss)
    tokens = _drop_comparison(_unglue(_drop_axis_tokens(_tokens(low))))
    if not tokens:
        return default_split, low
    if tokens[0] in SPLIT_ALIASES:
        named = _named_eval_set(tokens)
        if named is not None:
            return named
    split, rest = _split_and_rest(tokens)
    if not rest:
        rest = ["loss"]
    metric = _canonical_metric(rest)
    if split is None and len(rest) > 1 and _DETECTION_AP.search(metric):
        split = "val"  # bbox_mAP_50, coco/bbox_mAP; a bare ``mAP`` keeps the default (its val_mAP twin decides)
    return split or default_split, metric


#: torchmetrics' class names written in lower case without separators (Lightning Flash logs
#: ``val_multiclassjaccardindex``, ``val_binaryf1score``): an optional task word glued to a measure.
_GLUED = re.compile(r"^(multiclass|multilabel|binary)?(accuracy|f1score|jaccardindex|auroc|averageprecision|"
                    r"precision|recall|specificity|dicescore|dice|meaniou|matthewscorrcoef|cohenkappa)$")
#: The words each glued measure stands for (``jaccardindex`` → ``jaccard`` ``index``).
_GLUED_WORDS: dict[str, tuple[str, ...]] = {
    "f1score": ("f1",), "jaccardindex": ("jaccard", "index"), "averageprecision": ("ap",),
    "dicescore": ("dice", "score"), "meaniou": ("mean", "iou"), "matthewscorrcoef": ("mcc",),
    "cohenkappa": ("cohen", "kappa"),
}


#: A split glued to a measure in one word, as hand-written prints abbreviate it: ``vloss``, ``VAcc`` (read
#: ``vacc``), ``VF1``, ``trloss``, ``valacc``, ``testacc`` (``v`` is the validation set; a lone ``t`` is not read,
#: as it may be either training or test).
_GLUED_SPLIT = re.compile(r"^(v|va|val|valid|tr|trn|train|test|tst|dev|eval)"
                          r"(loss|acc|accuracy|f1|auc|err|error|dice|iou|miou|mae|mse|rmse|ppl|bleu|wer|cer|map)$")
#: Single letters that open a name for its split: ``V_Loss``, ``V_acc`` (validation), ``T_Loss`` (the training
#: set beside them; a set called ``t`` is never a held-out one) — only before a measure (``v_num`` is Lightning's
#: version number, ``Loss_v`` a component of a solution).
_LETTER_SPLITS: dict[str, str] = {"v": "val", "t": "train"}


def _unglue(tokens: list[str]) -> list[str]:
    """Tokens with torchmetrics' glued class names split (:data:`_GLUED`) and a split glued to its measure split
    off (:data:`_GLUED_SPLIT`); a plain measure word (``accuracy``, ``precision``) stays as it is."""
    out: list[str] = []
    for t in tokens:
        g = _GLUED_SPLIT.match(t) if not out else None
        if g is not None:
            out.extend(("val" if g.group(1) == "v" else g.group(1), g.group(2)))
            continue
        m = _GLUED.match(t)
        if m is None or (m.group(1) is None and m.group(2) not in _GLUED_WORDS):
            out.append(t)
            continue
        if m.group(1):
            out.append(m.group(1))
        out.extend(_GLUED_WORDS.get(m.group(2), (m.group(2),)))
    return out


def _strip_affixes(name: str) -> str:
    """The lower-case name without its task mark, one framework suffix and one axis prefix."""
    low = _TASK_MARK.sub("", _CAMEL.sub("_", name.strip()).lower())
    for suf in _DROP_SUFFIXES:
        if low.endswith(suf) and len(low) > len(suf):
            low = low[: -len(suf)]
            break
    for pre in _DROP_PREFIXES:
        if low.startswith(pre) and len(low) > len(pre):
            low = low[len(pre):]
            break
    return low


#: Chainer's reporter names each value after the link that reported it, ``main`` for the model the optimizer
#: trains (``LogReport``'s ``main/loss``, ``main/accuracy``, ``validation/main/accuracy``): the link's name is no
#: qualifier of the measure (``main_acc`` read as a held-out set of its own beside the loss).
_CHAINER_MAIN = re.compile(r"^((?:validation|val|test|train|eval)/)?main/(?=[a-z])")


def _strip_namespace(low: str) -> str:
    """``ptl/val_loss`` → ``val_loss``: a leading ``/`` namespace (Ray Tune's Lightning examples write ``ptl/``)
    that names neither a split nor a measure, in front of a name that starts with a split."""
    head, sep, rest = low.partition("/")
    if not sep or not rest:
        return low
    ht, rt = _tokens(head), _tokens(rest)
    if not ht or not rt or rt[0] not in SPLIT_ALIASES or any(t in SPLIT_ALIASES or t in METRIC_ALIASES for t in ht):
        return low
    return rest


#: Words that join the two splits of a comparison title: ``Training vs. Validation Loss``.
_VERSUS: frozenset[str] = frozenset({"vs", "versus", "v"})


def _drop_comparison(tokens: list[str]) -> list[str]:
    """Tokens without a "<split> vs <split>" comparison title — the main tag PyTorch's tutorial gives
    ``SummaryWriter.add_scalars("Training vs. Validation Loss", {"Training": …, "Validation": …})``, whose
    ``<main tag>_<key>/`` sub-directory names the split — when a measure is left."""
    for i in range(1, len(tokens) - 1):
        if tokens[i] in _VERSUS and tokens[i - 1] in SPLIT_ALIASES and tokens[i + 1] in SPLIT_ALIASES:
            rest = tokens[: i - 1] + tokens[i + 2:]
            return rest if rest else tokens
    return tokens


def _drop_axis_tokens(tokens: list[str]) -> list[str]:
    """Tokens without leading axis words: "Batch loss", "epoch val_loss" (text logs)."""
    while len(tokens) > 1 and tokens[0] in _AXIS_TOKENS:
        tokens = tokens[1:]
    return tokens


def _split_and_rest(tokens: list[str]) -> tuple[str | None, list[str]]:
    """The split a name's (non-empty) tokens name, or None, and the tokens left for the metric."""
    if tokens[0] in SPLIT_ALIASES:
        return SPLIT_ALIASES[tokens[0]], tokens[1:]
    if tokens[0] in _LETTER_SPLITS and len(tokens) > 1 and tokens[1] in METRIC_ALIASES:
        return _LETTER_SPLITS[tokens[0]], tokens[1:]  # ``V_Loss``, ``T_acc``
    if tokens[-1] in SPLIT_ALIASES and len(tokens) > 1:
        # "loss_val", "accuracy/validation"
        return SPLIT_ALIASES[tokens[-1]], tokens[:-1]
    mid = next((k for k in range(1, len(tokens) - 1) if tokens[k] in SPLIT_ALIASES), None)
    if mid is not None:
        # "Average Train Loss", "mean_val_acc": the split sits between a qualifier and the measure
        return SPLIT_ALIASES[tokens[mid]], tokens[:mid] + tokens[mid + 1:]
    if _names_held_out_set(tokens):
        # "retention_acc", "ood/loss", "task0_acc": a named held-out set
        return tokens[0], tokens[1:]
    return None, tokens


def _names_held_out_set(tokens: list[str]) -> bool:
    """True when the first token names a held-out set: a measure follows and it is no metric, qualifier or loss part."""
    return (len(tokens) > 1 and tokens[-1] in METRIC_ALIASES and tokens[0] not in METRIC_ALIASES
            and tokens[0] not in QUALIFIERS and tokens[0] not in _LOSS_PARTS)


#: Top-k qualifiers of an accuracy (:func:`_canonical_metric`).
_TOP_K: frozenset[str] = frozenset({"top1", "top3", "top5", "top10"})


def _canonical_metric(rest: list[str]) -> str:
    """Canonicalise the last token (the measure), keep qualifiers before it: pgd_acc, top5_acc. A measure named
    before its top-k qualifier, Ultralytics classify's ``accuracy_top1`` / ``accuracy_top5``, is ``acc`` /
    ``top5_acc`` (it read ``accuracy_acc``, the measure's own name taken for a held-out set's)."""
    if len(rest) == 2 and METRIC_ALIASES.get(rest[0]) == "acc" and rest[1] in _TOP_K:
        return "acc" if rest[1] == "top1" else f"{rest[1]}_acc"
    last = METRIC_ALIASES.get(rest[-1], rest[-1])
    qual = rest[:-1]
    if len(rest) >= 2 and "_".join(rest[-2:]) in METRIC_ALIASES:
        last = METRIC_ALIASES["_".join(rest[-2:])]
        qual = rest[:-2]
    if rest[-3:] == ["mean", "average", "precision"]:  # (``Mean Average Precision = 21.55%``: mAP spelled out)
        last, qual = "map", rest[:-3]
    return "_".join([*qual, last])


def _named_eval_set(tokens: list[str]) -> tuple[str, str] | None:
    """``eval_<set>_loss`` / ``eval_<set>_accuracy`` → ``(<set>, loss|acc)``; None for other shapes.

    Hugging Face's ``Trainer.evaluate(metric_key_prefix=f"eval_{name}")`` prefixes every measure of a named
    evaluation set; qualifiers such as ``top5`` or ``pgd`` (``val_pgd_acc``) are not set names.
    """
    if tokens[0] != "eval" or len(tokens) < 3:
        return None
    measure = METRIC_ALIASES.get(tokens[-1])
    if measure not in ("loss", "acc"):
        return None
    middle = tokens[1:-1]
    if any(t in QUALIFIERS or t in SPLIT_ALIASES or t in METRIC_ALIASES for t in middle):
        return None
    return "_".join(middle), measure


def normalize_columns(names: Iterable[str], default_split: str = "train") -> dict[str, tuple[str, str]]:
    """Normalise the metric names of one log together, using what the other names say.

    Two conventions need context. A split whose only loss is ``<part>_loss`` has it as its loss
    (``train_classification_loss`` → ``("train", "loss")``; several parts such as Ultralytics' ``box_loss``,
    ``cls_loss`` stay apart). And fastai's: its CSVLogger/recorder writes ``train_loss``,
    ``valid_loss`` and then the user's metrics bare (``accuracy``, ``error_rate``), and fastai computes
    those metrics on the validation set only. Keras writes bare names for *training* values (``loss``,
    ``accuracy``) next to their ``val_`` twins. So a bare metric is put on ``val`` when the log names its
    training loss explicitly (``train_loss``), names a validation loss, and logs no split-prefixed twin of the
    bare metric; otherwise it keeps ``default_split``. A log that names no split and no loss, with a task
    metric among its measures (accuracy, precision, recall, Dice…), is an evaluation's: all on ``val``.

    Args:
        names: the metric names of one log (bookkeeping names are skipped).
        default_split: as in :func:`normalize`.

    Returns:
        ``{original name: (split, metric)}`` for every name whose role is ``metric``.
    """
    metric_names = [n for n in names if role(n) == "metric"]
    read = {n: normalize(n, default_split) for n in metric_names}
    _loss_parts_beside_the_loss(read, default_split)
    _unique_part_loss_is_the_loss(read)
    explicit = {n for n in metric_names if names_a_split(n)}
    if _has_train_and_val_loss(read, metric_names, explicit):
        _bare_metrics_on_val(read, metric_names, explicit, default_split)
    _evaluation_only(read, explicit, default_split)
    _ranking_on_val(read, explicit, default_split)
    _bare_twins_apart(read, explicit)
    comparison_twins_apart(read)
    _step_twins_apart(read)
    box_group_apart(read)
    _set_losses_without_splits(read, default_split)
    return read


#: Names of held-out sets that measure something other than the fine-tuning target (off-target sets).
OFF_TARGET_WORDS: frozenset[str] = frozenset({
    "retention", "retain", "ood", "general", "generic", "benchmark", "bench", "old", "prev", "previous",
    "pretrain", "pretraining", "source", "upstream", "base", "control", "forget", "holdout_general",
    "mmlu", "hellaswag", "arc", "gsm8k", "wikitext",
})


def _set_losses_without_splits(read: dict[str, tuple[str, str]], default_split: str) -> None:
    """A loss read as a named held-out set's (``co-RMS-loss`` → set ``co``, ``semantic_loss``) in a log with no
    training series and no validation or test series at all is the training loss of a loop that names its
    objective, not a held-out set beside nothing. So are the named sets' losses of a log with a training series
    but no validation or test series, when those sets log nothing but losses and none names an off-target
    evaluation (:data:`OFF_TARGET_WORDS`: ``retention``, ``ood``…) (a physics-informed network's
    ``train_loss`` beside ``dynamics_loss`` and ``initial_omega_loss``: the terms of its objective), read as the
    training set's ``dynamics_loss``. Changes ``read`` in place."""
    canonical = set(SPLIT_ALIASES.values())
    held = {sp for sp, _ in read.values() if sp in canonical and sp != "train" and sp != default_split}
    named = {sp for sp, _ in read.values() if sp not in canonical and sp != default_split}
    has_train = any(sp == "train" or sp == default_split for sp, _ in read.values())
    if held or not named:
        return
    if not has_train:
        for n, (_, metric) in read.items():
            if "loss" in metric.split("_"):
                read[n] = (default_split, metric)
        return
    if not named & OFF_TARGET_WORDS and all("loss" in metric.split("_") for sp, metric in read.values()
                                            if sp in named):
        for n, (sp, metric) in read.items():
            if sp in named:
                read[n] = (default_split, f"{sp}_{metric}")


def box_group_apart(read: dict[str, tuple[str, str]]) -> None:
    """A segmenter's or pose model's Ultralytics ``results.csv`` logs each measure twice, for its box group
    (``metrics/mAP50-95(B)``) and for its task (``(M)`` mask, ``(P)`` pose): both read as the same series would
    interleave into one curve, so the box group's is read as ``box_<metric>`` (as the console reader names it) and
    the task's keeps the name. Changes ``read`` in place."""
    marked = {n: n.strip()[:-3] for n in read if _TASK_MARK.search(n.strip().lower())}
    tasks = {base for n, base in marked.items() if not n.strip().lower().endswith("(b)")}
    for n, base in marked.items():
        if n.strip().lower().endswith("(b)") and base in tasks:
            split, metric = read[n]
            read[n] = (split, f"box_{metric}")


def step_twins(names: Iterable[str]) -> set[str]:
    """The names among ``names`` that are the per-step twin of a logged epoch mean: Lightning's ``self.log(...,
    on_step=True, on_epoch=True)`` logs ``<name>_step`` (every batch) and ``<name>_epoch`` (the epoch mean) — in
    its CSVLogger, TensorBoard and every other logger. Both read as the same series and would interleave into one
    curve; the readers keep such a ``_step`` (or ``/step``) name apart as ``<metric>_step`` and the epoch means
    are the curve."""
    names = list(names)
    low = {n.lower() for n in names}
    out = set()
    for n in names:
        ln = n.lower()
        for step_suffix, epoch_suffix in (("_step", "_epoch"), ("/step", "/epoch")):
            if ln.endswith(step_suffix) and ln[: -len(step_suffix)] + epoch_suffix in low:
                out.add(n)
    return out


def _step_twins_apart(read: dict[str, tuple[str, str]]) -> None:
    """:func:`step_twins` read as ``<metric>_step``. Changes ``read`` in place."""
    for n in step_twins(read):
        split, metric = read[n]
        read[n] = (split, f"{metric}_step")


def _loss_parts_beside_the_loss(read: dict[str, tuple[str, str]], default_split: str) -> None:
    """``<word> loss`` read as the loss of a held-out set named ``<word>`` is a term of the training loss when the
    log also has a bare loss (no split named) and ``<word>`` names no other measure: HRNet's ``Loss: 11.6,
    Semantic loss: 3.5, IC loss: 8.1`` (the total and its parts), where ``ood_loss`` beside ``ood_acc`` stays a
    held-out set. Changes ``read`` in place."""
    if not any(v == (default_split, "loss") and not names_a_split(n) for n, v in read.items()):
        return  # (a bare total; beside an explicit ``train_loss``, ``retention_loss`` may well be a held-out set)
    by_set: dict[str, list[str]] = {}
    for split, metric in read.values():
        by_set.setdefault(split, []).append(metric)
    for n, (split, metric) in list(read.items()):
        if metric == "loss" and split not in SPLIT_ALIASES.values() and by_set[split] == ["loss"] \
                and not names_a_split(n):
            read[n] = (default_split, f"{split}_loss")


def _is_comparison(name: str) -> bool:
    """The name holds a "<split> vs <split>" comparison title (:func:`_drop_comparison`)."""
    toks = _tokens(name)
    return _drop_comparison(toks) != toks


def comparison_twins_apart(read: dict[str, tuple[str, str]]) -> None:
    """A name read as the same series as an ``add_scalars`` comparison title's curve (PyTorch's tutorial logs
    ``Loss/train`` every 1,000 batches beside ``Training vs. Validation Loss`` once an epoch) is kept apart as
    ``other_<metric>``: the comparison's curves share the epochs of its held-out curve, and merged, the two would
    interleave into one curve with repeated steps. Changes ``read`` in place."""
    titled = {read[n] for n in read if _is_comparison(n)}
    for n, (split, metric) in list(read.items()):
        if (split, metric) in titled and not _is_comparison(n):
            read[n] = (split, f"other_{metric}")


def _bare_twins_apart(read: dict[str, tuple[str, str]], explicit: set[str]) -> None:
    """A bare name read as the same series as a split-named one (nanoGPT prints ``loss`` every iteration and
    ``train loss`` at each evaluation) is kept apart as ``bare_<metric>``: merged, the two would interleave into
    one curve with repeated steps. The split-named one keeps the series. Changes ``read`` in place."""
    named = {read[n] for n in explicit if n in read}
    for n, (split, metric) in list(read.items()):
        if n not in explicit and (split, metric) in named:
            read[n] = (split, f"bare_{metric}")


def names_a_split(name: str) -> bool:
    """True when the name's first or last token is a split alias (``val_loss``, ``loss_val``, ``eval/acc``)."""
    return bool(_tokens(name)) and _has_split_token(_tokens(name))


def _has_train_and_val_loss(read: Mapping[str, tuple[str, str]], metric_names: list[str],
                            explicit: set[str]) -> bool:
    """The log names its training loss explicitly (``train_loss``) and names a validation loss."""
    has_train_loss = any(read[n] == ("train", "loss") and n in explicit for n in metric_names)
    has_val_loss = any(read[n] == ("val", "loss") for n in metric_names)
    return has_train_loss and has_val_loss


#: Ranking measures at a cut-off (``HR@10``, ``NDCG@20``, ``Recall@50``, ``MRR@10``): a recommender's or a
#: retriever's evaluation of held-out interactions, never of its training pairs.
_RANKING_AT_K = re.compile(r"^(?:hr|hit|hits|ndcg|recall|mrr|map|r)@\d+$")


def ranking_at_k(metric: str) -> bool:
    """Whether ``metric`` (lower case, no split) is a ranking measure at a cut-off: ``ndcg@10``, ``hr@5``,
    ``recall@20`` — what a recommender computes on held-out interactions (:func:`_ranking_on_val`)."""
    return _RANKING_AT_K.match(metric.strip()) is not None


def _ranking_on_val(read: dict[str, tuple[str, str]], explicit: set[str], default_split: str) -> None:
    """Put bare ranking measures at a cut-off (:data:`_RANKING_AT_K`) on ``val`` (in place) when the log names no
    validation twin of them: ``Epoch 45/200  loss=0.1252  HR@10: 0.6978  NDCG@10: 0.4106`` evaluates on
    held-out interactions (the training loss stays the training split's); a test twin (``Test NDCG@10: 0.0503``
    printed once after training) does not stop it."""
    if default_split != "train":
        return
    twins = {read[n][1] for n in explicit if n in read and read[n][0] == "val"}
    for n, (sp, m) in list(read.items()):
        if n not in explicit and sp == default_split and ranking_at_k(m) and m not in twins:
            read[n] = ("val", m)


def _evaluation_only(read: dict[str, tuple[str, str]], explicit: set[str], default_split: str) -> None:
    """Put every metric on ``val`` (in place) when no name says a split, none is a loss and one is a task metric
    (:func:`task_metric_rank`) or a measure only an evaluation computes (:data:`EVALUATION_MEASURES`: FID…): a
    log of accuracy, precision and recall (``epoch:1 Accuracy:71.0  Average precision:74.8  Average
    recall:69.3``), of a Dice per checkpoint or of a DDPM's FID, without a loss, is an evaluation's — a training
    loop logs its loss. Only for the training default (a reader that knows the
    split, such as a ``valid.log``, has said it)."""
    if explicit or not read or default_split != "train":
        return
    if any(m == "loss" or m.endswith("_loss") or m.startswith("loss_") or m in ("perplexity", "nll")
           for _, m in read.values()):
        return
    if not any(task_metric_rank(m) < 4 or EVALUATION_MEASURES & set(m.split("_")) for _, m in read.values()):
        return
    for n, (_, m) in list(read.items()):
        read[n] = ("val", m)


#: Measures only an evaluation computes: a generative model's Fréchet Inception Distance and Kernel Inception
#: Distance against a reference set (``Epoch: 5, iter: 7590, FID: 361.9``), a recommender's ranking measures over
#: held-out interactions. A log of them without a split name or a loss is an evaluation's (:func:`_evaluation_only`).
EVALUATION_MEASURES: frozenset[str] = frozenset({"fid", "kid", "ndcg", "mrr"})


def _bare_metrics_on_val(read: dict[str, tuple[str, str]], metric_names: list[str], explicit: set[str],
                         default_split: str) -> None:
    """Put on ``val`` each bare metric on ``default_split`` with no split-prefixed twin (fastai), in place."""
    twins = {read[n][1] for n in explicit}
    for n in metric_names:
        if n not in explicit and read[n][0] == default_split and read[n][1] not in twins:
            read[n] = ("val", read[n][1])


def _unique_part_loss_is_the_loss(read: dict[str, tuple[str, str]]) -> None:
    """A split whose only loss is ``<part>_loss`` (``train_classification_loss``) has that as its loss.

    Detectors look for ``(split, "loss")``; a log that names its only objective ``classification_loss`` would
    otherwise have none. Several parts (Ultralytics ``box_loss``/``cls_loss``/``dfl_loss``) stay as they are.
    Changes ``read`` in place.
    """
    by_split: dict[str, list[str]] = {}
    for n, (split, metric) in read.items():
        if metric == "loss" or metric.endswith("_loss"):
            by_split.setdefault(split, []).append(n)
    for names in by_split.values():
        if len(names) == 1 and read[names[0]][1] != "loss":
            read[names[0]] = (read[names[0]][0], "loss")


def _has_split_token(tokens: list[str]) -> bool:
    return tokens[0] in SPLIT_ALIASES or (len(tokens) > 1 and tokens[-1] in SPLIT_ALIASES)


def resolve_monitor_name(spec: str, logged: Iterable[str]) -> tuple[str, str] | None:
    """``(split, metric)`` of a logged name that a ``--monitor`` value names exactly, else None.

    ``--monitor accuracy`` on a Keras log means the column ``accuracy`` as logged (training accuracy), not
    ``val/acc``: an exact (case-insensitive) match with an original name wins over normalisation.
    """
    want = spec.strip().lower()
    for n in logged:
        if n.strip().lower() == want and role(n) == "metric":
            return normalize(n)
    return None


#: Task metrics by preference when a run logs several (lower decides first). Ultralytics selects its best
#: checkpoint by fitness = 0.1 mAP50 + 0.9 mAP50-95, so mAP50-95 comes before mAP50, and both before precision
#: and recall, which trade off against each other along the confidence threshold.
#: Suffixes of hand-written Keras metric functions after the measure's name (``dice_coef``, ``iou_score``,
#: ``f1_score``, ``jaccard_index``, the widespread ``precision_m``/``recall_m``/``f1_m``): part of the measure,
#: never a measure or an evaluation set of their own (:func:`gapwatch.monitor.role_of`).
MEASURE_SUFFIXES: frozenset[str] = frozenset({"coef", "coefficient", "score", "metric", "m", "index", "value"})
_MEASURE_SUFFIX = rf"(_({'|'.join(sorted(MEASURE_SUFFIXES))}))?"
_TASK_RANKS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (0, re.compile(r"^map(50_95|_0_5_0_95|_50_95)?$")),
    (1, re.compile(r"^map(50|_0_5|_50|75|_0_75)$")),
    (2, re.compile(r"(^|_)(f1|acc|wer|cer|bleu|sacrebleu|rouge\w*|exact_match|em|dice|iou|io_u|miou|m_iou|"
                   r"jaccard|jacard|dsc|auc|mcc|matthews_correlation|spearman\w*|pearson\w*|r2|r|corr|corrcoef|"
                   r"correlation)"
                   rf"{_MEASURE_SUFFIX}$")),
    (3, re.compile(rf"(^|_)(precision|recall){_MEASURE_SUFFIX}$")),
)


def task_metric_rank(metric: str) -> int:
    """Preference of a canonical task metric when several are logged: 0 (decides first) … 4 (anything else).

    ``map50_95`` 0, ``map50`` 1, accuracy/F1/WER/BLEU/ROUGE/Dice/IoU… 2, precision and recall 3. For the
    monitor's choice among several task metrics; the user's ``--monitor`` and a logged ``best_metric`` always
    win over it.
    """
    for rank, pat in _TASK_RANKS:
        if pat.search(metric):
            return rank
    return len(_TASK_RANKS)


def logged_name_key(history: History, spec: str) -> tuple[str, str] | None:
    """``(split, metric)`` under which ``history`` stored the series logged as ``spec`` (case-insensitive), or
    None when no series of that original name was kept or when it maps to several.

    ``--monitor accuracy`` on a log with a column ``accuracy`` should monitor that column, whatever split the
    reader gave it (``train`` in Keras, ``val`` in fastai): resolve the user's words against the original names
    before normalising them.
    """
    want = spec.strip().lower()
    hit = {(split, metric) for _, _, name, split, metric in _first_rows(history) if name.strip().lower() == want}
    return hit.pop() if len(hit) == 1 else None


def is_measure(name: str) -> bool:
    """Whether a logged name names a measure of the model (a loss — also BasicSR's ``l_pix``, ``l_g_gan`` — a
    metric of :data:`METRIC_ALIASES`: accuracy, F1, WER…, or a measure of the direction table: ``mAP``, ``MAE``,
    ``ndcg@10``), as opposed to any other number a log may hold (``Speed``, ``samples``, ``lr``)."""
    low = name.lower()
    toks = _unglue([t for t in re.split(r"[\s_/.\-]+", _CAMEL.sub("_", name.strip()).lower()) if t])
    if toks and toks[0] in SPLIT_ALIASES:
        toks = toks[1:]
    # (BasicSR's loss terms: ``l_pix``, ``l_g_percep``, ``l_d_real``)
    if "loss" in low or any(t in _MEASURE_WORDS for t in toks) or (len(toks) >= 2 and toks[0] == "l"):
        return True
    # the measures of the direction table (``mAP``, ``val_AP``, ``MAE``, ``ndcg@10``; ``CrossEntropy``)
    return any(t in _MIN_TOKENS or _MAX_TOKEN_RE.match(t) is not None or t.startswith(_MEASURE_PREFIXES)
               or _AT_K.match(t) is not None or t in ("crossentropy", "xent") for t in toks) \
        or ("cross" in toks and "entropy" in toks)


def describe(name: str, default_split: str = "train") -> dict[str, str | None]:
    """How one logged name is read: ``{"name", "role", "split", "metric", "mode"}``.

    ``split``, ``metric`` and ``mode`` are None unless the role is ``metric``.
    """
    r = role(name)
    if r != "metric":
        return {"name": name, "role": r, "split": None, "metric": None, "mode": None}
    split, metric = normalize(name, default_split)
    return {"name": name, "role": r, "split": split, "metric": metric, "mode": metric_mode(metric)}


def _first_rows(h: History) -> list[tuple[int, str, str, str, str]]:
    """``(first row, run, original name, split, metric)`` of every logged name of ``h``, in order of first
    appearance (:meth:`gapwatch.history.History.name_first_rows`: the analysis JSON asks this of every run of a
    sweep)."""
    return h.name_first_rows()


def series_table(source: History | Iterable[str] | Mapping[str, object],
                 default_split: str = "train") -> list[dict[str, str | None]]:
    """Every series of a log as read: original name → split, metric, mode, role (issue 12, item 8).

    Args:
        source: a :class:`~gapwatch.history.History` (its series, as the readers stored them, with their
            original names, plus the non-metric names a reader listed in the run's meta under
            ``"logged_names"``) or the names of a log (an iterable of column names/tags, or a mapping keyed by
            them) — names show every role, including the bookkeeping, schedule and signal names that never
            become series.
        default_split: split of bare names when ``source`` is names.

    Returns:
        One dict per name, in order of first appearance: ``{"name", "role", "split", "metric", "mode"}``
        (``run`` is added for a History). ``split``/``metric``/``mode`` are None for non-metric roles.
    """
    from .history import History  # runtime import: history imports this module

    if isinstance(source, History):
        rows: list[dict[str, str | None]] = []
        seen: set[tuple[str, str]] = set()
        for _, run, name, split, metric in _first_rows(source):
            seen.add((run, name))
            rows.append({"run": run, "name": name, "role": "metric", "split": split, "metric": metric,
                         "mode": metric_mode(metric)})
        # names a reader saw but did not keep (bookkeeping, schedule, signal), when it recorded them, and the
        # schedule series it kept aside (gapwatch.schedule)
        for run in source.runs():
            meta = source.meta.get(run, {})
            listed, kept = meta.get("logged_names"), meta.get("schedule")
            logged = [*(listed if isinstance(listed, (list, tuple)) else ()),
                      *(kept if isinstance(kept, Mapping) else ())]
            for name in logged:
                if (run, str(name)) not in seen and role(str(name)) != "metric":
                    seen.add((run, str(name)))
                    rows.append({"run": run, **describe(str(name))})
        return rows
    names = list(source.keys()) if isinstance(source, Mapping) else list(source)
    read = normalize_columns([str(n) for n in names], default_split)
    out: list[dict[str, str | None]] = []
    for n in dict.fromkeys(str(x) for x in names):
        d = describe(n, default_split)
        if n in read:
            d["split"], d["metric"] = read[n]
            d["mode"] = metric_mode(read[n][1])
        out.append(d)
    return out
