"""Readers: turn logs on disk into a :class:`~gapwatch.history.History`.

Formats are chosen by **content**, not only by extension. Each format is a **reader** object (the
:class:`~gapwatch.readers.base.Reader` protocol: ``name``, ``sniff(path, head)``, ``read(path, run) ->
list[Parts]``); the registered readers are tried in priority order (:func:`readers`), most specific first, and
every one returns the same :class:`~gapwatch.readers._parts.Parts`, which :func:`~gapwatch.readers._parts.build`
turns into one History (the one place where resumed steps are resolved).

:func:`load` resolves a path: a file, a run directory, or a directory of runs (a sweep, each run named by its
path relative to the root). In a sweep one bad file never takes the others down: it becomes a note
(:func:`unread`) and the sweep goes on. No malformed input ends in anything but
:class:`~gapwatch.errors.InputError` / :class:`~gapwatch.errors.UsageError` naming the file.

Adding a format (a tracker export, a house format)::

    from gapwatch.readers import register_reader
    from gapwatch.readers.base import FunctionReader

    register_reader(FunctionReader("mlflow", sniff_mlflow, read_mlflow), before="jsonl")
"""

from __future__ import annotations

import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import GapwatchError, InputError, UsageError
from ..history import History, HistoryNote
from . import (
    _conflict,
    bare_series,
    catboost_json,
    generic_csv,
    hf,
    history_csv,
    history_json,
    jsonl,
    keras_csv,
    lightning_csv,
    notebook,
    tensorboard,
    text,
    torch7_logger,
    yolo_txt,
)
from ._parts import Parts, build
from .base import HEAD_BYTES, FunctionReader, NoSuchExperiment, Reader, check_options, text_encoding

__all__ = ["BUILTIN_READERS", "HEAD_BYTES", "URI_SCHEMES", "FunctionReader", "NoSuchExperiment", "Reader", "load",
           "load_file", "read_head", "readers", "register_reader", "sniff", "supported_formats", "unread",
           "unregister_reader"]

#: The built-in readers in sniffing order (most specific first; the text reader, the loosest, last).
BUILTIN_READERS: tuple[Reader, ...] = (
    notebook.READER,
    hf.READER,
    tensorboard.READER,
    lightning_csv.READER,
    keras_csv.READER,
    history_json.READER,
    catboost_json.READER,
    jsonl.READER,
    bare_series.READER,
    generic_csv.READER,
    history_csv.READER,
    yolo_txt.READER,
    torch7_logger.READER,
    text.READER,
)

_REGISTRY: list[Reader] = list(BUILTIN_READERS)

#: Message prefix of the notes that record a file or directory of a sweep that could not be read.
UNREAD = "not read: "


def readers() -> tuple[Reader, ...]:
    """The registered readers, in sniffing order."""
    return tuple(_REGISTRY)


def supported_formats() -> list[str]:
    return [r.name for r in _REGISTRY]


def register_reader(reader: Reader, *, before: str | None = None) -> None:
    """Add a reader: tried just before the reader named ``before``, or after all others when None.

    Raises:
        UsageError: ``reader`` lacks ``name``/``sniff``/``read``, its name is already registered, or
            ``before`` names no registered reader.
    """
    if not isinstance(reader, Reader) or not isinstance(getattr(reader, "name", None), str) or not reader.name:
        raise UsageError(f"{reader!r} is not a reader: it needs a name, sniff(path, head) and read(path, run)")
    names = supported_formats()
    if reader.name in names:
        raise UsageError(f"a reader named {reader.name!r} is already registered")
    if before is None:
        _REGISTRY.append(reader)
        return
    if before not in names:
        raise UsageError(f"register_reader(before={before!r}): no such reader; registered: {', '.join(names)}")
    _REGISTRY.insert(names.index(before), reader)


def unregister_reader(name: str) -> None:
    """Remove the reader named ``name`` (built-in or not).

    Raises:
        UsageError: no reader has that name.
    """
    for i, r in enumerate(_REGISTRY):
        if r.name == name:
            del _REGISTRY[i]
            return
    raise UsageError(f"no reader named {name!r}; registered: {', '.join(supported_formats())}")


def read_head(path: Path) -> str:
    """The first :data:`HEAD_BYTES` bytes of a file as text (UTF-8 with replacement, UTF-16 after its byte order
    mark, or GB 18030: :func:`gapwatch.readers.base.text_encoding`; BOM removed; '' for a directory)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except IsADirectoryError:
        return ""
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    enc = text_encoding(raw)
    if enc == "utf-16":  # UTF-16 with its BOM (PowerShell's ``>`` redirect on Windows)
        return raw[: len(raw) // 2 * 2].decode("utf-16", errors="replace").lstrip("\ufeff")
    return raw.decode(enc, errors="replace").lstrip("\ufeff")


def sniff(path: Path) -> Reader | None:
    """The reader that recognises ``path`` (a file or a run directory), or None. A sniffer that fails on odd
    input (an unreadable sub-directory, say) counts as "not mine"."""
    path = Path(path)
    head = read_head(path) if path.is_file() else ""
    for r in _REGISTRY:
        try:
            if r.sniff(path, head):
                return r
        except (OSError, ValueError, RecursionError, UnicodeError):
            continue
    return None


def _describe(path: Path) -> str:
    """What an unrecognised file looks like, for the error message."""
    if path.is_dir():
        return "a directory"
    try:
        with open(path, "rb") as fh:
            raw = fh.read(256)
    except OSError as exc:
        return f"an unreadable file ({exc.strerror or exc})"
    if not raw:
        return "an empty file"
    if text_encoding(raw) == "utf-16":  # (its NUL bytes are text: the UTF-16 of PowerShell's ``>``)
        text = raw[: len(raw) // 2 * 2].decode("utf-16", errors="replace").lstrip("\ufeff")
        return f"first line {(text.splitlines() or [''])[0][:80]!r} (UTF-16)"
    if b"\x00" in raw or sum(b < 9 or 13 < b < 32 for b in raw) > len(raw) // 10:
        return f"binary data (first bytes {raw[:8].hex(' ')})"
    first = raw.decode("utf-8", errors="replace").splitlines()[0] if raw.strip() else ""
    return f"first line {first[:80]!r}"


def _check_exists(p: Path) -> None:
    if not p.exists():
        parent = p.parent if str(p.parent) else Path(".")
        hint = "" if parent.exists() else f" (the directory {parent} does not exist either)"
        raise UsageError(f"{p}: no such file or directory{hint}")
    mode = p.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UsageError(f"{p}: not a regular file or directory (a FIFO, socket or device); give a log file")


#: Exceptions a reader may let escape on malformed input that no check anticipated; :func:`read_parts` turns
#: them into an :class:`InputError` naming the file (the fuzz tests assert this net is never needed).
_UNEXPECTED = (ArithmeticError, AttributeError, EOFError, IndexError, KeyError, LookupError, MemoryError, OSError,
               RecursionError, TypeError, ValueError)
#: Marker in the message of an error caught by that net (tests look for it).
UNEXPECTED_MARK = "reader failure"


def read_parts(reader: Reader, path: Path, run: str, options: Mapping[str, Any] | None = None) -> list[Parts]:
    """``reader.read(path, run, **options)``, with every failure an :class:`InputError` naming the file.

    Args:
        options: read options the user gave (:data:`gapwatch.readers.base.OPTIONS`); a reader is called with
            them only when there are some.

    Raises:
        UsageError: an option the reader does not take (one line naming the file and its format).
    """
    opts = dict(options or {})
    if opts:
        check_options(reader, opts, path)
    try:
        return reader.read(path, run, **opts) if opts else reader.read(path, run)
    except InputError as exc:
        if _conflict.CONFLICT_MARK in str(exc) and not opts and Path(path).is_file():
            return _read_conflict(reader, Path(path), run, exc)  # committed mid-merge: a run per side
        raise
    except GapwatchError:
        raise
    except _UNEXPECTED as exc:
        raise InputError(f"cannot be read as {reader.name} ({UNEXPECTED_MARK}: {type(exc).__name__}: "
                         f"{str(exc)[:200]})", path=path) from exc


def _read_conflict(reader: Reader, path: Path, run: str, exc: InputError) -> list[Parts]:
    """Each side of a file committed mid-merge read by ``reader`` (:mod:`gapwatch.readers._conflict`); a side
    that cannot be read is an :class:`InputError` naming the file, not its temporary copy."""
    try:
        return _conflict.runs(reader.read, path, run, exc)
    except InputError as side_exc:
        if side_exc is exc:
            raise
        msg = re.sub(r"\S*gapwatch-merge-\S*?/\d+/", "", str(side_exc))
        raise InputError(f"one side of its git merge conflict: {msg} (line numbers count that side's lines)",
                         path=path) from None
    except _UNEXPECTED as err:
        raise InputError(f"cannot be read as {reader.name} ({UNEXPECTED_MARK}: {type(err).__name__}: "
                         f"{str(err)[:200]})", path=path) from err


def load_file(path: Path, run: str | None = None, *, experiment: str | None = None) -> History:
    """Read one log file (or run directory) with the reader that recognises it.

    Args:
        experiment: keep the runs of this experiment only (see :func:`load`).

    Raises:
        UsageError: the path does not exist, or is a FIFO/socket/device (exit code 2); ``experiment`` given for
            a log that has no experiments, or naming none of the store's (the message lists them).
        InputError: unknown format (lists the supported ones and what was seen), an empty log, or a file the
            reader cannot parse (names the file and the place) (exit code 1).
    """
    path = Path(path)
    _check_exists(path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("the log is empty (0 bytes): nothing was logged yet?", path=path)
    reader = sniff(path)
    if reader is None:
        raise InputError(
            f"unknown log format (saw {_describe(path)}); supported: {', '.join(supported_formats())}",
            path=path,
        )
    options = _options(experiment)
    h = build(read_parts(reader, path, run or (path.stem if path.is_file() else path.name), options), consume=True)
    if h.empty:
        raise InputError(f"the log holds no numeric observations ({reader.name} format): only a header, or "
                         "only bookkeeping columns such as epoch/step/learning_rate", path=path)
    return h


def _options(experiment: str | None) -> dict[str, Any]:
    """The read options the user gave (only those: a reader is never passed an option left out)."""
    if experiment is None:
        return {}
    if not isinstance(experiment, str) or not experiment.strip():
        raise UsageError(f"--experiment must be an experiment name, got {experiment!r}")
    return {"experiment": experiment}


#: Tracking URI schemes :func:`load` reads as MLflow stores (``file://``, ``sqlite:///``, ``http(s)://``).
URI_SCHEMES = ("file://", "sqlite:///", "http://", "https://")


def load(path: str | Path, *, experiment: str | None = None) -> History:
    """Load a run or a sweep from ``path``.

    * a file: read with the format that recognises its content;
    * a directory one reader recognises as a single run (a TensorBoard run dir, a Hugging Face output dir, a
      Lightning ``version_N`` dir): that run;
    * any other directory: every log found below it is a run, named by its path relative to ``path``
      (without the file extension; with it when two logs in one folder share a name, e.g. ``log.csv`` and
      ``log.jsonl``). Files and folders that fail to read become notes (see :func:`unread`);
    * a tracking URI string (:data:`URI_SCHEMES`: ``sqlite:///…/mlflow.db``, ``http(s)://host:port``,
      ``file:///…/mlruns``): that MLflow store (:func:`gapwatch.trackers.mlflow.read_mlflow`).

    Args:
        experiment: keep only the runs of this experiment: an MLflow experiment's name, a W&B run's project, a
            trackio project (its database's name). Given for a log that has no experiments (a CSV, a
            TensorBoard run) it is a one-line :class:`UsageError`; in a directory of runs only the tracker
            stores are read, and only their runs of that experiment.

    Raises:
        UsageError: missing path, or a FIFO/socket/device; ``experiment`` for a log without experiments, or
            naming no experiment of the store(s) (the message lists those that exist).
        InputError: unknown format, empty log, or a directory with no readable logs in it.
    """
    options = _options(experiment)
    if isinstance(path, str) and path.startswith(URI_SCHEMES):
        from ..trackers.mlflow import read_mlflow

        return read_mlflow(path, experiment)
    p = Path(path)
    _check_exists(p)
    if p.is_file():
        return load_file(p, run=p.stem, experiment=experiment)
    if sniff(p) is not None:
        return load_file(p, run=p.name, experiment=experiment)
    from ._sweep import load_sweep

    return load_sweep(p, options)


def unread(h: History) -> list[HistoryNote]:
    """The notes of ``h`` about files or directories of a sweep that could not be read (their ``run`` is the
    name the run would have had; it is not one of ``h.runs()``)."""
    runs = set(h.runs())
    return [n for n in h.notes if n.run not in runs and n.message.startswith(UNREAD)]


def _register_trackers() -> None:
    """Tracker stores (MLflow, W&B, trackio) are readers too: ``load``, ``analyze``, ``replay``, ``forecast`` and
    ``watch`` read them (their packages are imported only when a store is read)."""
    from ..trackers import register

    register()


_register_trackers()
