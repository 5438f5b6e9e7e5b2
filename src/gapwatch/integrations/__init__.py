"""Thin adapters that put a :class:`~gapwatch.guard.Guard` into training loops.

Each lives in its own module and imports its framework lazily (an install hint is raised when missing):

* :mod:`gapwatch.integrations.torch` — ``TorchGuard`` for hand-written loops;
* :mod:`gapwatch.integrations.lightning` — ``GapwatchCallback`` for PyTorch Lightning;
* :mod:`gapwatch.integrations.hf` — ``GapwatchTrainerCallback`` for Hugging Face ``transformers.Trainer``;
* :mod:`gapwatch.integrations.keras` — ``GapwatchKerasCallback`` for Keras 3.
"""
