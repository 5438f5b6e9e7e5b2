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
  less than ``min_acc_gain`` since the first evaluation while the loss is no longer falling.
* **small gap** (still falling): held-out minus training loss at the end is at most ``max_gap_fraction`` of the
  training loss's improvement (only checked when both are logged; a stuck run's improvement is too small to
  measure a gap against, and its low training accuracy already says the model cannot fit).

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
from ..monitor import Monitor
from ..params import Param, defaults, register, validate
from ..stats import noise_sigma, window_means
from . import register as register_detector
from ._common import ONE_EPOCH, TRAIN_LONGER, monitor_or_none, series_or_none, where_text

REFERENCES = (TRAIN_LONGER, ONE_EPOCH)

#: Parameters (:mod:`gapwatch.params`). Units: fractions of the run / of the improvement, noise standard errors,
#: accuracy, evaluations.
SPECS: tuple[Param, ...] = register("underfitting", (
    Param("min_evaluations", 5, "Evaluations of the loss needed before judging.", unit="evaluations", type=int,
          low=1),
    Param("window", 3, "Level window (trailing means of the loss), at most window_run_fraction of the run.",
          unit="evaluations", type=int, low=1),
    Param("window_run_fraction", 0.2, "Cap of the level window as a share of the run (a fifth), so short runs "
          "still have distinct first, tail and final levels.", unit="fraction of the run", low=0, high=1),
    Param("tail_fraction", 0.2, "Last part of the run examined (at least min_tail_evaluations): the final fifth.",
          unit="fraction of the run", low=0, high=1),
    Param("min_tail_evaluations", 3, "Fewest evaluations in that tail.", unit="evaluations", type=int, low=1),
    Param("min_tail_share", 0.1, "Share of the whole run's improvement made in the tail for the loss to count as "
          "still falling (a converged curve makes almost none of its progress at the end).",
          unit="fraction of the improvement", low=0, high=1),
    Param("min_z", 3.0, "Tail drop (or, for a stuck run, the whole improvement) in noise standard errors of a "
          "level difference.", unit="standard errors", low=0),
    Param("final_near_best_z", 1.0, "Still falling also needs the final level within this many noise standard "
          "errors of the best level (a curve that bounced back up is not still falling).",
          unit="standard errors", low=0),
    Param("heldout_rise_z", 2.0, "Not underfitting when the held-out loss rose over the tail by more than this "
          "many of its noise standard errors (that is overfitting).", unit="standard errors", low=0),
    Param("max_gap_fraction", 0.5, "Held-out minus training loss at the end, at most this fraction of the "
          "training loss's improvement (a small gap: more training helps, regularisation does not).",
          unit="fraction of the improvement", low=0),
    Param("spike_margin", 3, "Not reported when instability found a spike in the tail or this many evaluations "
          "before it (a spike's recovery looks like a steep fall).", unit="evaluations", type=int, low=0),
    Param("acc_window", 3, "Evaluations averaged for the first and the final training accuracy.",
          unit="evaluations", type=int, low=1),
    Param("stuck_train_acc", 0.5, "Training accuracy at or below which a flat run is stuck.", unit="accuracy",
          low=0, high=1),
    Param("min_acc_gain", 0.1, "A low-accuracy run is stuck only if its training accuracy gained less than this.",
          unit="accuracy", low=0, high=1),
    Param("fitted_train_acc", 0.95, "Training accuracy at or above which a run is never underfitting.",
          unit="accuracy", low=0, high=1),
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


@register_detector("underfitting")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find underfitting at the end of one run. Parameters: see :data:`SPECS`."""
    p = validate("underfitting", SPECS, params)
    mon = monitor_or_none(history, monitor)
    tr = series_or_none(history, "train", "loss")
    held: Series | None = None
    if mon is not None and mon.metric in ("loss", "perplexity"):
        held = series_or_none(history, mon.split, mon.metric)
    elif mon is not None:
        held = series_or_none(history, mon.split, "loss")
    base = tr if tr is not None else held
    if base is None:
        return []
    for s in (tr, held):
        if s is not None and not np.all(np.isfinite(s.values)):
            return []  # non-finite values are instability
    acc = series_or_none(history, "train", "acc")
    aw = p["acc_window"]
    acc_end = float(np.mean(acc.finite().values[-aw:])) if acc is not None and len(acc.finite()) else None
    acc_gain = (acc_end - float(np.mean(acc.finite().values[:aw]))) if acc is not None and acc_end is not None \
        else None
    if acc_end is not None and acc_end >= p["fitted_train_acc"]:
        return []
    z = base.values.astype(float)
    n = z.size
    if n < p["min_evaluations"]:
        return []
    from .instability import divergence

    if divergence(history, mon) is not None:
        return []
    tail = min(max(p["min_tail_evaluations"], round(p["tail_fraction"] * n)), n - 1)
    if _spike_in(history, mon, base, n - tail - p["spike_margin"]):
        return []  # a spike's recovery looks like a steep fall
    w = max(1, min(p["window"], int(p["window_run_fraction"] * n)))
    sigma = noise_sigma(z)
    se = sigma * np.sqrt(2.0 / w)
    first, final = _lvl(z, 0, w), _lvl(z, n - w, n)
    best = float(np.min(window_means(z, w)))
    improvement = first - final
    t0 = n - tail
    start_tail = _lvl(z, max(0, t0 - w + 1), t0 + 1)
    d_tail = start_tail - final
    ztail = d_tail / se if se > 0 else (np.inf if d_tail > 0 else 0.0)
    share = d_tail / improvement if improvement > 0 else 0.0
    mode = None
    if improvement > 0 and share >= p["min_tail_share"] and ztail >= p["min_z"] \
            and final <= best + p["final_near_best_z"] * se:
        mode = "still_falling"
    else:
        flat = not (ztail >= p["min_z"] and share >= p["min_tail_share"])
        no_progress = improvement <= p["min_z"] * sigma * np.sqrt(2.0 / w)
        low_acc = (acc_end is not None and acc_gain is not None and acc_end <= p["stuck_train_acc"]
                   and acc_gain < p["min_acc_gain"])
        if flat and (no_progress or low_acc):
            mode = "stuck"
    if mode is None:
        return []
    ev: dict[str, Any] = {"mode": mode, "series": base.name, "tail_evaluations": int(tail),
                          "tail_drop": float(d_tail), "tail_share_of_improvement": float(share),
                          "tail_z": float(ztail) if np.isfinite(ztail) else None, "improvement": float(improvement),
                          "noise_sigma": float(sigma), "train_acc_final": acc_end}
    # held-out must agree: still improving over the tail (else it is overfitting), and the gap must be small
    if tr is not None and held is not None and len(held) >= p["min_evaluations"]:
        hz = held.values.astype(float)
        hw = max(1, min(p["window"], int(p["window_run_fraction"] * hz.size)))
        ht = min(max(p["min_tail_evaluations"], round(p["tail_fraction"] * hz.size)), hz.size - 1)
        h_tail_drop = _lvl(hz, max(0, hz.size - ht - hw + 1), hz.size - ht + 1) - _lvl(hz, hz.size - hw, hz.size)
        h_sigma = noise_sigma(hz)
        if mode == "still_falling" and h_tail_drop < -p["heldout_rise_z"] * h_sigma * np.sqrt(2.0 / hw):
            return []
        gap = _lvl(hz, hz.size - hw, hz.size) - final
        scale = max(improvement, 0.0)
        if mode == "still_falling" and scale > 0 and gap > p["max_gap_fraction"] * scale:
            return []
        ev.update({"heldout_tail_drop": float(h_tail_drop), "gap_final": float(gap),
                   "gap_fraction_of_improvement": float(gap / scale) if scale > 0 else None})
    last = n - 1
    if mode == "still_falling":
        msg = (f"{base.name} is still falling at the end: {100 * share:.0f}% of its improvement came in the last "
               f"{tail} evaluations ({d_tail:.3g}, {min(ztail, 999):.0f} noise standard errors), with a small "
               "train/held-out gap: the run stopped too early")
        actions = (
            "train longer (more epochs or steps); the curve has not flattened",
            ("if the learning-rate schedule decays to zero at the end, lengthen the whole schedule rather than "
            "appending epochs at a tiny learning rate"),
            "do not add regularisation: the gap is small; a bigger model also helps when compute allows",
        )
    else:
        constant = bool(np.all(z == z[0]))
        if constant:
            why = (f"did not change at all over {n} evaluations: the model was not updated (zero learning rate, "
                   "frozen weights) or the log repeats a stale value (some benchmarks store a run that hit NaN "
                   "this way)")
        elif improvement <= p["min_z"] * sigma * np.sqrt(2.0 / w):
            why = "has not improved beyond its noise"
        else:
            why = f"has flattened with training accuracy {acc_end:.3g}"
        ev["constant"] = constant
        msg = f"{base.name} {why}: training is stuck (underfitting)"
        actions = (
            ("check the learning rate (too low, or too high and bouncing), the optimizer state and that the "
            "parameters are actually updated (frozen layers, zero learning rate)"),
            "use a bigger or better-suited model, or less regularisation (weight decay, dropout, augmentation)",
            "check the inputs and labels reach the model as intended (normalisation, shuffled label order)",
        )
    return [Finding(FindingKind.UNDERFITTING, Severity.WARNING, msg, step=base.at(last)["step"],
                    epoch=base.at(last)["epoch"], evidence={**ev, "at": where_text(base, last)}, actions=actions,
                    references=REFERENCES, detector="underfitting")]
