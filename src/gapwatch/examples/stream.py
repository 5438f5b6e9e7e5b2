"""Scores straight from a Parquet ExampleTable in O(n) memory, one epoch at a time.

:func:`gapwatch.examples.read_table` builds dense ``(epochs, n)`` arrays: fine up to a few hundred million
values. For larger tables (a million examples × hundreds of epochs) :func:`stream_scores` reads one epoch at a
time (pyarrow skips row groups by their ``epoch`` statistics, so write epochs in order, as the recorder does)
and keeps only per-example accumulators. It gives the same scores as :func:`gapwatch.examples.score_table`
for ``aum``, ``aum_early``, ``el2n``, ``forgetting``, ``learned_epoch``, ``loss_early``, ``loss_mean`` and
``loss_last``. Two passes: the first picks the early window, the second re-reads only the early epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, UsageError, require
from . import scores as S
from .table import open_parquet


def _keys(pf: Any, run: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Epochs and example indices of ``run``, scanning key columns row group by row group."""
    names = set(pf.schema_arrow.names)
    has_run = "run" in names
    epochs: set[int] = set()
    index = np.empty(0, dtype=np.int64)
    for g in range(pf.num_row_groups):
        cols = ["epoch", "index"] + (["run"] if has_run else [])
        rg = pf.read_row_group(g, columns=cols)
        sel = rg.column("run").to_numpy() == run if has_run else np.ones(rg.num_rows, bool)
        epochs.update(np.unique(rg.column("epoch").to_numpy()[sel]).tolist())
        index = np.union1d(index, rg.column("index").to_numpy()[sel])
    return np.array(sorted(epochs), dtype=np.int64), index, has_run


def _epoch(path: Path, pf: Any, epoch: int, run: int, has_run: bool, index: np.ndarray,
           cols: list[str]) -> dict[str, np.ndarray]:
    pq = require("pyarrow.parquet", extra="examples", package="pyarrow")

    filters: list[tuple[str, str, int]] = [("epoch", "=", int(epoch))]
    if has_run:
        filters.append(("run", "=", int(run)))
    t = pq.read_table(str(path), columns=["index"] + cols, filters=filters)
    ix = t.column("index").to_numpy()
    pos = np.searchsorted(index, ix)
    n = index.shape[0]
    if ix.shape[0] != n or np.unique(pos).shape[0] != ix.shape[0]:
        u, c = np.unique(ix, return_counts=True)
        if (c > 1).any():
            raise InputError(f"duplicate rows for example index {int(u[c > 1][0])} at epoch {epoch} (run {run})",
                             path=path)
        missing = np.setdiff1d(index, ix)
        raise InputError(f"epoch {epoch} (run {run}) is missing {missing.size} of {n} examples (first missing "
                         f"index {int(missing[0])})", path=path)
    out: dict[str, np.ndarray] = {}
    for name in cols:
        v = t.column(name).to_numpy()
        if name in ("loss", "margin", "el2n"):
            bad = ~np.isfinite(v)
            if bad.any():
                raise InputError(f"{name} is NaN/inf for example index {int(ix[np.argmax(bad)])} at epoch "
                                 f"{epoch}", path=path)
        a = np.empty(n, dtype=v.dtype)
        a[pos] = v
        out[name] = a
    return out


def stream_scores(path: str | Path, *, run: int = 0, early: int | None = None,
                  expected_n: int | None = None,
                  tolerance: float = S.DEFAULT_WINDOW_TOLERANCE) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Per-example scores of one run of a Parquet ExampleTable, reading one epoch at a time.

    Args:
        run: run id to score.
        early: early-window length in epochs (default: :func:`gapwatch.examples.scores.select_window`'s rule,
            evaluated at every epoch).
        expected_n: dataset size; a table from another dataset is rejected.

    Returns:
        ``(scores, index, early)``; ``scores`` maps names to ``(n,)`` arrays aligned with ``index``.
    """
    path = Path(path)
    meta, pf, names = open_parquet(path)
    epochs, index, has_run = _keys(pf, run)
    _check_coverage(index, expected_n, meta, run, path)
    has_margin = "margin" in names
    acc = _FullPass(index.shape[0], has_margin=has_margin, has_correct="correct" in names or has_margin)
    cols = ["loss"] + (["margin"] if has_margin else []) + (["correct"] if "correct" in names else [])
    for e_pos, ep in enumerate(epochs):
        acc.add(_epoch(path, pf, int(ep), run, has_run, index, cols), e_pos)
    k = _window(early, acc.etas, epochs.shape[0], tolerance)
    early_cols = ["loss"] + (["margin"] if has_margin else []) + (["el2n"] if "el2n" in names else [])
    sums = {name: np.zeros(index.shape[0]) for name in early_cols}
    for ep in epochs[:k]:
        d = _epoch(path, pf, int(ep), run, has_run, index, early_cols)
        for name in early_cols:
            sums[name] += d[name]
    return acc.scores({name: v / k for name, v in sums.items()}), index, k


def _check_coverage(index: np.ndarray, expected_n: int | None, meta: dict[str, Any], run: int, path: Path) -> None:
    """The run has rows, its sorted indices fit the dataset size (``expected_n``, else the metadata's ``n``)
    and, with ``expected_n``, cover exactly that many examples."""
    if index.size == 0:
        raise InputError(f"no rows for run {run}", path=path)
    n_lim = expected_n if expected_n is not None else meta.get("n")
    if n_lim is not None and (index[-1] >= int(n_lim) or (expected_n is not None and index.size != expected_n)):
        raise InputError(f"the table covers {index.size} examples (indices {int(index[0])}…{int(index[-1])}) but "
                         f"the dataset has {n_lim}: is it from another dataset?", path=path)


def _window(early: int | None, etas: list[tuple[int, float]], n_epochs: int, tolerance: float) -> int:
    """Early-window length in epochs: ``early`` (capped at ``n_epochs``) when given, else the longest prefix
    whose separability η is within ``tolerance`` of the best one, or every epoch when no prefix reaches
    :data:`gapwatch.examples.scores.DEFAULT_MIN_SEPARABILITY` (the rule of
    :func:`gapwatch.examples.scores.select_window`, with ``etas`` the ``(prefix length, η)`` of every prefix)."""
    if early is not None:
        if early < 1:
            raise UsageError(f"early epochs must be >= 1, got {early}")
        return min(int(early), n_epochs)
    best = max(e for _, e in etas)
    if best < S.DEFAULT_MIN_SEPARABILITY:
        return n_epochs
    return max(kk for kk, e in etas if e >= best - tolerance - 1e-12)


class _FullPass:
    """Per-example accumulators (arrays of shape ``(n,)``) of the pass over every epoch: loss and margin sums,
    forgetting events, whether and when an example was last wrong, the last loss, and the separability η of
    the running mean margin (of the running mean loss without margins) after every epoch."""

    def __init__(self, n: int, *, has_margin: bool, has_correct: bool) -> None:
        self.has_margin, self.has_correct = has_margin, has_correct
        self.epochs = 0
        self.loss_sum = np.zeros(n)
        self.margin_sum = np.zeros(n)
        self.forget = np.zeros(n)
        self.ever = np.zeros(n, bool)
        self.last_wrong = np.full(n, -1, dtype=np.int64)
        self.last_loss = np.zeros(n)
        self.prev: np.ndarray | None = None
        self.etas: list[tuple[int, float]] = []

    def add(self, d: dict[str, np.ndarray], e_pos: int) -> None:
        """Add epoch number ``e_pos`` (0-based position) with columns ``d`` (each ``(n,)``)."""
        self.epochs = e_pos + 1
        self.loss_sum += d["loss"]
        self.last_loss = d["loss"].astype(np.float64)
        if self.has_margin:
            self.margin_sum += d["margin"]
        running = self.margin_sum if self.has_margin else self.loss_sum
        self.etas.append((e_pos + 1, S.otsu_effectiveness(running / (e_pos + 1))))
        if self.has_correct:
            c = d["correct"].astype(bool) if "correct" in d else d["margin"] > 0
            if self.prev is not None:
                self.forget += self.prev & ~c
            self.ever |= c
            self.last_wrong[~c] = e_pos
            self.prev = c

    def scores(self, early_mean: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The scores, given the early-window means of ``loss`` (and ``margin``, ``el2n`` when recorded)."""
        out: dict[str, np.ndarray] = {}
        if self.has_margin:
            out["aum_early"] = early_mean["margin"]
            out["aum"] = self.margin_sum / self.epochs
        if "el2n" in early_mean:
            out["el2n"] = early_mean["el2n"]
        if self.has_correct:
            forget = self.forget.copy()
            forget[~self.ever] = np.inf
            out["forgetting"] = forget
            out["learned_epoch"] = (self.last_wrong + 1).astype(np.float64)
        out["loss_early"] = early_mean["loss"]
        out["loss_mean"] = self.loss_sum / self.epochs
        out["loss_last"] = self.last_loss
        out["mislabel"] = -out["aum_early"] if self.has_margin else out["loss_early"].copy()
        return out
