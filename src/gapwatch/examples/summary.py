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

from dataclasses import dataclass, field
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


@dataclass
class ExampleSummary:
    """The summary of a per-example table (see the module docstring for the JSON shape it writes).

    Attributes:
        path: the table's file. error: why it could not be read (then every other field is empty).
        n: examples. epochs: epochs recorded. early_epochs: the early-training window (epochs). runs: runs in it.
        default_score: the score the cut-off uses (``aum_early``: lower = more suspicious, ``loss_early``:
            higher = more suspicious). cutoff, cutoff_rule: its cut-off value and why.
        separability: how separate the suspicious group is (0-1); cutoff_reliable: False when there is no
            separate group (trust the ranking, not the cut-off).
        counts: examples per set (``likely_mislabeled``, ``memorized``, ``hard``, ``prunable``).
        top_suspicious: up to ``top`` rows ``{"index", "score", "label", "suggested"}``, most suspicious first.
        histograms: score name → ``{"edges": (bins+1,), "counts": (bins,), "direction": "low"|"high"}``.
        thumbnails: example index → base64 PNG (shown beside the suspicious examples; empty when unknown).
    """

    path: str
    error: str | None = None
    n: int = 0
    epochs: int = 0
    early_epochs: int = 0
    runs: int = 0
    default_score: str = ""
    cutoff: float | None = None
    cutoff_rule: str = ""
    separability: float | None = None
    cutoff_reliable: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    top_suspicious: list[dict[str, Any]] = field(default_factory=list)
    histograms: dict[str, dict[str, Any]] = field(default_factory=dict)
    references: list[str] = field(default_factory=lambda: list(REFERENCES))
    thumbnails: dict[int, str] = field(default_factory=dict)

    @property
    def fractions(self) -> dict[str, float]:
        return {k: v / self.n for k, v in self.counts.items()} if self.n else {}

    def to_dict(self) -> dict[str, Any]:
        """The ``gapwatch.examples.summary/1`` object (strict JSON)."""
        from ..documents import clean

        if self.error is not None:
            return {"schema": SUMMARY_SCHEMA, "path": self.path, "error": self.error}
        d: dict[str, Any] = {
            "schema": SUMMARY_SCHEMA, "path": self.path, "n": self.n, "epochs": self.epochs,
            "early_epochs": self.early_epochs, "runs": self.runs, "default_score": self.default_score,
            "cutoff": self.cutoff, "cutoff_rule": self.cutoff_rule, "separability": self.separability,
            "cutoff_reliable": self.cutoff_reliable, "counts": dict(self.counts), "fractions": self.fractions,
            "top_suspicious": list(self.top_suspicious), "histograms": dict(self.histograms),
            "references": list(self.references)}
        return dict(clean(d))


def summarize(path: str | Path, *, top: int = 20) -> ExampleSummary:
    """Summary of the table at ``path`` (raises :class:`gapwatch.errors.GapwatchError` if unreadable)."""
    from .derive import DIRECTIONS, analyze_examples
    from .table import load

    tables = load(path)
    a = analyze_examples(tables)
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
    return ExampleSummary(path=str(path), n=a.n, epochs=a.n_epochs, early_epochs=a.early, runs=len(tables),
                          default_score=a.default_score, cutoff=a.cutoff, cutoff_rule=a.cutoff_rule,
                          separability=a.separability, cutoff_reliable=a.cutoff_reliable, counts=counts,
                          top_suspicious=rows, histograms=hists)


def summary_beside(log_path: str | Path, *, top: int = 20) -> ExampleSummary | None:
    """Summary of the example table next to a log, or None when there is none; a table that cannot be read
    gives an ExampleSummary with ``error`` set."""
    path = find_beside(log_path)
    if path is None:
        return None
    try:
        return summarize(path, top=top)
    except GapwatchError as exc:
        return ExampleSummary(path=str(path), error=str(exc))
