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

import os
from typing import Any, Mapping

from ..errors import UsageError, require
from ..guard import GuardDecision
from ..keeper import DEFAULT_MEMORY_LIMIT_MB
from . import guard_and_keeper

STATE_VERSION = 1


class TorchGuard:
    """Guard + best-model keeping for a ``torch.nn.Module``.

    Args:
        model: the module being trained.
        optimizer: its optimizer; its state is kept with the best weights when ``keep_optimizer=True``.
        monitor, mode, policy, log, overwrite, detect_every, on_nan, verbose, run: see
            :class:`~gapwatch.guard.Guard`.
        checkpoint: file for on-disk best keeping (default ``gapwatch-best.pt`` next to ``log``, or in the
            current directory).
        memory_limit_mb: model states up to this size (MiB) stay in memory, larger ones go to disk.
        keep_optimizer: keep and restore the optimizer state too.
        restore_on_stop: load the best weights into ``model`` as soon as the guard says stop.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any = None,
        *,
        monitor: str | None = "val_loss",
        mode: str | None = None,
        policy: Mapping[str, Any] | None = None,
        log: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        checkpoint: str | os.PathLike[str] | None = None,
        memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB,
        keep_optimizer: bool = False,
        restore_on_stop: bool = True,
        detect_every: int = 5,
        on_nan: str = "raise",
        verbose: bool = True,
        run: str = "run",
        **guard_kwargs: Any,
    ) -> None:
        torch = require("torch", "torch")
        if not isinstance(model, torch.nn.Module):
            raise UsageError(f"TorchGuard: model must be a torch.nn.Module, got {type(model).__name__}")
        if keep_optimizer and optimizer is None:
            raise UsageError("TorchGuard: keep_optimizer=True needs optimizer=")
        self.model = model
        self.optimizer = optimizer
        self.restore_on_stop = restore_on_stop
        self.guard, self.keeper = guard_and_keeper(
            monitor=monitor,
            mode=mode,
            policy=policy,
            log=log,
            overwrite=overwrite,
            checkpoint=checkpoint,
            memory_limit_mb=memory_limit_mb,
            keep_optimizer=keep_optimizer,
            detect_every=detect_every,
            on_nan=on_nan,
            verbose=verbose,
            run=run,
            **guard_kwargs,
        )
        self.restored: dict[str, Any] | None = None

    def observe(
        self, *, step: float | None = None, epoch: float | None = None, **metrics: Any
    ) -> GuardDecision:
        """Feed one evaluation; keeps the weights when it is the new best; restores them on stop."""
        metrics = {k: _scalar(v) for k, v in metrics.items()}
        d = self.guard.observe(step=step, epoch=epoch, **metrics)
        if d.improved:
            self.keeper.save(
                self.model,
                self.optimizer,
                index=d.evaluation,
                step=d.best_step,
                epoch=d.best_epoch,
                value=d.best_value,
            )
        if d.stop and self.restore_on_stop and self.restored is None:
            self.restore()
        return d

    def log_metrics(self, *, step: float | None = None, epoch: float | None = None, **metrics: Any) -> None:
        """Record non-evaluation metrics (e.g. a running training loss); no decision."""
        self.guard.log_metrics(step=step, epoch=epoch, **{k: _scalar(v) for k, v in metrics.items()})

    def restore(self) -> dict[str, Any] | None:
        """Load the best weights (and optimizer state when kept) into the model; returns their meta, or
        None when nothing was kept (no evaluation yet)."""
        if not self.keeper.has_best:
            return None
        self.restored = self.keeper.restore(self.model, self.optimizer)
        return self.restored

    def finish(self, restore: bool = True) -> dict[str, Any] | None:
        """End of training: restore the best weights (unless ``restore=False``) and close the history file."""
        meta = self.restore() if restore and self.restored is None else self.restored
        self.guard.close()
        return meta

    @property
    def stop(self) -> bool:
        return self.guard.stopped

    def state_dict(self) -> dict[str, Any]:
        """``{"version", "guard": <JSON>, "keeper": <state, tensors when the best is in memory>}``; save it
        in your checkpoint next to the model and optimizer."""
        return {
            "version": STATE_VERSION,
            "guard": self.guard.state_dict(),
            "keeper": self.keeper.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            raise UsageError(
                f"TorchGuard state: expected version {STATE_VERSION}, got "
                f"{state.get('version') if isinstance(state, Mapping) else type(state).__name__!r}"
            )
        self.guard.load_state_dict(state["guard"])
        self.keeper.load_state_dict(state["keeper"])


def _scalar(v: Any) -> Any:
    item = getattr(v, "item", None)
    if callable(item) and getattr(v, "numel", lambda: 1)() == 1:
        return item()
    return v
