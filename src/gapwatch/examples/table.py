"""The ExampleTable: per-example, per-epoch training records, and its Parquet layout.

In memory an :class:`ExampleTable` holds one training run as dense arrays of shape ``(epochs, n)`` (epochs
along axis 0, examples along axis 1, columns sorted by example index). On disk it is a *long* Parquet table,
one row per (run, epoch, example), which any framework can write with a few lines of pyarrow or pandas:

==========  ===================  ========  =========================================================
column      Arrow type           required  meaning
==========  ===================  ========  =========================================================
``index``   int64                yes       the example's position in the training set (0 … n-1)
``epoch``   int32                yes       epoch number (any increasing integers, e.g. 0, 1, 2 …)
``loss``    float32              yes       cross-entropy loss of the example under its assigned label
``run``     int32                no        training run / seed id (default 0); EL2N averages over runs
``label``   int64                no        the assigned (possibly wrong) label; constant per example
``margin``  float32              no        assigned-label logit minus the largest other logit (AUM)
``correct`` bool                 no        argmax prediction equals the assigned label
``el2n``    float32              no        ‖softmax(logits) − one_hot(label)‖₂
``pred``    int32                no        argmax class
``probs``   list<float32>        no        softmax probabilities (length = number of classes)
==========  ===================  ========  =========================================================

The file's schema metadata may carry ``gapwatch.examples`` = JSON ``{"schema": "gapwatch.examples.table/1",
"n": <dataset size>, "num_classes": <C>}``; when ``n`` is given every index must lie in ``0 … n-1``.

Rows may come in any order and in any number of row groups; :class:`ExampleTableWriter` streams them in
row groups so a recorder never holds more than one group in memory. Reading builds dense arrays; pass
``columns=`` / ``epochs=`` to :func:`read_table` to load only what a score needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import InputError, UsageError, require
from ..io import AtomicFile

SCHEMA = "gapwatch.examples.table/1"
META_KEY = b"gapwatch.examples"
#: Columns of the long Parquet layout, in the order the writer emits them.
COLUMNS = ("run", "epoch", "index", "label", "loss", "margin", "correct", "el2n", "pred", "probs")
#: Per-epoch value columns that become ``(epochs, n)`` arrays in memory.
VALUE_COLUMNS = ("loss", "margin", "correct", "el2n", "pred")
#: Rows buffered before a row group is written (about 40 MB without probabilities).
DEFAULT_ROW_GROUP_ROWS = 1 << 20


@dataclass
class ExampleTable:
    """One run's per-example records as dense arrays.

    Attributes:
        index: ``(n,)`` int64, sorted example indices (the column order of every array below).
        epochs: ``(E,)`` int64, epoch numbers (row order of every array below), increasing.
        loss: ``(E, n)`` float (float32 as stored in Parquet, else float64), cross-entropy loss (nats).
        margin: ``(E, n)`` float or None, assigned logit minus largest other logit (logit units).
        correct: ``(E, n)`` bool or None; derived from ``margin > 0`` when only the margin is known.
        el2n: ``(E, n)`` float or None, error L2 norm ‖p − y‖₂ (0 … √2).
        pred: ``(E, n)`` int or None, argmax class.
        probs: ``(E, n, C)`` float or None, softmax probabilities.
        label: ``(n,)`` int or None, assigned labels.
        num_classes: number of classes when known.
        run: run / seed id.
    """

    index: np.ndarray
    epochs: np.ndarray
    loss: np.ndarray
    margin: np.ndarray | None = None
    correct: np.ndarray | None = None
    el2n: np.ndarray | None = None
    pred: np.ndarray | None = None
    probs: np.ndarray | None = None
    label: np.ndarray | None = None
    num_classes: int | None = None
    run: int = 0
    source: str = field(default="<memory>")

    def __post_init__(self) -> None:
        """Coerce every array to its documented dtype and check shapes and values (:class:`InputError` naming
        the table's source and the bad column); derives ``correct`` from ``margin`` and ``num_classes`` from
        ``probs`` or ``label`` when they are not given."""
        self.index = np.asarray(self.index, dtype=np.int64)
        self.epochs = np.asarray(self.epochs, dtype=np.int64)
        self.loss = _floats(self.loss)
        self._check_axes()
        if self.margin is not None:
            self.margin = self._finite_like_loss("margin", self.margin)
        if self.el2n is not None:
            self.el2n = self._finite_like_loss("el2n", self.el2n)
        if self.correct is not None:
            self.correct = self._like_loss("correct", np.asarray(self.correct, dtype=bool))
        elif self.margin is not None:
            self.correct = self.margin > 0
        if self.pred is not None:
            self.pred = self._like_loss("pred", np.asarray(self.pred, dtype=np.int64))
        if self.probs is not None:
            self._check_probs()
        if self.label is not None:
            self._check_label()

    def _check_axes(self) -> None:
        """``index`` 1-D, sorted, without duplicates; ``epochs`` strictly increasing; ``loss`` of shape
        ``(epochs, n)``, finite; neither axis empty."""
        where = self.source
        n, n_ep = self.index.shape[0], self.epochs.shape[0]
        if self.index.ndim != 1:
            raise InputError(f"index must be 1-D, got shape {self.index.shape}", path=where)
        if self.loss.ndim != 2 or self.loss.shape != (n_ep, n):
            raise InputError(f"loss must have shape (epochs, n) = ({n_ep}, {n}), got {self.loss.shape}", path=where)
        if n == 0 or n_ep == 0:
            raise InputError("the table is empty (no examples or no epochs)", path=where)
        if np.any(np.diff(self.index) <= 0):
            dup = self.index[:-1][np.diff(self.index) == 0]
            if dup.size:
                raise InputError(f"duplicate example index {int(dup[0])} ({dup.size} duplicates)", path=where)
            raise InputError("index must be sorted increasing", path=where)
        if np.any(np.diff(self.epochs) <= 0):
            raise InputError(f"epochs must be strictly increasing, got {self.epochs.tolist()[:10]}", path=where)
        _check_finite("loss", self.loss, self.index, self.epochs, where)

    def _like_loss(self, name: str, arr: np.ndarray) -> np.ndarray:
        """``arr`` after checking it has the ``(epochs, n)`` shape of ``loss``."""
        if arr.shape != self.loss.shape:
            raise InputError(f"{name} has shape {arr.shape}, expected {self.loss.shape}", path=self.source)
        return arr

    def _finite_like_loss(self, name: str, values: object) -> np.ndarray:
        """A float value column (see :func:`_floats`) of ``loss``'s shape without NaN/inf."""
        arr = self._like_loss(name, _floats(values))
        _check_finite(name, arr, self.index, self.epochs, self.source)
        return arr

    def _check_probs(self) -> None:
        """``probs`` as floats of shape ``(epochs, n, classes)``; sets ``num_classes`` when unknown."""
        probs = _floats(self.probs)
        if probs.ndim != 3 or probs.shape[:2] != self.loss.shape:
            raise InputError(f"probs has shape {probs.shape}, expected (epochs, n, classes)", path=self.source)
        self.probs = probs
        if self.num_classes is None:
            self.num_classes = int(probs.shape[2])

    def _check_label(self) -> None:
        """``label`` as int64 class ids of shape ``(n,)`` in ``0 … num_classes - 1`` (sets ``num_classes`` to
        the largest label + 1 when unknown)."""
        where, n = self.source, self.index.shape[0]
        label = np.asarray(self.label)
        if label.shape != (n,):
            raise InputError(f"label has shape {label.shape}, expected ({n},)", path=where)
        if not np.issubdtype(label.dtype, np.integer) and (not np.all(np.isfinite(label))
                                                           or np.any(label != np.round(label))):
            raise InputError("label must hold integer class ids", path=where)
        label = label.astype(np.int64)
        self.label = label
        if label.min() < 0:
            raise InputError(f"label holds a negative class id {int(label.min())}", path=where)
        if self.num_classes is None:
            self.num_classes = int(label.max()) + 1
        elif label.max() >= self.num_classes:
            raise InputError(f"label {int(label.max())} is out of range for {self.num_classes} classes", path=where)

    @property
    def n(self) -> int:
        """Number of examples."""
        return int(self.index.shape[0])

    @property
    def n_epochs(self) -> int:
        """Number of recorded epochs."""
        return int(self.epochs.shape[0])

    def check_size(self, n: int) -> None:
        """Raise :class:`InputError` unless the table covers exactly the indices ``0 … n-1``."""
        if self.n != n or self.index[0] != 0 or self.index[-1] != n - 1:
            raise InputError(
                f"the table covers {self.n} examples (indices {int(self.index[0])}…{int(self.index[-1])}) "
                f"but the dataset has {n}: is it from another dataset?", path=self.source)

    def select_epochs(self, count: int) -> ExampleTable:
        """The first ``count`` recorded epochs as a new table (shares no arrays with this one)."""
        if count < 1:
            raise UsageError(f"epoch count must be >= 1, got {count}")
        k = min(count, self.n_epochs)

        def cut(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.array(a[:k])

        return ExampleTable(index=self.index.copy(), epochs=self.epochs[:k].copy(), loss=self.loss[:k].copy(),
                            margin=cut(self.margin), correct=cut(self.correct), el2n=cut(self.el2n),
                            pred=cut(self.pred), probs=cut(self.probs),
                            label=None if self.label is None else self.label.copy(),
                            num_classes=self.num_classes, run=self.run, source=self.source)


def _floats(a: object) -> np.ndarray:
    """float32 stays float32 (half the memory of a large table); anything else becomes float64."""
    arr = np.asarray(a)
    return arr if arr.dtype == np.float32 else arr.astype(np.float64)


def _check_finite(name: str, arr: np.ndarray, index: np.ndarray, epochs: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        e, i = np.argwhere(bad)[0]
        raise InputError(
            f"{name} is NaN/inf for example index {int(index[i])} at epoch {int(epochs[e])} "
            f"({int(bad.sum())} non-finite values in all)", path=where)


# --------------------------------------------------------------------------------------------------- writing

class ExampleTableWriter:
    """Stream per-example records into a Parquet file in row groups (constant memory).

    Args:
        path: destination ``.parquet`` file; written to a temp file and renamed on :meth:`close`.
        n: dataset size, stored in the metadata so readers can reject a table from another dataset.
        num_classes: number of classes (needed for ``probs``).
        row_group_rows: rows buffered before a row group is flushed (default 2**20).
        overwrite: replace an existing file (default: refuse).
    """

    def __init__(self, path: str | Path, *, n: int | None = None, num_classes: int | None = None,
                 row_group_rows: int = DEFAULT_ROW_GROUP_ROWS, overwrite: bool = False) -> None:
        pa = require("pyarrow", extra="examples")

        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise UsageError(f"{self.path} already exists; refusing to overwrite it")
        if row_group_rows < 1:
            raise UsageError(f"row_group_rows must be >= 1, got {row_group_rows}")
        if n is not None and n < 1:
            raise UsageError(f"n must be >= 1, got {n}")
        self.n = n
        self.overwrite = overwrite
        self.num_classes = num_classes
        self.row_group_rows = row_group_rows
        self._buf: list[dict[str, np.ndarray]] = []
        self._buffered = 0
        self._writer: Any = None
        self._schema: Any = None
        self._atomic: AtomicFile | None = None
        self._pa = pa
        self.rows_written = 0

    def write(self, *, epoch: int, index: Sequence[int] | np.ndarray, loss: np.ndarray,
              margin: np.ndarray | None = None, correct: np.ndarray | None = None,
              el2n: np.ndarray | None = None, pred: np.ndarray | None = None,
              label: np.ndarray | None = None, probs: np.ndarray | None = None, run: int = 0) -> None:
        """Append one batch of records (all arrays of length ``len(index)``; ``probs`` is ``(len, C)``)."""
        idx = np.asarray(index, dtype=np.int64).reshape(-1)
        m = idx.shape[0]
        cols: dict[str, np.ndarray] = {
            "run": np.full(m, run, dtype=np.int32), "epoch": np.full(m, epoch, dtype=np.int32), "index": idx,
            "loss": np.asarray(loss, dtype=np.float32).reshape(-1)}
        for name, arr, dt in (("label", label, np.int64), ("margin", margin, np.float32),
                              ("correct", correct, np.bool_), ("el2n", el2n, np.float32),
                              ("pred", pred, np.int32)):
            if arr is not None:
                cols[name] = np.asarray(arr).astype(dt).reshape(-1)
        if probs is not None:
            p = np.asarray(probs, dtype=np.float32)
            if p.ndim != 2 or p.shape[0] != m:
                raise UsageError(f"probs must have shape (batch, classes) = ({m}, C), got {p.shape}")
            if self.num_classes is None:
                self.num_classes = int(p.shape[1])
            cols["probs"] = p
        for name, arr in cols.items():
            if arr.shape[0] != m:
                raise UsageError(f"{name} has {arr.shape[0]} entries but index has {m}")
        if self._buf and set(cols) != set(self._buf[0]):
            raise UsageError(f"every batch must carry the same columns: first had {sorted(self._buf[0])}, "
                             f"this one has {sorted(cols)}")
        if self._schema is not None and set(cols) != set(self._schema.names):
            raise UsageError(f"every batch must carry the same columns: file has {self._schema.names}, "
                             f"this batch has {sorted(cols)}")
        self._buf.append(cols)
        self._buffered += m
        if self._buffered >= self.row_group_rows:
            self._flush()

    def _arrow_table(self) -> Any:
        pa = self._pa
        names = [c for c in COLUMNS if c in self._buf[0]]
        arrays = []
        for name in names:
            parts = [b[name] for b in self._buf]
            if name == "probs":
                flat = np.concatenate([p.reshape(-1) for p in parts])
                width = parts[0].shape[1]
                arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), width))
            else:
                arrays.append(pa.array(np.concatenate(parts)))
        meta = {"schema": SCHEMA, "n": self.n, "num_classes": self.num_classes}
        schema = pa.schema([pa.field(nm, a.type) for nm, a in zip(names, arrays, strict=True)],
                           metadata={META_KEY: json.dumps(meta).encode()})
        return pa.Table.from_arrays(arrays, schema=schema)

    def _flush(self) -> None:
        if not self._buf:
            return
        pq = require("pyarrow.parquet", extra="examples", package="pyarrow")

        tbl = self._arrow_table()
        if self._writer is None:
            self._atomic = AtomicFile(self.path, overwrite=self.overwrite)  # the one atomic writer (gapwatch.io)
            self._schema = tbl.schema
            self._writer = pq.ParquetWriter(self._atomic.temp_path, tbl.schema)
        self._writer.write_table(tbl.cast(self._schema), row_group_size=tbl.num_rows)
        self.rows_written += tbl.num_rows
        self._buf, self._buffered = [], 0

    def close(self) -> Path:
        """Flush the last row group and move the file into place; returns the path."""
        self._flush()
        if self._writer is None:
            raise UsageError(f"nothing was recorded; {self.path} not written")
        self._writer.close()
        self._writer = None
        if self._atomic is None:  # an internal invariant: set with the writer
            raise RuntimeError("gapwatch internal error: the table's temporary file is unset")
        atomic, self._atomic = self._atomic, None
        return atomic.commit()  # refuses a destination that appeared (or became a symlink) while recording

    def abort(self) -> None:
        """Discard everything written so far."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._atomic is not None:
            self._atomic.abort()
            self._atomic = None
        self._buf, self._buffered = [], 0

    def __enter__(self) -> ExampleTableWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_table(table: ExampleTable, path: str | Path, *, n: int | None = None, overwrite: bool = False,
                row_group_rows: int = DEFAULT_ROW_GROUP_ROWS) -> Path:
    """Write an in-memory :class:`ExampleTable` to Parquet (one epoch per batch)."""
    with ExampleTableWriter(path, n=n, num_classes=table.num_classes, row_group_rows=row_group_rows,
                            overwrite=overwrite) as w:
        for e, ep in enumerate(table.epochs):
            w.write(epoch=int(ep), index=table.index, loss=table.loss[e],
                    margin=None if table.margin is None else table.margin[e],
                    correct=None if table.correct is None else table.correct[e],
                    el2n=None if table.el2n is None else table.el2n[e],
                    pred=None if table.pred is None else table.pred[e],
                    probs=None if table.probs is None else table.probs[e],
                    label=table.label, run=table.run)
    return Path(path)


# --------------------------------------------------------------------------------------------------- reading

def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``gapwatch.examples`` metadata of a Parquet table (``{}`` when the file carries none)."""
    pq = require("pyarrow.parquet", extra="examples", package="pyarrow")

    try:
        schema = pq.read_schema(str(path))
    except Exception as exc:  # noqa: BLE001  # pyarrow raises several types for unreadable files
        raise InputError(f"not a readable Parquet file ({exc.__class__.__name__}: {exc})", path=path) from None
    raw = (schema.metadata or {}).get(META_KEY)
    if raw is None:
        return {}
    try:
        meta = json.loads(raw)
    except ValueError:
        raise InputError("the gapwatch.examples metadata is not valid JSON", path=path) from None
    return meta if isinstance(meta, dict) else {}



def open_parquet(path: Path) -> tuple[dict[str, Any], Any, set[str]]:
    """``(metadata, pyarrow ParquetFile, column names)`` of an example table, after checking that it exists and
    has the required ``index``, ``epoch`` and ``loss`` columns (:class:`InputError` naming the file if not)."""
    pq = require("pyarrow.parquet", extra="examples", package="pyarrow")

    if not path.exists():
        raise InputError("file not found", path=path)
    meta = read_metadata(path)
    pf = pq.ParquetFile(str(path))
    names = set(pf.schema_arrow.names)
    for req in ("index", "epoch", "loss"):
        if req not in names:
            raise InputError(f"missing required column '{req}' (columns present: {sorted(names)})", path=path)
    return meta, pf, names


def read_tables(path: str | Path, *, columns: Iterable[str] | None = None, max_epochs: int | None = None,
                expected_n: int | None = None) -> list[ExampleTable]:
    """Read every run in a Parquet ExampleTable, one :class:`ExampleTable` per run (sorted by run id).

    Args:
        columns: optional value columns to load (``loss`` is always loaded).
        max_epochs: load only each run's first ``max_epochs`` epochs (saves memory for early-training scores).
        expected_n: the training set size; a table whose metadata or indices disagree is rejected.

    Raises:
        InputError: missing required columns, duplicate (run, epoch, index) rows, epochs missing some
            examples, NaN losses, labels that change between epochs, or a table from another dataset size.
    """
    path = Path(path)
    meta, pf, names = open_parquet(path)
    want = _wanted_columns(names, columns)
    meta_n = meta.get("n")
    if expected_n is not None and meta_n is not None and int(meta_n) != expected_n:
        raise InputError(f"the table was recorded on a dataset of {meta_n} examples but this dataset has "
                         f"{expected_n}", path=path)
    n_lim = expected_n if expected_n is not None else meta_n
    runs_all, ep_all, ix_all = _read_keys(pf, want, path)
    out: list[ExampleTable] = []
    for run in np.unique(runs_all):
        sel = runs_all == run
        epochs = np.unique(ep_all[sel])[:max_epochs]
        index = np.unique(ix_all[sel])
        _check_index_range(index, n_lim, path)
        asm = _RunAssembler(int(run), epochs, index, want, path)
        for g in range(pf.num_row_groups):
            asm.add(pf.read_row_group(g, columns=sorted(want)))
        t = asm.table(meta.get("num_classes"))
        if expected_n is not None:
            t.check_size(expected_n)
        out.append(t)
    return out


def _wanted_columns(names: set[str], columns: Iterable[str] | None) -> set[str]:
    """The columns to read: the keys, ``run`` and ``label`` when present, and the requested value columns
    present in the file (every value column when ``columns`` is None)."""
    want = {"index", "epoch", "loss"} | ({"run"} & names) | ({"label"} & names)
    if columns is None:
        return want | (names & set(VALUE_COLUMNS + ("probs",)))
    for c in columns:
        if c not in COLUMNS:
            raise UsageError(f"unknown column '{c}'; known columns: {', '.join(COLUMNS)}")
    return want | (names & set(columns))


def _read_keys(pf: Any, want: set[str], path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(run, epoch, index)`` of every row, each of shape ``(rows,)`` (run 0 without a ``run`` column); reads
    only the key columns."""
    keys = pf.read(columns=[c for c in ("run", "epoch", "index") if c in want])
    runs_all = keys.column("run").to_numpy() if "run" in want else np.zeros(keys.num_rows, np.int32)
    ep_all = keys.column("epoch").to_numpy()
    ix_all = keys.column("index").to_numpy()
    if ix_all.size == 0:
        raise InputError("the table has no rows", path=path)
    return runs_all, ep_all, ix_all


def _check_index_range(index: np.ndarray, n_lim: int | None, path: Path) -> None:
    """Sorted example indices must lie in ``0 … n_lim - 1`` (no upper bound when the dataset size is unknown)."""
    if index[0] < 0:
        raise InputError(f"negative example index {int(index[0])}", path=path)
    if n_lim is not None and index[-1] >= int(n_lim):
        raise InputError(f"example index {int(index[-1])} is out of range for a dataset of {n_lim} examples",
                         path=path)


#: In-memory dtype of each value column of an assembled table.
_VALUE_DTYPES: dict[str, Any] = {"loss": np.float32, "margin": np.float32, "el2n": np.float32, "correct": bool,
                                 "pred": np.int64}


class _RunAssembler:
    """Scatters one run's rows, row group by row group, into dense ``(E, n)`` arrays of the ``want`` columns over
    the given ``epochs`` ``(E,)`` and sorted example ``index`` ``(n,)``; rows of other runs or epochs are skipped.
    Rejects duplicate (run, epoch, index) rows, missing values, labels that change between epochs and (in
    :meth:`table`) epochs that miss an example, each with an :class:`InputError` naming the file."""

    def __init__(self, run: int, epochs: np.ndarray, index: np.ndarray, want: set[str], path: Path) -> None:
        self.run, self.epochs, self.index, self.want, self.path = run, epochs, index, want, path
        self.E, self.n = epochs.shape[0], index.shape[0]
        self.seen = np.zeros((self.E, self.n), dtype=bool)
        self.arrays: dict[str, np.ndarray] = {}
        #: Label per example; -1 until a row of the example is seen.
        self.label = np.full(self.n, -1, dtype=np.int64) if "label" in want else None

    def add(self, rg: Any) -> None:
        """Scatter one row group (a pyarrow Table holding the ``want`` columns)."""
        want = self.want
        sel = self._rows_of_run(rg)
        if not sel.any():
            return
        e_pos = np.searchsorted(self.epochs, rg.column("epoch").to_numpy()[sel])
        i_pos = np.searchsorted(self.index, rg.column("index").to_numpy()[sel])
        flat = e_pos * self.n + i_pos
        self._mark_seen(flat)
        for name in want & set(VALUE_COLUMNS):
            self._scatter(name, rg.column(name), sel, flat)
        if "probs" in want:
            self._scatter_probs(rg, sel, flat)
        if self.label is not None:
            self._merge_labels(self.label, rg.column("label").to_numpy()[sel], i_pos)

    def _rows_of_run(self, rg: Any) -> np.ndarray:
        """Boolean mask of the row group's rows that belong to this run and to one of its loaded epochs."""
        run_col = rg.column("run").to_numpy() if "run" in self.want else np.zeros(rg.num_rows, np.int32)
        ep = rg.column("epoch").to_numpy()
        sel = run_col == self.run
        e_pos = np.searchsorted(self.epochs, ep)
        sel &= e_pos < self.E
        sel[sel] &= self.epochs[e_pos[sel]] == ep[sel]
        return cast(np.ndarray, sel)

    def _mark_seen(self, flat: np.ndarray) -> None:
        """Record the cells ``flat`` (``epoch position × n + index position``); a cell twice is an error."""
        uniq, counts = np.unique(flat, return_counts=True)
        dup_flat = uniq[counts > 1]
        if dup_flat.size == 0:
            dup_flat = flat[self.seen.reshape(-1)[flat]]
        if dup_flat.size:
            e0, i0 = divmod(int(dup_flat[0]), self.n)
            raise InputError(f"duplicate rows for example index {int(self.index[i0])} at epoch "
                             f"{int(self.epochs[e0])} (run {self.run}); each (run, epoch, index) must appear once",
                             path=self.path)
        self.seen.reshape(-1)[flat] = True

    def _scatter(self, name: str, col: Any, sel: np.ndarray, flat: np.ndarray) -> None:
        if col.null_count:
            raise InputError(f"column '{name}' has {col.null_count} missing values", path=self.path)
        if name not in self.arrays:
            self.arrays[name] = np.zeros((self.E, self.n), dtype=_VALUE_DTYPES[name])
        self.arrays[name].reshape(-1)[flat] = col.to_numpy()[sel]

    def _scatter_probs(self, rg: Any, sel: np.ndarray, flat: np.ndarray) -> None:
        """The fixed-size list column ``probs`` (or a plain list column of equal lengths) into ``(E, n, C)``."""
        col = rg.column("probs").combine_chunks()
        width = col.type.list_size if hasattr(col.type, "list_size") else None
        flatv = col.flatten().to_numpy()
        if width is None or width <= 0:
            width = flatv.shape[0] // max(rg.num_rows, 1)
        pv = flatv.reshape(rg.num_rows, width)[sel]
        if "probs" not in self.arrays:
            self.arrays["probs"] = np.zeros((self.E, self.n, width), dtype=np.float32)
        self.arrays["probs"].reshape(self.E * self.n, width)[flat] = pv

    def _merge_labels(self, label: np.ndarray, lv: np.ndarray, i_pos: np.ndarray) -> None:
        """Keep the first label seen per example in ``label`` (-1: none yet); a different one later is an error."""
        u, first = np.unique(i_pos, return_index=True)
        label[u] = np.where(label[u] >= 0, label[u], lv[first])
        clash = label[i_pos] != lv
        if clash.any():
            j = int(np.argmax(clash))
            raise InputError(f"the label of example index {int(self.index[i_pos[j]])} changes between epochs "
                             f"({int(label[i_pos[j]])} vs {int(lv[j])})", path=self.path)

    def table(self, num_classes: Any) -> ExampleTable:
        """The assembled run, after checking that every epoch recorded every example."""
        if not self.seen.all():
            e_bad = int(np.argmax(~self.seen.all(axis=1)))
            missing = self.index[~self.seen[e_bad]]
            raise InputError(
                f"epoch {int(self.epochs[e_bad])} (run {self.run}) is missing {missing.size} of {self.n} examples "
                f"(first missing index {int(missing[0])}); every epoch must record every example", path=self.path)
        a = self.arrays
        return ExampleTable(index=self.index, epochs=self.epochs, loss=a["loss"], margin=a.get("margin"),
                            correct=a.get("correct"), el2n=a.get("el2n"), pred=a.get("pred"),
                            probs=a.get("probs"), label=self.label,
                            num_classes=int(num_classes) if num_classes is not None else None, run=self.run,
                            source=str(self.path))


def read_table(path: str | Path, *, run: int | None = None, columns: Iterable[str] | None = None,
               max_epochs: int | None = None, expected_n: int | None = None) -> ExampleTable:
    """Read one run of a Parquet ExampleTable (the only run, or ``run``); see :func:`read_tables`."""
    tables = read_tables(path, columns=columns, max_epochs=max_epochs, expected_n=expected_n)
    if run is None:
        if len(tables) > 1:
            raise UsageError(f"{path} holds {len(tables)} runs ({[t.run for t in tables]}); pass run=")
        return tables[0]
    for t in tables:
        if t.run == run:
            return t
    raise UsageError(f"{path} has no run {run}; runs present: {[t.run for t in tables]}")


#: Optional ``.npz`` arrays of shape ``(epochs, n)``, like ``loss``.
_NPZ_PER_EPOCH = ("margin", "correct", "el2n")


def read_npz(path: str | Path, *, expected_n: int | None = None) -> ExampleTable:
    """Read a plain ``.npz`` with ``loss`` (epochs × n), optional ``margin`` (epochs × n), ``label`` (n),
    ``correct`` (epochs × n), ``el2n`` (epochs × n), ``probs`` (epochs × n × C), ``index`` (n), ``epochs`` (E).
    """
    path = Path(path)
    loss, get = _load_npz(path)
    E, n = loss.shape
    _check_npz_shapes(get, E, n, path)
    index = get.get("index", np.arange(n))
    epochs = get.get("epochs", np.arange(E))
    if expected_n is not None and n != expected_n:
        raise InputError(f"the table covers {n} examples but the dataset has {expected_n}", path=path)
    return ExampleTable(index=index, epochs=epochs, loss=loss, margin=get.get("margin"),
                        correct=get.get("correct"), el2n=get.get("el2n"), probs=get.get("probs"),
                        label=get.get("label"), source=str(path))


def _load_npz(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(loss, optional arrays)`` of an ``.npz`` file: ``loss`` as float64 ``(E, n)`` (a 1-D loss is one epoch),
    the other known arrays as stored (no pickles are loaded)."""
    if not path.exists():
        raise InputError("file not found", path=path)
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001  # numpy raises several types for unreadable files
        raise InputError(f"not a readable .npz file ({exc.__class__.__name__}: {exc})", path=path) from None
    with z:
        keys = set(z.files)
        if "loss" not in keys:
            raise InputError(f"missing array 'loss' (epochs × n); arrays present: {sorted(keys)}", path=path)
        loss = np.asarray(z["loss"], dtype=np.float64)
        if loss.ndim == 1:
            loss = loss[None, :]
        if loss.ndim != 2:
            raise InputError(f"'loss' must be 2-D (epochs × n), got shape {loss.shape}", path=path)
        get = {k: np.asarray(z[k]) for k in ("margin", "label", "correct", "el2n", "probs", "index", "epochs")
               if k in keys}
    return loss, get


def _check_npz_shapes(get: dict[str, np.ndarray], E: int, n: int, path: Path) -> None:
    """The per-epoch arrays must be ``(E, n)`` and ``label`` ``(n,)``, like ``loss``."""
    for k in _NPZ_PER_EPOCH:
        if k in get and get[k].shape != (E, n):
            if get[k].ndim == 2 and get[k].shape[1] != n:
                raise InputError(f"'{k}' covers {get[k].shape[1]} examples but 'loss' covers {n}", path=path)
            raise InputError(f"'{k}' has shape {get[k].shape}, expected (epochs, n) = ({E}, {n}) like 'loss'",
                             path=path)
    if "label" in get and get["label"].shape != (n,):
        raise InputError(f"'label' has shape {get['label'].shape}, expected ({n},) to match 'loss' "
                         f"({E} epochs × {n} examples)", path=path)


def load(path: str | Path, *, expected_n: int | None = None, max_epochs: int | None = None,
         run: int | None = None) -> list[ExampleTable]:
    """Read ``.parquet`` (all runs) or ``.npz`` (one run) into a list of :class:`ExampleTable`; ``run``: only
    that run id (a :class:`UsageError` when the file has no such run)."""
    p = Path(path)
    if p.suffix == ".npz":
        t = read_npz(p, expected_n=expected_n)
        tables = [t.select_epochs(max_epochs) if max_epochs else t]
    elif p.suffix in (".parquet", ".pq"):
        tables = read_tables(p, expected_n=expected_n, max_epochs=max_epochs)
    else:
        raise UsageError(f"{p}: unknown table format '{p.suffix}'; expected .parquet or .npz")
    if run is not None:
        tables = [t for t in tables if t.run == run]
        if not tables:
            raise UsageError(f"{p} has no run {run}")
    return tables
