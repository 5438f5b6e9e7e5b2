"""Keras ``CSVLogger``: ``epoch`` first, then every logged key in sorted order::

    epoch,accuracy,loss,val_accuracy,val_loss
    0,0.61,0.705,0.81,0.455
    1,0.87,0.296,0.84,0.481

Bare names (``loss``, ``accuracy``) are training metrics, ``val_*`` are validation. Keras writes the
**0-based** epoch index; gapwatch reports **1-based** epochs (the row ``0`` above is epoch 1), the same
convention as the Lightning reader and as Hugging Face's "epochs completed" at each epoch end. Recognised by
its header: ``epoch`` is the first column, a bare ``loss`` column is present and there is no step column.
"""

from __future__ import annotations

from pathlib import Path

from ..history import History
from ._parts import Parts, build
from .generic_csv import _header, read_table, wide_parts

NAME = "keras-csv"

#: Added to Keras's 0-based ``epoch`` column.
EPOCH_OFFSET = 1.0

_STEP_COLUMNS = {"step", "global_step", "iteration", "iter"}


def sniff(path: Path, head: str) -> bool:
    if not path.is_file():
        return False
    cols = _header(head)
    if not cols:
        return False
    return cols[0] == "epoch" and "loss" in cols and not (_STEP_COLUMNS & set(cols))


def read_parts(path: Path, run: str) -> list[Parts]:
    return [wide_parts(read_table(Path(path)), run, epoch_offset=EPOCH_OFFSET)]


def read(path: Path, run: str) -> History:
    return build(read_parts(path, run))
