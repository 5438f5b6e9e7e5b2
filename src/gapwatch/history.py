"""History: the one tidy table every reader produces and every detector consumes.

One row per logged observation with columns

================  ========  =====================================================================
column            dtype     meaning
================  ========  =====================================================================
``run``           str       run name (relative path inside a sweep directory, or the file stem)
``step``          float     optimizer step (NaN when the log has none)
``epoch``         float     epoch, possibly fractional (NaN when the log has none)
``split``         str       ``train``, ``val``, ``test`` or any named held-out set (``retention``)
``metric``        str       canonical metric (``loss``, ``acc``, ``pgd_acc``, …)
``value``         float     the value; NaN and ±inf are kept because they are evidence
``name``          str       the name exactly as logged (``eval_loss``)
================  ========  =====================================================================

A History is immutable: nobody writes into its arrays (read-only views are handed out) and every method returns
new objects.

Two storages give the same table. The readers build a **block-stored** History
(:meth:`History.from_blocks`): one :class:`SeriesBlock` per series (or stretch of one), each with its own value
array, the ``step``/``epoch`` arrays of the series read from one table shared (stored once), so a point costs
its value plus its share of the axis (10 bytes in a Keras CSV of 4 series, issue 16 item 10); :meth:`series`
of a one-block series is a view. The long columns below are built only when asked (:meth:`History.columns`,
:attr:`History.frame`, row-level operations such as :meth:`History.dedupe`). Histories built from a table
(the constructor, :meth:`History.from_columns`) keep the long columns.

Long storage is columnar numpy, not pandas (importing pandas costs ~0.4 s of CPU, more than a whole ``analyze`` of a
short log): ``step``, ``epoch`` and ``value`` are float64 arrays; the repeated strings ``run``, ``split``,
``metric`` and ``name`` are stored as integer codes into a small table of distinct strings (a categorical), the
codes as narrow as the table allows (``uint8`` up to 256 distinct strings, ``uint16`` up to 65,536, else
``int32``). An axis no row has (``step`` of a Keras CSV, ``epoch`` of a TensorBoard log) is stored as a
read-only zero-stride view of one NaN (no memory), in both storages. So a long row costs 16–20 bytes whatever
the names. :attr:`History.frame` still gives the pandas table (pandas
imported on that first use); :meth:`History.columns` gives the same columns as numpy arrays without pandas.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .errors import InputError
from .names import is_bookkeeping, normalize

if TYPE_CHECKING:
    import pandas as pd

COLUMNS: tuple[str, ...] = ("run", "step", "epoch", "split", "metric", "value", "name")
#: The string columns, stored as codes into a table of distinct strings.
TEXT_COLUMNS: tuple[str, ...] = ("run", "split", "metric", "name")
#: The float64 columns.
NUMBER_COLUMNS: tuple[str, ...] = ("step", "epoch", "value")
#: Up to this many rows the lookup index is built with a plain dict pass over the codes instead of a numpy
#: ``unique`` over combined keys (same groups, same order: the dict pass is faster on short logs).
_SMALL_INDEX_ROWS = 5000
_CODE = np.int32
#: Row positions in the lookup index are int32 up to this many rows (4 bytes a row instead of 8).
_INT32_ROWS = 2**31 - 1
_T = TypeVar("_T")
_H = TypeVar("_H", bound="History")


@dataclass(frozen=True)
class Series:
    """One metric of one split of one run, ordered by its x axis.

    The arrays may be read-only views of the History's columns (a series already in order is not copied):
    derive new arrays from them, never write into them.

    Attributes:
        split, metric, name: what the series is (``name`` is the original logged name).
        step, epoch: float arrays of shape ``(n,)``; NaN where the log had no value.
        values: float array ``(n,)``; NaN/inf kept.
        x_kind: ``"epoch"`` or ``"step"``: the axis the series is ordered by.
    """

    split: str
    metric: str
    name: str
    step: np.ndarray
    epoch: np.ndarray
    values: np.ndarray
    x_kind: str

    @property
    def x(self) -> np.ndarray:
        """The x values (epochs or steps), shape ``(n,)``."""
        return self.epoch if self.x_kind == "epoch" else self.step

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def at(self, i: int) -> dict[str, float | None]:
        """``{"step", "epoch"}`` of evaluation ``i`` with NaN turned into ``None`` (for JSON)."""
        return {"step": _num(self.step[i], as_int=True), "epoch": _num(self.epoch[i])}

    def finite(self) -> Series:
        """The series without its non-finite values (read-only views of the same arrays when all are finite:
        no copy of a long clean curve)."""
        keep = np.isfinite(self.values)
        if keep.all():
            return Series(self.split, self.metric, self.name, _read_only(self.step), _read_only(self.epoch),
                          _read_only(self.values), self.x_kind)
        return Series(self.split, self.metric, self.name, self.step[keep], self.epoch[keep],
                      self.values[keep], self.x_kind)


def _num(v: float, as_int: bool = False) -> float | int | None:
    if v is None or not np.isfinite(v):
        return None
    if as_int and float(v).is_integer():
        return int(v)
    if float(v).is_integer():
        return float(v)
    return float(v)


@dataclass(frozen=True)
class HistoryNote:
    """Something a reader or the History noticed and the user should know (resumed steps, dropped rows)."""

    run: str
    message: str
    source: str = ""


Text = tuple[np.ndarray, np.ndarray]

#: The note on records of which none logs a step or an epoch, read in order as epochs 1, 2, 3… (one owner of the
#: words: :meth:`History.from_records` and the JSON Lines reader).
NO_AXIS_NOTE = "no record logs a step or an epoch: each key's values are read as its epochs 1, 2, 3… in the order " \
    "they were logged"
"""A string column: ``(codes, labels)``, int32 codes of shape ``(n,)`` into an object array of distinct str."""


class SeriesBlock:
    """A stretch of rows of one (run, split, metric, name) in a block-stored History: float64 arrays of shape
    ``(n,)``, ``n ≥ 1``. The ``step``/``epoch`` arrays may be the same objects in several blocks (the series
    read from one table share its axis: stored once), or read-only zero-stride NaN views (an axis not logged).
    Nobody writes into these arrays: the History hands out read-only views of them."""

    __slots__ = ("run", "split", "metric", "name", "step", "epoch", "value")

    def __init__(self, run: str, split: str, metric: str, name: str, step: np.ndarray, epoch: np.ndarray,
                 value: np.ndarray) -> None:
        self.run, self.split, self.metric, self.name = run, split, metric, name
        self.step, self.epoch, self.value = step, epoch, value

    def __len__(self) -> int:
        return int(self.value.shape[0])

    def relabelled(self, run: str) -> SeriesBlock:
        """The same arrays under run name ``run``."""
        return SeriesBlock(run, self.split, self.metric, self.name, self.step, self.epoch, self.value)


class _LongColumns(Mapping[str, Any]):
    """The long columns of a block-stored History, each concatenated from the blocks when asked (not kept:
    what reads them, e.g. :meth:`History.columns`, holds the only copy)."""

    __slots__ = ("_blocks", "_text")

    def __init__(self, blocks: tuple[SeriesBlock, ...], text: bool) -> None:
        self._blocks = blocks
        self._text = text

    def _keys(self) -> tuple[str, ...]:
        return TEXT_COLUMNS if self._text else NUMBER_COLUMNS

    def __getitem__(self, col: str) -> Any:
        if col not in self._keys():
            raise KeyError(col)
        return _block_text(self._blocks, col) if self._text else _block_floats(self._blocks, col)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


class History:
    """Immutable, tidy table of training observations (see module docstring for the columns)."""

    __slots__ = ("_lnum", "_ltext", "_blocks", "_n", "notes", "sources", "meta", "_cache")
    _lnum: dict[str, np.ndarray] | None
    _ltext: dict[str, Text] | None
    _blocks: tuple[SeriesBlock, ...] | None
    _n: int
    notes: tuple[HistoryNote, ...]
    sources: dict[str, str]
    meta: dict[str, dict[str, object]]
    _cache: dict  # type: ignore[type-arg]

    def __init__(
        self,
        frame: pd.DataFrame | Mapping[str, object],
        *,
        notes: Sequence[HistoryNote] = (),
        sources: Mapping[str, str] | None = None,
        meta: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        """Build from a table: a pandas DataFrame or a mapping ``column → sequence`` (a scalar is repeated on
        every row) with at least ``run``, ``split``, ``metric`` and ``value``. Strings are taken with ``str()``,
        numbers with NaN where a cell is not a number (as ``pd.to_numeric(errors="coerce")``); ``name``
        defaults to ``<split>_<metric>``, ``step`` and ``epoch`` to NaN.

        Raises:
            InputError: a required column is missing, or the columns differ in length.
        """
        names = [str(c) for c in (frame.columns if hasattr(frame, "columns") else frame)]
        missing = [c for c in ("run", "split", "metric", "value") if c not in names]
        if missing:
            raise InputError(f"History needs columns {list(COLUMNS)}; missing {missing}")
        raw = {c: frame[c] for c in COLUMNS if c in names}
        n = _n_rows(raw)
        text = {c: _encode(raw[c], n) for c in TEXT_COLUMNS if c in raw}
        if "name" not in text:
            text["name"] = _default_names(text["split"], text["metric"])
        num = {c: _floats(raw[c], n) if c in raw else absent_axis(n) for c in NUMBER_COLUMNS}
        num["step"], num["epoch"] = _axis(num["step"]), _axis(num["epoch"])
        _init(self, num, text, notes, sources, meta)

    @classmethod
    def from_columns(
        cls: type[_H],
        numbers: Mapping[str, np.ndarray],
        text: Mapping[str, Text],
        *,
        notes: Sequence[HistoryNote] = (),
        sources: Mapping[str, str] | None = None,
        meta: Mapping[str, Mapping[str, object]] | None = None,
    ) -> _H:
        """Build from typed columns without conversions (the readers' path): ``numbers`` maps ``step``,
        ``epoch`` and ``value`` to float arrays of shape ``(n,)``; ``text`` maps ``run``, ``split``, ``metric``
        and ``name`` to ``(codes, labels)``: integer codes ``(n,)`` into a sequence of distinct strings.

        Raises:
            InputError: a column is missing, the columns differ in length, or a code is out of range.
        """
        missing = [c for c in NUMBER_COLUMNS if c not in numbers] + [c for c in TEXT_COLUMNS if c not in text]
        if missing:
            raise InputError(f"History.from_columns needs columns {list(COLUMNS)}; missing {missing}")
        num = {c: _axis(np.asarray(numbers[c], dtype=float)) if c != "value" else
               np.asarray(numbers[c], dtype=float) for c in NUMBER_COLUMNS}
        txt: dict[str, Text] = {}
        for c in TEXT_COLUMNS:
            codes, labels = text[c]
            lab = np.asarray([str(x) for x in labels], dtype=object) if not _is_labels(labels) else labels
            k = np.asarray(codes)
            txt[c] = (k if k.dtype.kind in "iu" else k.astype(_CODE), lab)
        n = num["value"].shape[0]
        for c in COLUMNS:
            arr = num[c] if c in num else txt[c][0]
            if arr.shape != (n,):
                raise InputError(f"History column {c!r}: expected shape ({n},), got {arr.shape}")
        for c, (codes, labels) in txt.items():
            if codes.size and (int(codes.min()) < 0 or int(codes.max()) >= len(labels)):
                raise InputError(f"History column {c!r}: codes must be in [0, {len(labels)}), "
                                 f"got [{int(codes.min())}, {int(codes.max())}]")
        h = object.__new__(cls)
        _init(h, num, txt, notes, sources, meta)
        return h

    def __setattr__(self, key: str, value: object) -> None:  # immutability
        raise AttributeError("History is immutable")

    @property
    def _num(self) -> Mapping[str, np.ndarray]:
        """The float columns ``step``, ``epoch``, ``value`` (of a block-stored History: concatenated when read)."""
        return self._lnum if self._lnum is not None else _LongColumns(self._blocks or (), False)

    @property
    def _text(self) -> Mapping[str, Text]:
        """The string columns as ``(codes, labels)`` (of a block-stored History: built when read)."""
        return self._ltext if self._ltext is not None else _LongColumns(self._blocks or (), True)

    @classmethod
    def from_blocks(
        cls: type[_H],
        blocks: Iterable[SeriesBlock],
        *,
        notes: Sequence[HistoryNote] = (),
        sources: Mapping[str, str] | None = None,
        meta: Mapping[str, Mapping[str, object]] | None = None,
    ) -> _H:
        """A block-stored History (the readers' path, :func:`gapwatch.readers._parts.build`): its rows are the
        blocks' rows in order, exactly as :meth:`from_columns` of their concatenation, but each series keeps
        its own arrays (no long table: :meth:`series` of a one-block series is a view) and an axis array
        several blocks share is stored once (issue 16, item 10). The arrays are taken, not copied: nobody may
        write into them afterwards. Empty blocks are dropped."""
        h = object.__new__(cls)
        _init_blocks(h, tuple(b for b in blocks if len(b)), notes, sources, meta)
        return h

    def _with_store(self, *, notes: Sequence[HistoryNote] | None = None,
                    sources: Mapping[str, str] | None = None,
                    meta: Mapping[str, Mapping[str, object]] | None = None) -> History:
        """The same rows (storage shared) with this one's notes/sources/meta unless given."""
        kw: dict[str, Any] = {"notes": self.notes if notes is None else notes,
                              "sources": self.sources if sources is None else sources,
                              "meta": self.meta if meta is None else meta}
        if self._blocks is not None:
            return History.from_blocks(self._blocks, **kw)
        return self._with_rows(dict(self._num), dict(self._text), **kw)

    def _as_long(self) -> History:
        """This History with its long columns built (the storage the row-level operations work on)."""
        if self._blocks is None:
            return self
        h = object.__new__(History)
        _init(h, dict(self._num), dict(self._text), self.notes, self.sources, self.meta)
        return h

    def _with_rows(self, num: dict[str, np.ndarray], text: dict[str, Text], *,
                   notes: Sequence[HistoryNote] | None = None, sources: Mapping[str, str] | None = None,
                   meta: Mapping[str, Mapping[str, object]] | None = None) -> History:
        """A History of the given (already typed) columns, with this one's notes/sources/meta unless given."""
        h = object.__new__(History)
        _init(h, num, text, self.notes if notes is None else notes, self.sources if sources is None else sources,
              self.meta if meta is None else meta)
        return h

    def _take(self, rows: np.ndarray, **kw: Any) -> History:
        """The rows at positions ``rows`` (in that order); the label tables are shared."""
        if self._blocks is not None:
            return self._as_long()._take(rows, **kw)
        return self._with_rows({c: _pick(a, rows) for c, a in self._num.items()},
                               {c: (k[rows], lab) for c, (k, lab) in self._text.items()}, **kw)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, object]],
        *,
        run: str = "run",
        source: str = "",
        default_split: str = "train",
        lines: Sequence[int] | None = None,
    ) -> History:
        """Build from wide records such as ``{"epoch": 3, "step": 120, "train_loss": 0.4, "val_acc": 0.8}``.

        Every key that is not bookkeeping (``epoch``, ``step``, ``learning_rate``…) becomes an observation,
        its name normalised with :func:`gapwatch.names.normalize`. When no record has a step or an epoch and every
        key was logged equally often, each key's k-th value is its epoch k (one record per epoch, as the JSON Lines
        reader reads such a file), with a note; keys logged at different rates (a training loss every 50 steps
        beside a validation loss per epoch) stay without an axis rather than be misaligned. Non-numeric values
        raise :class:`InputError` naming the record (1-based, or ``lines[i]`` when given) and key.
        """
        steps: list[float] = []
        epochs: list[float] = []
        values: list[float] = []
        keys: list[str] = []
        for j, rec in enumerate(records):
            i = lines[j] if lines is not None else j + 1
            step = _as_float(rec.get("step", rec.get("global_step")), source, i, "step")
            epoch = _as_float(rec.get("epoch"), source, i, "epoch")
            for key, val in rec.items():
                if is_bookkeeping(str(key)) or val is None:
                    continue
                if isinstance(val, (dict, list, tuple)):
                    continue
                v = _as_float(val, source, i, str(key))
                steps.append(step)
                epochs.append(epoch)
                values.append(v)
                keys.append(str(key))
        notes: list[HistoryNote] = []
        counts = Counter(keys)
        if keys and len(set(counts.values())) == 1 and not np.isfinite(steps).any() \
                and not np.isfinite(epochs).any():
            seen: dict[str, int] = {}  # (no record places its values and every key was logged as often: the k-th
            for j, key in enumerate(keys):  # value of a key is its epoch k)
                epochs[j] = seen[key] = seen.get(key, 0) + 1
            notes.append(HistoryNote(run, NO_AXIS_NOTE, source))
        name = _encode_list(keys)
        split_of: dict[str, str] = {}
        metric_of: dict[str, str] = {}
        for k in name[1]:
            split_of[k], metric_of[k] = normalize(k, default_split)
        text = {"run": (np.zeros(len(keys), dtype=_CODE), np.asarray([run], dtype=object)), "name": name,
                "split": _relabel(name, split_of), "metric": _relabel(name, metric_of)}
        num = {"step": np.asarray(steps, dtype=float), "epoch": np.asarray(epochs, dtype=float),
               "value": np.asarray(values, dtype=float)}
        return cls.from_columns(num, text, notes=notes, sources={run: source} if source else None).dedupe()

    @classmethod
    def concat(cls, histories: Sequence[History]) -> History:
        """Stack several histories (e.g. the runs of a sweep). Run names must be distinct."""
        if not histories:
            return cls.from_columns(*_empty_columns())
        notes: list[HistoryNote] = []
        sources: dict[str, str] = {}
        meta: dict[str, Mapping[str, object]] = {}
        for h in histories:
            notes.extend(h.notes)
            sources.update(h.sources)
            meta.update(h.meta)
        if any(h._blocks for h in histories) and all(h._blocks is not None or len(h) == 0 for h in histories):
            return cls.from_blocks([b for h in histories for b in h._blocks or ()], notes=notes, sources=sources,
                                   meta=meta)
        num = {c: concat_axis([h._num[c] for h in histories]) for c in NUMBER_COLUMNS}
        text: dict[str, Text] = {}
        for c in TEXT_COLUMNS:
            table: dict[str, int] = {}
            parts = []
            for h in histories:
                codes, labels = h._text[c]
                remap = np.fromiter((table.setdefault(s, len(table)) for s in labels), dtype=_CODE,
                                    count=len(labels))
                parts.append(remap[codes] if remap.size else codes)
            text[c] = (np.concatenate(parts).astype(_CODE, copy=False), np.asarray(list(table), dtype=object))
        return cls.from_columns(num, text, notes=notes, sources=sources, meta=meta)

    def with_run_name(self, name: str) -> History:
        """Same observations, every row renamed to run ``name``."""
        if self._blocks is not None:
            old_run = self._blocks[0].run if self._blocks else None
            src = next(iter(self.sources.values()), "") if self.sources else ""
            return History.from_blocks([b.relabelled(name) for b in self._blocks],
                                       notes=[HistoryNote(name, n.message, n.source) for n in self.notes],
                                       sources={name: src} if src else {},
                                       meta={name: self.meta[old_run]} if old_run in self.meta else {})
        codes, labels = self._text["run"]
        old = str(labels[codes[0]]) if codes.size else None
        src = next(iter(self.sources.values()), "") if self.sources else ""
        notes = [HistoryNote(name, n.message, n.source) for n in self.notes]
        meta = {name: self.meta[old]} if old is not None and old in self.meta else {}
        text = dict(self._text)
        text["run"] = (np.zeros(codes.shape[0], dtype=_CODE), np.asarray([name], dtype=object))
        return self._with_rows(dict(self._num), text, notes=notes, sources={name: src} if src else {}, meta=meta)

    def with_meta(self, run: str, **meta: object) -> History:
        """Attach metadata (hyperparameters, checkpoints found) to a run."""
        m = {k: dict(v) for k, v in self.meta.items()}
        m.setdefault(run, {}).update(meta)
        return self._with_store(meta=m)

    def with_split(self, split: str, metric: str, to: str, *, note: str = "") -> History:
        """The same observations with series ``split``/``metric`` moved to split ``to`` (its logged ``name``
        kept): a user who says an unprefixed series is held out (``--monitor accuracy`` on a log whose
        ``accuracy`` column is read as a training series by the naming convention). ``note``, when given, is
        added to every run the move touched. Unchanged when the series is not logged or ``to`` already holds
        ``metric`` (nothing is merged)."""
        if split == to or not self.has(split, metric) or self.has(to, metric):
            return self
        h = self._as_long()
        num, text = dict(h._num), dict(h._text)
        s_codes, s_labels = text["split"]
        m_codes, m_labels = text["metric"]
        s_hit, m_hit = np.flatnonzero(s_labels == split), np.flatnonzero(m_labels == metric)
        rows = (s_codes == s_hit[0]) & (m_codes == m_hit[0])
        t_hit = np.flatnonzero(s_labels == to)
        if t_hit.size:
            code, labels = int(t_hit[0]), s_labels
        else:
            code, labels = len(s_labels), np.asarray([*s_labels, to], dtype=object)
        codes = s_codes.astype(_CODE, copy=True)
        codes[rows] = code
        text["split"] = (codes, labels)
        r_codes, r_labels = text["run"]
        touched = [str(r_labels[c]) for c in np.unique(r_codes[rows])]
        notes = [*self.notes, *(HistoryNote(r, note, self.sources.get(r, "")) for r in touched if note)]
        return h._with_rows(num, text, notes=notes)

    def dedupe(self) -> History:
        """Resolve resumed runs: when a (run, split, metric) logs the same step twice, or steps go back,
        keep the **last** logged value per step and record a :class:`HistoryNote` saying so. One exception:
        strictly increasing steps whose last step comes once or more again are final re-evaluations (Ultralytics
        validates best.pt after the last epoch; HF's ``load_best_model_at_end`` evaluates the restored best model;
        Lightning's ``trainer.validate()`` after fit), and the run's own value at that step is kept.

        The rows come out grouped by (run, split, metric), groups in order of first appearance; a group that
        needed resolving is sorted by its x (NaN x last)."""
        if len(self) == 0:
            return self
        if self._blocks is not None:
            return self._as_long().dedupe()
        key = "step" if not np.isnan(self._num["step"]).all() else "epoch"
        x = self._num[key]
        if np.isnan(x).all():
            return self
        notes = list(self.notes)
        parts = []
        for (run, split, metric), pos in self._index()["groups"].items():
            xs = x[pos]
            has = ~np.isnan(xs)
            hx = xs[has]
            went_back = bool(np.any(np.diff(hx) < 0)) if hx.size > 1 else False
            dup = _duplicated_keep_last(hx)
            k_last = int(dup.sum())
            if not went_back and hx.size > k_last + 1 and k_last >= 1 and bool(np.all(hx[-k_last - 1:] == hx[-1])) \
                    and hx[-k_last - 1] > hx[-k_last - 2]:
                # values more at the last step only, after strictly increasing steps: final re-evaluations
                # (Ultralytics validates best.pt after the last epoch; HF's load_best_model_at_end evaluates the
                # restored best model; Lightning's trainer.validate() after fit) — the run's own evaluation at that
                # step is the curve's last point
                dup = np.zeros(hx.shape[0], dtype=bool)
                dup[-k_last:] = True
                what = ("two values at the last {k} ({x}): the second is read as a final re-evaluation" if k_last == 1
                        else f"{k_last + 1} values at the last {{k}} ({{x}}): the {k_last} after the first are read "
                             "as final re-evaluations")
                notes.append(HistoryNote(run, f"{split}/{metric}: {what.format(k=key, x=_fmt_x(hx[-1]))} (of the "
                                         "best checkpoint, as Ultralytics and HF's load_best_model_at_end do, or "
                                         "trainer.validate() after fit) and left out of the curve",
                                         self.sources.get(run, "")))
            elif went_back or dup.any():
                n_drop = int(dup.sum())
                shared = ("several values share an epoch (values logged per batch, each with its epoch?)"
                          if key == "epoch" else
                          f"several values share a {key} (values logged per batch at the epoch's {key}?)")
                why = f"{key}s go back (a resumed run?)" if went_back else shared
                msg = (f"{split}/{metric}: {why}; kept the last value logged for each {key}, dropped {n_drop} "
                       "earlier value(s)")
                notes.append(HistoryNote(run, msg, self.sources.get(run, "")))
            if dup.any() or went_back:
                kept = pos[has][~dup]
                pos = np.concatenate([kept[np.argsort(x[kept], kind="stable")], pos[~has]])
            parts.append(pos)
        return self._take(np.concatenate(parts), notes=_unique_notes(notes))

    # ----------------------------------------------------------------- queries
    @property
    def frame(self) -> pd.DataFrame:
        """A copy of the tidy table as a pandas DataFrame (imports pandas; mutating it does not change the
        History). :meth:`columns` gives the same columns as numpy arrays."""
        import pandas as pd

        cols = self.columns()
        df = pd.DataFrame({c: cols[c] for c in COLUMNS})
        for c in TEXT_COLUMNS:
            df[c] = df[c].astype(str)
        return df

    def columns(self) -> dict[str, np.ndarray]:
        """Copies of the columns in :data:`COLUMNS` order: float64 arrays for ``step``, ``epoch``, ``value``
        and object arrays of ``str`` for ``run``, ``split``, ``metric``, ``name``, each of shape ``(len,)``."""
        out: dict[str, np.ndarray] = {}
        fresh = self._blocks is not None  # a block-stored History's long columns are built fresh: no copy
        for c in COLUMNS:
            if c in self._num:
                a = self._num[c]
                out[c] = a if fresh and a.strides != (0,) else a.copy()
            else:
                codes, labels = self._text[c]
                out[c] = labels[codes] if labels.size else np.empty(0, dtype=object)
        return out

    def __len__(self) -> int:
        return self._n

    @property
    def empty(self) -> bool:
        return len(self) == 0

    def runs(self) -> list[str]:
        """Run names in order of first appearance."""
        return list(self.memo("runs", lambda: self._present("run")))

    def name_first_rows(self) -> list[tuple[int, str, str, str, str]]:
        """``(first row, run, original name, split, metric)`` of every logged name of every run, in order of first
        appearance (row positions in the long table). A block-stored History answers from its blocks (a
        block's first row is where its name first appears when no earlier block holds that name: no row
        positions are made); a long table from its lookup index, one pass over the name codes per group."""
        first: dict[tuple[str, str], tuple[int, str, str, str, str]] = {}
        if self._blocks is not None:
            start = 0
            for b in self._blocks:
                first.setdefault((b.run, b.name), (start, b.run, b.name, b.split, b.metric))
                start += len(b)
            return sorted(first.values())
        c = self._index()
        codes, labels = self._text["name"]
        for (run, split, metric), pos in c["groups"].items():
            # the first row of each name in the group (positions increase): one pass over the name codes
            u, at = np.unique(codes[pos], return_index=True)
            for code, i in zip(u.tolist(), at.tolist()):
                p, name = int(pos[i]), str(labels[code])
                k = (run, name)
                if k not in first or p < first[k][0]:
                    first[k] = (p, run, name, split, metric)
        return sorted(first.values())

    def _present(self, col: str) -> list[str]:
        """The distinct strings of a text column in order of first appearance."""
        if self._blocks is not None:
            return list(dict.fromkeys(getattr(b, col) for b in self._blocks))
        codes, labels = self._text[col]
        if codes.size == 0:
            return []
        u, first = np.unique(codes, return_index=True)
        return [str(s) for s in labels[u[np.argsort(first, kind="stable")]]]

    def run(self, name: str) -> Run:
        """The History of one run."""
        if self._blocks is not None:
            mine = [b for b in self._blocks if b.run == name]
            if not mine:
                raise KeyError(f"no run named {name!r}; runs: {self.runs()}")
            return Run.from_blocks(mine, notes=[n for n in self.notes if n.run == name],
                                   sources={name: self.sources[name]} if name in self.sources else {},
                                   meta={name: self.meta[name]} if name in self.meta else {})
        codes, labels = self._text["run"]
        hit = np.flatnonzero(labels == name) if labels.size else np.empty(0, dtype=np.intp)
        rows = np.flatnonzero(codes == hit[0]) if hit.size else hit
        if rows.size == 0:
            raise KeyError(f"no run named {name!r}; runs: {self.runs()}")
        h = self._take(rows, notes=[n for n in self.notes if n.run == name],
                       sources={name: self.sources[name]} if name in self.sources else {},
                       meta={name: self.meta[name]} if name in self.meta else {})
        return Run._share(h)

    def __iter__(self) -> Iterator[Run]:
        """The runs of this History, each a :class:`Run`, in order of first appearance.

        A sweep is cut into runs with one sort of its run codes (each run's lookup index is cut out of this
        History's), not one filter per run."""
        if len(self.runs()) <= 1:
            yield self if isinstance(self, Run) else Run._share(self)
            return
        notes: dict[str, list[HistoryNote]] = {}
        for n in self.notes:
            notes.setdefault(n.run, []).append(n)
        if self._blocks is not None:  # a run is its blocks: nothing copied
            per_run: dict[str, list[SeriesBlock]] = {}
            for b in self._blocks:
                per_run.setdefault(b.run, []).append(b)
            for name in self.runs():
                r = Run.from_blocks(per_run[name], notes=notes.get(name, ()),
                                    sources={name: self.sources[name]} if name in self.sources else {},
                                    meta={name: self.meta[name]} if name in self.meta else {})
                r._cache[("memo", "runs")] = [name]
                yield r
            return
        c = self._index()
        triples: dict[str, list[tuple[str, str, str]]] = {}
        for key in c["groups"]:
            triples.setdefault(key[0], []).append(key)
        run_codes, run_labels = self._text["run"]
        by_run = np.argsort(run_codes, kind="stable")  # rows of each run together, increasing within a run
        bounds = np.concatenate([[0], np.cumsum(np.bincount(run_codes, minlength=len(run_labels)))])
        code_of = {str(s): k for k, s in enumerate(run_labels)}
        for name in self.runs():
            k = code_of[name]
            rows = by_run[bounds[k]:bounds[k + 1]]  # positions in this History, increasing
            # the rows are already validated and typed: skip the constructor's checks
            h = object.__new__(Run)
            object.__setattr__(h, "_lnum", {col: _pick(a, rows) for col, a in self._num.items()})
            object.__setattr__(h, "_ltext", {col: (cd[rows], lab) for col, (cd, lab) in self._text.items()})
            object.__setattr__(h, "_blocks", None)
            object.__setattr__(h, "_n", int(rows.shape[0]))
            object.__setattr__(h, "notes", tuple(notes.get(name, ())))
            object.__setattr__(h, "sources", {name: self.sources[name]} if name in self.sources else {})
            object.__setattr__(h, "meta", {name: dict(self.meta[name])} if name in self.meta else {})
            groups = {key: np.searchsorted(rows, c["groups"][key]) for key in triples.get(name, ())}
            hn, ht = h._num, h._text
            sub = {"groups": groups, "pairs": {(sp, m) for _, sp, m in groups}, "runs": [name] if groups else [],
                   "step": hn["step"], "epoch": hn["epoch"], "value": hn["value"], "name": _Names(*ht["name"]),
                   ("memo", "runs"): [name]}
            object.__setattr__(h, "_cache", sub)
            yield h

    @property
    def name(self) -> str:
        """Name of the run (for single-run histories)."""
        runs = self.runs()
        return runs[0] if runs else ""

    @property
    def source(self) -> str:
        return self.sources.get(self.name, "")

    def keys(self) -> list[tuple[str, str]]:
        """``(split, metric)`` pairs present, in order of first appearance."""
        return list(dict.fromkeys((sp, m) for _, sp, m in self._index()["groups"]))

    def names(self) -> list[str]:
        """Original metric names present, in order of first appearance."""
        return self._present("name")

    def splits(self) -> list[str]:
        return self._present("split")

    def has(self, split: str, metric: str) -> bool:
        return (split, metric) in self._index()["pairs"]

    def _index(self) -> dict:  # type: ignore[type-arg]
        """Row positions of every (run, split, metric) and the numeric columns as arrays, built once: detectors
        call :meth:`series` many times per run."""
        c = self._cache
        if "groups" not in c and self._blocks is not None:
            _block_index(self._blocks, c)
        if "groups" not in c:  # (other lazily computed entries may share the cache: see memo())
            (rc, rl), (sc, sl), (mc, ml) = self._text["run"], self._text["split"], self._text["metric"]
            if len(self) <= _SMALL_INDEX_ROWS:
                # a plain dict pass over the codes: same groups, same first-appearance order and increasing
                # row positions as the numpy pass below, without its fixed cost (a sweep builds one per run)
                pos: dict[tuple[int, int, int], list[int]] = {}
                for j, key in enumerate(zip(rc.tolist(), sc.tolist(), mc.tolist())):
                    pos.setdefault(key, []).append(j)
                groups = {(str(rl[r]), str(sl[s]), str(ml[m])): np.asarray(v, dtype=np.intp)
                          for (r, s, m), v in pos.items()}
            elif (runs := series_segments(rc, sc, mc)) is not None:
                # every group one contiguous range of rows (what the readers build): no sort, no copy
                dt = np.int32 if len(self) <= _INT32_ROWS else np.intp
                groups = {(str(rl[r]), str(sl[s]), str(ml[m])): np.arange(a, b, dtype=dt)
                          for (r, s, m), a, b in runs}
            else:
                combined = (rc.astype(np.int64) * len(sl) + sc) * len(ml) + mc
                u, first, inv = np.unique(combined, return_index=True, return_inverse=True)
                order = np.argsort(inv, kind="stable")
                cuts = np.cumsum(np.bincount(inv, minlength=u.size))[:-1]
                chunks = np.split(order, cuts)
                groups = {}
                for g in np.argsort(first, kind="stable").tolist():
                    r, rem = divmod(int(u[g]), len(sl) * len(ml))
                    s, m = divmod(rem, len(ml))
                    groups[(str(rl[r]), str(sl[s]), str(ml[m]))] = chunks[g].astype(np.intp, copy=False)
            c["groups"] = groups
            c["pairs"] = {(sp, m) for _, sp, m in groups}
            c["runs"] = list(dict.fromkeys(r for r, _, _ in groups))
            for k in NUMBER_COLUMNS:
                c[k] = self._num[k]
            c["name"] = _Names(*self._text["name"])
        return c

    def memo(self, key: object, compute: Callable[[], _T]) -> _T:
        """``compute()`` once per History and ``key`` (the History is immutable, so results derived from it
        can be kept with it): detectors that ask each other (``underfitting`` asks ``instability`` about spikes)
        share one computation. ``key`` must be hashable and include every argument the result depends on."""
        c = self._cache
        k = ("memo", key)
        if k not in c:
            c[k] = compute()
        return c[k]  # type: ignore[no-any-return]

    def series(self, split: str, metric: str, *, run: str | None = None, x: str | None = None) -> Series:
        """The ``split``/``metric`` series of one run, ordered by its x axis.

        Args:
            x: ``"epoch"``, ``"step"`` or ``None`` (epoch when every point has a strictly increasing epoch,
               else step).
        Raises:
            KeyError: when absent; the message lists what is present.

        The Series is built once per History and arguments (detectors ask for the same series many times per
        run); its arrays are read-only.
        """
        c = self._index()
        if run is None:
            if len(c["runs"]) > 1:
                raise ValueError("series() on a History with several runs needs run=")
            run = c["runs"][0] if c["runs"] else ""
        key = ("series", run, split, metric, x)
        hit = c.get(key)
        if hit is None:
            hit = c[key] = self._series(c, run, split, metric, x)
        return hit  # type: ignore[no-any-return]

    def _series(self, c: dict, run: str, split: str, metric: str, x: str | None) -> Series:  # type: ignore[type-arg]
        """:meth:`series` without the memo."""
        if self._blocks is not None:
            return self._block_series(c, run, split, metric, x)
        pos = c["groups"].get((run, split, metric))
        if pos is None:
            have = ", ".join(f"{s}/{m}" for s, m in self.keys()) or "nothing"
            raise KeyError(f"no {split}/{metric} series; found: {have}")
        lo, hi = int(pos[0]), int(pos[-1]) + 1
        sel: slice | np.ndarray = slice(lo, hi) if hi - lo == pos.size else pos  # contiguous rows: views
        step, epoch, values = c["step"][sel], c["epoch"][sel], c["value"][sel]
        kind = x or _pick_x_arrays(epoch, step)
        first, second = (epoch, step) if kind == "epoch" else (step, epoch)
        if _increasing(first):  # already in order (the usual log): the arrays as they are, read-only
            return Series(split, metric, str(c["name"][int(pos[0])]), _read_only(step), _read_only(epoch),
                          _read_only(values), kind)
        order = np.lexsort((second, first))  # stable; NaN sorts last, like sort_values(na_position="last")
        name = str(c["name"][pos[order[0]]])
        return Series(split, metric, name, _read_only(step[order]), _read_only(epoch[order]),
                      _read_only(values[order]), kind)

    def _block_series(self, c: dict, run: str, split: str, metric: str,  # type: ignore[type-arg]
                      x: str | None) -> Series:
        """:meth:`_series` of a block-stored History: the rows of the group are its blocks' rows in order (a
        one-block series: the block's arrays, no copy), then exactly as the long table."""
        ids = c["blocks"].get((run, split, metric))
        if ids is None:
            have = ", ".join(f"{s}/{m}" for s, m in self.keys()) or "nothing"
            raise KeyError(f"no {split}/{metric} series; found: {have}")
        blocks = [self._blocks[i] for i in ids]  # type: ignore[index]
        if len(blocks) == 1:
            b = blocks[0]
            step, epoch, values = b.step, b.epoch, b.value
        else:
            step, epoch, values = (np.concatenate([getattr(b, a) for b in blocks]) for a in NUMBER_COLUMNS)
        kind = x or _pick_x_arrays(epoch, step)
        first, second = (epoch, step) if kind == "epoch" else (step, epoch)
        if _increasing(first):
            return Series(split, metric, blocks[0].name, _read_only(step), _read_only(epoch), _read_only(values),
                          kind)
        order = np.lexsort((second, first))
        ends = np.cumsum([len(b) for b in blocks])
        name = blocks[int(np.searchsorted(ends, order[0], side="right"))].name
        return Series(split, metric, name, _read_only(step[order]), _read_only(epoch[order]),
                      _read_only(values[order]), kind)

    def aligned(self, metric: str, splits: Sequence[str] = ("train", "val")) -> pd.DataFrame:
        """Wide table of ``metric`` for ``splits`` on a common x (the x of the last split), one column
        per split. Each split is matched to the nearest earlier-or-equal x of that split (train loss logged
        every 10 steps is matched to each evaluation). Imports pandas; :meth:`aligned_arrays` does not."""
        import pandas as pd

        base, cols = self.aligned_arrays(metric, splits)
        out = pd.DataFrame({"x": base.x, "step": base.step, "epoch": base.epoch})
        for sp, vals in cols.items():
            out[sp] = vals
        return out

    def aligned_arrays(self, metric: str, splits: Sequence[str] = ("train", "val"), *,
                       at: np.ndarray | None = None) -> tuple[Series, dict[str, np.ndarray]]:
        """:meth:`aligned` without the DataFrame (detectors call it once per run; building the frame costs more
        than the matching): the base series (``splits[-1]``) and, per split present, its values matched to the
        base's x, float arrays of shape ``(len(base),)`` — or, with ``at`` (int positions in the base), at those
        evaluations only, shape ``(len(at),)``: the same values as the whole arrays there (each base x is matched
        on its own), without arrays the length of a long run."""
        base = self.series(splits[-1], metric)
        bx = base.x if at is None else base.x[at]
        out: dict[str, np.ndarray] = {}
        for sp in splits:
            if not self.has(sp, metric):
                continue
            s = self.series(sp, metric, x=base.x_kind)
            out[sp] = _match_backward(s.x, s.values, bx)
        return base, out


def _match_backward(x: np.ndarray, values: np.ndarray, bx: np.ndarray) -> np.ndarray:
    """``values`` at the nearest earlier-or-equal ``x`` of each ``bx`` (NaN before the first x and where ``bx``
    is not finite): the numpy equivalent of ``merge_asof(direction="backward")``, ~100x faster. A fresh float
    array ``(len(bx),)``. A series is ordered by its x, so its finite x are usually sorted already (no sort,
    no copy); the series matched to its own strictly increasing x is its values."""
    ok = np.isfinite(x)
    every = bool(ok.all())
    rx, rv = (x, values) if every else (x[ok], values[ok])
    if not (rx.shape[0] < 2 or bool(np.all(rx[1:] >= rx[:-1]))):
        order = np.argsort(rx, kind="stable")
        rx, rv = rx[order], rv[order]
    if every and rx.shape == bx.shape and _increasing(rx) and (rx is bx or np.array_equal(rx, bx)):
        return np.array(rv, dtype=float)
    i = np.searchsorted(rx, bx, side="right")
    i -= 1
    if rv.size:
        before = i < 0
        np.clip(i, 0, None, out=i)
        vals = np.asarray(rv[i], dtype=float)
        vals[before] = np.nan
    else:
        vals = np.full(bx.shape, np.nan)
    vals[~np.isfinite(bx)] = np.nan
    return vals


class Run(History):
    """The History of exactly one run, as :meth:`History.__iter__` yields it.

    Everything derived from a run (its series table, the monitor decision, detector intermediate results) is
    memoised on the Run (:meth:`History.memo`), so the detectors, the forecast and the report that ask the
    same question of one run compute the answer once."""

    __slots__ = ()

    @classmethod
    def _share(cls, h: History) -> Run:
        """A Run view of a one-run History ``h`` sharing its (immutable) table, index and memo."""
        r = object.__new__(cls)
        for k in History.__slots__:
            object.__setattr__(r, k, getattr(h, k))
        return r

    @classmethod
    def without_rows(cls, name: str, source: str = "") -> Run:
        """A run with no observations (a file of a sweep that could not be read)."""
        r = cls.from_columns(*_empty_columns(), sources={name: source} if source else None)
        object.__getattribute__(r, "_cache")[("memo", "runs")] = [name]
        return r

    @property
    def run_meta(self) -> dict[str, object]:
        """This run's metadata (hyperparameters, the reader's bookkeeping): ``meta[name]`` or ``{}``."""
        return self.meta.get(self.name, {})


def _pick_x_arrays(ep: np.ndarray, st: np.ndarray) -> str:
    # (an increasing epoch needs no sort: its sorted differences are its differences)
    if np.all(np.isfinite(ep)) and (len(ep) < 2 or _increasing(ep) or np.all(np.diff(np.sort(ep)) > 0)):
        return "epoch"
    if np.all(np.isfinite(st)):
        return "step"
    return "epoch" if np.isfinite(ep).sum() >= np.isfinite(st).sum() else "step"


def _unique_notes(notes: Sequence[HistoryNote]) -> list[HistoryNote]:
    return list(dict.fromkeys(notes))


def _as_float(val: object, source: str, line: int, key: str) -> float:
    if val is None:
        return float("nan")
    if isinstance(val, bool):
        return float(val)
    if isinstance(val, (int, float, np.integer, np.floating)):
        return float(val)
    if isinstance(val, str):
        s = val.strip()
        if s == "":
            return float("nan")
        try:
            return float(s)
        except ValueError:
            pass
    raise InputError(f"key {key!r}: expected a number, got {val!r}", path=source or None, line=line)


# ----------------------------------------------------------------------------------------- column helpers
def _init(h: History, num: dict[str, np.ndarray], text: dict[str, Text], notes: Sequence[HistoryNote],
          sources: Mapping[str, str] | None, meta: Mapping[str, Mapping[str, object]] | None) -> None:
    object.__setattr__(h, "_lnum", num)
    object.__setattr__(h, "_ltext", {c: (_narrow(k, len(lab)), lab) for c, (k, lab) in text.items()})
    object.__setattr__(h, "_blocks", None)
    object.__setattr__(h, "_n", int(num["value"].shape[0]))
    object.__setattr__(h, "notes", tuple(notes))
    object.__setattr__(h, "sources", dict(sources or {}))
    object.__setattr__(h, "meta", {k: dict(v) for k, v in (meta or {}).items()})
    object.__setattr__(h, "_cache", {})  # lazily built lookup index (the History is immutable)


def _init_blocks(h: History, blocks: tuple[SeriesBlock, ...], notes: Sequence[HistoryNote],
                 sources: Mapping[str, str] | None, meta: Mapping[str, Mapping[str, object]] | None) -> None:
    """:func:`_init` of a block-stored History (``blocks`` non-empty each)."""
    object.__setattr__(h, "_lnum", None)
    object.__setattr__(h, "_ltext", None)
    object.__setattr__(h, "_blocks", blocks)
    object.__setattr__(h, "_n", sum(len(b) for b in blocks))
    object.__setattr__(h, "notes", tuple(notes))
    object.__setattr__(h, "sources", dict(sources or {}))
    object.__setattr__(h, "meta", {k: dict(v) for k, v in (meta or {}).items()})
    object.__setattr__(h, "_cache", {})


def _block_index(blocks: tuple[SeriesBlock, ...], c: dict) -> None:  # type: ignore[type-arg]
    """The lookup index of a block-stored History, in ``c``: ``blocks`` (the block numbers of every (run,
    split, metric), in row order), and, as the long table's index has them, ``groups`` (row positions, made
    when asked: :class:`_RowGroups`), ``pairs`` and ``runs``."""
    ids: dict[tuple[str, str, str], list[int]] = {}
    for i, b in enumerate(blocks):
        ids.setdefault((b.run, b.split, b.metric), []).append(i)
    c["blocks"] = ids
    c["groups"] = _RowGroups(blocks, ids)
    c["pairs"] = {(sp, m) for _, sp, m in ids}
    c["runs"] = list(dict.fromkeys(r for r, _, _ in ids))


class _RowGroups(Mapping[tuple[str, str, str], np.ndarray]):
    """The ``groups`` entry of a block-stored History's index: (run, split, metric) → the group's row positions
    in the long table (int arrays, increasing), each made when asked and not kept (a long table's index holds
    4 bytes a row; a block-stored History holds none)."""

    __slots__ = ("_ids", "_starts")

    def __init__(self, blocks: tuple[SeriesBlock, ...], ids: dict[tuple[str, str, str], list[int]]) -> None:
        self._ids = ids
        self._starts = np.concatenate([[0], np.cumsum([len(b) for b in blocks])]).astype(np.intp).tolist()

    def __getitem__(self, key: tuple[str, str, str]) -> np.ndarray:
        st = self._starts
        return np.concatenate([np.arange(st[i], st[i + 1], dtype=np.intp) for i in self._ids[key]])

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


def _block_floats(blocks: tuple[SeriesBlock, ...], col: str) -> np.ndarray:
    """The long float column ``col`` of ``blocks`` (an axis no block has: a zero-stride NaN view)."""
    arrays = [getattr(b, col) for b in blocks]
    if col != "value" and all(_nan_only(a) for a in arrays):
        return absent_axis(sum(a.shape[0] for a in arrays))
    return np.concatenate(arrays).astype(float, copy=False) if arrays else np.empty(0, dtype=float)


def _nan_only(a: np.ndarray) -> bool:
    """Every element NaN (a zero-stride view checked by its one element)."""
    if a.size and a.strides == (0,):
        return bool(np.isnan(a[0]))
    return bool(np.isnan(a).all())


def _block_text(blocks: tuple[SeriesBlock, ...], col: str) -> Text:
    """The long string column ``col`` of ``blocks``: codes (narrowest type) in order of first appearance."""
    table: dict[str, int] = {}
    codes = [table.setdefault(getattr(b, col), len(table)) for b in blocks]
    sizes = [len(b) for b in blocks]
    rep = np.repeat(np.asarray(codes, dtype=code_dtype(len(table))), sizes)
    return rep, np.asarray(list(table), dtype=object)


def blocks_of(h: History) -> tuple[SeriesBlock, ...]:
    """The rows of ``h`` as blocks: a block-stored History's own; a long table cut where (run, split, metric,
    name) changes, each block views of its columns (a long table of few stretches, e.g. :meth:`History.dedupe`'s
    output, becomes block-stored without a copy)."""
    if h._blocks is not None:  # noqa: SLF001
        return h._blocks  # noqa: SLF001
    num, text = h._num, h._text  # noqa: SLF001
    n = len(h)
    if n == 0:
        return ()
    cols = [text[c] for c in ("run", "split", "metric", "name")]
    change = np.zeros(n - 1, dtype=bool)
    for k, _ in cols:
        change |= k[1:] != k[:-1]
    starts = [0, *(np.flatnonzero(change) + 1).tolist(), n]
    labels = [lab[k[starts[:-1]]].tolist() for k, lab in cols]
    out = []
    for j, (a, b) in enumerate(zip(starts[:-1], starts[1:])):
        st, ep = (_pick(num[c], np.arange(a, b)) if num[c].strides == (0,) else num[c][a:b]
                  for c in ("step", "epoch"))
        out.append(SeriesBlock(str(labels[0][j]), str(labels[1][j]), str(labels[2][j]), str(labels[3][j]),
                               st, ep, num["value"][a:b]))
    return tuple(out)


def _empty_columns() -> tuple[dict[str, np.ndarray], dict[str, Text]]:
    """The columns of a History with no rows."""
    num = {c: np.empty(0, dtype=float) for c in NUMBER_COLUMNS}
    text = {c: (np.empty(0, dtype=_CODE), np.empty(0, dtype=object)) for c in TEXT_COLUMNS}
    return num, text


def _is_labels(labels: object) -> bool:
    """``labels`` is already what a History stores: an object array of str."""
    return isinstance(labels, np.ndarray) and labels.dtype == object and all(isinstance(s, str) for s in labels)


def _is_scalar(v: object) -> bool:
    return isinstance(v, (str, bytes)) or np.ndim(v) == 0  # type: ignore[arg-type]


def _n_rows(raw: Mapping[str, object]) -> int:
    """The common length of the non-scalar columns (1 when every column is a scalar)."""
    lengths = {c: len(v) for c, v in raw.items() if not _is_scalar(v)}  # type: ignore[arg-type]
    if len(set(lengths.values())) > 1:
        raise InputError(f"History columns differ in length: {lengths}")
    return next(iter(lengths.values()), 1)


def _encode_list(strings: Sequence[str]) -> Text:
    """Codes in order of first appearance and the table of distinct strings."""
    table: dict[str, int] = {}
    codes = np.fromiter((table.setdefault(s, len(table)) for s in strings), dtype=_CODE, count=len(strings))
    return codes, np.asarray(list(table), dtype=object) if table else np.empty(0, dtype=object)


def _encode(col: object, n: int) -> Text:
    """A string column (a pandas Series, a sequence or a scalar) as codes + distinct ``str`` values."""
    if _is_scalar(col):
        return np.zeros(n, dtype=_CODE), np.asarray([str(col)], dtype=object)
    if hasattr(col, "astype") and hasattr(col, "to_numpy") and hasattr(col, "index"):  # a pandas Series
        import pandas as pd

        codes, uniques = pd.factorize(col.astype(str), use_na_sentinel=False)
        return np.asarray(codes, dtype=_CODE), np.asarray([str(s) for s in uniques], dtype=object)
    return _encode_list([str(s) for s in col])  # type: ignore[attr-defined]


def _relabel(text: Text, to: Mapping[str, str]) -> Text:
    """A text column derived from another one label by label (``name`` → ``split``)."""
    codes, labels = text
    new = _encode_list([to[str(s)] for s in labels])
    return (new[0][codes] if new[0].size else codes.copy()), new[1]


def _default_names(split: Text, metric: Text) -> Text:
    """``<split>_<metric>`` for every row."""
    names = [f"{a}_{b}" for a, b in zip(split[1][split[0]].tolist(), metric[1][metric[0]].tolist(), strict=True)]
    return _encode_list(names)


def _floats(col: object, n: int) -> np.ndarray:
    """A numeric column as float64, NaN where a cell is not a number (``pd.to_numeric(errors="coerce")``)."""
    if _is_scalar(col):
        return np.full(n, _coerce(col))
    if hasattr(col, "index") and hasattr(col, "to_numpy"):  # a pandas Series: its own coercion rules
        import pandas as pd

        return np.array(pd.to_numeric(col, errors="coerce").astype(float).to_numpy(), dtype=float)
    try:
        return np.array(col, dtype=float)
    except (TypeError, ValueError):
        return np.fromiter((_coerce(v) for v in col), dtype=float, count=n)  # type: ignore[attr-defined]


def _coerce(v: object) -> float:
    """One cell as a float, NaN when it is not a number."""
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return float("nan")
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _fmt_x(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _duplicated_keep_last(x: np.ndarray) -> np.ndarray:
    """Boolean per element: True where the same value occurs again later (``duplicated(keep="last")``)."""
    dup = np.ones(x.shape[0], dtype=bool)
    if x.size:
        _, last = np.unique(x[::-1], return_index=True)
        dup[x.shape[0] - 1 - last] = False
    return dup


# ----------------------------------------------------------------------------------------- memory helpers
def absent_axis(n: int) -> np.ndarray:
    """An axis column no row has: ``n`` NaNs as a read-only zero-stride view of one NaN (no memory)."""
    return np.broadcast_to(np.float64(np.nan), (n,))


def _axis(a: np.ndarray) -> np.ndarray:
    """A ``step``/``epoch`` column as stored: an all-NaN one becomes :func:`absent_axis` (its memory freed)."""
    if a.ndim == 1 and a.size and a.strides != (0,) and bool(np.isnan(a).all()):
        return absent_axis(a.shape[0])
    return a


def concat_axis(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Float columns concatenated; columns that are all constant zero-stride NaN views stay one (no memory)."""
    if arrays and all(a.strides == (0,) and (a.size == 0 or np.isnan(a[0])) for a in arrays):
        return absent_axis(sum(a.shape[0] for a in arrays))
    return np.concatenate(arrays).astype(float, copy=False) if arrays else np.empty(0, dtype=float)


def _pick(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``a[rows]``, keeping a zero-stride (constant) column a zero-stride view."""
    if a.strides == (0,) and a.size:
        return np.broadcast_to(a[0], (np.asarray(rows).shape[0],))
    return a[rows]


def code_dtype(n_labels: int) -> type[np.integer[Any]]:
    """The narrowest code type for a table of ``n_labels`` distinct strings."""
    return np.uint8 if n_labels <= 1 << 8 else np.uint16 if n_labels <= 1 << 16 else np.int32


def _narrow(codes: np.ndarray, n_labels: int) -> np.ndarray:
    """``codes`` (valid indices into ``n_labels`` strings) in :func:`code_dtype` (no copy when already so)."""
    return codes.astype(code_dtype(n_labels), copy=False)


def _read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (a Series may share the History's memory: nobody may write through it)."""
    v = a.view()
    v.flags.writeable = False
    return v


def _increasing(a: np.ndarray) -> bool:
    """Strictly increasing and NaN-free (then a stable sort by ``a`` is the identity)."""
    return a.shape[0] < 2 or bool(np.all(a[1:] > a[:-1]))


def series_segments(*codes: np.ndarray) -> list[tuple[tuple[int, ...], int, int]] | None:
    """``[(key, start, stop), …]`` of the runs of equal ``codes`` tuples (row ranges), when no key appears in
    two runs (every group contiguous), else None. Costs one byte a row (no sort)."""
    n = codes[0].shape[0]
    if n == 0:
        return []
    change = np.zeros(n - 1, dtype=bool)
    for k in codes:
        change |= k[1:] != k[:-1]
    starts = np.concatenate([[0], np.flatnonzero(change) + 1])
    keys = list(zip(*(k[starts].tolist() for k in codes)))
    if len(set(keys)) != len(keys):
        return None
    stops = [*starts[1:].tolist(), n]
    return [(key, int(a), b) for key, a, b in zip(keys, starts.tolist(), stops)]


class _Names:
    """The ``name`` column of the lookup index: codes into the distinct names (an object array of the names
    would cost 8 bytes a row). ``names[i]`` is a name (or an object array for an array index)."""

    __slots__ = ("codes", "labels")

    def __init__(self, codes: np.ndarray, labels: np.ndarray) -> None:
        self.codes = codes
        self.labels = labels

    def __getitem__(self, i: Any) -> Any:
        return self.labels[self.codes[i]]

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __iter__(self) -> Iterator[str]:
        return iter(self.labels[self.codes].tolist() if self.labels.size else [])
