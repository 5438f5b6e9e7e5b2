"""Hugging Face ``transformers``: a ``TrainerCallback`` acting through ``TrainerControl``.

    from gapwatch.integrations.hf import GapwatchTrainerCallback
    trainer = Trainer(..., args=TrainingArguments(..., eval_strategy="epoch"),
                      callbacks=[GapwatchTrainerCallback(monitor="eval_loss", log="run.jsonl")])

Each evaluation's ``eval_*`` metrics go to a :class:`~gapwatch.guard.Guard`; the best weights are kept by a
:class:`~gapwatch.keeper.BestKeeper`; a stop sets ``control.should_training_stop``; at ``on_train_end`` the
best weights are loaded back into the model. Training losses from ``on_log`` are written to the history.

State: the callback is an ``ExportableState``, so the guard's JSON state is stored in ``trainer_state.json``
of every checkpoint and restored on ``trainer.train(resume_from_checkpoint=...)`` — decisions continue
identically. ``trainer_state.json`` cannot hold tensors: a best kept **in memory** is not carried across a
resume (keeping starts afresh at the next improvement); pass ``memory_limit_mb=0`` to keep it on disk, where
the state refers to the file.

:class:`ExampleRecorderTrainerCallback` records per-example training dynamics (see :mod:`gapwatch.examples`)
with one extra forward pass over the training set at the end of every epoch. Needs
``pip install 'gapwatch[hf]'``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import UsageError, require
from ..examples.record import ExampleRecorder, logits_of, split_indexed_batch
from ..guard import Guard
from ..names import is_bookkeeping
from . import GuardAdapter, RecorderCallback, guard_keywords

_tc = require("transformers.trainer_callback", "hf", "transformers")

STATE_VERSION = 1
#: Guard keywords that cannot be stored in ``trainer_state.json`` (callables); a callback rebuilt by
#: ``Trainer`` from a checkpoint gets the defaults for them.
_NOT_JSON = ("printer", "on_event")


class GapwatchTrainerCallback(GuardAdapter, _tc.TrainerCallback, _tc.ExportableState):  # type: ignore[misc,name-defined]
    """``transformers`` callback around :class:`~gapwatch.guard.Guard`.

    Args:
        guard: a ready Guard, or None and its keywords in ``**guard_kwargs``. Without ``monitor``, the
            Trainer's own choice decides (``TrainingArguments.metric_for_best_model`` / ``greater_is_better``),
            else :func:`gapwatch.monitor.decide` at the first evaluation (the task metric beside
            ``eval_loss``, else ``eval_loss``), as ``gapwatch analyze`` does on the Trainer's log.
        **guard_kwargs: the Guard's keywords, and ``restore`` (load the best weights into the model at the
            end of training), ``checkpoint``, ``memory_limit_mb``, ``keep_previous`` (see
            :class:`~gapwatch.integrations.GuardAdapter`).
    """

    _owner = "GapwatchTrainerCallback"
    _keywords = ("checkpoint", "memory_limit_mb", "keep_previous", "restore")
    restore: bool

    def __init__(self, guard: Guard | None = None, **guard_kwargs: Any) -> None:
        GuardAdapter.__init__(self, guard, **guard_kwargs)

    # ------------------------------------------------------------------ ExportableState
    def state(self) -> dict[str, Any]:
        g = self.guard
        guard_args = {k: _jsonable(getattr(g, k)) for k in guard_keywords() if k not in _NOT_JSON}
        # resuming a run appends to the history file it wrote: never refuse it as "existing"
        ck = self.adapter_args["checkpoint"]
        args = {**self.adapter_args, "checkpoint": None if ck is None else str(ck), **guard_args, "overwrite": True}
        return {
            "args": args,
            "attributes": {"gapwatch_state": self.adapter_state(tensors=False)},
        }

    @property
    def gapwatch_state(self) -> dict[str, Any]:
        return self.adapter_state(tensors=False)

    @gapwatch_state.setter
    def gapwatch_state(self, st: Mapping[str, Any]) -> None:
        self.load_adapter_state(st)

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        strategy = str(getattr(args, "eval_strategy", getattr(args, "evaluation_strategy", "no")))
        if strategy.lower().endswith("no"):
            raise UsageError(
                "GapwatchTrainerCallback: no evaluation is configured: set "
                "TrainingArguments(eval_strategy='epoch' or 'steps') and pass eval_dataset — the "
                "guard decides on eval_* metrics"
            )
        # resuming: Trainer has loaded trainer_state.json of the checkpoint; take our state from it unless
        # Trainer already rebuilt this callback from it (restore_callback_states_from_checkpoint=True)
        saved = (getattr(state, "stateful_callbacks", None) or {}).get(type(self).__name__)
        if isinstance(saved, list):
            saved = saved[0] if saved else None
        if saved and self.guard.evaluations == 0 and getattr(state, "global_step", 0) > 0:
            self.gapwatch_state = saved["attributes"]["gapwatch_state"]
        self._monitor_from_args(args)
        self.guard.check_log()

    def _monitor_from_args(self, args: Any) -> None:
        """Monitor what the Trainer selects its best checkpoint by, when the user named no monitor."""
        mfb = getattr(args, "metric_for_best_model", None)
        if self.guard.monitored is not None or self.guard.monitor is not None or not isinstance(mfb, str) or not mfb:
            return
        from ..monitor import parse_monitor

        gib = getattr(args, "greater_is_better", None)
        name = mfb if mfb.startswith("eval_") else f"eval_{mfb}"
        self.guard._set_monitor(parse_monitor(name, None if gib is None else ("max" if gib else "min")))

    def on_log(
        self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not logs or any(k.startswith("eval_") for k in logs) or "train_runtime" in logs:
            return
        train = {
            ("train_loss" if k == "loss" else k): v
            for k, v in logs.items()
            if isinstance(v, (int, float))
            and not isinstance(v, bool)
            and not is_bookkeeping(k)
            and k != "grad_norm"
        }
        if train:
            self.guard.log_metrics(step=state.global_step, epoch=state.epoch, **train)

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: Mapping[str, Any] | None = None,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        ev = {
            k: v
            for k, v in (metrics or {}).items()
            if k.startswith("eval_")
            and not is_bookkeeping(k)
            and isinstance(v, (int, float))
            and not isinstance(v, bool)
        }
        d = self.after_evaluation(model, step=state.global_step, epoch=state.epoch, **ev)
        if d.stop:
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.finish_training(model, restore=self.restore)


def _jsonable(v: Any) -> Any:
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


class ExampleRecorderTrainerCallback(RecorderCallback, _tc.TrainerCallback):  # type: ignore[misc,name-defined]
    """Record every training example's loss, margin and correctness per epoch (an ExampleTable).

        rec = ExampleRecorderTrainerCallback("examples.parquet", num_classes=2)
        Trainer(..., callbacks=[rec]).train()

    ``Trainer`` hides each training step's logits from callbacks and drops columns the model does not take (so
    batches carry no example indices). This callback therefore runs **one extra forward pass** over the
    training set at the end of every epoch: the model in eval mode, no gradients, the trainer's own collator,
    examples in dataset order (index = position in ``train_dataset``), batch size
    ``per_device_eval_batch_size`` unless ``batch_size`` is given. The random-number state is saved and
    restored around it, so training continues exactly as without the callback. Records are "clean" (no
    dropout or augmentation); EL2N, AUM, forgetting and the rankings are computed from them as usual. Cost: one
    inference pass over the training set per epoch. Single process only (for multi-GPU scoring use
    :func:`gapwatch.examples.distributed.score_dataset_distributed`).

    Args:
        path: Parquet file (None: keep in memory; :attr:`table` after training).
        n: training-set size (default: ``len(train_dataset)``). num_classes, store_probs, run, overwrite: as
            :class:`~gapwatch.examples.ExampleRecorder`.
        batch_size: batch size of the extra pass.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, n: int | None = None,
                 num_classes: int | None = None, store_probs: bool = False, run: int = 0,
                 overwrite: bool = False, batch_size: int | None = None) -> None:
        if batch_size is not None and batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        self.path = path
        self._kw: dict[str, Any] = dict(n=n, num_classes=num_classes, store_probs=store_probs, run=run,
                                        overwrite=overwrite)
        self.batch_size = batch_size
        self.recorder: ExampleRecorder | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, train_dataloader: Any = None,
                       **kwargs: Any) -> None:
        if self.recorder is not None:
            return
        kw = dict(self._kw)
        if kw["n"] is None and train_dataloader is not None:
            kw["n"] = len(train_dataloader.dataset)
        self.recorder = ExampleRecorder(None if self.path is None else str(self.path), **kw)

    def on_epoch_end(self, args: Any, state: Any, control: Any, model: Any = None, train_dataloader: Any = None,
                     **kwargs: Any) -> None:
        if model is None or train_dataloader is None or self.recorder is None:
            raise UsageError("ExampleRecorderTrainerCallback needs the Trainer's model and train dataloader")
        torch = require("torch", "torch")
        ds = train_dataloader.dataset
        if not hasattr(ds, "__len__") or not hasattr(ds, "__getitem__"):
            raise UsageError("ExampleRecorderTrainerCallback needs a map-style train_dataset (with __len__ and "
                             f"__getitem__), got {type(ds).__name__}: an example's index is its position")
        loader = torch.utils.data.DataLoader(ds, batch_size=self.batch_size or args.per_device_eval_batch_size,
                                             shuffle=False, collate_fn=train_dataloader.collate_fn)
        device = next(model.parameters()).device
        devices = [device] if device.type == "cuda" else []
        was_training = model.training
        pos = 0
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            model.eval()
            try:
                for batch in loader:
                    labels = batch.get("labels") if isinstance(batch, Mapping) else None
                    if labels is None:
                        _, labels = split_indexed_batch(batch)
                    inputs = {k: (v.to(device) if hasattr(v, "to") else v) for k, v in batch.items()}
                    logits = logits_of(model(**inputs))
                    if logits is None:
                        raise UsageError("the model output has no logits to record")
                    b = int(labels.shape[0])
                    self.recorder.record(np.arange(pos, pos + b), logits, labels)
                    pos += b
            finally:
                model.train(was_training)
        self.recorder.end_epoch()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.close_recorder()
