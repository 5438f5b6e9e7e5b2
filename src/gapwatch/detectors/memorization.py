"""Memorisation: the training data is fitted while held-out accuracy is still near its starting value (chance)
at the end of the log, with no sign of generalisation yet.

Statistic: the fit point of :func:`gapwatch.detectors.grokking.fit_and_jump` (same parameters, so the two
detectors agree), no jump after it, the held-out accuracy at the end still below ``max_generalization`` of the
training gain, and at least ``min_stretch_evaluations`` evaluations since the fit (a run that fitted at its last
evaluation has not had time to generalise). Severity ``warning``; onset: the fit point.

Whether generalisation ever comes depends on regularisation: "Grokking at the Edge of Numerical Stability"
(2025) shows that without weight decay the logits grow until the softmax loses floating-point precision
(Softmax Collapse) and learning stops, and that StableMax or the ⊥Grad optimizer restore grokking. Memorising
random or wrong labels never generalises ("Does Learning Require Memorization? A Short Tale about a Long
Tail", 2020), so check the labels too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..findings import Finding, FindingKind, Severity
from ..history import History
from ..monitor import Monitor
from ..params import Param, defaults, register, validate
from . import register as register_detector
from ._common import GROK_NUMERICAL, GROK_XOR, MEMORIZATION, monitor_or_none
from .grokking import SPECS as GROK_SPECS
from .grokking import fit_and_jump

REFERENCES = (GROK_NUMERICAL, GROK_XOR, MEMORIZATION)

#: Parameters (:mod:`gapwatch.params`): those of ``grokking`` (the fit point is the same) plus the stretch.
SPECS: tuple[Param, ...] = register("memorization", (
    *GROK_SPECS,
    Param("min_stretch_evaluations", 5, "Evaluations since the fit point without a jump before memorisation is "
          "reported (a jump right after the fit is ordinary learning).", unit="evaluations", type=int, low=1),
))

#: Default parameters, ``{name: default}`` (from :data:`SPECS`).
DEFAULTS: dict[str, Any] = defaults(SPECS)


@register_detector("memorization")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find memorisation without generalisation (yet). Parameters: see :data:`SPECS`."""
    p = validate("memorization", SPECS, params)
    stretch = p.pop("min_stretch_evaluations")
    gp = p
    mon = monitor_or_none(history, monitor)
    st = fit_and_jump(history, mon, gp)
    if st is None or st["jump_index"] is not None:
        return []
    va = st["val"]
    m, n = st["fit_index"], len(va)
    g_end = float(np.mean(st["g"][-min(gp["end_window"], n):]))
    if n - 1 - m < stretch or g_end > gp["max_generalization"]:
        return []
    unit = va.x_kind
    final = float(np.mean(va.values[-min(gp["end_window"], n):]))
    msg = (f"training accuracy fitted by {unit} {float(va.x[m]):g} but {va.split}_{va.metric} is still near "
           f"{st['v0']:.3g} (final {final:.3g}) {n - 1 - m} evaluations later: the model memorises the training "
           "set and has not generalised (yet)")
    ev = {"fit_index": m, "fit_step": va.at(m)["step"], "fit_epoch": va.at(m)["epoch"],
          "evaluations_since_fit": int(n - 1 - m), "heldout_start": st["v0"], "heldout_final": final,
          "generalization_ratio": g_end, "train_gain": st["gain"]}
    actions = (
        ("add or increase weight decay: it governs whether and when generalisation (grokking) comes; without "
        "it the softmax drifts to floating-point collapse and learning stalls"),
        ("or keep weight decay and replace softmax by StableMax / use the ⊥Grad optimizer, which avoid Softmax "
        "Collapse"),
        ("if the budget allows, keep training: validation may still jump (gapwatch's policy: "
        "keep_through_memorization)"),
        "check the labels: wrong or random labels can be memorised but never generalise",
    )
    return [Finding(FindingKind.MEMORIZATION, Severity.WARNING, msg, step=va.at(m)["step"],
                    epoch=va.at(m)["epoch"], evidence=ev, actions=actions, references=REFERENCES,
                    detector="memorization")]
