"""Generic CSV logs.

* **wide**: an ``epoch`` and/or ``step`` column plus metric columns (``train_loss``, ``val_loss``,
  ``val_acc``, ``test_acc``, ``val_pgd_acc``…). Empty cells are "not logged at this row" (sparse rows).
  Epochs are taken as written.
* **long**: columns ``step`` (and/or ``epoch``), ``split``, ``metric``, ``value``; an optional ``run`` column
  makes one file hold several runs.

Comma, tab and semicolon separators are recognised from the header. ``nan``, ``inf`` and ``-inf`` cells are kept
(they are evidence); ``none``/``null``/blank mean "not logged". A non-numeric cell raises :class:`InputError`
naming the file, the line (1-based, header = line 1) and the column; a row with more cells than the header
names its line too. A last line without a line end is a line cut off by a crash or a run still writing (every
CSV logger ends each row with one): it is ignored, with a note. Names are read with
:func:`gapwatch.names.normalize_columns` (all columns of the file together).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..history import HistoryNote
from ..names import SPLIT_ALIASES, normalize, normalize_columns
from ._parts import Parts
from .base import FunctionReader

NAME = "csv"

_X_COLUMNS = ("epoch", "step", "global_step", "iteration", "iter")
_BLANK = frozenset({"", "none", "null"})


def _delimiter(first: str) -> str | None:
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    d = max(counts, key=lambda k: counts[k])
    return d if counts[d] else None


def _header(head: str) -> list[str] | None:
    first = head.splitlines()[0] if head.strip() else ""
    delim = _delimiter(first)
    if delim is None:
        return None
    try:
        row = next(csv.reader(io.StringIO(first), delimiter=delim))
    except (csv.Error, StopIteration):
        return None
    return [c.strip().lower() for c in row]


def sniff(path: Path, head: str) -> bool:
    if not path.is_file():
        return False
    cols = _header(head)
    if not cols:
        return False
    if {"split", "metric", "value"} <= set(cols):
        return True
    return any(c in _X_COLUMNS for c in cols) and len(cols) >= 2


class Table:
    """A CSV as columns of strings: ``columns`` (header order), ``cells[col]`` (object array ``(n,)``) and
    ``lines`` (the 1-based file line of each row, for error messages)."""

    def __init__(self, path: Path, columns: list[str], cells: dict[str, np.ndarray], lines: np.ndarray,
                 notes: list[str] | None = None) -> None:
        self.path = path
        self.columns = columns
        self.cells = cells
        self.lines = lines
        self.notes = notes if notes is not None else []

    def subset(self, mask: np.ndarray) -> Table:
        """The rows where ``mask`` (shape ``(n,)``) is True."""
        return Table(self.path, self.columns, {c: v[mask] for c, v in self.cells.items()}, self.lines[mask],
                     self.notes)

    def part_notes(self, run: str) -> list[HistoryNote]:
        return [HistoryNote(run, n, str(self.path)) for n in self.notes]

    def __len__(self) -> int:
        return int(self.lines.shape[0])

    def lower(self) -> dict[str, str]:
        return {c.lower(): c for c in self.columns}

    def numeric(self, col: str) -> np.ndarray:
        """Column → float array; blank/none/null → NaN; nan/inf kept; anything else → InputError."""
        return to_numeric(self.cells[col], col, self.path, self.lines)

    def logged(self, col: str) -> np.ndarray:
        """True where the cell is not blank."""
        s = self.cells[col]
        return np.fromiter((v.strip().lower() not in _BLANK for v in s), dtype=bool, count=s.shape[0])


def _read_text(path: Path) -> str:
    """The file as text: UTF-8 (BOM removed), CR-only line ends made ``\\n``; NUL bytes refused."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file (byte {exc.start}: {exc.reason})", path=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a CSV file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None
    if "\x00" in text:
        raise InputError("binary data (NUL bytes), expected a CSV text file", path=path)
    text = text.lstrip("\ufeff")
    if "\n" not in text:
        text = text.replace("\r", "\n")  # old Mac line ends (CR only)
    return text


def _body(rdr: Any, ncol: int, path: Path) -> tuple[list[list[str]], list[int]]:
    """The data rows (padded to ``ncol`` cells) and their 1-based line numbers."""
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in rdr:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < ncol:
                row = row + [""] * (ncol - len(row))
            elif len(row) > ncol:
                if any(c.strip() for c in row[ncol:]):
                    raise InputError(f"{len(row)} cells but the header has {ncol} columns", path=path,
                                     line=rdr.line_num)
                row = row[:ncol]
            rows.append(row)
            lines.append(rdr.line_num)
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", path=path, line=rdr.line_num) from None
    return rows, lines


def read_table(path: Path) -> Table:
    """Read a CSV file into a :class:`Table` with clear errors (never a parser traceback)."""
    text = _read_text(path)
    delim = _delimiter(text.split("\n", 1)[0]) or ","
    rdr = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        header = next(rdr)
    except StopIteration:
        raise InputError("empty CSV file (no header line)", path=path) from None
    except csv.Error as exc:
        raise InputError(f"malformed CSV header ({exc})", path=path, line=1) from None
    columns = [h.strip() for h in header]
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise InputError(f"duplicate column name(s) {dup} in the header", path=path, line=1)
    ncol = len(columns)
    rows, lines = _body(rdr, ncol, path)
    notes: list[str] = []
    if rows and not text.endswith(("\n", "\r")):
        notes.append(f"line {lines[-1]}, the last, has no line end: a line cut off by a crash or a run still "
                     "writing; it was ignored")
        rows.pop()
        lines.pop()
    if rows:
        grid = np.empty((len(rows), ncol), dtype=object)
        grid[:] = rows
        cells = {c: grid[:, j] for j, c in enumerate(columns)}
    else:
        cells = {c: np.empty(0, dtype=object) for c in columns}
    return Table(path, columns, cells, np.asarray(lines, dtype=np.int64), notes)


def to_numeric(cells: np.ndarray, col: str, path: Path, lines: np.ndarray) -> np.ndarray:
    """Strings → float array; blanks → NaN; a non-numeric cell raises InputError naming line and column."""
    n = cells.shape[0]
    try:
        return np.asarray(cells, dtype=float)  # fast path: every cell numeric (incl. nan/inf)
    except (ValueError, TypeError):
        pass
    out = np.empty(n, dtype=float)
    for i, v in enumerate(cells):
        s = str(v).strip()
        if s.lower() in _BLANK:
            out[i] = np.nan
            continue
        try:
            out[i] = float(s)
        except ValueError:
            raise InputError(f"column {col!r}: expected a number, got {s!r}", path=path,
                             line=int(lines[i])) from None
    return out


def read_parts(path: Path, run: str) -> list[Parts]:
    """The run(s) in a CSV file: one for a wide CSV, one per ``run`` value for a long CSV with that column."""
    t = read_table(path)
    lower = t.lower()
    if {"split", "metric", "value"} <= set(lower):
        return _long_parts(t, run)
    if "run" in lower:  # a wide CSV holding several runs, told apart by a run column
        col = t.cells[lower["run"]]
        names = np.asarray([str(v).strip() for v in col], dtype=object)
        out = [wide_parts(t.subset(names == name), str(name) or run) for name in dict.fromkeys(names.tolist())]
        return out or [wide_parts(t, run)]
    return [wide_parts(t, run)]


def x_columns(t: Table) -> tuple[np.ndarray, np.ndarray]:
    """``(step, epoch)`` arrays from the table's step-like and epoch columns (NaN when absent)."""
    lower = t.lower()
    n = len(t)
    step = np.full(n, np.nan)
    epoch = np.full(n, np.nan)
    for k in ("step", "global_step", "iteration", "iter"):
        if k in lower:
            step = t.numeric(lower[k])
            break
    if "epoch" in lower:
        epoch = t.numeric(lower["epoch"])
    return step, epoch


def wide_parts(t: Table, run: str, *, default_split: str = "train", epoch_offset: float = 0.0,
               rename: dict[str, tuple[str, str]] | None = None, epoch: np.ndarray | None = None) -> Parts:
    """Wide table → :class:`Parts` (shared by the Keras, Lightning and history-CSV readers).

    Args:
        epoch_offset: added to the epoch column (Keras writes 0-based epochs: 1.0 makes them 1-based).
        rename: column → ``(split, metric)`` overriding :func:`normalize_columns` for that column.
        epoch: the epoch of each row, shape ``(n,)``, for a table without an epoch column.
    """
    step, ep = x_columns(t)
    ep = (ep if epoch is None else epoch) + epoch_offset
    parts = Parts(run, str(t.path), notes=t.part_notes(run))
    rename = rename or {}
    read = normalize_columns([c for c in t.columns if c.lower() not in _X_COLUMNS and c not in rename],
                             default_split)
    for col in t.columns:
        if col.lower() in _X_COLUMNS or (col not in read and col not in rename):
            continue
        vals = t.numeric(col)
        logged = t.logged(col)
        if not logged.any():
            continue
        split, metric = rename.get(col) or read[col]
        parts.add(step[logged], ep[logged], split, metric, vals[logged], col)
    return parts


def _long_parts(t: Table, run: str) -> list[Parts]:
    lower = t.lower()
    step, epoch = x_columns(t)
    splits = np.asarray([str(v).strip() for v in t.cells[lower["split"]]], dtype=str)
    metrics = np.asarray([str(v).strip() for v in t.cells[lower["metric"]]], dtype=str)
    vals = t.numeric(lower["value"])
    runs = (np.asarray([str(v).strip() for v in t.cells[lower["run"]]], dtype=str) if "run" in lower
            else np.full(len(t), run, dtype=object).astype(str))
    if len(t) == 0:
        return [Parts(run, str(t.path), notes=t.part_notes(run))]
    empty = np.flatnonzero((np.char.str_len(splits) == 0) | (np.char.str_len(metrics) == 0))
    if empty.size:
        raise InputError("empty 'split' or 'metric' cell", path=t.path, line=int(t.lines[empty[0]]))
    key = np.char.add(np.char.add(np.char.add(runs, "\x1f"), np.char.add(splits, "\x1f")), metrics)
    _, inv = np.unique(key, return_inverse=True)
    inv = inv.ravel()
    order = np.argsort(inv, kind="stable")
    bounds = np.flatnonzero(np.diff(inv[order])) + 1
    by_run: dict[str, Parts] = {}
    groups = np.split(order, bounds)
    for sel in sorted(groups, key=lambda g: int(g[0])):
        r, sp, m = str(runs[sel[0]]), str(splits[sel[0]]), str(metrics[sel[0]])
        first_tok = m.lower().replace("/", "_").split("_")[0]
        split, metric = normalize(m if first_tok in SPLIT_ALIASES else f"{sp}_{m}", default_split=sp)
        p = by_run.setdefault(r, Parts(r, str(t.path), notes=t.part_notes(r)))
        p.add(step[sel], epoch[sel], split, metric, vals[sel], f"{sp}_{m}")
    return list(by_run.values())


READER = FunctionReader(NAME, sniff, read_parts, "generic wide or long CSV with an epoch/step column")
