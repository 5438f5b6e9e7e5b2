"""Per-epoch CSV tables **without an epoch column**: one row per epoch, one column per metric.

The most common way Keras users save a history is ``pd.DataFrame(history.history).to_csv("history.csv")``,
which writes pandas' row index as a first column with a **blank** header cell::

    ,acc,loss,val_acc,val_loss
    0,0.6401,0.6800,0.6732,0.6587
    1,0.6401,0.6688,0.6732,0.6535

(``to_csv(index=False)``, or a hand-written ``loss,val_loss`` table, has no index column.) Row *i* (0-based
index *i*) is epoch *i + 1*, the 1-based epoch every gapwatch reader reports (Keras's ``history.history``
lists hold one value per epoch, first epoch first). A file re-saved by pandas names the index column
``Unnamed: 0``; it is read the same way. Where the index goes back to its first value (two histories
concatenated) a new run starts, named ``<run>#1``, ``<run>#2``… with a note, as for Keras ``append=True``.

Recognised by its header and first row: no epoch/step column, every other column a metric or bookkeeping
name and at least one a known measure (``loss``, ``acc``…, see :mod:`gapwatch.names`), and a first data row
of numbers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..names import METRIC_ALIASES, normalize, role
from ._parts import Parts, restart_note, restarts
from .base import FunctionReader
from .generic_csv import _X_COLUMNS, Table, _delimiter, read_table, wide_parts

NAME = "history-csv"

_INDEX_NAMES = ("", "unnamed: 0", "index")
_MEASURES = frozenset(METRIC_ALIASES.values())


def _rows(head: str, n: int) -> list[list[str]]:
    """The first ``n`` non-blank rows of ``head`` (a file written with ``\\r\\r\\n`` line ends — ``to_csv`` on
    Windows into a file opened in text mode — has a blank line after each row)."""
    lines = [ln for ln in head.splitlines() if ln.strip()][:n]
    delim = _delimiter(lines[0]) if lines else None
    if delim is None:
        return []
    try:
        return list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delim))
    except csv.Error:
        return []


def _is_number(cell: str) -> bool:
    t = cell.strip()
    if not t:
        return True
    try:
        float(t)
    except ValueError:
        return False
    return True


def sniff(path: Path, head: str) -> bool:
    if not path.is_file():
        return False
    rows = _rows(head, 2)
    if len(rows) < 2 or len(rows[0]) < 1:
        return False
    cols = _metric_columns(rows[0])
    if cols is None:
        return False
    return _measured(cols) and len(rows[1]) == len(rows[0]) and all(_is_number(c) for c in rows[1])


def _metric_columns(header: list[str]) -> list[str] | None:
    """The header's columns (lower-cased, an index column dropped); None when one is empty, an x column
    (epoch, step…) or a metric not starting with a letter."""
    cols = [c.strip().lower() for c in header]
    if cols and cols[0] in _INDEX_NAMES:
        cols = cols[1:]
    if not cols or any(not c or c in _X_COLUMNS for c in cols):
        return None
    if any(role(c) == "metric" and not c[0].isalpha() for c in cols):
        return None
    return cols


def _measured(cols: list[str]) -> bool:
    """A metric column is a known measure (a loss, accuracy…)."""
    return any("loss" in c or normalize(c)[1] in _MEASURES for c in cols if role(c) == "metric")


def read_parts(path: Path, run: str) -> list[Parts]:
    t = read_table(Path(path))
    first = t.columns[0]
    if first.strip().lower() in _INDEX_NAMES:
        index = t.numeric(first)
        t = Table(t.path, t.columns[1:], {c: t.cells[c] for c in t.columns[1:]}, t.lines, t.notes)
    else:
        index = np.arange(len(t), dtype=float)
    spans = restarts(index)
    if len(spans) == 1:
        return [wide_parts(t, run, epoch=index + 1.0)]
    starts = [int(t.lines[a]) for a, _ in spans[1:]]
    rows = np.arange(len(t))
    out = []
    for k, (a, b) in enumerate(spans, start=1):
        name = f"{run}#{k}"
        m = (rows >= a) & (rows < b)
        p = wide_parts(t.subset(m), name, epoch=index[m] + 1.0)
        p.notes.append(restart_note(name, str(path), starts, "line"))
        out.append(p)
    return out


READER = FunctionReader(NAME, sniff, read_parts,
                        "per-epoch CSV without an epoch column (pd.DataFrame(history.history).to_csv())")
