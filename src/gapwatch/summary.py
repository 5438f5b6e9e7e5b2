"""What a run and a sweep add up to: computed once by the analysis, carried in the JSON, rendered by the reports.

* :func:`summarize_run` — best and final value of the monitored series, what training past the best cost
  (``cost``: relative worsening of the final evaluation against the best one, in "lower is better" units, so
  ``0.12`` means the last checkpoint is 12% worse than the best), how much of the run was spent past the
  best (``past_best``, fraction of the x range), the overfitting onset, and the verdict headline.
* :func:`hyperparameter_effects` — which hyperparameters (from ``History.meta``) go with overfitting across a
  sweep: Spearman rank correlation of numeric hyperparameters with ``cost`` (Holm-adjusted p-values, because
  a sweep with many hyperparameters otherwise finds "significant" ones by chance), and per-level overfitting
  rates of categorical ones. Spearman's ρ is used because hyperparameters such as the learning rate act on a
  log scale and their effect is monotone rather than linear.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .findings import Finding, FindingKind, Severity

if TYPE_CHECKING:
    from .analysis import RunAnalysis

#: Minimum number of runs with a value before a hyperparameter is analysed (runs).
MIN_RUNS_FOR_EFFECT = 4
#: A string hyperparameter with a distinct value in every run (and more than this many runs) is treated as an
#: identifier (output_dir, run_name) and skipped.
MAX_IDENTIFIER_RUNS = 5
#: A numeric hyperparameter is related to the overfitting cost only when at least this many runs overfit (runs):
#: with no overfitting run the costs are noise around zero and any correlation with them is meaningless.
MIN_OVERFIT_RUNS = 2
#: Levels shown per categorical hyperparameter.
MAX_LEVELS = 8
#: Metadata keys (last dotted component) that record outcomes or bookkeeping rather than settings; they are not
#: analysed as hyperparameters (``hf.best_metric`` would "explain" overfitting trivially).
NOT_HYPERPARAMETERS = frozenset({
    "best_metric", "best_global_step", "best_model_checkpoint", "global_step", "total_flos", "epoch",
    "num_input_tokens_seen", "state_file", "checkpoints", "trial_name", "trial_params", "is_world_process_zero",
    "is_local_process_zero", "is_hyper_param_search", "output_dir", "logging_dir", "run_name", "train_runtime",
    "train_samples_per_second", "train_steps_per_second", "train_loss", "source", "path",
})
#: Top-level keys of ``History.meta[run]`` that hold series or lists, never settings (the logged learning rates
#: of :mod:`gapwatch.schedule`): left out before flattening.
NOT_SETTINGS = frozenset({"schedule", "logged_names", "tensorboard_files"})


@dataclass
class RunSummary:
    """Reporting numbers of one run (``None`` where they cannot be computed)."""

    name: str
    label: str
    mode: str
    x: str
    best_value: float | None
    best_x: float | None
    final_value: float | None
    final_x: float | None
    cost: float | None
    past_best: float | None
    onset_x: float | None
    overfitting: Finding | None
    worst: Severity | None
    n_findings: int
    headline: str
    level: str  # "ok", "info", "warning", "critical", "error"
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The run's ``"summary"`` entry in ``gapwatch.analysis/1`` (x values on the run's ``x`` axis; ``cost``
        and ``past_best`` are fractions)."""
        from .documents import clean

        return cast(dict[str, Any], clean({
            "headline": self.headline, "level": self.level, "best_value": self.best_value, "best_x": self.best_x,
            "final_value": self.final_value, "final_x": self.final_x, "cost": self.cost,
            "past_best": self.past_best, "onset_x": self.onset_x,
            "worst_severity": self.worst.value if self.worst else None, "n_findings": self.n_findings,
        }))


def kind_of(f: Finding) -> str:
    """The finding's kind as a plain string."""
    return f.kind.value


def finding_x(f: Finding, x: str) -> float | None:
    """Where a finding sits on the run's x axis (``None`` when it is not tied to a point)."""
    v = f.epoch if x == "epoch" else f.step
    return float(v) if v is not None and math.isfinite(float(v)) else None


def flatten_meta(meta: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts into ``a.b`` keys and keep scalars (bool, int, float, str) only."""
    out: dict[str, Any] = {}
    for k, v in meta.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten_meta(v, key + "."))
        elif isinstance(v, (bool, int, float, str)) or v is None:
            if isinstance(v, float) and not math.isfinite(v):
                continue
            if v is not None:
                out[key] = v
        elif hasattr(v, "item") and callable(v.item):  # numpy scalar
            with contextlib.suppress(ValueError, TypeError):
                out[key] = v.item()
    return out


def summarize_run(r: RunAnalysis) -> RunSummary:
    """Compute the :class:`RunSummary` of one analysed run (its findings, monitor, best point and History)."""
    meta = flatten_meta({k: v for k, v in r.history.meta.get(r.name, {}).items() if k not in NOT_SETTINGS}
                        ) if r.history is not None else {}
    worst = r.worst_severity
    of = next((f for f in r.findings if f.kind == FindingKind.OVERFITTING), None)
    label = r.monitor.label if r.monitor else ""
    mode = r.monitor.mode if r.monitor else "min"
    base = dict(name=r.name, label=label, mode=mode, x=r.x, overfitting=of, worst=worst,
                n_findings=sum(1 for f in r.findings if f.kind != FindingKind.DATA or f.severity != Severity.INFO),
                meta=meta)
    if r.error or r.monitor is None:
        return RunSummary(best_value=None, best_x=None, final_value=None, final_x=None, cost=None,
                          past_best=None, onset_x=None, headline=f"cannot analyse: {r.error}", level="error",
                          **base)  # type: ignore[arg-type]
    nums = _cost_numbers(r)
    onset_x = None
    if of is not None:
        ov = of.evidence.get(f"onset_{r.x}")
        onset_x = float(ov) if isinstance(ov, (int, float)) and math.isfinite(ov) else None
    headline, level = _headline(r, of, worst, nums["cost"], nums["best_x"])
    return RunSummary(**nums, onset_x=onset_x, headline=headline, level=level, **base)  # type: ignore[arg-type]


def _cost_numbers(r: RunAnalysis) -> dict[str, float | None]:
    """Best and final value and x of the monitored series, the cost of training past the best (relative
    worsening of the final evaluation, in "lower is better" units, ≥ 0) and the share of the x range past it."""
    out: dict[str, float | None] = dict.fromkeys(
        ("best_value", "best_x", "final_value", "final_x", "cost", "past_best"))
    if r.monitor is None or r.best is None:
        return out
    ser = r.history.series(r.monitor.split, r.monitor.metric)
    fin = np.isfinite(ser.values)
    fin &= np.isfinite(ser.x)
    if not fin.any():
        return out
    xs, vs = (ser.x, ser.values) if fin.all() else (ser.x[fin], ser.values[fin])  # (no copies of a clean series)
    del fin
    # the best point is the analysis' (one owner: gapwatch.analysis.best_point); its position on this axis
    bx = r.best.at(r.x)
    if bx is None:
        b = int(np.argmin(r.monitor.sign * vs))
    else:
        dist = xs - bx
        b = int(np.argmin(np.abs(dist, out=dist)))
    best = float(r.best.value)
    rng = float(xs[-1] - xs[0])
    out.update(best_value=best, best_x=float(xs[b]), final_value=float(vs[-1]), final_x=float(xs[-1]),
               cost=max(0.0, r.monitor.sign * (float(vs[-1]) - best) / max(abs(best), 1e-12)),
               past_best=float((xs[-1] - xs[b]) / rng) if rng > 0 else 0.0)
    return out


def _rel_pct(x: float) -> str:
    """A relative worsening as a percentage, in words beyond ten times (never an absurd number)."""
    return f"{100 * x:.1f}%" if math.isfinite(x) and x <= 10 else "more than ten times"


def _fx(v: float | None) -> str:
    if v is None:
        return "?"
    return str(int(v)) if float(v).is_integer() else f"{v:.3g}"


def _deciding_name(r: RunAnalysis) -> str:
    """The deciding series as the log names it (``eval_wer``), else its canonical label (``val_wer``)."""
    if r.monitor is None:
        return "the monitored metric"
    if r.history is not None and r.history.has(r.monitor.split, r.monitor.metric):
        name = r.history.series(r.monitor.split, r.monitor.metric).name
        if name:
            return name
    return r.monitor.label


def _stall_words(ev: dict[str, object]) -> str:
    """How the task metric behaved beside a rising held-out loss (``metric_disagreement``'s stalled pattern)."""
    improved, declined = ev.get("metric_improved", True), ev.get("metric_declined", False)
    if declined:
        return "stopped improving and slipped" if improved else "never improved beyond its noise and slipped"
    return "stopped improving" if improved else "never moved beyond its noise"


def _headline(r: RunAnalysis, of: Finding | None, worst: Severity | None, cost: float | None,
              best_x: float | None) -> tuple[str, str]:
    """The verdict in one line, naming the deciding series (issue 13: the reader sees which series judged)."""
    name = _deciding_name(r)
    if of is not None and of.evidence.get("earlier_launch"):
        head, level = _headline(r, replace(of, evidence={k: v for k, v in of.evidence.items()
                                                          if k != "earlier_launch"}), worst, cost, best_x)
        return (f"{head} — in an earlier launch appended to this log (the latest, "
                f"{of.evidence.get('deciding_launch')}, decides)", level)
    if of is not None:
        ev = of.evidence
        if ev.get("pattern") == "loss_worse_metric_stalled":  # judged by the loss, the metric had stalled
            lb, lf = ev.get("loss_best") or {}, ev.get("loss_final") or {}
            rise = ""
            if isinstance(lb.get("value"), (int, float)) and isinstance(lf.get("value"), (int, float)) \
                    and lb["value"] > 0:
                rise = f" ({_rel_pct((lf['value'] - lb['value']) / lb['value'])} worse by the end)"
            return (f"Overfitting since {r.x} {_fx(lb.get(r.x, best_x))}: {lb.get('name', 'the held-out loss')} "
                    f"rose{rise} while {name} "
                    f"{_stall_words(ev)}",
                    of.severity.value)
        # "since" is the onset (the first evaluation from which it stays significantly worse), not the best point
        bx = ev.get(f"onset_{r.x}", ev.get(f"best_{r.x}", best_x))
        rel = cost if cost is not None else (ev.get("relative_degradation") or 0.0)
        return (f"Overfitting since {r.x} {_fx(bx)}: the final model's {name} is {_rel_pct(float(rel))} worse "
                f"than the best one", of.severity.value)
    if worst is None:
        return f"No overfitting found (by {name})", "ok"
    if worst == Severity.INFO:
        return f"No overfitting found (by {name}; notes below)", "ok"
    kinds = sorted({kind_of(f) for f in r.findings if f.severity.rank >= Severity.WARNING.rank})
    return f"No overfitting by {name}, but: {', '.join(k.replace('_', ' ') for k in kinds)}", worst.value


# ---------------------------------------------------------------------------------------------- sweeps
@dataclass
class Effect:
    """Association of one hyperparameter with overfitting across a sweep.

    ``kind`` is ``"numeric"`` (``rho``/``p``/``p_holm``: Spearman correlation with cost, and with the best
    value in ``rho_best``) or ``"categorical"`` (``levels``: per value, runs, fraction that overfit, median
    cost). ``strength`` orders effects (|ρ| or the spread of overfitting rates between levels)."""

    name: str
    kind: str
    n: int
    strength: float
    rho: float | None = None
    p: float | None = None
    p_holm: float | None = None
    rho_best: float | None = None
    levels: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """An entry of ``hyperparameter_effects`` in ``gapwatch.analysis/1``."""
        from .documents import clean

        return cast(dict[str, Any], clean({
            "name": self.name, "kind": self.kind, "n": self.n, "strength": self.strength,
            "rho": self.rho, "p": self.p, "p_holm": self.p_holm, "rho_best": self.rho_best,
            "levels": self.levels,
        }))


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def hyperparameter_effects(summaries: Sequence[RunSummary]) -> list[Effect]:
    """Which hyperparameters go with overfitting (see module docstring). Empty when no run carries meta.

    Runs that repeat another run exactly (same hyperparameter value, cost and best value: a duplicated log) count
    once, so copies cannot make a p-value small; a numeric association with the cost is only tested when at
    least :data:`MIN_OVERFIT_RUNS` runs overfit (otherwise the costs are noise around zero)."""
    runs = [s for s in summaries if s.cost is not None]
    n_overfit = sum(1 for s in runs if s.overfitting is not None)
    effects = [e for k in _hyperparameter_keys(runs) if (e := _effect(k, runs, n_overfit)) is not None]
    _holm([e for e in effects if e.kind == "numeric"])
    effects.sort(key=lambda e: -e.strength)
    return effects


def _hyperparameter_keys(runs: Sequence[RunSummary]) -> list[str]:
    """Metadata keys that are settings (not outcomes or bookkeeping), in order of first appearance."""
    keys = dict.fromkeys(k for s in runs for k in s.meta)
    return [k for k in keys if k.rsplit(".", 1)[-1] not in NOT_HYPERPARAMETERS and ".train_summary." not in f".{k}."]


def _effect(key: str, runs: Sequence[RunSummary], n_overfit: int) -> Effect | None:
    """The effect of one hyperparameter, or None when it cannot be judged (too few runs or values, an
    identifier, or a numeric one while fewer than :data:`MIN_OVERFIT_RUNS` runs overfit)."""
    have = _distinct_runs([s for s in runs if key in s.meta], key)
    vals = [s.meta[key] for s in have]
    distinct = list(dict.fromkeys(vals))
    if len(have) < MIN_RUNS_FOR_EFFECT or len(distinct) < 2:
        return None
    if all(_is_num(v) for v in vals) and len(distinct) >= 3:
        return _numeric_effect(key, have) if n_overfit >= MIN_OVERFIT_RUNS else None
    if len(distinct) == len(have) > MAX_IDENTIFIER_RUNS and all(isinstance(v, str) for v in vals):
        return None
    return _categorical_effect(key, have, distinct)


def _distinct_runs(runs: Sequence[RunSummary], key: str) -> list[RunSummary]:
    """``runs`` without exact repeats of (value of ``key``, cost, best value)."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for s in runs:
        sig = (repr(s.meta[key]), s.cost, s.best_value)
        if sig not in seen:
            seen.add(sig)
            out.append(s)
    return out


def _numeric_effect(key: str, have: Sequence[RunSummary]) -> Effect:
    """Spearman correlation of a numeric hyperparameter with the cost (and with the best value)."""
    from scipy.stats import spearmanr

    x = np.array([float(s.meta[key]) for s in have])
    c = np.array([float(s.cost or 0.0) for s in have])
    bv = np.array([(1.0 if s.mode == "min" else -1.0) * float(s.best_value or 0.0) for s in have])
    rho, p = (0.0, 1.0) if np.ptp(c) == 0 else (float(v) for v in spearmanr(x, c)[:2])
    rb = float(spearmanr(x, bv)[0]) if np.ptp(bv) > 0 else 0.0
    rho = rho if math.isfinite(rho) else 0.0
    p = p if math.isfinite(p) else 1.0
    return Effect(key, "numeric", len(have), abs(rho), rho=rho, p=p, rho_best=rb if math.isfinite(rb) else None)


def _categorical_effect(key: str, have: Sequence[RunSummary], distinct: Sequence[Any]) -> Effect:
    """Per level: runs, how many overfit, their median cost; strength = spread of the overfitting rates."""
    levels = []
    for lv in distinct[:MAX_LEVELS]:
        grp = [s for s in have if s.meta[key] == lv]
        overfit = sum(1 for s in grp if s.overfitting is not None)
        levels.append({"value": lv, "runs": len(grp), "overfit": overfit, "overfit_rate": overfit / len(grp),
                       "median_cost": float(np.median([s.cost or 0.0 for s in grp]))})
    rates = [lv["overfit_rate"] for lv in levels if lv["runs"] >= 2] or [lv["overfit_rate"] for lv in levels]
    return Effect(key, "categorical", len(have), float(max(rates) - min(rates)), levels=levels)


def _holm(effects: Sequence[Effect]) -> None:
    """Holm-Bonferroni adjusted p-values (``p_holm``) over the numeric tests, in place."""
    ordered = sorted(effects, key=lambda e: e.p if e.p is not None else 1.0)
    running = 0.0
    for i, e in enumerate(ordered):
        running = max(running, min(1.0, (len(ordered) - i) * float(e.p if e.p is not None else 1.0)))
        e.p_holm = running
