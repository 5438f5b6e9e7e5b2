"""YOLOv5's and YOLOv3's ``results.txt``: one header-less, space-separated row per epoch.

Ultralytics YOLOv3 and YOLOv5 up to release 5.0 (2020–2021; ``results.csv`` replaced it in YOLOv5 6.0) wrote
``runs/train/exp*/results.txt`` with 15 columns and no header (here wrapped; one line in the file)::

         0/299     3.21G   0.08361   0.05125   0.02806    0.1629        41       640    0.2931    0.1452
       0.08161   0.02483   0.06744   0.03512   0.01874

``epoch/last-epoch``, GPU memory, the training ``box``/``obj``/``cls`` losses and their total, the number of
labels in the last batch, the image size, then the validation set's precision, recall, mAP@0.5 and a fourth
measure, then the validation ``box``/``obj``/``cls`` losses. The fourth measure is mAP@0.5:0.95 in YOLOv5 and
F1 in YOLOv3 (whose ``test.py`` returns ``P, R, mAP, F1``); it is read as F1 when it equals ``2PR/(P+R)`` on
every row (to ``F1_TOLERANCE``), else as mAP@0.5:0.95. The series get the names YOLOv5's ``results.csv``
gives them (``train/box_loss``, ``metrics/mAP_0.5``, ``val/cls_loss``…), so both files are judged alike. The
epoch is the number before the slash (0-based, as written).

Recognised by its first non-empty line: 15 fields, the first ``N/M``, the second a memory size (``3.21G``,
``0``), the rest numbers. A row with another shape is an :class:`InputError` naming its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._parts import Parts, records_parts
from .base import FunctionReader

NAME = "yolo-txt"

#: Fields of a row.
N_FIELDS = 15

#: Largest ``|F1 − 2PR/(P+R)|`` on every row for the fourth measure to be read as YOLOv3's F1.
F1_TOLERANCE = 2e-3

_EPOCH = re.compile(r"^(\d+)/(\d+)$")
_MEMORY = re.compile(r"^\d+(\.\d+)?[KMG]?$")

#: Column names of fields 3–15 (field 8, the image size, and 7, the label count, are not metrics), YOLOv5's.
_COLUMNS: tuple[str | None, ...] = (
    "train/box_loss", "train/obj_loss", "train/cls_loss", None, None, None,
    "metrics/precision", "metrics/recall", "metrics/mAP_0.5", "metrics/mAP_0.5:0.95",
    "val/box_loss", "val/obj_loss", "val/cls_loss",
)


def _fields(line: str) -> tuple[float, list[float]] | None:
    """``(epoch, the 13 numbers after the memory field)`` of a row in this format, or None when the line has
    another shape."""
    f = line.split()
    m = _EPOCH.match(f[0]) if len(f) == N_FIELDS else None
    if m is None or not _MEMORY.match(f[1]):
        return None
    try:
        return float(m.group(1)), [float(x) for x in f[2:]]
    except ValueError:
        return None


def sniff(path: Path, head: str) -> bool:
    if not path.is_file():
        return False
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    return _fields(first) is not None


def _is_f1(rows: list[list[float]]) -> bool:
    """The fourth measure equals 2PR/(P+R) on every row (YOLOv3's F1)."""
    for r in rows:
        p, rc, fourth = r[6], r[7], r[9]
        f1 = 2 * p * rc / (p + rc) if p + rc > 0 else 0.0
        if abs(fourth - f1) > F1_TOLERANCE:
            return False
    return True


def read_parts(path: Path, run: str) -> list[Parts]:
    rows: list[tuple[int, float, list[float]]] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            f = _fields(line)
            if f is None:
                if not line.endswith(("\n", "\r")) and rows:
                    break  # a last row cut off by a crash or a run still writing
                raise InputError(f"expected {N_FIELDS} space-separated fields (epoch/last, GPU memory, 13 numbers) "
                                 "as in YOLOv5's results.txt", path=path, line=i)
            rows.append((i, *f))
    names = list(_COLUMNS)
    if rows and _is_f1([r for _, _, r in rows]):
        names[9] = "metrics/F1"
    records: list[tuple[int, dict[str, Any]]] = []
    for i, epoch, vals in rows:
        rec: dict[str, Any] = {"epoch": epoch}
        rec.update({n: v for n, v in zip(names, vals, strict=True) if n is not None})
        records.append((i, rec))
    return [records_parts(records, run, str(path))]


READER = FunctionReader(NAME, sniff, read_parts, "YOLOv5/YOLOv3 results.txt (header-less, one row per epoch)")
