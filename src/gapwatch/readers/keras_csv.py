"""Keras ``CSVLogger``: ``epoch`` first, then every logged key in sorted order::

    epoch,accuracy,loss,val_accuracy,val_loss
    0,0.61,0.705,0.81,0.455
    1,0.87,0.296,0.84,0.481

Bare names (``loss``, ``accuracy``) are training metrics, ``val_*`` are validation. Keras writes the
**0-based** epoch index; gapwatch reports **1-based** epochs (the row ``0`` above is epoch 1), the same
convention as the Lightning reader and as Hugging Face's "epochs completed" at each epoch end. Recognised by
its header: ``epoch`` is the first column, a bare ``loss`` column is present and there is no step column.

``CSVLogger(append=True)`` across several ``fit`` calls appends rows without a new header: where the epoch goes
back to the file's first epoch (0), a new run starts. The runs are named ``<run>#1``, ``<run>#2``… with a note.
An epoch that goes back to another value is a resumed run (``fit(initial_epoch=k)``) and stays one run (the
last value per epoch is kept, with a note).
"""

from __future__ import annotations

from pathlib import Path

from ._parts import Parts, restarts
from .base import FunctionReader
from .generic_csv import file_header, launch_parts, phase_parts, read_table, stem_split, wide_parts, x_columns

NAME = "keras-csv"

#: Added to Keras's 0-based ``epoch`` column.
EPOCH_OFFSET = 1.0

_STEP_COLUMNS = {"step", "global_step", "iteration", "iter"}


def sniff(path: Path, head: str) -> bool:
    cols = file_header(path, head)
    if not cols:
        return False
    return cols[0] == "epoch" and "loss" in cols and not (_STEP_COLUMNS & set(cols))


def read_parts(path: Path, run: str) -> list[Parts]:
    t = read_table(Path(path))
    phased = phase_parts(t, run, epoch_offset=EPOCH_OFFSET)
    if phased is not None:  # ``epoch,phase,loss,accuracy``: a train and a test row per epoch
        return [phased]
    split = stem_split(Path(path), t.columns)  # ``valid.log`` of a trainer that writes train.log beside it
    _, epoch = x_columns(t)
    spans = restarts(epoch)
    if len(spans) == 1:
        return [wide_parts(t, run, epoch_offset=EPOCH_OFFSET, default_split=split)]
    return launch_parts(t, spans, run,
                        lambda rows, name: wide_parts(rows, name, epoch_offset=EPOCH_OFFSET, default_split=split))


READER = FunctionReader(NAME, sniff, read_parts, "Keras CSVLogger")
