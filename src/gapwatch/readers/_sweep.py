"""Sweeps: every log below a directory is a run (see :func:`gapwatch.readers.load`).

One bad file or sub-directory never takes the sweep down: an unreadable directory, a file that cannot be opened,
a log that fails to parse or holds no numbers each become a note whose message starts with
:data:`gapwatch.readers.UNREAD` and whose ``run`` is the name the run would have had
(:func:`gapwatch.readers.unread` lists them). FIFOs, sockets and devices are never opened; hidden files and
directories (``.git``, ``.ipynb_checkpoints``) are not walked; documents and code (``README.md``, ``train.py``)
are not read as text logs.

With read options (``experiment=``) only the logs whose reader takes them are read (the tracker stores), each
keeping its runs of that experiment; a store without the experiment is passed over, and when no store below
the root has it the error lists the experiments that exist.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import GapwatchError, InputError, UsageError
from ..history import History, HistoryNote
from . import UNREAD, notebook, read_parts, sniff, supported_formats, text
from ._parts import Parts, build
from .base import OPTIONS, NoSuchExperiment, Reader, accepts

#: Unrecognised files listed in the "no training logs found" message.
LIST_SKIPPED = 5


def _run_name(rel: Path) -> str:
    return rel.with_suffix("").as_posix() if rel.suffix else rel.as_posix()


def _unique(name: str, used: set[str]) -> str:
    out, k = name, 2
    while out in used:
        out = f"{name}~{k}"
        k += 1
    return out


class _Sweep:
    def __init__(self, root: Path, options: Mapping[str, Any] | None = None) -> None:
        self.root = root
        self.options = dict(options or {})
        self.parts: list[Parts] = []
        self.skipped: list[str] = []
        self.used: set[str] = set()
        self.stores = 0  # sources whose reader takes the options
        self.missing: list[NoSuchExperiment] = []  # stores without the experiment asked for

    def rel(self, p: Path) -> Path:
        return p.relative_to(self.root)

    def unread(self, name: str, path: Path, why: str) -> None:
        self.parts.append(Parts(name, "", notes=[HistoryNote(name, UNREAD + why, str(path))]))

    def on_walk_error(self, exc: OSError) -> None:
        p = Path(exc.filename) if exc.filename else self.root
        name = self.rel(p).as_posix() if p != self.root and p.is_relative_to(self.root) else p.name
        self.unread(name, p, f"cannot list this directory ({exc.strerror or exc})")

    def candidates(self, d: Path, dirnames: list[str], filenames: list[str]) -> list[tuple[Path, Reader, str]]:
        cands: list[tuple[Path, Reader, str]] = []
        keep = []
        for name in sorted(dirnames):
            if name.startswith("."):
                continue
            sub = d / name
            r = sniff(sub)
            if r is None:
                keep.append(name)
            else:
                cands.append((sub, r, self.rel(sub).as_posix()))
        dirnames[:] = keep
        for fname in sorted(filenames):
            if not fname.startswith("."):
                got = self.file_candidate(d / fname)
                if got is not None:
                    cands.append(got)
        return cands

    def file_candidate(self, f: Path) -> tuple[Path, Reader, str] | None:
        rel = self.rel(f)
        try:
            st = f.stat()
        except OSError as exc:
            self.unread(_run_name(rel), f, f"cannot open ({exc.strerror or exc})")
            return None
        if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
            return None  # FIFOs, sockets and devices are never opened; an empty file logs nothing yet
        try:
            r = sniff(f)
        except GapwatchError as exc:
            self.unread(_run_name(rel), f, str(exc))
            return None
        if r is None or (r.name in (text.NAME, notebook.NAME) and f.suffix.lower() in text.NOT_LOGS_IN_SWEEPS):
            self.skipped.append(rel.as_posix())
            return None
        return f, r, _run_name(rel)

    def read(self, cands: list[tuple[Path, Reader, str]]) -> None:
        # log.csv and log.jsonl in one folder are two runs: name them with their extension
        counts = Counter(name for _, _, name in cands)
        for path, r, name in cands:
            if not all(accepts(r, o) for o in self.options):
                continue  # a log without experiments: not part of the experiment asked for
            if counts[name] > 1 and path.is_file():
                name = self.rel(path).as_posix()
            name = _unique(name, self.used)
            self.used.add(name)
            self.stores += 1
            try:
                got = read_parts(r, path, name, self.options)
            except NoSuchExperiment as exc:
                self.missing.append(exc)
                continue
            except GapwatchError as exc:
                self.unread(name, path, str(exc))
                continue
            if not any(p.blocks for p in got):
                self.unread(name, path, f"no numeric observations ({r.name} format)")
                continue
            for p in got:
                run = name if len(got) == 1 else (p.run if p.run.startswith(name + "#") else f"{name}/{p.run}")
                self.used.add(run)
                self.parts.append(p if p.run == run else p.renamed(run))


def load_sweep(root: Path, options: Mapping[str, Any] | None = None) -> History:
    """Every run below ``root`` (see :func:`gapwatch.readers.load`); directories claimed by a reader are not
    descended.

    Args:
        options: read options (``{"experiment": name}``): only the stores whose reader takes them are read.

    Raises:
        InputError: nothing below ``root`` could be read as a log (lists unrecognised files and failures).
        UsageError: ``options`` given but no store below ``root`` takes them, or none has the experiment (lists
            the experiments found).
    """
    sw = _Sweep(root, options)
    for dirpath, dirnames, filenames in os.walk(root, onerror=sw.on_walk_error):
        sw.read(sw.candidates(Path(dirpath), dirnames, filenames))
    h = build(sw.parts, consume=True)
    if h.empty and sw.options:
        _no_experiment(sw)
    if h.empty:
        extra = ""
        if sw.skipped:
            more = " …" if len(sw.skipped) > LIST_SKIPPED else ""
            extra = f" (unrecognised files: {', '.join(sw.skipped[:LIST_SKIPPED])}{more})"
        failed = [n for p in sw.parts for n in p.notes if n.message.startswith(UNREAD)]
        if failed:
            extra += f"; {len(failed)} could not be read, e.g. {failed[0].run}: {failed[0].message[len(UNREAD):]}"
        raise InputError(
            f"no training logs found in this directory{extra}; supported: {', '.join(supported_formats())}",
            path=root,
        )
    return h


def _no_experiment(sw: _Sweep) -> None:
    """The one-line error of a sweep read with options where no store gave a run."""
    opt = next(iter(sw.options))
    if sw.stores == 0:
        raise UsageError(f"{sw.root}: --{opt} selects {OPTIONS[opt]}, but no tracker store (MLflow, W&B, "
                         f"trackio) was found below this directory")
    if sw.missing:
        found = [e for m in sw.missing for e in m.found]
        kinds = {m.kind for m in sw.missing}
        raise NoSuchExperiment(str(sw.options[opt]), found, sw.root, kind=kinds.pop() if len(kinds) == 1 else opt)
