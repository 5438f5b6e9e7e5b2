"""A Keras ``History`` saved as JSON: ``json.dump(history.history, f)``.

The object maps each metric name to its per-epoch list, first epoch first::

    {"loss": [0.74, 0.39, 0.27], "accuracy": [0.71, 0.86, 0.91],
     "val_loss": [0.52, 0.41, 0.44], "val_accuracy": [0.80, 0.85, 0.84]}

(also written by hand-made training loops: ``{"train_loss": [...], "val_loss": [...]}``). Element *i* is epoch
*i + 1*, the 1-based epoch every gapwatch reader reports, as for the pandas history CSV
(:mod:`gapwatch.readers.history_csv`). Lists may differ in length (a metric logged only from some epoch on is
not told apart from one logged until then, so a shorter list is read from epoch 1 and the note says so);
``null`` is a missing value; learning rates (``lr``) are kept aside as the schedule, as in the other readers.

Recognised by its first bytes: a JSON object whose first key is a metric name a reader knows as a measure
(``loss``, ``accuracy``, ``val_loss``… see :mod:`gapwatch.names`) and whose value is a list. Anything else
in the object (a nested object, a list of non-numbers) is refused with the key named.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .. import guardlog, schedule
from ..errors import InputError
from ..history import HistoryNote
from ..names import METRIC_ALIASES, normalize, role
from ._parts import Parts, records_parts
from .base import FunctionReader

NAME = "history-json"

#: Largest history JSON read, in bytes (256 MiB: tens of millions of values; a Keras history is kilobytes).
MAX_BYTES = 1 << 28

_FIRST_KEY = re.compile(r'\A\s*\{\s*"((?:[^"\\]|\\.){1,200})"\s*:\s*\[')
_MEASURES = frozenset(METRIC_ALIASES.values())


def _measure(name: str) -> bool:
    """``name`` is a metric name and a known measure (a loss, an accuracy…)."""
    return role(name) == "metric" and ("loss" in name.lower() or normalize(name)[1] in _MEASURES)


def sniff(path: Path, head: str) -> bool:
    if not path.is_file() or '"log_history"' in head:
        return False
    m = _FIRST_KEY.match(head)
    if m is None:
        return False
    try:
        key = json.loads(f'"{m.group(1)}"')
    except ValueError:
        return False
    return _measure(key)


def _load(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"larger than {MAX_BYTES:,} bytes (MAX_BYTES): not a Keras history?", path=path)
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None
    try:
        doc = guardlog.decode_document(text)
    except guardlog.LineError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", path=path, line=exc.lineno) from None
    if not isinstance(doc, dict) or not doc:
        raise InputError("expected a JSON object of per-epoch lists (a Keras history.history)", path=path)
    return doc


def read_parts(path: Path, run: str) -> list[Parts]:
    doc = _load(Path(path))
    lists: dict[str, list[Any]] = {}
    for key, val in doc.items():
        if not isinstance(val, list):
            raise InputError(f"key {key!r}: expected a list of per-epoch values, got {type(val).__name__}",
                             path=path)
        lists[str(key)] = val
    n = max(len(v) for v in lists.values())
    if n == 0:
        raise InputError("every list is empty: no epochs", path=path)
    records = [(i, {"epoch": i + 1, **{k: v[i] for k, v in lists.items() if i < len(v)}}) for i in range(n)]
    for k, v in lists.items():
        for i, x in enumerate(v):
            if isinstance(x, (bool, dict, list)):
                raise InputError(f"key {k!r}, epoch {i + 1}: expected a number, got {json.dumps(x)[:40]}",
                                 path=path)
    parts = records_parts(records, run, str(path), place="epoch ")
    schedule.keep_records(parts.meta, records)  # learning rates: kept aside, never judged
    short = sorted(k for k, v in lists.items() if 0 < len(v) < n)
    if short:
        parts.notes.append(HistoryNote(
            run, f"{', '.join(short)} {'has' if len(short) == 1 else 'have'} fewer values than the {n} epochs of "
            "the longest list; read from epoch 1 on", str(path)))
    return [parts]


READER = FunctionReader(NAME, sniff, read_parts, "Keras history saved as JSON (json.dump(history.history))")
