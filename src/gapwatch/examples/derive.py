"""From an :class:`ExampleTable` to scores, rankings and example sets (numpy only).

:func:`score_table` computes every score the table's columns allow; :func:`analyze_examples` adds the
derived sets: likely mislabelled (ranked, with a suggested cut-off), memorised, hard, prunable and the
suggested relabel. :func:`prune` is the Data Diet pruning rule.

Default mislabel ranking: the early-training AUM — the mean margin over the leading epochs whose per-example
mean is most bimodal (:func:`gapwatch.examples.scores.select_window`) — or the early mean loss when no margin
was recorded. Wrong labels are fitted last, so early statistics keep separating them even when a wide network
memorises every label by the end of training (which pulls whole-run AUM of wrong labels up to that of clean
ones); on a run that never memorises, the selected window grows to the whole run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from ..errors import UsageError
from . import scores as S
from .table import ExampleTable

#: Direction of every score name: "high" = higher is more suspicious / harder, "low" = lower is.
DIRECTIONS: dict[str, str] = {
    "mislabel": "high", "aum": "low", "aum_early": "low", "el2n": "high", "forgetting": "high",
    "learned_epoch": "high", "loss_mean": "high", "loss_early": "high", "loss_last": "high",
    "loss_std": "high", "loss_slope": "high", "grand": "high",
}
#: Forgetting-event count at and above which a (not suspicious) example is called hard.
DEFAULT_HARD_FORGETTING = 2
#: Separability η (Otsu, 0…1) of the default score below which the cut-off is reported as unreliable.
DEFAULT_MIN_SEPARABILITY = S.DEFAULT_MIN_SEPARABILITY
#: Loss (nats) above which the assigned label gets less than half the probability: ln 2.
HALF_PROB_LOSS = math.log(2.0)


@dataclass
class ExampleAnalysis:
    """Scores and sets for one table (or several runs of the same dataset).

    Attributes:
        index: ``(n,)`` example indices; every score array is aligned with it.
        n_epochs: recorded epochs (of the first run).
        early: epochs counted as early training.
        scores: name → ``(n,)`` array (directions in :data:`DIRECTIONS`).
        default_score: the score name behind the ``mislabel`` ranking.
        cutoff: value of the default score at the suggested cut-off, and ``cutoff_rule`` in words.
        likely_mislabeled: example indices, most suspicious first, up to the cut-off.
        memorized, hard, prunable: example indices (prunable: easiest first).
        separability: Otsu's η of the default score (0…1); ``cutoff_reliable`` is False below
            ``min_separability``: the scores show no separate low group, so the ranking may still help but the
            cut-off (and the memorised set and relabels that depend on it) should not be trusted.
        suggested_relabel: example index → the class predicted most often during the early epochs, for
            likely-mislabelled examples where it differs from the assigned label (needs ``pred`` or ``probs``).
    """

    index: np.ndarray
    n_epochs: int
    early: int
    scores: dict[str, np.ndarray]
    default_score: str
    cutoff: float
    cutoff_rule: str
    likely_mislabeled: np.ndarray
    memorized: np.ndarray
    hard: np.ndarray
    prunable: np.ndarray
    label: np.ndarray | None = None
    suggested_relabel: dict[int, int] = field(default_factory=dict)
    separability: float = float("nan")
    cutoff_reliable: bool = True

    @property
    def n(self) -> int:
        return int(self.index.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """The ``gapwatch.examples/1`` document (see docs/examples.md)."""
        def clean(a: np.ndarray) -> list[float]:
            return [float(x) if math.isfinite(x) else float(self.n_epochs + 1) for x in a.tolist()]

        return {
            "schema": "gapwatch.examples/1",
            "n": self.n,
            "epochs": self.n_epochs,
            "early_epochs": self.early,
            "index": [int(i) for i in self.index],
            "scores": {k: clean(v) for k, v in self.scores.items()},
            "directions": {k: DIRECTIONS[k] for k in self.scores},
            "default_score": self.default_score,
            "cutoff": self.cutoff,
            "cutoff_rule": self.cutoff_rule,
            "separability": self.separability,
            "cutoff_reliable": self.cutoff_reliable,
            "likely_mislabeled": [int(i) for i in self.likely_mislabeled],
            "memorized": [int(i) for i in self.memorized],
            "hard": [int(i) for i in self.hard],
            "prunable": [int(i) for i in self.prunable],
            "suggested_relabel": [{"index": int(i), "label": None if self.label is None else
                                   int(self.label[np.searchsorted(self.index, i)]), "suggested": int(c)}
                                  for i, c in self.suggested_relabel.items()],
        }


def _tables(tables: ExampleTable | Sequence[ExampleTable]) -> list[ExampleTable]:
    ts = [tables] if isinstance(tables, ExampleTable) else list(tables)
    if not ts:
        raise UsageError("no tables given")
    for t in ts[1:]:
        if t.n != ts[0].n or not np.array_equal(t.index, ts[0].index):
            raise UsageError(f"runs cover different examples: run {ts[0].run} has {ts[0].n}, run {t.run} has "
                             f"{t.n} (indices must match to average over runs)")
    return ts


def _el2n_values(t: ExampleTable) -> np.ndarray | None:
    if t.el2n is not None:
        return t.el2n
    if t.probs is not None and t.label is not None:
        return S.el2n(t.probs, t.label)
    return None


def early_window(table: ExampleTable, early: int | None = None) -> int:
    """Epochs counted as early training: ``early`` if given, else :func:`gapwatch.examples.scores.select_window`
    on the margins (or losses when no margin was recorded)."""
    if early is not None:
        if early < 1:
            raise UsageError(f"early epochs must be >= 1, got {early}")
        return min(int(early), table.n_epochs)
    return S.select_window(table.margin if table.margin is not None else table.loss)[0]


def score_table(tables: ExampleTable | Sequence[ExampleTable], *,
                early: int | None = None) -> tuple[dict[str, np.ndarray], int]:
    """Every score the columns allow, for one run or averaged over runs (EL2N and early AUM/loss: over runs;
    the others: the first run).

    Args:
        early: epochs counted as early training (default: chosen per table by :func:`early_window`).

    Returns ``(scores, early)`` where ``early`` is the number of early epochs used.
    """
    ts = _tables(tables)
    t = ts[0]
    k = early_window(t, early)
    out: dict[str, np.ndarray] = {}
    lt = S.loss_trajectory(t.loss, early=k)
    if t.margin is not None:
        out["aum_early"] = np.mean([S.aum(x.margin, epochs=k) for x in ts if x.margin is not None], axis=0)
        out["aum"] = S.aum(t.margin)
    vals = [v for v in (_el2n_values(x) for x in ts) if v is not None]
    if vals:
        out["el2n"] = S.el2n_score(vals, epochs=k)
    if t.correct is not None:
        out["forgetting"] = S.forgetting_events(t.correct, never_learned=np.inf)
        out["learned_epoch"] = S.learned_epoch(t.correct)
    out["loss_early"] = np.mean([S.loss_trajectory(x.loss, early=k)["early_mean"] for x in ts], axis=0)
    out["loss_mean"] = lt["mean"]
    out["loss_last"] = lt["last"]
    out["loss_std"] = lt["std"]
    out["loss_slope"] = lt["slope"]
    out["mislabel"] = -out["aum_early"] if "aum_early" in out else out["loss_early"].copy()
    return out, k


def _consistent_class(t: ExampleTable, k: int) -> np.ndarray | None:
    """Class predicted most consistently over the first ``k`` epochs (before any memorisation)."""
    if t.probs is not None:
        return cast(np.ndarray, t.probs[:k].mean(axis=0).argmax(axis=1))
    if t.pred is not None:
        C = int(max(t.pred.max() + 1, t.num_classes or 0))
        counts = np.zeros((t.n, C), dtype=np.int64)
        for e in range(k):
            np.add.at(counts, (np.arange(t.n), t.pred[e]), 1)
        return cast(np.ndarray, counts.argmax(axis=1))
    return None


def analyze_examples(tables: ExampleTable | Sequence[ExampleTable], *, early: int | None = None,
                     aum_cutoff: float | None = None, hard_forgetting: int = DEFAULT_HARD_FORGETTING,
                     min_separability: float = DEFAULT_MIN_SEPARABILITY,
                     extra_scores: dict[str, np.ndarray] | None = None) -> ExampleAnalysis:
    """Scores plus likely-mislabelled, memorised, hard and prunable sets.

    Args:
        early: number of early epochs (default: the most separating prefix, :func:`early_window`).
        aum_cutoff: AUM threshold from threshold samples (:func:`gapwatch.examples.scores.aum_threshold`);
            default 0 (the network, averaged over early training, prefers another class than the label).
        hard_forgetting: forgetting events at and above which an example counts as hard (default 2).
        min_separability: η below which ``cutoff_reliable`` is False (default 0.75).
        extra_scores: more ``(n,)`` scores to carry along (e.g. ``{"grand": ...}``; higher = harder).

    Sets (all in example-index units):
        * likely_mislabeled — ``aum_early < cut`` (margin recorded), where ``cut`` is ``aum_cutoff`` or else
          Otsu's valley between the two modes of ``aum_early`` capped at 0 (a negative early margin means the
          network prefers another class); loss only: early mean loss above Otsu's valley of the early loss,
          at least ln 2 (the label got under half the probability). Ranked by the default score.
        * memorized — likely mislabelled yet fitted at the last epoch (correct, or loss < ln 2).
        * hard — not likely mislabelled, but not learned within the early epochs or forgotten
          ``hard_forgetting`` times or more.
        * prunable — learned within the early epochs and never forgotten afterwards (Toneva et al.'s
          unforgettable examples), easiest (lowest EL2N / early loss) first.
    """
    if hard_forgetting < 1:
        raise UsageError(f"hard_forgetting must be >= 1, got {hard_forgetting}")
    ts = _tables(tables)
    t = ts[0]
    sc, k = score_table(ts, early=early)
    if extra_scores:
        for name, arr in extra_scores.items():
            a = np.asarray(arr, dtype=np.float64)
            if a.shape != (t.n,):
                raise UsageError(f"extra score '{name}' has shape {a.shape}, expected ({t.n},)")
            sc[name] = a
            DIRECTIONS.setdefault(name, "high")
    flagged, default, cutoff, rule = _mislabel_cut(sc, k, aum_cutoff)
    eta = S.otsu_effectiveness(sc[default])
    reliable = bool(eta >= min_separability)
    if not reliable:
        rule += (f"; UNRELIABLE: the score shows no separate low group (separability {eta:.2f} < "
                 f"{min_separability:g}), trust the ranking more than the cut-off")
    order = np.argsort(-sc["mislabel"], kind="stable")
    likely = t.index[order[flagged[order]]]
    if t.correct is not None:
        fit_end = t.correct[-1]
        learned_early = sc["learned_epoch"] < k
        forgot = np.nan_to_num(sc["forgetting"], posinf=float(t.n_epochs))
        stable = forgot == 0
    else:
        fit_end = t.loss[-1] < HALF_PROB_LOSS
        learned_early = t.loss[k - 1:].max(axis=0) < HALF_PROB_LOSS
        forgot = np.zeros(t.n)
        stable = learned_early
    memorized = t.index[flagged & fit_end]
    hard = t.index[~flagged & (~learned_early | (forgot >= hard_forgetting))]
    easy_mask = learned_early & stable & ~flagged
    ease = sc["el2n"] if "el2n" in sc else sc["loss_early"]
    easy_idx = np.flatnonzero(easy_mask)
    prunable = t.index[easy_idx[np.argsort(ease[easy_idx], kind="stable")]]
    return ExampleAnalysis(index=t.index, n_epochs=t.n_epochs, early=k, scores=sc, default_score=default,
                           cutoff=cutoff, cutoff_rule=rule, likely_mislabeled=likely, memorized=memorized,
                           hard=hard, prunable=prunable, label=t.label,
                           suggested_relabel=_suggested_relabel(t, k, likely), separability=eta,
                           cutoff_reliable=reliable)


def _mislabel_cut(sc: dict[str, np.ndarray], k: int,
                  aum_cutoff: float | None) -> tuple[np.ndarray, str, float, str]:
    """``(flagged (n,) bool, default score name, cut-off, rule in words)`` for likely-mislabelled examples:
    early AUM below ``aum_cutoff`` or Otsu's valley capped at 0 when margins were recorded, else early mean loss
    above Otsu's valley and at least ln 2 nats (see :func:`analyze_examples`)."""
    if "aum_early" in sc:
        if aum_cutoff is None:
            thr = min(0.0, S.otsu_threshold(sc["aum_early"]))
            rule = (f"early-training AUM (first {k} epochs) below {thr:.3g} (the valley between its two modes, "
                    "capped at 0)")
        else:
            thr = float(aum_cutoff)
            rule = f"early-training AUM (first {k} epochs) below {thr:.3g} (given cut-off)"
        return sc["aum_early"] < thr, "aum_early", thr, rule
    if aum_cutoff is not None:
        raise UsageError("aum_cutoff needs a 'margin' column; this table has only losses")
    thr = max(HALF_PROB_LOSS, S.otsu_threshold(sc["loss_early"]))
    rule = (f"early-training mean loss (first {k} epochs) above {thr:.3g} nats (the valley between its two "
            "modes, at least ln 2)")
    return sc["loss_early"] > thr, "loss_early", thr, rule


def _suggested_relabel(t: ExampleTable, k: int, likely: np.ndarray) -> dict[int, int]:
    """Example index → the class predicted most consistently over the first ``k`` epochs, for the ``likely``
    mislabelled examples where it differs from the label (empty without labels or predictions)."""
    relabel: dict[int, int] = {}
    cls = _consistent_class(t, k)
    if cls is None or t.label is None:
        return relabel
    pos = np.searchsorted(t.index, likely)
    for i, p in zip(likely.tolist(), pos.tolist(), strict=True):
        if cls[p] != t.label[p]:
            relabel[int(i)] = int(cls[p])
    return relabel


#: Scores ``prune`` accepts by name and whether a high value means "keep".
PRUNE_BY = {"el2n": True, "loss_early": True, "forgetting": True, "aum_early": False, "aum": False,
            "learned_epoch": True, "random": True}


def prune(table: ExampleTable | Sequence[ExampleTable], fraction: float, by: str | np.ndarray = "el2n", *,
          early: int | None = None, drop_hardest: float = 0.0, seed: int = 0,
          per_class: bool = False) -> np.ndarray:
    """Data Diet pruning: the example indices to KEEP after removing ``fraction`` of the easiest examples.

    Args:
        table: one run or several runs (EL2N is averaged over runs, as in the paper).
        fraction: share of examples to remove, in ``[0, 1)``.
        by: a score name from :data:`PRUNE_BY` (``"random"`` for the random-pruning baseline), or an
            ``(n,)`` array where higher = harder = keep (e.g. GraNd scores).
        early: early epochs for the score (default: :func:`early_window`).
        drop_hardest: additionally remove this share of the *hardest* examples (the paper notes that at high
            pruning rates the highest-score examples are often mislabelled); default 0.
        seed: for ``by="random"``.
        per_class: rank examples by their score's percentile *within their labelled class*, so every class
            loses the same share (±1 example). Early EL2N often ranks whole classes as easy (the CIFAR-10
            benchmark dropped 2,723 frogs and 94 dogs at 30%); this keeps the class balance. Needs labels.

    Returns:
        sorted ``int64`` example indices to keep.
    """
    if not 0 <= fraction < 1:
        raise UsageError(f"fraction must be in [0, 1), got {fraction}")
    if not 0 <= drop_hardest < 1 or fraction + drop_hardest >= 1:
        raise UsageError(f"drop_hardest must be in [0, 1) with fraction + drop_hardest < 1, got {drop_hardest}")
    ts = _tables(table)
    t = ts[0]
    s = _prune_score(ts, by, early=early, seed=seed)
    if per_class:
        if t.label is None:
            raise UsageError("per_class=True needs the table's labels (a 'label' column)")
        order = _class_balanced_order(s, t.label)
    else:
        order = np.argsort(s, kind="stable")  # easiest first
    n_drop = int(round(fraction * t.n))
    n_top = int(round(drop_hardest * t.n))
    keep = order[n_drop:t.n - n_top]
    return np.sort(t.index[keep])


def _prune_score(ts: list[ExampleTable], by: str | np.ndarray, *, early: int | None, seed: int) -> np.ndarray:
    """``(n,)`` pruning score of the first table's examples, higher = harder = keep: a :data:`PRUNE_BY` score
    (sign flipped where low means keep; never-learned examples' infinite forgetting counts as ``epochs + 1``),
    uniform random numbers for ``"random"``, or the given finite array."""
    t = ts[0]
    if not isinstance(by, str):
        s = np.asarray(by, dtype=np.float64)
        if s.shape != (t.n,):
            raise UsageError(f"score array has shape {s.shape}, expected ({t.n},)")
        if not np.all(np.isfinite(s)):
            raise UsageError("score array holds NaN/inf")
        return s
    if by not in PRUNE_BY:
        raise UsageError(f"unknown pruning score '{by}'; choose one of {', '.join(PRUNE_BY)} or pass an array")
    if by == "random":
        return np.random.default_rng(seed).random(t.n)
    sc, _ = score_table(ts, early=early)
    if by not in sc:
        raise UsageError(f"this table cannot give '{by}' (missing column); available: "
                         f"{', '.join(k for k in sc if k in PRUNE_BY)}, random")
    s = np.nan_to_num(sc[by], posinf=float(t.n_epochs + 1))
    return cast(np.ndarray, s if PRUNE_BY[by] else -s)


def _class_balanced_order(s: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Examples ordered easiest first by the percentile of their score ``s`` within their labelled class (ties
    by the score itself), so cutting any prefix removes the same share of every class (±1 example)."""
    pct = np.empty(s.shape[0])
    for c in np.unique(label):
        m = np.flatnonzero(label == c)
        pct[m] = (np.argsort(np.argsort(s[m], kind="stable"), kind="stable") + 0.5) / m.size
    return np.lexsort((s, pct))
