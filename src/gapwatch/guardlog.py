"""The guard-log format: one owner for what the live guard writes and what the readers read back.

A guard history file (``Guard(log="history.jsonl")``) is JSON Lines, one object per line, written and flushed a
line at a time so that a crash loses at most the line being written:

* a **header** first: ``{"gapwatch": "guard/1", "run": …, "monitor": "val/loss", "mode": "min", "policy": {…},
  "started": <unix seconds>}``;
* **metric records**, exactly the user's numbers: ``{"step": 120, "epoch": 3.0, "train_loss": 0.41,
  "val_loss": 0.58}`` (read by :mod:`gapwatch.readers.jsonl` like any JSON Lines log);
* **bookkeeping records** marked by the ``"gapwatch"`` key: ``{"gapwatch": "decision", …}`` (a stop
  decision), ``{"gapwatch": "finding", "evaluation": i, …}`` (a detector finding) and
  ``{"gapwatch": "resume", "evaluation": i}`` (written when a resumed guard appends to its file) and
  ``{"gapwatch": "monitor", "monitor": "val/acc", "mode": "max"}`` (the series the guard decided on, when it
  decided after writing a header without one).

NaN and ±inf metric values are written as the JSON extension tokens ``NaN``/``Infinity`` (they are evidence).

Stable API (the guard writes with these, the JSONL reader and :func:`parse` read with them):

* :func:`header_record`, :func:`resume_record`, :func:`decision_record`, :func:`finding_record` → ``dict``;
* :func:`encode` (record → one line ending in ``"\\n"``), :func:`decode` (one line → object, bounded);
* :func:`is_guard_header`, :func:`is_guard_record`;
* :func:`parse` (a whole file → :class:`GuardLog`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError

#: Value of the ``"gapwatch"`` key of the header; the version of the header's shape.
HEADER = "guard/1"
#: The key that marks a record as gapwatch's own bookkeeping (not a metric record).
KEY = "gapwatch"
#: Kinds of bookkeeping record besides the header.
DECISION, FINDING, RESUME, MONITOR = "decision", "finding", "resume", "monitor"

#: Longest line :func:`decode` accepts, in characters (16 Mi). A JSON Lines record of 3,000 per-class metrics
#: is about 100 KiB; a longer "line" is a file that is not line-oriented (or a runaway writer), and reading it
#: whole would make memory grow with the file instead of with one record.
MAX_LINE_CHARS = 16 * 1024 * 1024
#: Integers with more digits than this are read as floats (±inf beyond float range), never as Python ints:
#: a 5,000-digit integer would otherwise hit Python's int-parsing limit or overflow float conversion later.
MAX_INT_DIGITS = 18


class LineError(ValueError):
    """A line that is not one JSON value (``msg`` says why, as :class:`json.JSONDecodeError` does)."""

    def __init__(self, msg: str, lineno: int | None = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.lineno = lineno


def _int(s: str) -> int | float:
    return int(s) if len(s.lstrip("-")) <= MAX_INT_DIGITS else float(s)


def _constant(c: str) -> float:
    return float(c)  # NaN, Infinity, -Infinity


_DECODER = json.JSONDecoder(parse_int=_int, parse_constant=_constant)


def decode(line: str) -> Any:
    """One JSON Lines line → its value.

    Bounded: lines over :data:`MAX_LINE_CHARS`, nesting deeper than the interpreter's recursion limit and
    huge integers never raise anything but :class:`LineError` (a :class:`ValueError`). ``NaN``/``Infinity``
    tokens are read as floats.

    Raises:
        LineError: not exactly one JSON value on the line (the message says why).
    """
    if len(line) > MAX_LINE_CHARS:
        raise LineError(f"line longer than {MAX_LINE_CHARS:,} characters (MAX_LINE_CHARS)")
    try:
        return _DECODER.decode(line)
    except json.JSONDecodeError as exc:
        raise LineError(exc.msg) from None
    except RecursionError:
        raise LineError("nested too deeply") from None
    except (ValueError, OverflowError) as exc:
        raise LineError(str(exc)) from None


def decode_document(text: str) -> Any:
    """A whole JSON document (e.g. ``trainer_state.json``) with the same rules as :func:`decode` but no line
    bound.

    Raises:
        LineError: not valid JSON; ``lineno`` says where when the parser knows.
    """
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise LineError(exc.msg, exc.lineno) from None
    except RecursionError:
        raise LineError("nested too deeply") from None
    except (ValueError, OverflowError) as exc:
        raise LineError(str(exc)) from None


def decode_object_at(line: str, start: int) -> dict[str, Any] | None:
    """The JSON object that starts at ``line[start]`` and runs to the end of the line, else None (used to
    recover a record appended onto a line cut off by a crash)."""
    try:
        obj, end = _DECODER.raw_decode(line, start)
    except (ValueError, RecursionError, OverflowError):
        return None
    return obj if isinstance(obj, dict) and not line[end:].strip() else None


def _default(o: Any) -> Any:
    item = getattr(o, "item", None)  # numpy / torch scalars
    if callable(item):
        return item()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def encode(record: Mapping[str, Any]) -> str:
    """One record → one line (ending in ``"\\n"``). NaN/±inf are written as ``NaN``/``Infinity``; numpy and
    torch scalars as numbers; anything else JSON cannot hold as its ``str``."""
    return json.dumps(dict(record), allow_nan=True, default=_default) + "\n"


def header_record(*, run: str, monitor: str | None, mode: str | None, policy: Mapping[str, Any] | None,
                  started: float | None = None) -> dict[str, Any]:
    """The first line of a guard log.

    Args:
        run: the run's name.
        monitor: the monitored series as ``split/metric`` (None when not chosen yet).
        mode: ``"min"`` or ``"max"`` (None when not chosen yet).
        policy: the stop policy's parameters (units: evaluations).
        started: unix time in seconds (default: now).
    """
    return {KEY: HEADER, "run": run, "monitor": monitor, "mode": mode, "policy": dict(policy or {}),
            "started": time.time() if started is None else float(started)}


def monitor_record(*, monitor: str, mode: str) -> dict[str, Any]:
    """Written when the guard decides its monitored series after the header (``Guard(monitor=None)`` with
    records logged before the first evaluation): what the header would have named."""
    return {KEY: MONITOR, "monitor": monitor, "mode": mode}


def is_monitor_record(obj: object) -> bool:
    return is_guard_record(obj) and obj[KEY] == MONITOR  # type: ignore[index]


def resume_record(evaluation: int) -> dict[str, Any]:
    """Written when a resumed guard appends to its log; ``evaluation`` is the 0-based index it resumes at."""
    return {KEY: RESUME, "evaluation": int(evaluation)}


def decision_record(decision: Mapping[str, Any]) -> dict[str, Any]:
    """A stop decision (``GuardDecision.to_dict()``)."""
    return {KEY: DECISION, **decision}


def finding_record(evaluation: int, finding: Mapping[str, Any]) -> dict[str, Any]:
    """A detector finding (``Finding.to_dict()``) raised at evaluation ``evaluation`` (0-based)."""
    return {KEY: FINDING, "evaluation": int(evaluation), **finding}


def is_guard_record(obj: object) -> bool:
    """True for gapwatch's bookkeeping records (header, decision, finding, resume): not metric records."""
    return isinstance(obj, dict) and KEY in obj


def is_guard_header(obj: object) -> bool:
    """True for a guard-log header (``{"gapwatch": "guard/1", …}``)."""
    return isinstance(obj, dict) and obj.get(KEY) == HEADER


@dataclass
class GuardLog:
    """The gapwatch records of a guard log (metric records are read by :func:`gapwatch.readers.load`)."""

    header: dict[str, Any] | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """``{"header", "decisions", "findings"}``, the shape of :func:`gapwatch.replay.read_guard_log`."""
        return {"header": self.header, "decisions": self.decisions, "findings": self.findings}


def parse(path: str | os.PathLike[str]) -> GuardLog:
    """Read the bookkeeping records of a guard log. Lines that are not JSON (a line cut off by a crash,
    possibly with a resumed run's record appended to it) are skipped; the first header wins.

    Raises:
        InputError: the file cannot be opened or is not UTF-8 text.
    """
    out = GuardLog()
    p = Path(path)
    try:
        with open(p, encoding="utf-8") as fh:
            while True:
                line = fh.readline(MAX_LINE_CHARS + 1)
                if not line:
                    break
                _take(out, line)
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=p) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=p) from None
    return out


def _take(out: GuardLog, line: str) -> None:
    if not line.strip():
        return
    try:
        rec = decode(line)
    except LineError:
        start = line.find('{"', 1)
        rec = decode_object_at(line, start) if start > 0 else None
    if not is_guard_record(rec):
        return
    kind = rec[KEY]
    if kind == HEADER:
        if out.header is None:
            out.header = rec
    elif kind == DECISION:
        out.decisions.append(rec)
    elif kind == FINDING:
        out.findings.append(rec)
    elif kind == RESUME:
        out.resumes.append(rec)
    elif kind == MONITOR and out.header is not None and not out.header.get("monitor"):
        out.header = {**out.header, "monitor": rec.get("monitor"), "mode": rec.get("mode")}

