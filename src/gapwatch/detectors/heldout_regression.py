"""Several held-out sets: the worst set, off-target regression, per-group overfitting, and robust accuracy
that never rose under single-step adversarial training.

Which sets. Every held-out set other than the deciding one (:func:`gapwatch.monitor.decide`): Hugging Face
``eval_<set>_*``, Lightning ``val_*/dataloader_idx_N``, named splits (``retention_*``, ``ood_*``), per-group
or per-class series (``val_<group>_acc``, seqeval's ``eval_LOC_f1``). Per set one series is judged: the
deciding series' measure when the set logs it, else the set's task metric, else its loss
(:class:`gapwatch.monitor.SeriesRole`). Sets whose name says they measure something other than the target
(:data:`gapwatch.names.OFF_TARGET_WORDS`: retention, ood, general, a named benchmark…) are *off-target*; the
others are *groups* of the target.

Statistic (per set, as "lower is better"). The level is the trailing mean of ``window`` evaluations; a set
*degrades* when its final level is ``min_z`` or more standard errors of a level difference worse than its best
level (noise: :func:`gapwatch.stats.noise_sigma`, floored at ``noise_floor`` × the set's span) with a worsening
trend after the best (Mann–Kendall, one-sided ``alpha``) and by a practical amount (the overfitting detector's
floors: ``min_relative_rise`` of a positive loss's best level, ``min_share_drop`` of a share's scale), and it *falls
behind* from the first evaluation after its best from which its level stays ``min_z`` standard errors or more
below its best. The target
*improves* when its final level is ``min_z`` or more better than its first and it does not degrade.

Findings (kind ``heldout_regression``):

* **off-target regression** (``warning``): the target improves while an off-target set degrades — the pattern
  of supervised fine-tuning that drops general benchmarks ("Selective Self-to-Supervised Fine-Tuning for
  Generalization in Large Language Models", 2025). Actions: mix in general data, lower the learning rate, stop
  at the off-target set's best when the target had improved by then (never a checkpoint from before the target
  improved).
* **per-group overfitting / worst set** (``warning`` when the target does not degrade — the aggregate hides
  it — else ``info``): the groups that degrade, ordered by when they fell behind. Rare groups and low-resource
  languages overfit first ("Upsample or Upweight? Balanced Training on Heavily Imbalanced Datasets", 2024;
  "DiverGen: Improving Instance Segmentation by Learning Wider Data Distribution with More Diverse Generative
  Data", 2024).

And, kind ``catastrophic_overfitting`` (``critical``): accuracy under a multi-step attack (PGD…) that **never
rose** — its best level gained less than ``max_multi_step_share`` of what the single-step (FGSM) accuracy
gained — while the single-step accuracy climbed by ``min_z`` or more. This is catastrophic overfitting from
the start (zero-initialised FGSM training), which the ``catastrophic_overfitting`` detector, which waits for
a peak and then a collapse, does not see ("Eliminating Catastrophic Overfitting Via Abnormal Adversarial
Examples Regularization", 2023). The two findings are exclusive: a collapse needs a multi-step gain that this
one excludes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor, SeriesRole, decide, heldout_roles, role_of
from ..params import Param, defaults, register, validate
from . import register as register_detector
from ._common import AAER, SIMPLE_FINETUNE, evals, fraction, present, se_count, share_scale
from ._heldout import Curve, curve, effective_window, onset_after, where_text

S3FT = "Selective Self-to-Supervised Fine-Tuning for Generalization in Large Language Models (2025)"
UPSAMPLE = "Upsample or Upweight? Balanced Training on Heavily Imbalanced Datasets (2024)"
DIVERGEN = ("DiverGen: Improving Instance Segmentation by Learning Wider Data Distribution with More Diverse "
            "Generative Data (2024)")

NAME = "heldout_regression"

#: Parameters (:mod:`gapwatch.params`). Units: evaluations; standard errors of a difference of two levels.
SPECS: tuple[Param, ...] = register(NAME, (
    evals("min_evaluations", 5, "Evaluations a set needs before it is judged: fewer give no noise estimate "
          "(the robust noise needs four)."),
    evals("window", 3, "Trailing mean that defines a set's level (capped at a third of its evaluations): "
          "three evaluations average out single noisy points while keeping the level local."),
    Param("min_z", 3.0, "Change of a level that counts as real, in standard errors of a level difference: 3 "
          "keeps a false alarm on pure noise below about 1 in 700 per set.", unit="standard errors", low=0,
          low_open=True),
    Param("alpha", 0.05, "Significance of the Mann-Kendall test that a set keeps worsening after its best (a "
          "noisy plateau's largest excursion passes min_z by selection alone): 5%.", unit="probability", low=0,
          high=1, low_open=True),
    Param("noise_floor", 0.01, "Floor of a set's noise as a fraction of its own span (max - min of its "
          "level), so noise-free or rounded curves get a finite scale: 1%.", unit="fraction of the span",
          low=0, low_open=True, high=1),
    Param("sampling_floor", True, "A larger-is-better share whose values all lie on a grid k/N (a held-out set of N "
          "examples) is never less noisy than the binomial standard error sqrt(p(1-p)/N) "
          "(gapwatch.stats.share_grid_size).", type=bool),
    fraction("min_relative_rise", 0.01, "Practical floor: a positive smaller-is-better series (a loss, an error) "
             "degrades only when its level rose by at least this share of its best level — 1%, as for "
             "overfitting (a validation loss sitting at ln C that drifts from 4.657 to 4.662 is no regression, "
             "however smooth).", of="best level"),
    fraction("min_share_drop", 0.01, "Practical floor: a bounded share (accuracy, F1, mAP…) degrades only when "
             "its level fell by at least this much of its scale — a point of accuracy, as for overfitting.",
             of="scale"),
    Param("max_multi_step_share", 0.1, "Adversarial training: the multi-step (PGD) accuracy 'never rose' "
          "when its best level gained less than this share of the single-step (FGSM) accuracy's gain: 10%, "
          "e.g. PGD 0.01 -> 0.05 while FGSM 0.1 -> 0.8.", unit="fraction of the single-step gain", low=0,
          high=1),
))
DEFAULTS: dict[str, Any] = defaults(SPECS)

_MULTI = re.compile(r"^(pgd|apgd|autoattack|aa|cw)\d*$|^robust$")
_SINGLE = re.compile(r"^fgsm\d*$")


@dataclass(frozen=True)
class _Judged:
    """One set's curve and verdict."""

    role: SeriesRole
    c: Curve
    best: int            # grid index of the best level
    degrade_z: float     # final level minus best level, standard errors (≥ 0)
    gain_z: float        # first level minus final level, standard errors
    onset: int           # grid index from which it stays min_z standard errors below its best
    trend_p: float       # Mann-Kendall p that it keeps worsening after its best
    alpha: float
    practical: bool      # the fall passes the practical floors (min_relative_rise, min_share_drop)

    def degraded(self, min_z: float) -> bool:
        return (self.degrade_z >= min_z and self.best < self.c.level.size - 1 and self.trend_p < self.alpha
                and self.practical)

    @property
    def name(self) -> str:
        return self.c.series.name


def _judge(history: History, r: SeriesRole, p: dict[str, Any]) -> _Judged | None:
    s = history.series(r.split, r.metric)
    ok = np.isfinite(s.values)
    idx = None if ok.all() else np.flatnonzero(ok)  # (None: every evaluation, no index array)
    del ok
    n = s.values.shape[0] if idx is None else idx.shape[0]
    if n < p["min_evaluations"]:
        return None
    c = curve(s, idx, r.monitor().sign, effective_window(p["window"], int(n)), p["noise_floor"],
              p["sampling_floor"])
    b = int(np.argmin(c.level))
    return _Judged(r, c, b, c.units(float(c.level[-1] - c.level[b])), c.units(float(c.level[0] - c.level[-1])),
                   onset_after(c.level, b, p["min_z"] * c.se) if b < c.level.size - 1 else b,
                   c.rising_p(b), p["alpha"], _practical(s, r.monitor(), float(c.level[-1] - c.level[b]),
                                                         float(c.level[b]), p))


def _practical(s: Series, mon: Monitor, fall: float, best_level: float, p: dict[str, Any]) -> bool:
    """The fall of a set's level (``fall``, units of ``sign * value``, from ``best_level``) passes the practical
    floors: a bounded share fell by ``min_share_drop`` of its scale, a positive loss rose by ``min_relative_rise``
    of its best level; any other series by any amount."""
    scale = share_scale(mon, s)
    if scale is not None:
        return fall >= p["min_share_drop"] * scale
    if mon.sign > 0 and best_level > 0 and float(np.nanmin(s.values)) > 0:
        return fall >= p["min_relative_rise"] * best_level
    return True


def _other_sets(history: History, me: SeriesRole) -> list[SeriesRole]:
    """One series per held-out set other than the deciding one (see the module docstring)."""
    best: dict[str, SeriesRole] = {}
    for r in heldout_roles(history):
        if r.heldout_set == me.heldout_set or r.role not in ("task", "loss"):
            continue
        if r.split == "test" and me.split != "test":
            continue
        key = (r.measure != me.measure, r.role != me.role, r.role != "task", r.rank, r.qualified)
        cur = best.get(r.heldout_set)
        if cur is None or key < (cur.measure != me.measure, cur.role != me.role, cur.role != "task", cur.rank,
                                 cur.qualified):
            best[r.heldout_set] = r
    return list(best.values())


@register_detector(NAME)
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Judge every held-out set of one run against the deciding one (see the module docstring)."""
    p = validate(NAME, SPECS, params)
    try:
        mon = decide(history, monitor).monitor
    except InputError:  # no monitor (the analysis says why)
        return []
    adv = _never_rose(history, mon, p)
    me = role_of(mon.split, mon.metric)
    target = _judge(history, me, p)
    if target is None:
        return present(adv)
    judged = [j for r in _other_sets(history, me) if (j := _judge(history, r, p)) is not None]
    off = [j for j in judged if j.role.off_target]
    groups = [j for j in judged if not j.role.off_target]
    return present(adv, _off_target(target, off, p), _groups(target, groups, p))


def _set_row(j: _Judged) -> dict[str, Any]:
    return {"name": j.name, "set": j.role.heldout_set, "degrade_z": j.degrade_z,
            "best": {**j.c.where(j.best), "value": j.c.value(j.c.best())},
            "fell_behind": j.c.where(j.onset)}


def _stop_point(target: _Judged, worst: _Judged, min_z: float) -> int | None:
    """Grid index (in ``worst``) of the evaluation to stop at: among those where the off-target set is within
    ``min_z`` standard errors of its best, the one where the target (its last evaluation at or before) is
    best; ``None`` when the target had not improved by ``min_z`` over its first evaluation there."""
    wz = worst.c.z
    near = np.flatnonzero(wz <= np.min(wz) + min_z * worst.c.se)
    del wz
    t_ax, w_ax = _axis_of(target.c), _axis_of(worst.c)
    best_j, best_i = None, None
    for i in near:
        upto = np.flatnonzero(np.isfinite(t_ax) & (t_ax <= w_ax[i]))
        if upto.size == 0:
            continue
        j = int(upto[-1])
        if best_j is None or target.c.z_at(j) < target.c.z_at(best_j):
            best_j, best_i = j, int(i)
    if best_j is None or target.c.units(target.c.z_at(0) - target.c.z_at(best_j)) < min_z:
        return None
    return best_i


def _axis_of(c: Curve) -> np.ndarray:
    s = c.series
    on = s.step if c.idx is None else s.step[c.idx]
    ax = s.step if np.all(np.isfinite(on)) else s.epoch
    return np.asarray(ax if c.idx is None else ax[c.idx], dtype=float)


def _off_target(target: _Judged, off: list[_Judged], p: dict[str, Any]) -> Finding | None:
    bad = [j for j in off if j.degraded(p["min_z"])]
    if not bad or target.degraded(p["min_z"]) or target.gain_z < p["min_z"]:
        return None
    worst = max(bad, key=lambda j: j.degrade_z)
    fell = where_text(worst.c, worst.onset)
    tname = target.name
    i_stop = _stop_point(target, worst, p["min_z"])
    if i_stop is not None:
        stop = (f"Stop at {where_text(worst.c, i_stop)}: {tname} had improved by then and {worst.name} had "
                "not yet fallen behind.")
    else:
        stop = (f"No evaluation keeps both: {worst.name} fell before {tname} improved; mix in general data "
                "or lower the learning rate and re-run.")
    msg = (f"off-target regression: {tname} improves while {worst.name} fell behind from {fell} "
           f"({se_count(worst.degrade_z)} standard errors below its best); the fine-tuning is costing what "
           f"{worst.role.heldout_set} measures")
    actions = (
        "Mix general or retention data into the fine-tuning set (replay), or fine-tune fewer parameters.",
        "Lower the learning rate or train for fewer steps.",
        stop,
    )
    ev = {"pattern": "off_target", "target": _set_row(target), "worst_set": _set_row(worst),
          "stop_at": worst.c.where(i_stop) if i_stop is not None else None,
          "degraded_sets": [_set_row(j) for j in sorted(bad, key=lambda j: j.onset)]}
    on = worst.c.where(worst.onset)
    return Finding(FindingKind.HELDOUT_REGRESSION, Severity.WARNING, msg, step=on["step"], epoch=on["epoch"],
                   evidence=ev, actions=actions, references=(S3FT,), detector=NAME)


def _groups(target: _Judged, groups: list[_Judged], p: dict[str, Any]) -> Finding | None:
    bad = [j for j in groups if j.degraded(p["min_z"])]
    if not bad:
        return None
    first = sorted(bad, key=lambda j: (float(np.nan_to_num(j.c.series.x[j.c.pos(j.onset)], nan=np.inf)),
                                       -j.degrade_z))
    worst = max(bad, key=lambda j: j.degrade_z)
    hidden = not target.degraded(p["min_z"])
    worst_best = where_text(worst.c, worst.c.best())
    names = ", ".join(j.name for j in first)
    msg = (f"{len(bad)} of {len(groups) + 1} held-out sets degrade (first: {first[0].name}, from "
           f"{where_text(first[0].c, first[0].onset)}; worst: {worst.name}, {se_count(worst.degrade_z)} standard "
           f"errors below its best)")
    if hidden:
        msg += f" while {target.name} does not: the aggregate hides it"
    actions = (
        f"Check the sets that fell behind first ({names}): rare groups, classes or languages overfit first; "
        "upsample or upweight them, or add data for them.",
        f"Select checkpoints on the worst set too (its best: {worst_best}) if every group matters.",
    )
    ev = {"pattern": "groups", "target": _set_row(target), "worst_set": _set_row(worst),
          "degraded_sets": [_set_row(j) for j in first], "sets": len(groups) + 1}
    on = first[0].c.where(first[0].onset)
    return Finding(FindingKind.HELDOUT_REGRESSION, Severity.WARNING if hidden else Severity.INFO, msg,
                   step=on["step"], epoch=on["epoch"], evidence=ev, actions=actions,
                   references=(UPSAMPLE, DIVERGEN), detector=NAME)


def _attack_series(history: History, split: str) -> tuple[SeriesRole | None, SeriesRole | None]:
    multi = single = None
    for r in heldout_roles(history):
        if r.split != split or r.mode != "max":
            continue
        toks = r.metric.split("_")
        if multi is None and any(_MULTI.match(t) for t in toks):
            multi = r
        elif single is None and any(_SINGLE.match(t) for t in toks):
            single = r
    return multi, single


def _never_rose(history: History, mon: Monitor, p: dict[str, Any]) -> Finding | None:
    multi_r, single_r = _attack_series(history, mon.split)
    if multi_r is None or single_r is None:
        return None
    multi, single = _judge(history, multi_r, p), _judge(history, single_r, p)
    if multi is None or single is None:
        return None
    # accuracies (same units): gains compared directly, in accuracy points
    s_gain = float(single.c.level[0] - np.min(single.c.level))
    m_gain = float(multi.c.level[0] - np.min(multi.c.level))
    if single.gain_z < p["min_z"] or s_gain <= 0 or m_gain >= p["max_multi_step_share"] * s_gain:
        return None
    mv, sv = multi.c.values, single.c.values
    msg = (f"{multi.name} never rose ({float(np.min(mv)):.3g}-{float(np.max(mv)):.3g}) while {single.name} "
           f"climbed to {float(np.max(sv)):.3g}: catastrophic overfitting from the start — the single-step "
           "attack no longer finds adversarial examples, so the model is not robust")
    actions = (
        "Regularise abnormal adversarial examples (AAER) or add random initialisation/noise to the "
        "single-step attack (RS-FGSM, N-FGSM).",
        "Train with a multi-step attack (PGD) for the first epochs, or lower the step size and the learning "
        "rate.",
        "Judge robustness by the multi-step accuracy, never by the single-step one.",
    )
    ev = {"pattern": "multi_step_never_rose", "multi_step": multi.name, "single_step": single.name,
          "multi_step_gain": m_gain, "single_step_gain": s_gain, "single_step_gain_z": single.gain_z,
          "multi_step_max": float(np.max(mv)), "single_step_max": float(np.max(sv))}
    at = multi.c.where(0)
    return Finding(FindingKind.CATASTROPHIC_OVERFITTING, Severity.CRITICAL, msg, step=at["step"],
                   epoch=at["epoch"], evidence=ev, actions=actions, references=(AAER, SIMPLE_FINETUNE),
                   detector=NAME)
