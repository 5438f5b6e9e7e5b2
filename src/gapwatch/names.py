"""Normalisation of the zoo of metric names that training frameworks log.

``eval_loss``, ``val/loss``, ``valid_loss``, ``validation_loss`` → split ``val``, metric ``loss``;
``loss``, ``train/loss``, ``train_loss_epoch`` → split ``train``, metric ``loss``; ``val_accuracy`` →
``val``/``acc``. The original name is always kept alongside (see :class:`gapwatch.history.History`).

Unknown prefixes that look like a held-out set (``retention_acc``, ``ood/loss``, ``task0_acc``) become their
own split, so continual-learning and fine-tuning retention evaluations survive normalisation.
"""

from __future__ import annotations

import re

#: Split aliases → canonical split. Keys are lower-case tokens.
SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "tr": "train",
    "trn": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "eval": "val",
    "evaluation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
    "tst": "test",
}

#: Metric aliases → canonical metric.
METRIC_ALIASES: dict[str, str] = {
    "loss": "loss",
    "losses": "loss",
    "nll": "loss",
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
    "ppl": "perplexity",
    "perplexity": "perplexity",
    "f1": "f1",
    "auc": "auc",
    "auroc": "auc",
}

#: Framework suffixes that carry no meaning for us (Lightning's ``_epoch``/``_step``).
_DROP_SUFFIXES = ("_epoch", "_step", "/epoch", "/step")
#: Axis prefixes that carry no meaning either (Keras's TensorBoard tags ``epoch_loss``, ``batch_loss``).
_DROP_PREFIXES = ("epoch_", "batch_", "epoch/", "batch/")

#: Names that are bookkeeping, not metrics: never treated as a series.
NON_METRICS: frozenset[str] = frozenset(
    {
        "epoch",
        "step",
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
        "split",
        "metric",
        "value",
    }
)

#: Metrics for which larger is better (everything else defaults to smaller is better).
MAX_METRICS: frozenset[str] = frozenset({"acc", "f1", "auc", "precision", "recall", "map", "bleu", "rouge"})

_SEP = re.compile(r"[/_.\-\s:]+")


def metric_mode(metric: str) -> str:
    """``"max"`` for metrics where larger is better (accuracy-like), else ``"min"``."""
    base = metric.split("_")[-1]
    if metric in MAX_METRICS or base in MAX_METRICS or metric.endswith("acc") or "accuracy" in metric:
        return "max"
    return "min"


def is_bookkeeping(name: str) -> bool:
    """True for columns such as ``epoch``, ``step``, ``learning_rate`` that are not metrics."""
    n = name.strip().lower()
    if n in NON_METRICS:
        return True
    tokens = [t for t in _SEP.split(n) if t]
    return bool(tokens) and tokens[-1] in {"runtime", "flos"} or n.endswith("per_second")


def normalize(name: str, default_split: str = "train") -> tuple[str, str]:
    """Map a logged metric name to ``(split, metric)``.

    Args:
        name: the name as logged (``"eval_loss"``, ``"val/acc"``, ``"train_loss_epoch"``, ``"loss"``).
        default_split: split for names with no split token (Keras/HF log training ``loss`` bare).

    Returns:
        ``(split, metric)``; ``metric`` keeps any qualifier (``val_pgd_acc`` → ``("val", "pgd_acc")``).
    """
    n = name.strip()
    low = n.lower()
    for suf in _DROP_SUFFIXES:
        if low.endswith(suf) and len(low) > len(suf):
            low = low[: -len(suf)]
            break
    for pre in _DROP_PREFIXES:
        if low.startswith(pre) and len(low) > len(pre):
            low = low[len(pre):]
            break
    tokens = [t for t in _SEP.split(low) if t]
    if not tokens:
        return default_split, low
    split = None
    rest: list[str]
    if tokens[0] in SPLIT_ALIASES:
        split = SPLIT_ALIASES[tokens[0]]
        rest = tokens[1:]
    elif tokens[-1] in SPLIT_ALIASES and len(tokens) > 1:
        # "loss_val", "accuracy/validation"
        split = SPLIT_ALIASES[tokens[-1]]
        rest = tokens[:-1]
    elif len(tokens) > 1 and tokens[-1] in METRIC_ALIASES and tokens[0] not in METRIC_ALIASES:
        # "retention_acc", "ood/loss", "task0_acc": a named held-out set
        split = tokens[0]
        rest = tokens[1:]
    else:
        rest = tokens
    if not rest:
        rest = ["loss"]
    # canonicalise the last token (the measure), keep qualifiers before it: pgd_acc, top5_acc
    last = METRIC_ALIASES.get(rest[-1], rest[-1])
    qual = rest[:-1]
    if len(rest) >= 2 and "_".join(rest[-2:]) in METRIC_ALIASES:
        last = METRIC_ALIASES["_".join(rest[-2:])]
        qual = rest[:-2]
    metric = "_".join([*qual, last])
    return split or default_split, metric
