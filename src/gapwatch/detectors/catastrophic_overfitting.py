"""Catastrophic overfitting: in single-step adversarial training, accuracy under a multi-step attack collapses
within a few evaluations while single-step accuracy stays high or rises.

Which series. Accuracy-like series whose name has a token starting with ``pgd``, ``apgd``, ``autoattack``, ``aa``,
``cw`` or equal to ``robust`` are multi-step; a token starting with ``fgsm`` marks single-step. Held-out splits are
preferred (``val``, then ``test``, then any other, ``train`` last) and both series are taken from the same split
when possible. ``multi_step`` / ``single_step`` name them explicitly (as logged, e.g. ``"val_pgd10_acc"``). Without
a single-step series the clean accuracy of the same split plays its part and the finding is a ``warning``.

Statistic (accuracy units). ``best`` is the highest trailing ``window``-mean of the multi-step accuracy, ``final``
the mean of its last ``window`` evaluations, ``drop = best − final``. A collapse needs

* ``drop ≥ min_drop`` and ``drop ≥ min_relative_drop · best`` (most of the robustness is gone),
* ``drop ≥ min_z`` noise standard deviations of the multi-step curve,
* sharpness: the mean of the ``sharp_window`` (two) evaluations before the onset minus the mean of the
  ``sharp_window`` evaluations ending ``max_collapse_evaluations − 1`` after it covers ``sharp_fraction`` of the
  drop (gradual robust overfitting under multi-step training is not catastrophic overfitting),
* the single-step (or clean) accuracy at the end is not below its value at the onset by more than
  ``max_single_step_drop`` (if it collapsed too, the whole model broke: ``instability``).

The onset is the first evaluation after the best from which the multi-step accuracy stays below
``best − onset_fraction · drop`` (half of the drop). Severity ``critical``.

References: "Eliminating Catastrophic Overfitting Via Abnormal Adversarial Examples Regularization" (2023:
the classifier distorts within a few iterations; regularising abnormal adversarial examples prevents it);
"A Simple Fine-tuning Is All You Need: Towards Robust Deep Learning Via Adversarial Fine-tuning" (2021:
learning-rate scheduling and adversarial fine-tuning against overfitting in adversarial training).
"""

from __future__ import annotations

import re
from typing import Any, cast

import numpy as np

from ..errors import UsageError
from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor
from ..names import metric_mode, normalize
from ..params import Param, defaults, register, validate
from ..stats import noise_sigma, window_means
from . import register as register_detector
from ._common import AAER, SIMPLE_FINETUNE, get_series, has, keys, stays_above_from, where_text

REFERENCES = (AAER, SIMPLE_FINETUNE)

#: Parameters (:mod:`gapwatch.params`). Units: accuracy, evaluations, noise standard deviations, fractions.
SPECS: tuple[Param, ...] = register("catastrophic_overfitting", (
    Param("min_evaluations", 5, "Finite evaluations of the multi-step accuracy needed.", unit="evaluations",
          type=int, low=1),
    Param("window", 2, "Evaluations averaged for the best and final levels (capped at a third of the series): a "
          "collapse happens within a few evaluations, so the window stays short.", unit="evaluations", type=int,
          low=1),
    Param("min_drop", 0.1, "Multi-step accuracy lost (best level - final level), at least.", unit="accuracy",
          low=0, high=1),
    Param("min_relative_drop", 0.5, "The same drop as a fraction of the best multi-step accuracy: most of the "
          "robustness is gone.", unit="fraction of the best", low=0, high=1),
    Param("min_z", 5.0, "The drop in noise standard deviations of the multi-step curve.", unit="sigma", low=0),
    Param("onset_fraction", 0.5, "Onset: first evaluation after the best from which the accuracy stays below best "
          "- onset_fraction x drop (half of the drop).", unit="fraction of the drop", low=0, high=1),
    Param("max_collapse_evaluations", 3, "Evaluations within which most of the drop happens (catastrophic "
          "overfitting takes a few iterations; gradual robust overfitting takes many).", unit="evaluations",
          type=int, low=1),
    Param("sharp_window", 2, "Evaluations averaged just before the onset and at the end of the collapse span "
          "for the sharpness test.", unit="evaluations", type=int, low=1),
    Param("sharp_fraction", 0.6, "Share of the drop that must happen within the collapse span.",
          unit="fraction of the drop", low=0, high=1),
    Param("max_single_step_drop", 0.05, "Single-step (or clean) accuracy may fall at most this much from the "
          "onset to the end (if it collapsed too, the whole model broke: instability).", unit="accuracy",
          low=0, high=1),
    Param("multi_step", None, "Logged name of the multi-step accuracy (e.g. 'val_pgd10_acc'); None: found by "
          "name.", type=str, allow_none=True),
    Param("single_step", None, "Logged name of the single-step accuracy; None: found by name.", type=str,
          allow_none=True),
))

#: Default parameters, ``{name: default}`` (from :data:`SPECS`).
DEFAULTS: dict[str, Any] = defaults(SPECS)

_MULTI = re.compile(r"^(pgd|apgd|autoattack|aa|cw)|^robust$")
_SINGLE = re.compile(r"^fgsm")
_SPLIT_ORDER = {"val": 0, "test": 1, "train": 3}


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[/_.\-\s:]+", name.lower()) if t]


def _classify(history: History) -> tuple[list[Series], list[Series]]:
    multi, single = [], []
    for split, metric in keys(history):
        if metric_mode(metric) != "max":
            continue
        s = get_series(history, split, metric)
        toks = _tokens(metric) + _tokens(s.name)
        if any(_MULTI.match(t) for t in toks):
            multi.append(s)
        elif any(_SINGLE.match(t) for t in toks):
            single.append(s)
    def key(s: Series) -> tuple[int, str]:
        return (_SPLIT_ORDER.get(s.split, 2), s.name)

    return sorted(multi, key=key), sorted(single, key=key)


def _by_name(history: History, name: str, param: str) -> Series:
    for split, metric in keys(history):
        s = get_series(history, split, metric)
        if s.name == name or f"{split}_{metric}" == "_".join(normalize(name, "val")):
            return s
    raise UsageError(f"catastrophic_overfitting: {param}={name!r} was not logged; metrics found: "
                     f"{', '.join(history.names())}")


def _pick(history: History, p: dict[str, Any]) -> tuple[Series | None, Series | None, str]:
    """``(multi-step series, single-step or clean partner, "single-step" | "clean")`` (see the module docstring)."""
    multi, single = _classify(history)
    ms = _by_name(history, p["multi_step"], "multi_step") if p["multi_step"] else (multi[0] if multi else None)
    if ms is None:
        return None, None, "single-step"
    if p["single_step"]:
        ss: Series | None = _by_name(history, p["single_step"], "single_step")
    else:
        same = [s for s in single if s.split == ms.split]
        ss = same[0] if same else (single[0] if single else None)
    if ss is not None:
        return ms, ss, "single-step"
    return ms, (get_series(history, ms.split, "acc") if has(history, ms.split, "acc") else None), "clean"


def _sharp(v: np.ndarray, j: int, drop: float, p: dict[str, Any]) -> bool:
    """Did ``sharp_fraction`` of the drop happen within ``max_collapse_evaluations`` of the onset ``j``?"""
    n, c, k = v.size, p["max_collapse_evaluations"], p["sharp_window"]
    before = float(np.mean(v[max(0, j - k): j])) if j > 0 else float(v[0])
    after = float(np.mean(v[min(n - 1, j + c - k): min(n, j + c)]))
    return cast(bool, before - after >= p["sharp_fraction"] * drop)


def _partner(ss: Series, m: Series, j: int, w: int, final: float, partner_kind: str,
             p: dict[str, Any]) -> dict[str, Any] | None:
    """Evidence of the partner series at the onset and at the end; ``None`` when it collapsed too (then the whole
    model broke: not catastrophic overfitting). Empty when it has no value before the onset."""
    sf = ss.finite()
    x_on = float(m.x[j - 1]) if j > 0 else float(m.x[0])
    at_on = sf.values[sf.x <= x_on]
    if not (at_on.size and len(sf)):
        return {}
    s_on = float(np.mean(at_on[-w:]))
    s_end = float(np.mean(sf.values[-w:]))
    if s_end < s_on - p["max_single_step_drop"]:
        return None
    return {f"{partner_kind.replace('-', '_')}": sf.name, "partner_before": s_on, "partner_final": s_end,
            "gap_final": s_end - final}


@register_detector("catastrophic_overfitting")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find catastrophic overfitting of single-step adversarial training. Parameters: see :data:`SPECS`."""
    p = validate("catastrophic_overfitting", SPECS, params)
    ms, ss, partner_kind = _pick(history, p)
    if ms is None:
        return []
    m = ms.finite()
    n = len(m)
    if n < p["min_evaluations"]:
        return []
    v = m.values
    w = max(1, min(p["window"], n // 3))
    lv = window_means(v, w)  # lv[i] = mean(v[i:i+w])
    bi = int(np.argmax(lv))
    best = float(lv[bi])
    final = float(np.mean(v[-w:]))
    drop = best - final
    sigma = noise_sigma(v)
    if drop < p["min_drop"] or drop < p["min_relative_drop"] * best:
        return []
    if sigma > 0 and drop / sigma < p["min_z"]:
        return []
    below = v < best - p["onset_fraction"] * drop
    j = stays_above_from(below, bi + w - 1)
    if j >= n:
        return []
    if not _sharp(v, j, drop, p):
        return []
    ev: dict[str, Any] = {"multi_step": ms.name, "multi_step_best": best, "multi_step_final": final,
                          "drop": drop, "drop_z": float(drop / sigma) if sigma > 0 else None,
                          "onset_index": int(j), "noise_sigma": float(sigma),
                          "best_step": m.at(bi + w - 1)["step"], "best_epoch": m.at(bi + w - 1)["epoch"]}
    if ss is not None:
        partner = _partner(ss, m, j, w, final, partner_kind, p)
        if partner is None:
            return []
        ev.update(partner)
    sev = Severity.CRITICAL if partner_kind == "single-step" else Severity.WARNING
    part = (f"; {ev.get('single_step', ev.get('clean', ''))} went {ev['partner_before']:.3g} → "
            f"{ev['partner_final']:.3g}") if "partner_final" in ev else ""
    msg = (f"{ms.name} collapsed from {best:.3g} to {final:.3g} at {where_text(m, j)}{part}: catastrophic "
           "overfitting of single-step adversarial training (the model is no longer robust to multi-step attacks)")
    actions = (
        f"restore the checkpoint with the best {ms.name} (before {where_text(m, j)}) and stop there next time",
        ("use FGSM with a random start and a step no larger than the perturbation budget; at larger budgets "
        "add a regulariser against classifier distortion (abnormal adversarial examples regularisation, AAER)"),
        ("lower the learning rate or use a slow-start, fast-decay schedule; adversarially fine-tuning a "
        "pre-trained model is cheaper and less prone to it"),
        "evaluate multi-step (PGD) accuracy on a small held-out batch every epoch so the collapse is seen",
    )
    return [Finding(FindingKind.CATASTROPHIC_OVERFITTING, sev, msg, step=m.at(j)["step"],
                    epoch=m.at(j)["epoch"], evidence=ev, actions=actions, references=REFERENCES,
                    detector="catastrophic_overfitting")]
