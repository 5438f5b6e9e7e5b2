"""Write one benchmark's section of a results file (``bench/results/*.md``) between its begin/end markers."""

from __future__ import annotations

from pathlib import Path


def write_section(out: Path, begin: str, end: str, text: str) -> None:
    """Replace the text between ``begin`` and ``end`` in ``out`` (the markers kept), or append a new marked
    section when ``out`` has none; the rest of the file is left as it is."""
    old = out.read_text() if out.is_file() else ""
    if begin in old and end in old:
        new = old[: old.index(begin)] + begin + "\n" + text + "\n" + old[old.index(end):]
    else:
        new = old.rstrip() + "\n\n" + begin + "\n" + text + "\n" + end + "\n"
    out.write_text(new)
