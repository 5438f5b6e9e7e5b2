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
    if index.size == 0:
        raise InputError(f"no rows for run {run}", path=path)
    n_lim = expected_n if expected_n is not None else meta.get("n")
    if n_lim is not None and (index[-1] >= int(n_lim) or (expected_n is not None and index.size != expected_n)):
        raise InputError(f"the table covers {index.size} examples (indices {int(index[0])}…{int(index[-1])}) but "
                         f"the dataset has {n_lim}: is it from another dataset?", path=path)
    n, E = index.shape[0], epochs.shape[0]
    has_margin, has_el2n = "margin" in names, "el2n" in names
    has_correct = "correct" in names or has_margin
    cols = ["loss"] + (["margin"] if has_margin else []) + (["correct"] if "correct" in names else [])
    loss_sum = np.zeros(n)
    margin_sum = np.zeros(n)
    forget = np.zeros(n)
    ever = np.zeros(n, bool)
    last_wrong = np.full(n, -1, dtype=np.int64)
    prev: np.ndarray | None = None
    etas: list[tuple[int, float]] = []
    last_loss = np.zeros(n)
    for e_pos, ep in enumerate(epochs):
        d = _epoch(path, pf, int(ep), run, has_run, index, cols)
        loss_sum += d["loss"]
        last_loss = d["loss"].astype(np.float64)
        if has_margin:
            margin_sum += d["margin"]
            etas.append((e_pos + 1, S.otsu_effectiveness(margin_sum / (e_pos + 1))))
        if has_correct:
            c = d["correct"].astype(bool) if "correct" in d else d["margin"] > 0
            if prev is not None:
                forget += prev & ~c
            ever |= c
            last_wrong[~c] = e_pos
            prev = c
        elif not has_margin:
            etas.append((e_pos + 1, S.otsu_effectiveness(loss_sum / (e_pos + 1))))
    if early is not None:
        if early < 1:
            raise UsageError(f"early epochs must be >= 1, got {early}")
        k = min(int(early), E)
    else:
        best = max(e for _, e in etas)
        k = E if best < S.DEFAULT_MIN_SEPARABILITY else max(kk for kk, e in etas if e >= best - tolerance - 1e-12)
    out: dict[str, np.ndarray] = {}
    early_cols = ["loss"] + (["margin"] if has_margin else []) + (["el2n"] if has_el2n else [])
    acc = {name: np.zeros(n) for name in early_cols}
    for ep in epochs[:k]:
        d = _epoch(path, pf, int(ep), run, has_run, index, early_cols)
        for name in early_cols:
            acc[name] += d[name]
    if has_margin:
        out["aum_early"] = acc["margin"] / k
        out["aum"] = margin_sum / E
    if has_el2n:
        out["el2n"] = acc["el2n"] / k
    if has_correct:
        forget[~ever] = np.inf
        out["forgetting"] = forget
        out["learned_epoch"] = (last_wrong + 1).astype(np.float64)
    out["loss_early"] = acc["loss"] / k
    out["loss_mean"] = loss_sum / E
    out["loss_last"] = last_loss
    out["mislabel"] = -out["aum_early"] if has_margin else out["loss_early"].copy()
    return out, index, k
