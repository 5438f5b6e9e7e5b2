"""Grokking: training accuracy saturated while held-out accuracy stayed near its starting value (chance) for a
long stretch, then held-out accuracy jumped.

Statistic (accuracy as a fraction: an accuracy logged in percent is divided by 100 first, so ``train_fit`` 0.95
does not read 0.95% as fitted). With ``t0``/``v0`` the first training / held-out accuracy (or ``chance`` for both
when given):

* *fit point* ``m``: first evaluation whose trailing ``window``-mean training accuracy is ≥ ``train_fit``, after a
  training gain ``G = train level − t0 ≥ min_train_gain`` (the log starts before the fit);
* up to and at ``m`` held-out accuracy has generalised at most ``max_generalization`` of that gain: the peak of
  its trailing mean over ``peak_window_fraction`` of the run (a tenth) (at least ``window`` evaluations) satisfies
  ``(v − v0) / G ≤ max_generalization`` — it stayed near chance until training was fitted (a run that generalised
  first and lost it later is overfitting);
* *jump point* ``j``: first evaluation after ``m`` where held-out accuracy has reached half of the training gain,
  ``(v − v0) / G ≥ jump_generalization``, and stays there for ``confirm`` evaluations (one outlier cannot fake it);
* the stretch ``j − m`` is at least ``min_delay_evaluations`` evaluations and ``min_delay_fraction`` of the run.

Reported as ``info`` with both times and the delay (a good outcome that patience-based early stopping would have
cut off). Memorisation without a jump is the ``memorization`` detector's job; the two never fire together.

References: "Grokking at the Edge of Numerical Stability" (2025): weight decay and numerical stability of the
softmax govern whether and when grokking comes (Softmax Collapse, StableMax, ⊥Grad); "Benign Overfitting and
Grokking in ReLU Networks for XOR Cluster Data" (2024): a perfect fit with near-random test accuracy followed by
near-optimal generalisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..findings import Finding, FindingKind, Severity
from ..history import History
from ..monitor import Monitor
from ..params import Param, defaults, register, validate
from ..stats import trailing_mean, trailing_mean_peak_above
from . import register as register_detector
from ._common import GROK_NUMERICAL, GROK_XOR, heldout_series, monitor_or_none, series_or_none, value_scale

REFERENCES = (GROK_NUMERICAL, GROK_XOR)

#: Parameters (:mod:`gapwatch.params`), shared with ``memorization``. Units: accuracy (fraction), evaluations,
#: fractions of the training gain or of the run.
SPECS: tuple[Param, ...] = register("grokking", (
    Param("min_evaluations", 10, "Finite evaluations of both the training and the held-out accuracy needed before "
          "judging.", unit="evaluations", type=int, low=1),
    Param("window", 3, "Trailing mean of the training accuracy that decides the fit point (and the least window "
          "of the held-out peak).", unit="evaluations", type=int, low=1),
    Param("train_fit", 0.95, "Training accuracy (trailing mean) that counts as fitted.", unit="accuracy",
          low=0, high=1),
    Param("min_train_gain", 0.5, "Training accuracy gained since the first evaluation (or chance) by the fit "
          "point: the log must start before the fit.", unit="accuracy", low=0, high=1),
    Param("max_generalization", 0.2, "Held-out gain / training gain allowed up to the fit point (near chance "
          "while training was fitted).", unit="fraction of the training gain", low=0, high=1),
    Param("peak_window_fraction", 0.1, "The held-out gain up to the fit point is the peak of a trailing mean over "
          "this share of the run (at least window evaluations), so one noisy evaluation cannot veto.",
          unit="fraction of the run", low=0, high=1),
    Param("jump_generalization", 0.5, "Held-out gain / training gain that counts as having jumped (half of the "
          "training gain).", unit="fraction of the training gain", low=0, high=1),
    Param("confirm", 2, "Consecutive evaluations at or above the jump level (one outlier cannot fake a jump).",
          unit="evaluations", type=int, low=1),
    Param("min_delay_evaluations", 5, "Evaluations between fit and jump, at least (a short delay is ordinary "
          "learning).", unit="evaluations", type=int, low=1),
    Param("min_delay_fraction", 0.05, "The same delay as a fraction of the run's evaluations, at least.",
          unit="fraction of the run", low=0, high=1),
    Param("end_window", 3, "Evaluations averaged for the final held-out level (reported; memorization also "
          "requires it to be still below max_generalization).", unit="evaluations", type=int, low=1),
    Param("chance", None, "Chance accuracy (1 / classes) used as the start of both curves; None: the first "
          "evaluation of each.", unit="accuracy", low=0, high=1, allow_none=True),
))

#: Default parameters, ``{name: default}`` (from :data:`SPECS`).
DEFAULTS: dict[str, Any] = defaults(SPECS)


def params(p: dict[str, Any]) -> dict[str, Any]:
    """``p`` validated against :data:`SPECS` (defaults merged)."""
    return validate("grokking", SPECS, p)


def fit_and_jump(history: History, monitor: Monitor | None, p: dict[str, Any]) -> dict[str, Any] | None:
    """Shared by ``grokking`` and ``memorization``: the fit point and, if any, the jump point."""
    tr = series_or_none(history, "train", "acc")
    va = heldout_series(history, "acc", monitor)
    if tr is None or va is None:
        return None
    tr, va = tr.finite(), va.finite()
    n = len(va)
    if n < p["min_evaluations"] or len(tr) < p["min_evaluations"]:
        return None
    # the thresholds are fractions: an accuracy logged in percent (98.9, 100.0) is read as one
    ts, vs = value_scale(tr.values), value_scale(va.values)
    if ts is None or vs is None:
        return None
    chance = p["chance"]
    t0 = float(tr.values[0]) / ts if chance is None else float(chance)
    v0 = float(va.values[0]) / vs if chance is None else float(chance)
    w = p["window"]
    tl = trailing_mean(tr.values / ts, w)  # trailing mean, shorter at the start
    fitted = np.where((tl >= p["train_fit"]) & (tl - t0 >= p["min_train_gain"]))[0]
    if fitted.size == 0:
        return None
    mt = int(fitted[0])
    x_fit = float(tr.x[mt])
    gain = float(tl[mt] - t0)
    # held-out evaluation at (or just before) the fit point
    m = int(np.searchsorted(va.x, x_fit, side="right")) - 1
    m = max(m, 0)
    g = (va.values / vs - v0) / gain
    # near chance *throughout* the run up to the fit: a run that generalised first and then lost it while
    # fitting noisy labels is overfitting, not memorisation-before-grokking
    # (peak of a trailing mean over a tenth of the run, at least `window`, so one noisy evaluation cannot veto)
    if trailing_mean_peak_above(g[: m + 1], max(w, int(p["peak_window_fraction"] * n)), p["max_generalization"]):
        return None
    c = p["confirm"]
    above = g >= p["jump_generalization"]
    j = None
    if n - (m + 1) >= c:  # the first i > m with c evaluations in a row above the jump level
        full = np.flatnonzero(np.lib.stride_tricks.sliding_window_view(above[m + 1:], c).all(axis=1))
        j = int(m + 1 + full[0]) if full.size else None
    return {"train": tr, "val": va, "fit_index": m, "fit_train_index": mt, "jump_index": j, "gain": gain,
            "t0": t0 * ts, "v0": v0 * vs, "g": g}



@register_detector("grokking")
def check(history: History, *, monitor: Monitor | None = None, **params_: Any) -> list[Finding]:
    """Find grokking (delayed generalisation) in one run. Parameters: see :data:`SPECS`."""
    p = params(params_)
    mon = monitor_or_none(history, monitor)
    st = fit_and_jump(history, mon, p)
    if st is None or st["jump_index"] is None:
        return []
    va = st["val"]
    m, j = st["fit_index"], st["jump_index"]
    n = len(va)
    if j - m < max(p["min_delay_evaluations"], p["min_delay_fraction"] * n):
        return []
    unit = va.x_kind
    x_m, x_j = float(va.x[m]), float(va.x[j])
    low = va.values[m:j]
    final = float(np.mean(va.values[-min(p["end_window"], n):]))
    msg = (f"training accuracy fitted by {unit} {x_m:g} while {va.split}_{va.metric} stayed near "
           f"{st['v0']:.3g} (mean {float(np.mean(low)):.3g}) for {j - m} evaluations, then jumped at {unit} "
           f"{x_j:g} (final {final:.3g}): grokking, delay {x_j - x_m:g} {unit}s")
    ev = {"fit_index": m, "fit_step": va.at(m)["step"], "fit_epoch": va.at(m)["epoch"],
          "jump_index": j, "jump_step": va.at(j)["step"], "jump_epoch": va.at(j)["epoch"],
          "delay": x_j - x_m, "delay_unit": unit, "delay_evaluations": int(j - m),
          "heldout_start": st["v0"], "heldout_during_memorization": float(np.mean(low)),
          "heldout_final": final, "train_gain": st["gain"]}
    actions = (
        ("do not early-stop such runs on the validation metric during the memorisation phase (patience-based "
        "stopping would have stopped within a few evaluations of the fit); gapwatch's policy has "
        "keep_through_memorization for this"),
        ("weight decay shortens the delay; without regularisation the logits grow until the softmax loses "
        "floating-point precision (Softmax Collapse) and generalisation can stall: StableMax or the ⊥Grad "
        "optimizer avoid it"),
    )
    return [Finding(FindingKind.GROKKING, Severity.INFO, msg, step=va.at(j)["step"], epoch=va.at(j)["epoch"],
                    evidence=ev, actions=actions, references=REFERENCES, detector="grokking")]
