"""Thin adapters that put a :class:`~gapwatch.guard.Guard` into training loops.

Each lives in its own module and imports its framework lazily (an install hint is raised when missing):

* :mod:`gapwatch.integrations.torch` — ``TorchGuard`` for hand-written loops;
* :mod:`gapwatch.integrations.lightning` — ``GapwatchCallback`` for PyTorch Lightning;
* :mod:`gapwatch.integrations.hf` — ``GapwatchTrainerCallback`` for Hugging Face ``transformers.Trainer``;
* :mod:`gapwatch.integrations.keras` — ``GapwatchKerasCallback`` for Keras 3.

All four are the framework-free :class:`GuardAdapter` below plus the framework's base class (as Lightning's
``SpikeDetection(FabricSpikeDetection, Callback)``): they only map hook arguments onto
:meth:`GuardAdapter.after_evaluation` (metrics in → decision, best kept, stop flag out),
:meth:`GuardAdapter.restore_best` and :meth:`GuardAdapter.close`. Every adapter takes
``guard: Guard | None = None, **guard_kwargs``: a ready :class:`~gapwatch.guard.Guard`, or its keywords; the same
``**guard_kwargs`` also carry the adapter's keywords, declared once here (:data:`KEEPER_KEYWORDS`, the keeper's:
``checkpoint``, ``memory_limit_mb``, ``keep_optimizer``, ``keep_previous``; :data:`SPECS`, the adapters' own:
``restore``, ``restore_on_stop``). An adapter lists which of them it takes in ``_keywords``; the shared
constructor splits them from the Guard's, validates them and sets the adapter's own as attributes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..guard import Guard, GuardDecision, RestoreEvent
from ..keeper import DEFAULT_MEMORY_LIMIT_MB, BestKeeper
from ..params import Param, register

#: Version of :meth:`GuardAdapter.state_dict`.
STATE_VERSION = 1

#: The adapters' own parameters (the keeper's are in ``gapwatch.keeper.SPECS``, the guard's in
#: ``gapwatch.guard.SPECS``).
SPECS: tuple[Param, ...] = register("adapter", (
    Param("restore", True, "Load the best weights back into the model at the end of training (Lightning, "
          "HF, Keras).", type=bool),
    Param("restore_on_stop", True, "Load the best weights back as soon as the guard says stop (TorchGuard; "
          "finish() restores them otherwise).", type=bool),
))


#: The keeper's keywords an adapter passes on to its :class:`~gapwatch.keeper.BestKeeper` (``checkpoint`` is
#: the keeper's ``path``), with their defaults.
KEEPER_KEYWORDS: dict[str, Any] = {
    "checkpoint": None,
    "memory_limit_mb": DEFAULT_MEMORY_LIMIT_MB,
    "keep_optimizer": False,
    "keep_previous": True,
}


def check_adapter_param(owner: str, name: str, value: Any) -> Any:
    """``value`` checked against the adapter spec ``name`` (one message form, naming ``owner``)."""
    return next(p for p in SPECS if p.name == name).check(value, owner)


def guard_keywords() -> tuple[str, ...]:
    """The keyword arguments of :class:`~gapwatch.guard.Guard` (every adapter accepts and passes them)."""
    return tuple(f.name for f in dataclasses.fields(Guard) if f.init)


def build_guard(owner: str, guard: Guard | None, guard_kwargs: Mapping[str, Any],
                own: tuple[str, ...] = ("checkpoint", "memory_limit_mb", "keep_optimizer", "keep_previous",
                                        "restore")) -> Guard:
    """``guard`` itself, or a new :class:`Guard` from ``guard_kwargs``; a clear :class:`UsageError` for an
    unknown keyword (naming the adapter's own keywords ``own`` and the Guard's), a non-Guard ``guard`` or both
    at once."""
    if guard is not None:
        if not isinstance(guard, Guard):
            raise UsageError(
                f"{owner}: guard must be a gapwatch Guard or None, got {type(guard).__name__} {guard!r:.60}; "
                "pass the Guard's settings as keywords (e.g. monitor='val_loss')"
            )
        if guard_kwargs:
            raise UsageError(
                f"{owner}: pass either guard= or Guard keywords, not both (got guard= and "
                f"{', '.join(sorted(guard_kwargs))})"
            )
        return guard
    known = guard_keywords()
    unknown = sorted(set(guard_kwargs) - set(known))
    if unknown:
        raise UsageError(
            f"{owner}: unknown keyword(s) {', '.join(unknown)}; the adapter's own are {', '.join(own)}; the "
            f"Guard's are {', '.join(known)}"
        )
    return Guard(**guard_kwargs)


class GuardAdapter:
    """The framework-free part of every adapter: one :class:`~gapwatch.guard.Guard`, one
    :class:`~gapwatch.keeper.BestKeeper`, one evaluation step.

    Args:
        guard: a ready Guard; or None and its keywords in ``**guard_kwargs``.
        **guard_kwargs: :class:`~gapwatch.guard.Guard` keywords (``monitor``, ``log``, ``policy`` …) and the
            adapter's keywords that ``_keywords`` lists:

            * ``checkpoint``: file for on-disk best keeping (default ``gapwatch-best.pt`` / ``.npz`` next to the
              guard's ``log``, or in the current directory);
            * ``memory_limit_mb``: states up to this size (MiB) stay in memory, larger ones go to disk;
            * ``keep_optimizer``: keep and restore the optimizer state too (torch backends);
            * ``keep_previous``: keep the previous on-disk best beside the checkpoint (see :class:`BestKeeper`);
            * ``restore`` / ``restore_on_stop``: see :data:`SPECS` (set as attributes of the adapter).

    Class attributes of a subclass: ``_owner`` (its name, in messages), ``_keywords`` (the adapter keywords it
    takes, in the order ``adapter_args`` lists them) and ``_backend`` (the keeper's backend, ``"torch"`` or
    ``"keras"``).
    """

    _owner = "GuardAdapter"
    _keywords: tuple[str, ...] = tuple(KEEPER_KEYWORDS)
    _backend = "torch"

    def __init__(self, guard: Guard | None = None, **guard_kwargs: Any) -> None:
        given = {k: guard_kwargs.pop(k) for k in self._keywords if k in guard_kwargs}
        self.guard = build_guard(self._owner, guard, guard_kwargs, self._keywords)
        defaults = {**KEEPER_KEYWORDS, **{p.name: p.default for p in SPECS}}
        #: the adapter keywords as given (defaults filled in), in ``_keywords`` order
        self.adapter_args: dict[str, Any] = {k: given.get(k, defaults[k]) for k in self._keywords}
        keeper = {k: self.adapter_args.get(k, v) for k, v in KEEPER_KEYWORDS.items()}
        log = self.guard.log
        self.keeper = BestKeeper(
            path=keeper["checkpoint"],
            dir=Path(log).parent if log is not None else None,
            memory_limit_mb=keeper["memory_limit_mb"],
            keep_optimizer=keeper["keep_optimizer"],
            overwrite=self.guard.overwrite,
            backend=self._backend,
            keep_previous=keeper["keep_previous"],
        )
        self.restored: dict[str, Any] | None = None
        for p in SPECS:
            if p.name in self._keywords:
                setattr(self, p.name, check_adapter_param(self._owner, p.name, self.adapter_args[p.name]))

    # ------------------------------------------------------------------ the shared step
    def after_evaluation(
        self,
        model: Any,
        optimizer: Any = None,
        *,
        step: float | None = None,
        epoch: float | None = None,
        **metrics: Any,
    ) -> GuardDecision:
        """One evaluation: the guard decides, a new best's weights are kept. The caller sets its framework's
        stop flag from ``decision.stop``."""
        d = self.guard.observe(step=step, epoch=epoch, **metrics)
        if d.improved and model is not None:
            self.keeper.save(
                model, optimizer, index=d.evaluation, step=d.best_step, epoch=d.best_epoch, value=d.best_value
            )
        return d

    def restore_best(self, model: Any, optimizer: Any = None) -> dict[str, Any] | None:
        """Load the kept best into ``model`` (and ``optimizer``); returns its meta, None when nothing was kept.

        Raises:
            CheckpointMismatchError: the on-disk checkpoint is not the recorded best (nothing is loaded).
        """
        if model is None or not self.keeper.has_best:
            return None
        meta = self.keeper.restore(model, optimizer)
        self.restored = meta
        self.guard.emit(
            RestoreEvent(
                int(meta.get("index", -1)),
                meta.get("step"),
                meta.get("epoch"),
                meta.get("value"),
                self.keeper.where or "memory",
            )
        )
        return meta

    def close(self) -> None:
        """Close the guard's history file (runs the detectors a last time)."""
        self.guard.close()

    def finish_training(self, model: Any, optimizer: Any = None, *, restore: bool = True) -> dict[str, Any] | None:
        """End of training: restore the best (once, unless ``restore=False``) and close the history file,
        even when restoring fails."""
        try:
            if restore and self.restored is None:
                return self.restore_best(model, optimizer)
            return self.restored
        finally:
            self.close()

    # ------------------------------------------------------------------ state
    def adapter_state(self, *, tensors: bool = True) -> dict[str, Any]:
        """``{"version", "guard": <JSON>, "keeper": <state; an in-memory best as tensors when tensors>}``."""
        return {
            "version": STATE_VERSION,
            "guard": self.guard.state_dict(),
            "keeper": self.keeper.state_dict(tensors=tensors),
        }

    def load_adapter_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`adapter_state` output; :class:`UsageError` naming the adapter otherwise."""
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            got = state.get("version") if isinstance(state, Mapping) else type(state).__name__
            raise UsageError(f"{self._owner} state: expected version {STATE_VERSION}, got {got!r}")
        missing = sorted({"guard", "keeper"} - set(state))
        if missing:
            raise UsageError(f"{self._owner} state: missing keys {missing}")
        self.guard.load_state_dict(state["guard"])
        self.keeper.load_state_dict(state["keeper"])


class RecorderCallback:
    """The framework-free part of the per-example recording callbacks (HF, Lightning): the
    :class:`~gapwatch.examples.ExampleRecorder` they make when training starts, its table, and closing it at the
    end. ``_training`` names the start in messages (``"training"``, ``"fit"``)."""

    recorder: Any = None
    _training = "training"

    def close_recorder(self) -> None:
        """Close the recorder (writes the Parquet file's last epoch); nothing when training never started."""
        if self.recorder is not None:
            self.recorder.close()

    @property
    def table(self) -> Any:
        """The recorded :class:`~gapwatch.examples.ExampleTable` (in-memory recording, after training)."""
        if self.recorder is None:
            raise UsageError(f"nothing was recorded yet ({self._training} has not started)")
        return self.recorder.table()
