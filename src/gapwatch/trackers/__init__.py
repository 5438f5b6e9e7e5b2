"""Tracker stores as gapwatch sources: MLflow (:mod:`.mlflow`), Weights & Biases (:mod:`.wandb`), trackio
(:mod:`.trackio`).

Each module has a ``read_*`` entry point returning a :class:`~gapwatch.history.History` and a ``READER`` object
implementing the :class:`gapwatch.readers.base.Reader` plug-in protocol (``name``, ``sniff``, ``read``), so
``analyze``, ``replay``, ``forecast`` and ``watch`` read tracker stores once the readers are registered
(:func:`register`). The ``mlflow`` reader needs no package for file and SQLite stores (only ``http(s)://``
tracking servers need ``gapwatch[mlflow]``); the ``wandb`` reader needs ``gapwatch[wandb]`` for ``.wandb``
files (CSV exports need nothing); the ``trackio`` reader needs nothing.
"""

from __future__ import annotations


def register() -> None:
    """Register the tracker readers with :func:`gapwatch.readers.register_reader` (idempotent): MLflow stores
    before the Hugging Face reader (an ``mlruns/`` tree must not be taken apart as a sweep), W&B before the
    generic CSV reader (its CSV exports have ``<run> - <metric>`` columns), trackio after MLflow (both are
    SQLite files; each sniffer checks for its own tables)."""
    from ..readers import register_reader, supported_formats
    from .mlflow import READER as MLFLOW
    from .trackio import READER as TRACKIO
    from .wandb import READER as WANDB

    have = set(supported_formats())
    if MLFLOW.name not in have:
        register_reader(MLFLOW, before=supported_formats()[0])
    if TRACKIO.name not in have:
        register_reader(TRACKIO, before=supported_formats()[1])
    if WANDB.name not in have:
        register_reader(WANDB, before="csv" if "csv" in have else None)
