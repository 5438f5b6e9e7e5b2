"""JSON Lines logs: one JSON object per logged line, e.g. ``{"epoch": 3, "train_loss": 0.4, "val_loss": 0.6}``.

Also reads gapwatch's own guard logs (format: :mod:`gapwatch.guardlog`): the header's monitor goes to the run's
metadata (``monitor``, ``monitor_mode``); decision, finding and resume records are not metrics. Keys are
normalised with :func:`gapwatch.names.normalize_columns`; bookkeeping keys (``epoch``, ``step``, ``lr``…) are
not metrics; booleans and nested values are skipped.

Damage it tolerates, each with a note: a **last line cut off** by a crash (no line end, not valid JSON) is
ignored; a **cut-off line with a resumed run's record appended to it** (the kill left no line end, the resumed
writer appended) is read from where the appended record starts. Any other invalid line is an
:class:`InputError` naming the line. Lines are read one at a time, each at most
:data:`gapwatch.guardlog.MAX_LINE_CHARS` characters.

Memory: records are read one line at a time into one growing float array per metric key (step, epoch and
value: 24 bytes a value), never kept as Python objects (:class:`RecordColumns`).

Recognised by its first non-empty line being a JSON object (read in full, whatever its length). A file named
``*.json`` holding a single JSON object (``config.json``, ``results.json``) is a document, not a log.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import guardlog, schedule
from ..errors import InputError
from ..history import HistoryNote
from ..names import normalize_columns, role
from ._parts import Parts, _axes, _is_value, _where, number
from .base import FunctionReader

NAME = "jsonl"

#: Non-empty lines the sniffer looks at (the first decides; more are read only to tell a one-object ``.json``
#: document from a log).
SNIFF_LINES = 2


def _first_lines(path: Path, n: int) -> list[str]:
    out: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        while len(out) < n:
            line = fh.readline(guardlog.MAX_LINE_CHARS + 1)
            if not line:
                break
            if line.strip():
                out.append(line.lstrip("\ufeff"))
    return out


def sniff(path: Path, head: str) -> bool:
    if not path.is_file() or not head.lstrip("\ufeff \t\r\n").startswith("{"):
        return False
    lines = _first_lines(path, SNIFF_LINES)
    try:
        first = guardlog.decode(lines[0]) if lines else None
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

    def __init__(self, source: str, *, default_split: str = "train", place: str = "line") -> None:
        self.source = source
        self.default_split = default_split
        self.place = place
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
        for k, (st, ep, va) in self.cols.items():
            if k in read and len(va):
                split, metric = read[k]
                parts.add(np.frombuffer(st, dtype=float), np.frombuffer(ep, dtype=float), split, metric,
                          np.frombuffer(va, dtype=float), k)
        return parts


def _recover(line: str) -> dict[str, Any] | None:
    """The record appended onto a cut-off line (starts at a later ``{"``), or None."""
    start = line.find('{"', 1)
    return guardlog.decode_object_at(line, start) if start > 0 else None


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    cols = RecordColumns(str(path))
    header: dict[str, Any] | None = None
    notes: list[str] = []
    for i, line in _lines(path):
        if not line.strip():
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
        cols.add(i, rec)
    parts = cols.parts(run)
    parts.notes.extend(HistoryNote(run, n, str(path)) for n in notes)
    if header is not None and parts.blocks:
        parts.meta.update(monitor=str(header["monitor"]), monitor_mode=header.get("mode"))
    return [parts]


READER = FunctionReader(NAME, sniff, read_parts, "JSON Lines, one object per logged line (and guard logs)")
