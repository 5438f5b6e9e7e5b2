"""Which series decides a run: the one owner of the monitor decision.

:func:`decide` picks the held-out series that decides a run's verdict, best point, restore point and stop, and
records *why* (:class:`MonitorDecision`). Every consumer asks it: the analysis, every detector (through
:func:`gapwatch.detectors._common.monitor_or_none`), the forecast, the live guard and replay.

Sources of intent, first match wins:

1. the series the caller asks for (``--monitor``, ``Guard(monitor=…)``);
2. the series a live guard's log names in its header;
3. Hugging Face ``trainer_state.json``: ``best_metric`` matched to the evaluation series that holds that value
   at ``best_global_step`` (or the step of ``best_model_checkpoint``), then ``metric_for_best_model`` /
   ``greater_is_better`` when the run's metadata has them as plain JSON (``training_args.bin`` is never
   unpickled). A ``best_metric`` that matches the evaluation *loss* while a task metric is logged beside it
   and no argument names the loss is the Trainer's default (it selects by the loss whenever
   ``metric_for_best_model`` is unset), not a choice: the task metric decides (5.), and the reason says so;
4. a Lightning ``ModelCheckpoint`` / ``EarlyStopping`` ``monitor`` (and ``mode``) found in the logged
   hyperparameters (``hparams.yaml``);
5. the **task metric** of the validation set (accuracy, F1, WER/CER, BLEU, ROUGE, mAP, dice/IoU, pass@k,
   reward…; :data:`TASK_MEASURES`, in that order of preference) — the loss is then evidence;
6. the validation loss, then any other validation metric;
7. the same on ``test`` (only when ``allow_test``; the analysis then warns that test data takes decisions).

Per-task accuracies of a continual-learning log (two or more series that :func:`~gapwatch.detectors._common.
task_series` recognises) never decide: a drop of an earlier task is forgetting or a stability gap, judged by
the ``stability_gap`` detector. A run that holds only such series has no monitor (:class:`NoMonitorError`)
unless the caller names one.

Why the task metric and not the loss: the held-out loss and the task metric disagree on real fine-tuning runs
(the loss rises through growing over-confidence while the metric still improves) — "The Hyperfitting
Phenomenon" (2024) and "Rethinking Fine-Tuning when Scaling Test-Time Compute: Limiting Confidence" (2025)
describe it; selecting by the loss then restores a worse model. The disagreement itself is reported by the
``metric_disagreement`` detector.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, overload

import numpy as np

from .errors import InputError, UsageError
from .history import History
from .names import (
    MEASURE_SUFFIXES,
    METRIC_ALIASES,
    OFF_TARGET_WORDS,
    QUALIFIERS,
    metric_mode,
    normalize,
    task_metric_rank,
)

Mode = Literal["min", "max"]

#: Held-out splits that may decide, in order of preference. ``test`` is last on purpose: decisions must be
#: taken on validation data; test is only used when nothing else is logged (and ``allow_test``).
HELDOUT_PREFERENCE: tuple[str, ...] = ("val", "test")
#: Non-task metrics in order of preference (used when no task metric is logged).
METRIC_PREFERENCE: tuple[str, ...] = ("loss", "acc", "error", "perplexity")

#: Measures that are a *loss* (a training objective, not what the user reports). Canonical names after
#: :func:`gapwatch.names.normalize`.
LOSS_MEASURES: frozenset[str] = frozenset({"loss", "perplexity", "bpb", "bpc", "cross_entropy", "ce"})
#: Task-metric measures in order of preference when several are logged (token-classification logs F1 and
#: accuracy: F1 is the one reported; a segmentation run logs Dice or IoU beside its pixel accuracy, which the
#: background class dominates: the overlap measure is the one reported). Matched against the last token of the
#: measure, or its prefix for the families ``rouge1``/``rougel``, ``map50``, ``pass@1``/``pass_1``, ``top5``.
TASK_MEASURES: tuple[str, ...] = (
    "wer", "cer", "ter", "f1", "dice", "iou", "miou", "jaccard", "acc", "top", "exact_match", "em", "bleu",
    "sacrebleu", "chrf", "rouge", "meteor", "map", "ap", "pass", "reward", "return", "success", "auc", "mcc",
    "matthews_correlation", "kappa", "pearson", "spearmanr", "spearman", "r2", "precision", "recall",
    "sensitivity", "specificity", "ndcg", "mrr", "hit", "error", "mae", "rmse", "mse", "mape", "brier",
    # smaller-is-better task measures of segmentation (Hausdorff distance), landmarks (normalised mean error),
    # optical flow (end-point error), trajectories (average/final displacement), generation (FID, LPIPS)
    "hausdorff", "hd95", "nme", "epe", "ade", "fde", "fid", "lpips", "psnr", "ssim", "score",
)
#: Words after a measure that refine it (``f1_macro``, ``iou_mean``, ROUGE's ``rougeL_fmeasure`` and
#: ``rougeLsum``) or name a metric function (:data:`gapwatch.names.MEASURE_SUFFIXES`: ``dice_coef``): part of
#: the measure, never a measure or an evaluation set of their own. A unit after a measure (``accuracy_percent``,
#: ``acc_pct``, ``Acc(%)``: :data:`UNIT_WORDS`) is one of them too: the measure is the accuracy, not "percent".
UNIT_WORDS: frozenset[str] = frozenset({"percent", "percentage", "pct", "perc", "%"})
TRAILING_WORDS: frozenset[str] = MEASURE_SUFFIXES | UNIT_WORDS | frozenset({
    "macro", "micro", "weighted", "samples", "mean", "avg", "average", "fmeasure", "lsum", "sum"})
#: Qualifiers that refine a measure rather than name a held-out set (``overall_f1``, ``top5_acc``,
#: ``pgd_acc``, Keras's ``binary_accuracy``, ``top_k_categorical_accuracy``): kept in the measure. Every
#: qualifier the name reader knows (:data:`gapwatch.names.QUALIFIERS`) is one.
MEASURE_QUALIFIERS: frozenset[str] = QUALIFIERS | frozenset({
    "overall", "macro", "micro", "weighted", "samples", "mean", "avg", "average", "exact", "token", "seq",
    "word", "char", "normalized", "norm", "strict", "clean", "robust", "adv", "natural", "top1", "top5",
    "top3", "top10", "balanced",
} | {  # parts of one loss (detection, segmentation, VAEs, auxiliary heads): ``val/box_loss`` is a part of the
    # validation loss, not the loss of a held-out set named "box"
    "box", "obj", "cls", "dfl", "seg", "bbox", "giou", "ciou", "mask", "rpn", "kpt", "kobj", "pose", "kl",
    "recon", "reconstruction", "classification", "regression", "ctc", "aux", "lm", "mlm", "contrastive",
    "distill", "distillation", "kd", "center", "angle", "l1", "objectness",
})
#: Attack-name prefixes of adversarial accuracies (a measure variant, not a set): ``pgd10_acc``, ``fgsm_acc``.
_ATTACK = re.compile(r"^(pgd|apgd|autoattack|aa|cw|fgsm|fgm|bim|mim|square)\d*$")
#: Lightning's suffix for metrics of the N-th validation dataloader (``val_loss/dataloader_idx_1``).
_DATALOADER = re.compile(r"^(.*?)_?dataloader_idx_(\d+)$")
#: Tolerance (relative) when matching HF ``best_metric`` to a logged value (both are float32 → JSON).
BEST_METRIC_RTOL = 1e-6


@dataclass(frozen=True)
class Monitor:
    """The monitored series: ``split``/``metric`` and ``mode`` (``"min"``: lower is better, or ``"max"``)."""

    split: str
    metric: str
    mode: Mode

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise UsageError(f"mode must be 'min' or 'max', got {self.mode!r}")

    @property
    def sign(self) -> float:
        """+1 for min, -1 for max: ``sign * value`` is always "lower is better"."""
        return 1.0 if self.mode == "min" else -1.0

    def to_dict(self) -> dict[str, str]:
        return {"split": self.split, "metric": self.metric, "mode": self.mode}

    @property
    def label(self) -> str:
        return f"{self.split}_{self.metric}"


@dataclass(frozen=True)
class SeriesRole:
    """What a held-out series measures, parsed from its canonical ``split``/``metric``.

    Attributes:
        split, metric: the series.
        heldout_set: the evaluation set: the split, plus a set qualifier when the metric carries one
            (``val``/``squad_f1`` → ``"val/squad"``; ``val``/``loss_dataloader_idx_1`` →
            ``"val/dataloader_idx_1"``).
        measure: the measure without the set qualifier (``"f1"``, ``"overall_f1"``, ``"pgd_acc"``,
            ``"loss"``).
        role: ``"loss"``, ``"task"`` (a task metric, :data:`TASK_MEASURES`) or ``"other"``.
        rank: preference among task metrics (index in :data:`TASK_MEASURES`; lower first).
        qualified: whether the measure carries a refining qualifier (``top5_acc``, ``pgd_acc``).
        off_target: whether the set names an off-target evaluation (:data:`OFF_TARGET_WORDS`).
    """

    split: str
    metric: str
    heldout_set: str
    measure: str
    role: str
    rank: int
    qualified: bool
    off_target: bool

    @property
    def mode(self) -> Mode:
        return cast(Mode, metric_mode(self.measure))

    def monitor(self) -> Monitor:
        return Monitor(self.split, self.metric, self.mode)


@dataclass(frozen=True)
class MonitorDecision:
    """The series that decides a run, and why.

    Attributes:
        monitor: the deciding series.
        reason: for people (``"HF best_metric 0.21 matches eval_wer at step 3000"``).
        source: machine-readable origin: ``requested``, ``guard_header``, ``hf_best_metric``,
            ``hf_metric_for_best_model``, ``lightning_hparams``, ``task_metric``, ``loss``,
            ``heldout_metric``.
        evidence: the other held-out series considered (the loss when a task metric decides, the same measure
            on the other held-out sets), deciding set first.
    """

    monitor: Monitor
    reason: str
    source: str
    evidence: tuple[Monitor, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``"monitor"`` object of the analysis JSON: ``split``, ``metric``, ``mode``, ``reason``,
        ``source`` and ``evidence`` (a list of ``{split, metric, mode}``)."""
        return {**self.monitor.to_dict(), "reason": self.reason, "source": self.source,
                "evidence": [m.to_dict() for m in self.evidence]}


class NoMonitorError(InputError):
    """The run has no series that may decide (no held-out series, or only per-task accuracies)."""


# ------------------------------------------------------------------------------------------------ parsing
@overload
def parse_monitor(spec: str, mode: str | None = None) -> Monitor: ...


@overload
def parse_monitor(spec: None, mode: str | None = None) -> None: ...


def parse_monitor(spec: str | None, mode: str | None = None) -> Monitor | None:
    """Parse ``--monitor`` values such as ``val_loss``, ``eval/accuracy`` or ``val:acc`` (``--mode``: ``min`` or
    ``max``, a str or a str enum; default from the metric's name); ``None`` when no monitor was named."""
    if spec is None:
        return None
    mode = str(getattr(mode, "value", mode)) if mode is not None else None
    if ":" in spec:
        split, metric = spec.split(":", 1)
        split, metric = normalize(f"{split}_{metric}", default_split=split)
    else:
        split, metric = normalize(spec, default_split="val")
    m = mode or metric_mode(role_of(split, metric).measure)
    if m not in ("min", "max"):
        raise UsageError(f"--mode must be 'min' or 'max', got {m!r}")
    return Monitor(split, metric, cast(Mode, m))


def _measure_family(token: str) -> int:
    """Index of ``token`` in :data:`TASK_MEASURES` (prefix families included), or -1."""
    for i, t in enumerate(TASK_MEASURES):
        if token == t:
            return i
    for i, t in enumerate(TASK_MEASURES):
        if t in ("rouge", "map", "pass", "bleu", "iou", "dice", "top") and token.startswith(t) and \
                (token[len(t):].isalnum() or token[len(t):].startswith("@")):
            return i
        # a cut-off or a k: acc5, acc@1, recall@10, ndcg@10, hit@10
        if t in ("acc", "recall", "precision", "ndcg", "hit", "mrr") and token.startswith(t) and \
                re.fullmatch(r"@?\d+", token[len(t):]):
            return i
    return -1


def role_of(split: str, metric: str) -> SeriesRole:
    """Parse a canonical ``split``/``metric`` into set, measure and role (see :class:`SeriesRole`)."""
    base, set_suffix = _dataloader_parts(metric)
    toks = [t for t in base.split("_") if t]
    k = _measure_start(toks)
    last = _head(toks[k:]) or (toks[-1] if toks else base)
    measure_toks, set_toks = toks[k:], toks[:k]
    measure = "_".join(measure_toks) or base
    if set_suffix:
        set_toks = [*set_toks, set_suffix]
    joined = "_".join(measure_toks)
    rank = TASK_MEASURES.index(joined) if joined in TASK_MEASURES else _measure_family(last)
    role = _role_name(joined if joined in LOSS_MEASURES else last, rank)  # (cross_entropy: one loss)
    heldout_set = split + ("/" + "_".join(set_toks) if set_toks else "")
    off = _is_off_target({split, *set_toks})
    return SeriesRole(split, metric, heldout_set, measure, role, rank if rank >= 0 else len(TASK_MEASURES),
                      len(measure_toks) > 1, off)


def _dataloader_parts(metric: str) -> tuple[str, str]:
    """``(base metric, set suffix)``: Lightning's ``<metric>_dataloader_idx_<n>`` names set ``n``."""
    m = _DATALOADER.match(metric)
    if m:
        return m.group(1) or "loss", f"dataloader_idx_{m.group(2)}"
    return metric, ""


def task_family(measure: str) -> str | None:
    """The :data:`TASK_MEASURES` word of a canonical measure (``dice_coef`` → ``dice``, ``top_k_categorical_acc``
    → ``acc``, ``map50_95`` → ``map``, ``acc@5`` → ``acc``), or None for a measure that is no task metric."""
    head = _head(measure.split("_"))
    i = _measure_family(METRIC_ALIASES.get(head, head)) if head else -1
    return TASK_MEASURES[i] if i >= 0 else None


def _head(measure_toks: list[str]) -> str | None:
    """The measure's head: its last token that is not a number (``map_0_5_0_95`` → ``map``) nor a trailing word
    after a known measure (:data:`TRAILING_WORDS`: ``dice_coef`` → ``dice``, ``f1_macro`` → ``f1``)."""
    words = [t for t in measure_toks if not t.isdigit()]
    if len(words) >= 2 and words[-1] in TRAILING_WORDS and _is_measure_word(words[-2]):
        return METRIC_ALIASES.get(words[-2], words[-2])
    return words[-1] if words else None


def _is_measure_word(token: str) -> bool:
    """A loss or a task measure's word, in any of its logged spellings (``accuracy``, ``acc``, ``loss``)."""
    t = METRIC_ALIASES.get(token, token)
    return t in LOSS_MEASURES or _measure_family(t) >= 0


def _measure_start(toks: list[str]) -> int:
    """Index of the measure's first token: the last token (with the numbers that follow it: ``map_0_5``; with the
    measure before a metric function's suffix: ``dice_coef``, ``iou_score``), plus the qualifiers that refine it
    (overall_f1, pgd_acc, exact_match, the loss parts box_loss, kl_loss)."""
    k = len(toks) - 1
    while k > 0 and toks[k].isdigit():  # numbers belong to the measure before them: map_0_5_0_95, rouge_1
        k -= 1
    if k > 0 and toks[k] in TRAILING_WORDS and _is_measure_word(toks[k - 1]):
        k -= 1  # dice_coef, f1_score, f1_macro, iou_mean: one measure, not set "dice" + measure "coef"
    while k > 0 and (toks[k - 1] in MEASURE_QUALIFIERS or _ATTACK.match(toks[k - 1])
                     or "_".join(toks[k - 1:]) in TASK_MEASURES or "_".join(toks[k - 1:]) in LOSS_MEASURES):
        k -= 1
    return k


def _preference(r: SeriesRole) -> int:
    """Preference among task metrics before :data:`TASK_MEASURES` order (:func:`gapwatch.names.task_metric_rank`):
    mAP50-95, then mAP50, then the others, precision and recall last (they trade off along the threshold)."""
    rank = task_metric_rank(r.measure)
    return 2 if rank > 3 else rank


def _role_name(last: str, rank: int) -> str:
    """``loss`` for a loss measure, ``task`` for a ranked task measure, else ``other``."""
    if last in LOSS_MEASURES:
        return "loss"
    if rank >= 0:
        return "task"
    return "other"


def _is_off_target(words: set[str]) -> bool:
    """True when a word of the set (or its first ``_`` part) is off-target."""
    return bool(words & OFF_TARGET_WORDS) or any(w.split("_")[0] in OFF_TARGET_WORDS for w in words)


# ------------------------------------------------------------------------------------------------ catalogue
def per_task_keys(history: History) -> set[tuple[str, str]]:
    """``(split, metric)`` of the per-task accuracies of a continual-learning log (empty unless ≥ 2 tasks)."""
    from .detectors._common import task_series  # (detectors import this module: import late)

    tasks = task_series(history)
    return {(s.split, s.metric) for s in tasks.values()} if len(tasks) >= 2 else set()


def heldout_roles(history: History) -> list[SeriesRole]:
    """Every held-out (not ``train``) series of a one-run History that may take part in a decision, in order
    of first appearance; continual-learning per-task accuracies excluded."""
    return history.memo("monitor.heldout_roles", lambda: _heldout_roles(history))


def _heldout_roles(history: History) -> list[SeriesRole]:
    skip = per_task_keys(history)
    pairs = history.keys()
    return [role_of(sp, m) for sp, m in pairs if sp != "train" and (sp, m) not in skip]


# ------------------------------------------------------------------------------------------------ decision
def decide(history_run: History, requested: Monitor | None = None, *,
           allow_test: bool = True) -> MonitorDecision:
    """Decide the series that judges one run (see the module docstring for the order of intent sources).

    Args:
        history_run: the History of one run.
        requested: the caller's explicit choice (``--monitor``); must be logged.
        allow_test: whether a ``test`` series may decide when no validation series exists (the live guard
            passes ``False``: it must not take decisions on test data).
    Raises:
        InputError: ``requested`` is not logged (the message lists what is).
        NoMonitorError: no series may decide; the message says what to log.
    """
    return history_run.memo(("monitor.decide", requested, allow_test),
                            lambda: _decide(history_run, requested, allow_test))


def _decide(history: History, requested: Monitor | None, allow_test: bool) -> MonitorDecision:
    if requested is not None:
        if requested.split == "train":
            raise InputError(
                f"monitor {requested.split}/{requested.metric} is a training series: overfitting is judged on a "
                "held-out one (validation or test). To read a series the log names without a split word as "
                f"held out, name it without one (--monitor {requested.metric})",
                path=history.source or None,
            )
        if not history.has(requested.split, requested.metric):
            have = ", ".join(history.names()) or "none"
            raise InputError(
                f"monitored metric {requested.split}/{requested.metric} was not logged in run "
                f"{history.name!r}; metrics found: {have}",
                path=history.source or None,
            )
        return _with_evidence(history, requested, "requested monitor (--monitor)", "requested")
    roles = heldout_roles(history)
    meta = history.meta.get(history.name, {})
    for source in (_from_guard_header, _from_hf, _from_lightning):
        found = source(history, meta, roles)
        if found is not None:
            mon, reason, src = found
            if allow_test or mon.split != "test":
                return _with_evidence(history, mon, reason, src)
    plausible = _may_decide(history, roles)
    for split in _split_order(roles):
        if split == "test" and not allow_test:
            break
        found = _by_name(plausible, split) or _by_name(roles, split)
        if found is not None:
            return _with_evidence(history, found[0], found[1], found[2])
    raise _no_monitor(history, allow_test)


#: Task measures whose values are a share (in [0, 1], or a percentage in [0, 100]): accuracy, F1, precision,
#: recall, Dice, IoU, Jaccard, AUC, mAP/AP, sensitivity, specificity, exact match, success rate.
BOUNDED_MEASURES: frozenset[str] = frozenset({
    "acc", "top", "f1", "precision", "recall", "dice", "iou", "miou", "jaccard", "auc", "map", "ap", "sensitivity",
    "specificity", "exact_match", "em", "success"})
#: Largest value of a share that is read as a fraction; above :data:`PERCENT_MIN_MAX` it is read as a percentage.
#: A share whose largest value lies between the two (a Keras ``F1_score`` of 1.06) is neither: a broken metric.
FRACTION_MAX = 1.0 + 1e-6
PERCENT_MIN_MAX = 2.0


#: Evaluations a task measure or a loss needs for a one-off task measure of the same split (a final ``Macro F1
#: Score: 0.73`` line after a run that printed its accuracy, or its loss, every epoch) to give way to it.
MIN_CURVE_EVALUATIONS = 3


def zero_accuracy(metric: str, values: np.ndarray) -> bool:
    """Whether ``values`` of the accuracy-family measure ``metric`` are exactly 0 at every one of three or more
    finite evaluations: no classifier scores 0 on every example (even a random guess is right sometimes), so it
    is a regression script's printed ``Train Acc: 0.00% | Val Acc: 0.00%`` — a broken measure that neither
    decides (:func:`_may_decide`) nor says a run is stuck (``underfitting``)."""
    if task_family(metric) != "acc" or int(np.count_nonzero(np.isfinite(values))) < 3:
        return False
    return float(np.fmin.reduce(values)) == float(np.fmax.reduce(values)) == 0.0  # (NaN ignored; no copy)


#: A top-k accuracy with k ≥ 2 (``top5_acc``, ``top3_acc``): only a classifier's evaluation logs one.
_TOP_K_ACC = re.compile(r"^top(?:[2-9]|[1-9]\d)_acc")


def _may_decide(history: History, roles: list[SeriesRole]) -> list[SeriesRole]:
    """``roles`` without the task measures that must not decide while another can: a share
    (:data:`BOUNDED_MEASURES`) with values no share can take — below 0, above 100, or above 1 while never above
    :data:`PERCENT_MIN_MAX` (a hand-written batch-averaged F1 that reaches 1.06) — and, while another task measure
    of the same split varies, one that holds a single value at every one of three or more evaluations (an
    ``eval_f1`` of 0 throughout beside an accuracy that climbs is a broken metric; a mAP of exactly 0 beside
    nothing else that moves is a detector that never learned, and decides), and one measured once while another
    task measure or the loss of the same split has :data:`MIN_CURVE_EVALUATIONS` evaluations or more (a closing
    report's ``Macro F1``, ``MAE``: one number is no curve, the loss's curve decides). An accuracy of exactly 0 at
    every one of three or more evaluations never decides, even alone: no classifier scores 0 on every example, so
    it is a regression script's ``Train Acc: 0.00% | Val Acc: 0.00%`` (the loss decides) — unless the same split
    logs a top-k accuracy (k ≥ 2: Ultralytics classify's ``metrics/accuracy_top5``), which only a classifier's
    evaluation has: there 0 is every example wrong, and it decides."""
    broken: set[int] = set()
    constant: set[int] = set()
    counts: dict[int, int] = {}
    # a split that logs a top-k accuracy (Ultralytics classify's accuracy_top5) evaluates a classifier: its top-1
    # accuracy of exactly 0 is a measurement (every image wrong), not a regression script's placeholder
    classified = {r.split for r in roles if r.role == "task" and _TOP_K_ACC.match(r.measure)}
    for r in roles:
        if r.role != "task":
            continue
        v = history.series(r.split, r.metric).values
        if v.size == 0:
            continue
        counts[id(r)] = int(np.count_nonzero(np.isfinite(v)))
        lo, hi = float(np.fmin.reduce(v)), float(np.fmax.reduce(v))  # (NaN ignored; no copy of a long series)
        if math.isnan(lo):
            continue
        impossible = task_family(r.measure) in BOUNDED_MEASURES and (
            lo < 0 or hi > 100 + 1e-6 or FRACTION_MAX < hi <= PERCENT_MIN_MAX)
        if impossible or (lo == hi == 0.0 and r.split not in classified and zero_accuracy(r.measure, v)):
            broken.add(id(r))
        elif lo == hi and int(np.count_nonzero(np.isfinite(v))) >= 3:
            constant.add(id(r))
    varying = {r.split for r in roles if r.role == "task" and id(r) not in broken and id(r) not in constant}
    curves = {r.split for r in roles if r.role == "task" and counts.get(id(r), 0) >= MIN_CURVE_EVALUATIONS}
    curves |= {r.split for r in roles if r.role == "loss" and int(np.count_nonzero(np.isfinite(
        history.series(r.split, r.metric).values))) >= MIN_CURVE_EVALUATIONS}
    broken |= {id(r) for r in roles if r.role == "task" and counts.get(id(r), 0) == 1 and r.split in curves}
    return [r for r in roles if id(r) not in broken and not (id(r) in constant and r.split in varying)]


def _no_monitor(history: History, allow_test: bool) -> NoMonitorError:
    have = ", ".join(history.names()) or "none"
    if per_task_keys(history):
        return NoMonitorError(
            f"run {history.name!r} logs only per-task accuracies (a continual-learning log): they are judged "
            "together by the stability_gap detector and none of them decides the run alone. Pass --monitor "
            f"NAME to judge one of them as a single curve. Metrics found: {have}",
            path=history.source or None)
    pairs = history.keys()
    if not allow_test and any(sp == "test" for sp, _ in pairs):
        return NoMonitorError(
            f"run {history.name!r} logs only test metrics; decisions must be taken on a validation set. Log "
            f"one (e.g. 'val_loss') or name the monitor explicitly. Metrics found: {have}",
            path=history.source or None)
    return NoMonitorError(
        f"run {history.name!r} has no validation series. Log a held-out metric such as 'val_loss' or "
        f"'eval_loss' (HF: set eval_strategy), or pass --monitor NAME. Metrics found: {have}",
        path=history.source or None)


def _split_order(roles: list[SeriesRole]) -> list[str]:
    """``val``; then named held-out sets that are not off-target and log a loss or task metric (Hugging Face
    ``eval_<set>_loss`` with no plain ``eval_loss``), in order of appearance; then ``test``."""
    named = [r.split for r in roles if r.split not in HELDOUT_PREFERENCE and not r.off_target
             and r.role in ("loss", "task")]
    return [HELDOUT_PREFERENCE[0], *dict.fromkeys(named), *HELDOUT_PREFERENCE[1:]]


def _by_name(roles: list[SeriesRole], split: str) -> tuple[Monitor, str, str] | None:
    """The task metric of ``split`` (plain set before qualified sets, then :data:`TASK_MEASURES` order, plain
    measure before a qualified one), else its loss, else another of its metrics."""
    cands = [r for r in roles if r.split == split]
    if not cands:
        return None
    order = {id(r): i for i, r in enumerate(cands)}
    tasks = [r for r in cands if r.role == "task"]
    if tasks:
        return _by_task_metric(cands, tasks, split, order)
    found = _by_preferred_metric(cands, split)
    if found is not None:
        return found
    plain = min(cands, key=lambda r: (r.heldout_set != split, order[id(r)]))
    why = f"{split} {plain.metric} (the only kind of held-out metric logged)"
    return plain.monitor(), why, "heldout_metric"


def _by_task_metric(cands: list[SeriesRole], tasks: list[SeriesRole], split: str,
                    order: dict[int, int]) -> tuple[Monitor, str, str]:
    """The best task metric of ``split``'s candidates, named beside its set's loss when logged."""
    losses = [r for r in cands if r.role == "loss"]
    best = min(tasks, key=lambda r: (r.heldout_set != split, r.off_target, _preference(r), r.rank, r.qualified,
                                     order[id(r)]))
    beside = next((loss for loss in losses if loss.heldout_set == best.heldout_set), None)
    where = ("" if split == "val" else " on the test split (no validation split)" if split == "test"
             else f" on the {split} set (no plain validation split)")
    why = (f"task metric {best.metric} beside {beside.metric}" if beside is not None
           else f"task metric {best.metric}")
    return best.monitor(), why + where, "task_metric"


def _by_preferred_metric(cands: list[SeriesRole], split: str) -> tuple[Monitor, str, str] | None:
    """The first of ``split``'s candidates in :data:`METRIC_PREFERENCE` order (its loss first), else None."""
    for metric in METRIC_PREFERENCE:
        for r in cands:
            if r.metric == metric:
                what = "validation loss" if split == "val" else f"{split} loss"
                if metric == "loss":
                    return r.monitor(), f"{what} (no task metric)", "loss"
                return r.monitor(), f"{split} {metric} (no task metric, no loss)", "heldout_metric"
    return None


def _with_evidence(history: History, mon: Monitor, reason: str, source: str) -> MonitorDecision:
    """Attach the evidence series: the deciding set's loss/task metrics, then the same measure elsewhere."""
    me = role_of(mon.split, mon.metric)
    ev: list[Monitor] = []
    for r in heldout_roles(history):
        if (r.split, r.metric) == (mon.split, mon.metric) or r.role == "other":
            continue
        if r.split == "test" and mon.split != "test":
            continue
        same_set = r.heldout_set == me.heldout_set
        if same_set or r.measure == me.measure:
            ev.append(r.monitor())
    ev.sort(key=lambda m: role_of(m.split, m.metric).heldout_set != me.heldout_set)
    return MonitorDecision(mon, reason, source, tuple(ev))


# -------------------------------------------------------------------------------------------- intent sources
_Found = tuple[Monitor, str, str]


def _from_guard_header(history: History, meta: Mapping[str, Any], roles: list[SeriesRole]) -> _Found | None:
    logged = meta.get("monitor")
    if not isinstance(logged, str) or not logged:
        return None
    mode = meta.get("monitor_mode")
    try:
        own = parse_monitor(logged, mode if mode in ("min", "max") else None)
    except UsageError:
        return None
    if not history.has(own.split, own.metric):
        return None
    return own, f"guard log header names {logged}", "guard_header"


def _checkpoint_step(hf: Mapping[str, Any]) -> float | None:
    step = hf.get("best_global_step")
    if isinstance(step, (int, float)) and not isinstance(step, bool):
        return float(step)
    ckpt = hf.get("best_model_checkpoint")
    if isinstance(ckpt, str):
        m = re.search(r"checkpoint-(\d+)/*$", ckpt.strip())
        if m:
            return float(m.group(1))
    return None


def _hf_args(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``metric_for_best_model`` / ``greater_is_better`` wherever a reader put them as plain JSON: the HF
    metadata itself, or its ``training_args`` / ``args`` sub-dict (a ``training_args.json``)."""
    out: dict[str, Any] = {}
    hf = meta.get("hf")
    places: list[Mapping[str, Any]] = []
    if isinstance(hf, Mapping):
        places += [hf, *(v for k in ("training_args", "args") if isinstance(v := hf.get(k), Mapping))]
    places += [v for k in ("training_args", "args") if isinstance(v := meta.get(k), Mapping)]
    for p in places:
        for k in ("metric_for_best_model", "greater_is_better"):
            if k in p and k not in out and p[k] is not None:
                out[k] = p[k]
    return out


def _from_hf(history: History, meta: Mapping[str, Any], roles: list[SeriesRole]) -> _Found | None:
    hf = meta.get("hf")
    if not isinstance(hf, Mapping):
        return None
    args = _hf_args(meta)
    gib = args.get("greater_is_better")
    best = hf.get("best_metric")
    if isinstance(best, (int, float)) and not isinstance(best, bool) and math.isfinite(best):
        hit = _match_best_metric(history, roles, float(best), _checkpoint_step(hf), args)
        if hit is not None:
            r, where = hit
            if r.role == "loss" and "metric_for_best_model" not in args:
                task = _task_metric_beside(history, roles, r, best, where)
                if task is not None:
                    return task
            mode: Mode = ("max" if gib else "min") if isinstance(gib, bool) else r.mode
            return (Monitor(r.split, r.metric, mode),
                    f"HF best_metric {best:.6g} matches {_logged_name(history, r)}{where}", "hf_best_metric")
    name = args.get("metric_for_best_model")
    if isinstance(name, str) and name:
        full = _hf_eval_name(name)
        sp, m = normalize(full, default_split="val")
        if history.has(sp, m):
            mode = ("max" if gib else "min") if isinstance(gib, bool) else role_of(sp, m).mode
            return Monitor(sp, m, mode), f"HF metric_for_best_model {name}", "hf_metric_for_best_model"
    return None


def _task_metric_beside(history: History, roles: list[SeriesRole], loss: SeriesRole, best: float,
                        where: str) -> _Found | None:
    """The task metric of the set whose loss HF's ``best_metric`` matched, when one is logged: the Trainer
    selects by the loss whenever ``metric_for_best_model`` is unset (its default with
    ``load_best_model_at_end``), so a matched loss is no evidence of intent unless the arguments name it."""
    found = _by_name([r for r in roles if r.split == loss.split], loss.split)
    if found is None or role_of(found[0].split, found[0].metric).role != "task":
        return None
    mon, why, _ = found
    return (mon, f"{why} (HF best_metric {best:.6g} matches {_logged_name(history, loss)}{where}: the Trainer's "
                 "default when metric_for_best_model is not set, so the task metric decides)", "task_metric")


def _logged_name(history: History, r: SeriesRole) -> str:
    return history.series(r.split, r.metric).name


def _match_best_metric(history: History, roles: list[SeriesRole], best: float, step: float | None,
                       args: Mapping[str, Any]) -> tuple[SeriesRole, str] | None:
    """The held-out series whose value equals ``best`` (at ``step`` when known). Ties (a value shared by two
    series) go to the series ``metric_for_best_model`` names, else the task metric, else the first logged."""
    hits = [h for r in roles if (h := _best_hit(history, r, best, step)) is not None]
    if not hits:
        return None
    name = args.get("metric_for_best_model")
    if isinstance(name, str):
        want = normalize(_hf_eval_name(name), default_split="val")
        for r, w in hits:
            if (r.split, r.metric) == want:
                return r, w
    return min(hits, key=lambda h: (h[0].role != "task", h[0].split != "val"))


def _hf_eval_name(name: str) -> str:
    """HF's logged name of ``metric_for_best_model``: ``eval_`` prefixed unless it already is."""
    return name if name.startswith("eval_") else f"eval_{name}"


def _best_hit(history: History, r: SeriesRole, best: float, step: float | None) -> tuple[SeriesRole, str] | None:
    """``(r, " at <step|epoch> <x>")`` for the first point of ``r`` whose value equals ``best`` (at ``step``
    when known), else None."""
    s = history.series(r.split, r.metric)
    close = [i for i, v in enumerate(s.values)
             if math.isfinite(v) and math.isclose(v, best, rel_tol=BEST_METRIC_RTOL, abs_tol=1e-12)]
    if step is not None:
        close = [i for i in close if s.step[i] == step]
    if not close:
        return None
    x = s.step[close[0]] if math.isfinite(s.step[close[0]]) else s.epoch[close[0]]
    kind = "step" if math.isfinite(s.step[close[0]]) else "epoch"
    return r, f" at {kind} {x:g}"


def _walk(obj: Any, depth: int = 0) -> Iterable[Mapping[str, Any]]:
    """Every mapping inside nested hyperparameters (Lightning CLI configs nest callbacks in lists)."""
    if depth > 6:
        return
    if isinstance(obj, Mapping):
        yield obj
        for v in obj.values():
            yield from _walk(v, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v, depth + 1)


def _from_lightning(history: History, meta: Mapping[str, Any], roles: list[SeriesRole]) -> _Found | None:
    hp = meta.get("hparams")
    if not isinstance(hp, Mapping):
        return None
    for d in _walk(hp):
        for key in ("monitor", "checkpoint_monitor", "early_stopping_monitor"):
            name = d.get(key)
            if not isinstance(name, str) or not name:
                continue
            sp, m = normalize(name, default_split="val")
            if sp == "train" or not history.has(sp, m):
                continue
            mode = d.get("mode")
            mode = mode if mode in ("min", "max") else role_of(sp, m).mode
            return Monitor(sp, m, cast(Mode, mode)), f"Lightning hparams {key}={name}", "lightning_hparams"
    return None


#: The losses of the task heads an Ultralytics segmenter or pose model trains beside its box head (its
#: ``val/seg_loss``, ``val/pose_loss``), by the head they train: the mask or keypoint head's metrics are the
#: unprefixed ``map50``/``map50_95`` beside the box head's ``box_map50``… (:mod:`gapwatch.names`).
HEAD_LOSSES: tuple[tuple[str, str], ...] = (("pose_loss", "pose (keypoint)"), ("seg_loss", "mask"))


def companions(history: History, monitor: Monitor) -> tuple[Monitor | None, Monitor | None]:
    """``(loss, task metric)`` of ``monitor``'s held-out set: the set's loss (plain ``loss`` first; the task
    head's own loss, :data:`HEAD_LOSSES`, when the task head's metric decides beside a box head's: a mask
    mAP is judged with the mask loss, not the box loss) and its task metric (``monitor`` itself when it is one,
    else the set's first by :data:`TASK_MEASURES`); ``None`` for what the set does not log."""
    me = role_of(monitor.split, monitor.metric)
    same = [r for r in heldout_roles(history) if r.heldout_set == me.heldout_set]
    tasks = [r for r in same if r.role == "task"]
    task = me if me.role == "task" else min(tasks, key=lambda r: (_preference(r), r.rank, r.qualified),
                                            default=None)
    head = task is not None and not task.measure.startswith("box_") \
        and any(r.measure == f"box_{task.measure}" for r in tasks)
    heads = {loss for loss, _ in HEAD_LOSSES} if head else set()
    losses = sorted((r for r in same if r.role == "loss"), key=lambda r: (r.measure != "loss",
                                                                           r.measure not in heads))
    loss = me if me.role == "loss" else (losses[0] if losses else None)
    return (loss.monitor() if loss is not None else None,
            (monitor if task is me else task.monitor()) if task is not None else None)


# --------------------------------------------------------------------------------------------- compatibility
def choose_monitor(history: History, requested: Monitor | None = None) -> Monitor:
    """The deciding series of a single run: ``decide(history, requested).monitor`` (kept for callers).

    Raises:
        InputError: no held-out series; the message names what to log and lists the metrics found.
    """
    return decide(history, requested).monitor
