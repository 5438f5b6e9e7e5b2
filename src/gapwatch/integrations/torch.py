"""Plain PyTorch: one helper a hand-written loop calls once per evaluation.

    guard = TorchGuard(model, monitor="val_loss", log="run.jsonl")
    for epoch in range(epochs):
        ...train..., ...evaluate...
        if guard.observe(epoch=epoch, train_loss=tl, val_loss=vl).stop:
            break
    guard.finish()           # restores the best weights, closes the history file

It combines the framework-free :class:`~gapwatch.guard.Guard` (decisions, findings, history file) with a
:class:`~gapwatch.keeper.BestKeeper` (best weights, optimizer state when asked) and optionally a weight
averager from :mod:`gapwatch.averaging`. Needs ``pip install 'gapwatch[torch]'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import UsageError, require
from ..guard import Guard, GuardDecision
from . import GuardAdapter

STATE_VERSION = 1


class TorchGuard(GuardAdapter):
    """Guard + best-model keeping for a ``torch.nn.Module``.

    Args:
        model: the module being trained.
        optimizer: its optimizer; its state is kept with the best weights when ``keep_optimizer=True``.
        guard: a ready :class:`~gapwatch.guard.Guard`, or None and its keywords (``monitor``, ``mode``,
            ``policy``, ``log``, ``overwrite``, ``detect_every``, ``on_nan``, ``verbose``, ``run``,
            ``on_event`` …) in ``**guard_kwargs``.
        **guard_kwargs: the Guard's keywords, and ``checkpoint`` (file for on-disk best keeping, default
            ``gapwatch-best.pt`` next to ``log`` or in the current directory), ``memory_limit_mb`` (model states
            up to this size, MiB, stay in memory, larger ones go to disk), ``keep_optimizer`` (keep and restore
            the optimizer state too), ``keep_previous`` (keep the previous on-disk best; see
            :class:`~gapwatch.keeper.BestKeeper`), ``restore_on_stop`` (load the best weights into ``model`` as
            soon as the guard says stop).
    """

    _owner = "TorchGuard"
    _keywords = ("checkpoint", "memory_limit_mb", "keep_optimizer", "keep_previous", "restore_on_stop")
    restore_on_stop: bool

    def __init__(self, model: Any, optimizer: Any = None, guard: Guard | None = None, **guard_kwargs: Any) -> None:
        torch = require("torch", "torch")
        if not isinstance(model, torch.nn.Module):
            raise UsageError(f"TorchGuard: model must be a torch.nn.Module, got {type(model).__name__}")
        if guard_kwargs.get("keep_optimizer") and optimizer is None:
            raise UsageError("TorchGuard: keep_optimizer=True needs optimizer=")
        super().__init__(guard, **guard_kwargs)
        self.model = model
        self.optimizer = optimizer

    def observe(
        self, *, step: float | None = None, epoch: float | None = None, **metrics: Any
    ) -> GuardDecision:
        """Feed one evaluation; keeps the weights when it is the new best; restores them on stop."""
        metrics = {k: _scalar(v) for k, v in metrics.items()}
        d = self.after_evaluation(self.model, self.optimizer, step=step, epoch=epoch, **metrics)
        if d.stop and self.restore_on_stop and self.restored is None:
            self.restore()
        return d

    def log_metrics(self, *, step: float | None = None, epoch: float | None = None, **metrics: Any) -> None:
        """Record non-evaluation metrics (e.g. a running training loss); no decision."""
        self.guard.log_metrics(step=step, epoch=epoch, **{k: _scalar(v) for k, v in metrics.items()})

    def restore(self) -> dict[str, Any] | None:
        """Load the best weights (and optimizer state when kept) into the model; returns their meta, or
        None when nothing was kept (no evaluation yet).

        Raises:
            CheckpointMismatchError: the on-disk checkpoint is not this run's recorded best.
        """
        return self.restore_best(self.model, self.optimizer)

    def finish(self, restore: bool = True) -> dict[str, Any] | None:
        """End of training: restore the best weights (unless ``restore=False``) and close the history file
        (closed even when restoring raises :class:`~gapwatch.keeper.CheckpointMismatchError`)."""
        return self.finish_training(self.model, self.optimizer, restore=restore)

    @property
    def stop(self) -> bool:
        return self.guard.stopped

    def state_dict(self) -> dict[str, Any]:
        """``{"version", "guard": <JSON>, "keeper": <state, tensors when the best is in memory>}``; save it
        in your checkpoint next to the model and optimizer."""
        return self.adapter_state()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.load_adapter_state(state)


def _scalar(v: Any) -> Any:
    item = getattr(v, "item", None)
    if callable(item) and getattr(v, "numel", lambda: 1)() == 1:
        return item()
    return v
