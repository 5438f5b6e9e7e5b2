"""Per-example training dynamics: find mislabelled, memorised, hard and prunable training examples.

Record per-example loss / margin / correctness each epoch (:class:`ExampleRecorder`, or write the documented
Parquet / ``.npz`` layout yourself), then score: EL2N and GraNd (Data Diet), AUM (Pleiss et al. 2020),
forgetting events (Toneva et al. 2019) and loss-trajectory statistics; derive the likely-mislabelled ranking,
memorised, hard and prunable sets; prune with :func:`prune`. See docs/examples.md.

Scores and tables are numpy/pyarrow only; recording, GraNd and distributed scoring import torch lazily.
"""

from __future__ import annotations

from typing import Any

from .derive import DIRECTIONS, ExampleAnalysis, analyze_examples, prune, score_table
from .scores import (
    aum,
    aum_early,
    aum_threshold,
    auroc,
    average_precision,
    early_epochs,
    el2n,
    el2n_score,
    forgetting_events,
    learned_epoch,
    loss_trajectory,
    make_threshold_samples,
    margins_from_logits,
)
from .stream import stream_scores
from .summary import TABLE_NAMES, find_beside, summary_beside
from .table import ExampleTable, ExampleTableWriter, load, read_npz, read_table, read_tables, write_table

__all__ = [
    "DIRECTIONS",
    "TABLE_NAMES",
    "ExampleAnalysis",
    "ExampleRecorder",
    "ExampleTable",
    "ExampleTableWriter",
    "IndexedDataset",
    "analyze_examples",
    "aum",
    "aum_early",
    "aum_threshold",
    "auroc",
    "average_precision",
    "early_epochs",
    "el2n",
    "el2n_score",
    "find_beside",
    "forgetting_events",
    "grand",
    "grand_last_layer",
    "learned_epoch",
    "load",
    "loss_trajectory",
    "make_threshold_samples",
    "margins_from_logits",
    "prune",
    "read_npz",
    "read_table",
    "read_tables",
    "score_table",
    "stream_scores",
    "summary_beside",
    "write_table",
]

_LAZY = {"ExampleRecorder": ".record", "IndexedDataset": ".record", "grand": ".grand",
         "grand_last_layer": ".grand"}


def __getattr__(name: str) -> Any:  # torch-touching names load on first use (the module itself is torch-free)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'gapwatch.examples' has no attribute '{name}'")
