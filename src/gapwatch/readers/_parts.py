"""Columnar building blocks shared by the readers, so that a sweep of 10,000 runs builds one History, not
10,000: the blocks' arrays are concatenated once and their strings encoded once per block, not per row.

Every reader returns :class:`Parts` (one per run it found); :func:`build` turns any number of them into one
History and is the **one dedupe path**: resumed steps (a series whose step, or epoch, repeats or goes back) keep
the last value per step, with a note, only in the runs that need it. :func:`records_parts` turns wide records
(JSON Lines, Hugging Face ``log_history``, text logs) into Parts with the same number rules as the CSV readers;
:func:`restarts` finds where an appended log starts a new run (epoch back at its first value).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..history import History, HistoryNote, SeriesBlock, Text, absent_axis, blocks_of, code_dtype, series_segments
from ..names import is_measure, normalize_columns


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


def zero_placeholders(parts: Parts) -> None:
    """Rows of a wide table where every held-out column is exactly 0, a loss among them, are evaluations that did
    not run: Ultralytics trained with ``val=False`` writes 0 for its precision, recall, mAP and validation losses
    at every epoch but the last. A loss of exactly 0 is no measurement, so those rows are left out of the held-out
    series (not failed evaluations: none ran) with a note. Changes ``parts`` in place; nothing when every row (or
    none) is such a row, or when the held-out columns differ in length (not one table)."""
    held = [b for b in parts.blocks if b.split != "train"]
    if not held or not any("loss" in b.metric.split("_") for b in held):
        return
    n = len(held[0].value)
    if any(len(b.value) != n for b in held):
        return
    zero = np.ones(n, dtype=bool)
    for b in held:
        zero &= b.value == 0
    k = int(zero.sum())
    if k == 0 or k == n:
        return
    keep = ~zero
    for b in held:
        b.step, b.epoch, b.value = b.step[keep], b.epoch[keep], b.value[keep]
    parts.notes.append(HistoryNote(parts.run, f"{k} of {n} rows have every held-out column at exactly 0 (a loss "
                                              "too): evaluations that did not run (Ultralytics' val=False writes "
                                              "0s); left out", parts.source))


#: Fewest significant digits one of a repeated final evaluation's values must carry for the repeat to be read as a
#: re-evaluation of the same checkpoint (:func:`final_reevaluation`): a model that is still learning never gives
#: every held-out measure back to this many digits, while coarse values (an accuracy of 0.5 on a small set) can.
REEVALUATION_MIN_DIGITS = 6


#: Largest step gap before a repeated final evaluation, as a share of the median gap between the evaluations before
#: it: a re-evaluation after training is logged at the next global step (one step after the last epoch's
#: evaluation, not an epoch's worth of steps later).
REEVALUATION_MAX_GAP = 0.25


def final_reevaluation(parts: Parts) -> Parts:
    """``parts`` without a held-out split's final re-evaluation: a last evaluation that repeats an earlier one
    exactly in every one of the split's series (two or more) — and not the one just before it — at a step closer to
    the one before than :data:`REEVALUATION_MAX_GAP` of the usual gap. Lightning's
    ``trainer.validate(ckpt_path="best")`` or ``trainer.test`` after fit writes the best epoch's metrics once more,
    one step after the last evaluation (at the same step it is :meth:`History.dedupe`'s case): not a point of the
    curve, so it is left out, with a note. One of the repeated values must carry :data:`REEVALUATION_MIN_DIGITS`
    significant digits or more. A converged model on a fixed set can give an earlier epoch's numbers back exactly
    (a test accuracy of k/2100 with its precision and recall, two epochs apart): an epoch's worth of steps later,
    that is a point of the curve. ``parts`` is not changed (``watch`` reads its parts again at every poll): a new
    :class:`Parts` with new blocks is returned when a split loses its last row, else ``parts`` itself."""
    splits: dict[str, list[Block]] = {}
    for b in parts.blocks:
        if b.split != "train":
            splits.setdefault(b.split, []).append(b)
    drop: dict[int, None] = {}
    notes: list[HistoryNote] = []
    for split, held in splits.items():
        n = held[0].value.shape[0]
        if len(held) < 2 or n < 4 or any(b.value.shape[0] != n for b in held):
            continue
        rows = np.stack([b.value for b in held])  # (series, evaluations)
        last = rows[:, -1]
        if not np.isfinite(last).all() or bool(np.all(rows[:, -2] == last)):
            continue
        same = np.flatnonzero(np.all(rows[:, :-2] == last[:, None], axis=0))
        if same.size == 0:
            continue
        from ..stats import significant_digits  # (only here: reading alone does not import the statistics)

        if max(significant_digits(float(v)) for v in last) < REEVALUATION_MIN_DIGITS:
            continue
        x = held[0].step
        gaps = np.diff(x)
        if not (np.isfinite(gaps).all() and 0 < gaps[-1] <= REEVALUATION_MAX_GAP * np.median(gaps[:-1])):
            continue
        drop.update((id(b), None) for b in held)
        notes.append(HistoryNote(parts.run, f"{split}: the last evaluation (step {x[-1]:g}) repeats evaluation "
                                            f"{int(same[-1]) + 1} exactly in all {len(held)} series: a re-evaluation "
                                            "of that checkpoint after training (Lightning's trainer.validate/test "
                                            "with the best checkpoint), left out of the curve", parts.source))
    if not drop:
        return parts
    blocks = [Block(b.step[:-1], b.epoch[:-1], b.split, b.metric, b.value[:-1], b.name) if id(b) in drop else b
              for b in parts.blocks]
    return Parts(parts.run, parts.source, blocks, [*parts.notes, *notes], parts.meta)


def build(parts: Sequence[Parts], *, consume: bool = False) -> History:
    """One History from the parts of one or many runs (runs keep their order).

    The History is block-stored (:meth:`History.from_blocks`): each block one series, an axis array that
    several blocks hold (the series of one table) or equal axes (the keys of a JSON Lines log) stored once, an
    axis no row has as a zero-stride NaN view: a point costs its value plus its share of the axis (a Keras CSV
    of 4 series: 10 bytes; the long table cost 24 with its index; issue 16, item 10).

    ``consume``: the parts are not used again (a reader's fresh output): the History takes the blocks' arrays
    without a copy and the blocks are left with empty arrays. Otherwise every array is copied (the parts may
    be read again, e.g. by ``watch``)."""
    parts = [final_reevaluation(p) for p in parts]
    blocks = [(p.run, b) for p in parts for b in p.blocks]
    notes = [n for p in parts for n in p.notes]
    sources = {p.run: p.source for p in parts if p.source}
    meta = {p.run: p.meta for p in parts if p.meta}
    if not any(b.value.shape[0] for _, b in blocks):  # no rows: the long (empty) table, as ever
        h = History.from_columns(*_columns(blocks, consume), notes=notes, sources=sources, meta=meta)
        return resolve_resumed(h) if blocks else h
    h = History.from_blocks(_series_blocks(blocks, consume), notes=notes, sources=sources, meta=meta)
    return resolve_resumed(h)


#: How many earlier distinct axis arrays of the same length a new one is compared with (to be stored once
#: when equal): bounds the comparisons of a sweep whose runs all have different axes.
_AXIS_CANDIDATES = 8


def _series_blocks(blocks: list[tuple[str, Block]], consume: bool) -> list[SeriesBlock]:
    """The History's blocks of ``(run, block)`` pairs (empty blocks dropped): every distinct axis array once
    (the same object, or equal values, NaN equal to NaN), all-NaN axes as zero-stride views; arrays taken
    (``consume``) or copied, read-only."""
    canon: dict[int, np.ndarray] = {}  # id of a reader's axis array → the array stored
    by_len: dict[int, list[np.ndarray]] = {}
    absent: dict[int, np.ndarray] = {}
    keep: list[object] = []  # the reader's arrays, alive while ``canon`` is keyed by their id

    def axis(a: np.ndarray) -> np.ndarray:
        got = canon.get(id(a))
        if got is not None:
            return got
        keep.append(a)
        n = a.shape[0]
        if _all_nan(a):  # one zero-stride NaN view per length (the reader's own when it made one)
            if n not in absent:
                absent[n] = a if a.strides == (0,) and a.dtype == np.float64 and not a.flags.writeable \
                    else absent_axis(n)
            got = absent[n]
        else:
            same = by_len.setdefault(n, [])
            got = next((c for c in same if np.array_equal(c, a, equal_nan=True)), None)
            if got is None:
                got = _stored(a, consume)
                same.append(got)
                del same[:-_AXIS_CANDIDATES]
        canon[id(a)] = got
        return got

    out: list[SeriesBlock] = []
    for run, b in blocks:
        n = b.value.shape
        if b.step.shape != n or b.epoch.shape != n:
            raise InputError(f"run {run!r}, series {b.name!r}: step, epoch and value must have one length, got "
                             f"{b.step.shape}, {b.epoch.shape} and {n}")
        if b.value.shape[0]:
            out.append(SeriesBlock(run, b.split, b.metric, b.name, axis(b.step), axis(b.epoch),
                                   _stored(b.value, consume)))
        if consume:
            b.step = b.epoch = b.value = _RELEASED
    return out


def _stored(a: np.ndarray, consume: bool) -> np.ndarray:
    """``a`` as a History keeps it: float64, read-only; a copy unless the parts are consumed."""
    v = np.asarray(a, dtype=float) if consume else np.array(a, dtype=float)
    v = v.view()
    v.flags.writeable = False
    return v


_RELEASED = np.empty(0, dtype=float)


def _columns(blocks: list[tuple[str, Block]],
             consume: bool = False) -> tuple[dict[str, np.ndarray], dict[str, Text]]:
    """The long columns of ``(run, block)`` pairs: the blocks' arrays copied once into preallocated columns
    (``consume``: each block's array released once copied), their strings encoded once per block (codes
    repeated over the block's rows)."""
    sizes = np.fromiter((b.value.shape[0] for _, b in blocks), dtype=np.int64, count=len(blocks))
    total = int(sizes.sum())

    def rep(vals: list[str]) -> Text:
        table: dict[str, int] = {}
        codes = np.fromiter((table.setdefault(v, len(table)) for v in vals), dtype=np.int32, count=len(vals))
        return np.repeat(codes.astype(code_dtype(len(table))), sizes), np.asarray(list(table), dtype=object)

    def column(attr: str, axis: bool) -> np.ndarray:
        """One float column; an axis no block has (all NaN) is a zero-stride NaN view (no memory)."""
        if axis and all(_all_nan(getattr(b, attr)) for _, b in blocks):
            out = absent_axis(total)
        else:
            out = np.empty(total, dtype=float)
            at = 0
            for (_, b), k in zip(blocks, sizes.tolist(), strict=True):
                out[at: at + k] = getattr(b, attr)
                at += k
                if consume:
                    setattr(b, attr, _RELEASED)
        if consume:
            for _, b in blocks:
                setattr(b, attr, _RELEASED)
        return out

    text = {"run": rep([r for r, _ in blocks]), "split": rep([b.split for _, b in blocks]),
            "metric": rep([b.metric for _, b in blocks]), "name": rep([b.name for _, b in blocks])}
    numbers = {"value": column("value", False), "step": column("step", True), "epoch": column("epoch", True)}
    return numbers, text


def _all_nan(a: np.ndarray) -> bool:
    """Every element NaN (an empty array counts); a zero-stride view is checked by its one element."""
    if a.size == 0:
        return True
    if a.strides == (0,):
        return bool(np.isnan(a[0]))
    return bool(np.isnan(a).all())


def needs_dedupe(frame: History | object) -> np.ndarray:
    """Boolean per row: True for rows of runs in which some (split, metric) series repeats or goes back in
    its x (``step``, or ``epoch`` when no row has a step, as :meth:`History.dedupe` chooses). ``frame`` is a
    History or anything the History constructor takes (a pandas DataFrame of its columns)."""
    h = frame if isinstance(frame, History) else History(frame)
    n = len(h)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if h._blocks is not None:  # noqa: SLF001
        bad = _bad_runs_blocks(h)
        return np.concatenate([np.full(len(b), b.run in bad) for b in h._blocks])  # noqa: SLF001
    num, text = h._num, h._text  # noqa: SLF001  # the readers' half of the History's storage
    key = "step" if not np.isnan(num["step"]).all() else "epoch"
    x = num[key]
    (rc, _), (sc, sl), (mc, ml) = text["run"], text["split"], text["metric"]
    if series_segments(rc, sc, mc) is not None:
        bad_runs = _bad_runs_contiguous(x, rc, sc, mc)
    else:
        codes = (rc.astype(np.int64) * len(sl) + sc) * len(ml) + mc
        has = np.isfinite(x)
        idx = np.flatnonzero(has)
        if idx.size < 2:
            return np.zeros(n, dtype=bool)
        order = idx[np.lexsort((idx, codes[idx]))]
        same = codes[order][1:] == codes[order][:-1]
        bad_pairs = same & (np.diff(x[order]) <= 0)
        bad_runs = np.unique(rc[order[1:][bad_pairs]], return_index=True)[0]
    if not bad_runs.size:
        return np.zeros(n, dtype=bool)
    return np.isin(rc, bad_runs)


def _bad_runs_contiguous(x: np.ndarray, rc: np.ndarray, sc: np.ndarray, mc: np.ndarray) -> np.ndarray:
    """The run codes with a series whose finite ``x`` does not strictly increase, rows of each series
    contiguous (:func:`gapwatch.history.series_segments`): the sort-free form of :func:`needs_dedupe`'s
    check, the same pairs compared (consecutive finite rows of one series), at a few bytes a row."""
    has = np.isfinite(x)
    if has.all():
        back = x[1:] <= x[:-1]
        back &= rc[1:] == rc[:-1]
        back &= sc[1:] == sc[:-1]
        back &= mc[1:] == mc[:-1]
        return np.unique(rc[1:][back], return_index=True)[0]
    idx = np.flatnonzero(has)
    if idx.size < 2:
        return np.empty(0, dtype=rc.dtype)
    a, b = idx[:-1], idx[1:]
    back = x[b] <= x[a]
    back &= rc[b] == rc[a]
    back &= sc[b] == sc[a]
    back &= mc[b] == mc[a]
    return np.unique(rc[b[back]], return_index=True)[0]  # (return_index: keeps numpy.ma unimported)


def _bad_runs_blocks(h: History) -> set[str]:
    """:func:`needs_dedupe`'s runs of a block-stored History: those with a (split, metric) series whose finite
    x (``step``, or ``epoch`` when no row has a step) does not strictly increase, the series' rows being its
    blocks' rows in order. An axis array several series share is checked once."""
    blocks = h._blocks or ()  # noqa: SLF001
    key = "step" if not all(_all_nan(b.step) for b in blocks) else "epoch"
    checked: dict[int, bool] = {}
    bad: set[str] = set()
    for (run, _, _), ids in h._index()["blocks"].items():  # noqa: SLF001
        if run in bad:
            continue
        if len(ids) == 1:
            a = getattr(blocks[ids[0]], key)
            ok = checked.get(id(a))
            if ok is None:
                ok = checked[id(a)] = _finite_increasing(a)
        else:
            ok = _finite_increasing(np.concatenate([getattr(blocks[i], key) for i in ids]))
        if not ok:
            bad.add(run)
    return bad


def _finite_increasing(x: np.ndarray) -> bool:
    """The finite values of ``x`` strictly increase (NaN and ±inf skipped, as :func:`needs_dedupe`)."""
    if _all_nan(x):
        return True
    has = np.isfinite(x)
    f = x if has.all() else x[has]
    return f.shape[0] < 2 or bool(np.all(f[1:] > f[:-1]))


def resolve_resumed(h: History) -> History:
    """``h.dedupe()``, but only on the runs that need it (a vectorised check first). A block-stored History
    stays block-stored: the runs that need no resolving keep their blocks (no copy), the resolved runs become
    blocks of the resolved table."""
    if h._blocks is not None:  # noqa: SLF001
        return _resolve_blocks(h)
    bad = needs_dedupe(h)
    if not bad.any():
        return h
    if bad.all():
        return h.dedupe()
    good = h._take(np.flatnonzero(~bad))  # noqa: SLF001
    fixed = h._take(np.flatnonzero(bad), notes=()).dedupe()  # noqa: SLF001
    extra = [n for n in fixed.notes if n not in h.notes]
    merged = History.concat([good, fixed._take(np.arange(len(fixed)), notes=())])  # noqa: SLF001
    # runs back in their first-appearance order in h (stable: each run's rows keep their order)
    rc, rl = h._text["run"]  # noqa: SLF001
    first = {str(rl[k]): i for i, k in enumerate(dict.fromkeys(rc.tolist()))}
    mc, ml = merged._text["run"]  # noqa: SLF001
    rank = np.asarray([first.get(str(s), len(first)) for s in ml], dtype=np.int64)
    order = np.argsort(rank[mc], kind="stable")
    return merged._take(order, notes=[*h.notes, *extra], sources=h.sources, meta=h.meta)  # noqa: SLF001


def _resolve_blocks(h: History) -> History:
    """:func:`resolve_resumed` of a block-stored History: the same rows, notes and order."""
    bad = _bad_runs_blocks(h)
    if not bad:
        return h
    runs = h.runs()
    if len(bad) == len(runs):
        return _reblock(h.dedupe())
    blocks = h._blocks or ()  # noqa: SLF001
    todo = History.from_blocks([b for b in blocks if b.run in bad], notes=(), sources=h.sources, meta=h.meta)
    fixed = todo.dedupe()
    extra = [n for n in fixed.notes if n not in h.notes]
    per_run: dict[str, list[SeriesBlock]] = {}
    for b in (*(b for b in blocks if b.run not in bad), *blocks_of(fixed)):
        per_run.setdefault(b.run, []).append(b)
    return History.from_blocks([b for r in runs for b in per_run[r]], notes=[*h.notes, *extra],
                               sources=h.sources, meta=h.meta)


def _reblock(h: History) -> History:
    """``h`` (a long table) block-stored: its stretches of one series as views of its columns."""
    return History.from_blocks(blocks_of(h), notes=h.notes, sources=h.sources, meta=h.meta)


def read_json_document(path: Path, *, max_bytes: int, limit: str, what: str) -> Any:
    """One whole JSON document (``trainer_state.json``, a dumped Keras history), decoded with the guard log's
    rules (:func:`gapwatch.guardlog.decode_document`: NaN/Infinity accepted, nesting and huge numbers refused);
    a UTF-8 byte-order mark is skipped.

    Raises:
        InputError: larger than ``max_bytes`` (named ``limit`` in the message, with ``what`` the file should have
            been), not UTF-8, unreadable, or not valid JSON (with the line when the parser knows it).
    """
    from .. import guardlog

    try:
        if path.stat().st_size > max_bytes:
            raise InputError(f"larger than {max_bytes:,} bytes ({limit}): not {what}?", path=path)
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None
    try:
        return guardlog.decode_document(text)
    except guardlog.LineError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", path=path, line=exc.lineno) from None


def number(val: object, *, path: object, line: int | None, key: str) -> float:
    """A logged value → float: None/blank → NaN; numbers (ints of any size: ±inf beyond float range) and
    numeric strings (``"0.5"``, ``"nan"``, ``"inf"``) as numbers.

    Raises:
        InputError: anything else (names the file, the line and the key).
    """
    if val is None:
        return math.nan
    if isinstance(val, (int, np.integer)) and not isinstance(val, bool):
        try:
            return float(val)
        except OverflowError:
            return math.inf if val > 0 else -math.inf
    if isinstance(val, (float, np.floating)):
        return float(val)
    if isinstance(val, str):
        t = val.strip()
        if t == "" or t.lower() in ("none", "null"):
            return math.nan
        try:
            return float(t)
        except ValueError:
            pass
    shown = repr(val) if len(repr(val)) <= 40 else repr(val)[:37] + "..."
    raise InputError(f"key {key!r}: expected a number, got {shown}", path=path, line=line)


_X_KEYS = ("step", "global_step")


def records_parts(records: Sequence[tuple[int, Mapping[str, Any]]], run: str, source: str, *,
                  default_split: str = "train", place: str = "line") -> Parts:
    """Wide records ``[(line, {"epoch": 3, "step": 120, "train_loss": 0.4, "val_acc": 0.8}), …]`` → Parts.

    Keys are read with :func:`gapwatch.names.normalize_columns` (all keys of the log together); bookkeeping
    keys (``epoch``, ``step``, ``lr``…) give the axes or are dropped; booleans, nested objects and lists are
    not metric values and are skipped. ``place`` names the unit of ``line`` in error messages (``"line"`` or
    ``"log_history entry #"``).

    Raises:
        InputError: a non-numeric value (names the file, the record and the key).
    """
    read = normalize_columns(_value_keys(records), default_split)
    cols: dict[str, tuple[list[float], list[float], list[float]]] = {k: ([], [], []) for k in read}
    for i, rec in records:
        path, line = _where(source, place, i)
        step, epoch = _axes(rec, path, line)
        for k, v in rec.items():
            col = cols.get(str(k))
            if col is None or not _is_value(v):
                continue
            if not col[2] and text_setting(str(k), v, rec):
                del cols[str(k)]  # (a setting's name beside the numbers, not a measure: dropped for good)
                continue
            col[0].append(step)
            col[1].append(epoch)
            col[2].append(number(v, path=path, line=line, key=str(k)))
    parts = Parts(run, source)
    for k, (st, ep, va) in cols.items():
        if va:
            split, metric = read[k]
            parts.add(np.asarray(st), np.asarray(ep), split, metric, np.asarray(va), k)
    return parts


def text_setting(key: str, v: object, rec: Mapping[str, Any]) -> bool:
    """A record's text value that names a setting (``"sched": "cosine"`` on every record of a JSON Lines log): a
    string that is no number, under a key that names no measure, in a record that holds numbers too. A text value
    under a measure's name, or in a record of text alone, stays an error (a damaged line)."""
    if not isinstance(v, str) or is_measure(key) or not any(type(x) in (int, float) for x in rec.values()):
        return False
    try:
        number(v, path=None, line=None, key=key)  # (blank, "none", "nan", "1e-3": values, as number reads them)
    except InputError:
        return True
    return False


def _is_value(v: object) -> bool:
    """A record's value that can be a metric value (not None, a boolean, a nested object or a list)."""
    return v is not None and not isinstance(v, (bool, dict, list))


def _value_keys(records: Sequence[tuple[int, Mapping[str, Any]]]) -> dict[str, None]:
    """The keys with a metric value in some record, in first-seen order."""
    keys: dict[str, None] = {}
    for _, rec in records:
        for k, v in rec.items():
            if _is_value(v):
                keys.setdefault(str(k), None)
    return keys


def _where(source: str, place: str, i: int) -> tuple[object, int | None]:
    """The ``path`` and ``line`` an error in record ``i`` names."""
    if place != "line":
        return f"{source}, {place}{i}", None
    return source or None, i


def _axes(rec: Mapping[str, Any], path: object, line: int | None) -> tuple[float, float]:
    """A record's step and epoch (NaN where not logged; booleans are not axes)."""
    sv = rec.get("step", rec.get("global_step"))
    step = number(None if isinstance(sv, bool) else sv, path=path, line=line, key="step")
    ev = rec.get("epoch")
    epoch = number(None if isinstance(ev, bool) else ev, path=path, line=line, key="epoch")
    return step, epoch


def restarts(epoch: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges ``[(start, stop), …]`` of the runs in a log that several runs appended to: a new run starts
    where the epoch goes back to the **first** epoch value of the file (Keras ``CSVLogger(append=True)`` with a
    fresh ``fit``, a shell loop appending stdout). An epoch that goes back to any other value is a resume of
    the same run (``fit(initial_epoch=k)``) and stays one run (resolved by :func:`build`). ``epoch`` has
    shape ``(n,)``; NaN epochs never start a run."""
    n = epoch.shape[0]
    ok = np.isfinite(epoch)
    if ok.all():  # (the usual log: no position array and no copy of the epochs)
        if n < 2:
            return [(0, n)]
        back = epoch[1:] == epoch[0]
        back &= epoch[:-1] > epoch[0]
        starts = (np.flatnonzero(back) + 1).tolist()
    else:
        fin = np.flatnonzero(ok)
        if fin.size < 2:
            return [(0, n)]
        first = epoch[fin[0]]
        ev = epoch[fin]
        starts = fin[1:][(ev[1:] == first) & (ev[:-1] > first)].tolist()
    del ok
    bounds = [0, *starts, n]
    return [(bounds[j], bounds[j + 1]) for j in range(len(bounds) - 1)]


def restart_note(run: str, source: str, starts: Sequence[int], what: str) -> HistoryNote:
    """The note that says a log was split into runs at ``starts`` (1-based lines or record numbers)."""
    k = len(starts) + 1
    where = ", ".join(str(s) for s in starts)
    return HistoryNote(run, f"the epoch goes back to its first value at {what} {where}: several runs were "
                            f"appended to one file (e.g. Keras CSVLogger(append=True)); read as {k} runs "
                            f"{run.rsplit('#', 1)[0]}#1…#{k}", source)
