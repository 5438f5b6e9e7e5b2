"""Readers: turn logs on disk into a :class:`~gapwatch.history.History`.

Formats are chosen by **content**, not only by extension: each reader module exposes

* ``NAME``: short format name shown to users (``"keras-csv"``),
* ``sniff(path: Path, head: str) -> bool``: does this file (or directory) look like my format?
  ``head`` is the first 64 KiB of a file decoded as UTF-8 with replacement ('' for directories and binary
  files that the reader checks itself),
* ``read(path: Path, run: str) -> History``,
* optionally ``read_parts(path: Path, run: str) -> list[Parts]`` (columnar, see :mod:`._parts`): a sweep of many
  runs then builds one History instead of one per run.

:func:`load` resolves a path: a file, a run directory, or a directory of runs (a sweep, each run named by
its path relative to the root).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

from ..errors import InputError, UsageError
from ..history import History
from ._parts import Parts, build

#: Reader modules in sniffing order (most specific first).
READER_MODULES: tuple[str, ...] = (
    "hf",
    "tensorboard",
    "lightning_csv",
    "keras_csv",
    "jsonl",
    "generic_csv",
)

HEAD_BYTES = 65536

_MODULES: list[ModuleType] = []


def readers() -> list[ModuleType]:
    """The reader modules, in sniffing order."""
    if len(_MODULES) != len(READER_MODULES):
        _MODULES[:] = [importlib.import_module(f"{__name__}.{m}") for m in READER_MODULES]
    return list(_MODULES)


def supported_formats() -> list[str]:
    return [m.NAME for m in readers()]


def read_head(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except IsADirectoryError:
        return ""
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
    if b"\x00" in raw or sum(b < 9 or 13 < b < 32 for b in raw) > len(raw) // 10:
        return f"binary data (first bytes {raw[:8].hex(' ')})"
    first = raw.decode("utf-8", errors="replace").splitlines()[0] if raw.strip() else ""
    return f"first line {first[:80]!r}"


def _check_exists(p: Path) -> None:
    if not p.exists():
        parent = p.parent if str(p.parent) else Path(".")
        hint = "" if parent.exists() else f" (the directory {parent} does not exist either)"
        raise UsageError(f"{p}: no such file or directory{hint}")


def _read_parts(mod: ModuleType, path: Path, run: str) -> list[Parts] | History:
    if hasattr(mod, "read_parts"):
        return list(mod.read_parts(path, run))
    return mod.read(path, run)  # type: ignore[no-any-return]


def load_file(path: Path, run: str | None = None) -> History:
    """Read one log file (or run directory) with the reader that recognises it.

    Raises:
        UsageError: the path does not exist (exit code 2).
        InputError: unknown format (lists the supported ones and what was seen), an empty log, or a file the
            reader cannot parse (names the file and the place) (exit code 1).
    """
    path = Path(path)
    _check_exists(path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("the log is empty (0 bytes): nothing was logged yet?", path=path)
    mod = sniff(path)
    if mod is None:
        raise InputError(
            f"unknown log format (saw {_describe(path)}); supported: {', '.join(supported_formats())}",
            path=path,
        )
    got = _read_parts(mod, path, run or (path.stem if path.is_file() else path.name))
    h = build(got) if isinstance(got, list) else got
    if h.empty:
        raise InputError(f"the log holds no numeric observations ({mod.NAME} format): only a header, or "
                         "only bookkeeping columns such as epoch/step/learning_rate", path=path)
    return h


def load(path: str | Path) -> History:
    """Load a run or a sweep from ``path``.

    * a file: read with the format that recognises its content;
    * a directory one reader recognises as a single run (a TensorBoard run dir, a Hugging Face output dir, a
      Lightning ``version_N`` dir): that run;
    * any other directory: every log found below it is a run, named by its path relative to ``path``
      (without the file extension).

    Raises:
        UsageError: missing path.
        InputError: unknown format, empty log, or a directory with no logs in it.
    """
    p = Path(path)
    _check_exists(p)
    if p.is_file():
        return load_file(p, run=p.stem)
    mod = sniff(p)
    if mod is not None:
        return load_file(p, run=p.name)
    return _load_sweep(p)


def _run_name(rel: Path) -> str:
    return rel.with_suffix("").as_posix() if rel.suffix else rel.as_posix()


def _load_sweep(root: Path) -> History:
    """Every run below ``root`` (see :func:`load`); directories claimed by a reader are not descended."""
    parts: list[Parts] = []
    hists: list[History] = []
    skipped: list[str] = []
    failed: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        d = Path(dirpath)
        keep = []
        for name in dirnames:
            if name.startswith("."):
                continue
            sub = d / name
            mod = sniff(sub)
            if mod is None:
                keep.append(name)
                continue
            _collect(mod, sub, sub.relative_to(root).as_posix(), parts, hists)
        dirnames[:] = keep
        for fname in sorted(filenames):
            if fname.startswith("."):
                continue
            f = d / fname
            try:
                if f.stat().st_size == 0:
                    continue
            except OSError:
                failed.append(fname)
                continue
            mod = sniff(f)
            if mod is None:
                skipped.append(f.relative_to(root).as_posix())
                continue
            _collect(mod, f, _run_name(f.relative_to(root)), parts, hists)
    if not parts and not hists:
        extra = f" (unrecognised files: {', '.join(skipped[:5])}{' …' if len(skipped) > 5 else ''})" \
            if skipped else ""
        raise InputError(
            f"no training logs found in this directory{extra}; supported: {', '.join(supported_formats())}",
            path=root,
        )
    h = build(parts)
    if hists:
        h = History.concat([h, *hists]) if not h.empty else History.concat(hists)
    return h


def _collect(mod: ModuleType, path: Path, name: str, parts: list[Parts], hists: list[History]) -> None:
    got = _read_parts(mod, path, name)
    if isinstance(got, list):
        if len(got) == 1:
            parts.append(got[0].renamed(name) if got[0].run != name else got[0])
        else:  # a long CSV holding several runs: "<file>/<run>"
            parts.extend(p.renamed(f"{name}/{p.run}") for p in got)
    elif not got.empty:
        hists.append(got.with_run_name(name) if got.runs() != [name] else got)
