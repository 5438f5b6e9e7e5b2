"""Overfitting: the monitored validation metric is past its best while training keeps improving.

Statistic. The monitored series is put in "lower is better" form ``z`` (finite values only). Its *level* is the
trailing mean over ``w`` evaluations, ``w = clip(round(window_fraction · n), window, max_window)``. The best
level is the minimum level up to the raw best evaluation (plus ``w - 1``), the *final level* the mean of the
last ``w`` evaluations, and the degradation ``D = final level − best level``. ``D`` is compared with

* the evaluation noise σ (robust MAD of second differences, :func:`gapwatch.stats.noise_sigma`) through
  ``z = D / (σ · sqrt(2 / w))`` — a finding needs ``z ≥ min_z`` (statistical significance; the reported
  one-sided ``p_value`` is the normal tail of ``z``; it is optimistic because the best point is selected, which
  is why ``min_z`` is 3.5, not 2);
* the size of the curve's improvement ``R = first level − best level`` through ``lost = D / R`` — a finding needs
  ``lost ≥ min_lost_fraction`` (practical significance), and ``D`` itself must be of a practical size: a point
  of a bounded share (``min_share_drop``) or 1% of a positive loss's best level (``min_relative_rise``);
* and it must last: the trailing level stays above the best level plus a tolerance (``min_z`` standard errors,
  ``min_lost_fraction`` of ``R``) over the last ``min_lasting_fraction`` of the evaluations (at least one, at
  most ``min_lasting_evaluations``; the *onset* is the first evaluation of that stretch), and the final
  evaluation itself is worse than the best one (a curve back at its best at the end lost nothing).

For a larger-is-better share whose values all lie on a grid ``k/N`` (an accuracy over a validation set of ``N``
examples, :func:`gapwatch.stats.share_grid_size`), σ is at least the binomial standard error ``sqrt(p(1-p)/N)``
(``sampling_floor``): on 25 images one image is 0.04, and an accuracy that steps between three values has a
near-zero second-difference noise but is no more certain than its sample size allows.

Both ratios are unchanged by adding a constant to the curve or rescaling it, so the verdict does not depend on
units or offsets (a percentage of the value would). A Mann–Kendall test on the evaluations after the best is
reported as supporting evidence of a monotone trend (slow multi-epoch degradation on repeated data shows as a
small ``z`` per evaluation but a strong trend).

Exclusions (so detectors do not contradict each other):

* when the training series of the same metric also got worse over the same stretch (by
  ``train_divergence_z`` noise standard errors and ``train_divergence_fraction`` of its improvement), or ends in
  NaN/±inf that began before the last held-out evaluation (the held-out values after it come from a broken
  model), the run is diverging: that is ``instability``, not overfitting (without a training series: when the
  ``instability`` detector calls the held-out curve diverging);
* when the ``memorization`` detector reports a memorisation phase, :func:`gapwatch.detectors.run_all` downgrades
  the finding to ``info`` and points at the ``memorization`` finding (:func:`gapwatch.detectors.reconcile`, the
  one owner of that rule): grokking may still come;
* double descent is not contradicted: the best point is global, so a curve that recovered past its first best
  has its best in the second descent.

Short runs. A monitored series with at least ``short_min_evaluations`` but fewer than ``min_evaluations`` finite
evaluations (a fine-tune evaluated three or four times) has no noise estimate, and one with fewer than
``short_max_evaluations`` that the noise-based test leaves alone has only a weak one; it is judged by its shape
(its best at least ``short_min_improvement`` of the first value better than the first): ``short_after_fraction``
of the run after the best (at least two evaluations), every one worse than the best and either each worse than
the one before or the run ending near its worst (``short_final_share``), at least ``short_lost_fraction`` of the
improvement undone, the same practical floors (and, for a share on a small set, a fall of ``short_sampling_z``
binomial standard errors), and the training series of the same measure (else the training loss) better at the
end than at the best. A series whose best is its first evaluation has no improvement to undo: it is judged by
the same shape over ``short_first_min_after`` or more later evaluations, a positive loss ending at least
``short_first_min_rise`` above its first value (``short_from_first``; ``evidence["from_first"]``: a streamflow
model whose validation MSE rises at each of its four evaluations from 0.320 to 0.341 while the training loss
falls). Such a finding is a ``warning`` at most, with ``evidence["short_run"]``.

Severity: ``critical`` when ``lost ≥ critical_lost_fraction`` (default: a fifth of the improvement undone) and
there was an improvement to undo (a series whose best is its first evaluation is a ``warning`` at most), and the
values the message shows bear that out too: first → best → final undoes the same share (a U-Net's Dice that rose
0.35 → 0.92 and ends at 0.86 after a two-epoch blip has undone 10% of it; the levels, whose first window
averages the fast early rise, said 24% — a ``warning``),
``info`` when ``lost < warn_lost_fraction`` (default: a twentieth — statistically clear but too small to act on;
on real logs a held-out loss 1–2% above its best after a long plateau is what a reader calls a plateau), else
``warning``. A finding is a ``warning`` at most while another measure of the same held-out set — its loss, or
another task metric — kept improving after the monitored series' best (``loss_improving_z`` standard errors of
that measure's own noise, ``evidence["loss_improving_z"]``): an F1 or accuracy that falls while the loss and AUC
keep improving is often a decision-threshold or class-balance effect, an RMSE that drifts up while PSNR improves a
disagreement between measures — a reader would not stop a CI job on it without a look.

A finding is ``info`` when the training series (the same measure, else the training loss, else the sum of the
objective's logged terms: Ultralytics' ``train/box_loss`` + ``cls_loss`` + …) did not improve after
the held-out best by ``train_plateau_z`` of its noise standard errors (``train_plateau_info``;
``evidence["train_plateau"]``): both curves plateaued, and a held-out loss 1.4% above its best after a long
plateau beside an equally flat training loss is a plateau, not a model fitting the training set at the held-out
set's expense — unless the training values after the best fall with a significant Mann–Kendall trend
(``train_trend_p``): the means of a spiky, right-skewed per-batch loss can sit level while its typical value
halves. A training loss logged per batch beside per-epoch evaluations is compared on the step axis, by means over
as many values as it logs per evaluation.

Evidence ``gap_trajectory`` is the held-out minus training gap at each evaluation of the monitored series; a run
with more than ``max_trajectory_points`` evaluations (default 500, enough for a plot) gets every k-th of them,
first and last included, and ``gap_trajectory_index`` lists which (so the JSON of a 24,000-evaluation run stays
small). Decisions never use the thinned trajectory.

References: Prechelt, "Early Stopping — But When?" (1998) for the generalisation-loss view; "To Repeat or Not
To Repeat: Insights from Scaling LLM under Token-Crisis" (2023) for multi-epoch degradation on repeated data and
dropout as the regulariser that helps; "Pre-training under infinite compute" (2025) for much larger weight
decay when data is repeated; "Model soups" (2022) for weight averaging instead of the last checkpoint.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import UsageError
from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor, heldout_roles, role_of
from ..params import Param, defaults, register, validate
from ..stats import argmin, mann_kendall, noise_sigma, sampling_sigma, trailing_mean, window_means
from . import register as register_detector
from ._common import (
    INFINITE_COMPUTE,
    MODEL_SOUPS,
    PRECHELT,
    REPEAT,
    evals,
    fmt_x,
    fraction,
    has,
    monitored_finite,
    se_count,
    share_scale,
    sign_of,
    signed,
    stays_above_from,
    std_errs,
    summed_train_terms,
    train_series,
)

REFERENCES = (PRECHELT, REPEAT, INFINITE_COMPUTE, MODEL_SOUPS)

#: Parameters (:mod:`gapwatch.params`). Units: evaluations, noise standard errors, fractions of the improvement.
SPECS: tuple[Param, ...] = register("overfitting", (
    evals("min_evaluations", 5, "Finite evaluations of the monitored series needed before judging at all (fewer "
          "give no noise estimate)."),
    evals("min_after_best", 3, "Evaluations after the best needed to call a rise a trend rather than noise."),
    evals("window", 3, "Smallest averaging window of the levels: three evaluations average single noisy points "
          "out."),
    evals("max_window", 10, "Largest averaging window (must be >= window): longer runs average more, but never "
          "so much that a late degradation is smoothed away."),
    fraction("window_fraction", 0.05, "Averaging window as a fraction of the run length (clipped to [window, "
             "max_window]).", of="run"),
    std_errs("min_z", 3.5, "Degradation (final level - best level) in noise standard errors of a level difference "
             "(statistical significance). 3.5, not 2: the best point is selected, so the naive tail is "
             "optimistic."),
    fraction("min_lost_fraction", 0.01, "Degradation as a fraction of the curve's improvement (practical "
             "significance): 1% of the progress undone.", of="improvement"),
    fraction("warn_lost_fraction", 0.05, "Fraction of the improvement undone below which the finding is only "
             "info (clear but too small to act on): a twentieth of the progress.", of="improvement"),
    evals("short_min_evaluations", 3, "A monitored series with fewer than min_evaluations (but at least this many) "
          "finite evaluations is judged by the short-run rule (see the module docstring): three is the fewest "
          "that hold a best and two rises after it."),
    fraction("short_lost_fraction", 0.1, "Short-run rule: share of the improvement (first value - best) the final "
             "value must have undone: a tenth, well above what the rule's monotone rise could owe to noise "
             "on the curves it has been checked on.", of="improvement"),
    Param("short_from_first", True, "Short-run rule for a series whose best is its first evaluation (no "
          "improvement to undo): it fires when every later evaluation is worse than the first, rising to the end "
          "(short_final_share), over short_first_min_after evaluations or more, by the practical floors (a share: "
          "min_share_drop and short_sampling_z; a positive loss: short_first_min_rise) while the training series "
          "kept improving — a held-out loss that rises at every evaluation of a short fine-tune from its first.",
          type=bool),
    evals("short_first_min_after", 3, "Short-run rule from the first evaluation: evaluations after it needed "
          "(two rising points after the first are a wobble as often as a trend)."),
    fraction("short_first_min_rise", 0.02, "Short-run rule from the first evaluation: a positive loss must end at "
             "least this share of its first value above it: 2% (there is no improvement to weigh the rise "
             "against).", of="best level"),
    fraction("short_min_improvement", 0.01, "Short-run rule: the best must improve on the first value by at least "
             "this share of the first value's magnitude (a series flat from the start has no best to fall from).",
             of="the first value"),
    evals("short_max_evaluations", 14, "A series with fewer evaluations than this that the noise-based test does "
          "not find is also judged by the short-run rule's shape (a noise estimate from five to thirteen points "
          "is weak: the 7- to 13-evaluation fine-tunes of the real-log corpus whose held-out loss ends clearly "
          "above its best were missed by it)."),
    fraction("short_after_fraction", 0.25, "Short-run rule: evaluations after the best needed, as a share of the "
             "run (and at least two): a quarter, so that a 10-evaluation run needs three worse evaluations after "
             "its best, not a two-point wobble at the end.", of="run", high=1),
    std_errs("short_sampling_z", 2.0, "Short-run rule: a share on a small set (values on a grid k/N, "
             "``sampling_floor``) must fall by at least this many binomial standard errors: one image of a "
             "44-image set is sampling noise, however neat the drop looks."),
    fraction("short_final_share", 0.5, "Short-run rule: every evaluation after the best is worse than the best, "
             "and either each is worse than the one before or the final rise is at least this share of the "
             "largest rise after the best (the run ends near its worst, not back near its best).", of="rise",
             high=1),
    evals("min_lasting_evaluations", 3, "The degradation must last: the trailing level stays above the best "
          "level plus its tolerance (min_z standard errors, min_lost_fraction of the improvement) over the last "
          "min_lasting_fraction of the evaluations, but never more than this many. A dip in the last one or two "
          "evaluations of a long run — a small validation set's accuracy falling by a few examples — is noise "
          "until it lasts."),
    fraction("min_lasting_fraction", 0.1, "... the share of the run's evaluations the degradation must last at the "
             "end (at least one evaluation): on a 14-evaluation run one, on a 48-evaluation run three.", of="run",
             high=1),
    fraction("critical_lost_fraction", 0.2, "Fraction of the improvement undone that makes the finding critical: a "
             "fifth of the progress lost, by the levels and by the values the message shows (first, best, final).",
             of="improvement"),
    fraction("critical_max_recovered", 0.33, "A decline is critical only while it stands: when the final level has "
             "won back this share or more of the largest fall of the level after the best (worst level after the "
             "best - final level, over worst level - best level), the finding is a warning at most — a curve on its "
             "way back (a mid-run dip, an annealing phase, an instability it recovers from) is worth a look, not a "
             "failed CI gate: a third (0.33).", of="fall after the best", high=1),
    std_errs("loss_improving_z", 3.0, "A decline is critical only when no other measure of the same held-out set "
             "(its loss, or another task metric) kept improving after the monitored series' best: one whose trailing "
             "level at the end is this many of its noise standard errors better than at that best caps the finding "
             "at warning (an F1 that falls while the loss and AUC keep improving is often a decision-threshold "
             "effect; an RMSE that drifts up while PSNR improves, a disagreement between measures, not a model "
             "that got worse)."),
    std_errs("train_divergence_z", 3.0, "The run is diverging (instability, not overfitting) when the training "
             "level at the end is worse than at the best point by this many noise standard errors ..."),
    fraction("train_divergence_fraction", 0.05, "... and by this fraction of the training curve's improvement (both "
             "needed): 5%, so a training curve that merely plateaus is not diverging.", of="improvement"),
    fraction("slow_fraction_past_best", 0.3, "A degradation counts as slow multi-epoch degradation (the dropout "
             "advice for repeated data) when at least this share of the run lies after the best ...", of="run", high=1),
    Param("slow_trend_p", 0.01, "... and the Mann-Kendall test of a rising trend after the best has a one-sided "
          "p-value below this.", unit="probability", low=0, high=1),
    fraction("min_share_drop", 0.01, "Smallest fall of a bounded share (accuracy, AUC, F1, mAP…: values in [0, 1], "
             "or percentages) from its best level to its final level that counts (practical size, in units of "
             "the share's scale): one point. An AUC that drifts from 0.976 to 0.971 after converging before its "
             "first evaluation has undone 60% of a tiny improvement, and no reader calls it overfitting.",
             of="share's scale (1, or 100 for a percentage)"),
    fraction("min_relative_rise", 0.01, "Smallest rise of a positive smaller-is-better series (a loss, an error, a "
             "perplexity) from its best level to its final level, as a share of that best level (practical size): "
             "1%. A regression loss of 3.3e7 that ends 0.4% above its best after improving by 2% in all has undone "
             "a fifth of nothing.", of="best level"),
    Param("train_plateau_info", True, "A finding is info when the training series (the same measure, else the "
          "training loss) did not improve after the held-out best by train_plateau_z noise standard errors "
          "(trailing means over the detector's window; a per-batch series over as many values as it logs per "
          "evaluation): held-out and training curves that plateau together are a plateau, not a model fitting "
          "the training set at the held-out set's expense.", type=bool),
    std_errs("train_plateau_z", 2.0, "... the training improvement after the best, in its noise standard errors, "
             "below which the training curve counts as plateaued."),
    Param("train_trend_p", 0.01, "... unless the training values after the best fall with a Mann-Kendall trend "
          "significant at this level (one-sided): the means of a right-skewed, spiky training loss can sit level "
          "while its typical value halves (0 turns the trend test off).", unit="probability", low=0, high=1),
    evals("train_trend_min_evaluations", 10, "Training values after the held-out best the trend test needs."),
    Param("sampling_floor", True, "For a larger-is-better share (an accuracy) whose values all lie on a grid k/N "
          "— the validation set has N examples (25 images: steps of 0.04) — the noise level is never below the "
          "binomial standard error sqrt(p(1-p)/N): a change of one or two examples is the small set's sampling "
          "noise, however steady the curve looks between epochs (gapwatch.stats.share_grid_size).", type=bool),
    evals("max_trajectory_points", 500, "Most points of evidence['gap_trajectory'] (longer runs are thinned "
          "evenly, first and last kept): enough for a plot, small JSON for long runs. Never used by decisions."),
))

#: Default parameters, ``{name: default}`` (from :data:`SPECS`).
DEFAULTS: dict[str, Any] = defaults(SPECS)


def _validate(p: dict[str, Any]) -> dict[str, Any]:
    out = validate("overfitting", SPECS, p)
    if out["max_window"] < out["window"]:
        raise UsageError(f"overfitting: max_window must be >= window ({out['window']}), got {out['max_window']} "
                         f"(max_window={out['max_window']})")
    return out


def window_for(n: int, p: dict[str, Any]) -> int:
    """Averaging window (evaluations) for a curve of ``n`` evaluations."""
    return int(np.clip(round(p["window_fraction"] * n), p["window"], p["max_window"]))


@register_detector("overfitting")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find overfitting in one run. Parameters: see :data:`SPECS` (units: evaluations, fractions)."""
    p = _validate(params)
    monitored = monitored_finite(history, monitor, p["min_evaluations"])
    if monitored is None:
        short = monitored_finite(history, monitor, p["short_min_evaluations"])
        return [] if short is None else _short_run(history, *short, p)
    found = _judged(history, *monitored, p)
    if not found and len(monitored[1]) < p["short_max_evaluations"]:
        return _short_run(history, *monitored, p)  # (a noise estimate from so few points proves little)
    return found


def _judged(history: History, mon: Monitor, s: Series, p: dict[str, Any]) -> list[Finding]:
    """The noise-based test of a series with ``min_evaluations`` or more finite evaluations."""
    n = len(s)
    z = signed(s.values, mon.sign)
    b = argmin(z)  # (z may be the read-only series itself: numpy would copy it)
    after = n - 1 - b
    if after < p["min_after_best"]:
        return []
    w = max(1, min(window_for(n, p), after))
    floor = sampling_sigma(s.values) if p["sampling_floor"] and mon.mode == "max" else 0.0
    deg = _degradation(z, b, w, floor)
    _, degradation, _, _, _, zstat, lost = deg
    if degradation <= 0 or zstat < p["min_z"] or lost < p["min_lost_fraction"]:
        return []
    scale = share_scale(mon, s)
    if scale is not None and degradation < p["min_share_drop"] * scale:
        return []  # (a bounded share that fell by less than a point: too small to matter)
    best_level = deg[0]
    if mon.sign > 0 and best_level > 0 and float(np.min(s.values)) > 0 \
            and degradation < p["min_relative_rise"] * best_level:
        return []  # (a positive loss that rose by less than 1% of itself)
    if z[-1] <= z[b]:
        return []  # the final evaluation is as good as the best: the final model lost nothing

    onset = _onset(z, b, w, deg, p)
    if n - onset < lasting_needed(n, p):
        return []  # a dip in the last evaluation or two: not lasting (yet)
    train_ev, diverging = _train_check(history, mon, s, b, w, p)
    if diverging:
        return []
    if (not train_ev or train_series(history, mon.metric) is None) and _diverges(history, mon):
        return []  # without a training series (or beside the sum of its terms), a diverging run is divergence
    found = _finding(history, mon, s, z, b, w, deg, train_ev, p, onset)
    if p["train_plateau_info"] and train_ev.get("train_plateau") and found.severity != Severity.INFO:
        found = _plateau_info(found)
    return [found]


def _plateau_info(f: Finding) -> Finding:
    """``f`` as info: the training series plateaued with the held-out one (``train_plateau_info``)."""
    return replace(f, severity=Severity.INFO, message=f.message + "; the training curve is no better at the end "
                   "than at that best either, so both plateaued (not a model fitting the training set at the "
                   "held-out set's expense)")


def lasting_needed(n: int, p: dict[str, Any]) -> int:
    """Evaluations at the end the degradation must last on a curve of ``n`` evaluations: ``min_lasting_fraction``
    of them (at least one), at most ``min_lasting_evaluations``."""
    return int(min(p["min_lasting_evaluations"], max(1, math.floor(p["min_lasting_fraction"] * n))))


def _onset(z: np.ndarray, b: int, w: int, deg: tuple[float, float, float, float, float, float, float],
           p: dict[str, Any]) -> int:
    """First evaluation after the best from which the trailing level stays above best + tolerance (tolerance =
    max(``min_z`` standard errors, ``min_lost_fraction`` of the improvement))."""
    best_level, _, improvement, _, se, _, _ = deg
    tol = max(p["min_z"] * se, p["min_lost_fraction"] * improvement)
    return min(stays_above_from(trailing_mean(z, w) > best_level + tol, b), len(z) - 1)


def _short_run(history: History, mon: Monitor, s: Series, p: dict[str, Any]) -> list[Finding]:
    """The short-run rule: too few evaluations for a noise estimate (fine-tunes that evaluate three to thirteen
    times), so the evidence is the shape alone — ``short_after_fraction`` of the run (two or more evaluations)
    after the best, every one worse than the best and either each worse than the one before or the last near the
    worst (``short_final_share``), at least ``short_lost_fraction`` of the improvement undone at the end, and the
    training series of the same measure better at the end than at the best (else the run diverges). A ``warning``
    at most: never critical without a noise estimate."""
    z = signed(s.values, mon.sign)
    n, b = len(s), argmin(z)
    improvement, rise = float(z[0] - z[b]), float(z[-1] - z[b])
    from_first = b == 0 and p["short_from_first"]  # (worse than its first evaluation at every one after it)
    if n - 1 - b < max(2, math.ceil(p["short_after_fraction"] * n), p["short_first_min_after"] if from_first else 0) \
            or (improvement <= 0 and not from_first) or not bool(np.all(z[b + 1:] > z[b])):
        return []
    if not bool(np.all(np.diff(z[b:]) > 0)) and \
            z[-1] - z[b] < p["short_final_share"] * float(np.max(z[b + 1:]) - z[b]):
        return []  # (not rising to the end: the final value fell back well below the worst after the best)
    if not from_first and improvement < p["short_min_improvement"] * abs(float(z[0])):
        return []  # (a curve flat from the start has no best to fall from: any wobble undoes "all" of nothing)
    if from_first and mon.sign > 0 and float(np.min(s.values)) > 0 and rise < p["short_first_min_rise"] * float(z[b]):
        return []  # (worse than the first evaluation by too little to call: no improvement to weigh it against)
    lost = rise / improvement if improvement > 0 else float("inf")
    scale = share_scale(mon, s)
    if scale is not None and (rise < p["min_share_drop"] * scale or (
            p["sampling_floor"] and rise < p["short_sampling_z"] * sampling_sigma(s.values))):
        return []  # (a share that fell by less than a point, or by its small set's sampling noise)
    if mon.sign > 0 and float(np.min(s.values)) > 0 and rise < p["min_relative_rise"] * float(z[b]):
        return []  # (a positive loss that rose by less than 1% of its best)
    tr = train_series(history, mon.metric)
    if lost < p["short_lost_fraction"] or tr is None or not _train_improved_since(tr, s, b):
        return []
    best_val, final_val = float(s.values[b]), float(s.values[-1])
    where_best = f"{s.x_kind} {fmt_x(s.x[b])}"
    if from_first:
        msg = (f"{mon.split}_{mon.metric} was best at its first evaluation ({best_val:.4g} at {where_best}) and worse "
               f"at each of the {n - 1} after it, final {final_val:.4g} ({_worse_text(best_val, final_val)}), while "
               f"{tr.name} kept improving: the model fits the training set from the start; only {n} evaluations, "
               "too few for a noise estimate")
    else:
        msg = (f"{mon.split}_{mon.metric} best {best_val:.4g} at {where_best}, final {final_val:.4g} "
               f"({_worse_text(best_val, final_val)}, {_undone(z, b)}), worse than the best at each of the "
               f"{n - 1 - b} evaluations after it while {tr.name} kept improving; only {n} evaluations, too few for "
               "a noise estimate")
    evidence: dict[str, Any] = {
        "short_run": True, "evaluations": n, "best_index": b, "best_value": best_val, "best_step": s.at(b)["step"],
        "best_epoch": s.at(b)["epoch"], "onset_index": b + 1, "onset_step": s.at(b + 1)["step"],
        "onset_epoch": s.at(b + 1)["epoch"], "final_value": final_val,
        "degradation": float(mon.sign * rise),
        "lost_fraction_of_improvement": float(lost) if math.isfinite(lost) else None,
        "evaluations_after_best": n - 1 - b, "train_series": tr.name, "from_first": bool(from_first),
    }
    return [Finding(FindingKind.OVERFITTING, Severity.WARNING, msg, step=s.at(b)["step"], epoch=s.at(b)["epoch"],
                    evidence=evidence, actions=tuple(_actions(where_best, False)), references=REFERENCES,
                    detector="overfitting")]


def _train_improved_since(tr: Series, s: Series, b: int) -> bool:
    """True when the training series' last value is better (by its own direction) than its value at (or just
    before) the x of evaluation ``b`` of ``s`` (both on the same axis); a series logged more often than ``s`` is
    compared by its means over as many values as it logs between two evaluations."""
    sign = sign_of(tr.metric)
    ft = tr.finite()
    if len(ft) < 2:
        return False
    if tr.x_kind == s.x_kind:
        tx, at = ft.x, float(s.x[b])
    elif np.isfinite(ft.step).all() and np.isfinite(s.step[b]):  # (per-step training beside per-epoch evaluations)
        tx, at = ft.step, float(s.step[b])
    else:
        return False
    i = int(np.searchsorted(tx, at, side="right")) - 1
    if i < 0 or i >= len(ft) - 1:
        return False
    # a training loss logged per batch is compared by its means over the values logged between two evaluations
    # (one value per evaluation: the values themselves)
    per_eval = max(1, (len(ft) - 1 - i) // max(1, len(s) - 1 - b))
    w = min(per_eval, i + 1)
    before = float(np.mean(ft.values[i + 1 - w: i + 1]))
    last = float(np.mean(ft.values[len(ft) - w:]))
    return bool(sign * last < sign * before)


def _diverges(history: History, mon: Monitor) -> bool:
    """True when the instability detector calls the run diverging."""
    from .instability import divergence

    return divergence(history, mon) is not None


def _finding(history: History, mon: Monitor, s: Series, z: np.ndarray, b: int, w: int,
             deg: tuple[float, float, float, float, float, float, float], train_ev: dict[str, Any],
             p: dict[str, Any], onset: int) -> Finding:
    """The overfitting finding of ``s`` (finite values, ``z`` signed) past its best at ``b``; ``onset``:
    :func:`_onset`."""
    best_level, degradation, improvement, sigma, se, zstat, lost = deg
    n = len(s)
    after = n - 1 - b
    tau, mk_p = mann_kendall(z[b + 1:]) if after >= 3 else (0.0, 1.0)
    gap_ev = _gap(history, mon, s, b, p["max_trajectory_points"])
    x_range = float(s.x[-1] - s.x[0]) if n > 1 else 0.0
    frac_past = float((s.x[-1] - s.x[b]) / x_range) if x_range > 0 else 0.0
    best_val = float(s.values[b])
    final_val = float(s.values[-1])
    rel_value = degradation / abs(best_val) if best_val != 0 else float("inf")
    sev = (Severity.CRITICAL if lost >= p["critical_lost_fraction"] and improvement > 0
           else Severity.WARNING if lost >= p["warn_lost_fraction"] else Severity.INFO)
    unit = s.x_kind
    where_best = f"{unit} {fmt_x(s.x[b])}"
    msg = (
        f"{mon.split}_{mon.metric} best {best_val:.4g} at {where_best}, final {final_val:.4g} "
        f"({_worse_text(best_val, final_val)}, "
        f"{_undone(z, b)}, {_z_text(zstat)}) after {after} more evaluations "
        f"({100 * frac_past:.0f}% of the run)"
    )
    shown_lost = _shown_lost(z, b)
    if sev == Severity.CRITICAL and shown_lost < p["critical_lost_fraction"]:
        sev = Severity.WARNING  # (the levels' share is over; the values the message shows do not bear it out)
    recovered = _recovered(z, b, w, best_level) if sev == Severity.CRITICAL else 0.0
    if recovered >= p["critical_max_recovered"]:
        sev = Severity.WARNING
        msg += (f"; it has since won back {100 * recovered:.0f}% of its worst fall after the best, so the decline "
                "may not last")
    other = _other_measure_improving(history, mon, s, b, w) if sev == Severity.CRITICAL else None
    if other is not None and other[1] >= p["loss_improving_z"]:
        sev = Severity.WARNING
        msg += (f"; {other[0]} of the same set kept improving after it ({se_count(other[1])} standard errors "
                f"better by the end), so the measures disagree (a decision threshold, a measure's own bias) rather "
                f"than the model getting worse on every count")
    slow = frac_past >= p["slow_fraction_past_best"] and mk_p < p["slow_trend_p"]
    actions = _actions(where_best, slow)
    evidence: dict[str, Any] = {
        "best_index": b,
        "best_value": best_val,
        "best_step": s.at(b)["step"],
        "best_epoch": s.at(b)["epoch"],
        "onset_index": int(onset),
        "onset_step": s.at(onset)["step"],
        "onset_epoch": s.at(onset)["epoch"],
        "final_value": final_val,
        "degradation": float(mon.sign * degradation),
        "relative_degradation": float(rel_value),
        "lost_fraction_of_improvement": float(lost),
        "window": int(w),
        "evaluations_after_best": int(after),
        "fraction_of_run_after_best": frac_past,
        "noise_sigma": float(sigma),
        "z": float(zstat) if np.isfinite(zstat) else None,
        "p_value": 0.5 * math.erfc(zstat / math.sqrt(2.0)) if np.isfinite(zstat) else 0.0,
        "mann_kendall_tau": tau,
        "mann_kendall_p": mk_p,
        "loss_improving_z": other[1] if other is not None else None,
        "recovered_fraction": float(recovered),
        **train_ev,
        **gap_ev,
    }
    return Finding(
        kind=FindingKind.OVERFITTING,
        severity=sev,
        message=msg,
        step=s.at(b)["step"],
        epoch=s.at(b)["epoch"],
        evidence=evidence,
        actions=tuple(actions),
        references=REFERENCES,
        detector="overfitting",
    )


def _other_measure_improving(history: History, mon: Monitor, s: Series, b: int, w: int) -> tuple[str, float] | None:
    """``(name, z)`` of the same held-out set's series that improved most after the monitored series' best at ``b``
    — the set's loss, or another of its task metrics (PSNR beside RMSE, AUC beside F1) — in standard errors of a
    level difference of that series' own robust noise: its trailing level (``w`` evaluations) at the end against
    its level at ``b``'s x (its values up to that x); ``None`` when the set logs no such series with at least
    ``2 w`` finite values on the monitored series' axis."""
    me = role_of(mon.split, mon.metric)
    best: tuple[str, float] | None = None
    for r in heldout_roles(history):
        if r.heldout_set != me.heldout_set or r.role not in ("loss", "task") or r.qualified \
                or (r.split, r.metric) == (mon.split, mon.metric):
            continue
        z = _improved_since(history.series(r.split, r.metric).finite(), r.mode, s, b, w)
        if z is not None and (best is None or z[1] > best[1]):
            best = z
    return best


def _improved_since(ls: Series, mode: str, s: Series, b: int, w: int) -> tuple[str, float] | None:
    """``(name, z)``: how far ``ls``'s trailing level at the end is better (by ``mode``) than its level at the x
    of ``s``'s evaluation ``b``, in standard errors of a level difference of its own noise; ``None`` when it has
    fewer than ``w`` values on either side of that x or no noise estimate."""
    if ls.x_kind != s.x_kind or len(ls) < 2 * w:
        return None
    upto = int(np.searchsorted(ls.x, float(s.x[b]), side="right"))
    if upto < w or len(ls) - upto < w:
        return None
    sigma = noise_sigma(ls.values)
    if not sigma > 0:
        return None
    sign = 1.0 if mode == "min" else -1.0
    gain = sign * float(np.mean(ls.values[upto - w: upto]) - np.mean(ls.values[-w:]))
    return ls.name, gain / (sigma * float(np.sqrt(2.0 / w)))


def _actions(where_best: str, slow: bool) -> list[str]:
    """Recommended actions; ``slow``: a slow multi-epoch degradation (the repeated-data advice comes first)."""
    dropout = ("slow multi-epoch degradation: if epochs repeat the same data (language models), add dropout (the "
               "one regulariser found to help under repetition) or get more unique data" if slow else
               "when epochs repeat the same data, add dropout; it is the regulariser that helps most against "
               "multi-epoch degradation")
    return [
        f"restore the checkpoint from {where_best} (or stop there next time)",
        ("average the weights of the checkpoints around the best point (weight averaging / model soups) "
        "instead of keeping the last one"),
        dropout,
        "increase weight decay (much larger values than the usual default pay off when data is repeated)",
        "check the training labels for noise: the network may be memorising wrong labels (gapwatch examples)",
    ]


def _recovered(z: np.ndarray, b: int, w: int, best_level: float) -> float:
    """Share of the largest fall after the best that the final level has won back, in [0, 1]: ``(worst - final)
    / (worst - best)`` over the levels (means of ``w`` evaluations, :func:`gapwatch.stats.window_means`) of the
    lower-is-better curve ``z`` whose raw best is at ``b``; ``best_level`` is :func:`_degradation`'s, the worst
    the largest level of a window wholly after ``b``, the final the last window's. 0 when no window lies wholly
    after the best or nothing fell."""
    levels = window_means(z, w)
    after = levels[b + 1:]
    if after.size == 0:
        return 0.0
    worst, final = float(np.max(after)), float(levels[-1])
    fall = worst - best_level
    return float(np.clip((worst - final) / fall, 0.0, 1.0)) if fall > 0 else 0.0


def _degradation(z: np.ndarray, b: int, w: int,
                 sigma_floor: float = 0.0) -> tuple[float, float, float, float, float, float, float]:
    """``(best level, degradation, improvement, σ, standard error, z, lost)`` of the lower-is-better curve ``z``
    with its raw best at ``b`` and level window ``w`` (see the module docstring); σ is at least ``sigma_floor``
    (the sampling floor of a share on a small set, ``sampling_floor``)."""
    levels = window_means(z, w)  # levels[i] = mean(z[i:i+w])
    best_level = float(np.min(levels[max(0, b - w + 1): b + 1]))
    del levels  # (gone before noise_sigma's temporaries)
    degradation = float(np.mean(z[-w:])) - best_level
    improvement = max(float(np.mean(z[:w])) - best_level, 0.0)
    sigma = max(noise_sigma(z), sigma_floor)
    se = sigma * np.sqrt(2.0 / w)
    zstat = degradation / se if se > 0 else (np.inf if degradation > 0 else 0.0)
    lost = degradation / improvement if improvement > 0 else (np.inf if degradation > 0 else 0.0)
    return best_level, degradation, improvement, sigma, se, zstat, lost


#: A relative change above this (a fraction) is written in words, not as a percentage nobody can read (issue 12:
#: "85355005406523104.0% of the improvement undone").
MAX_PERCENT_SHOWN = 10.0


def _pct(x: float) -> str:
    """A fraction as a percentage, or "more than ten times" beyond :data:`MAX_PERCENT_SHOWN`."""
    if not np.isfinite(x) or x > MAX_PERCENT_SHOWN:
        return f"more than {MAX_PERCENT_SHOWN:g} times"
    return f"{100 * x:.1f}%"


def _worse_text(best: float, final: float) -> str:
    """How much worse the final value is than the best, in words: a percentage of the best, or — for a best of
    exactly 0, where a percentage is meaningless — the change itself."""
    if best == 0:
        return f"{abs(final - best):.3g} worse than a best of 0"
    return f"{_pct(abs(final - best) / abs(best))} worse than the best"


def _shown_lost(z: np.ndarray, b: int) -> float:
    """The share of the improvement undone by the values a message shows (``z``: lower is better, best at
    ``b``): ``(final - best) / (first - best)``, infinite when there was no improvement or the final value is
    worse than the first (:func:`_undone` words the same number)."""
    first, best, final = float(z[0]), float(z[b]), float(z[-1])
    if b == 0 or not first > best:
        return float("inf")
    return (final - best) / (first - best)


def _undone(z: np.ndarray, b: int) -> str:
    """How much of the improvement the rise undid, in words a person reads without doubt, from the values the
    message shows (``z``: lower is better, best at ``b``): the share of first → best that best → final took back,
    or "worse than at the first evaluation" (the decision's ``lost`` uses trailing levels, which a reader of the
    printed values cannot check: "more than all undone" beside a final value better than the first misleads)."""
    lost = _shown_lost(z, b)
    if not lost < 1:
        return "worse than at the first evaluation"
    return f"{100 * lost:.1f}% of the improvement undone"


#: Largest noise statistic written as a number; above it the message says the rise is far beyond the noise (a
#: curve that is noise-free after its best gives an infinite ``z``: "z = 999" reads as a made-up number).
MAX_Z_SHOWN = 100.0


def _z_text(zstat: float) -> str:
    return f"z = {zstat:.1f}" if zstat <= MAX_Z_SHOWN else f"z > {MAX_Z_SHOWN:.0f}: far beyond the noise"


def _train_check(history: History, mon: Monitor, s: Series, b: int, w: int,
                 p: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Training level at the best point and at the end; ``diverging`` when it got significantly worse. Without a
    training series of the measure or a training loss, the sum of the objective's logged terms
    (:func:`summed_train_terms`: Ultralytics' ``train/box_loss`` + ``cls_loss`` + …) says whether training still
    improved after the held-out best."""
    tr = train_series(history, mon.metric)
    if tr is None:
        tr = summed_train_terms(history)
    if tr is None:
        return {}, False
    if _broke_before_end(tr, s):
        return {}, True
    ts = tr.finite()
    if len(ts) < 2:
        return {}, False
    tsign = mon.sign if tr.metric == mon.metric else sign_of(tr.metric)
    tz = signed(ts.values, tsign)
    if tr.x_kind == s.x_kind:
        at_best = tz[ts.x <= s.x[b]]
    elif np.isfinite(ts.step).all() and np.isfinite(s.step[b]):  # (a training loss per step beside
        at_best = tz[ts.step <= s.step[b]]  # evaluations per epoch: compared on the step axis)
    else:
        return {}, False
    if at_best.size == 0:
        return {}, False
    per_eval = max(1, round(tz.size / max(1, len(s))))  # (a training loss logged per batch: its means over
    tw = max(1, min(w * per_eval, at_best.size, tz.size))  # as many values as it logs per evaluation)
    t_best = float(np.mean(at_best[-tw:]))
    del at_best  # (a copy of up to the whole curve: gone before noise_sigma's temporaries)
    t_end = float(np.mean(tz[-tw:]))
    t_sigma = noise_sigma(tz)
    t_range = max(float(np.mean(tz[:tw])) - float(np.min(tz)), 0.0)
    worse = t_end - t_best
    diverging = (worse > p["train_divergence_z"] * t_sigma * np.sqrt(2.0 / tw)
                 and worse > p["train_divergence_fraction"] * t_range)
    plateau = -worse < p["train_plateau_z"] * t_sigma * np.sqrt(2.0 / tw)
    if plateau and p["train_trend_p"] > 0:  # (means of a spiky per-batch loss hide a steady fall: its trend)
        after = tz[ts.x > s.x[b]] if tr.x_kind == s.x_kind else tz[ts.step > s.step[b]]
        plateau = not (after.size >= p["train_trend_min_evaluations"]
                       and mann_kendall(after, sign=-1.0)[1] <= p["train_trend_p"])
    return {"train_at_best": tsign * t_best, "train_final": tsign * t_end, "train_plateau": bool(plateau)}, \
        bool(diverging)


#: Values scanned at a time from the end of a training series for its trailing non-finite stretch.
_SCAN_CHUNK = 4096


def _broke_before_end(tr: Series, s: Series) -> bool:
    """True when the training series ends in NaN/±inf and turned so before the last evaluation of ``s`` (same
    axis): the held-out values after that come from a model whose training broke — the run diverged, which the
    ``instability`` detector reports (its ``non_finite`` finding), not overfitting. The trailing stretch is found
    from the end, a chunk at a time (no copy of a long series). Compared on the evaluations' axis, else on the
    other one (a training loss logged per step beside evaluations per epoch); False when neither is logged
    for both."""
    v = tr.values
    n = len(v)
    if n == 0 or np.isfinite(v[-1]):
        return False
    first_bad = 0
    for hi in range(n, 0, -_SCAN_CHUNK):
        lo = max(0, hi - _SCAN_CHUNK)
        fin = np.flatnonzero(np.isfinite(v[lo:hi]))
        if fin.size:
            first_bad = lo + int(fin[-1]) + 1
            break
    for axis in (s.x_kind, "step" if s.x_kind == "epoch" else "epoch"):  # (a per-step training loss beside
        at, end = float(getattr(tr, axis)[first_bad]), float(getattr(s, axis)[-1])  # per-epoch evaluations)
        if np.isfinite(at) and np.isfinite(end):
            return at <= end
    return False


def _gap(history: History, mon: Monitor, s: Series, b: int, max_points: int) -> dict[str, Any]:
    """Train/val gap (held-out minus train, in "lower is better" units) at the best point, at the end, and its
    trajectory (one value per evaluation of the monitored series; on runs with more than ``max_points``
    evaluations, every k-th of them, first and last included, with their indices in ``gap_trajectory_index``)."""
    if not has(history, "train", mon.metric):
        return {}
    try:
        base = history.series(mon.split, mon.metric)  # (the base of the aligned arrays)
        n = len(base)
        if not _train_matched(history, mon, n):
            return {}
        keep = _trajectory_index(n, max_points)
        # the gap where it is reported only (the best, the end, the thinned trajectory): each base evaluation is
        # matched on its own, so these are the values of the whole aligned arrays there
        idx = int(min(np.searchsorted(base.x, s.x[b]), n - 1))
        at = np.arange(n) if keep is None else np.union1d(keep, [idx, n - 1])
        _, al = history.aligned_arrays(mon.metric, splits=("train", mon.split), at=at)
    except (KeyError, ValueError):
        return {}
    gap = al[mon.split] - al["train"]
    gap *= mon.sign  # (in place: the same numbers as ``sign * (held-out - train)``)
    j_best, j_end = int(np.searchsorted(at, idx)), at.shape[0] - 1
    out: dict[str, Any] = {
        "gap_at_best": float(gap[j_best]) if np.isfinite(gap[j_best]) else None,
        "gap_final": float(gap[j_end]) if np.isfinite(gap[j_end]) else None,
    }
    if keep is not None:
        gap = gap[np.searchsorted(at, keep)]
    out["gap_trajectory"] = [g if math.isfinite(g) else None for g in gap.tolist()]
    if keep is not None:
        out["gap_trajectory_index"] = keep.tolist()
    return out


#: Evaluations matched at a time by :func:`_train_matched`.
_MATCH_CHUNK = 1 << 16


def _train_matched(history: History, mon: Monitor, n: int) -> bool:
    """Whether some evaluation of the monitored series (``n`` of them) has a training value matched to it (the
    aligned training array is not all NaN), matched :data:`_MATCH_CHUNK` evaluations at a time: usually the
    first chunk answers."""
    for a in range(0, n, _MATCH_CHUNK):
        at = np.arange(a, min(a + _MATCH_CHUNK, n))
        _, al = history.aligned_arrays(mon.metric, splits=("train", mon.split), at=at)
        if "train" not in al:
            return False
        if not np.isnan(al["train"]).all():
            return True
    return False


def _trajectory_index(n: int, max_points: int) -> np.ndarray | None:
    """Evaluation indices of an evenly thinned trajectory of ``n`` points (first and last kept, at most
    ``max_points``), or ``None`` when ``n <= max_points`` (nothing to thin)."""
    if n <= max_points:
        return None
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.intp))
