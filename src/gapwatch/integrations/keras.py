"""Keras 3: a ``keras.callbacks.Callback`` that stops ``fit`` and restores the best weights.

    from gapwatch.integrations.keras import GapwatchKerasCallback
    gw = GapwatchKerasCallback(monitor="val_loss", log="run.jsonl")
    model.fit(x, y, validation_data=(xv, yv), callbacks=[gw])

Works with every Keras 3 backend (weights are NumPy arrays via ``get_weights``/``set_weights``).
At each epoch end the logged metrics (``loss``/``accuracy`` → ``train_*``, ``val_*`` as logged) go to a
:class:`~gapwatch.guard.Guard`; the best weights are kept by the shared :class:`~gapwatch.keeper.BestKeeper`
with its Keras backend: in memory, or — above ``memory_limit_mb`` — in an ``.npz`` file written atomically,
checked against its recorded SHA-256 and read back with ``allow_pickle=False``; a stop sets
``model.stop_training``; at the end of ``fit`` the best weights are restored. Keras has no hook that puts
callback state into its checkpoints, so resuming is manual: save :meth:`GapwatchKerasCallback.state_dict`
(JSON + arrays) next to your checkpoint and call :meth:`load_state_dict` before the next ``fit``.
Needs ``pip install 'gapwatch[keras]'`` and a backend (``KERAS_BACKEND=torch``, ``jax`` or ``tensorflow``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import MissingDependencyError, UsageError
from ..guard import Guard
from . import GuardAdapter

#: Version of :meth:`GapwatchKerasCallback.state_dict` (2: the keeper's state replaced the callback's own
#: best-keeping fields).
STATE_VERSION = 2


def _import_keras() -> Any:
    try:
        import keras
    except ModuleNotFoundError as exc:
        if exc.name == "keras":
            raise MissingDependencyError("keras", "keras") from exc
        raise MissingDependencyError(
            f"{exc.name} (the Keras backend; or set KERAS_BACKEND=torch/jax to use an installed one)", "keras"
        ) from exc
    return keras


keras = _import_keras()


class GapwatchKerasCallback(GuardAdapter, keras.callbacks.Callback):  # type: ignore[misc,name-defined]
    """Keras callback around :class:`~gapwatch.guard.Guard`.

    Args:
        guard: a ready Guard, or None and its keywords (``monitor="val_loss"``, ``log=``, ``detectors=`` …)
            in ``**guard_kwargs``.
        **guard_kwargs: the Guard's keywords, and ``restore`` (set the best weights back at the end of
            ``fit``), ``checkpoint`` (``.npz`` file for on-disk keeping, default ``gapwatch-best.npz`` next to
            ``log``), ``memory_limit_mb`` (weights up to this size, MiB, stay in memory), ``keep_previous`` (keep
            the previous on-disk best; see :class:`~gapwatch.keeper.BestKeeper`).
    """

    _owner = "GapwatchKerasCallback"
    _keywords = ("checkpoint", "memory_limit_mb", "keep_previous", "restore")
    _backend = "keras"
    restore: bool

    def __init__(self, guard: Guard | None = None, **guard_kwargs: Any) -> None:
        keras.callbacks.Callback.__init__(self)
        GuardAdapter.__init__(self, guard, **guard_kwargs)

    @property
    def checkpoint(self) -> Any:
        """The ``.npz`` file used for on-disk keeping."""
        return self.keeper.checkpoint_path

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self.guard.check_log()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        if not any(k.startswith("val_") for k in logs):
            raise UsageError(
                "GapwatchKerasCallback: no evaluation is configured: pass validation_data= or "
                f"validation_split= to fit(); metrics seen: {', '.join(sorted(logs)) or 'none'}"
            )
        metrics = {
            (k if k.startswith("val_") else f"train_{k}"): float(v)
            for k, v in logs.items()
            if k != "learning_rate"
        }
        d = self.after_evaluation(self.model, epoch=epoch + 1, **metrics)
        if d.stop:
            self.model.stop_training = True

    def best_weights(self) -> list[Any] | None:
        """The kept best weights (NumPy arrays, ``get_weights`` order), or None before the first best."""
        if not self.keeper.has_best:
            return None
        return list(self.keeper.best_state()["model"])

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self.finish_training(self.model, restore=self.restore)

    def state_dict(self) -> dict[str, Any]:
        """``{"version": 2, "guard": JSON, "keeper": the keeper's state (an in-memory best as arrays)}``."""
        return {**self.adapter_state(), "version": STATE_VERSION}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            got = state.get("version") if isinstance(state, Mapping) else type(state).__name__
            raise UsageError(f"GapwatchKerasCallback state: expected version {STATE_VERSION}, got {got!r}")
        self.load_adapter_state({**state, "version": 1})
