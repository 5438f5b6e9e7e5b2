"""Underfitting: at the end of the run the training loss is still falling steeply, or training is stuck, and the
train/held-out gap is small — train longer or use a bigger model, not more regularisation.

Statistic. ``z`` is the training loss (the held-out loss when no training loss is logged), finite values only;
``w`` the level window.

* **still falling**: over the last ``tail_fraction`` of the evaluations (at least ``min_tail_evaluations``) the
  level fell by
  ``D_tail``; the run is still falling when ``D_tail`` is at least ``min_tail_share`` of the whole run's improvement
  (a converged curve makes almost none of its progress at the end) **and** ``D_tail ≥ min_z`` noise standard
  errors. The held-out loss must be falling over the same tail too (if it rises, that is ``overfitting``).
* **stuck**: the loss has not improved by more than ``min_z`` noise standard deviations over the whole run (a
  constant curve included), or the training accuracy level at the end is at most ``stuck_train_acc`` and gained
  less than ``min_acc_gain`` since the first evaluation while the loss is no longer falling. A training accuracy
  that gained at least ``min_acc_gain`` is never stuck (a short, noisy loss can hide learning that the accuracy
  shows: 0.15 → 0.50 over five epochs).
  When only the noise test says so (no low training accuracy), a held-out loss that improved beyond its own
  noise (``min_z`` standard errors) vetoes it: a training loss logged per batch can be too noisy to show the
  progress the held-out loss shows. So does a deciding held-out task metric (accuracy, AUROC, F1…) that
  improved beyond its own noise (``min_z``): a fine-tune at a tiny learning rate barely moves its training loss
  while its held-out accuracy climbs.
* **stuck, flatlined**: the training loss and the held-out loss made progress early and then stopped changing:
  over the last ``flat_min_fraction`` of each (at least ``flat_min_evaluations`` evaluations) the range of each
  is at most ``flat_rel_tol`` of that curve's improvement, and neither falls without ever rising there (a
  noiseless curve converging geometrically does: it still learns; an exactly constant stretch is frozen).
  Mini-batch noise alone moves a learning run's loss by far more; two curves this flat for half a run are a
  model that no longer changes — collapsed to a constant output (an autoencoder or language model whose loss
  sits at the entropy of the label marginal, ln C for C equally likely classes; a VAE stuck at the mean image), a
  learning rate at zero, frozen weights. The noise test above cannot see it: a curve that first fell and then
  froze has "improved" far beyond its (near-zero) noise. Both curves are required: a training loss resting near
  zero is as flat relative to its improvement, and it is fitted, not stuck. Without an absolute scale (every
  ratio here ignores offset and scale) a model whose training *and* held-out losses both reached their floor and
  rest there without any noise cannot be told from a frozen one; a logged training accuracy at
  ``fitted_train_acc`` or above excludes it.
* **small gap** (still falling): held-out minus training loss at the end is at most ``max_gap_fraction`` of the
  training loss's improvement. A held-out loss with fewer than ``min_evaluations`` evaluations (but two or more)
  still vetoes when its last value is not its best or the gap is large (only checked when both are logged; a
  stuck run's improvement is too small to measure a gap against, and its low training accuracy already says the
  model cannot fit).

A log that begins late in a longer run (its first epoch, or step, at least ``late_start_ratio`` times the span it
covers: a resumed run's own log of epochs 480–492) is never called stuck: its flat loss is the plateau the run
reached before the log began as often as a stuck run.

All ratios ignore offset and scale of the loss. Not reported when the training accuracy is fitted
(≥ ``fitted_train_acc``), when a loss is non-finite, or when the training loss diverges (that is
``instability``). Severity ``warning``; the finding sits at the last evaluation.

References: Hoffer et al., "Train longer, generalize better" (2017: the generalisation gap of large-batch runs
closes with more updates); "One Epoch Is All You Need" (2019: model size and number of iterations should be
scaled together).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor, zero_accuracy
from ..params import Param, defaults, register, validate
from ..stats import noise_sigma, window_means
from . import register as register_detector
from ._common import (
    ONE_EPOCH,
    TRAIN_LONGER,
    evals,
    fraction,
    monitor_or_none,
    se_count,
    series_or_none,
    std_errs,
    where_text,
)

REFERENCES = (TRAIN_LONGER, ONE_EPOCH)

#: Parameters (:mod:`gapwatch.params`). Units: fractions of the run / of the improvement, noise standard errors,
#: accuracy, evaluations.
SPECS: tuple[Param, ...] = register("underfitting", (
    evals("min_evaluations", 5, "Evaluations of the loss needed before judging."),
    evals("window", 3, "Level window (trailing means of the loss), at most window_run_fraction of the run."),
    fraction("window_run_fraction", 0.2, "Cap of the level window as a share of the run (a fifth), so short runs "
             "still have distinct first, tail and final levels.", of="run", high=1),
    fraction("tail_fraction", 0.2, "Last part of the run examined (at least min_tail_evaluations): the final "
             "fifth.", of="run", high=1),
    evals("min_tail_evaluations", 3, "Fewest evaluations in that tail."),
    fraction("min_tail_share", 0.1, "Share of the whole run's improvement made in the tail for the loss to count as "
             "still falling (a converged curve makes almost none of its progress at the end).",
             of="improvement", high=1),
    std_errs("min_z", 3.0, "Tail drop (or, for a stuck run, the whole improvement) in noise standard errors of a "
             "level difference."),
    std_errs("final_near_best_z", 1.0, "Still falling also needs the final level within this many noise standard "
             "errors of the best level (a curve that bounced back up is not still falling)."),
    std_errs("heldout_rise_z", 2.0, "Not underfitting when the held-out loss rose over the tail by more than this "
             "many of its noise standard errors (that is overfitting)."),
    fraction("max_gap_fraction", 0.5, "Held-out minus training loss at the end, at most this fraction of the "
             "training loss's improvement (a small gap: more training helps, regularisation does not).",
             of="improvement"),
    evals("spike_margin", 3, "Not reported when instability found a spike in the tail or this many evaluations "
          "before it (a spike's recovery looks like a steep fall).", low=0),
    evals("acc_window", 3, "Evaluations averaged for the first and the final training accuracy (at most half "
          "the evaluations, so the two windows never overlap)."),
    Param("stuck_train_acc", 0.5, "Training accuracy at or below which a flat run is stuck.", unit="accuracy",
          low=0, high=1),
    Param("min_acc_gain", 0.1, "A run is stuck only if its training accuracy gained less than this (a larger gain "
          "is learning, whatever the loss says).",
          unit="accuracy", low=0, high=1),
    Param("fitted_train_acc", 0.95, "Training accuracy at or above which a run is never underfitting.",
          unit="accuracy", low=0, high=1),
    fraction("flat_rel_tol", 1e-4, "Flatlined: largest range (max - min) of a loss over the final stretch, as a "
             "fraction of the whole curve's improvement (first value - best): 0.01%, far less than mini-batch "
             "noise alone moves a learning run's loss (a frozen run on the corpus moves by 0.0001%).",
             of="improvement"),
    fraction("flat_min_fraction", 0.5, "Flatlined: the flat stretch is the final this-share of the run (at least "
             "flat_min_evaluations): half of it.", of="run", high=1),
    evals("flat_min_evaluations", 20, "Flatlined: fewest evaluations in the flat stretch (a short flat tail is a "
          "converged run as often as a frozen one)."),
    Param("late_start_ratio", 1.0, "A log whose first epoch (or step) is above 0 and at least this multiple of the "
          "epochs (steps) it spans is the late segment of a longer run (a resumed run's own log): a flat loss "
          "there is a converged plateau as often as a stuck run, so it is never called stuck.",
          unit="ratio", low=0),
))

#: Default parameters, ``{name: default}`` (from :data:`SPECS`).
DEFAULTS: dict[str, Any] = defaults(SPECS)


def _lvl(z: np.ndarray, i0: int, i1: int) -> float:
    return float(np.mean(z[i0:i1]))


def _spike_in(history: History, mon: Monitor | None, base: Series, start: int) -> bool:
    """Did the instability detector find a spike at or after evaluation ``start`` of ``base``?"""
    from .instability import check as instability_check

    x0 = float(base.x[max(0, start)])
    for f in instability_check(history, monitor=mon):
        if f.evidence.get("type") != "spikes":
            continue
        for sp in f.evidence.get("spikes", []):
            x = sp.get(base.x_kind)
            if x is not None and x >= x0:
                return True
    return False


def _series(history: History, mon: Monitor | None) -> tuple[Series | None, Series | None]:
    """``(training loss, held-out loss of the monitored split)``, either ``None`` when not logged."""
    tr = series_or_none(history, "train", "loss")
    held: Series | None = None
    if mon is not None and mon.metric in ("loss", "perplexity"):
        held = series_or_none(history, mon.split, mon.metric)
    elif mon is not None:
        held = series_or_none(history, mon.split, "loss")
    return tr, held


def _train_acc(history: History, p: dict[str, Any]) -> tuple[float | None, float | None]:
    """Training accuracy (else training F1) level at the end and its gain since the start (``acc_window``
    means), or ``None``."""
    # training accuracy, else training F1 (both in [0, 1], higher is better: "fitted" means the same)
    acc = series_or_none(history, "train", "acc")
    if acc is not None and zero_accuracy(acc.metric, acc.values):
        acc = None  # (exactly 0 throughout: a regression script's printed accuracy, not a measure)
    if acc is None:
        acc = series_or_none(history, "train", "f1")
    if acc is None or not len(acc.finite()):
        return None, None
    v = acc.finite().values
    # the first and the final window never overlap: on a short run overlapping windows dilute the gain
    aw = max(1, min(p["acc_window"], v.size // 2))
    end = float(np.mean(v[-aw:]))
    return end, end - float(np.mean(v[:aw]))


def _tail_stats(z: np.ndarray, tail: int, p: dict[str, Any]) -> dict[str, Any]:
    """Levels of the loss ``z``: first, final, best, the drop over the tail, its z and share of the improvement."""
    n = z.size
    w = max(1, min(p["window"], int(p["window_run_fraction"] * n)))
    sigma = noise_sigma(z)
    se = sigma * np.sqrt(2.0 / w)
    first, final = _lvl(z, 0, w), _lvl(z, n - w, n)
    best = float(np.min(window_means(z, w)))
    improvement = first - final
    t0 = n - tail
    d_tail = _lvl(z, max(0, t0 - w + 1), t0 + 1) - final
    ztail = d_tail / se if se > 0 else (np.inf if d_tail > 0 else 0.0)
    share = d_tail / improvement if improvement > 0 else 0.0
    return {"w": w, "sigma": sigma, "se": se, "final": final, "best": best, "improvement": improvement,
            "d_tail": d_tail, "ztail": ztail, "share": share,
            "no_progress": improvement <= p["min_z"] * sigma * np.sqrt(2.0 / w)}


def _mode(t: dict[str, Any], acc_end: float | None, acc_gain: float | None, p: dict[str, Any]) -> str | None:
    """``"still_falling"``, ``"stuck"`` or ``None`` (see the module docstring)."""
    falling = t["ztail"] >= p["min_z"] and t["share"] >= p["min_tail_share"]
    if t["improvement"] > 0 and falling and t["final"] <= t["best"] + p["final_near_best_z"] * t["se"]:
        return "still_falling"
    low_acc = (acc_end is not None and acc_gain is not None and acc_end <= p["stuck_train_acc"]
               and acc_gain < p["min_acc_gain"])
    # an accuracy that gained at least min_acc_gain is learning, whatever a short, noisy loss says
    acc_learned = acc_gain is not None and acc_gain >= p["min_acc_gain"]
    t["low_acc"] = low_acc
    return "stuck" if not falling and not acc_learned and (t["no_progress"] or low_acc) else None


def _heldout_check(held: Series, mode: str, t: dict[str, Any], p: dict[str, Any]) -> dict[str, Any] | None:
    """The held-out loss must agree: still improving over the tail (else it is overfitting) and a small gap.
    Returns the evidence to add, or ``None`` when the held-out loss vetoes the finding."""
    hz = held.values.astype(float)
    hw = max(1, min(p["window"], int(p["window_run_fraction"] * hz.size)))
    ht = min(max(p["min_tail_evaluations"], round(p["tail_fraction"] * hz.size)), hz.size - 1)
    h_tail_drop = _lvl(hz, max(0, hz.size - ht - hw + 1), hz.size - ht + 1) - _lvl(hz, hz.size - hw, hz.size)
    h_sigma = noise_sigma(hz)
    if mode == "still_falling" and h_tail_drop < -p["heldout_rise_z"] * h_sigma * np.sqrt(2.0 / hw):
        return None
    if mode == "stuck" and "flat" not in t and not t.get("low_acc"):
        # a training loss too noisy to show progress (per-batch values) beside a held-out loss that improved
        # beyond its own noise: the model learns; not stuck
        levels = np.convolve(hz, np.ones(hw) / hw, mode="valid")
        if levels.size and levels[0] - float(np.min(levels)) >= p["min_z"] * h_sigma * np.sqrt(2.0 / hw) > 0:
            return None
    gap = _lvl(hz, hz.size - hw, hz.size) - t["final"]
    scale = max(t["improvement"], 0.0)
    if mode == "still_falling" and scale > 0 and gap > p["max_gap_fraction"] * scale:
        return None
    return {"heldout_tail_drop": float(h_tail_drop), "gap_final": float(gap),
            "gap_fraction_of_improvement": float(gap / scale) if scale > 0 else None}


@register_detector("underfitting")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find underfitting at the end of one run. Parameters: see :data:`SPECS`."""
    p = validate("underfitting", SPECS, params)
    mon = monitor_or_none(history, monitor)
    tr, held = _series(history, mon)
    base = tr if tr is not None else held
    if base is None:
        return []
    if _non_finite(tr, held):
        return []  # non-finite values are instability
    acc_end, acc_gain = _train_acc(history, p)
    if acc_end is not None and acc_end >= p["fitted_train_acc"]:
        return []
    z = base.values.astype(float)
    n = z.size
    if n < p["min_evaluations"]:
        return []
    if _diverges(history, mon):
        return []
    tail = min(max(p["min_tail_evaluations"], round(p["tail_fraction"] * n)), n - 1)
    if _spike_in(history, mon, base, n - tail - p["spike_margin"]):
        return []  # a spike's recovery looks like a steep fall
    t = _tail_stats(z, tail, p)
    mode = _mode(t, acc_end, acc_gain, p)
    if mode is None:
        flat = _flatlined(z, held, p) if base is tr else None
        if flat is None:
            return []
        mode, t["flat"] = "stuck", flat
    if mode == "stuck" and _late_start(base, p):
        return []
    if mode == "stuck" and "flat" not in t and not t.get("low_acc") and _task_metric_learned(history, mon, p):
        return []  # the deciding held-out metric improved beyond its noise: the model learns the task
    ev: dict[str, Any] = {"mode": mode, "series": base.name, "tail_evaluations": int(tail),
                          "tail_drop": float(t["d_tail"]), "tail_share_of_improvement": float(t["share"]),
                          "tail_z": float(t["ztail"]) if np.isfinite(t["ztail"]) else None,
                          "improvement": float(t["improvement"]), "noise_sigma": float(t["sigma"]),
                          "train_acc_final": acc_end}
    if "flat" in t:
        ev["flatlined"] = t["flat"]
    if not _heldout_agrees(tr, held, mode, t, p, ev):
        return []
    msg, actions = _text(base, mode, tail, t, z, acc_end, ev)
    last = n - 1
    return [Finding(FindingKind.UNDERFITTING, Severity.WARNING, msg, step=base.at(last)["step"],
                    epoch=base.at(last)["epoch"], evidence={**ev, "at": where_text(base, last)}, actions=actions,
                    references=REFERENCES, detector="underfitting")]


def _task_metric_learned(history: History, mon: Monitor | None, p: dict[str, Any]) -> bool:
    """True when the deciding held-out series is a task metric (not a loss) with ``min_evaluations`` or more
    finite values whose best level (``window`` trailing means, at most ``window_run_fraction`` of the run) is
    better than its first by ``min_z`` standard errors of a level difference of its own robust noise: a model
    whose held-out accuracy (or AUROC, F1…) clearly improved is learning, whatever a per-batch or barely moving
    training loss (a fine-tune at a tiny learning rate) says."""
    if mon is None or mon.metric in ("loss", "perplexity"):
        return False
    s = series_or_none(history, mon.split, mon.metric)
    if s is None:
        return False
    v = s.finite().values.astype(float) * mon.sign
    if v.size < p["min_evaluations"]:
        return False
    w = max(1, min(p["window"], int(p["window_run_fraction"] * v.size)))
    levels = np.convolve(v, np.ones(w) / w, mode="valid")
    se = noise_sigma(v) * np.sqrt(2.0 / w)
    return bool(se > 0 and levels[0] - float(np.min(levels)) >= p["min_z"] * se)


def _late_start(base: Series, p: dict[str, Any]) -> bool:
    """The log begins late in a longer run: its first epoch (the step when no epoch is logged) is above 0 and at
    least ``late_start_ratio`` times the span it covers (epochs 480–492 of a resumed run)."""
    for x in (base.epoch, base.step):
        x = x[np.isfinite(x)]
        if x.size >= 2:
            first, span = float(x[0]), float(x[-1] - x[0])
            return first > 0 and span > 0 and first >= p["late_start_ratio"] * span
    return False


def _non_finite(tr: Series | None, held: Series | None) -> bool:
    """True when the training or held-out series has a non-finite value."""
    return any(s is not None and not np.all(np.isfinite(s.values)) for s in (tr, held))


def _flat_range(v: np.ndarray, k: int, p: dict[str, Any]) -> dict[str, float] | None:
    """The last ``k`` values of ``v`` when they are flat: their range is at most ``flat_rel_tol`` of the whole
    curve's improvement (first value minus best; the first value itself for a curve that never improved) and they
    are not a converging curve — one that falls and never rises (a noiseless geometric decay, down to float
    rounding); an exactly constant stretch is frozen. ``None`` otherwise.
    Invariant to a positive scale and an offset of ``v``."""
    tail = v[-k:]
    first, best = float(v[0]), float(np.min(v))
    scale = first - best if first > best else abs(first)
    spread = float(np.ptp(tail))
    if not np.isfinite(scale) or scale <= 0 or spread > p["flat_rel_tol"] * scale:
        return None
    steps = np.diff(tail)
    if not bool(np.any(steps > 0)) and bool(np.any(steps < 0)):
        return None  # falls and never rises: a curve converging (to float rounding), not a frozen one
    return {"level": float(np.mean(tail)), "range_of_improvement": spread / scale}


def _flatlined(z: np.ndarray, held: Series | None, p: dict[str, Any]) -> dict[str, Any] | None:
    """Evidence of a training loss and a held-out loss that both stopped changing for the final
    ``flat_min_fraction`` of the run (module docstring, "stuck, flatlined"), or ``None``. ``z`` is the training
    loss; ``held`` the held-out loss (required, with enough evaluations of its own: a training loss resting near
    zero alone is as flat relative to its improvement as a frozen one, and it is fitted, not stuck)."""
    if held is None:
        return None
    hv = held.finite().values.astype(float)
    k = max(p["flat_min_evaluations"], int(np.ceil(p["flat_min_fraction"] * z.size)))
    hk = max(p["flat_min_evaluations"], int(np.ceil(p["flat_min_fraction"] * hv.size)))
    if z.size <= k or hv.size <= hk:
        return None
    found, h_found = _flat_range(z, k, p), _flat_range(hv, hk, p)
    if found is None or h_found is None:
        return None
    return {"evaluations": int(k), **found, "heldout": held.name, "heldout_evaluations": int(hk),
            "heldout_level": h_found["level"], "heldout_range_of_improvement": h_found["range_of_improvement"]}


def _diverges(history: History, mon: Monitor | None) -> bool:
    """True when the instability detector calls the run diverging."""
    from .instability import divergence

    return divergence(history, mon) is not None


def _heldout_agrees(tr: Series | None, held: Series | None, mode: str, t: dict[str, Any], p: dict[str, Any],
                    ev: dict[str, Any]) -> bool:
    """False when the held-out loss vetoes the finding (:func:`_heldout_check`); else adds its evidence to
    ``ev`` (when there are both a training and a long enough held-out series) and returns True."""
    if tr is not None and held is not None and len(held) >= p["min_evaluations"]:
        extra = _heldout_check(held, mode, t, p)
        if extra is None:
            return False
        ev.update(extra)
    elif tr is not None and held is not None and mode == "still_falling" and len(held.finite()) >= 2:
        short = _short_heldout_check(held.finite().values, t, p)
        if short is None:
            return False
        ev.update(short)
    return True


def _short_heldout_check(hv: np.ndarray, t: dict[str, Any], p: dict[str, Any]) -> dict[str, Any] | None:
    """A held-out loss too short for a noise estimate (a fine-tune evaluated three times) still vetoes "still
    falling": when its last value is not its best (it rose while training fell: overfitting, not underfitting)
    or the gap is large. Returns the evidence to add, or None (veto)."""
    if hv[-1] > float(np.min(hv[:-1])):
        return None
    gap = float(hv[-1]) - t["final"]
    scale = max(t["improvement"], 0.0)
    if scale > 0 and gap > p["max_gap_fraction"] * scale:
        return None
    return {"heldout_tail_drop": None, "gap_final": gap,
            "gap_fraction_of_improvement": gap / scale if scale > 0 else None}


def _text(base: Series, mode: str, tail: int, t: dict[str, Any], z: np.ndarray, acc_end: float | None,
          ev: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Message and actions (sets ``ev["constant"]`` for a stuck run)."""
    if mode == "still_falling":
        gap = ("with a small train/held-out gap" if "gap_final" in ev else "and no held-out loss to compare it with")
        msg = (f"{base.name} is still falling at the end: {100 * t['share']:.0f}% of its improvement came in the "
               f"last {tail} evaluations ({t['d_tail']:.3g}, {se_count(t['ztail'])} noise standard errors), "
               f"{gap}: the run stopped too early")
        return msg, (
            "train longer (more epochs or steps); the curve has not flattened",
            ("if the learning-rate schedule decays to zero at the end, lengthen the whole schedule rather than "
            "appending epochs at a tiny learning rate"),
            "do not add regularisation: the gap is small; a bigger model also helps when compute allows",
        )
    constant = bool(np.all(z == z[0]))
    flat = ev.get("flatlined")
    if flat is not None and not constant:
        level = f"{flat['level']:.4g}"
        where = (f"exactly at {level}" if flat["range_of_improvement"] == 0 else
                 f"at {level} (moving by {100 * flat['range_of_improvement']:.2g}% of its improvement)")
        why = (f"stopped changing: it stayed {where} over the last {flat['evaluations']} "
               f"of {z.size} evaluations, and so did {flat['heldout']} ({flat['heldout_level']:.4g}), after "
               f"falling from {z[0]:.4g} — the model "
               "no longer learns (collapsed to a constant output, e.g. a loss at the entropy of the label "
               "marginal; a zero learning rate; frozen weights)")
    elif constant:
        why = (f"did not change at all over {z.size} evaluations: the model was not updated (zero learning rate, "
               "frozen weights) or the log repeats a stale value (some benchmarks store a run that hit NaN "
               "this way)")
    elif t["no_progress"]:
        why = "has not improved beyond its noise"
    else:
        why = f"has flattened with training accuracy {acc_end:.3g}"
    ev["constant"] = constant
    return f"{base.name} {why}: training is stuck (underfitting)", (
        ("check the learning rate (too low, or too high and bouncing), the optimizer state and that the "
        "parameters are actually updated (frozen layers, zero learning rate)"),
        "use a bigger or better-suited model, or less regularisation (weight decay, dropout, augmentation)",
        "check the inputs and labels reach the model as intended (normalisation, shuffled label order)",
    )
