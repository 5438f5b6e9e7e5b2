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
import itertools
import re
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from .. import schedule
from ..errors import InputError
from ..history import HistoryNote, absent_axis
from ..names import SPLIT_ALIASES, is_measure, metric_mode, normalize, normalize_columns, role
from ._parts import Parts, restart_note, restarts, zero_placeholders
from .base import FunctionReader

NAME = "csv"

#: Columns that count the evaluations (``training_iteration``: Ray Tune's count of a trial's reports).
_X_COLUMNS = ("epoch", "step", "global_step", "iteration", "iter", "training_iteration")
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


def file_header(path: Path, head: str) -> list[str] | None:
    """The lower-cased header cells of a CSV file's ``head`` (None for a directory or no header): the one
    check every CSV sniffer starts with."""
    if not path.is_file():
        return None
    return _header(head) or None


def sniff(path: Path, head: str) -> bool:
    cols = file_header(path, head)
    if not cols:
        return False
    if {"split", "metric", "value"} <= set(cols):
        return True
    return any(c in _X_COLUMNS for c in cols) and len(cols) >= 2


#: Data rows parsed before they are converted to numbers (memory: the text of one batch, whatever the file's
#: size; each numeric cell is then kept as 9 bytes, a float64 and a "logged" flag).
BATCH_ROWS = 65536
#: Columns kept as text (interned: one integer code per row) rather than numbers: they name runs and series.
#: Columns that may say which split a row measures (a long table: ``Epoch,Phase,Loss,Accuracy`` with one train and
#: one test row per epoch; :func:`phase_parts`).
PHASE_COLUMNS = frozenset({"phase", "split", "mode", "stage", "subset", "set"})
#: Columns that tell apart runs held in one wide table: a run's name, or the fold of a cross-validation
#: (``fold,epoch,cls,box,val_f1`` with the epochs restarting per fold, and a ``Final`` run on all the data).
RUN_COLUMNS = ("run", "fold")
TEXT_COLUMNS = frozenset({"split", "metric", *RUN_COLUMNS} | PHASE_COLUMNS)


class NumColumn:
    """A numeric CSV column: ``values`` (float, NaN where blank), ``logged`` (False where blank), both of shape
    ``(n,)``, and the first non-numeric cell, if any (``bad``: ``(text, line)``), raised only when the column
    is used as numbers (a bookkeeping text column such as a timestamp is never used)."""

    def __init__(self, values: np.ndarray, logged: np.ndarray, bad: tuple[str, int] | None = None) -> None:
        self.values = values
        self.logged = logged
        self.bad = bad

    def __getitem__(self, mask: np.ndarray) -> NumColumn:
        return NumColumn(self.values[mask], self.logged[mask], self.bad)

    def __len__(self) -> int:
        return int(self.values.shape[0])


class CodeColumn:
    """A text CSV column stored as integer ``codes`` (shape ``(n,)``) into ``uniques`` (each distinct cell once)."""

    def __init__(self, codes: np.ndarray, uniques: np.ndarray) -> None:
        self.codes = codes
        self.uniques = uniques

    def __getitem__(self, mask: np.ndarray) -> CodeColumn:
        return CodeColumn(self.codes[mask], self.uniques)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __iter__(self) -> Any:
        return iter(self.strings().tolist())

    def strings(self) -> np.ndarray:
        """The cells as an object array of strings, shape ``(n,)``."""
        return np.asarray(self.uniques[self.codes], dtype=object)


#: A column of a :class:`Table`: the raw cells (object array of strings: ``watch``'s tailer builds these),
#: numbers, or interned text.
Column = np.ndarray | NumColumn | CodeColumn


class Table:
    """A CSV as columns: ``columns`` (header order), ``cells[col]`` (a :data:`Column` of shape ``(n,)``) and
    ``lines`` (the 1-based file line of each row, for error messages)."""

    def __init__(self, path: Path, columns: list[str], cells: dict[str, Any], lines: np.ndarray,
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
        v = self.cells[col]
        if isinstance(v, NumColumn):
            if v.bad is not None:
                raise InputError(f"column {col!r}: expected a number, got {v.bad[0]!r}{_conflict_hint(v.bad[0])}",
                                 path=self.path, line=v.bad[1])
            return v.values
        return to_numeric(self.strings(col), col, self.path, self.lines)

    def logged(self, col: str) -> np.ndarray:
        """True where the cell is not blank."""
        v = self.cells[col]
        if isinstance(v, NumColumn):
            return v.logged
        s = self.strings(col)
        return np.fromiter((x.strip().lower() not in _BLANK for x in s), dtype=bool, count=s.shape[0])

    def strings(self, col: str) -> np.ndarray:
        """Column → object array of its cells as text (numbers as Python writes them, blanks as ``""``)."""
        v = self.cells[col]
        if isinstance(v, CodeColumn):
            return v.strings()
        if isinstance(v, NumColumn):
            return np.asarray([repr(x) if ok else "" for x, ok in zip(v.values.tolist(), v.logged.tolist())],
                              dtype=object)
        return np.asarray(v, dtype=object)

    def text(self, col: str) -> tuple[np.ndarray, list[str]]:
        """Column → ``(codes, values)``: each row's index (shape ``(n,)``) into its distinct stripped cells."""
        v = self.cells[col]
        if not isinstance(v, CodeColumn):
            u, inv = np.unique(np.asarray([str(x) for x in self.strings(col)], dtype=object), return_inverse=True)
            v = CodeColumn(inv.ravel().astype(np.int64), u)
        stripped = [str(x).strip() for x in v.uniques.tolist()]
        vals = list(dict.fromkeys(stripped))
        pos = {x: i for i, x in enumerate(vals)}
        remap = np.asarray([pos[x] for x in stripped], dtype=np.int64)
        return (remap[v.codes] if remap.size else np.zeros(0, np.int64)), vals


def _lines_binary(fh: IO[bytes], cr_only: bool) -> Iterator[bytes]:
    """The file's lines as bytes, each with its line end; ``cr_only``: lines end in ``\r`` (old Mac)."""
    if not cr_only:
        yield from fh
        return
    rest = b""
    while True:
        chunk = fh.read(1 << 20)
        if not chunk:
            break
        pieces = (rest + chunk).split(b"\r")
        rest = pieces.pop()
        for p in pieces:
            yield p + b"\n"
    if rest:
        yield rest


def _resume(buf: bytes, it: Iterator[bytes]) -> Iterator[bytes]:
    """The lines of ``buf`` (bytes read ahead of ``it``, split at ``\n`` only, as a file's lines are), then the
    rest of ``it``; ``buf``'s unfinished last line is joined to the next line of ``it``."""
    *full, last = buf.split(b"\n")
    for ln in full:
        yield ln + b"\n"
    if last:
        yield last + next(it, b"")
    yield from it


class _Source:
    """Decoded lines of a CSV file for :mod:`csv`, one at a time: UTF-8 (a BOM removed), NUL bytes refused,
    undecodable bytes named by their byte offset; ``ended`` says whether the last line read had a line end."""

    def __init__(self, fh: IO[bytes], path: Path) -> None:
        self.path = path
        self.fh = fh
        head = fh.peek(1 << 16)[: 1 << 16] if hasattr(fh, "peek") else b""
        self.cr_only = b"\n" not in head and b"\r" in head
        self._it = _lines_binary(fh, self.cr_only)
        self.pos = 0
        self.ended = True
        self.first = True
        self.failed = False

    def __iter__(self) -> _Source:
        return self

    def it_prepend(self, buf: bytes) -> None:
        """Bytes read ahead from the file come before its remaining lines."""
        if buf:
            self._it = _resume(buf, self._it)

    def __next__(self) -> str:
        b = next(self._it)
        start = self.pos
        self.pos += len(b)
        if self.first:
            self.first = False
            if b.startswith(b"\xef\xbb\xbf"):
                b, start = b[3:], start + 3
        if b"\x00" in b:
            self.failed = True
            raise InputError("binary data (NUL bytes), expected a CSV text file", path=self.path)
        try:
            line = b.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.failed = True
            raise InputError(f"not a UTF-8 text file (byte {start + exc.start}: {exc.reason})",
                             path=self.path) from None
        self.ended = line.endswith(("\n", "\r"))
        return line


class _Builder:
    """Rows → columns, a batch at a time (numbers for value columns, codes for :data:`TEXT_COLUMNS`)."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        self.text = [c.lower() in TEXT_COLUMNS for c in columns]
        self.rows: list[list[str]] = []
        self.lines: list[int] = []
        # growing columns (array.array: realloc in place, no joined copy at the end; numpy views at the end)
        self.all_lines = array("q")
        self.values = [array("d") for _ in columns]
        self.logged = [array("B") for _ in columns]
        self.bad: list[tuple[str, int] | None] = [None] * len(columns)
        self.codes = [array("q") for _ in columns]
        self.index: list[dict[str, int]] = [{} for _ in columns]
        self.header_lines: list[int] = []  # lines that repeat the header (runs appended by to_csv(mode="a"))
        self._header = np.asarray([c.strip() for c in columns], dtype=object)

    def add(self, row: list[str], line: int) -> None:
        self.rows.append(row)
        self.lines.append(line)
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        grid = np.empty((len(self.rows), len(self.columns)), dtype=object)
        grid[:] = self.rows
        lines = np.asarray(self.lines, dtype=np.int64)
        self.rows, self.lines = [], []
        self.add_grid(grid, lines)

    def add_grid(self, grid: np.ndarray, lines: np.ndarray) -> None:
        """Rows given as an object array of cells ``(n, ncol)`` and their file lines ``(n,)`` (after any rows
        added one by one)."""
        self.flush()
        if grid.shape[0] and len(self.columns) > 1:
            maybe = np.flatnonzero(grid[:, 0] == self._header[0])  # (elementwise, in C: no Python loop per row)
            if maybe.size:
                again = [int(i) for i in maybe if [str(v).strip() for v in grid[i]] == list(self._header)]
                if again:
                    self.header_lines.extend(int(lines[i]) for i in again)
                    keep = np.ones(grid.shape[0], dtype=bool)
                    keep[again] = False
                    grid, lines = grid[keep], lines[keep]
        _grow(self.all_lines, lines)
        for j in range(len(self.columns)):
            if self.text[j]:
                idx = self.index[j]
                _grow(self.codes[j], np.fromiter((idx.setdefault(v, len(idx)) for v in grid[:, j]),
                                                 dtype=np.int64, count=grid.shape[0]))
            else:
                self._numbers(j, grid[:, j], lines)

    def _numbers(self, j: int, cells: np.ndarray, lines: np.ndarray) -> None:
        n = cells.shape[0]
        try:
            vals = np.asarray(cells, dtype=float)  # fast path: every cell numeric (incl. nan/inf)
            logged = np.ones(n, dtype=bool)
        except (ValueError, TypeError):
            vals = np.full(n, np.nan)
            logged = np.zeros(n, dtype=bool)
            for i, v in enumerate(cells.tolist()):
                t = v.strip()
                if t.lower() in _BLANK:
                    continue
                logged[i] = True
                try:
                    vals[i] = float(t)
                except ValueError:
                    if self.bad[j] is None:
                        self.bad[j] = (t, int(lines[i]))
        _grow(self.values[j], vals)
        _grow(self.logged[j], logged)

    def table(self, notes: list[str]) -> Table:
        self.flush()
        if self.header_lines:
            k = len(self.header_lines)
            notes.append(f"line {self.header_lines[0]}: the header repeats ({k} time{'s' if k > 1 else ''}): runs "
                         "appended to one file (pandas to_csv(mode='a') writes its header each time); those lines "
                         "were skipped")
        cells: dict[str, Any] = {}
        for j, c in enumerate(self.columns):  # numpy views of the grown columns (no copy)
            if self.text[j]:
                cells[c] = CodeColumn(np.frombuffer(self.codes[j], np.int64),
                                      np.asarray(list(self.index[j]), dtype=object))
            else:
                cells[c] = NumColumn(np.frombuffer(self.values[j], float), np.frombuffer(self.logged[j], bool),
                                     self.bad[j])
        return Table(self.path, self.columns, cells, np.frombuffer(self.all_lines, np.int64), notes)


_CONFLICT_MARKER = re.compile(r"^(<{7}|={7}|>{7})( |$)")


def _conflict_hint(cell: str) -> str:
    """What to add to a bad cell's message when the cell is a git merge-conflict marker (``<<<<<<< HEAD``,
    ``=======``, ``>>>>>>> <sha>``): the file holds two versions of its rows. :func:`gapwatch.readers.read_parts`
    reads a complete conflict as one run per side (:mod:`gapwatch.readers._conflict`); an incomplete one is
    refused with this hint."""
    if _CONFLICT_MARKER.match(cell.strip()):
        return " (a git merge-conflict marker: the file holds two versions of these rows; resolve the conflict)"
    return ""


def _grow(col: array[Any], x: np.ndarray) -> None:
    """Append the values of ``x`` (of ``col``'s item type) to ``col``."""
    col.frombytes(np.ascontiguousarray(x).tobytes())  # one batch: a small copy


def _open(path: Path) -> IO[bytes]:
    try:
        return open(path, "rb")
    except IsADirectoryError:
        raise InputError("is a directory, expected a CSV file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None


def fit_row(row: list[str], ncol: int, path: Path, line: int) -> list[str]:
    """A data row padded (or cut, when the extra cells are blank) to ``ncol`` cells."""
    if len(row) < ncol:
        return row + [""] * (ncol - len(row))
    if len(row) > ncol:
        if any(c.strip() for c in row[ncol:]):
            raise InputError(f"{len(row)} cells but the header has {ncol} columns", path=path, line=line)
        return row[:ncol]
    return row


def read_table(path: Path) -> Table:
    """Read a CSV file into a :class:`Table` with clear errors (never a parser traceback), streaming: the file
    is read line by line and converted :data:`BATCH_ROWS` rows at a time, so memory grows with the numbers
    kept (about 9 bytes a cell), not with the text (UTF-8, BOM removed, CR-only line ends read as line ends,
    NUL bytes refused)."""
    with _open(path) as fh:
        src = _Source(fh, path)
        try:
            first = next(src)
        except StopIteration:
            raise InputError("empty CSV file (no header line)", path=path) from None
        except OSError as exc:
            raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None
        delim = _delimiter(first.split("\n", 1)[0]) or ","
        rdr = csv.reader(itertools.chain([first], src), delimiter=delim)
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
        builder = _Builder(path, columns)
        offset = 0
        if not src.cr_only and rdr.line_num == 1 and len(columns) > 1:
            offset = _fast_rows(src, delim, builder) + 1  # + the header: rdr.line_num restarts at 0
            rdr = csv.reader(src, delimiter=delim)
        notes: list[str] = []
        try:
            pending = _body(rdr, len(columns), path, builder, offset, notes)
        except InputError:
            if not src.failed:
                for _ in src:  # undecodable bytes or NUL later in the file are named first (as a whole-file read)
                    pass
            raise
    if pending is not None:
        if src.ended:
            builder.add(*pending)
        else:
            notes.append(f"line {pending[1]}, the last, has no line end: a line cut off by a crash or a run "
                         "still writing; it was ignored")
    return builder.table(notes)


#: The fast path reads the data lines this many bytes at a time (memory: the cells of one block, as str objects
#: about 8x the block).
FAST_BLOCK_BYTES = 1 << 18
#: :mod:`csv`'s default field size limit (characters): a longer line goes to the csv module, which says so.
_CSV_FIELD_LIMIT = 131072


def _fast_rows(src: _Source, delim: str, builder: _Builder) -> int:
    """Feed the data rows after the header to ``builder`` a block of :data:`FAST_BLOCK_BYTES` at a time
    while the lines are plain (no quote, no CR, no NUL, valid UTF-8, each with exactly one cell per header
    column and a line end): ``str.split`` then gives exactly the cells :mod:`csv` would, without a Python
    call per row (~10x faster on a Keras CSVLogger file). The first block that is not plain, and the last
    line when it has no line end, are handed back to ``src`` for :func:`_body`. Returns the number of lines
    read here (header excluded)."""
    ncol = len(builder.columns)
    sep = ord(delim)
    done = 0
    buf = b""
    while True:
        more = src.fh.read(FAST_BLOCK_BYTES)
        buf += more
        cut = buf.rfind(b"\n") + 1
        block = buf[:cut]
        if not more or not block or not _plain(block, sep, ncol):
            src.it_prepend(buf)
            return done
        buf = buf[cut:]
        text = block.decode("utf-8")  # checked by _plain
        cells = text[:-1].replace("\n", delim).split(delim)
        grid = np.asarray(cells, dtype=object).reshape(-1, ncol)
        builder.add_grid(grid, np.arange(done + 2, done + 2 + grid.shape[0], dtype=np.int64))
        done += grid.shape[0]
        src.pos += cut


def _plain(block: bytes, sep: int, ncol: int) -> bool:
    """``block`` (whole lines) can be split without :mod:`csv`: no quote, CR or NUL byte, valid UTF-8, no line
    over the csv module's field limit, and ``ncol - 1`` separators on every line."""
    if b'"' in block or b"\r" in block or b"\x00" in block:
        return False
    try:
        block.decode("utf-8")
    except UnicodeDecodeError:
        return False
    a = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(a == 10)
    if int(np.diff(ends, prepend=-1).max()) > _CSV_FIELD_LIMIT:
        return False
    per_line = np.diff(np.searchsorted(np.flatnonzero(a == sep), ends), prepend=0)
    return bool((per_line == ncol - 1).all())


def _body(rdr: Any, ncol: int, path: Path, builder: _Builder, offset: int = 0,
          notes: list[str] | None = None) -> tuple[list[str], int] | None:
    """Feed the data rows to ``builder``, one row behind: the last row is returned (kept only if the file ends
    with a line end). ``offset``: data lines read before ``rdr`` started (by :func:`_fast_rows`). Up to
    :data:`MAX_CLOSING_ROWS` rows at the very end with more cells than the header (rows of another run appended
    with other columns) are left out with a note in ``notes``, after at least :data:`MIN_BODY_ROWS` well-formed
    rows; a row with more cells anywhere else (or after fewer rows) is an error naming its line."""
    pending: tuple[list[str], int] | None = None
    long_rows: list[tuple[int, int]] = []  # (line, cells) of rows with more cells than the header, in order
    good = max(offset - 1, 0)  # well-formed data rows so far (those of the fast path included; not the header)
    try:
        for row in rdr:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            line = rdr.line_num + offset
            if long_rows or (len(row) > ncol and any(c.strip() for c in row[ncol:])):
                long_rows.append((line, len(row)))
                if len(long_rows) > MAX_CLOSING_ROWS or len(row) <= ncol or good < MIN_BODY_ROWS:
                    fit_row(row, ncol, path, line)  # (raises for a long row)
                    raise InputError(f"{long_rows[0][1]} cells but the header has {ncol} columns", path=path,
                                     line=long_rows[0][0])
                continue
            row = fit_row(row, ncol, path, line)
            good += 1
            if pending is not None:
                builder.add(*pending)
            pending = (row, line)
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", path=path, line=rdr.line_num + offset) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None
    if long_rows and notes is not None:
        notes.append(f"line {long_rows[0][0]}: {len(long_rows)} closing row(s) with {long_rows[0][1]} cells where "
                     f"the header has {ncol} columns (rows of another run appended?); left out")
    return pending


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
            raise InputError(f"column {col!r}: expected a number, got {s!r}{_conflict_hint(s)}", path=path,
                             line=int(lines[i])) from None
    return out


def read_parts(path: Path, run: str) -> list[Parts]:
    """The run(s) in a CSV file: one for a wide CSV, one per ``run`` value for a long CSV with that column."""
    return _table_runs(read_table(path), run, Path(path))


#: Most rows at the end of a CSV whose epoch/step cell is text that are read as a closing summary (``Final
#: Metrics,Accuracy: 0.97,…`` after the last epoch) and left out with a note, rather than refusing the file.
MAX_CLOSING_ROWS = 2
#: Well-formed data rows a CSV must hold before its closing rows with more cells than the header are left out
#: rather than refused (a table of one good row and one ragged row is a damaged file, not a run with an appendix).
MIN_BODY_ROWS = 5


def closing_rows_dropped(t: Table) -> Table:
    """``t`` without a closing summary: up to :data:`MAX_CLOSING_ROWS` last rows whose epoch (or step) cell is text
    after rows where it is a number (``Final Metrics,Accuracy: 0.9679,…``), with a note naming the first of them;
    ``t`` itself otherwise (an epoch cell of text anywhere else stays an error naming its line)."""
    lower = t.lower()
    x = next((lower[c] for c in _X_COLUMNS if c in lower), None)
    col = t.cells.get(x) if x is not None else None
    if not isinstance(col, NumColumn) or col.bad is None or len(t) < 2:
        return t
    text, line = col.bad
    keep = t.lines < line
    if int((~keep).sum()) > MAX_CLOSING_ROWS or not keep.any() or not np.isfinite(col.values[keep]).any():
        return t
    cells = {c: (NumColumn(v.values[keep], v.logged[keep], v.bad if v.bad is None or v.bad[1] < line else None)
                 if isinstance(v, NumColumn) else v[keep]) for c, v in t.cells.items()}
    note = (f"line {line}: a closing summary row ({text[:40]!r} where {x!r} holds a number), not a logged "
            f"{x}; left out")
    return Table(t.path, t.columns, cells, t.lines[keep], [*t.notes, note])


def _table_runs(t: Table, run: str, path: Path) -> list[Parts]:
    """The run(s) of a table read from ``path``."""
    t = closing_rows_dropped(t)
    lower = t.lower()
    if {"split", "metric", "value"} <= set(lower):
        return _long_parts(t, run)
    by = next((c for c in RUN_COLUMNS if c in lower), None)
    if by is not None:  # a wide CSV holding several runs, told apart by a run (or fold) column
        codes, names = t.text(lower[by])
        order = list(dict.fromkeys(codes.tolist()))  # runs in order of first row
        label = (lambda k: names[k] or run) if by == "run" else (lambda k: f"{run}#{by} {names[k]}")
        out = [wide_parts(t.subset(codes == k), label(k)) for k in order]
        return out or [wide_parts(t, run)]
    phased = phase_parts(t, run)
    if phased is not None:
        return [phased]
    staged = stage_runs(t, run)
    if staged:
        return staged
    rename = eval_measures(t.columns)
    split = stem_split(Path(path), t.columns)
    _, epoch = x_columns(t)
    spans = _same_kind_restarts(t, restarts(epoch))
    if len(spans) > 1:  # runs appended to one file: a new one wherever the epoch goes back to its first value
        out = launch_parts(t, spans, run, lambda sub, name: wide_parts(sub, name, default_split=split, rename=rename))
        for part in out:
            _eval_note(part, rename)
            zero_placeholders(part)
        return out
    parts = wide_parts(t, run, default_split=split, rename=rename)
    _eval_note(parts, rename)
    zero_placeholders(parts)
    _ultralytics_args(Path(path), parts, t.columns, epoch)
    return [parts]


def launch_parts(t: Table, spans: list[tuple[int, int]], run: str,
                 make: Callable[[Table, str], Parts]) -> list[Parts]:
    """One :class:`Parts` per launch of a table that several runs appended to: ``spans`` are their row ranges
    (:func:`gapwatch.readers._parts.restarts`), ``make(rows, name)`` reads one launch's rows as run ``<run>#k``, and
    each launch gets the note that names the lines where the others start."""
    starts = [int(t.lines[a]) for a, _ in spans[1:]]
    rows = np.arange(len(t))
    out = []
    for k, (a, b) in enumerate(spans, start=1):
        name = f"{run}#{k}"
        part = make(t.subset((rows >= a) & (rows < b)), name)
        part.notes.append(restart_note(name, str(t.path), starts, "line"))
        out.append(part)
    return out


def _same_kind_restarts(t: Table, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (:func:`restarts`) merged back where the row that starts a span logs a column the span before it
    never logged: that is the next block of one run's rows (a validation row per epoch written after all the
    training rows, epochs 0…29 twice), not a new run that starts again from its first epoch."""
    if len(spans) < 2:
        return spans
    cols = [c for c in t.cells.values() if isinstance(c, NumColumn)]
    out = [spans[0]]
    for a, b in spans[1:]:
        a0 = out[-1][0]
        if all(bool(c.logged[a0:a].any()) for c in cols if c.logged[a]):
            out.append((a, b))
        else:
            out[-1] = (a0, b)
    return out


def _eval_note(parts: Parts, rename: dict[str, tuple[str, str]]) -> None:
    """Say which columns named for no split were read as the evaluation's (:func:`eval_measures`)."""
    if rename:
        parts.notes.append(HistoryNote(parts.run, f"{', '.join(rename)}: named for no split beside a loss named "
                                                  "for the training set, and no held-out column: read as the "
                                                  "evaluation's (validation) measures", parts.source))


def _phase_column(t: Table) -> tuple[str, np.ndarray, list[Any]] | None:
    """The phase column of a non-empty table (:data:`PHASE_COLUMNS`): its name, each row's code and the labels the
    codes index; None without one."""
    lower = t.lower()
    col = next((lower[c] for c in sorted(PHASE_COLUMNS) if c in lower), None)
    if col is None or len(t) == 0:
        return None
    codes, names = t.text(col)
    return col, codes, list(names)


def phase_parts(t: Table, run: str, *, epoch_offset: float = 0.0) -> Parts | None:
    """A table whose phase column (:data:`PHASE_COLUMNS`) holds split names only (two or more of them: ``train``,
    ``test``…): each split's rows are read as that split's measurements of one run (``Loss`` on a ``test`` row is
    the test loss); else None."""
    phase = _phase_column(t)
    if phase is None:
        return None
    col, codes, names = phase
    splits = [SPLIT_ALIASES.get(str(n).strip().lower()) for n in names]
    if any(sp is None for sp in splits) or len({sp for sp in splits}) < 2:
        return None
    out = Parts(run, str(t.path), notes=t.part_notes(run))
    for k, sp in enumerate(splits):
        rows = codes == k
        if rows.any():
            one = wide_parts(t.subset(rows), run, default_split=str(sp), epoch_offset=epoch_offset)
            out.blocks += [b for b in one.blocks if b.name != col]
            out.meta.update(one.meta)
    return out


def stage_runs(t: Table, run: str) -> list[Parts]:
    """A table whose phase column (:data:`PHASE_COLUMNS`) names two or more stages none of which is a split
    (``phase1_event``, ``phase2_tactical``: the stages of a pipeline, each its own model): one run per stage,
    ``<run>/<stage>``, in order of first row; ``[]`` otherwise."""
    phase = _phase_column(t)
    if phase is None:
        return []
    col, codes, names = phase
    if len(names) < 2 or any(SPLIT_ALIASES.get(str(n).strip().lower()) is not None for n in names):
        return []
    order = list(dict.fromkeys(codes.tolist()))
    out = []
    for k in order:
        one = wide_parts(t.subset(codes == k), f"{run}/{str(names[k]).strip() or k}")
        one.blocks = [b for b in one.blocks if b.name != col]
        out.append(one)
    return out


#: Words of a file name that name a held-out split (not ``metrics``, which Ultralytics uses for its validation
#: measures but every logger uses as a file name: ``metrics.csv``).
STEM_SPLITS = frozenset({"val", "valid", "validation", "eval", "evaluation", "test", "testing", "dev"})


def eval_measures(columns: list[str]) -> dict[str, tuple[str, str]]:
    """Column → ``("val", metric)`` for the larger-is-better measures named for no split (``mAP50``,
    ``precision``, ``accuracy``) of a hand-written table whose loss is named for the training set
    (``epoch,lr,train_loss,mAP50,precision,recall``) and that has no held-out column: the writer told the training
    loss apart from the rest, and a detector's mAP is measured on held-out images. Empty when any column names a
    held-out split, no loss names the training set, or no such measure exists."""
    named = {c: normalize(c, "train") for c in columns if c.lower() not in _X_COLUMNS and role(c) == "metric"}
    if any(sp != "train" for sp, _ in named.values()):
        return {}
    explicit = {c for c in named if normalize(c, "val")[0] == "train"}  # (named for the training set itself)
    if not any("loss" in named[c][1] for c in explicit):
        return {}
    return {c: ("val", m) for c, (_, m) in named.items()
            if c not in explicit and is_measure(c) and metric_mode(m) == "max"}


def stem_split(path: Path, columns: list[str]) -> str:
    """The split a file's name gives its unsplit columns: ``valid.log``, ``val_history.csv``, ``test_log.csv`` hold
    a held-out set's measurements when no column names a split (the attention-is-all-you-need-pytorch trainer
    writes ``train.log`` and ``valid.log`` with the same ``epoch,loss,ppl,accuracy`` header); ``"train"`` (the
    default) otherwise."""
    toks = [w for w in re.split(r"[\W_]+", path.stem.lower()) if w]
    held = {SPLIT_ALIASES[w] for w in toks if w in STEM_SPLITS}
    if len(held) != 1 or any(w in SPLIT_ALIASES and SPLIT_ALIASES[w] == "train" for w in toks):
        return "train"
    named = normalize_columns([c for c in columns if c.lower() not in _X_COLUMNS], "train")
    if any(sp != "train" for sp, _ in named.values()) or any(
            re.split(r"[\W_]+", c.lower())[0] in SPLIT_ALIASES for c in columns if c):
        return "train"
    return held.pop()


#: Ultralytics training arguments kept in ``meta[run]["ultralytics"]`` (read by :mod:`gapwatch.schedule`).
ULTRALYTICS_ARGS: tuple[str, ...] = ("epochs", "close_mosaic")
#: Ultralytics' default ``close_mosaic`` (``ultralytics/cfg/default.yaml``: mosaic augmentation off for the last
#: 10 epochs), assumed for a ``results.csv`` committed without its ``args.yaml``.
ULTRALYTICS_DEFAULT_CLOSE_MOSAIC = 10
#: Columns only Ultralytics' own ``results.csv`` (YOLOv8 on) writes beside ``train/…`` losses: ``metrics/mAP50(B)``,
#: ``metrics/accuracy_top1`` (YOLOv5's ``metrics/mAP_0.5`` run never switches mosaic off).
_ULTRALYTICS_METRIC = re.compile(r"^metrics/(mAP50|accuracy_top)")


def _ultralytics_args(path: Path, parts: Parts, columns: list[str] | None = None,
                      epoch: np.ndarray | None = None) -> None:
    """Ultralytics writes ``args.yaml`` (its training arguments) beside ``results.csv``: they become the run's
    hyperparameters (``meta["hparams"]``) and the planned schedule (``meta["ultralytics"]``: ``epochs``,
    ``close_mosaic``). A damaged ``args.yaml`` is a note, never the end of the run's metrics.

    Without ``args.yaml`` (most committed run folders keep only ``results.csv``), an Ultralytics table
    (``train/…`` losses beside ``metrics/mAP50…``/``metrics/accuracy_top1`` columns; ``columns``) is read as a
    finished run with the default ``close_mosaic`` (:data:`ULTRALYTICS_DEFAULT_CLOSE_MOSAIC`): its last logged
    epoch (``epoch``, the table's epoch column, 0- or 1-based) is its planned last, so the switch is placed
    ``close_mosaic - 1`` epochs before it, with ``"assumed": True`` in the meta."""
    f = path.parent / "args.yaml"
    if path.name != "results.csv" or f.is_symlink():
        return
    if not f.is_file():
        _assumed_close_mosaic(parts, columns or [], epoch)
        return
    from .lightning_csv import _hparams  # the bounded, safe YAML reader of hparams.yaml

    try:
        args = _hparams(f)
    except ValueError as exc:
        parts.notes.append(HistoryNote(parts.run, f"args.yaml: {exc}; training arguments not read", str(f)))
        return
    parts.meta["hparams"] = args
    kept = {k: args[k] for k in ULTRALYTICS_ARGS if type(args.get(k)) is int}
    if kept:
        parts.meta[schedule.ULTRALYTICS_KEY] = kept


def _assumed_close_mosaic(parts: Parts, columns: list[str], epoch: np.ndarray | None) -> None:
    """``meta["ultralytics"]`` of an Ultralytics ``results.csv`` without ``args.yaml`` (see
    :func:`_ultralytics_args`); nothing for another table or one without whole epochs."""
    names = [c.strip() for c in columns]
    if not (any(c.lower().startswith("train/") for c in names) and any(_ULTRALYTICS_METRIC.match(c) for c in names)):
        return
    if epoch is None or not np.isfinite(epoch).any():
        return
    last = float(np.nanmax(epoch))
    if not last.is_integer():
        return
    # the first epoch as written: 1 (current Ultralytics) or 0 (older versions); the planned epochs are then the
    # last one written plus 1 - first, and the switch falls close_mosaic - 1 epochs before the last either way
    first = 0 if float(np.nanmin(epoch)) == 0.0 else 1
    parts.meta[schedule.ULTRALYTICS_KEY] = {"epochs": int(last) + 1 - first,
                                           "close_mosaic": ULTRALYTICS_DEFAULT_CLOSE_MOSAIC, "assumed": True,
                                           "first_epoch": first}


def x_columns(t: Table) -> tuple[np.ndarray, np.ndarray]:
    """``(step, epoch)`` arrays from the table's step-like and epoch columns (NaN when absent: a read-only
    zero-stride view, :func:`gapwatch.history.absent_axis`)."""
    lower = t.lower()
    n = len(t)
    step = absent_axis(n)
    epoch = absent_axis(n)
    for k in ("step", "global_step", "iteration", "iter", "training_iteration"):
        if k in lower:
            step = t.numeric(lower[k])
            break
    if "epoch" in lower:
        epoch = t.numeric(lower["epoch"])
        step = _global_steps(step, epoch)
    return step, epoch


def _global_steps(step: np.ndarray, epoch: np.ndarray) -> np.ndarray:
    """A step column that starts again with every new epoch (``epoch,step`` = ``1,299 / 1,599 / 2,299 / …``: the
    batch within the epoch) made global: each epoch's steps follow the last step of the epoch before. ``step``
    itself when it never goes back, or goes back anywhere the epoch does not advance (a resumed run, said
    elsewhere)."""
    ok = np.isfinite(step) & np.isfinite(epoch)
    if int(ok.sum()) < 2 or not ok.all():
        return step
    ds, de = np.diff(step), np.diff(epoch)
    back = ds < 0
    if not back.any() or (de < 0).any() or (back & (de <= 0)).any():
        return step
    # each epoch's steps follow the last global step of the epoch before: offsets are the running sum of the
    # epochs' last steps
    segment = np.concatenate([[0], np.cumsum(back)])
    offsets = np.concatenate([[0.0], np.cumsum(step[:-1][back])])
    return np.asarray(step, dtype=float) + offsets[segment]


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
        if col.lower() in _X_COLUMNS:
            continue
        if col not in read and col not in rename:
            _keep_schedule(t, col, step, ep, parts)
            continue
        try:
            vals = t.numeric(col)
        except InputError:
            example = None if is_measure(col) else _text_only(t, col)
            if example is None:
                raise  # a measure, or numbers with a bad cell among them: a damaged file, said as such
            parts.notes.append(HistoryNote(run, f"column {col!r} holds no numbers (e.g. {example[:40]!r}): "
                                                "not read", str(t.path)))
            continue
        logged = t.logged(col)
        if not logged.any():
            continue
        split, metric = rename.get(col) or read[col]
        if logged.all():  # a dense column: its blocks share the table's arrays (no copy)
            parts.add(step, ep, split, metric, vals, col)
        else:
            parts.add(step[logged], ep[logged], split, metric, vals[logged], col)
    return parts


def _keep_schedule(t: Table, col: str, step: np.ndarray, ep: np.ndarray, parts: Parts) -> None:
    """A learning-rate (or other schedule) column goes to ``parts.meta["schedule"]`` (:mod:`gapwatch.schedule`),
    never into the judged series; a schedule column without numbers is left out."""
    if role(col) != "schedule":
        return
    try:
        vals = t.numeric(col)
    except InputError:
        return
    logged = t.logged(col)
    if logged.any():
        schedule.keep(parts.meta, col, step[logged], ep[logged], vals[logged])


def _text_only(t: Table, col: str) -> str | None:
    """The first logged cell of a column none of whose cells is a number (a list printed by numpy, a path, a
    label), else None. Only asked of columns not named as a measure (:func:`gapwatch.names.is_measure`): a
    ``val_loss`` column without numbers is an error, a ``Learnable Weights`` column of arrays is skipped."""
    v = t.cells[col]
    if isinstance(v, NumColumn):  # read as numbers as far as it went: the bad cells are NaN, their text in ``bad``
        return v.bad[0] if v.bad is not None and not (v.logged & ~np.isnan(v.values)).any() else None
    cells = [c for c in t.strings(col).tolist() if c.strip().lower() not in _BLANK]
    for c in cells:
        try:
            float(c)
        except ValueError:
            continue
        return None
    return cells[0] if cells else None


def _long_parts(t: Table, run: str) -> list[Parts]:
    lower = t.lower()
    step, epoch = x_columns(t)
    vals = t.numeric(lower["value"])
    if len(t) == 0:
        return [Parts(run, str(t.path), notes=t.part_notes(run))]
    sc, splits = t.text(lower["split"])
    mc, metrics = t.text(lower["metric"])
    rc, runs = t.text(lower["run"]) if "run" in lower else (np.zeros(len(t), np.int64), [run])
    empty = np.flatnonzero(np.isin(sc, [i for i, x in enumerate(splits) if not x])
                           | np.isin(mc, [i for i, x in enumerate(metrics) if not x]))
    if empty.size:
        raise InputError("empty 'split' or 'metric' cell", path=t.path, line=int(t.lines[empty[0]]))
    key = (rc * len(splits) + sc) * len(metrics) + mc
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    inv = inv.ravel()
    order = np.argsort(inv, kind="stable")
    bounds = np.flatnonzero(np.diff(inv[order])) + 1
    by_run: dict[str, Parts] = {}
    groups = np.split(order, bounds)
    for g in np.argsort(first, kind="stable").tolist():
        sel = groups[g]
        r, sp, m = runs[rc[sel[0]]], splits[sc[sel[0]]], metrics[mc[sel[0]]]
        first_tok = m.lower().replace("/", "_").split("_")[0]
        split, metric = normalize(m if first_tok in SPLIT_ALIASES else f"{sp}_{m}", default_split=sp)
        p = by_run.setdefault(r, Parts(r, str(t.path), notes=t.part_notes(r)))
        p.add(step[sel], epoch[sel], split, metric, vals[sel], f"{sp}_{m}")
    return list(by_run.values())


READER = FunctionReader(NAME, sniff, read_parts, "generic wide or long CSV with an epoch/step column")
