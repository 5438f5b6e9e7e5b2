"""Keras 3: a ``keras.callbacks.Callback`` that stops ``fit`` and restores the best weights.

    from gapwatch.integrations.keras import GapwatchKerasCallback
    gw = GapwatchKerasCallback(monitor="val_loss", log="run.jsonl")
    model.fit(x, y, validation_data=(xv, yv), callbacks=[gw])

Works with every Keras 3 backend (weights are NumPy arrays via ``get_weights``/``set_weights``).
At each epoch end the logged metrics (``loss``/``accuracy`` → ``train_*``, ``val_*`` as logged) go to a
:class:`~gapwatch.guard.Guard`; the best weights are kept in memory, or — above ``memory_limit_mb`` — in an
``.npz`` file written atomically and read back with ``allow_pickle=False``; a stop sets
``model.stop_training``; at the end of ``fit`` the best weights are restored. Keras has no hook that puts
callback state into its checkpoints, so resuming is manual: save :meth:`GapwatchKerasCallback.state_dict`
(JSON + arrays) next to your checkpoint and call :meth:`load_state_dict` before the next ``fit``.
Needs ``pip install 'gapwatch[keras]'`` and a backend (``KERAS_BACKEND=torch``, ``jax`` or ``tensorflow``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import MissingDependencyError, UsageError
from ..guard import Guard
from ..io import atomic_write_bytes
from ..keeper import DEFAULT_MEMORY_LIMIT_MB

STATE_VERSION = 1


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


class GapwatchKerasCallback(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
    """Keras callback around :class:`~gapwatch.guard.Guard` (arguments as there).

    Args:
        restore: set the best weights back at the end of ``fit``.
        checkpoint: ``.npz`` file for on-disk keeping (default ``gapwatch-best.npz`` next to ``log``).
        memory_limit_mb: weights up to this size (MiB) stay in memory.
    """

    def __init__(
        self,
        monitor: str | None = "val_loss",
        mode: str | None = None,
        *,
        policy: Mapping[str, Any] | None = None,
        log: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        checkpoint: str | os.PathLike[str] | None = None,
        memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB,
        restore: bool = True,
        detect_every: int = 5,
        on_nan: str = "raise",
        verbose: bool = True,
        run: str = "run",
    ) -> None:
        super().__init__()
        self.guard = Guard(
            monitor=monitor,
            mode=mode,
            policy=policy,
            log=log,
            overwrite=overwrite,
            detect_every=detect_every,
            on_nan=on_nan,
            verbose=verbose,
            run=run,
        )
        base = Path(log).parent if log is not None else Path(".")
        self.checkpoint = Path(checkpoint) if checkpoint is not None else base / "gapwatch-best.npz"
        if not isinstance(memory_limit_mb, (int, float)) or memory_limit_mb < 0:
            raise UsageError(f"memory_limit_mb must be a number >= 0 (MiB), got {memory_limit_mb!r}")
        self.memory_limit_mb = memory_limit_mb
        self.overwrite = overwrite
        self.restore = restore
        self._best: list[np.ndarray] | None = None
        self._best_meta: dict[str, Any] | None = None
        self._owned = False
        self.restored: dict[str, Any] | None = None

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
        d = self.guard.observe(epoch=epoch + 1, **metrics)
        if d.improved:
            self._keep(d.evaluation, epoch + 1, d.best_value)
        if d.stop:
            self.model.stop_training = True

    def _keep(self, index: int, epoch: int, value: float) -> None:
        weights = [np.array(w, copy=True) for w in self.model.get_weights()]
        nbytes = sum(w.nbytes for w in weights)
        self._best_meta = {"index": index, "epoch": epoch, "value": value, "nbytes": nbytes}
        if nbytes <= self.memory_limit_mb * 1024 * 1024:
            self._best = weights
            return
        buf = io.BytesIO()
        np.savez(buf, *weights)
        atomic_write_bytes(self.checkpoint, buf.getvalue(), overwrite=self._owned or self.overwrite)
        self._owned = True
        self._best = None

    def best_weights(self) -> list[np.ndarray] | None:
        if self._best_meta is None:
            return None
        if self._best is not None:
            return self._best
        with np.load(self.checkpoint, allow_pickle=False) as z:
            return [z[f"arr_{i}"] for i in range(len(z.files))]

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        w = self.best_weights()
        if self.restore and w is not None:
            self.model.set_weights(w)
            self.restored = dict(self._best_meta or {})
        self.guard.close()

    def state_dict(self) -> dict[str, Any]:
        """``{"version", "guard": JSON, "best_meta", "best": arrays or None, "checkpoint", "owned"}``."""
        return {
            "version": STATE_VERSION,
            "guard": self.guard.state_dict(),
            "best_meta": self._best_meta,
            "best": self._best,
            "checkpoint": str(self.checkpoint),
            "owned": self._owned,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise UsageError(
                f"GapwatchKerasCallback state: expected version {STATE_VERSION}, got {state.get('version')!r}"
            )
        self.guard.load_state_dict(state["guard"])
        self._best_meta = state["best_meta"]
        self._best = None if state["best"] is None else [np.asarray(w) for w in state["best"]]
        self.checkpoint = Path(state["checkpoint"])
        self._owned = bool(state["owned"])
