"""Shared by the tracker readers: per-run metric series → :class:`~gapwatch.readers._parts.Parts`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..names import is_bookkeeping, normalize_columns
from ..readers._parts import Parts

#: Metric keys whose values give the epoch of the other metrics logged at the same (or nearest earlier) step.
EPOCH_KEYS = ("epoch", "trainer/epoch", "train/epoch")


def run_parts(run: str, source: str, series: Mapping[str, tuple[np.ndarray, np.ndarray]],
              meta: dict[str, Any] | None = None) -> Parts:
    """One run's metrics as Parts.

    Args:
        series: metric key → ``(step, value)`` float arrays of shape ``(n,)`` in logging order.
        meta: the run's metadata (``hparams`` from the tracker's params/config, tracker ids).
    """
    p = Parts(run, source, meta=dict(meta or {}))
    ek = next((k for k in EPOCH_KEYS if k in series), None)
    emap = series[ek] if ek is not None else None
    keys = [k for k in series if not is_bookkeeping(k)]
    names = normalize_columns(keys, "train")
    for k in keys:
        step, val = series[k]
        epoch = _epoch_at(step, emap) if emap is not None else np.full(step.shape, np.nan)
        split, metric = names[k]
        p.add(step, epoch, split, metric, val, k)
    return p


def _epoch_at(step: np.ndarray, emap: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    es, ev = emap
    order = np.argsort(es, kind="stable")
    s, v = es[order], ev[order]
    i = np.searchsorted(s, step, side="right") - 1
    return np.where(i >= 0, v[np.clip(i, 0, None)], np.nan).astype(float)


def unique_name(name: str, rid: str, used: set[str]) -> str:
    """``name`` unless taken in ``used``; then ``name~<first 8 characters of the run id>``."""
    out = name if name not in used else f"{name}~{rid[:8]}"
    used.add(out)
    return out
