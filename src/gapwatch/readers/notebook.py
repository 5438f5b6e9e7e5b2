"""Jupyter notebooks (``*.ipynb``): the training output printed in their cells.

Many projects commit only a notebook whose cells ran the training: Keras's ``fit`` progress, a hand-written loop's
prints or the Hugging Face ``Trainer``'s dicts are kept in the cells' ``outputs`` (``"output_type": "stream"``,
stdout and stderr, where tqdm writes). Those texts, in cell order, are read by the plain-text reader
(:func:`gapwatch.readers.text.lines_parts`, every form it knows); code, markdown, images and rich outputs are
not. Line numbers in notes count the printed output lines. Several trainings in one notebook (the epoch goes back
to its first value: a second ``fit``) are runs ``<run>#1``, ``<run>#2``…

The notebook is decoded whole with :mod:`json` (data only, never executed); files over :data:`MAX_BYTES` are
refused. Recognised by the ``.ipynb`` suffix and a JSON object with a ``cells`` list. A notebook that printed no
training measurements is refused with one line naming it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._parts import Parts
from .base import FunctionReader
from .text import lines_parts

NAME = "notebook"

#: Largest notebook read (notebooks with embedded images grow large; the text outputs are a small part).
MAX_BYTES = 256 * 1024 * 1024


def sniff(path: Path, head: str) -> bool:
    return path.is_file() and path.suffix.lower() == ".ipynb" and head.lstrip("\ufeff \t\r\n").startswith("{")


def _document(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InputError(f"larger than {MAX_BYTES:,} bytes (MAX_BYTES): not a notebook?", path=path)
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"not a valid notebook (JSON: {exc})", path=path) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise InputError("not a Jupyter notebook: expected a JSON object with a 'cells' list", path=path)
    return doc


def _printed(doc: dict[str, Any]) -> Iterator[str]:
    """The lines printed by the code cells, in order (stream outputs; ``text`` a string or a list of strings)."""
    for cell in doc["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        for out in cell.get("outputs") or ():
            if not isinstance(out, dict) or out.get("output_type") != "stream":
                continue
            text = out.get("text")
            text = "".join(t for t in text if isinstance(t, str)) if isinstance(text, list) else text
            if isinstance(text, str):
                yield from text.splitlines(keepends=True)
                if text and not text.endswith(("\n", "\r")):
                    yield "\n"  # the next output starts a new line


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    parts = lines_parts(_printed(_document(path)), run, str(path), what="printed output line")
    if not any(p.blocks for p in parts):
        raise InputError("no training measurements in the notebook's printed output (expected e.g. Keras fit's "
                         "'loss: … - val_loss: …' or a training loop's prints in a cell's output)", path=path)
    return parts


READER = FunctionReader(NAME, sniff, read_parts, "Jupyter notebooks: the training output printed in their cells")
