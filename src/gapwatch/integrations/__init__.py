"""Thin adapters that put a :class:`~gapwatch.guard.Guard` into training loops.

Each lives in its own module and imports its framework lazily (an install hint is raised when missing):

* :mod:`gapwatch.integrations.torch` — ``TorchGuard`` for hand-written loops;
* :mod:`gapwatch.integrations.lightning` — ``GapwatchCallback`` for PyTorch Lightning;
* :mod:`gapwatch.integrations.hf` — ``GapwatchTrainerCallback`` for Hugging Face ``transformers.Trainer``;
* :mod:`gapwatch.integrations.keras` — ``GapwatchKerasCallback`` for Keras 3.
"""

from pathlib import Path
from typing import Any

from ..guard import Guard
from ..keeper import BestKeeper


def guard_and_keeper(
    *,
    log: Any,
    overwrite: bool,
    checkpoint: Any,
    memory_limit_mb: float,
    keep_optimizer: bool = False,
    **guard_args: Any,
) -> tuple[Guard, BestKeeper]:
    """The :class:`Guard` and :class:`BestKeeper` every torch-based adapter builds: the on-disk checkpoint
    defaults to the directory of the history ``log`` (or the current directory)."""
    guard = Guard(log=log, overwrite=overwrite, **guard_args)
    keeper = BestKeeper(
        path=checkpoint,
        dir=Path(log).parent if log is not None else None,
        memory_limit_mb=memory_limit_mb,
        keep_optimizer=keep_optimizer,
        overwrite=overwrite,
    )
    return guard, keeper
