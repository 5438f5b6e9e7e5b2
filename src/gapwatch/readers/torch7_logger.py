"""Lua Torch7's ``optim.Logger`` files: a ``%``-prefixed header, then one row of numbers per epoch.

The ``optim`` package of Torch7 (its ``Logger`` class, used by the Torch tutorials and still committed with many
old training scripts) writes ``logs/train.log`` and ``logs/test.log`` like this (tab-terminated fields)::

    % mean class accuracy (test set)
     7.0910e+01
     8.6070e+01

The header names the columns, separated by tabs; a name may say its set in parentheses (``(test set)``, ``(train
set)``, ``(validation set)``), else the file's name does (``test.log``:
:func:`gapwatch.readers.generic_csv.stem_split`), else it is the training split's. Row *k* is epoch *k* (the
tutorials log once per epoch).

Recognised by its first non-empty line starting with ``%`` and the next non-empty line holding as many numbers as
the header holds names. A row with another shape is an :class:`InputError` naming its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._parts import Parts, records_parts
from .base import FunctionReader
from .generic_csv import stem_split

NAME = "torch7-logger"

#: A set named in parentheses at the end of a column name: ``mean class accuracy (test set)``.
_SET = re.compile(r"\s*\((train(?:ing)?|test|validation|val|valid)\s+set\)\s*$", re.IGNORECASE)
_SPLIT = {"train": "train", "training": "train", "test": "test", "validation": "val", "val": "val", "valid": "val"}


def _names(header: str) -> list[str]:
    return [n.strip() for n in header.lstrip("%").split("\t") if n.strip()]


def _row(line: str) -> list[float] | None:
    try:
        return [float(x) for x in line.split()]
    except ValueError:
        return None


def sniff(path: Path, head: str) -> bool:
    if not path.is_file():
        return False
    lines = [ln for ln in head.splitlines() if ln.strip()]
    if len(lines) < 2 or not lines[0].lstrip().startswith("%"):
        return False
    row = _row(lines[1])
    return row is not None and len(row) == len(_names(lines[0])) > 0


def _series_name(name: str, default: str) -> str:
    """``mean class accuracy (test set)`` → ``test mean class accuracy``; a name without a set gets ``default``'s
    prefix unless it is the training split's."""
    m = _SET.search(name)
    if m is not None:
        return f"{_SPLIT[m.group(1).lower()]} {name[:m.start()].strip()}"
    return name if default == "train" else f"{default} {name}"


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    header: list[str] | None = None
    records: list[tuple[int, dict[str, Any]]] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if header is None:
                header = _names(line)
                names = [_series_name(n, stem_split(path, header)) for n in header]
                continue
            row = _row(line)
            if row is None or len(row) != len(header):
                if not line.endswith(("\n", "\r")) and records:
                    break  # a last row cut off by a run still writing
                raise InputError(f"expected {len(header)} number(s) under the header "
                                 f"'% {' / '.join(header)}' (a Torch7 optim.Logger file)", path=path, line=i)
            records.append((i, {"epoch": float(len(records) + 1), **dict(zip(names, row, strict=True))}))
    return [records_parts(records, run, str(path))]


READER = FunctionReader(NAME, sniff, read_parts, "Lua Torch7 optim.Logger files (a '%' header, one row per epoch)")
