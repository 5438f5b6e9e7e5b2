"""Metric disagreement: the held-out loss and the task metric of the same set tell different stories.

Two patterns, both judged on the deciding held-out set (:func:`gapwatch.monitor.decide`) with its loss and its
task metric aligned on the evaluations they share:

* **loss worse, metric better** (over-confidence / calibration drift): after the loss's best level, the loss
  level rises by ``min_z`` standard errors or more, with a rising trend (Mann–Kendall, one-sided ``alpha``),
  while the task metric's final level is ``min_z`` or more better than its level at the loss's best.
  Restoring or stopping by the loss would select a model with a worse task metric. Long cross-entropy
  training sharpens the predictive distribution: the loss of the (rarer) wrong answers grows while more
  answers become right — "The Hyperfitting Phenomenon: Sharpening and Stabilizing LLMs for Open-Ended Text
  Generation" (2024), "Rethinking Fine-Tuning when Scaling Test-Time Compute: Limiting Confidence Improves
  Mathematical Reasoning" (2025), "From Logistic Regression to the Perceptron Algorithm: Exploring Gradient
  Descent with Large Step Sizes" (2024). Remedies that keep the loss calibrated: label smoothing, temperature
  scaling after training ("On the Limitations of Temperature Scaling for Distributions with Overlaps", 2023,
  which also discusses mixup), self-distillation ("Self-Knowledge Distillation with Progressive Refinement of
  Targets", 2021).
* **metric worse, loss flat** ("the loss does not see it"): after the metric's best level, the metric level
  worsens by ``min_z`` standard errors or more, with a worsening trend (Mann–Kendall, ``alpha``), while the
  loss level over the same stretch rises by less than ``flat_z`` standard errors (flat or improving).
* **loss worse, metric stalled** (kind ``overfitting``): the loss rises after its best exactly as in the first
  pattern, but the task metric changed by less than ``min_z`` standard errors since the loss's best (it
  plateaued, or slipped by more: a decline the ``overfitting`` detector's own test on the deciding metric
  misses, a small one of a saturated F1, still leaves the loss's rise to decide) — whether or not
  it had improved before (a held-out loss that rises from its very first evaluation while the metric never
  leaves its noise is the same pattern: a model that fits the training set from the start) — while the training
  loss kept falling by ``train_drop_z`` of its own standard errors or more (a run whose training loss did not move
  either is ``not_learning``'s). The metric has nothing left to gain and offers no
  counter-evidence, so the rising loss is read as what it usually is: the model fits the training set at the
  held-out set's expense (overfitting by the loss, confirmed by a metric that stopped improving — the way a
  reader of the curves judges it; Prechelt, "Early Stopping — But When?", 1998, stops on the held-out error
  for the same reason). The restore point is still the task metric's best evaluation. When the whole-curve test
  finds no rise on a short run (fewer than ``post_best_max_evaluations``), the rise is judged once more in the
  noise of the stretch after the loss's best (four or more evaluations) with ``min_lost_fraction`` of the loss's
  improvement as its practical size: on a short run the steep first descent inflates both the noise estimate and
  the span; on a long one the whole-curve estimate is sound and the quiet stretch after a minimum understates the
  noise. A task metric with a new best at its last evaluation has not stopped improving (when the loss's rise
  passed the whole-curve test, only a new best by ``last_best_se`` standard errors or more counts). The pattern
  is checked first from the task metric's best level instead of the loss's, when that best lies
  ``min_stall_fraction`` of the run or more before the end: a metric that improved for a while after the loss's
  best but has been flat since is no counter-evidence for the rest of the run (``evidence["measured_from"]``).

Statistic. Each curve is turned into "lower is better" (its mode), its level is the trailing mean of
``window`` evaluations (capped at a third of the evaluations), and a change of level is measured in standard
errors of a level difference: ``sigma * sqrt(2 / window)``, ``sigma`` the robust evaluation noise
(:func:`gapwatch.stats.noise_sigma`), floored at ``noise_floor`` × the curve's own span so noise-free curves
are judged too; every change must also be ``min_share`` of its curve's span (practical size). Invariant to a
positive scale and an offset of either curve and to the metric's direction.

The finding never recommends a checkpoint from before the task metric improved: its restore point is the task
metric's best evaluation. Severity ``warning``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor, companions, decide, role_of
from ..params import Param, defaults, register, validate
from ..stats import noise_sigma
from . import register as register_detector
from ._common import PRECHELT, se_count, train_series
from ._heldout import Curve, curve, effective_window, grid_positions, where_text

HYPERFITTING = ("The Hyperfitting Phenomenon: Sharpening and Stabilizing LLMs for Open-Ended Text Generation "
                "(2024)")
LIMITING_CONFIDENCE = ("Rethinking Fine-Tuning when Scaling Test-Time Compute: Limiting Confidence Improves "
                       "Mathematical Reasoning (2025)")
PERCEPTRON = ("From Logistic Regression to the Perceptron Algorithm: Exploring Gradient Descent with Large "
              "Step Sizes (2024)")
TEMPERATURE = "On the Limitations of Temperature Scaling for Distributions with Overlaps (2023)"
PS_KD = "Self-Knowledge Distillation with Progressive Refinement of Targets (2021)"

NAME = "metric_disagreement"

#: Parameters (:mod:`gapwatch.params`). Units: evaluations; standard errors of a difference of two levels.
SPECS: tuple[Param, ...] = register(NAME, (
    Param("min_evaluations", 5, "Evaluations the loss and the task metric must share before they are "
          "compared: fewer give no noise estimate (the robust noise needs four).", unit="evaluations",
          type=int, low=1),
    Param("window", 3, "Trailing mean that defines a curve's level (capped at a third of the evaluations): "
          "three evaluations average out single noisy points while keeping the level local.",
          unit="evaluations", type=int, low=1),
    Param("min_z", 3.0, "Change of a level that counts as real, in standard errors of a level difference: 3 "
          "keeps a false alarm on pure noise below about 1 in 700 per comparison.", unit="standard errors",
          low=0, low_open=True),
    Param("min_share", 0.1, "Practical size: every change judged must also be at least this share of its curve's "
          "span (max - min of its level over the run), so a tiny but steady drift of a saturated metric is not a "
          "disagreement: 10%.", unit="fraction of the span", low=0, high=1),
    Param("alpha", 0.05, "Significance of the Mann-Kendall test that the worsening curve keeps worsening after "
          "its best (a noisy plateau's largest excursion passes min_z by selection alone): 5%.",
          unit="probability", low=0, high=1, low_open=True),
    Param("flat_z", 1.0, "In the reverse pattern the loss counts as flat (or improving) while its level "
          "rises by less than this over the metric's decline: one standard error, well inside its noise.",
          unit="standard errors", low=0),
    Param("min_lost_fraction", 0.02, "Loss worse, metric stalled, when the rise is judged in the noise after the "
          "loss's best: the rise must undo at least this share of the loss's improvement (first level - best "
          "level): 2%.", unit="fraction of the improvement", low=0, high=1),
    Param("post_best_max_evaluations", 20, "Loss worse, metric stalled: the rise is judged in the noise after the "
          "loss's best only on a run of fewer evaluations than this. On a short run the first descent dominates the "
          "whole-curve noise estimate; on a longer one that estimate is sound, and the stretch after the best — "
          "chosen because it follows the minimum, and often one smooth drift — understates the noise (a YOLO "
          "segmenter's loss over its last nine epochs read as 42 standard errors against about 3 in the whole "
          "curve's noise).", unit="evaluations", type=int, low=5),
    Param("min_stall_fraction", 0.25, "Loss worse, metric stalled since its own best: the task metric's best "
          "lies at least this share of the evaluations before the end (it has stopped improving for a quarter of "
          "the run or more; a metric that kept improving until near the end is over-confidence, the first "
          "pattern).", unit="fraction of the evaluations", low=0, low_open=True, high=1),
    Param("train_drop_z", 5.0, "Loss worse, metric stalled: the training loss must have kept falling since the "
          "reference point by this many of its own standard errors of a level difference. A training curve is "
          "smoother than a held-out one (its noise, and so its standard error, is small), and a fall of three of "
          "them is a plateau's drift: five (on the corpus's dev logs, 3 → 5 cleared three runs judged clean — a "
          "segmentation model's IoU plateau, a 300-epoch classifier still creeping up, a detector's last twenty "
          "epochs — and lost no run judged overfitting).", unit="standard errors", low=0),
    Param("last_best_se", 1.0, "Loss worse, metric stalled, with a loss rise that passed the whole-curve test: "
          "a task metric whose last evaluation is its best has not stopped improving only when that best beats the "
          "earlier best by this many standard errors of a level difference; a smaller new best is a tie within the "
          "plateau's noise: 1.", unit="standard errors", low=0),
    Param("noise_floor", 0.01, "Floor of a curve's noise as a fraction of its own span (max - min of its "
          "level), so noise-free or rounded curves get a finite scale: 1%.", unit="fraction of the span",
          low=0, low_open=True, high=1),
    Param("sampling_floor", True, "A larger-is-better share whose values all lie on a grid k/N (a held-out set of N "
          "examples) is never less noisy than the binomial standard error sqrt(p(1-p)/N) "
          "(gapwatch.stats.share_grid_size).", type=bool),
))
DEFAULTS: dict[str, Any] = defaults(SPECS)


def pair(history: History, monitor: Monitor | None) -> tuple[Series, Series] | None:
    """``(loss, task metric)`` of the deciding held-out set, or ``None`` when the set lacks either."""
    try:
        mon = decide(history, monitor).monitor
    except InputError:  # no monitor (the analysis reports why): nothing to compare
        return None
    loss, task = companions(history, mon)
    if loss is None or task is None:
        return None
    return history.series(loss.split, loss.metric), history.series(task.split, task.metric)


@register_detector(NAME)
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find disagreement between the held-out loss and the task metric of one run (module docstring)."""
    p = validate(NAME, SPECS, params)
    found = pair(history, monitor)
    if found is None:
        return []
    loss_s, task_s = found
    grid = grid_positions([loss_s, task_s])
    n = loss_s.values.shape[0] if grid[0] is None else grid[0].shape[0]
    if n < p["min_evaluations"]:
        return []
    w = effective_window(p["window"], int(n))
    loss = curve(loss_s, grid[0], 1.0, w, p["noise_floor"], p["sampling_floor"])
    rise = _loss_rise(loss, p)  # (both loss-rise patterns ask it: once, before the task curve is in memory)
    task = curve(task_s, grid[1], role_of(task_s.split, task_s.metric).monitor().sign, w, p["noise_floor"],
                 p["sampling_floor"])
    # the training side of the same loss (``train/seg_loss`` beside ``val/seg_loss``), else the training loss
    train = train_series(history, loss_s.metric)
    # a log of evaluations only (no training series at all: an eval callback's own file) cannot show the training
    # loss falling; its held-out loss rising beside a stalled metric is judged on the held-out curves alone
    eval_only = train is None and "train" not in history.splits()
    out = _stalled_since_metric_best(loss, task, train, p, eval_only)
    if out is None:
        out = _loss_worse_metric_better(loss, task, rise, p)
    if out is None:
        out = _metric_worse_loss_flat(loss, task, p)
    if out is None:
        stalled_rise = rise if rise is not None else _post_best_rise(loss, w, p)
        out = _loss_worse_metric_stalled(loss, task, train, stalled_rise, p,
                                         clear_rise=rise is not None, eval_only=eval_only)
    return [out] if out is not None else []


def _rose(lname: str, at_loss: str, rise: float) -> str:
    """How the loss got worse, as both loss-rise patterns say it."""
    return f"{lname} got worse after {at_loss} ({se_count(rise, signed=True)} standard errors by the end)"


def _labels(loss: Curve, task: Curve, b_loss: int, b_task: int) -> tuple[str, str, str, str]:
    """The two series' names and where their bests are, as the messages write them."""
    return loss.series.name, task.series.name, where_text(loss, b_loss), where_text(task, b_task)


def _evidence(pattern: str, loss: Curve, task: Curve, b_loss: int, b_task: int, diverged_at: dict[str, Any],
              **extra: Any) -> dict[str, Any]:
    """The evidence every pattern carries: both bests, where the curves parted, the restore point (always the
    task metric's best), both noise scales and the number of shared evaluations; then the pattern's own."""
    return {"pattern": pattern, "loss_best": _point(loss, b_loss), "metric_best": _point(task, b_task), **extra,
            "diverged_at": diverged_at, "restore": task.where(b_task), "loss_se": loss.se, "metric_se": task.se,
            "evaluations": loss.n}


def _point(c: Curve, i: int) -> dict[str, Any]:
    return {**c.where(i), "value": c.value(i), "name": c.series.name}


def _loss_worse_metric_better(loss: Curve, task: Curve, found: tuple[int, float] | None,
                              p: dict[str, Any]) -> Finding | None:
    """The first pattern; ``found``: :func:`_loss_rise` of ``loss``."""
    if found is None:
        return None
    lv_best, rise = found
    # the metric's gain since the loss's best, to its final level (no selection of an extreme level)
    change = float(task.level[lv_best] - task.level[-1])
    gain = task.units(change)
    # the points reported and restored are evaluations, not levels: the raw bests
    b_loss, b_task = loss.best(), task.best()
    if gain < p["min_z"] or b_task <= b_loss or task.share(change) < p["min_share"]:
        return None
    lname, tname, at_loss, at_task = _labels(loss, task, b_loss, b_task)
    msg = (f"{_rose(lname, at_loss, rise)} while {tname} kept improving until {at_task} ({se_count(gain)} "
           f"standard errors better by the end): the loss and the task metric disagree (over-confidence); select "
           f"checkpoints by {tname}")
    actions = (
        f"Do not stop or restore by {lname}: select the checkpoint by {tname} (best at {at_task}).",
        "Keep the loss calibrated if you need it: label smoothing, temperature scaling after training, mixup "
        "or self-distillation (progressively refined targets).",
        f"Monitor {tname} in early stopping and checkpointing (e.g. --monitor {tname}, HF "
        "metric_for_best_model, Lightning ModelCheckpoint(monitor=...)).",
    )
    ev = _evidence("loss_worse_metric_better", loss, task, b_loss, b_task, loss.where(b_loss),
                   loss_rise_z=rise, metric_gain_z=gain)
    at = loss.where(b_loss)
    return Finding(FindingKind.METRIC_DISAGREEMENT, Severity.WARNING, msg, step=at["step"], epoch=at["epoch"],
                   evidence=ev, actions=actions,
                   references=(HYPERFITTING, LIMITING_CONFIDENCE, PERCEPTRON, TEMPERATURE, PS_KD),
                   detector=NAME)


def _metric_worse_loss_flat(loss: Curve, task: Curve, p: dict[str, Any]) -> Finding | None:
    lv_best = int(np.argmin(task.level))
    if lv_best >= task.level.size - 1:
        return None
    drop = task.units(float(task.level[-1] - task.level[lv_best]))
    loss_change = loss.units(float(loss.level[-1] - loss.level[lv_best]))
    if drop < p["min_z"] or loss_change >= p["flat_z"] or task.rising_p(lv_best) >= p["alpha"]:
        return None
    if task.share(float(task.level[-1] - task.level[lv_best])) < p["min_share"]:
        return None
    b_task = task.best()
    lname, tname = loss.series.name, task.series.name
    at_task = where_text(task, b_task)
    trend = "improved" if loss_change <= -p["min_z"] else "stayed flat"
    msg = (f"{tname} got worse after {at_task} ({se_count(drop)} standard errors by the end) while {lname} "
           f"{trend}: the loss does not see it; judge and select checkpoints by {tname}")
    actions = (
        f"Stop or restore by {tname} (best at {at_task}), not by {lname}.",
        "Look for what the metric measures and the loss does not: a decoding or threshold change, rare "
        "classes or groups, label noise in the evaluation set.",
    )
    ev = _evidence("metric_worse_loss_flat", loss, task, loss.best(), b_task, task.where(b_task),
                   metric_drop_z=drop, loss_change_z=loss_change)
    at = task.where(b_task)
    return Finding(FindingKind.METRIC_DISAGREEMENT, Severity.WARNING, msg, step=at["step"], epoch=at["epoch"],
                   evidence=ev, actions=actions, references=(TEMPERATURE,), detector=NAME)


def _post_best_rise(loss: Curve, w: int, p: dict[str, Any]) -> tuple[int, float] | None:
    """The third pattern's loss rise when :func:`_loss_rise` finds none: the rise after the loss's best measured
    in the noise of the stretch *after* the best (at least four evaluations), and its practical size against the
    loss's improvement (first level - best level, ``min_lost_fraction``) instead of the span. On a short run the
    steep first descent dominates both the second differences (the noise estimate) and the span, so a rise of a
    tenth of the loss's value over five evaluations reads as 0.8 standard errors and 2.5% of the span."""
    lv_best = int(np.argmin(loss.level))
    post = loss.z[loss.best():]
    if lv_best >= loss.level.size - 1 or post.size < 4 or loss.n >= p["post_best_max_evaluations"]:
        return None
    sigma = noise_sigma(post)
    change = float(loss.level[-1] - loss.level[lv_best])
    improvement = float(loss.level[min(w, loss.level.size) - 1] - loss.level[lv_best])
    if sigma <= 0 or improvement <= 0 or change < p["min_lost_fraction"] * improvement:
        return None
    rise = change / (sigma * np.sqrt(2.0 / w))
    if rise < p["min_z"] or loss.rising_p(lv_best) >= p["alpha"]:
        return None
    return lv_best, float(rise)


def _loss_rise(loss: Curve, p: dict[str, Any]) -> tuple[int, float] | None:
    """``(level index of the loss's best, rise in standard errors)`` when the loss got significantly and
    lastingly worse after its best (``min_z``, ``min_share``, Mann–Kendall ``alpha``), else ``None``."""
    lv_best = int(np.argmin(loss.level))
    if lv_best >= loss.level.size - 1:
        return None
    change = float(loss.level[-1] - loss.level[lv_best])
    rise = loss.units(change)
    if rise < p["min_z"] or loss.share(change) < p["min_share"] or loss.rising_p(lv_best) >= p["alpha"]:
        return None
    return lv_best, rise


def _train_drop(train: Series | None, x_best: float, axis: str, window: int, p: dict[str, Any]) -> float | None:
    """How far the training loss fell after ``x_best`` (the held-out loss's best, on ``axis``) to its final
    level, in its own standard errors of a level difference; ``None`` when there is no usable training loss."""
    if train is None:
        return None
    x = train.step if axis == "step" else train.epoch
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(train.values))
    if ok.size < p["min_evaluations"]:
        return None
    tc = curve(train, ok, 1.0, effective_window(window, int(ok.size)), p["noise_floor"], p["sampling_floor"])
    before = np.flatnonzero(x[ok] <= x_best)
    if before.size == 0 or before[-1] >= ok.size - 1:
        return None
    return tc.units(float(tc.level[before[-1]] - tc.level[-1]))


def _stalled_since_metric_best(loss: Curve, task: Curve, train: Series | None,
                               p: dict[str, Any], eval_only: bool = False) -> Finding | None:
    """The third pattern measured from the task metric's best level instead of the loss's: the metric improved
    (``min_z``) up to its best, then stopped improving for ``min_stall_fraction`` of the run or more, while over
    that stretch the loss rose significantly and lastingly (``min_z``, ``min_share``, Mann–Kendall ``alpha``)
    and the training loss kept falling. Checked before the first pattern: a metric that improved for a while
    after the loss's best but has been flat since is no counter-evidence for the rest of the run (a held-out
    loss that doubles over the last two thirds of a fine-tune whose accuracy stopped at 0.82)."""
    m_best = int(np.argmin(task.level))
    if task.level.size - 1 - m_best < p["min_stall_fraction"] * task.level.size:
        return None
    change = float(loss.level[-1] - loss.level[m_best])
    rise = loss.units(change)
    if rise < p["min_z"] or loss.share(change) < p["min_share"] or loss.rising_p(m_best) >= p["alpha"]:
        return None
    return _loss_worse_metric_stalled(loss, task, train, (m_best, rise), p, since_metric_best=True,
                                      eval_only=eval_only)


def _new_best_at_end(task: Curve, p: dict[str, Any]) -> bool:
    """Whether the task metric's last evaluation is its best by a real margin: ``last_best_se`` standard errors
    or more beyond the best before it (a last value that ties the plateau within its noise — 0.652 after 0.642 on
    a 187-example set — is no sign that the metric is still improving)."""
    z = task.z
    if task.best() < task.n - 1 or task.n < 2:
        return False
    return float(np.min(z[:-1]) - z[-1]) >= p["last_best_se"] * task.se


def _loss_worse_metric_stalled(loss: Curve, task: Curve, train: Series | None, found: tuple[int, float] | None,
                               p: dict[str, Any], since_metric_best: bool = False,
                               clear_rise: bool = False, eval_only: bool = False) -> Finding | None:
    """The third pattern; ``found``: the level index the stall is measured from and the loss's rise since — the
    loss's best (:func:`_loss_rise`), or the task metric's best with ``since_metric_best``
    (:func:`_stalled_since_metric_best`; the training loss must then have kept falling since the metric's best).
    ``clear_rise``: the loss's rise passed the whole-curve test (:func:`_loss_rise`), so a new best of the metric
    at its last evaluation within its noise (:func:`_new_best_at_end`) does not outweigh it; a rise found only in
    the quieter stretch after the loss's best (:func:`_post_best_rise`) gives way to any new best at the end.
    ``eval_only``: the log holds no training series at all, so the training loss's fall is not asked for."""
    if found is None:
        return None
    lv_best, rise = found
    gain = task.units(float(task.level[lv_best] - task.level[-1]))  # since the reference, to the end
    learned = task.units(float(task.level[0] - task.level[lv_best]))  # before the reference
    if gain >= p["min_z"]:
        return None  # (a metric that improved since is the first pattern's)
    # a metric that declined since is the overfitting detector's when its own test finds the decline; when it
    # does not (a small, noisy decline of a saturated F1), the rise of the loss beside it still decides, and
    # ``reconcile`` keeps one of the two overfitting findings when both fire. Only from the loss's best, the
    # last pattern tried: measured from the metric's best (tried first) a decline would pre-empt the first
    # pattern's disagreement (a loss rising from the first evaluation while WER improves for a while, then slips)
    declined = gain <= -p["min_z"]
    if declined and since_metric_best:
        return None
    if learned < p["min_z"] and since_metric_best:
        # a metric that never improved has no best to stall from; a loss that rose from its first evaluation (or
        # improved and then rose) while the metric stayed within its noise all along is the pattern, when the
        # training loss kept falling (checked below: a run whose training loss did not move is not_learning's)
        return None
    if task.best() >= task.n - 1 and (not clear_rise or _new_best_at_end(task, p)):
        return None  # a metric still setting new bests has not stopped improving
    b_loss, b_task = loss.best(), task.best()
    at_best = loss.where(b_loss)
    at_ref = task.where(b_task) if since_metric_best else at_best
    axis = "step" if loss.series.x_kind == "step" and at_ref["step"] is not None else "epoch"
    x_ref = at_ref[axis]
    if x_ref is None:
        return None
    if eval_only and learned < p["min_z"]:
        return None  # (without training curves, a metric that never improved has no stall to show: stuck, or noise)
    drop = None if eval_only else _train_drop(train, float(x_ref), axis, p["window"], p)
    if not eval_only and (drop is None or drop < p["train_drop_z"]):
        return None
    lname, tname, at_loss, at_task = _labels(loss, task, b_loss, b_task)
    fell = "the log holds no training series" if eval_only else "the training loss kept falling"
    gain_se = se_count(gain, signed=True)
    if since_metric_best:
        msg = (f"{lname} kept getting worse after {tname} stopped improving at {at_task} "
               f"({se_count(rise, signed=True)} standard errors since; its own best was at {at_loss}) while "
               f"{fell}: the model "
               f"overfits; its best {tname} was at {at_task}")
    elif learned < p["min_z"] and declined:
        msg = (f"{_rose(lname, at_loss, rise)} while {tname} never improved beyond its noise and slipped "
               f"({gain_se} standard errors since) and {fell}: the model fits the training "
               f"set at the held-out set's expense (overfits); its best {tname} was at {at_task}")
    elif learned < p["min_z"]:
        msg = (f"{_rose(lname, at_loss, rise)} while {tname} never moved beyond its noise and {fell}: the model "
               f"fits the training set at the held-out set's expense (overfits); its best {tname} was at {at_task}")
    elif declined:
        msg = (f"{_rose(lname, at_loss, rise)} while {tname} stopped improving and slipped ({gain_se} standard "
               f"errors since) and {fell}: the model overfits; its best {tname} was at "
               f"{at_task}")
    else:
        msg = (f"{_rose(lname, at_loss, rise)} while {tname} stopped improving ({gain_se} standard errors since) "
               f"and {fell}: the model overfits; its best {tname} was at {at_task}")
    actions = (
        f"Stop or restore at {at_task} (best {tname}); training past {at_loss} only raised the held-out loss.",
        "Regularise (weight decay, dropout, data augmentation) or get more data; with early stopping, use a "
        f"patience that ends the run soon after {tname} stops improving.",
    )
    ev = _evidence("loss_worse_metric_stalled", loss, task, b_loss, b_task, loss.where(b_loss),
                   loss_final=_point(loss, loss.n - 1), loss_rise_z=rise, metric_gain_z=gain,
                   metric_learned_z=learned, metric_improved=bool(learned >= p["min_z"]),
                   metric_declined=bool(declined), train_drop_z=drop,
                   measured_from="metric_best" if since_metric_best else "loss_best")
    return Finding(FindingKind.OVERFITTING, Severity.WARNING, msg, step=at_best["step"], epoch=at_best["epoch"],
                   evidence=ev, actions=actions, references=(PRECHELT,), detector=NAME)
