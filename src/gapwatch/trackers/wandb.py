"""Weights & Biases runs as gapwatch sources, with no server contact: offline run directories and CSV exports.

**Run directories.** ``wandb.init(mode="offline")`` writes ``wandb/offline-run-<time>-<id>/run-<id>.wandb``
(online runs write ``wandb/run-<time>-<id>/`` with the same file). The ``.wandb`` file is the SDK's
transaction log: a 7-byte file header (``:W&B``, magic ``0xBEE1``, format version 0), then LevelDB-log framed
records (32 KiB blocks; each chunk ``crc32 | length | type`` with types FULL/FIRST/MIDDLE/LAST) holding
serialized ``wandb_internal.Record`` protobufs. The ``wandb`` SDK up to 0.2x shipped a Python reader for it
(``wandb.sdk.internal.datastore``); the SDK 0.31 reads it in its Go core only, so the framing is walked here
(:data:`FORMAT_VERSION`, checksums verified) and every record is decoded with the SDK's own protobuf classes
(``wandb.proto.wandb_internal_pb2``; ``pip install 'gapwatch[wandb]'``). ``history`` records become the
curve (``_step`` is the step; keys are normalised like any log), ``config`` records the hyperparameters
(``History.meta[run]["hparams"]``), the ``run`` record the run's name, id and project. A file from a newer
SDK (another format version) or a record the protobufs cannot decode is a one-line :class:`InputError`; a
record cut off at the end (a run still writing) is ignored.

**CSV exports** (the W&B UI's "Export CSV" of a panel): a ``Step`` column, then ``<run> - <metric>`` columns
(plus ``__MIN``/``__MAX`` band columns, which are skipped); one gapwatch run per W&B run name.

**Projects.** ``experiment=`` (:func:`gapwatch.readers.load`) selects a W&B project: the runs whose ``run``
record names that project (a CSV export names none).
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, require
from ..history import History
from ..readers._parts import Parts, build
from ..readers.base import FunctionReader, NoSuchExperiment, check_experiment
from ._series import run_parts

NAME = "wandb"
#: The transaction-log format version this reader understands (the file header's last byte).
FORMAT_VERSION = 0
_IDENT = b":W&B"
_MAGIC = 0xBEE1
_FILE_HEADER = struct.Struct("<4sHB")
_CHUNK = struct.Struct("<IHB")
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_CRC = {t: zlib.crc32(bytes([t])) for t in (_FULL, _FIRST, _MIDDLE, _LAST)}
_EXPORT_COL = re.compile(r"^(?P<run>.+?) - (?P<metric>.+?)(?P<band>__MIN|__MAX)?$")


# ------------------------------------------------------------------------------------------ sniffing
def run_file(path: Path) -> Path | None:
    """The ``run-*.wandb`` file of a run directory or the file itself (None: not a W&B run)."""
    p = Path(path)
    if p.is_symlink():  # wandb/latest-run points at a run already read
        return None
    if p.is_file():
        try:
            with open(p, "rb") as fh:
                return p if fh.read(4) == _IDENT else None
        except OSError:
            return None
    if p.is_dir() and (p.name.startswith(("offline-run-", "run-"))):
        files = sorted(p.glob("run-*.wandb"))
        return files[0] if files else None
    return None


def _is_export(head: str) -> bool:
    first = head.split("\n", 1)[0].strip().lstrip("\ufeff")
    try:
        cols = next(csv.reader(io.StringIO(first)))
    except (csv.Error, StopIteration):
        return False
    if not cols or cols[0].strip() != "Step" or len(cols) < 2:
        return False
    return all(_EXPORT_COL.match(c.strip()) for c in cols[1:])


def sniff(path: Path, head: str) -> bool:
    p = Path(path)
    if p.suffix == ".csv" and p.is_file():
        return _is_export(head)
    return run_file(p) is not None


# ------------------------------------------------------------------------------------------ transaction log
def _records(data: bytes, f: Path) -> list[bytes]:
    """The payloads of every complete record (a record cut off at the end of the file is dropped)."""
    _check_header(data, f)
    out: list[bytes] = []
    parts: list[bytes] = []
    pos, n = _FILE_HEADER.size, len(data)
    while pos + _CHUNK.size <= n:
        room = _BLOCK - pos % _BLOCK
        if room < _CHUNK.size:  # zero padding at the end of a block
            pos += room
            continue
        crc, length, kind = _CHUNK.unpack_from(data, pos)
        if crc == 0 and length == 0 and kind == 0:
            pos += room  # unused rest of a block
            continue
        start, end = pos + _CHUNK.size, pos + _CHUNK.size + length
        if end > n:
            break  # being written
        payload = data[start:end]
        if kind not in _CRC or zlib.crc32(payload, _CRC[kind]) != crc:
            raise InputError(f"corrupt W&B run file (bad checksum of the record at byte {pos})", path=f)
        parts = _join(kind, payload, out, parts)
        pos = end
    return out


def _check_header(data: bytes, f: Path) -> None:
    """The file header: W&B's identifier, magic and the transaction-log format version read here."""
    if len(data) < _FILE_HEADER.size:
        raise InputError("not a W&B run file (shorter than its 7-byte header)", path=f)
    ident, magic, version = _FILE_HEADER.unpack_from(data, 0)
    if ident != _IDENT or magic != _MAGIC:
        raise InputError(f"not a W&B run file (header {data[:7].hex(' ')})", path=f)
    if version != FORMAT_VERSION:
        raise InputError(f"written by a W&B SDK with transaction-log format version {version}; this gapwatch "
                         f"reads version {FORMAT_VERSION} (upgrade gapwatch, or export the run as CSV)", path=f)


def _join(kind: int, payload: bytes, out: list[bytes], parts: list[bytes]) -> list[bytes]:
    """One chunk of kind ``kind``: a full record into ``out``, or a piece of one; the pieces pending after it."""
    if kind == _FULL:
        out.append(payload)
        return parts
    if kind == _FIRST:
        return [payload]
    if kind == _MIDDLE:
        parts.append(payload)
        return parts
    out.append(b"".join(parts + [payload]))
    return []


def _value(item: Any) -> Any:
    if item.value_json:
        try:
            return json.loads(item.value_json)
        except ValueError:
            return None
    kind = item.WhichOneof("value")
    return getattr(item, kind) if kind else None


def _key(item: Any) -> str:
    return "/".join(item.nested_key) if item.nested_key else str(item.key)


def read_run(path: Path, run: str | None = None) -> Parts:
    """One W&B run (a run directory or its ``run-*.wandb`` file) as Parts."""
    f = run_file(Path(path))
    if f is None:
        raise InputError("not a W&B run directory (no run-*.wandb file)", path=path)
    require("wandb", "wandb")
    from wandb.proto import wandb_internal_pb2 as pb

    try:
        data = f.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=f) from None
    rows: dict[str, tuple[list[float], list[float]]] = {}
    config: dict[str, Any] = {}
    info: dict[str, Any] = {}
    for i, payload in enumerate(_records(data, f)):
        _apply(_decode(pb, payload, i, f), rows, config, info)
    series = {k: (np.asarray(s, float), np.asarray(v, float)) for k, (s, v) in rows.items()}
    hp = {k: v for k, v in config.items() if not k.startswith("_")}
    name = run or str(info.get("name") or f.stem)
    return run_parts(name, str(path), series, {"hparams": hp, "wandb": info})


def _decode(pb: Any, payload: bytes, i: int, f: Path) -> Any:
    """Record ``i`` (0-based) of the run file ``f`` as a ``wandb_internal_pb2.Record``."""
    try:
        return pb.Record.FromString(payload)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError: say which record, in one line
        raise InputError(f"W&B record #{i + 1} cannot be decoded by the installed wandb SDK's protobufs "
                         "(a file from a newer SDK?)", path=f) from None


def _apply(rec: Any, rows: dict[str, tuple[list[float], list[float]]], config: dict[str, Any],
           info: dict[str, Any]) -> None:
    """One record's history row, config update or run info into ``rows``, ``config``, ``info``."""
    kind = rec.WhichOneof("record_type")
    if kind == "history":
        _history(rec.history, rows)
    elif kind == "config":
        _config(rec.config.update, config)
    elif kind == "run":
        r = rec.run
        info.update(run_id=r.run_id, project=r.project, name=r.display_name or r.run_id)
        _config(r.config.update, config)


def _config(items: Any, config: dict[str, Any]) -> None:
    for it in items:
        config[_key(it)] = json.loads(it.value_json) if it.value_json else None


def _history(h: Any, rows: dict[str, tuple[list[float], list[float]]]) -> None:
    vals = {_key(it): _value(it) for it in h.item}
    step = vals.get("_step", h.step.num if h.HasField("step") else None)
    if not isinstance(step, (int, float)) or isinstance(step, bool):
        return
    for k, v in vals.items():
        if k.startswith("_") or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue  # media, tables, strings and W&B's own _runtime/_timestamp are not curves
        lst = rows.setdefault(k, ([], []))
        lst[0].append(float(step))
        lst[1].append(float(v))


# ------------------------------------------------------------------------------------------ CSV export
def read_export(path: Path) -> list[Parts]:
    """A W&B UI CSV export: one Parts per W&B run named in its ``<run> - <metric>`` columns."""
    from ..readers.generic_csv import read_table

    t = read_table(Path(path))
    if not t.columns or t.columns[0] != "Step":
        raise InputError("not a W&B CSV export (expected 'Step' as the first column)", path=path, line=1)
    step = t.numeric("Step")
    by_run: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for c in t.columns[1:]:
        m = _EXPORT_COL.match(c.strip())
        if m is None:
            raise InputError(f"column {c!r}: expected '<run> - <metric>'", path=path, line=1)
        if m.group("band"):
            continue
        vals = t.numeric(c)
        ok = t.logged(c)
        by_run.setdefault(m.group("run"), {})[m.group("metric")] = (step[ok], vals[ok])
    return [run_parts(r, str(path), s) for r, s in by_run.items()]


# ------------------------------------------------------------------------------------------ entry points
#: What ``experiment=`` selects in W&B terms (error messages).
KIND = "W&B project"


def read_parts(path: Path, run: str | None = None, experiment: str | None = None) -> list[Parts]:
    """A W&B run directory, ``.wandb`` file or CSV export → Parts (one per run).

    Args:
        experiment: the W&B project the run must belong to (its ``run`` record's project); a run of another
            project, or a CSV export (which names no project), is a
            :class:`~gapwatch.readers.base.NoSuchExperiment`.
    """
    p = Path(path)
    if p.is_file() and p.suffix == ".csv":
        if experiment is not None:
            raise NoSuchExperiment(experiment, [], p, kind=KIND, note="a W&B CSV export names no project")
        return read_export(p)
    parts = read_run(p, run)
    check_experiment(experiment, [str(parts.meta.get("wandb", {}).get("project", ""))], p, kind=KIND)
    return [parts]


def read_wandb(path: Path | str, experiment: str | None = None) -> History:
    """W&B runs under ``path`` as a History: a run directory, a ``.wandb`` file, a CSV export, or a ``wandb/``
    directory of run directories (each a run; with ``experiment``, the runs of that W&B project)."""
    p = Path(path)
    if not p.exists():
        from ..errors import UsageError

        raise UsageError(f"{p}: no such file or directory")
    if p.is_dir() and run_file(p) is None:
        dirs = sorted(d for d in p.iterdir() if run_file(d) is not None and d.is_dir())
        if not dirs:
            raise InputError("no W&B run directories (offline-run-*/ or run-*/ with a run-*.wandb file)", path=p)
        parts = [read_run(d, d.name) for d in dirs]
        projects = [str(q.meta.get("wandb", {}).get("project", "")) for q in parts]
        check_experiment(experiment, projects, p, kind=KIND)
        return build([q for q, pr in zip(parts, projects, strict=True) if experiment in (None, pr)])
    return build(read_parts(p, experiment=experiment))


def _read(path: Path, run: str, experiment: str | None = None) -> list[Parts]:
    return read_parts(path, None if Path(path).suffix == ".csv" else run, experiment)


READER = FunctionReader(NAME, sniff, _read, options=("experiment",))
