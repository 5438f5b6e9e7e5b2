"""Incremental readers ("tailers") for logs that grow while a run trains.

Each tailer owns one run's source (a file or a run directory), remembers how far it has read, and on
:meth:`Tailer.poll` reads **only what is new**:

* TensorBoard event files: by byte offset. Only complete TFRecord records are consumed (a record cut off at
  the end of the file is held until the writer finishes it); every new record's length checksum is verified.
  The first poll of a file reads it with the fast vectorised decoder of :mod:`gapwatch.readers._tfrecord`;
  later polls decode only the new records. New event files appearing in the run directory (a resumed run)
  are picked up.
* CSV (generic, Keras ``CSVLogger``, Lightning ``metrics.csv``) and JSON Lines: by byte offset; only complete
  lines (ending in ``\\n``) are parsed, a half-written last line is held until the next poll.
* Everything else (Hugging Face ``trainer_state.json`` and ``checkpoint-*/`` directories, which the Trainer
  rewrites whole at each save, and text logs): re-read when the size or modification time of one of its files
  changes. A re-read that fails while the file is still changing is retried at the next poll instead of being
  reported (a save caught half-written).

A file that shrinks (rewritten from scratch, truncated) is read again from its start. The tailers produce the
same :class:`~gapwatch.history.History` as :func:`gapwatch.readers.load` on the finished log (tests compare
them).
"""

from __future__ import annotations

import csv
import io
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import InputError
from ..history import History, HistoryNote, Run
from ..readers import load_file
from ..readers._parts import Parts, build, restarts
from ..readers._tfrecord import (
    MAX_RECORD_BYTES,
    Scalars,
    _framing,
    data_crc_ok,
    decode_event_pb2,
    masked_crc32c_rows,
    read_scalars,
)
from ..readers.base import NoSuchExperiment
from ..readers.generic_csv import Table, _delimiter, _long_parts, fit_row, wide_parts
from ..readers.jsonl import COMMENT_MARKS

#: Reader names (``readers.sniff(...).NAME``) tailed by byte offset; any other format is re-read on change.
LINE_FORMATS = ("csv", "keras-csv", "lightning-csv", "jsonl")
#: Reader names whose run directories are re-read when any file below them changes (an MLflow ``mlruns/``
#: store keeps one file per metric, nested in experiment and run folders).
DEEP_FORMATS = ("mlflow",)
_HDR = struct.Struct("<Q")
#: JSON Lines keys kept whatever their value (History.from_records reads them as the step and epoch and says
#: so when one is not a number).
_JSONL_X_KEYS = ("step", "global_step", "epoch")


@dataclass
class ReadStats:
    """Bytes read from disk by one tailer (for the benchmark's O(new data) check)."""

    bytes_read: int = 0
    polls: int = 0


class Tailer:
    """Base class: ``poll()`` returns the run's whole History when something new was read, else None.

    Raises (from ``poll``):
        FileNotFoundError: the source disappeared.
        InputError: the source cannot be parsed (names the file and place).
    """

    def __init__(self, path: Path, run: str, fmt: str) -> None:
        self.path = Path(path)
        self.run = run
        self.format = fmt
        self.stats = ReadStats()

    def poll(self) -> History | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read_from(self, f: Path, offset: int) -> bytes:
        with open(f, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
        self.stats.bytes_read += len(data)
        return data


# ------------------------------------------------------------------------------------------ TensorBoard
@dataclass
class _EventFile:
    offset: int = 0
    held: bytes = b""  # bytes of a record the writer has not finished (read, not yet decoded)
    records: int = 0
    tags: dict[str, list[np.ndarray]] = field(default_factory=dict)  # tag -> [step, wall, value] chunks
    plugins: dict[str, str] = field(default_factory=dict)
    size: int = -1
    bad_crc: list[int] = field(default_factory=list)  # byte offsets of records skipped for a bad data CRC

    def scalars(self) -> Scalars:
        out = Scalars()
        for tag, chunks in self.tags.items():
            if self.plugins.get(tag, "") not in ("", "scalars"):
                continue
            arr = np.concatenate(chunks, axis=1) if len(chunks) > 1 else chunks[0]
            if len(chunks) > 1:
                self.tags[tag] = [arr]
            out.tags[tag] = (np.arange(arr.shape[1]), arr[0], arr[1], arr[2])
        return out


class TensorBoardTailer(Tailer):
    """Event files of one TensorBoard run (a file, or a run directory as the TensorBoard reader defines
    it)."""

    def __init__(self, path: Path, run: str) -> None:
        super().__init__(path, run, "tensorboard")
        self.files: dict[Path, _EventFile] = {}

    def _list(self) -> list[Path]:
        from ..readers.tensorboard import run_files

        if self.path.is_dir():
            return run_files(self.path)
        if not self.path.exists():
            raise FileNotFoundError(str(self.path))
        return [self.path]

    def poll(self) -> History | None:
        self.stats.polls += 1
        if not self.path.exists():
            raise FileNotFoundError(str(self.path))
        changed = False
        for f in self._list():
            st = self.files.get(f)
            size = f.stat().st_size
            if st is not None and size == st.size:
                continue
            if st is None or size < st.offset:  # new file, or rewritten from scratch
                st = self.files[f] = _EventFile()
                self._first(f, st)
            else:
                self._more(f, st)
            st.size = size
            changed = True
        return self.history() if changed else None

    def _first(self, f: Path, st: _EventFile) -> None:
        buf = self._read_from(f, 0)
        offs, lens, _ = _framing(buf, f)
        n = int(offs.size)
        st.records = n
        st.offset = int(offs[-1] + lens[-1] + 4) if n else 0
        st.held = buf[st.offset:]
        if n == 0:
            return
        sc = read_scalars(f)  # the fast decoder; it may see records appended since our read: cut them
        self.stats.bytes_read += f.stat().st_size
        st.plugins.update(sc.plugins)
        st.bad_crc += [off for off in sc.bad_crc if off < st.offset]
        for tag, (idx, step, wall, val) in sc.tags.items():
            keep = idx < n
            if keep.any():
                st.tags[tag] = [np.vstack([step[keep], wall[keep], val[keep]])]

    def _more(self, f: Path, st: _EventFile) -> None:
        buf = st.held + self._read_from(f, st.offset + len(st.held))
        pos, n = 0, len(buf)
        per: dict[str, tuple[list[float], list[float], list[float]]] = {}
        found: list[tuple[int, int]] = []  # (position, data length) of each complete record
        while pos + 12 <= n:
            (ln,) = _HDR.unpack_from(buf, pos)
            want = int.from_bytes(buf[pos + 8:pos + 12], "little")
            got = int(masked_crc32c_rows(np.frombuffer(buf, np.uint8, 8, pos)[None, :])[0])
            if ln > MAX_RECORD_BYTES or got != want:
                raise InputError(f"corrupt TensorBoard record (length checksum mismatch at byte "
                                 f"{st.offset + pos})", path=f)
            if pos + 16 + ln > n:
                break  # the writer has not finished this record: read it at the next poll
            found.append((pos, ln))
            pos += 16 + ln
        ok = data_crc_ok(np.frombuffer(buf, np.uint8), np.array([p + 12 for p, _ in found], dtype=np.int64),
                         np.array([ln for _, ln in found], dtype=np.int64)) if found else np.ones(0, bool)
        for (rpos, ln), good in zip(found, ok.tolist(), strict=True):
            st.records += 1
            if not good:  # as the batch reader: skip the damaged record, say where
                st.bad_crc.append(st.offset + rpos)
                continue
            try:
                step, wall, vals = decode_event_pb2(buf[rpos + 12:rpos + 12 + ln])
            except Exception:  # noqa: BLE001 - a record that is not an Event carries no scalar (as the reader)
                vals = []
            for tag, x, plugin in vals:
                if plugin is not None:
                    st.plugins.setdefault(tag, plugin)
                if x is None:
                    continue
                lst = per.setdefault(tag, ([], [], []))
                lst[0].append(step)
                lst[1].append(wall)
                lst[2].append(x)
        st.offset += pos
        st.held = buf[pos:]
        for tag, (s, w, v) in per.items():
            st.tags.setdefault(tag, []).append(np.asarray([s, w, v], dtype=float))

    def history(self) -> History:
        root = self.path if self.path.is_dir() else self.path.parent
        files = sorted(self.files)
        frames: list[History] = []
        for f in files:
            rel = f.parent.relative_to(root)
            sub = None if str(rel) in ("", ".") else rel.as_posix()
            frames.extend(scalar_frames(self.files[f].scalars(), sub, self.run, root))
        notes = [HistoryNote(self.run, f"{f.name}: a record at byte {off} failed its data checksum (CRC-32C); "
                                       "skipped", str(f)) for f in files for off in self.files[f].bad_crc]
        if notes:
            frames.append(History({"run": [], "split": [], "metric": [], "value": []}, notes=notes))
        h = History.concat([*frames, Run.without_rows(self.run, str(self.path))]).dedupe()  # (run's source)
        return h.with_meta(self.run, tensorboard_files=[str(f.relative_to(root)) for f in files])


def scalar_frames(sc: Scalars, sub: str | None, run: str, root: Path) -> list[History]:
    """Rows of one event file's scalars, named as :func:`gapwatch.readers.tensorboard.read` names them
    (Keras ``epoch_*`` tags, split sub-directories or a split-named run directory ``root``, a logged ``epoch``
    scalar); ``sub`` is the file's sub-directory in the run (None: the run directory itself)."""
    from ..readers.tensorboard import apart, dir_split, tag_series

    found = []
    epoch_map = sc.tags.get("epoch")
    for tag, (_, step, _, vals) in sc.tags.items():
        series = tag_series(tag, sub, dir_split(sub, root, tag), step, epoch_map)
        if series is not None:
            found.append((series, vals))
    read = apart({name: (split, metric) for (_, _, split, metric, name), _ in found})
    out: list[History] = []
    for (st, epoch, _, _, name), vals in found:
        split, metric = read[name]
        out.append(History({"run": run, "step": st, "epoch": epoch, "split": split, "metric": metric,
                            "value": vals, "name": name}))
    return out


# ------------------------------------------------------------------------------------------ CSV / JSONL
class LineTailer(Tailer):
    """CSV and JSON Lines logs, read by byte offset, complete lines only."""

    def __init__(self, path: Path, run: str, fmt: str) -> None:
        super().__init__(path, run, fmt)
        self.file = self.path / "metrics.csv" if self.path.is_dir() else self.path
        self._reset()

    def _reset(self) -> None:
        self.offset = 0
        self.held = b""
        self.lines = 0
        self.size = -1
        self.columns: list[str] | None = None
        self.delim = ","
        self.parts: list[Parts] = []
        self.records: list[tuple[int, dict[str, Any]]] = []
        self.header: dict[str, Any] | None = None
        self.hparams: dict[str, object] | None = None

    def poll(self) -> History | None:
        self.stats.polls += 1
        size = self.file.stat().st_size  # FileNotFoundError when it vanished
        if size == self.size:
            return None
        if size < self.offset:
            self._reset()
        self.size = size
        data = self.held + self._read_from(self.file, self.offset + len(self.held))
        end = data.rfind(b"\n") + 1
        self.held = data[end:]  # a half-written last line, kept until it is complete
        if end == 0:
            return None  # no complete line yet
        try:
            text = data[:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"not a UTF-8 text file (byte {self.offset + exc.start}: {exc.reason})",
                             path=self.file) from None
        self.offset += end
        first = self.lines + 1
        self.lines += text.count("\n")
        if self.format == "jsonl":
            self._jsonl(text, first)
        else:
            self._csv(text, first)
        return self.history()

    def _jsonl(self, text: str, first: int) -> None:
        for i, line in enumerate(text.split("\n")[:-1], start=first):
            if not line.strip() or line.lstrip().startswith(COMMENT_MARKS):
                continue
            try:
                rec = json.loads(line, parse_constant=lambda c: float(c))
            except ValueError as exc:
                msg = getattr(exc, "msg", exc)
                raise InputError(f"not valid JSON ({msg})", path=self.file, line=i) from None
            if not isinstance(rec, dict):
                raise InputError(f"expected a JSON object, got {type(rec).__name__}", path=self.file, line=i)
            if "gapwatch" in rec:
                if rec["gapwatch"] == "guard/1" and rec.get("monitor"):
                    self.header = rec
                continue
            # arrays and nested objects are never observations (History.from_records skips them): keep only
            # the scalars, so a log that dumps per-layer arrays costs memory for its numbers, not its bytes
            self.records.append((i, {k: v for k, v in rec.items() if not isinstance(v, (dict, list))
                                     or k in _JSONL_X_KEYS}))

    def _csv(self, text: str, first: int) -> None:
        text = text.lstrip("\ufeff") if first == 1 else text
        if self.columns is None:
            head = text.split("\n", 1)[0]
            self.delim = _delimiter(head) or ","
        rdr = csv.reader(io.StringIO(text), delimiter=self.delim)
        rows: list[list[str]] = []
        lines: list[int] = []
        try:
            for row in rdr:
                ln = first + rdr.line_num - 1
                if self.columns is None:
                    self.columns = [h.strip() for h in row]
                    continue
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                rows.append(fit_row(row, len(self.columns), self.file, ln))
                lines.append(ln)
        except csv.Error as exc:
            ln = first + rdr.line_num - 1
            raise InputError(f"malformed CSV ({exc})", path=self.file, line=ln) from None
        if not rows or self.columns is None:
            return
        grid = np.empty((len(rows), len(self.columns)), dtype=object)
        grid[:] = rows
        t = Table(self.file, self.columns, {c: grid[:, j] for j, c in enumerate(self.columns)},
                  np.asarray(lines, dtype=np.int64))
        self.parts.extend(csv_parts(self.format, t, self.run))

    def history(self) -> History:
        if self.format == "jsonl":
            # several fits appended to the file (the epoch goes back to its first value): the latest decides, as
            # in the JSON Lines reader (its launches) and gapwatch.launches
            epochs = np.asarray([r["epoch"] if isinstance(r.get("epoch"), (int, float))
                                 and not isinstance(r.get("epoch"), bool) else np.nan for _, r in self.records],
                                dtype=float)
            latest = self.records[restarts(epochs)[-1][0]:]
            h = History.from_records([r for _, r in latest], run=self.run, source=str(self.file),
                                     lines=[ln for ln, _ in latest])
            if self.header is not None and not h.empty:
                hd = self.header
                h = h.with_meta(h.name, monitor=str(hd["monitor"]), monitor_mode=hd.get("mode"))
            return h
        if self.format == "lightning-csv" and self.hparams is None:
            self.hparams = _lightning_hparams(self.file.parent / "hparams.yaml")
        parts = [Parts(p.run, str(self.path), p.blocks, p.notes, p.meta) for p in self.parts]
        h = build(parts)
        if self.hparams:
            h = h.with_meta(self.run, hparams=self.hparams)
        return h


def _lightning_hparams(f: Path) -> dict[str, object]:
    """``hparams.yaml`` beside a Lightning ``metrics.csv``, read by the Lightning reader ({} when absent or
    unreadable: the reader's own note says why when the finished log is analysed)."""
    from ..readers.lightning_csv import _hparams

    if not f.is_file():
        return {}
    try:
        return dict(_hparams(f))
    except (ValueError, OSError):
        return {}


def csv_parts(fmt: str, t: Table, run: str) -> list[Parts]:
    """Rows of a CSV chunk → Parts, as the reader of format ``fmt`` converts a whole table."""
    if fmt == "keras-csv":
        from ..readers.keras_csv import EPOCH_OFFSET as KERAS_OFFSET

        return [wide_parts(t, run, epoch_offset=KERAS_OFFSET)]
    if fmt == "lightning-csv":
        from ..readers.lightning_csv import table_parts

        return [table_parts(t, run)]
    lower = t.lower()
    if {"split", "metric", "value"} <= set(lower):
        return _long_parts(t, run)
    if "run" in lower:  # a wide CSV holding several runs, told apart by a run column
        names = np.asarray([str(v).strip() for v in t.cells[lower["run"]]], dtype=object)
        out = []
        for name in dict.fromkeys(names.tolist()):
            m = names == name
            sub = Table(t.path, t.columns, {c: v[m] for c, v in t.cells.items()}, t.lines[m])
            out.append(wide_parts(sub, str(name) or run))
        return out
    return [wide_parts(t, run)]


# ------------------------------------------------------------------------------------------ whole files
class WholeTailer(Tailer):
    """Re-reads the source with its reader when one of its files changes size or modification time.

    Args:
        experiment: read only this experiment of a tracker store (:func:`gapwatch.readers.load`); a store
            without it raises :class:`~gapwatch.readers.base.NoSuchExperiment` once per change of its files.
    """

    def __init__(self, path: Path, run: str, fmt: str, experiment: str | None = None) -> None:
        super().__init__(path, run, fmt)
        self.experiment = experiment
        self.signature: tuple[tuple[str, int, int], ...] | None = None
        self.failed: tuple[tuple[str, int, int], ...] | None = None

    def _signature(self) -> tuple[tuple[str, int, int], ...]:
        if not self.path.is_dir():
            st = self.path.stat()
            return ((self.path.name, st.st_size, st.st_mtime_ns),)
        out: list[tuple[str, int, int]] = []
        if self.format in DEEP_FORMATS:  # a tracker store: its files sit in nested folders
            for dirpath, _, files in os.walk(self.path):
                for name in files:
                    f = os.path.join(dirpath, name)
                    try:
                        s = os.stat(f)
                    except OSError:
                        continue
                    out.append((os.path.relpath(f, self.path), s.st_size, s.st_mtime_ns))
            return tuple(sorted(out))
        with os.scandir(self.path) as it:
            for e in it:
                if e.is_file():
                    s = e.stat()
                    out.append((e.name, s.st_size, s.st_mtime_ns))
                elif e.is_dir() and e.name.startswith("checkpoint-"):
                    state = Path(e.path) / "trainer_state.json"
                    if state.is_file():
                        s = state.stat()
                        out.append((f"{e.name}/{state.name}", s.st_size, s.st_mtime_ns))
        return tuple(sorted(out))

    def poll(self) -> History | None:
        self.stats.polls += 1
        if not self.path.exists():
            raise FileNotFoundError(str(self.path))
        sig = self._signature()
        if sig == self.signature:
            return None
        try:
            h = load_file(self.path, run=self.run, experiment=self.experiment)
        except NoSuchExperiment:
            self.signature, self.failed = sig, None  # asked again only when the store changes
            raise
        except InputError:
            if self.failed == sig:
                raise  # the file stopped changing and is still unreadable: a real error
            self.failed = sig  # caught mid-write: read again at the next poll
            return None
        self.stats.bytes_read += sum(s for _, s, _ in sig)
        self.signature, self.failed = sig, None
        return h


def make_tailer(path: Path, run: str, mod: ModuleType, experiment: str | None = None) -> Tailer:
    """The tailer for a source recognised by reader module ``mod`` (``experiment``: for a reader that takes
    that option, see :class:`WholeTailer`; the caller checks that ``mod`` takes it)."""
    name = str(getattr(mod, "name", None) or mod.NAME)  # a Reader object (plug-in) or a reader module
    if experiment is not None:
        return WholeTailer(path, run, name, experiment)
    if name == "tensorboard":
        return TensorBoardTailer(path, run)
    if name in LINE_FORMATS:
        return LineTailer(path, run, name)
    return WholeTailer(path, run, name)
