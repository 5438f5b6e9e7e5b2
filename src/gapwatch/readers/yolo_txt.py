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

Forks that add a loss term write more columns in the same order: YOLOv5-OBB's rotated boxes add an angle loss
(four training loss parts, then the total; the validation parts and their total at the end), a table-detection
fork adds a fourth training part but validates three. Such a row's layout is found by the sum rule: the first
``k`` loss parts are followed by their total (to :data:`SUM_TOLERANCE`), then two whole numbers (labels, image
size), the four validation measures and the validation parts (with their total when the last one is their sum).
Parts beyond YOLOv5's three are named ``train/loss_part<i>``.

Recognised by its first non-empty line: the first field ``N/M``, the second a memory size (``3.21G``, ``0``), the
rest numbers in one of these layouts (15 fields: YOLOv5's own). A row with another shape is an
:class:`InputError` naming its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._parts import Parts, records_parts
from .base import FunctionReader

NAME = "yolo-txt"

#: Fields of a row of YOLOv5's own layout (three loss parts).
N_FIELDS = 15
#: Most training loss parts a fork's row is searched for (:func:`_layout`).
MAX_PARTS = 6
#: Largest ``|total − sum of the parts|``, relative to the total (plus 1e-4 absolute: the file rounds each
#: number to 4 significant digits), for a column to be read as the parts' total.
SUM_TOLERANCE = 2e-3

#: Largest ``|F1 − 2PR/(P+R)|`` on every row for the fourth measure to be read as YOLOv3's F1.
F1_TOLERANCE = 2e-3

_EPOCH = re.compile(r"^(\d+)/(\d+)$")
_MEMORY = re.compile(r"^\d+(\.\d+)?[KMG]?$")

def _fields(line: str) -> tuple[float, list[float]] | None:
    """``(epoch, the numbers after the memory field)`` of a row in this format (any layout), or None when the
    line has another shape."""
    f = line.split()
    m = _EPOCH.match(f[0]) if len(f) >= 12 else None
    if m is None or not _MEMORY.match(f[1]):
        return None
    try:
        return float(m.group(1)), [float(x) for x in f[2:]]
    except ValueError:
        return None


def _is_total(total: float, parts: list[float]) -> bool:
    return bool(parts) and abs(total - sum(parts)) <= SUM_TOLERANCE * abs(total) + 1e-4


def _layout(vals: list[float]) -> tuple[int, int, bool] | None:
    """``(training parts, validation parts, validation total logged)`` of a row's numbers after the memory
    field, or None when no layout fits: ``k`` parts and their total, two whole numbers (labels, image size), four
    measures, then the validation parts (and their total when the last is their sum). YOLOv5's own row (13
    numbers) is ``(3, 3, False)`` whatever its values."""
    if len(vals) == N_FIELDS - 2:
        return 3, 3, False
    for k in range(1, MAX_PARTS + 1):
        rest = len(vals) - (k + 3 + 4)
        if rest < 1 or not _is_total(vals[k], vals[:k]):
            continue
        if not (vals[k + 1].is_integer() and vals[k + 2].is_integer() and vals[k + 2] >= 32):
            continue
        val = vals[k + 7:]
        total = len(val) >= 3 and _is_total(val[-1], val[:-1]) and any(val[:-1])
        return k, len(val) - (1 if total else 0), total
    return None


def _names(k: int, m: int, total: bool, f1: bool) -> list[str | None]:
    """Series names of a row's numbers in layout ``(k, m, total)`` (:func:`_layout`); ``f1``: the fourth
    measure is YOLOv3's F1."""
    parts = ["box_loss", "obj_loss", "cls_loss"]
    train = [f"train/{parts[i]}" if i < 3 else f"train/loss_part{i + 1}" for i in range(k)]
    val = [f"val/{parts[i]}" if i < 3 else f"val/loss_part{i + 1}" for i in range(m)]
    fourth = "metrics/F1" if f1 else "metrics/mAP_0.5:0.95"
    return [*train, None, None, None, "metrics/precision", "metrics/recall", "metrics/mAP_0.5", fourth, *val,
            *([None] if total else [])]


def sniff(path: Path, head: str) -> bool:
    if not path.is_file():
        return False
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    f = _fields(first)
    return f is not None and _layout(f[1]) is not None


def _is_f1(rows: list[list[float]], k: int) -> bool:
    """The fourth measure equals 2PR/(P+R) on every row (YOLOv3's F1); ``k`` training loss parts."""
    for r in rows:
        p, rc, fourth = r[k + 3], r[k + 4], r[k + 6]
        f1 = 2 * p * rc / (p + rc) if p + rc > 0 else 0.0
        if abs(fourth - f1) > F1_TOLERANCE:
            return False
    return True


def read_parts(path: Path, run: str) -> list[Parts]:
    rows: list[tuple[int, float, list[float]]] = []
    width = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            f = _fields(line)
            if f is None or (rows and len(f[1]) != width):
                if not line.endswith(("\n", "\r")) and rows:
                    break  # a last row cut off by a crash or a run still writing
                want = f"{width + 2}" if rows else f"{N_FIELDS} (or a fork's more)"
                raise InputError(f"expected {want} space-separated fields (epoch/last, GPU memory, then numbers) "
                                 "as in YOLOv5's results.txt", path=path, line=i)
            width = len(f[1])
            rows.append((i, *f))
    layouts = [lay for _, _, v in rows if (lay := _layout(v)) is not None]
    if not layouts:
        raise InputError("no row splits into loss parts and their total as in YOLOv5's results.txt", path=path)
    # (a row whose parts are all 0 fits several layouts: the most common one across rows decides)
    k, m, total = max(set(layouts), key=layouts.count)
    names = _names(k, m, total, bool(rows) and _is_f1([r for _, _, r in rows], k))
    records: list[tuple[int, dict[str, Any]]] = []
    for i, epoch, vals in rows:
        rec: dict[str, Any] = {"epoch": epoch}
        rec.update({n: v for n, v in zip(names, vals, strict=True) if n is not None})
        records.append((i, rec))
    return [records_parts(records, run, str(path))]


READER = FunctionReader(NAME, sniff, read_parts, "YOLOv5/YOLOv3 results.txt (header-less, one row per epoch)")
