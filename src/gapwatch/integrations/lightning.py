"""PyTorch Lightning: a ``Callback`` that stops through the trainer and restores the best weights.

    from gapwatch.integrations.lightning import GapwatchCallback
    trainer = L.Trainer(callbacks=[GapwatchCallback(monitor="val_loss", log="run.jsonl")])

At the end of every validation run it feeds the logged validation metrics (``trainer.callback_metrics``) to a
:class:`~gapwatch.guard.Guard`; new best weights are kept by a :class:`~gapwatch.keeper.BestKeeper`; a stop
sets ``trainer.should_stop``; at the end of ``fit`` the best weights are loaded back into the module. Training
metrics of an epoch (logged with ``on_epoch=True``) are written to the history at the end of the epoch. The
guard's state (JSON) and an in-memory best (tensors) travel in Lightning checkpoints through
``state_dict``/``load_state_dict``, so a resumed fit continues with identical decisions.

:class:`ExampleRecorderCallback` records per-example training dynamics (loss, margin, correctness; see
:mod:`gapwatch.examples`) from the training forward pass. Needs ``pip install 'gapwatch[lightning]'``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import UsageError, require
from ..examples.record import ExampleRecorder, logits_of, split_indexed_batch
from ..guard import Guard
from ..names import normalize
from . import GuardAdapter, RecorderCallback

_L = require("lightning.pytorch", "lightning", "lightning")

STATE_VERSION = 1


class GapwatchCallback(GuardAdapter, _L.Callback):  # type: ignore[misc,name-defined]
    """Lightning callback around :class:`~gapwatch.guard.Guard` plus best keeping.

    Args:
        guard: a ready Guard, or None and its keywords (``monitor="val_loss"``, ``log=``, ``policy=`` …) in
            ``**guard_kwargs``.
        **guard_kwargs: the Guard's keywords, and ``restore`` (load the best weights into the module at the end
            of ``fit``), ``checkpoint``, ``memory_limit_mb``, ``keep_optimizer`` (keeps the first optimizer's
            state), ``keep_previous`` (see :class:`~gapwatch.integrations.GuardAdapter`).
    """

    _owner = "GapwatchCallback"
    _keywords = ("checkpoint", "memory_limit_mb", "keep_optimizer", "keep_previous", "restore")
    restore: bool

    def __init__(self, guard: Guard | None = None, **guard_kwargs: Any) -> None:
        _L.Callback.__init__(self)
        GuardAdapter.__init__(self, guard, **guard_kwargs)

    @property
    def state_key(self) -> str:
        return "GapwatchCallback"

    # ------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.guard.check_log()  # after Lightning restored a resumed run's callback state
        from lightning.pytorch.utilities.model_helpers import is_overridden

        if not is_overridden("validation_step", pl_module) or trainer.limit_val_batches == 0:
            raise UsageError(
                "GapwatchCallback: no evaluation is configured: define validation_step in your "
                "LightningModule, pass val_dataloaders to trainer.fit, and keep "
                "limit_val_batches > 0 — the guard decides on validation metrics"
            )

    def _metrics(self, trainer: Any, want_train: bool) -> dict[str, float]:
        out = {}
        for k, v in trainer.callback_metrics.items():
            if k.endswith("_step"):
                continue
            is_train = normalize(k, default_split="train")[0] == "train"
            if is_train == want_train:
                out[k] = float(v.item() if hasattr(v, "item") else v)
        return out

    def _optimizer(self, trainer: Any) -> Any:
        return trainer.optimizers[0] if (self.keeper.keep_optimizer and trainer.optimizers) else None

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        metrics = self._metrics(trainer, want_train=False)
        d = self.after_evaluation(
            pl_module, self._optimizer(trainer), step=trainer.global_step, epoch=trainer.current_epoch, **metrics
        )
        if d.stop:
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        metrics = self._metrics(trainer, want_train=True)
        if metrics:
            self.guard.log_metrics(step=trainer.global_step, epoch=trainer.current_epoch, **metrics)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self.finish_training(pl_module, self._optimizer(trainer), restore=self.restore)

    # ------------------------------------------------------------------ checkpoint state
    def state_dict(self) -> dict[str, Any]:
        return self.adapter_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.load_adapter_state(state_dict)


class ExampleRecorderCallback(RecorderCallback, _L.Callback):  # type: ignore[misc,name-defined]
    """Record every training example's loss, margin and correctness per epoch (an ExampleTable).

        from gapwatch.examples import IndexedDataset
        train = DataLoader(IndexedDataset(train_set), batch_size=128, shuffle=True)   # (idx, (x, y))
        rec = ExampleRecorderCallback("examples.parquet", n=len(train_set), num_classes=10)
        L.Trainer(callbacks=[rec]).fit(model, train)

    Batches must carry example indices: ``(indices, (x, y))`` from :class:`~gapwatch.examples.IndexedDataset`
    or a dict with ``idx`` and ``labels`` (see :func:`~gapwatch.examples.record.split_indexed_batch`). The
    logits are taken from the dict ``training_step`` returns (key ``logits_key``) or, when it returns none,
    from the module's own ``forward`` output during that batch (a forward hook on the LightningModule; the
    last call wins). They are detached: recording never changes training. Records are of the training forward
    pass (with augmentation / dropout), as AUM and forgetting events are defined. In multi-process runs
    (``trainer.world_size > 1``) a :class:`~gapwatch.examples.distributed.DistributedRecorder` gathers every
    epoch on rank 0, which writes the file.

    Args:
        path: Parquet file (None: keep in memory; :attr:`table` after ``fit``).
        n, num_classes, store_probs, run, overwrite: as :class:`~gapwatch.examples.ExampleRecorder`.
        logits_key: key of the logits in ``training_step``'s returned dict.
    """

    _training = "fit"

    def __init__(self, path: str | os.PathLike[str] | None = None, *, n: int | None = None,
                 num_classes: int | None = None, store_probs: bool = False, run: int = 0,
                 overwrite: bool = False, logits_key: str = "logits") -> None:
        self._kw: dict[str, Any] = dict(n=n, num_classes=num_classes, store_probs=store_probs, run=run,
                                        overwrite=overwrite)
        self.path = None if path is None else Path(path)
        self.logits_key = logits_key
        self.recorder: ExampleRecorder | None = None
        self._hook: Any = None
        self._active = False
        self._captured: Any = None
        self._recorded_this_epoch = 0

    def _capture(self, module: Any, args: Any, output: Any) -> None:
        if self._active:
            self._captured = output

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.recorder is None:
            if getattr(trainer, "world_size", 1) > 1:
                from ..examples.distributed import DistributedRecorder

                self.recorder = DistributedRecorder(self.path, **self._kw)
            else:
                self.recorder = ExampleRecorder(self.path, **self._kw)
        self._hook = pl_module.register_forward_hook(self._capture)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._active, self._captured = True, None

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._active = False
        logits = outputs.get(self.logits_key) if isinstance(outputs, Mapping) else None
        if logits is None:
            logits = logits_of(self._captured)
        self._captured = None
        if logits is None:
            raise UsageError("ExampleRecorderCallback found no logits: return {'loss': loss, "
                             f"'{self.logits_key}': logits}} from training_step, or compute them with self(x)")
        idx, labels = split_indexed_batch(batch)
        if self.recorder is None:  # pragma: no cover - on_fit_start always ran
            raise RuntimeError("recorder missing")
        self.recorder.record(idx, logits.detach(), labels)
        self._recorded_this_epoch += 1

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.recorder is not None and self._recorded_this_epoch:
            self.recorder.end_epoch()
        self._recorded_this_epoch = 0

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self.close_recorder()
