"""A compact, JSON-able summary of the ExampleTable that sits beside a training log.

:func:`summary_beside` looks in the log's directory for the first of :data:`TABLE_NAMES` and summarises it
for ``gapwatch analyze`` and the HTML report. Shape (schema ``gapwatch.examples.summary/1``)::

    {"schema": "gapwatch.examples.summary/1",
     "path": "/runs/a/examples.parquet",
     "n": 50000, "epochs": 40, "early_epochs": 10, "runs": 1,
     "default_score": "aum_early", "cutoff": -0.31, "cutoff_rule": "early-training AUM (first 10 epochs) below …",
     "separability": 0.83, "cutoff_reliable": true,    # false: no separate low group, trust the ranking only
     "counts": {"likely_mislabeled": 4123, "memorized": 3011, "hard": 2200, "prunable": 21000},
     "fractions": {"likely_mislabeled": 0.082, ...},            # counts / n
     "top_suspicious": [{"index": 17, "score": -4.2, "label": 3, "suggested": 5}, ...],   # up to `top` rows
     "histograms": {"aum_early": {"edges": [21 floats], "counts": [20 ints], "direction": "low"}, ...},
     "references": ["Pleiss et al. 2020 …", ...]}

``score`` in ``top_suspicious`` is the default score (``aum_early``: lower = more suspicious; or
``loss_early``: higher = more suspicious); ``label``/``suggested`` are null when unknown. A table that cannot be
read gives ``{"schema": ..., "path": ..., "error": "<one-line message>"}`` instead of raising, so a broken
table never stops the analysis of the log itself. No table found: ``None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GapwatchError

#: File names looked for, in this order, in the directory of the log (or in the directory itself).
TABLE_NAMES = ("examples.parquet", "examples.npz")
SUMMARY_SCHEMA = "gapwatch.examples.summary/1"
REFERENCES = [
    "Pleiss et al. 2020, Identifying Mislabeled Data using the Area Under the Margin Ranking",
    "Toneva et al. 2019, An Empirical Study of Example Forgetting during Deep Neural Network Learning",
    "Paul et al. 2021, Deep Learning on a Data Diet: Finding Important Examples Early in Training",
]
#: Histogram bins per score.
HIST_BINS = 20


def find_beside(log_path: str | Path) -> Path | None:
    """The example table beside ``log_path`` (a file: its directory; a directory: itself), or None."""
    p = Path(log_path)
    d = p if p.is_dir() else p.parent
    for name in TABLE_NAMES:
        cand = d / name
        if cand.is_file():
            return cand
    return None


def _hist(a: np.ndarray) -> dict[str, Any]:
    a = a[np.isfinite(a)]
    if a.size == 0:
        return {"edges": [], "counts": []}
    lo, hi = float(a.min()), float(a.max())
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(a, bins=HIST_BINS, range=(lo, hi))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def summarize(path: str | Path, *, top: int = 20) -> dict[str, Any]:
    """Summary of the table at ``path`` (raises :class:`gapwatch.errors.GapwatchError` if unreadable)."""
    from .derive import DIRECTIONS, analyze_examples
    from .table import load

    tables = load(path)
    a = analyze_examples(tables)
    n = a.n
    counts = {"likely_mislabeled": int(a.likely_mislabeled.size), "memorized": int(a.memorized.size),
              "hard": int(a.hard.size), "prunable": int(a.prunable.size)}
    pos = np.searchsorted(a.index, a.likely_mislabeled[:top])
    sc = a.scores[a.default_score]
    rows = [{"index": int(a.index[p]), "score": float(sc[p]),
             "label": None if a.label is None else int(a.label[p]),
             "suggested": a.suggested_relabel.get(int(a.index[p]))} for p in pos]
    hists: dict[str, Any] = {}
    for name in ("aum_early", "el2n", "forgetting", "loss_early"):
        if name in a.scores:
            h = _hist(np.nan_to_num(a.scores[name], posinf=float(a.n_epochs + 1)))
            h["direction"] = DIRECTIONS[name]
            hists[name] = h
    return {"schema": SUMMARY_SCHEMA, "path": str(path), "n": n, "epochs": a.n_epochs, "early_epochs": a.early,
            "runs": len(tables), "default_score": a.default_score, "cutoff": a.cutoff,
            "cutoff_rule": a.cutoff_rule, "separability": a.separability, "cutoff_reliable": a.cutoff_reliable,
            "counts": counts,
            "fractions": {k: v / n for k, v in counts.items()}, "top_suspicious": rows, "histograms": hists,
            "references": REFERENCES}


def summary_beside(log_path: str | Path, *, top: int = 20) -> dict[str, Any] | None:
    """Summary of the example table next to a log (see module docstring for the exact shape), or None."""
    path = find_beside(log_path)
    if path is None:
        return None
    try:
        return summarize(path, top=top)
    except GapwatchError as exc:
        return {"schema": SUMMARY_SCHEMA, "path": str(path), "error": str(exc)}
