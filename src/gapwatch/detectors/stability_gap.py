"""Stability gap: in continual learning, accuracy on earlier tasks drops sharply when a new task starts and
recovers later.

How per-task accuracies appear in logs. Any accuracy series whose logged name contains a task number after
``task``, ``exp`` or ``experience`` is a per-task series (see :func:`gapwatch.detectors._common.task_series`):
``task0_acc``, ``task_1_accuracy``, ``val_task1/acc``, ``eval/task2_acc``, ``acc_task3``, Avalanche's
``Top1_Acc_Exp/eval_phase/test_stream/Task000/Exp001``. All per-task series should be evaluated at the same steps
(continual evaluation: every few iterations, not only at task ends — the gap is invisible otherwise).

Task boundaries. ``boundaries`` (x values — steps or epochs, whichever the series are ordered by — where tasks
1, 2, … start) can be passed; otherwise task ``k``'s start is the first logged evaluation of its series when it is
logged only from its start, else the first evaluation where its accuracy has made ``start_fraction`` of its total
gain (task 0 starts at the first evaluation).

Statistic (accuracy units). For every earlier task ``i`` and every later boundary: ``pre`` = mean accuracy over the
``window`` evaluations before the boundary, ``low`` = minimum between the boundary and the next one, ``rec`` = mean
over the last ``window`` evaluations before the next boundary (or the end). A gap event needs ``pre − low ≥ min_gap``
and ``≥ min_z`` noise standard deviations of that task's curve, and a recovery ``rec − low ≥ min_recovery_fraction ·
(pre − low)`` (a drop that never recovers is plain forgetting). The finding's onset is the first event's boundary.

Continual-evaluation metrics, as defined in "Continual evaluation for lifelong learning: Identifying the stability
gap" (De Lange et al., 2023), with ``k`` the number of tasks started by the end of the log and ``A_i(t)`` the accuracy
on task ``i`` at evaluation ``t``:

* ``min-ACC = 1/(k−1) · Σ_{i<k} min_{t > end of task i} A_i(t)`` — worst accuracy of each earlier task after it
  was learned, averaged;
* ``WC-ACC = (1/k) · A_k(last) + (1 − 1/k) · min-ACC`` — worst-case accuracy trading the current task's final
  accuracy against earlier tasks' minima;
* ``avg-ACC`` (final mean accuracy over the tasks started) is reported for contrast: it hides the gap.

Severity ``warning`` when the largest gap is at least ``warn_gap``, else ``info``.

References: "Continual evaluation for lifelong learning: Identifying the stability gap" (2023);
"SLCA: Slow Learner with Classifier Alignment for Continual Learning on a Pre-trained Model" (2023: a smaller
learning rate for the representation layers); "Challenging Common Assumptions about Catastrophic Forgetting"
(2023).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UsageError
from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor
from ..params import Param, defaults, register, validate
from ..stats import noise_sigma
from . import register as register_detector
from ._common import CHALLENGING_FORGETTING, SLCA, STABILITY_GAP, fmt_x, task_series

REFERENCES = (STABILITY_GAP, SLCA, CHALLENGING_FORGETTING)

#: Parameters (:mod:`gapwatch.params`). Units: accuracy (fraction), evaluations, noise standard deviations.
SPECS: tuple[Param, ...] = register("stability_gap", (
    Param("min_tasks", 2, "Per-task accuracy series needed (at least 2: a gap is a drop of an earlier task when a "
          "later one starts).", unit="tasks", type=int, low=1),
    Param("min_evaluations", 6, "Finite evaluations each per-task series needs.", unit="evaluations", type=int,
          low=1),
    Param("window", 3, "Evaluations averaged before a boundary (pre level) and before the next boundary "
          "(recovered level).", unit="evaluations", type=int, low=1),
    Param("min_gap", 0.05, "Accuracy drop after a boundary (pre level - minimum), at least: 5 points.",
          unit="accuracy", low=0, high=1),
    Param("min_z", 4.0, "The same drop in noise standard deviations of that task's curve.", unit="sigma", low=0),
    Param("min_recovery_fraction", 0.3, "Share of the drop recovered by the next boundary (a drop that never "
          "recovers is plain forgetting).", unit="fraction of the drop", low=0, high=1),
    Param("start_fraction", 0.2, "Inferred boundaries: a task starts at the first of two evaluations in a row at "
          "which its accuracy has made this share of its total gain.", unit="fraction of the gain", low=0,
          high=1),
    Param("warn_gap", 0.1, "Largest gap at or above which the finding is a warning (else info).",
          unit="accuracy", low=0, high=1),
    Param("boundaries", None, "x values (steps or epochs, whichever the series are ordered by) where tasks 1, 2, "
          "... start; None: inferred.", type=(list, tuple, np.ndarray), allow_none=True),
))

#: Default parameters, ``{name: default}`` (from :data:`SPECS`).
DEFAULTS: dict[str, Any] = defaults(SPECS)


def _aligned(tasks: dict[int, Series]) -> tuple[np.ndarray, dict[int, np.ndarray], str]:
    """Common x grid (union of the task series' x) and each task's accuracy on it (NaN where not logged)."""
    kind = next(iter(tasks.values())).x_kind
    xs = np.unique(np.concatenate([s.x[np.isfinite(s.x)] for s in tasks.values()]))
    out = {}
    for k, s in tasks.items():
        a = np.full(xs.size, np.nan)
        ok = np.isfinite(s.x)
        a[np.searchsorted(xs, s.x[ok])] = s.values[ok]
        out[k] = a
    return xs, out, kind


def _starts(xs: np.ndarray, acc: dict[int, np.ndarray], p: dict[str, Any]) -> dict[int, int]:
    ids = sorted(acc)
    starts = {ids[0]: 0}
    if p["boundaries"] is not None:
        b = list(p["boundaries"])
        if len(b) != len(ids) - 1:
            raise UsageError(f"stability_gap: boundaries has {len(b)} value(s) but {len(ids)} tasks were found "
                             f"(need {len(ids) - 1}: where tasks {ids[1:]} start)")
        for k, x in zip(ids[1:], b, strict=True):
            starts[k] = int(np.searchsorted(xs, float(x), side="left"))
        return starts
    first0 = int(np.argmax(np.isfinite(acc[ids[0]])))
    for k in ids[1:]:
        a = acc[k]
        fin = np.where(np.isfinite(a))[0]
        if fin.size == 0:
            continue
        if fin[0] > first0:
            starts[k] = int(fin[0])
            continue
        a0, amax = float(a[fin[0]]), float(np.nanmax(a))
        up = a >= a0 + p["start_fraction"] * (amax - a0)
        hit = np.where(up[:-1] & up[1:])[0]  # two evaluations in a row: one noisy value cannot fake a start
        if hit.size and amax > a0:
            starts[k] = int(hit[0])
    return starts


def _task_events(xs: np.ndarray, a: np.ndarray, ti: int, si: int, pos: int, order: list[tuple[int, int]],
                 p: dict[str, Any]) -> list[dict[str, Any]]:
    """Gap events of task ``ti`` (accuracy ``a`` on the grid ``xs``, started at index ``si``, ``pos``-th in time
    ``order``) at every later task boundary (see the module docstring)."""
    w, n = p["window"], xs.size
    bidx = [s for _, s in order]
    sig = noise_sigma(a[np.isfinite(a)])
    out: list[dict[str, Any]] = []
    for q in range(pos + 1, len(order)):
        b = bidx[q]
        nxt = bidx[q + 1] if q + 1 < len(bidx) else n
        if b - w < si or nxt - b < 2:  # (2: a boundary needs a low and a later evaluation before the next one)
            continue
        pre_v = a[b - w: b]
        seg = a[b:nxt]
        if not np.isfinite(pre_v).any() or not np.isfinite(seg).any():
            continue
        pre = float(np.nanmean(pre_v))
        li = int(np.nanargmin(seg))
        low = float(seg[li])
        rec = float(np.nanmean(seg[-min(w, seg.size):]))
        gap = pre - low
        if gap < p["min_gap"] or (sig > 0 and gap < p["min_z"] * sig):
            continue
        if li >= seg.size - min(w, seg.size) or rec - low < p["min_recovery_fraction"] * gap:
            continue
        out.append({"task": int(ti), "new_task": int(order[q][0]), "boundary_x": float(xs[b]),
                    "before": pre, "min": low, "min_x": float(xs[b + li]), "recovered": rec,
                    "gap": gap, "recovery": rec - low})
    return out


@register_detector("stability_gap")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find the stability gap in a continual-learning run. Parameters: see :data:`SPECS`."""
    p = validate("stability_gap", SPECS, params)
    tasks = task_series(history)
    if len(tasks) < max(2, p["min_tasks"]):
        return []
    if any(len(s.finite()) < p["min_evaluations"] for s in tasks.values()):
        return []
    xs, acc, kind = _aligned(tasks)
    n = xs.size
    starts = _starts(xs, acc, p)
    order = sorted(starts.items(), key=lambda kv: kv[1])  # (task, start index) in time order
    bidx = [s for _, s in order]
    events = [e for pos, (ti, si) in enumerate(order) for e in _task_events(xs, acc[ti], ti, si, pos, order, p)]
    metrics = _ce_metrics(xs, acc, order, n)
    if not events:
        return []
    events.sort(key=lambda e: (e["boundary_x"], e["task"]))
    first = events[0]
    biggest = max(e["gap"] for e in events)
    sev = Severity.WARNING if biggest >= p["warn_gap"] else Severity.INFO
    on = int(np.searchsorted(xs, first["boundary_x"]))
    s0 = tasks[first["task"]]
    j = int(np.argmin(np.abs(s0.x - xs[on])))
    msg = (f"accuracy on earlier tasks drops when a new task starts and recovers later (stability gap): "
           f"{len(events)} drop(s), largest {100 * biggest:.0f} points, first at {kind} {fmt_x(xs[on])}; "
           f"min-ACC {metrics['min_acc']:.3g}, WC-ACC {metrics['wc_acc']:.3g} vs final avg-ACC "
           f"{metrics['avg_acc']:.3g}")
    ev = {"tasks": sorted(int(k) for k in tasks), "task_series": {int(k): s.name for k, s in tasks.items()},
          "boundaries": [float(xs[b]) for b in bidx[1:]], "x": kind, "events": events[:50],
          "largest_gap": biggest, **metrics}
    actions = (
        ("evaluate on earlier tasks every few iterations, not only at task ends: the worst-case accuracy "
        f"(WC-ACC {metrics['wc_acc']:.3g}) is what a model deployed mid-training delivers"),
        ("shrink the transient drop: a smaller learning rate for the pre-trained representation (slow learner) "
        "or a learning-rate warm-up at each task start"),
        ("replay, distillation and parameter regularisation all show the gap; more replay of earlier tasks "
        "right after the boundary, and more similar consecutive tasks, make it smaller"),
    )
    return [Finding(FindingKind.STABILITY_GAP, sev, msg, step=s0.at(j)["step"], epoch=s0.at(j)["epoch"],
                    evidence=ev, actions=actions, references=REFERENCES, detector="stability_gap")]


def _ce_metrics(xs: np.ndarray, acc: dict[int, np.ndarray], order: list[tuple[int, int]], n: int) -> dict[str, Any]:
    """min-ACC, WC-ACC and avg-ACC at the end of the log and at the end of every task (before the next starts)."""
    per_end: list[dict[str, Any]] = []
    ends = [s for _, s in order[1:]] + [n]
    for k in range(1, len(order) + 1):
        now = ends[k - 1] - 1  # last evaluation of the k-th task's training
        cur_task = order[k - 1][0]
        cur = acc[cur_task][: now + 1]
        cur_fin = cur[np.isfinite(cur)]
        a_k = float(cur_fin[-1]) if cur_fin.size else float("nan")
        mins = []
        for i in range(k - 1):
            ti = order[i][0]
            learned_end = ends[i]  # first evaluation after task i's training ended
            seg = acc[ti][learned_end: now + 1]
            if np.isfinite(seg).any():
                mins.append(float(np.nanmin(seg)))
        min_acc = float(np.mean(mins)) if mins else float("nan")
        wc = a_k if not mins else (1.0 / k) * a_k + (1.0 - 1.0 / k) * min_acc
        finals = []
        for i in range(k):
            seg = acc[order[i][0]][: now + 1]
            seg = seg[np.isfinite(seg)]
            if seg.size:
                finals.append(float(seg[-1]))
        per_end.append({"tasks_seen": k, "x": float(xs[now]), "min_acc": min_acc, "wc_acc": float(wc),
                        "avg_acc": float(np.mean(finals)) if finals else float("nan")})
    last = per_end[-1]
    return {"min_acc": last["min_acc"], "wc_acc": last["wc_acc"], "avg_acc": last["avg_acc"], "per_task_end": per_end}
