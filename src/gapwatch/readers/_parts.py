"""Columnar building blocks shared by the readers, so that a sweep of 10,000 runs builds one History, not
10,000 (each :class:`~gapwatch.history.History` construction costs about a millisecond of pandas work).

A reader that can, exposes ``read_parts(path, run) -> Parts``; :func:`build` turns any number of them into one
History, resolving resumed steps (keep the last value per step, with a note) only in the series that need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..history import COLUMNS, History, HistoryNote


@dataclass
class Block:
    """One logged series (or part of one): arrays of shape ``(n,)``; NaN step/epoch where not logged."""

    step: np.ndarray
    epoch: np.ndarray
    split: str
    metric: str
    value: np.ndarray
    name: str


@dataclass
class Parts:
    """What one reader found in one run, before it becomes a History."""

    run: str
    source: str
    blocks: list[Block] = field(default_factory=list)
    notes: list[HistoryNote] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, step: np.ndarray, epoch: np.ndarray, split: str, metric: str, value: np.ndarray,
            name: str) -> None:
        self.blocks.append(Block(np.asarray(step, float), np.asarray(epoch, float), split, metric,
                                 np.asarray(value, float), name))

    def renamed(self, run: str) -> Parts:
        notes = [HistoryNote(run, n.message, n.source) for n in self.notes]
        return Parts(run, self.source, self.blocks, notes, self.meta)


def build(parts: Sequence[Parts]) -> History:
    """One History from the parts of one or many runs (runs keep their order)."""
    blocks = [(p.run, b) for p in parts for b in p.blocks]
    notes = [n for p in parts for n in p.notes]
    sources = {p.run: p.source for p in parts if p.source}
    meta = {p.run: p.meta for p in parts if p.meta}
    if not blocks:
        return History(pd.DataFrame(columns=list(COLUMNS)), notes=notes, sources=sources, meta=meta)
    sizes = np.fromiter((b.value.shape[0] for _, b in blocks), dtype=np.int64, count=len(blocks))

    def rep(vals: list[str]) -> np.ndarray:
        return np.repeat(np.asarray(vals, dtype=object), sizes)

    frame = pd.DataFrame({
        "run": rep([r for r, _ in blocks]),
        "step": np.concatenate([b.step for _, b in blocks]),
        "epoch": np.concatenate([b.epoch for _, b in blocks]),
        "split": rep([b.split for _, b in blocks]),
        "metric": rep([b.metric for _, b in blocks]),
        "value": np.concatenate([b.value for _, b in blocks]),
        "name": rep([b.name for _, b in blocks]),
    })
    h = History(frame, notes=notes, sources=sources, meta=meta)
    return resolve_resumed(h)


def needs_dedupe(frame: pd.DataFrame) -> np.ndarray:
    """Boolean per row: True for rows of runs in which some (split, metric) series repeats or goes back in
    its x (``step``, or ``epoch`` when no row has a step, as :meth:`History.dedupe` chooses)."""
    n = len(frame)
    if n == 0:
        return np.zeros(0, dtype=bool)
    key = "step" if frame["step"].notna().any() else "epoch"
    x = frame[key].to_numpy(float)
    codes = frame.groupby(["run", "split", "metric"], sort=False).ngroup().to_numpy()
    has = np.isfinite(x)
    idx = np.flatnonzero(has)
    if idx.size < 2:
        return np.zeros(n, dtype=bool)
    order = idx[np.lexsort((idx, codes[idx]))]
    same = codes[order][1:] == codes[order][:-1]
    bad_pairs = same & (np.diff(x[order]) <= 0)
    if not bad_pairs.any():
        return np.zeros(n, dtype=bool)
    bad_runs = set(frame["run"].to_numpy()[order[1:][bad_pairs]].tolist())
    return frame["run"].isin(bad_runs).to_numpy()


def resolve_resumed(h: History) -> History:
    """``h.dedupe()``, but only on the runs that need it (a vectorised check first)."""
    frame = h.frame
    bad = needs_dedupe(frame)
    if not bad.any():
        return h
    if bad.all():
        return h.dedupe()
    good = History(frame[~bad], notes=h.notes, sources=h.sources, meta=h.meta)
    fixed = History(frame[bad], sources=h.sources).dedupe()
    extra = [n for n in fixed.notes if n not in h.notes]
    merged = History.concat([good, History(fixed.frame)])
    order = {r: i for i, r in enumerate(dict.fromkeys(frame["run"].tolist()))}
    df = merged.frame
    df = df.iloc[np.argsort(df["run"].map(order).to_numpy(), kind="stable")]
    return History(df, notes=[*h.notes, *extra], sources=h.sources, meta=h.meta)
