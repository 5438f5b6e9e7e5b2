"""Overfitting: the monitored validation metric is past its best while training keeps improving.

Method. The validation curve is turned into "lower is better" form. Its best evaluation is the raw
optimum; its *level* there is the best trailing mean over ``window`` evaluations, and the *final level* is the
mean of the last ``window`` evaluations. The degradation ``final level - best level`` is compared with the
evaluation noise σ (robust MAD of second differences, :func:`gapwatch.stats.noise_sigma`) through
``z = degradation / (σ · sqrt(2 / window))``; a finding needs ``z ≥ min_z`` **and** a relative degradation of at
least ``min_rel_degradation``, so a single noisy evaluation never triggers it. A Mann–Kendall test on the
post-best segment is reported as supporting evidence. When a training series of the same metric exists it
must not have worsened over the same stretch (else the run is diverging, which is ``instability``).

References: Prechelt, "Early Stopping — But When?" (1998) for the generalisation-loss view of stopping;
Muennighoff et al., "To Repeat or Not To Repeat: Insights from Scaling LLM under Token-Crisis" (2023) for
multi-epoch degradation on repeated data and dropout as its remedy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor, choose_monitor
from ..stats import mann_kendall, noise_sigma, rolling_mean
from . import register

REFERENCES = (
    "Prechelt, Early Stopping - But When? (1998)",
    "To Repeat or Not To Repeat: Insights from Scaling LLM under Token-Crisis (2023)",
)

#: Default parameters (validated in :func:`check`).
DEFAULTS: dict[str, float] = {
    "min_evaluations": 5,          # evaluations needed before judging at all
    "min_after_best": 3,           # evaluations after the best needed to call it a trend
    "window": 3,                   # evaluations averaged for the best and final levels
    "min_z": 3.0,                  # degradation in units of its noise standard error
    "min_rel_degradation": 0.01,   # degradation relative to |best value| (1%)
    "critical_rel_degradation": 0.10,  # relative degradation that makes it critical (10%)
}


def _validate(p: dict[str, Any]) -> dict[str, Any]:
    unknown = set(p) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"overfitting: unknown parameter(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    out = {**DEFAULTS, **p}
    for k in ("min_evaluations", "min_after_best", "window"):
        if int(out[k]) != out[k] or out[k] < 1:
            raise ValueError(f"overfitting: {k} must be a positive integer (evaluations), got {out[k]!r}")
        out[k] = int(out[k])
    for k in ("min_z", "min_rel_degradation", "critical_rel_degradation"):
        if not np.isfinite(out[k]) or out[k] < 0:
            raise ValueError(f"overfitting: {k} must be a finite number >= 0, got {out[k]!r}")
    return out


def _train_series(history: History, monitor: Monitor) -> Series | None:
    for metric in (monitor.metric, "loss"):
        if history.has("train", metric):
            return history.series("train", metric)
    return None


@register("overfitting")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find overfitting in one run. Parameters: see :data:`DEFAULTS` (units: evaluations, ratios)."""
    p = _validate(params)
    try:
        mon = choose_monitor(history, monitor)
    except Exception:
        return []
    s = history.series(mon.split, mon.metric).finite()
    n = len(s)
    if n < p["min_evaluations"]:
        return []
    z = mon.sign * s.values
    b = int(np.argmin(z))
    after = n - 1 - b
    if after < p["min_after_best"]:
        return []
    w = max(1, min(p["window"], after))
    levels = rolling_mean(z, w)
    best_level = float(np.min(levels[: b + w])) if b + w <= n else float(np.min(levels))
    final_level = float(np.mean(z[-w:]))
    degradation = final_level - best_level
    sigma = noise_sigma(z)
    scale = max(abs(float(z[b])), 1e-12)
    rel = degradation / scale
    se = sigma * np.sqrt(2.0 / w)
    zstat = degradation / se if se > 0 else (np.inf if degradation > 0 else 0.0)
    if degradation <= 0 or zstat < p["min_z"] or rel < p["min_rel_degradation"]:
        return []

    tr = _train_series(history, mon)
    train_ev: dict[str, Any] = {}
    if tr is not None:
        ts = tr.finite()
        tsign = 1.0 if (tr.metric in ("loss", "error", "perplexity") or mon.mode == "min") else -1.0
        if tr.metric == mon.metric:
            tsign = mon.sign
        bx = s.x[b]
        at_best = ts.values[ts.x <= bx]
        if at_best.size and ts.values.size:
            t_best = float(tsign * np.mean(at_best[-w:]))
            t_end = float(tsign * np.mean(ts.values[-w:]))
            t_sigma = noise_sigma(tsign * ts.values)
            train_ev = {"train_at_best": tsign * t_best, "train_final": tsign * t_end}
            # training got worse too: divergence, not overfitting
            if t_end - t_best > max(3 * t_sigma * np.sqrt(2.0 / w), 0.01 * abs(t_best)):
                return []

    # onset: first evaluation after the best from which the level stays above best + tolerance
    tol = max(p["min_z"] * se, p["min_rel_degradation"] * scale)
    above = levels > best_level + tol
    onset = n - 1
    for i in range(n - 1, b, -1):
        if above[i]:
            onset = i
        else:
            break
    tau, pval = mann_kendall(z[b:])
    gap_ev = _gap(history, mon, s, b)
    x_range = float(s.x[-1] - s.x[0]) if n > 1 else 0.0
    frac_past = float((s.x[-1] - s.x[b]) / x_range) if x_range > 0 else 0.0
    sev = Severity.CRITICAL if rel >= p["critical_rel_degradation"] else Severity.WARNING
    unit = s.x_kind
    best_val = float(s.values[b])
    final_val = float(s.values[-1])
    msg = (
        f"{mon.split}_{mon.metric} best {best_val:.4g} at {unit} {_fmt(s.x[b])}, then worse by "
        f"{100 * rel:.1f}% (final {final_val:.4g}) over {after} evaluations ({100 * frac_past:.0f}% of the run)"
    )
    actions = [
        f"restore the checkpoint from {unit} {_fmt(s.x[b])} (or stop there next time)",
        "average the checkpoints around the best point (weight averaging / model soups) instead of taking the last",
        "regularise more: stronger weight decay, dropout (especially when epochs repeat the same data), "
        "data augmentation",
        "check the training labels for noise: the network may be memorising wrong labels (gapwatch examples)",
    ]
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
        "relative_degradation": float(rel),
        "evaluations_after_best": int(after),
        "fraction_of_run_after_best": frac_past,
        "noise_sigma": float(sigma),
        "z": float(zstat) if np.isfinite(zstat) else None,
        "mann_kendall_tau": tau,
        "mann_kendall_p": pval,
        **train_ev,
        **gap_ev,
    }
    return [
        Finding(
            kind=FindingKind.OVERFITTING.value,
            severity=sev,
            message=msg,
            step=s.at(b)["step"],
            epoch=s.at(b)["epoch"],
            evidence=evidence,
            actions=tuple(actions),
            references=REFERENCES,
            detector="overfitting",
        )
    ]


def _gap(history: History, mon: Monitor, s: Series, b: int) -> dict[str, Any]:
    """Train/val gap (held-out minus train, in "lower is better" units) at the best point and at the end."""
    if not history.has("train", mon.metric):
        return {}
    try:
        al = history.aligned(mon.metric, splits=("train", mon.split))
    except (KeyError, ValueError):
        return {}
    if "train" not in al or al["train"].isna().all():
        return {}
    gap = mon.sign * (al[mon.split].to_numpy() - al["train"].to_numpy())
    idx = np.searchsorted(al["x"].to_numpy(), s.x[b])
    idx = int(min(idx, len(gap) - 1))
    return {
        "gap_at_best": float(gap[idx]) if np.isfinite(gap[idx]) else None,
        "gap_final": float(gap[-1]) if np.isfinite(gap[-1]) else None,
        "gap_trajectory": [float(g) if np.isfinite(g) else None for g in gap],
    }


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.3g}"
