"""One measure's curve saved as bare numbers, named only by the file: ``val_loss.txt``, ``Val_Acc.txt``,
``loss_history.csv``.

Training scripts often save a curve with ``np.savetxt("val_loss.txt", losses)``, ``f.write(f"{epoch}_{loss}\\n")``
or ``print(history, file=f)``: no header, no name beside the numbers — the file's name is the only name. Three
layouts are read (evaluation *k* is epoch *k*, or the index the line starts with)::

    0.6868421607464552          1_2.071310520172119         [0.17317708 0.17838542 0.203125
    0.15789538197219372         2 1.5481470823287964          0.21744792 0.2265625 ]
    0.11294342718               3,1.3495817184448242        [6.61, 5.67, 5.29]

one number a line (``np.savetxt``), an increasing integer index and one number a line (any separator: white space,
``,`` ``;`` ``:`` ``_`` ``|``; an index back at its first value, 0 or 1 is a training appended to the file:
runs ``<run>#1``, ``<run>#2``…), or one list (a Python list or a printed NumPy array, possibly wrapped over lines).

Recognised only when the file's stem names a measure (:func:`gapwatch.names.is_measure`, after dropping words
like ``log``/``history``: ``loss_log`` → ``loss``, ``valid_acc_history`` → ``valid_acc``) and the head holds
nothing but such numbers, at least :data:`MIN_VALUES` of them. A file with several unnamed columns, or several
lists, names none of its series and is left to the other readers (and so refused as an unknown format). The
series is the stem's: ``val_loss`` → ``val``/``loss``; a stem naming no split (``loss.txt``) is the training
split's, as for any unprefixed name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..names import is_measure
from ._parts import Parts, records_parts, restart_note, restarts
from .base import FunctionReader

NAME = "bare-series"

#: File name endings a bare-number curve is saved under.
SUFFIXES = frozenset({".txt", ".log", ".csv", ".dat", ".out", ".tsv", ""})
#: Fewest values that make a curve (one or two numbers are a result, not a curve).
MIN_VALUES = 3
#: Largest file read (a curve of bare numbers is small; a bigger file is something else).
MAX_BYTES = 16 * 1024 * 1024
#: Words of a file stem that say how the curve was kept, not what it measures (``loss_log``, ``acc_history``).
_KEEPING_WORDS = frozenset({"log", "logs", "history", "hist", "curve", "curves", "values", "list", "record",
                            "records", "data", "array", "per", "epoch", "epochs", "all", "saved"})

#: One number (written so that no string of digits splits two ways: the patterns stay linear on any input).
_NUM = r"(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf))"
_ONE = re.compile(rf"[ \t]*({_NUM})[ \t]*", re.IGNORECASE)
_INDEXED = re.compile(rf"[ \t]*(\d+)(?:[ \t]*[,;:_|][ \t]*|[ \t]+)({_NUM})[ \t]*,?[ \t]*", re.IGNORECASE)
_LIST = re.compile(rf"\s*\[\s*({_NUM}(?:(?:\s*,\s*|\s+){_NUM})*)\s*,?\s*\]\s*", re.IGNORECASE)
_TOKEN = re.compile(_NUM, re.IGNORECASE)


def series_name(path: Path) -> str | None:
    """The measure a file's stem names (``val_loss.txt`` → ``val_loss``; ``loss_log.txt`` → ``loss``), or None
    when it names none."""
    toks = [t for t in re.split(r"[\W_]+", path.stem) if t]
    kept = [t for t in toks if t.lower() not in _KEEPING_WORDS]
    name = "_".join(kept)
    return name if kept and is_measure(name) else None


def _values(text: str) -> list[tuple[float | None, float]] | None:
    """``[(index or None, value), …]`` of a bare-number text in one of the module's layouts, else None."""
    whole = _LIST.fullmatch(text)
    if whole is not None:
        return [(None, float(t)) for t in _TOKEN.findall(whole.group(1))]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if all(_ONE.fullmatch(ln) for ln in lines):
        return [(None, float(ln)) for ln in lines]
    out: list[tuple[float | None, float]] = []
    for ln in lines:
        m = _INDEXED.fullmatch(ln)
        if m is None:
            return None
        out.append((float(m.group(1)), float(m.group(2))))
    idx = [float(i) for i, _ in out if i is not None]
    if any(b <= a and b not in (idx[0], 0.0, 1.0) for a, b in zip(idx, idx[1:], strict=False)):
        return None  # (an index that neither grows nor starts again is a second column of numbers, not epochs)
    return out


def sniff(path: Path, head: str) -> bool:
    if not path.is_file() or path.suffix.lower() not in SUFFIXES or series_name(path) is None:
        return False
    text = head
    if len(head.encode("utf-8")) < path.stat().st_size:
        # (the head may end mid-line or mid-list: judge its complete lines, or an unclosed list's numbers)
        text = head[:head.rfind("\n")] if "\n" in head else head
        if text.lstrip().startswith("[") and "]" not in text:
            text = text + "]"
    vals = _values(text)
    return vals is not None and len(vals) >= MIN_VALUES


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    name = series_name(path)
    if name is None:
        raise InputError("expected a file named after a measure (val_loss.txt, Val_Acc.txt) holding only its "
                         "values", path=path)
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"a bare-number curve of more than {MAX_BYTES // (1024 * 1024)} MiB: expected a small "
                         "file of one measure's values", path=path)
    text = path.read_text(encoding="utf-8", errors="replace")
    vals = _values(text)
    if vals is None:
        bad = next((i for i, ln in enumerate(text.splitlines(), 1)
                    if ln.strip() and not (_ONE.fullmatch(ln) or _INDEXED.fullmatch(ln))), None)
        if bad is None:  # (every line an index and a number, but the index neither grows nor starts again)
            raise InputError(f"expected the first column of a file named after the measure '{name}' to count "
                             "evaluations (growing, or starting again for an appended training)", path=path)
        raise InputError(f"expected only numbers (one a line, an index and a number a line, or one list) in a "
                         f"file named after the measure '{name}'", path=path, line=bad)
    records: list[tuple[int, dict[str, Any]]] = [
        (k, {"epoch": float(k) if i is None else i, name: v}) for k, (i, v) in enumerate(vals, 1)]
    spans = restarts(np.asarray([r["epoch"] for _, r in records], dtype=float))
    if len(spans) == 1:
        return [records_parts(records, run, str(path))]
    starts = [records[a][0] for a, _ in spans[1:]]  # (several trainings appended: the index starts again)
    out = []
    for k, (a, b) in enumerate(spans, start=1):
        p = records_parts(records[a:b], f"{run}#{k}", str(path))
        p.notes.append(restart_note(p.run, str(path), starts, "line"))
        out.append(p)
    return out


READER = FunctionReader(NAME, sniff, read_parts,
                        "one measure's values as bare numbers, named by the file (val_loss.txt, Val_Acc.txt)")
