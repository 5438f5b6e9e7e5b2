"""Instability: non-finite values, loss spikes, divergence.

Which series are checked: every loss-like series (metric ``loss``, ``perplexity`` or ending in ``_loss``) of the
``train``, ``val`` and ``test`` splits, and the monitored series. At most one finding per type, each with
``evidence["type"]`` set to ``"non_finite"``, ``"divergence"`` or ``"spikes"``.

* **non_finite** (``critical``): the first NaN/±inf evaluation of any checked series; the evidence says how many
  there are and whether the series became finite again. A held-out series other than the monitored one that is
  NaN/±inf at *every* evaluation never measured anything and nothing broke down: it gets an ``info`` note (kind
  ``data``, ``evidence["type"] == "never_finite"``) instead; so does the monitored series itself when a training
  series is logged and finite throughout (an ``eval_loss`` NaN at all seven evaluations of a healthy fine-tune).
  When only held-out series have non-finite values, each is finite again later and every training series stayed
  finite, the evaluation failed at those points (a class without examples, a division by a zero count), not the
  training: a ``data`` warning (``evidence["type"] == "non_finite_heldout"``). The same holds for a held-out loss
  that is not finite again later (the last evaluation of an aborted run) when a task metric of its set (the
  monitored accuracy, F1…) was measured, finite, at each of its non-finite evaluations: the model was evaluated,
  only the loss's computation failed — or when a training series logged a finite value at or after the held-out
  series' first non-finite evaluation (training went on with finite numbers; the evaluation failed).
* **divergence** (``critical``): on the training loss, or on each of its logged parts (``train/box_loss``…; the
  held-out loss only when no training loss is logged —
  a held-out loss that rises while training falls is ``overfitting``), the trailing level at the end is above
  the best level by at least ``divergence_lost_fraction`` of the improvement made so far, by ``divergence_z`` noise
  standard errors, and every evaluation from the onset on stays above ``best + tolerance`` (tolerance =
  max(``divergence_tolerance_z`` noise standard deviations, ``divergence_tolerance_fraction`` of the
  improvement)) — or, for a noisy level shift, every trailing level (mean of ``window`` evaluations) stays above
  best + the same tolerance with the noise term divided by √window — for at least ``divergence_min_tail``
  evaluations; a positive loss printed as zero at its best (under ``divergence_floor_quanta`` steps of its printed
  precision) is not judged; for a positive loss the undone share is also measured on the log scale
  (``divergence_log_scale``: a loss read on a log axis, where a 9x rise from a 40x fall is most of the way back).
  Without a training series the rise must undo ``heldout_divergence_lost_fraction`` (default:
  all) of the improvement to be called divergence. A positive loss that never improved in the log (a resumed
  segment on a plateau) must end at ``divergence_fresh_ratio`` times its best level or more. A training series
  whose rise starts at an augmentation switch (Ultralytics' ``close_mosaic``, :mod:`gapwatch.schedule`; within
  ``schedule_window`` evaluations) is not divergence: from there on its loss is measured on other inputs.
* **spikes** (``warning``, or ``info`` — below): on the training loss (on held-out losses only when no training
  loss is logged: a held-out spike with a smooth training loss is an evaluation glitch, not a training instability;
  never on a GAN player's loss, ``loss_G``, ``d_loss``, which jumps whenever the other player gains), an
  evaluation whose excess over the median of the ``baseline`` evaluations before it is at least ``spike_z``
  times the local noise level (robust MAD of second differences over the surrounding ``noise_window``
  evaluations, never below ``min_local_noise_fraction`` of the whole curve's) **and** at least
  ``min_spike_fraction`` of the curve's improvement, and that comes back down (below baseline +
  ``recovery_fraction`` × the excess) within ``recovery`` evaluations. Both ratios ignore offset and scale of
  the loss, and the local noise makes it robust to a curve's own heteroscedastic noise. **Mini-batch noise**:
  training losses logged per batch (or every few steps of a small-batch fine-tune) are right-skewed — a few hard
  batches reach far above the median, far more often than the MAD of the curve's core predicts. On a series of
  at least ``tail_min_evaluations`` evaluations the noise level is therefore never below the one implied by the
  series' own upper tail (:func:`tail_sigma`): the ``tail_quantile`` quantile of its rises above the trailing
  baseline, divided by the standard normal quantile at that level. A lone spike in a smooth curve passes; a
  curve whose every tenth batch jumps gets no warning. **Severity**: a warning when ``warn_min_spikes`` or more
  spikes (not explained by the schedule) recur, or one undoes at least ``warn_spike_fraction`` of the curve's
  improvement; one or two smaller spikes that recovered are ``info`` (real logs judged healthy show them: an
  epoch-mean loss that jumps once and is back within a few epochs leaves the run unharmed), and so are one or two
  larger ones that left no trace on any held-out loss (none of its evaluations from the spike to the end of the
  recovery exceeds the median of the ``baseline`` before by ``spike_z`` of its local noise levels), and one or two
  in the first ``early_evaluations`` evaluations (the early large-learning-rate phase: "The large learning rate
  phase of deep learning: the catapult mechanism", Lewkowycz et al. 2020, where the loss jumps once and then
  settles lower).

References: "Small-scale proxies for large-scale Transformer training instabilities" (2023: attention-logit
growth and output-logit divergence; qk-layernorm and z-loss as remedies, learning-rate sensitivity);
"Outliers with Opposing Signals Have an Outsized Effect on Neural Network Optimization" (2023: spikes and
oscillations driven by small groups of outlier examples).
"""

from __future__ import annotations

from dataclasses import replace
from statistics import NormalDist
from typing import Any, cast

import numpy as np

from .. import schedule
from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor
from ..names import GAN_PLAYERS, metric_mode
from ..params import Param, defaults, register, validate
from ..schedule import ScheduleEvent
from ..stats import MAD_TO_SIGMA, median, noise_sigma, sliding_median, window_means
from . import register as register_detector
from ._common import (
    OPPOSING_SIGNALS,
    SMALL_SCALE_PROXIES,
    evals,
    fraction,
    keys,
    monitor_or_none,
    present,
    series_or_none,
    sigmas,
    signed,
    stays_above_from,
    std_errs,
    undone_text,
    where_text,
)

REFERENCES = (SMALL_SCALE_PROXIES, OPPOSING_SIGNALS)
#: The paper behind reading a loss rise right after a learning-rate re-warm as expected.
REWARM = "Continual Pre-Training of Large Language Models: How to (re)warm your model? (2023)"
#: Schedule events (:mod:`gapwatch.schedule`) that explain a loss spike right after them.
EXPLAINING_EVENTS: tuple[str, ...] = ("rewarm", "augmentation")

#: Parameters (:mod:`gapwatch.params`): units are evaluations, noise standard deviations ("sigma"), noise
#: standard errors of a level difference ("standard errors") and fractions of the curve's improvement.
SPECS: tuple[Param, ...] = register("instability", (
    evals("min_evaluations", 5, "Finite evaluations a series needs before spikes or divergence are judged "
          "(non-finite values are reported from the first one); fewer give no noise estimate."),
    evals("window", 3, "Trailing mean that defines a curve's level (capped at a third of the series): three "
          "evaluations average out single noisy points while keeping the level local."),
    fraction("divergence_lost_fraction", 0.5, "Share of the improvement made so far that the final training level "
             "must have undone to call divergence: half, so a slow drift is not divergence.", of="improvement"),
    fraction("heldout_divergence_lost_fraction", 1.0, "The same share when only a held-out loss is logged (never "
             "below divergence_lost_fraction): all of it, since a held-out rise that keeps part of the "
             "improvement is overfitting, not divergence.", of="improvement"),
    std_errs("divergence_z", 5.0, "Rise of the final level over the best level needed for divergence, in noise "
             "standard errors of a level difference: 5 keeps false alarms on noisy plateaus rare."),
    sigmas("divergence_tolerance_z", 4.0, "Divergence onset: first evaluation from which every value stays above "
           "best level + max(divergence_tolerance_z x noise, divergence_tolerance_fraction x improvement); 4 "
           "noise standard deviations are out of reach of Gaussian noise."),
    evals("divergence_min_tail", 3, "Evaluations the divergence must have stayed up for (capped at the level "
          "window): a rise at the last evaluation alone cannot be told from a spike the log stops in the middle of "
          "(non-finite values are judged on their own, from the first one)."),
    Param("divergence_floor_quanta", 2.0, "A positive loss whose best level is under this many steps of the "
          "precision it was printed with (0.000001 for 'mean loss: 0.000001') was printed as zero at its best: its "
          "rise (0.000000 → 0.000023) is not measured by ratios or shares of the improvement, so it is not judged "
          "for divergence.", unit="printed steps", low=0.0),
    fraction("divergence_tolerance_fraction", 0.05, "Second floor of that tolerance, for nearly noise-free curves: "
             "5% of the improvement.", of="improvement"),
    Param("divergence_log_scale", True, "Also measure the undone share of a positive loss's improvement on the "
          "log scale (ratios, as a loss is read on a log axis): a training loss that fell 40x and then rose 9x "
          "has undone 18% of its improvement in loss units but 60% in log units — it diverges. The noise test "
          "and the stays-above onset are unchanged.", type=bool),
    Param("divergence_fresh_ratio", 1.5, "A positive loss that never improved in the log (a resumed segment that "
          "starts on a plateau, or a run that climbs from its first step) diverges only when its final level is at "
          "least this multiple of its best: 1.5, half as much again. A plateau's noise makes any rise 'all of "
          "the improvement undone' when there was none to undo.", unit="ratio", low=1.0),
    Param("divergence_min_ratio", 1.03, "A positive loss diverges only when its final level is at least this "
          "multiple of its best level: 1.03, so a loss that sits at ln C and wanders by a percent (a model that never "
          "learned) is not called a blow-up, however small its improvement was.", unit="ratio", low=1.0),
    evals("baseline", 5, "Evaluations before a point whose median is its spike baseline (the median ignores an "
          "earlier spike)."),
    evals("noise_window", 21, "Evaluations around a point over which its local noise level is measured (robust "
          "MAD of second differences): wide enough for a stable estimate, local enough for heteroscedastic "
          "curves."),
    Param("min_local_noise_fraction", 0.5, "Floor of the local noise level, as a fraction of the whole curve's "
          "noise: half, so an unusually calm stretch does not turn ordinary noise into spikes.",
          unit="fraction", low=0),
    sigmas("spike_z", 8.0, "Excess of a spike over its baseline, in local noise standard deviations: 8 is far "
           "beyond any Gaussian evaluation noise."),
    fraction("min_spike_fraction", 0.1, "Excess of a spike as a fraction of the curve's improvement: 10%, so "
             "spikes too small to matter for the run are not reported.", of="improvement"),
    evals("recovery", 5, "Evaluations within which a spike must come back down (otherwise it is a level shift "
          "or divergence, not a spike)."),
    fraction("recovery_fraction", 0.5, "Coming back down means falling below baseline + recovery_fraction x the "
             "spike's excess: half of the excess undone.", of="excess", high=1),
    evals("early_evaluations", 5, "Evaluations at the start of a curve whose spikes, one or two that recovered, "
          "are the early large-learning-rate phase (the catapult of Lewkowycz et al. 2020: the loss jumps once "
          "and settles lower) and so info whatever their size."),
    evals("warn_min_spikes", 3, "Spikes (not explained by the schedule) that make the finding a warning, "
          "counted as moments (loss terms that spike together count once): recurring spikes say the "
          "optimisation is on the edge (a learning rate too high); one or two that recovered are reported as "
          "info.", low=1),
    fraction("warn_spike_rate", 0.01, "... and recur only when they are also at least this share of the "
             "evaluations of the series they are in: one in a hundred. Five blips in a 2,354-epoch YOLO run "
             "(a classification loss that jumps by 0.008 and falls back) are rare events of a long healthy run, "
             "not an optimiser on the edge.", of="evaluations of the series"),
    fraction("warn_spike_fraction", 0.5, "A single spike whose excess is at least this share of the curve's "
             "improvement makes the finding a warning however few there are: half the progress undone, even "
             "briefly.", of="improvement"),

    evals("schedule_window", 5, "Evaluations from a deliberate schedule change (a learning-rate re-warm or an "
          "augmentation switch read by gapwatch.schedule) within which a loss spike is read as the schedule's doing: "
          "as long as a spike may take to recover (recovery)."),
    evals("tail_min_evaluations", 20, "Evaluations a series needs before its upper-tail noise level is used (the "
          "mini-batch noise floor of spikes): with 20 the 90% quantile rests on the two largest rises, so a "
          "single spike cannot set it."),
    Param("tail_quantile", 0.9, "Quantile of a series' rises above its trailing baseline that sets its upper-tail "
          "noise level, read as a Gaussian quantile: spikes rarer than one evaluation in ten leave it at the "
          "noise, right-skewed mini-batch noise raises it.", unit="quantile", low=0.5, high=1, high_open=True),
    Param("glitch_max_fraction", 0.05, "Non-finite values that are isolated — finite values on both sides of each, "
          "the first and last values finite — and at most this share of a series (at least one) are a warning, "
          "not a critical breakdown: a mixed-precision loss scaler skips an overflowing batch and the run goes "
          "on. 5%.", unit="fraction", low=0, high=1),
    std_errs("monitor_held_z", 2.0, "A training loss that diverges while the monitored held-out series ends no "
             "worse than at the divergence onset (by at most this many noise standard errors of a level "
             "difference) is a warning, not critical: the model being evaluated is not broken (a loss that jumps "
             "when a script reloads its best weights at a learning-rate drop)."),))

#: Default parameters, ``{name: default}`` (from :data:`SPECS`).
DEFAULTS: dict[str, Any] = defaults(SPECS)


#: Last words of a ``loss_…`` name that make it no loss term: a weight of the objective (``loss_rmse_coeff``) or
#: Lightning's per-step twin of a logged epoch mean (``loss_step``).
_NOT_TERMS = frozenset({"coeff", "coef", "weight", "weights", "scale", "lambda", "factor", "ratio", "step"})


def _player(metric: str) -> bool:
    """A GAN player's loss: ``d_loss``, ``g_loss``, ``loss_D``, ``generator_loss``."""
    toks = metric.split("_")
    return toks[0] in GAN_PLAYERS or (len(toks) == 2 and toks[0] == "loss" and toks[1] in GAN_PLAYERS)


def _loss_like(metric: str) -> bool:
    """A loss, a loss term (``box_loss``, and ``loss_ce``, ``loss_total`` written loss-first) or a perplexity."""
    return metric in ("loss", "perplexity") or metric.endswith("_loss") or (
        metric.startswith("loss_") and metric.rsplit("_", 1)[-1] not in _NOT_TERMS)


def checked_series(history: History, mon: Monitor | None) -> list[Series]:
    """Loss-like series of train/val/test plus the monitored one, training first."""
    chosen: list[tuple[str, str]] = []
    present = keys(history)
    for split in ("train", "val", "test"):
        for sp, m in present:
            if sp == split and _loss_like(m):
                chosen.append((sp, m))
    if mon is not None and (mon.split, mon.metric) not in chosen:
        chosen.append((mon.split, mon.metric))
    out = []
    for sp, m in chosen:
        s = series_or_none(history, sp, m)
        if s is not None and len(s):
            out.append(s)
    return out


@register_detector("instability")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find NaN/inf, divergence and loss spikes in one run. Parameters: see :data:`SPECS`."""
    p = validate("instability", SPECS, params)
    mon = monitor_or_none(history, monitor)
    # ``underfitting`` asks for the spikes of the same run again: compute once per History, monitor and params
    key = ("instability.check", mon, tuple(sorted(p.items())))
    return list(history.memo(key, lambda: _check(history, mon, p)))


def _check(history: History, mon: Monitor | None, p: dict[str, Any]) -> list[Finding]:
    series = checked_series(history, mon)
    if not series:
        return []
    div = divergence(history, mon, p, series)
    planned = [e for e in schedule.events(history) if e.kind in EXPLAINING_EVENTS]
    train_fine = any(s.split == "train" for s in series) and all(
        bool(np.isfinite(s.values).all()) for s in series if s.split == "train")
    never = [s for s in series if _never_measured(s, mon, train_fine)]
    judged = [s for s in series if not any(s is t for t in never)]
    return present(_non_finite(judged, p), div, _spikes(series, p, div, planned), _never_finite(never))


def _never_measured(s: Series, mon: Monitor | None, train_fine: bool = False) -> bool:
    """A held-out series without a single finite value: it never measured anything (a validation loss computed on
    images without labels is +inf at every epoch; an HF ``eval_loss`` NaN at every evaluation of a float16 run), so
    nothing broke down. The monitored series counts only when a training series is logged and finite throughout
    (``train_fine``): without one, a monitor that is never finite may be the breakdown itself."""
    if s.split == "train" or (not train_fine and mon is not None and (s.split, s.metric) == (mon.split, mon.metric)):
        return False
    return len(s) > 0 and not bool(np.isfinite(s.values).any())


def _never_finite(never: list[Series]) -> Finding | None:
    """The note for held-out series that are NaN/±inf at every evaluation (:func:`_never_measured`)."""
    if not never:
        return None
    parts = [f"{s.name} ({len(s)} evaluation{'s' if len(s) != 1 else ''})" for s in never]
    msg = (f"{', '.join(parts)} {'is' if len(never) == 1 else 'are'} NaN/inf at every evaluation: never a "
           "measurement (a broken computation of that series, e.g. a validation loss over images without "
           "labels); not judged")
    return Finding(FindingKind.DATA, Severity.INFO, msg, evidence={"type": "never_finite",
                                                                   "series": [s.name for s in never]},
                   actions=("check how the series is computed and logged",), detector="instability")


def _sign(s: Series) -> float:
    """+1 for a lower-is-better metric, -1 otherwise (:func:`gapwatch.names.metric_mode`)."""
    return 1.0 if metric_mode(s.metric) == "min" else -1.0


def _isolated(s: Series, count: int, p: dict[str, Any]) -> bool:
    """Whether the non-finite values of ``s`` are isolated glitches: at most ``glitch_max_fraction`` of its values
    (at least one), its last value finite, and finite values on both sides of each."""
    v = s.values
    if count > max(1, int(p["glitch_max_fraction"] * v.size)) or not np.isfinite(v[-1]) or not np.isfinite(v[0]):
        return False
    bad = np.where(~np.isfinite(v))[0]
    return bool(np.all(np.isfinite(v[bad - 1])) and np.all(np.isfinite(v[bad + 1])))


def _training_glitch(s: Series, i: int, what: str, counts: dict[str, int]) -> Finding:
    """The warning for isolated non-finite values (``_isolated``): finite before, after and at the end."""
    msg = (f"{s.name} is {what} at {where_text(s, i)} ({sum(counts.values())} isolated non-finite value(s), finite "
           "before and after each and at the end): an overflowing batch skipped by a mixed-precision loss scaler "
           "or a logging glitch, not a numerical breakdown of the run")
    ev = {"type": "non_finite", "series": s.name, "first_index": i, "value": what, "counts": counts,
          "isolated": True}
    return Finding(FindingKind.INSTABILITY, Severity.WARNING, msg, step=s.at(i)["step"], epoch=s.at(i)["epoch"],
                   evidence=ev, actions=("if it recurs, lower the learning rate or clip gradients; check the loss "
                                         "scaler's skipped steps",), references=REFERENCES, detector="instability")


def _non_finite(series: list[Series], p: dict[str, Any]) -> Finding | None:
    first: tuple[float, Series, int] | None = None
    counts: dict[str, int] = {}
    recovered: dict[str, bool] = {}
    for s in series:
        bad = ~np.isfinite(s.values)
        if not bad.any():
            continue
        i = int(np.argmax(bad))
        counts[s.name] = int(bad.sum())
        recovered[s.name] = bool(np.isfinite(s.values[i:]).any())
        x = float(s.step[i]) if np.isfinite(s.step[i]) else float(s.x[i])
        if first is None or x < first[0]:
            first = (x, s, i)
    if first is None:
        return None
    _, s, i = first
    v = s.values[i]
    what = "NaN" if np.isnan(v) else ("+inf" if v > 0 else "-inf")
    bad_names = set(counts)
    train = [t for t in series if t.split == "train"]
    if (train and all(t.name not in bad_names for t in train)
            and not any(_zero_since(t, s, i) for t in train)
            and all(recovered[t.name] or _measured_beside(t, series) or _trained_on(t, train)
                    for t in series if t.name in bad_names)
            and all(t.split != "train" for t in series if t.name in bad_names)):
        return _heldout_glitch(s, i, what, counts)
    fin = np.where(np.isfinite(s.values[:i]))[0]
    last_ok = int(fin[-1]) if fin.size else None
    if all(_isolated(t, counts[t.name], p) for t in series if t.name in bad_names):
        return _training_glitch(s, i, what, counts)
    msg = (f"{s.name} is {what} from {where_text(s, i)} on ({counts[s.name]} non-finite evaluation(s)"
           + (", finite again later" if recovered[s.name] else "") + "): the run broke down numerically")
    ev = {"type": "non_finite", "series": s.name, "first_index": i, "value": what,
          "counts": counts, "recovered": recovered,
          "last_finite_step": s.at(last_ok)["step"] if last_ok is not None else None,
          "last_finite_epoch": s.at(last_ok)["epoch"] if last_ok is not None else None}
    actions = (
        (f"restore the last finite checkpoint (before {where_text(s, i)})" if last_ok is not None
         else "the run never produced a finite value: check the data, the loss and the initialisation"),
        "lower the learning rate or lengthen warmup; clip gradients",
        "use float32 or bfloat16 instead of float16 (or check the loss scaler); guard log(0) and divisions",
        ("for Transformers, qk-layernorm and a z-loss on the output logits prevent the logit growth behind "
        "many blow-ups"),
    )
    return Finding(FindingKind.INSTABILITY, Severity.CRITICAL, msg, step=s.at(i)["step"],
                   epoch=s.at(i)["epoch"], evidence=ev, actions=actions, references=REFERENCES,
                   detector="instability")


def _zero_since(t: Series, bad: Series, i: int) -> bool:
    """True when training series ``t`` logged a nonzero value before ``bad``'s first non-finite evaluation (index
    ``i``) and exactly 0.0 at each of two or more logs from then on: a NaN the logger masks — the Hugging Face
    ``Trainer`` in float16 prints ``{'loss': 0.0, 'grad_norm': nan}`` once the weights are NaN, while its
    evaluation loss reads NaN. A training loss that is exactly zero is no evidence that training went on."""
    axis = "step" if np.isfinite(bad.step[i]) and np.isfinite(t.step).any() else "epoch"
    at = float(getattr(bad, axis)[i])
    x = getattr(t, axis)
    if not np.isfinite(at):
        return False
    after, before = t.values[x >= at], t.values[x < at]
    return after.size >= 2 and bool(np.all(after == 0.0)) and bool(np.any(before[np.isfinite(before)] != 0.0))


def _trained_on(bad: Series, train: list[Series]) -> bool:
    """True when a training series has a finite value at or after the first NaN/±inf evaluation of the held-out
    series ``bad`` (on the step or the epoch axis: a last validation row logged after the epoch's last training
    step belongs to that epoch): training went on with finite numbers, so
    what failed was the evaluation (a final validation row of NaN after a finite last training loss), not the
    training."""
    i = int(np.argmax(~np.isfinite(bad.values)))
    for t in train:
        fin = np.isfinite(t.values)
        for axis in ("step", "epoch"):
            at, xs = float(getattr(bad, axis)[i]), getattr(t, axis)[fin]
            if np.isfinite(at) and bool(np.any(xs >= at)):
                return True
    return False


def _measured_beside(bad: Series, series: list[Series]) -> bool:
    """True when a task metric of the same held-out split (a checked series that is not loss-like: the monitored
    accuracy, F1…) has a finite value at every x where ``bad`` is NaN/±inf: the evaluation ran and measured the
    model; only the loss's computation failed (``Va loss=nan acc=0.978`` in the last epoch of an aborted run)."""
    xs = bad.x[~np.isfinite(bad.values)]
    for t in series:
        if t.split != bad.split or _loss_like(t.metric) or t.x_kind != bad.x_kind:
            continue
        ok = t.x[np.isfinite(t.values)]
        if xs.size and bool(np.isin(xs, ok).all()):
            return True
    return False


def _heldout_glitch(s: Series, i: int, what: str, counts: dict[str, int]) -> Finding:
    """Non-finite values in held-out series only, each finite again later or measured beside a finite task metric
    (:func:`_measured_beside`), while every training series stayed finite: the evaluation's computation failed at
    those points (a class without examples, a division by a zero count), the training did not break down. A
    ``data`` warning (the log's values, not the training), with where."""
    n = sum(counts.values())
    msg = (f"{s.name} is {what} at {where_text(s, i)} ({n} non-finite held-out evaluation(s) in "
           f"{', '.join(sorted(counts))}) while the training loss stayed finite: the "
           "evaluation failed at those points, training did not break down")
    ev = {"type": "non_finite_heldout", "series": s.name, "first_index": i, "value": what, "counts": counts}
    actions = ("check how the held-out measure is computed at those evaluations (an empty class, a division by a "
               "zero count, float16 overflow in the evaluation)",)
    return Finding(FindingKind.DATA, Severity.WARNING, msg, step=s.at(i)["step"], epoch=s.at(i)["epoch"],
                   evidence=ev, actions=actions, references=REFERENCES, detector="instability")


def divergence(history: History, mon: Monitor | None, p: dict[str, Any] | None = None,
               series: list[Series] | None = None) -> Finding | None:
    """The divergence finding (also used by ``overfitting`` and ``underfitting`` to stay silent on diverging
    runs). ``series`` must be ``checked_series(history, mon)`` when given (it only saves recomputing it); the
    result is computed once per History, monitor and parameters (:meth:`History.memo`)."""
    p = p if p is not None else dict(DEFAULTS)
    key = ("instability.divergence", mon, tuple(sorted(p.items())))
    return history.memo(key, lambda: _divergence(history, mon, p, series))


def _divergence(history: History, mon: Monitor | None, p: dict[str, Any],
                series: list[Series] | None) -> Finding | None:
    series = series if series is not None else checked_series(history, mon)
    switches = [e for e in schedule.events(history) if e.kind == "augmentation"]
    for s, need_lost in _divergence_series(series, mon, p):
        if s.split != "train" and _task_metric_learned(history, mon, s, p):
            continue
        found = _diverges_at(s, need_lost, p)
        if _at_switch(s, found, switches, p):
            continue
        if found is not None:
            return _held_beside(history, mon, s, found, p)
    return None


def _at_switch(s: Series, found: Finding | None, switches: list[ScheduleEvent], p: dict[str, Any]) -> bool:
    """Whether divergence ``found`` of training series ``s`` starts at an augmentation switch (Ultralytics'
    ``close_mosaic``, :mod:`gapwatch.schedule`): within ``schedule_window`` evaluations of the evaluation before
    it. From the switch on the training loss is measured on other inputs (no mosaic), so a loss term that steps
    up there has changed its data, not diverged."""
    if found is None or s.split != "train" or not switches:
        return False
    onset = found.epoch
    if onset is None or not np.isfinite(onset) or not np.isfinite(s.epoch).any():
        return False
    fs = s.finite()
    i = int(np.searchsorted(fs.epoch, onset, side="left"))
    return _explained_by(fs, i, switches, p) is not None


def _task_metric_learned(history: History, mon: Monitor | None, s: Series, p: dict[str, Any]) -> bool:
    """Whether the monitored task metric of held-out loss ``s``'s set (accuracy, F1… — not a loss) ends better
    than it began by ``monitor_held_z`` noise standard errors (trailing means over the detector's window): a log of
    evaluations only whose held-out loss climbs while its accuracy keeps what it learned (an eval-only log where
    eval_loss rises 0.60 → 2.95 beside an eval_acc of 0.48 → 0.69) shows a model growing over-confident — judged by
    ``overfitting`` and ``metric_disagreement`` — not a training run that broke down."""
    if mon is None or mon.split != s.split or _loss_like(mon.metric):
        return False
    held = series_or_none(history, mon.split, mon.metric)
    if held is None:
        return False
    z = mon.sign * held.finite().values
    n = z.size
    if n < p["min_evaluations"]:
        return False
    w = max(1, min(p["window"], n // 3))
    first, final = float(np.mean(z[:w])), float(np.mean(z[-w:]))
    return first - final > p["monitor_held_z"] * noise_sigma(z) * np.sqrt(2.0 / w)


def _held_beside(history: History, mon: Monitor | None, s: Series, found: Finding, p: dict[str, Any]) -> Finding:
    """``found`` (the divergence of training series ``s``) as a warning when the monitored held-out series ends
    no worse than it was at the divergence onset (:data:`SPECS` ``monitor_held_z``); else unchanged."""
    if mon is None or s.split != "train" or mon.split == "train":
        return found
    held = series_or_none(history, mon.split, mon.metric)
    if held is None:
        return found
    hs = held.finite()
    onset = found.epoch if hs.x_kind == "epoch" else found.step
    if onset is None or not np.isfinite(onset) or len(hs) < 2 * p["window"]:
        return found
    z = mon.sign * hs.values
    before = z[hs.x <= onset]
    after = z[hs.x > onset]
    w = p["window"]
    if before.size == 0 or after.size < w:
        return found
    level, final = float(np.mean(before[-w:])), float(np.mean(after[-w:]))
    if final - level > p["monitor_held_z"] * noise_sigma(z) * np.sqrt(2.0 / w):
        return found
    msg = (f"{found.message}; the monitored {held.name} ended no worse than it was then, so the model being "
           "evaluated is not broken")
    return replace(found, severity=Severity.WARNING, message=msg,
                   evidence={**found.evidence, "monitor_held": True})


def _diverges_at(s: Series, need_lost: float, p: dict[str, Any]) -> Finding | None:
    """The divergence finding of one series (see the module docstring), or None."""
    fs = s.finite()
    n = len(fs)
    if n < p["min_evaluations"]:
        return None
    z = signed(fs.values, _sign(fs))  # (the values themselves for a loss: no copy)
    w = max(1, min(p["window"], n // 3))
    lv = window_means(z, w)
    b = int(np.argmin(lv))
    best_level = float(lv[b])
    del lv  # (the log levels below need their own long arrays)
    first = float(np.mean(z[:w]))
    improvement = max(first - best_level, 0.0)
    final = float(np.mean(z[-w:]))
    sigma = noise_sigma(z)
    se = sigma * np.sqrt(2.0 / w)
    rise = final - best_level
    if rise <= 0:
        return None
    zr = rise / se if se > 0 else np.inf
    lost = rise / improvement if improvement > 0 else np.inf
    if improvement <= 0 and _sign(fs) > 0 and best_level > 0 and final < p["divergence_fresh_ratio"] * best_level:
        return None  # never improved here: only a large relative climb is divergence
    if _sign(fs) > 0 and best_level > 0 and final < p["divergence_min_ratio"] * best_level:
        return None  # a positive loss a few percent above its best (a flat loss at ln C wandering) is no blow-up
    if p["divergence_log_scale"] and lost < need_lost and _sign(fs) > 0:
        lost = max(lost, _log_lost(fs.values, w, b))
    if zr < p["divergence_z"] or lost < need_lost:
        return None
    # (after the cheap tests: the printed precision is a pass over the values per power of ten)
    if _sign(fs) > 0 and 0.0 <= best_level < p["divergence_floor_quanta"] * print_quantum(fs.values):
        return None  # a loss printed as 0.000000 / 0.000001 at its best: its rise is not measured
    tol = max(p["divergence_tolerance_z"] * sigma, p["divergence_tolerance_fraction"] * improvement)
    tail = min(p["divergence_min_tail"], w)
    onset = stays_above_from(z > best_level + tol, b + w - 1)
    if n - onset < tail and w > 1:  # a noisy level shift: the level (means of w) stays up, if not each value
        lv = window_means(z, w)
        tol_level = max(p["divergence_tolerance_z"] * sigma / np.sqrt(w),
                        p["divergence_tolerance_fraction"] * improvement)
        onset = min(onset, stays_above_from(lv > best_level + tol_level, b + w - 1))
    if n - onset < tail:
        return None
    return _divergence_finding(fs, onset, b + w - 1, best_level, final, lost, zr, sigma)


def print_quantum(values: np.ndarray) -> float:
    """The step of the decimal precision ``values`` were printed with: the largest power of ten (1e-12 … 1)
    that every finite value is a whole multiple of (0.000158, 0.000001 and 0.0 → 1e-6); 0.0 when none is (values
    written at full float precision)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 0.0
    for k in range(0, 13):
        q = 10.0 ** -k
        r = v / q
        if float(np.max(np.abs(r))) > 1e9:
            return 0.0  # (more than nine significant digits: written at full precision)
        whole = np.round(r)
        if np.all((np.abs(r - whole) <= 1e-5) & ((whole != 0) | (v == 0))):
            return q
    return 0.0


def _log_lost(values: np.ndarray, w: int, b: int) -> float:
    """The share of a positive min-mode series' improvement undone at its end, on the log scale: levels are
    trailing means of ``log(values)`` over ``w`` evaluations (shape ``(n,)``), measured from the first level to
    the level at ``b`` (the best in loss units) and back up to the final one. 0.0 when a value is not positive or
    the series did not improve."""
    if values.size < w or np.any(values <= 0):
        return 0.0
    logs = np.log(values)
    lv = window_means(logs, w)
    del logs
    first, best, final = float(np.mean(np.log(values[:w]))), float(lv[b]), float(lv[-1])
    return (final - best) / (first - best) if first > best else 0.0


def _divergence_series(series: list[Series], mon: Monitor | None,
                       p: dict[str, Any]) -> list[tuple[Series, float]]:
    """The series judged for divergence, each with the share of the improvement its rise must undo: the
    training loss-like series (``loss`` first, then parts such as Ultralytics' ``train/box_loss``; not a GAN
    player's ``d_loss``/``g_loss``, which rises whenever the other player wins), else the
    monitored split's first loss-like series (which must undo more); empty without either."""
    train = sorted((s for s in series if s.split == "train" and _loss_like(s.metric) and not _player(s.metric)),
                   key=lambda s: s.metric != "loss")
    if train:
        return [(s, p["divergence_lost_fraction"]) for s in train]
    held = [s for s in series if mon is not None and s.split == mon.split and _loss_like(s.metric)]
    if not held:
        return []
    return [(held[0], max(p["heldout_divergence_lost_fraction"], p["divergence_lost_fraction"]))]


def _divergence_finding(fs: Series, onset: int, best_index: int, best_level: float, final: float, lost: float,
                        zr: float, sigma: float) -> Finding:
    """The divergence finding of ``fs`` (finite values) rising from ``onset`` on; levels in signed units."""
    msg = (f"{fs.name} diverges: from {where_text(fs, onset)} it rises and stays up (final {fs.values[-1]:.4g} "
           f"vs best {_sign(fs) * best_level:.4g}; "
           + (f"{undone_text(lost)})" if np.isfinite(lost) else "no improvement left)"))
    ev = {"type": "divergence", "series": fs.name, "onset_index": int(onset), "best_level": _sign(fs) * best_level,
          "final_level": _sign(fs) * final, "lost_fraction_of_improvement": float(lost) if np.isfinite(lost) else None,
          "z": float(zr) if np.isfinite(zr) else None, "noise_sigma": float(sigma),
          "best_step": fs.at(best_index)["step"], "best_epoch": fs.at(best_index)["epoch"]}
    actions = (
        f"restore the checkpoint from before {where_text(fs, onset)}",
        ("lower the learning rate (divergence is the classic sign of a learning rate that is too high), or "
        "decay it earlier; add warmup and gradient clipping"),
        ("for Transformers, qk-layernorm and a z-loss on the output logits remove the logit growth that makes "
        "training diverge at larger learning rates"),
    )
    return Finding(FindingKind.INSTABILITY, Severity.CRITICAL, msg, step=fs.at(onset)["step"],
                   epoch=fs.at(onset)["epoch"], evidence=ev, actions=actions, references=REFERENCES,
                   detector="instability")


def _local_sigma(z: np.ndarray, i: int, window: int) -> float:
    """Robust noise level around point ``i``: MAD of the second differences in a centred window of about
    ``window`` evaluations, leaving out the three second differences that involve the point itself (a spike
    would inflate them). Same units as ``z``; 0.0 when too few points."""
    if z.size < 4:
        return 0.0
    d = np.diff(z, n=2)  # d[j] involves z[j], z[j+1], z[j+2]
    h = window // 2
    lo, hi = max(0, i - h), min(d.size, i + h)
    seg = np.concatenate([d[lo: max(lo, i - 2)], d[min(hi, i + 1): hi]])
    if seg.size < 3:
        return 0.0
    return cast(float, MAD_TO_SIGMA * median(np.abs(seg - median(seg))) / np.sqrt(6.0))


def tail_sigma(z: np.ndarray, baseline: int, quantile: float) -> float:
    """Noise level implied by the upper tail of a series' rises: the ``quantile`` quantile of
    ``z[i] - median(z[i - baseline: i])`` (``i ≥ 2``) divided by the standard normal quantile at ``quantile``,
    i.e. the standard deviation a Gaussian with that upper tail would have. Same units as ``z`` (shape ``(n,)``);
    0.0 when fewer than 3 points or when the quantile is not a rise."""
    if z.size < 3:
        return 0.0
    r = trailing_median(z, baseline)[2:]
    np.subtract(z[2:], r, out=r)  # (in place: the rises, without a second long array)
    q = float(np.quantile(r, quantile, overwrite_input=True))  # (the scratch array is partitioned in place)
    return max(q, 0.0) / NormalDist().inv_cdf(quantile)


def trailing_median(z: np.ndarray, k: int) -> np.ndarray:
    """``out[i] = median(z[max(0, i - k): i])``: the median of the ``k`` evaluations before ``i`` (fewer at the
    start), shape ``(n,)``; ``out[0]`` is NaN (nothing before it). The full windows are computed at once
    (:func:`gapwatch.stats.sliding_median`: the same medians as one ``np.median`` per window, without a Python
    loop over a million points)."""
    z = np.asarray(z, dtype=float)
    n = z.size
    out = np.full(n, np.nan)
    k = max(1, int(k))
    for i in range(1, min(k, n)):  # the first windows are shorter
        out[i] = median(z[:i])
    if n > k:
        sliding_median(z[:-1], k, out=out[k:])  # (written in place)
    return out


#: One spike: ``(series, index, excess, excess in local noise standard deviations, excess as a share of the
#: curve's improvement)``.
_Spike = tuple[Series, int, float, float, float]


def _spikes(series: list[Series], p: dict[str, Any], div: Finding | None,
            planned: list[ScheduleEvent]) -> Finding | None:
    found: list[_Spike] = []
    losses = [s for s in series if _loss_like(s.metric) and not _player(s.metric)]  # (a GAN player's loss jumps
    train = [s for s in losses if s.split == "train"]  # whenever the other player gains: no instability)
    for s in (train or losses):
        found.extend(_series_spikes(s.finite(), p, div))
    if not found:
        return None
    explained = {(f[0].name, f[1]): e for f in found if (e := _explained_by(f[0], f[1], planned, p)) is not None}
    held = [s.finite() for s in losses if s.split != "train"] if train else []
    traceless = bool(held) and all(_heldout_trace(f[0], f[1], held, p) is False for f in found)
    return _spikes_finding(found, p, explained, traceless=traceless)


def _heldout_trace(s: Series, i: int, held: list[Series], p: dict[str, Any]) -> bool | None:
    """Whether the training spike at evaluation ``i`` of ``s`` shows on a held-out loss: at the held-out
    evaluations from the spike to the end of its recovery (``recovery`` evaluations of ``s``), one exceeds the
    median of the ``baseline`` held-out values before them by ``spike_z`` noise levels or more (the held-out series'
    local noise around the spike, as for the training spike). None when no held-out loss shares the spike's axis or
    has values before and at it."""
    axis = "step" if np.isfinite(s.step[i]) else "epoch"
    x = s.step if axis == "step" else s.epoch
    x0 = float(x[i])
    x1 = float(x[min(i + p["recovery"], len(s) - 1)])
    verdicts: list[bool] = []
    for h in held:
        hx = h.step if axis == "step" else h.epoch
        if not np.isfinite(hx).any():
            continue
        at = np.flatnonzero((hx >= x0) & (hx <= x1))
        before = np.flatnonzero(hx < x0)[-p["baseline"]:]
        if at.size == 0 or before.size < 2:
            continue
        z = signed(h.values, _sign(h))
        sigma = max(_local_sigma(z, int(at[0]), p["noise_window"]),
                    p["min_local_noise_fraction"] * noise_sigma(z), 1e-12)
        base = float(np.median(z[before]))
        verdicts.append(bool(float(np.max(z[at])) - base >= p["spike_z"] * sigma))
    return None if not verdicts else any(verdicts)


def _explained_by(s: Series, i: int, planned: list[ScheduleEvent], p: dict[str, Any]) -> ScheduleEvent | None:
    """The schedule event (re-warm, augmentation switch) that evaluation ``i`` of ``s`` follows within
    ``schedule_window`` evaluations (counting from the evaluation before the event's first point), else None."""
    for e in planned:
        if np.isfinite(e.step) and np.isfinite(s.step).any():
            x, at = s.step, e.step
        elif np.isfinite(e.epoch) and np.isfinite(s.epoch).any():
            x, at = s.epoch, e.epoch
        else:
            continue
        j0 = max(int(np.searchsorted(x, at, side="left")) - 1, 0)
        if j0 <= i < j0 + p["schedule_window"]:
            return e
    return None


def _series_spikes(fs: Series, p: dict[str, Any], div: Finding | None) -> list[_Spike]:
    """The spikes of one series (finite values) before the onset of ``div`` when it diverges, in order."""
    n = len(fs)
    if n < p["min_evaluations"]:
        return []
    z = signed(fs.values, _sign(fs))  # (the values themselves for a loss: no copy)
    end = n
    if div is not None and div.evidence.get("series") == fs.name:
        end = int(div.evidence["onset_index"])
    gsig = noise_sigma(z)
    w = max(1, min(p["window"], n // 3))
    lv = window_means(z, w)
    improvement = max(float(np.mean(z[:w]) - np.min(lv)), 0.0)
    del lv  # (one long array fewer while the baselines below are made)
    if improvement <= 0:
        return []
    if end <= 2:
        return []
    # noise floor: a share of the whole curve's noise, and the level its own upper tail implies (mini-batch
    # noise is right-skewed); local noise >= that floor, so the pre-filter below is exact
    tsig = tail_sigma(z, p["baseline"], p["tail_quantile"]) if n >= p["tail_min_evaluations"] else 0.0
    floor_sig = max(p["min_local_noise_fraction"] * gsig, tsig)
    base_all = trailing_median(z, p["baseline"])  # base_all[i] = median(z[max(0, i - k): i])
    exc_all = z[2:end] - base_all[2:end]
    # cheap tests first, on every evaluation at once; the local noise level only for candidates
    cand = np.flatnonzero((exc_all > 0) & (exc_all >= p["min_spike_fraction"] * improvement)
                          & (exc_all >= p["spike_z"] * floor_sig)) + 2
    return _accepted_spikes(fs, z, cand.tolist(), base_all, end, floor_sig, improvement, p)


def _accepted_spikes(fs: Series, z: np.ndarray, cand: list[int], base_all: np.ndarray, end: int,
                     floor_sig: float, improvement: float, p: dict[str, Any]) -> list[_Spike]:
    """The candidates that clear the local noise and recover in time; a spike's recovery is skipped."""
    found: list[_Spike] = []
    nxt = 2  # evaluations before ``nxt`` belong to the recovery of an accepted spike and are skipped
    for i in cand:
        if i < nxt:
            continue
        base = float(base_all[i])
        exc = float(z[i] - base)
        lsig = max(_local_sigma(z, i, p["noise_window"]), floor_sig)
        back = np.where(z[i + 1: min(end, i + 1 + p["recovery"])] < base + p["recovery_fraction"] * exc)[0]
        if exc >= p["spike_z"] * lsig and back.size:
            found.append((fs, i, exc, exc / lsig if lsig > 0 else np.inf, exc / improvement))
            nxt = i + int(back[0]) + 2
    return found


def _spikes_finding(found: list[_Spike], p: dict[str, Any],
                    explained: dict[tuple[str, int], ScheduleEvent] | None = None, traceless: bool = False) -> Finding:
    """The spikes finding: every spike found, the earliest first; ``explained`` maps ``(series name, index)`` of
    a spike to the schedule event it follows. Only spikes that no event explains make it a warning; when every
    spike follows a deliberate schedule change, the finding is ``info`` and says so."""
    explained = explained or {}
    found.sort(key=lambda t: float(t[0].step[t[1]]) if np.isfinite(t[0].step[t[1]]) else float(t[0].x[t[1]]))
    own = [f for f in found if (f[0].name, f[1]) not in explained]
    s, i, exc, zz, _ = (own or found)[0]
    names = sorted({f[0].name for f in (own or found)})
    where = [{"series": f[0].name, **f[0].at(f[1]), "excess": f[2], "z": float(f[3]) if np.isfinite(f[3]) else None,
              "schedule_event": hit.to_dict() if (hit := explained.get((f[0].name, f[1]))) is not None else None}
             for f in found[:20]]
    events = list({id(e): e for e in explained.values()}.values())
    if own:
        msg = (f"{len(own)} loss spike(s) in {', '.join(names)}, the first at {where_text(s, i)} "
               f"(+{exc:.3g}, {min(zz, 999):.0f}x the local noise), each recovering within "
               f"{p['recovery']} evaluations")
        if events:
            msg += f" ({len(found) - len(own)} more right after {_events_text(events)} are the schedule's doing)"
    else:
        msg = (f"{len(found)} loss spike(s) in {', '.join(names)}, each right after {_events_text(events)}: "
               "expected from the schedule, not an instability")
    ev = {"type": "spikes", "count": len(own), "spikes": where, "series": names,
          "explained_by_schedule": len(found) - len(own), "schedule_events": [e.to_dict() for e in events]}
    if not own:
        return Finding(FindingKind.INSTABILITY, Severity.INFO, msg, step=s.at(i)["step"], epoch=s.at(i)["epoch"],
                       evidence=ev, references=REFERENCES + (REWARM,), detector="instability")
    largest = max(f[4] for f in own)
    ev["largest_excess_fraction"] = largest
    ev["heldout_trace"] = not traceless
    early = all(f[1] < p["early_evaluations"] for f in own)
    longest = max(len(f[0]) for f in own)
    n_events = _spike_events(own, p)
    recurring = n_events >= p["warn_min_spikes"] and n_events >= p["warn_spike_rate"] * longest
    ev["evaluations"] = longest
    ev["events"] = n_events
    if n_events < len(own):
        msg += f" ({n_events} moment{'s' if n_events != 1 else ''} at which several loss terms spike together)"
    if not recurring and (largest < p["warn_spike_fraction"] or traceless or early):
        what = (f"at most {_share_text(largest)} of the curve's improvement, and recovered"
                if largest < p["warn_spike_fraction"] else
                "recovered, and the held-out loss did not move with them" if traceless else
                f"in the first {p['early_evaluations']} evaluations, the early large-learning-rate phase, and "
                "recovered")
        rate = (f", at least one in {1 / p['warn_spike_rate']:.0f} evaluations," if p["warn_spike_rate"] > 0 else "")
        msg += (f": transient ({what}) — no action needed unless they recur ({p['warn_min_spikes']} or more{rate} "
                "make a warning)")
        return Finding(FindingKind.INSTABILITY, Severity.INFO, msg, step=s.at(i)["step"], epoch=s.at(i)["epoch"],
                       evidence=ev, references=REFERENCES, detector="instability")
    actions = (
        "lower the peak learning rate or lengthen warmup; clip gradients",
        ("spikes often come from small groups of outlier examples with opposing signals: look at the examples "
        "whose loss jumps at the spike (gapwatch examples)"),
        ("for Transformers, qk-layernorm and a z-loss keep attention and output logits from growing; a larger "
        "Adam epsilon or smaller beta2 damps updates after rare large gradients"),
    )
    return Finding(FindingKind.INSTABILITY, Severity.WARNING, msg, step=s.at(i)["step"], epoch=s.at(i)["epoch"],
                   evidence=ev, actions=actions, references=REFERENCES, detector="instability")


def _spike_position(s: Series, i: int) -> float:
    """Where evaluation ``i`` of ``s`` lies on the axis spikes are compared on: its step when logged, else its
    epoch or x."""
    return float(s.step[i]) if np.isfinite(s.step[i]) else float(s.x[i])


def _spike_events(spikes: list[_Spike], p: dict[str, Any]) -> int:
    """The number of distinct moments among ``spikes`` (sorted by position): a spike of another series that
    starts within the recovery of an earlier spike (``recovery`` evaluations of that spike's series) is the same
    event, a second spike of the same series is not. The terms of one loss (YOLO's box/cls/dfl losses, a total
    and its parts) jump together at one bad step, and recurrence (``warn_min_spikes``, ``warn_spike_rate``)
    counts events, not series."""
    events = 0
    end = -np.inf
    members: set[str] = set()
    for s, i, *_ in spikes:
        x = _spike_position(s, i)
        if x <= end and s.name not in members:
            members.add(s.name)
            continue
        events += 1
        end = _spike_position(s, min(i + p["recovery"], len(s) - 1))
        members = {s.name}
    return events


def _share_text(x: float) -> str:
    """A share of the improvement in words: ``"40%"``; ``"more than all"`` past 100% (no absurd percentages)."""
    return f"{100 * x:.0f}%" if x <= 1.0 else "more than all"


def _events_text(events: list[ScheduleEvent]) -> str:
    """``"the learning-rate re-warm at step 1200"`` (the first two events named, the rest counted)."""
    what = {"rewarm": "the learning-rate re-warm", "augmentation": "the mosaic-augmentation switch (close_mosaic)",
            "drop": "the learning-rate drop"}
    named = [f"{what.get(e.kind, e.kind)} at {e.where()}" for e in events[:2]]
    more = f" and {len(events) - 2} more schedule change(s)" if len(events) > 2 else ""
    return " and ".join(named) + more
