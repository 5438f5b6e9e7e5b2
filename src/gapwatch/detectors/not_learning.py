"""Not learning: no held-out series of the deciding set ever got better than its first evaluation.

The catch-all for runs that fall between the other detectors because they are short (the noise-based tests of
``underfitting`` and ``overfitting`` need five or more evaluations) or because nothing in them moves: a model
that predicts one class, a loss stuck at ln(C), a broken input pipeline. Judged on the deciding series and its
companions of the same held-out set (:func:`gapwatch.monitor.decide`, :func:`gapwatch.monitor.companions`):

* every one of them is, at its best, no better than at its first evaluation — for a loss (or any unbounded
  measure) its best value *is* the first, for a bounded task metric (accuracy, F1… in [0, 1]) it never gained
  more than ``max_metric_gain`` over the first;
* and at the end none is better than at its first evaluation (by more than ``max_metric_gain`` for a bounded
  task metric);
* over at least ``min_evaluations`` evaluations;
* while the training loss, when logged, did not fall by ``max_train_drop`` or more of its first value, and no
  training task metric (accuracy…) made progress by the rule above (a model that fits the training set while
  the held-out set does not follow is memorising or overfitting from the start, which ``memorization``,
  ``overfitting`` and ``metric_disagreement`` judge).

No noise model is used: a series that never beat its first value in four or more evaluations has made no
progress however noisy it is. Severity ``warning``; :func:`gapwatch.detectors.reconcile` drops it when
``underfitting`` already reports the run. The actions are the checks of "A Recipe for Training Neural
Networks" (Karpathy, 2019: overfit one batch, check the inputs and labels, the learning rate) — the ones that
find a pipeline that does not learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor, companions, decide, role_of
from ..params import Param, defaults, register, validate
from . import register as register_detector
from ._common import series_or_none, series_table, where_text

NAME = "not_learning"
RECIPE = "A Recipe for Training Neural Networks (Karpathy, 2019)"

#: Parameters (:mod:`gapwatch.params`). Units: evaluations; metric units; fraction of the first value.
SPECS: tuple[Param, ...] = register(NAME, (
    Param("min_evaluations", 4, "Held-out evaluations needed: a first value and at least three chances to beat "
          "it.", unit="evaluations", type=int, low=2),
    Param("max_metric_gain", 0.05, "A bounded task metric (values in [0, 1]: accuracy, F1…) that never gained "
          "more than this over its first evaluation made no progress: 5 points of accuracy.",
          unit="metric units", low=0, high=1),
    Param("max_train_drop", 0.1, "Not reported when the training loss's final value is this fraction or more "
          "below its first (the model learns the training set: overfitting, judged elsewhere): 10%.",
          unit="fraction of the first value", low=0, low_open=True),
))
DEFAULTS: dict[str, Any] = defaults(SPECS)


def _deciding_set(history: History, monitor: Monitor | None) -> list[tuple[Series, float]]:
    """The deciding series and its set's loss/task metric, each with its sign (+1: lower is better)."""
    try:
        mon = decide(history, monitor).monitor
    except InputError:
        return []
    loss, task = companions(history, mon)
    out: list[tuple[Series, float]] = []
    for m in dict.fromkeys(x for x in (mon, loss, task) if x is not None):
        s = series_or_none(history, m.split, m.metric)
        if s is not None:
            out.append((s.finite(), m.sign))
    return out


def _no_progress(s: Series, sign: float, p: dict[str, Any]) -> bool:
    z = sign * s.values.astype(float)
    first, best, final = float(z[0]), float(np.min(z)), float(z[-1])
    bounded = bool(np.all((s.values >= 0) & (s.values <= 1))) and sign < 0
    tol = p["max_metric_gain"] if bounded else 0.0
    return first - best <= tol and first - final <= tol


def _train_learns(history: History, p: dict[str, Any]) -> bool:
    """Whether the model learns the training set: its loss fell by ``max_train_drop`` of its first value, or a
    bounded training task metric (accuracy…) gained more than ``max_metric_gain``."""
    tr = series_or_none(history, "train", "loss")
    if tr is not None and len(tr.finite()) >= 2:
        v = tr.finite().values.astype(float)
        if v[0] > 0 and (v[0] - v[-1]) >= p["max_train_drop"] * v[0]:
            return True
    for (split, metric), s in series_table(history).items():
        role = role_of(split, metric)
        if split == "train" and role.role == "task" and len(s.finite()) >= 2 \
                and not _no_progress(s.finite(), role.monitor().sign, p):
            return True
    return False


@register_detector(NAME)
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find a run whose held-out series never beat their first evaluation (module docstring)."""
    p = validate(NAME, SPECS, params)
    found = _deciding_set(history, monitor)
    if not found or any(len(s) < p["min_evaluations"] for s, _ in found):
        return []
    if not all(_no_progress(s, sign, p) for s, sign in found) or _train_learns(history, p):
        return []
    parts = [f"{s.name} {s.values[0]:.4g} → {s.values[-1]:.4g}" for s, _ in found]
    main = found[0][0]
    last = len(main) - 1
    msg = (f"no held-out series got better than at its first evaluation in {len(main)} evaluations "
           f"({', '.join(parts)}): the model is not learning")
    actions = (
        "overfit a single batch first: a model that cannot drive one batch's loss to zero has a bug",
        "check the inputs and labels reach the model as intended (normalisation, shuffled label order, a "
        "frozen or detached model, a zero or far too high learning rate)",
        "check the evaluation itself: the metric's inputs, the model in eval mode, the right checkpoint",
    )
    ev = {"mode": "not_learning", "series": [s.name for s, _ in found], "evaluations": len(main),
          "first": [float(s.values[0]) for s, _ in found], "final": [float(s.values[-1]) for s, _ in found],
          "at": where_text(main, last)}
    at = main.at(last)
    return [Finding(FindingKind.NOT_LEARNING, Severity.WARNING, msg, step=at["step"], epoch=at["epoch"],
                    evidence=ev, actions=actions, references=(RECIPE,), detector=NAME)]
