"""Detector registry.

A detector is a small module with one pure entry point::

    def check(history: History, *, monitor: Monitor | None = None, **params) -> list[Finding]

It receives the History of **one run**, never prints, never touches files, never imports torch. Modules
register themselves with :func:`register`; :func:`run_all` runs every registered detector, and the CLI and
the shared detector test-suite find them through :func:`registered`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

from ..findings import Finding
from ..history import History
from ..monitor import Monitor


class Detector(Protocol):
    def __call__(self, history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
        ...


_REGISTRY: dict[str, Detector] = {}

#: Modules imported on first use of the registry (each calls :func:`register`).
BUILTIN_MODULES: tuple[str, ...] = (
    "overfitting", "double_descent", "grokking", "memorization", "instability", "underfitting",
    "catastrophic_overfitting", "stability_gap", "data", "metric_disagreement", "heldout_regression",
    "not_learning",
)


def register(name: str) -> Callable[[Detector], Detector]:
    """Decorator registering ``check`` functions under ``name`` (unique)."""

    def deco(fn: Detector) -> Detector:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"detector {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn

    return deco


def _load_builtins() -> None:
    for mod in BUILTIN_MODULES:
        importlib.import_module(f"{__name__}.{mod}")


def registered() -> dict[str, Detector]:
    """Name → detector for every registered detector."""
    _load_builtins()
    return dict(_REGISTRY)


def run_all(
    history: History,
    *,
    monitor: Monitor | None = None,
    params: dict[str, dict[str, Any]] | None = None,
    only: list[str] | None = None,
) -> list[Finding]:
    """Run every registered detector (or ``only`` those) on a one-run History.

    Args:
        params: per-detector keyword arguments, ``{"overfitting": {"min_rel_degradation": 0.02}}``.
    Returns:
        Findings sorted by severity (critical first), then position.
    """
    dets = registered()
    params = params or {}
    unknown = set(params) - set(dets)
    if unknown:
        raise ValueError(f"parameters given for unknown detector(s) {sorted(unknown)}; known: {sorted(dets)}")
    out: list[Finding] = []
    for name, det in dets.items():
        if only is not None and name not in only:
            continue
        for f in det(history, monitor=monitor, **params.get(name, {})):
            out.append(f if f.detector else _with_detector(f, name))
    out = reconcile(out)
    out.sort(key=lambda f: (-f.severity.rank, f.step if f.step is not None else (f.epoch or 0.0)))
    return out


#: Appended to an overfitting finding that :func:`reconcile` downgrades because the model is memorising.
MEMORIZING_NOTE = "; the model is memorising (see the memorization finding): this may still turn into grokking"

#: Appended to an overfitting finding that :func:`reconcile` downgrades because the model never learned the task.
#: ``not_learning`` modes that stand beside ``underfitting``'s "still falling" (see :func:`reconcile`).
SPECIFIC_NOT_LEARNING = frozenset({"frozen", "never_above_zero", "at_chance", "auc_at_chance", "settled_at_chance"})
#: ``not_learning`` modes that say the model never did the task: an ``overfitting`` finding beside one is downgraded.
NEVER_LEARNED_MODES: frozenset[str] = frozenset({"never_above_zero", "frozen", "at_chance", "settled_at_chance"})
NEVER_LEARNED_NOTE = ("; the model never did the task on the held-out set (see the not_learning finding): nothing "
                      "to overfit")
#: Appended to an overfitting finding that :func:`reconcile` downgrades because training itself is stuck.
TRAIN_STUCK_NOTE = ("; training itself never got better (see the underfitting finding): a held-out measure that "
                    "moves while the model learns nothing is noise, not overfitting")


def reconcile(findings: list[Finding]) -> list[Finding]:
    """The rules between detectors, in one place (the detectors themselves stay independent and pure).

    * A rising held-out curve while the ``memorization`` detector reports a memorisation phase (at whatever
      parameters it was run with) is not plain overfitting yet: grokking may still come ("Grokking at the Edge
      of Numerical Stability"; "Benign Overfitting and Grokking in ReLU Networks for XOR Cluster Data"). The
      ``overfitting`` finding is downgraded to ``info``, says so, and carries ``evidence["memorizing"]``.
    * ``not_learning`` is the catch-all for a run that never improved: when ``underfitting`` already reports
      the run (stuck, or still falling), its finding is dropped — except its specific modes
      (:data:`SPECIFIC_NOT_LEARNING`: a held-out share frozen at one value, never above zero, or at chance) beside
      a loss that is still falling, which is no evidence of learning the task.
    * a run whose deciding share never left zero or never changed, or whose held-out loss and accuracy sat at
      chance level at every evaluation (``not_learning``'s ``never_above_zero``, ``frozen`` and ``at_chance``),
      did not learn the task, so it cannot have overfit it: ``overfitting`` findings become ``info`` and say so
      (``evidence["never_learned"]``) — a loss that wanders inside its chance band (4.657–4.662 beside ln 106)
      has no best to overfit past.
    * a run whose training is stuck (``underfitting``'s ``stuck`` mode: the training loss never improved beyond
      its noise, or the training accuracy stayed low) learned nothing it could overfit: ``overfitting`` findings
      become ``info`` and say so (``evidence["train_stuck"]``) — overfitting is the held-out measure getting
      worse *while training improves* (Prechelt, "Early Stopping — But When?").
    * ``metric_disagreement``'s "loss worse, metric stalled" is an ``overfitting`` verdict read from the loss;
      when the ``overfitting`` detector also reports the deciding series past its best, the two say one thing:
      the more severe is kept (the ``overfitting`` detector's on a tie).
    """
    from dataclasses import replace

    from ..findings import FindingKind, Severity

    under = [f for f in findings if f.kind == FindingKind.UNDERFITTING]
    if under:
        # (a held-out share frozen at one value, never above zero or at chance is news beside a loss that is
        # still falling — the loss can fall while the model learns only the class frequencies)
        still = all(f.evidence.get("mode") == "still_falling" for f in under)
        findings = [f for f in findings if f.kind != FindingKind.NOT_LEARNING
                    or (still and f.evidence.get("mode") in SPECIFIC_NOT_LEARNING)]
    own = [f for f in findings if f.kind == FindingKind.OVERFITTING and f.detector == "overfitting"]
    read = [f for f in findings if f.kind == FindingKind.OVERFITTING and f.detector == "metric_disagreement"]
    if own and read:
        drop = read if max(f.severity.rank for f in own) >= max(f.severity.rank for f in read) else own
        findings = [f for f in findings if not any(f is d for d in drop)]
    if any(f.evidence.get("mode") == "stuck" for f in under):
        findings = [replace(f, severity=Severity.INFO, message=f.message + TRAIN_STUCK_NOTE,
                            evidence={**f.evidence, "train_stuck": True})
                    if f.kind == FindingKind.OVERFITTING and f.severity.rank > Severity.INFO.rank else f
                    for f in findings]
    if any(f.kind == FindingKind.NOT_LEARNING and f.evidence.get("mode") in NEVER_LEARNED_MODES
           for f in findings):
        findings = [replace(f, severity=Severity.INFO, message=f.message + NEVER_LEARNED_NOTE,
                            evidence={**f.evidence, "never_learned": True})
                    if f.kind == FindingKind.OVERFITTING and f.severity.rank > Severity.INFO.rank else f
                    for f in findings]
    if not any(f.kind == FindingKind.MEMORIZATION and f.severity.rank >= Severity.WARNING.rank for f in findings):
        return findings
    return [replace(f, severity=Severity.INFO, message=f.message + MEMORIZING_NOTE,
                    evidence={**f.evidence, "memorizing": True})
            if f.kind == FindingKind.OVERFITTING and not f.evidence.get("memorizing") else f
            for f in findings]


def _with_detector(f: Finding, name: str) -> Finding:
    from dataclasses import replace

    return replace(f, detector=name)
