"""JSON Lines logs: one JSON object per logged line, e.g. ``{"epoch": 3, "train_loss": 0.4, "val_loss": 0.6}``.

Also reads gapwatch's own guard logs (format: :mod:`gapwatch.guardlog`): the header's monitor goes to the run's
metadata (``monitor``, ``monitor_mode``); decision, finding and resume records are not metrics. Keys are
normalised with :func:`gapwatch.names.normalize_columns`; bookkeeping keys (``epoch``, ``step``, ``lr``…) are
not metrics; booleans and nested values are skipped.

Damage it tolerates, each with a note: **comment lines** a person wrote between the records (``// 4-layer FNet``,
``# run 2``: :data:`COMMENT_MARKS`) are skipped; a **last line cut off** by a crash (no line end, not valid JSON) is
ignored; a **cut-off line with a resumed run's record appended to it** (the kill left no line end, the resumed
writer appended) is read from where the appended record starts. Any other invalid line is an
:class:`InputError` naming the line. Lines are read one at a time, each at most
:data:`gapwatch.guardlog.MAX_LINE_CHARS` characters.

Memory: records are read one line at a time into one growing float array per metric key (step, epoch and
value: 24 bytes a value), never kept as Python objects (:class:`RecordColumns`).

Long-format records (``{"step": 3, "split": "val", "metric": "loss", "value": 0.58}``, one observation a line, as
the long CSV) are read as ``val_loss`` at step 3. Records that say which phase they belong to (MMDetection/MMCV 2.x
``*.log.json``: ``{"mode": "train", "epoch": 1, "iter": 50, "loss": 0.8}`` and ``{"mode": "val", "epoch": 1,
"bbox_mAP": 0.21}``; hand-written loggers with ``"phase"``, ``"split"`` or ``"stage"``): each metric key of such a
record is read with the phase as its split prefix (``val_bbox_mAP``), unless its name already names a split;
MMDetection's ``*_copypaste`` summary strings are skipped. A **first line of run metadata** (MMDetection's
``{"env_info": "...", "config": "...", "seed": 0}``: text values and no step or epoch) is skipped with a note.

Recognised by its first non-empty line that is no comment being a JSON object (read in full, whatever its
length). A file named
``*.json`` holding a single JSON object (``config.json``, ``results.json``) is a document, not a log.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import guardlog, schedule
from ..errors import InputError
from ..history import NO_AXIS_NOTE, HistoryNote
from ..names import SPLIT_ALIASES, is_measure, names_a_split, normalize_columns, role
from ._parts import Parts, _axes, _is_value, _where, number, restart_note, text_setting
from .base import FunctionReader

NAME = "jsonl"

#: Non-empty lines the sniffer looks at (the first decides; more are read only to tell a one-object ``.json``
#: document from a log).
SNIFF_LINES = 2


#: A line starting (after blanks) with one of these is a comment a person wrote between the records (``// 4-layer
#: FNet`` before the next run's lines), not a record: skipped, with a note.
COMMENT_MARKS: tuple[str, ...] = ("//", "#")


def _first_lines(path: Path, n: int) -> list[str]:
    out: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        while len(out) < n:
            line = fh.readline(guardlog.MAX_LINE_CHARS + 1)
            if not line:
                break
            if line.strip() and not line.lstrip("\ufeff \t").startswith(COMMENT_MARKS):
                out.append(line.lstrip("\ufeff"))
    return out


def sniff(path: Path, head: str) -> bool:
    start = head.lstrip("\ufeff \t\r\n")
    if not path.is_file() or not start.startswith(("{", *COMMENT_MARKS)):
        return False
    lines = _first_lines(path, SNIFF_LINES)  # (comment lines skipped)
    if not lines or not lines[0].lstrip().startswith("{"):
        return False
    try:
        first = guardlog.decode(lines[0])
    except guardlog.LineError:
        return False
    if not isinstance(first, dict) or not first:
        return False
    if guardlog.is_guard_record(first):
        return True
    if path.suffix.lower() == ".json" and len(lines) < 2:
        return False  # one JSON document (a config, a results summary), not a log of records
    # a whole-file JSON document on one line (trainer_state.json) is the hf reader's
    return not isinstance(first.get("log_history"), list)


def _lines(path: Path) -> Any:
    """``(number, text)`` of each line, each read with a length bound."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        i = 0
        while True:
            line = fh.readline(guardlog.MAX_LINE_CHARS + 1)
            if not line:
                return
            i += 1
            if len(line) > guardlog.MAX_LINE_CHARS:
                raise InputError(f"line longer than {guardlog.MAX_LINE_CHARS:,} characters (MAX_LINE_CHARS): "
                                 "not a JSON Lines log?", path=path, line=i)
            yield i, line


class RecordColumns:
    """Wide records (``{"epoch": 3, "step": 120, "train_loss": 0.4, "val_acc": 0.8}``) → :class:`Parts`, one
    record at a time: the same numbers, names, order and errors as :func:`gapwatch.readers._parts.records_parts`
    on the whole list, but memory grows only with the values kept (three float64 per value, in
    :class:`array.array` columns), not with the records.

    Keys whose :func:`gapwatch.names.role` is not ``metric`` are skipped as they come; booleans, ``None``,
    nested objects and lists are not values. A value that is not a number is remembered (the first one) and
    raised by :meth:`parts`, so an invalid line later in the file is still reported first, as when the whole
    file was decoded before its numbers were read.
    """

    def __init__(self, source: str, *, default_split: str = "train", place: str = "line",
                 order_is_epoch: bool = False) -> None:
        self.source = source
        self.default_split = default_split
        self.place = place
        #: when no record logs a step or an epoch and every key was logged equally often, read each key's k-th
        #: value as epoch k (a JSON Lines file of one record per epoch; else such values have no place on either
        #: axis: "epoch ?" in messages); keys logged at different rates are left so rather than misaligned
        self.order_is_epoch = order_is_epoch
        self.cols: dict[str, tuple[array[float], array[float], array[float]]] = {}
        self._skip: set[str] = set()
        #: schedule-role keys (``learning_rate``): kept apart for ``meta["schedule"]``, never judged
        self.schedule: dict[str, tuple[array[float], array[float], array[float]]] = {}
        self.error: InputError | None = None

    def add(self, i: int, rec: Mapping[str, Any]) -> None:
        """Record number ``i`` (its line, or its place in a list)."""
        if self.error is not None:
            return
        path, line = _where(self.source, self.place, i)
        try:
            # a float step/epoch/value is its own number (what number() returns for it): skip the call, the
            # per-value cost of a 2 GB log
            sv, ev = rec.get("step", rec.get("global_step")), rec.get("epoch")
            step, epoch = (sv, ev) if type(sv) is float and type(ev) is float else _axes(rec, path, line)
            cols, skip = self.cols, self._skip
            for k, v in rec.items():
                is_float = type(v) is float
                if not is_float and not _is_value(v):
                    continue
                col = cols.get(k) if type(k) is str else None
                if col is None:
                    key = str(k)
                    col = cols.get(key)
                    if col is None:
                        if key in skip or (kind := role(key)) != "metric":
                            if key not in skip and kind == "schedule":
                                self.schedule[key] = (array("d"), array("d"), array("d"))
                            skip.add(key)
                            sched = self.schedule.get(key)
                            if sched is not None and (is_float or type(v) is int):
                                sched[0].append(step)
                                sched[1].append(epoch)
                                sched[2].append(float(v))
                            continue
                        if text_setting(key, v, rec):  # (``"sched": "cosine"``: a setting's name)
                            skip.add(key)
                            continue
                        col = cols[key] = (array("d"), array("d"), array("d"))
                x = v if is_float else number(v, path=path, line=line, key=str(k))
                col[0].append(step)
                col[1].append(epoch)
                col[2].append(x)
        except InputError as exc:
            self.error = exc

    def extend(self, records: Iterable[tuple[int, Mapping[str, Any]]]) -> RecordColumns:
        for i, rec in records:
            self.add(i, rec)
        return self

    def parts(self, run: str) -> Parts:
        """The series read so far as Parts of ``run``.

        Raises:
            InputError: the first value that is not a number (names the file, the record and the key).
        """
        if self.error is not None:
            raise self.error
        read = normalize_columns(list(self.cols), self.default_split)
        parts = Parts(run, self.source)
        for k, (st, ep, va) in self.schedule.items():
            schedule.keep(parts.meta, k, np.frombuffer(st, dtype=float), np.frombuffer(ep, dtype=float),
                          np.frombuffer(va, dtype=float))
        by_epoch = _steps_that_are_epochs(self.cols)
        unplaced = self.order_is_epoch and len({len(va) for _, _, va in self.cols.values()}) == 1 and not any(
            np.isfinite(np.frombuffer(a, dtype=float)).any() for st, ep, _ in self.cols.values() for a in (st, ep))
        for k, (st, ep, va) in self.cols.items():
            if k in read and len(va):
                split, metric = read[k]
                step, epoch = np.frombuffer(st, dtype=float), np.frombuffer(ep, dtype=float)
                if k in by_epoch:
                    step, epoch = np.full(step.shape, np.nan), step
                elif unplaced:  # (the k-th value of a key is its k-th epoch, as in a Keras history)
                    epoch = np.arange(1.0, len(va) + 1.0)
                parts.add(step, epoch, split, metric, np.frombuffer(va, dtype=float), k)
        if unplaced and parts.blocks:
            parts.notes.append(HistoryNote(run, NO_AXIS_NOTE, self.source))
        if by_epoch:
            parts.notes.append(HistoryNote(run, f"{', '.join(sorted(by_epoch)[:3])}: logged without an epoch at "
                                           "steps no larger than the log's last epoch, while the other values "
                                           "have an epoch and steps far beyond it (MMEngine's scalars.json "
                                           "logs validation results at step = epoch): read as epochs",
                                           self.source))
        return parts


#: Keys whose text value says which phase (split) a record belongs to, first match wins.
PHASE_KEYS = ("mode", "phase", "split", "stage")

#: Key endings of text summaries that are not values (MMDetection's ``bbox_mAP_copypaste``: "0.36 0.57 …").
SUMMARY_SUFFIXES = ("_copypaste",)


def _split_objects(rec: dict[str, Any]) -> dict[str, Any]:
    """``{"epoch": 3, "train": {"loss": 5.2}, "val": {"loss": 4.9, "top1": 3.3}}`` (a record with one object of
    numbers per split) → ``{"epoch": 3, "train_loss": 5.2, "val_loss": 4.9, "val_top1": 3.3}``; an object under a
    key that names no split (a settings object) is left as it is (and skipped as no number)."""
    out: dict[str, Any] = {}
    for k, v in rec.items():
        if isinstance(v, dict) and isinstance(k, str) and k.strip().lower() in SPLIT_ALIASES:
            out.update({f"{k}_{m}": x for m, x in v.items() if not isinstance(x, (dict, list))})
        else:
            out[k] = v
    return out


def _phased(rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` with each split's object of numbers flattened (:func:`_split_objects`) and each metric key prefixed
    by the record's phase (``{"mode": "val", "bbox_mAP": 0.2}`` →
    ``{"val_bbox_mAP": 0.2}``); the phase key and summary strings dropped. A record without a phase key whose
    text value is a split name is returned as it is. A long-format record (``{"step": 3, "split": "val",
    "metric": "loss", "value": 0.58}``, as the long CSV) becomes ``{"step": 3, "val_loss": 0.58}``."""
    if any(isinstance(v, dict) for v in rec.values()):
        rec = _split_objects(rec)
    name, value = rec.get("metric"), rec.get("value")
    if isinstance(name, str) and name and "value" in rec and not isinstance(value, (str, dict, list)):
        split = rec.get("split")
        key = f"{split}_{name}" if isinstance(split, str) and split and not names_a_split(name) else name
        return {**{k: v for k, v in rec.items() if k not in ("split", "metric", "value")}, key: value}
    for pk in PHASE_KEYS:
        v = rec.get(pk)
        if isinstance(v, str) and v.strip().lower() in SPLIT_ALIASES:
            phase = v.strip().lower()
            out: dict[str, Any] = {}
            for k, x in rec.items():
                if k == pk or (isinstance(k, str) and k.endswith(SUMMARY_SUFFIXES)):
                    continue
                named = isinstance(k, str) and role(k) == "metric" and not names_a_split(k)
                out[f"{phase}_{k}" if named else k] = x
            return out
    return rec


def _is_metadata(rec: Mapping[str, Any]) -> bool:
    """A record of run metadata, not values: no step or epoch, no measure (a loss, an accuracy…) with a number,
    and a text value that is not a number."""
    if any(k in rec for k in ("step", "global_step", "epoch")):
        return False
    if any(isinstance(k, str) and is_measure(k) and isinstance(v, (int, float)) for k, v in rec.items()):
        return False
    for v in rec.values():
        if isinstance(v, str):
            try:
                float(v.strip())
            except ValueError:
                return True
    return False


def _steps_that_are_epochs(cols: Mapping[str, tuple[array[float], array[float], array[float]]]) -> set[str]:
    """Keys logged with a step but never an epoch, whose steps are whole numbers within the epochs of the keys
    that do log an epoch, while those keys' steps go far beyond their epochs (more than
    ``STEP_EPOCH_RATIO`` times): MMEngine (MMDetection 3, MMSegmentation 1, MMPretrain) writes the training
    records of ``vis_data/scalars.json`` with ``epoch`` and the global iteration as ``step``, and the
    validation records with the epoch as ``step`` and no ``epoch``."""
    max_ep, max_st = -np.inf, -np.inf
    for st, ep, _ in cols.values():
        e = np.frombuffer(ep, dtype=float)
        fin = np.isfinite(e)
        if fin.any():
            max_ep = max(max_ep, float(e[fin].max()))
            s = np.frombuffer(st, dtype=float)[fin]
            if np.isfinite(s).any():
                max_st = max(max_st, float(np.nanmax(s)))
    if not np.isfinite(max_ep) or not np.isfinite(max_st) or max_ep < 0 or max_st <= STEP_EPOCH_RATIO * (max_ep + 1):
        return set()  # (negative epochs are no MMEngine log's)
    out: set[str] = set()
    for k, (st, ep, _) in cols.items():
        e, s = np.frombuffer(ep, dtype=float), np.frombuffer(st, dtype=float)
        if s.size and not np.isfinite(e).any() and np.isfinite(s).all() and s.max() <= max_ep + 1 \
                and s.min() >= 0 and np.all(s == np.round(s)):
            out.add(k)
    return out


#: How far (a multiple of the last epoch + 1) the steps of the epoch-bearing records must reach for steps of
#: records without an epoch that stay within the epochs to be read as epochs.
STEP_EPOCH_RATIO = 2.0


#: Keys under which a record holds the configuration it was run with (a sweep's results file: one line per
#: configuration, ``{"config": {"lr": 0.1, "num_epochs": 4}, "accuracy": 0.85}``).
CONFIG_KEYS = ("config", "hparams", "hyperparameters", "params", "args")
#: Share of a file's value records with a configuration of their own (distinct from every other record's) above
#: which, with no step or epoch anywhere, the file is a sweep's results and not a curve.
SWEEP_DISTINCT_SHARE = 0.5


class _Configs:
    """Counts the configurations the records of a JSON Lines file hold (:data:`CONFIG_KEYS`) and whether any
    record logs a step or an epoch: a file whose every record holds its own configuration and none an axis is the
    final results of a sweep, one line per configuration — read as a curve, its rows ordered by configuration
    became "evaluations" and a sweep over learning rates "overfitted"."""

    def __init__(self) -> None:
        self.records = 0
        self.with_config = 0
        self.key = ""
        self.distinct: set[str] = set()
        self.axis = False

    def add(self, rec: Mapping[str, Any]) -> None:
        self.records += 1
        if not self.axis and any(k in rec for k in ("step", "global_step", "epoch", "iteration", "iter")):
            self.axis = True
        if self.axis:
            return
        for k in CONFIG_KEYS:
            v = rec.get(k)
            if isinstance(v, dict):
                self.with_config += 1
                self.key = self.key or k
                self.distinct.add(json.dumps(v, sort_keys=True, default=str))
                return

    def check(self, path: Path) -> None:
        """Raise :class:`InputError` when the file is a sweep's results (see the class docstring)."""
        if self.axis or self.records < 2 or self.with_config < self.records \
                or len(self.distinct) <= SWEEP_DISTINCT_SHARE * self.records:
            return
        raise InputError(f"every line holds its own configuration under {self.key!r} ({self.records} lines, "
                         f"{len(self.distinct)} configurations) and none a step or an epoch: the final results of a "
                         "sweep, one line per configuration, not a training curve; point gapwatch at each run's "
                         "own log (or a directory of them)", path=path)


def _recover(line: str) -> dict[str, Any] | None:
    """The record appended onto a cut-off line (starts at a later ``{"``), or None."""
    start = line.find('{"', 1)
    return guardlog.decode_object_at(line, start) if start > 0 else None


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    cols = RecordColumns(str(path), order_is_epoch=True)
    launches = [cols]  # a new one where the epoch goes back to the file's first epoch (:func:`_parts.restarts`)
    starts: list[int] = []
    first_epoch = last_epoch = math.nan
    header: dict[str, Any] | None = None
    notes: list[str] = []
    seen = False  # a value record was read (only the first record may be metadata)
    configs = _Configs()
    comments = 0
    for i, line in _lines(path):
        if not line.strip():
            continue
        if line.lstrip().startswith(COMMENT_MARKS):
            comments += 1
            continue
        try:
            rec = guardlog.decode(line)
        except guardlog.LineError as exc:
            rec = _recover(line)
            if rec is not None:
                notes.append(f"line {i} holds a line cut off by a crash with a resumed run's record appended "
                             "to it: the cut-off part was ignored")
            elif not line.endswith(("\n", "\r")):
                notes.append(f"line {i}, the last, is incomplete (a run still writing, or a crash); it was "
                             "ignored")
                break
            else:
                raise InputError(f"not valid JSON ({exc.msg})", path=path, line=i) from None
        if not isinstance(rec, dict):
            raise InputError(f"expected a JSON object, got {type(rec).__name__}", path=path, line=i)
        if guardlog.is_guard_record(rec):
            if header is None and (guardlog.is_guard_header(rec) or guardlog.is_monitor_record(rec)) \
                    and rec.get("monitor"):
                header = rec  # the live guard's header (or later monitor record) names the series it monitored
            continue
        if not seen and _is_metadata(rec):
            notes.append(f"line {i} holds the run's metadata ({', '.join(list(map(str, rec))[:3])}…), not logged "
                         "values: skipped")
            seen = True
            continue
        seen = True
        configs.add(rec)
        ev = rec.get("epoch")
        if isinstance(ev, (int, float)) and not isinstance(ev, bool) and math.isfinite(ev):
            if ev == first_epoch and last_epoch > first_epoch:  # (several fits appended to one file)
                cols = RecordColumns(str(path), order_is_epoch=True)
                launches.append(cols)
                starts.append(i)
            if math.isnan(first_epoch):
                first_epoch = float(ev)
            last_epoch = float(ev)
        cols.add(i, _phased(rec))
    configs.check(path)
    if comments:
        notes.append(f"{comments} comment line(s) (starting with // or #) between the records were skipped")
    out = []
    for k, launch in enumerate(launches, start=1):
        name = run if len(launches) == 1 else f"{run}#{k}"
        parts = launch.parts(name)
        parts.notes.extend(HistoryNote(name, n, str(path)) for n in notes)
        if len(launches) > 1:
            parts.notes.append(restart_note(name, str(path), starts, "line"))
        if header is not None and parts.blocks:
            parts.meta.update(monitor=str(header["monitor"]), monitor_mode=header.get("mode"))
        out.append(parts)
    return out


READER = FunctionReader(NAME, sniff, read_parts, "JSON Lines, one object per logged line (and guard logs)")
