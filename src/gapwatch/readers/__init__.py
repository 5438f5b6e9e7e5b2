"""Readers: turn logs on disk into a :class:`~gapwatch.history.History`.

Formats are chosen by **content**, not only by extension: each reader module exposes

* ``NAME``: short format name shown to users (``"keras-csv"``),
* ``sniff(path: Path, head: str) -> bool``: does this file (or directory) look like my format?
  ``head`` is the first 64 KiB of a file decoded as UTF-8 with replacement ('' for directories and binary
  files that the reader checks itself),
* ``read(path: Path, run: str) -> History``.

:func:`load` resolves a path: a file, a run directory, or a directory of runs (a sweep, each run named by
its path relative to the root).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ..errors import InputError
from ..history import History

#: Reader modules in sniffing order (most specific first).
READER_MODULES: tuple[str, ...] = (
    "jsonl",
    "generic_csv",
)

HEAD_BYTES = 65536


def readers() -> list[ModuleType]:
    """The reader modules, in sniffing order."""
    return [importlib.import_module(f"{__name__}.{m}") for m in READER_MODULES]


def supported_formats() -> list[str]:
    return [m.NAME for m in readers()]


def read_head(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    return raw.decode("utf-8", errors="replace")


def sniff(path: Path) -> ModuleType | None:
    """The reader that recognises ``path`` (a file or a run directory), or None."""
    head = read_head(path) if path.is_file() else ""
    for mod in readers():
        if mod.sniff(path, head):
            return mod
    return None


def load_file(path: Path, run: str | None = None) -> History:
    """Read one log file (or run directory) with the reader that recognises it."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path=path)
    mod = sniff(path)
    if mod is None:
        head = read_head(path)[:80].splitlines()[0] if path.is_file() and path.stat().st_size else ""
        seen = f"first line {head!r}" if head else ("an empty file" if path.is_file() else "a directory")
        raise InputError(
            f"unknown log format (saw {seen}); supported: {', '.join(supported_formats())}", path=path
        )
    h = mod.read(path, run or path.stem)
    if h.empty:
        raise InputError(f"the log holds no numeric observations ({mod.NAME} format)", path=path)
    return h


def load(path: str | Path) -> History:
    """Load a run or a sweep from ``path``.

    * a file: read with the format that recognises its content;
    * a directory one reader recognises as a single run (e.g. a TensorBoard run dir): that run;
    * any other directory: every log file found below it is a run, named by its relative path.

    Raises:
        InputError: missing path, unknown format, empty log, or a directory with no logs in it.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or directory", path=p)
    if p.is_file():
        return load_file(p, run=p.stem)
    mod = sniff(p)
    if mod is not None:
        return mod.read(p, p.name)
    return _load_sweep(p)


def _load_sweep(root: Path) -> History:
    found: list[History] = []
    skipped: list[str] = []
    claimed: set[Path] = set()
    for d in sorted([root, *[q for q in root.rglob("*") if q.is_dir()]]):
        if any(c in d.parents or c == d for c in claimed):
            continue
        if d != root:
            mod = sniff(d)
            if mod is not None:
                name = str(d.relative_to(root))
                found.append(mod.read(d, name).with_run_name(name))
                claimed.add(d)
                continue
        for f in sorted(q for q in d.iterdir() if q.is_file()):
            if f.name.startswith(".") or f.stat().st_size == 0:
                continue
            mod = sniff(f)
            if mod is None:
                skipped.append(str(f.relative_to(root)))
                continue
            rel = f.relative_to(root)
            name = str(rel.with_suffix("")) if rel.parent == Path(".") else str(rel.parent / rel.stem)
            h = mod.read(f, name)
            if not h.empty:
                found.append(h.with_run_name(name))
    if not found:
        extra = f" (unrecognised files: {', '.join(skipped[:5])})" if skipped else ""
        raise InputError(
            f"no training logs found in this directory{extra}; supported: {', '.join(supported_formats())}",
            path=root,
        )
    return History.concat(found)
