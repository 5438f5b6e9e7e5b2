"""Helpers shared by the detectors: series lookup, robust levels, references.

Everything here is pure numpy on one run's :class:`~gapwatch.history.History`; nothing prints or touches files.
All decisions built on these helpers are invariant to adding a constant to, or multiplying by a positive
factor, every loss series of a run (statistics are compared with the curve's own noise level and range, never
with its absolute value).
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..errors import InputError
from ..findings import Finding
from ..history import History, Series
from ..monitor import BOUNDED_MEASURES, PERCENT_MIN_MAX, Monitor, decide, task_family
from ..names import metric_mode
from ..params import Param
from ..stats import noise_sigma, trailing_mean


# ------------------------------------------------------------------------------------------------ references
def share_scale(mon: Monitor, s: Series) -> float | None:
    """1.0 for a larger-is-better bounded share (:data:`gapwatch.monitor.BOUNDED_MEASURES`) logged as a fraction,
    100.0 for one logged as a percentage, None for any other series (a loss, a perplexity…)."""
    if mon.mode != "max" or task_family(mon.metric) not in BOUNDED_MEASURES:
        return None
    return value_scale(s.values)


def value_scale(v: np.ndarray) -> float | None:
    """1.0 for shares logged as fractions (all in [0, 1]), 100.0 for a percentage (the largest above
    :data:`gapwatch.monitor.PERCENT_MIN_MAX`, none above 100), None for values that are neither."""
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    if lo < 0:
        return None
    return 1.0 if hi <= 1.0 + 1e-6 else (100.0 if PERCENT_MIN_MAX < hi <= 100.0 + 1e-6 else None)


#: Largest count of standard errors written as a number in a message; beyond it the message says "over 100"
#: (a curve that is nearly noise-free makes counts such as 187118398115487.7, which read as made up).
MAX_SE_SHOWN = 100.0


def se_count(z: float, *, signed: bool = False) -> str:
    """A count of standard errors as a message writes it: ``"4.5"`` (``"+4.5"`` with ``signed``), or
    ``"over 100"`` / ``"below -100"`` beyond :data:`MAX_SE_SHOWN` (and for an infinite count)."""
    if z > MAX_SE_SHOWN:
        return "over +100" if signed else "over 100"
    if z < -MAX_SE_SHOWN:
        return "below -100"
    return f"{z:+.1f}" if signed else f"{z:.1f}"


PRECHELT = "Prechelt, Early Stopping - But When? (1998)"
REPEAT = "To Repeat or Not To Repeat: Insights from Scaling LLM under Token-Crisis (2023)"
REPEATED_DATA = "Scaling Laws and Interpretability of Learning from Repeated Data (2022)"
INFINITE_COMPUTE = "Pre-training under infinite compute (2025)"
TRAIN_LONGER = "Train longer, generalize better: closing the generalization gap in large batch training (2017)"
ONE_EPOCH = "One Epoch Is All You Need (2019)"
MODEL_SOUPS = ("Model soups: averaging weights of multiple fine-tuned models improves accuracy without "
               "increasing inference time (2022)")
DEEP_DOUBLE_DESCENT = "Deep Double Descent: Where Bigger Models and More Data Hurt (Nakkiran et al., 2020)"
GROK_NUMERICAL = "Grokking at the Edge of Numerical Stability (2025)"
GROK_XOR = "Benign Overfitting and Grokking in ReLU Networks for XOR Cluster Data (2024)"
MEMORIZATION = "Does Learning Require Memorization? A Short Tale about a Long Tail (2020)"
SMALL_SCALE_PROXIES = "Small-scale proxies for large-scale Transformer training instabilities (2023)"
OPPOSING_SIGNALS = "Outliers with Opposing Signals Have an Outsized Effect on Neural Network Optimization (2023)"
AAER = "Eliminating Catastrophic Overfitting Via Abnormal Adversarial Examples Regularization (2023)"
SIMPLE_FINETUNE = ("A Simple Fine-tuning Is All You Need: Towards Robust Deep Learning Via Adversarial "
                   "Fine-tuning (2021)")
STABILITY_GAP = "Continual evaluation for lifelong learning: Identifying the stability gap (2023)"
CHALLENGING_FORGETTING = "Challenging Common Assumptions about Catastrophic Forgetting (2023)"
SLCA = "SLCA: Slow Learner with Classifier Alignment for Continual Learning on a Pre-trained Model (2023)"


# ------------------------------------------------------------------------------------------------ parameters
# The detectors' thresholds come in a few kinds; each kind's unit (one spelling, as docs/detectors.md lists it)
# and admissible range is declared here once, so two detectors cannot describe the same kind differently.
def undone_text(lost: float) -> str:
    """How much of a curve's improvement a rise undid, in words a person reads without doubt: ``"37% of the
    improvement undone"``, or — above all of it, or when there was no improvement to undo — ``"worse than at the
    first evaluation"`` (issue 12: "14895% of the improvement undone" is a number nobody reads)."""
    if not math.isfinite(lost) or lost > 1.0:
        return "worse than at the first evaluation"
    return f"{100 * lost:.0f}% of the improvement undone"


def evals(name: str, default: int, doc: str, *, low: int = 1) -> Param:
    """A count of evaluations (an integer ``>= low``, 1 unless zero evaluations is meaningful)."""
    return Param(name, default, doc, unit="evaluations", type=int, low=low)


def sigmas(name: str, default: float, doc: str) -> Param:
    """A threshold in noise standard deviations of the curve (:func:`gapwatch.stats.noise_sigma`), ``>= 0``."""
    return Param(name, default, doc, unit="sigma", low=0)


def std_errs(name: str, default: float, doc: str) -> Param:
    """A threshold in noise standard errors of a difference of two levels (trailing means), ``>= 0``."""
    return Param(name, default, doc, unit="standard errors", low=0)


def fraction(name: str, default: float, doc: str, *, of: str, high: float | None = None) -> Param:
    """A share of a quantity of the curve (``of``: ``"improvement"``, ``"run"``, ``"rise"`` …), ``>= 0`` and at
    most ``high`` when given."""
    return Param(name, default, doc, unit=f"fraction of the {of}", low=0, high=high)


# ------------------------------------------------------------------------------------------------ series
def series_table(history: History) -> dict[tuple[str, str], Series]:
    """Every ``(split, metric)`` series of a one-run History, built once per History.

    Same series and ordering as :meth:`History.series` (x = epoch when strictly increasing, else step), in order
    of first appearance. Detectors call each other (``overfitting`` asks ``instability`` about divergence), so
    the table is kept with the (immutable) History: :meth:`History.memo`.
    """
    return history.memo("series_table", lambda: _build_series_table(history))


def _build_series_table(history: History) -> dict[tuple[str, str], Series]:
    if len(history.runs()) > 1:
        raise ValueError("detectors work on one run at a time; iterate over the History's runs")
    pairs = history.keys()  # (a list, in order of first appearance)
    return {key: history.series(*key) for key in pairs}


def keys(history: History) -> list[tuple[str, str]]:
    """``(split, metric)`` pairs of a one-run History, in order of first appearance."""
    return list(series_table(history))


def has(history: History, split: str, metric: str) -> bool:
    return (split, metric) in series_table(history)


def get_series(history: History, split: str, metric: str) -> Series:
    """``split/metric`` of a one-run History (cached); ``KeyError`` listing what is present when absent."""
    t = series_table(history)
    if (split, metric) not in t:
        have = ", ".join(f"{s}/{m}" for s, m in t) or "nothing"
        raise KeyError(f"no {split}/{metric} series; found: {have}")
    return t[(split, metric)]


def monitor_or_none(history: History, monitor: Monitor | None) -> Monitor | None:
    """The series that decides the run (:func:`gapwatch.monitor.decide`), or ``None`` when it has none
    (detectors then stay silent).

    One decision for every consumer: a continual-learning log whose held-out series are only per-task accuracies
    has no monitor here, in the analysis and in the guard alike (its forgetting is judged by ``stability_gap``);
    an explicitly requested series is honoured when logged, ``None`` when not.
    """
    return history.memo(("monitor_or_none", monitor), lambda: _monitor_or_none(history, monitor))


def _monitor_or_none(history: History, monitor: Monitor | None) -> Monitor | None:
    try:
        return decide(history, monitor).monitor
    except InputError:
        return None


def monitored_finite(history: History, monitor: Monitor | None, min_evaluations: int
                     ) -> tuple[Monitor, Series] | None:
    """The deciding monitor of the run and its finite evaluations, or None when the run has no monitor or fewer
    than ``min_evaluations`` finite evaluations of it (too few to judge a curve)."""
    mon = monitor_or_none(history, monitor)
    if mon is None:
        return None
    s = get_series(history, mon.split, mon.metric).finite()
    return None if len(s) < min_evaluations else (mon, s)


def present(*findings: Finding | None) -> list[Finding]:
    """The findings a detector's parts made, in order (a part that found nothing returns None)."""
    return [f for f in findings if f is not None]


def series_or_none(history: History, split: str, metric: str) -> Series | None:
    """``split/metric`` of a one-run history, or ``None`` when it was not logged."""
    return series_table(history).get((split, metric))


#: Names of a training objective summed from several terms (``train_loss_total``, ``total_loss``): the training
#: loss when no plain ``loss`` is logged beside its terms (``train_loss_ce``).
TOTAL_LOSSES: tuple[str, ...] = ("total_loss", "loss_total")


def train_series(history: History, metric: str) -> Series | None:
    """The training series of ``metric`` (falls back to training ``loss`` when ``metric`` is absent, or logged with
    fewer than two finite values: one number — a final ``WER=5.28%`` line read as the training split's — is no
    curve to compare with; then to the summed objective, :data:`TOTAL_LOSSES`)."""
    for m in (metric, "loss", *TOTAL_LOSSES):
        s = series_or_none(history, "train", m)
        if s is not None and (m in ("loss", *TOTAL_LOSSES) or int(np.isfinite(s.values).sum()) >= 2):
            return s
    return None


def summed_train_terms(history: History) -> Series | None:
    """The training objective as the sum of its logged terms when no total is logged: Ultralytics writes
    ``train/box_loss``, ``train/cls_loss``, ``train/dfl_loss`` (each already multiplied by its gain, so their sum is
    the loss the optimiser minimises) and no ``train/loss``. Two or more ``*_loss`` training series logged at the
    same evaluations (same steps and epochs), summed (NaN where a term is not finite); None otherwise. Named
    ``train/loss`` with the terms in its display name."""
    terms = [s for (split, m), s in series_table(history).items() if split == "train" and m.endswith("_loss")]
    if len(terms) < 2:
        return None
    first = terms[0]
    for t in terms[1:]:
        if len(t) != len(first) or not (np.array_equal(t.step, first.step, equal_nan=True)
                                         and np.array_equal(t.epoch, first.epoch, equal_nan=True)):
            return None
    total = np.sum([t.values for t in terms], axis=0)
    total.setflags(write=False)  # (a Series' arrays are read-only)
    name = " + ".join(t.name for t in terms)
    return Series("train", "loss", name, first.step, first.epoch, total, first.x_kind)


def heldout_series(history: History, metric: str, monitor: Monitor | None = None) -> Series | None:
    """Held-out ``metric``: the monitor's split first, then ``val``, then ``test``."""
    splits = [monitor.split] if monitor is not None else []
    for sp in [*splits, "val", "test"]:
        s = series_or_none(history, sp, metric)
        if s is not None:
            return s
    return None


def signed(values: np.ndarray, sign: float) -> np.ndarray:
    """``sign * values`` ("lower is better" values of a curve): the array itself when ``sign`` is 1 (the same
    numbers without a copy of a long curve; a Series' arrays are read-only, so nobody writes into it)."""
    return values if sign == 1 else sign * values


def sign_of(metric: str) -> float:
    """+1 when lower is better for ``metric``, -1 when higher is better."""
    return 1.0 if metric_mode(metric) == "min" else -1.0


def level(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` evaluations (the "level" of a noisy curve), shape preserved
    (:func:`gapwatch.stats.trailing_mean`)."""
    return trailing_mean(values, max(1, window))


def robust_sigma(values: np.ndarray) -> float:
    """Evaluation noise (same units as ``values``): :func:`gapwatch.stats.noise_sigma`."""
    return noise_sigma(values)


def curve_range(z: np.ndarray, window: int) -> float:
    """Size of the improvement of a lower-is-better curve: first level minus best level (≥ 0).

    The scale against which practical significance is judged (shift- and scale-invariant, unlike a
    percentage of the value)."""
    if z.size == 0:
        return 0.0
    w = max(1, min(window, z.size))
    first = float(np.mean(z[:w]))
    lv = level(z, w)
    return max(first - float(np.min(lv[w - 1:])) if z.size >= w else 0.0, 0.0)


def stays_above_from(flags: np.ndarray, start: int) -> int:
    """Smallest index ``i > start`` such that ``flags[i:]`` are all true; ``len(flags)`` when none."""
    n = flags.size
    onset = n
    for i in range(n - 1, start, -1):
        if flags[i]:
            onset = i
        else:
            break
    return onset


def fmt_x(x: float | None) -> str:
    if x is None or not np.isfinite(x):
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}"


def where_text(s: Series, i: int) -> str:
    """``"epoch 12"`` / ``"step 1200"`` for evaluation ``i`` of ``s``."""
    return f"{s.x_kind} {fmt_x(float(s.x[i]))}"


# ------------------------------------------------------------------------------------------------ shared judgements
_TASK_RE = re.compile(r"(?:^|[_/\-. ])(?:task|exp|experience)[_\-/ ]?0*(\d+)(?:$|[_/\-. ])", re.IGNORECASE)


def task_series(history: History) -> dict[int, Series]:
    """Per-task accuracy series of a continual-learning log, keyed by task id.

    Recognised names (case-insensitive; the task id is the number after ``task``/``exp``/``experience``):
    ``task0_acc``, ``task_1_accuracy``, ``val_task1/acc``, ``eval/task2_acc``, ``acc_task3``,
    Avalanche's ``Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp001`` (``Exp001`` wins over ``Task000`` when
    both appear, as Avalanche numbers experiences). A training split is used only when no held-out one is
    logged for that task.
    """
    out: dict[int, tuple[int, Series]] = {}
    for (split, metric), s in series_table(history).items():
        key = f"{split}_{metric}"
        if "acc" not in metric and "acc" not in key:
            continue
        name = s.name
        ids = [int(m) for m in _TASK_RE.findall("_" + name + "_")]
        exp = re.findall(r"exp(?:erience)?[_\-/ ]?0*(\d+)", name, re.IGNORECASE)
        if exp:
            ids = [int(exp[-1])]
        if not ids:
            ids = [int(m) for m in _TASK_RE.findall("_" + key + "_")]
        if not ids:
            continue
        tid = ids[-1]
        prio = 0 if split == "train" else 1
        if tid not in out or out[tid][0] < prio:
            out[tid] = (prio, s)
    return {k: v[1] for k, v in sorted(out.items())}
