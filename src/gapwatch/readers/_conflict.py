"""Files committed in the middle of a git merge: one run per side.

A log committed while a merge was unresolved holds conflict blocks (``<<<<<<< HEAD`` … ``=======`` …
``>>>>>>> <ref>``): two versions of some of its rows. When a reader refuses such a file on a conflict marker,
:func:`gapwatch.readers.read_parts` asks :func:`sides` for the two versions (the lines outside the conflicts plus
each side's lines), reads each with the same reader from a private temporary copy, and names the runs
``<run>#HEAD`` and ``<run>#<ref>``, each with a note saying which lines it holds. Which to keep stays the user's
call. A file with an incomplete conflict (no closing marker) is refused as before, naming the marker's line.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import InputError
from ..history import HistoryNote
from ._parts import Parts

#: Largest file whose conflict is resolved into one run per side (it is read into memory whole).
CONFLICT_MAX_BYTES = 64 * 1024 * 1024

#: Text of the readers' refusal that names a conflict marker (``generic_csv._conflict_hint``).
CONFLICT_MARK = "merge-conflict marker"


def sides(path: Path) -> list[tuple[str, bytes, str]] | None:
    """``[(label, bytes, where)]``, one version of the file per side of its conflicts (``label``: ``HEAD`` or the
    ref after ``>>>>>>>``; ``where``: the lines of that side), or None when the file holds no complete conflict
    block or is over :data:`CONFLICT_MAX_BYTES`."""
    try:
        if path.stat().st_size > CONFLICT_MAX_BYTES:
            return None
        lines = path.read_bytes().splitlines(keepends=True)
    except OSError:
        return None
    ours: list[bytes] = []
    theirs: list[bytes] = []
    state, head, label, n_blocks = 0, "HEAD", "", 0
    spans: dict[str, list[int]] = {"ours": [], "theirs": []}
    for i, ln in enumerate(lines, start=1):
        t = ln.strip()
        if state == 0 and t.startswith(b"<<<<<<<"):
            state, head = 1, t[7:].strip().decode("utf-8", "replace") or "HEAD"
            continue
        if state == 1 and t.startswith(b"=======") and t.strip(b"=") == b"":
            state = 2
            continue
        if state == 2 and t.startswith(b">>>>>>>"):
            state, label, n_blocks = 0, t[7:].strip().decode("utf-8", "replace") or "other", n_blocks + 1
            continue
        if state in (0, 1):
            ours.append(ln)
        if state in (0, 2):
            theirs.append(ln)
        if state:
            spans["ours" if state == 1 else "theirs"].append(i)
    if state != 0 or n_blocks == 0:
        return None

    def where(side: str) -> str:
        ls = spans[side]
        return (f"line {ls[0]}" if ls[0] == ls[-1] else f"lines {ls[0]}–{ls[-1]}") if ls else "no lines"

    return [(head, b"".join(ours), where("ours")), (label, b"".join(theirs), where("theirs"))]


def runs(read: Callable[[Path, str], list[Parts]], path: Path, run: str, exc: InputError) -> list[Parts]:
    """The runs of each side of ``path``'s conflicts, read with ``read`` (a reader's ``read``); re-raises ``exc``
    when the file holds no complete conflict."""
    found = sides(path)
    if found is None:
        raise exc
    out: list[Parts] = []
    with tempfile.TemporaryDirectory(prefix="gapwatch-merge-") as tmp:
        for k, (label, data, where) in enumerate(found):
            copy = Path(tmp) / str(k) / path.name  # (the same file name: some readers go by it)
            copy.parent.mkdir()
            copy.write_bytes(data)
            name = f"{run}#{re.sub(r'[^A-Za-z0-9_.-]+', '_', label.split()[0])[:40]}"  # (the ref, not its message)
            for p in read(copy, name):
                notes = [HistoryNote(n.run, n.message.replace(str(copy), str(path)), str(path)) for n in p.notes]
                notes.append(HistoryNote(p.run, f"the file holds a git merge conflict (committed mid-merge); its "
                                                f"{label!r} side ({where} inside the conflict) is this run, the "
                                                "other side is another", str(path)))
                out.append(Parts(p.run, str(path), p.blocks, notes, p.meta))
    return out
