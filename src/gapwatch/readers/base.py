"""The reader plug-in contract.

A **reader** turns one log format into :class:`~gapwatch.readers._parts.Parts` (one per run it finds). It is any
object with:

* ``name: str`` — the format's short name, shown to users (``"keras-csv"``); unique among registered readers;
* ``sniff(path: Path, head: str) -> bool`` — does this file or directory look like my format? Decide from the
  **content**: ``head`` is the start of a file (up to :data:`HEAD_BYTES` bytes, a UTF-8 BOM removed, decoded
  with replacement characters), ``""`` for a directory. Must be cheap and must not raise for odd input
  (return False);
* ``read(path: Path, run: str) -> list[Parts]`` — read it; ``run`` is the name to give a single run (readers
  that find several runs name them ``f"{run}#{k}"`` for runs appended to one file, or by the file's own run
  column). Raise :class:`~gapwatch.errors.InputError` naming the file, the line/key and what was expected.

Built-in readers are :class:`FunctionReader` objects; :func:`gapwatch.readers.register_reader` adds others (the
tracker readers, a user's own) at a chosen priority.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ._parts import Parts

#: Bytes of a file given to every sniffer (64 KiB: a CSV header or the first JSON Lines record of a log with a
#: few hundred per-class metrics fits; a longer first line is read in full by the JSON Lines sniffer itself).
HEAD_BYTES = 65536


@runtime_checkable
class Reader(Protocol):
    """What :func:`gapwatch.readers.load` needs of a log format (see the module docstring)."""

    @property
    def name(self) -> str: ...

    def sniff(self, path: Path, head: str) -> bool: ...

    def read(self, path: Path, run: str) -> list[Parts]: ...


@dataclass(frozen=True)
class FunctionReader:
    """A reader made of two functions (how the built-in readers are defined)."""

    name: str
    sniff_fn: Callable[[Path, str], bool]
    read_fn: Callable[[Path, str], list[Parts]]
    doc: str = ""

    def sniff(self, path: Path, head: str) -> bool:
        return self.sniff_fn(path, head)

    def read(self, path: Path, run: str) -> list[Parts]:
        return self.read_fn(path, run)
