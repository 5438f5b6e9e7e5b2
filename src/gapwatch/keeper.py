"""Best-model keeping: hold the weights (and optionally the optimizer state) of the best evaluation.

Small models are copied in memory (on the CPU, so GPU memory is not doubled); a model whose state is
larger than ``memory_limit_mb`` is written to disk instead. Disk writes are atomic — a temporary file in the
same directory, ``fsync``, then ``os.replace`` over the previous checkpoint, then an ``fsync`` of the
directory — so a crash (even SIGKILL) at any moment leaves either the previous or the new checkpoint,
both complete and loadable. Checkpoints are read with ``torch.load(weights_only=True)``, which cannot run
code from a file.

Ownership: the keeper only ever replaces a file it wrote in this run (or one named in a state it was
resumed from). If the checkpoint path already exists when it first saves, it refuses with
:class:`~gapwatch.errors.UsageError` unless ``overwrite=True``.

Needs ``torch`` (``pip install 'gapwatch[torch]'``).
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import UsageError, require

STATE_VERSION = 1
FORMAT = "gapwatch.keeper/1"
#: Default size (MiB of the model's state dict) above which the best weights go to disk instead of memory.
DEFAULT_MEMORY_LIMIT_MB = 256.0
DEFAULT_FILENAME = "gapwatch-best.pt"


def state_nbytes(state: Mapping[str, Any]) -> int:
    """Bytes held by the tensors of a (possibly nested) state dict."""
    torch = require("torch", "torch")
    total = 0
    stack: list[Any] = [state]
    while stack:
        o = stack.pop()
        if isinstance(o, torch.Tensor):
            total += o.numel() * o.element_size()
        elif isinstance(o, Mapping):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
    return int(total)


def cpu_copy(obj: Any) -> Any:
    """Deep copy of a nested state with every tensor detached and cloned to the CPU."""
    torch = require("torch", "torch")
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, Mapping):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [cpu_copy(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(cpu_copy(v) for v in obj)
    return obj


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` atomically: temp file in the same directory, fsync, rename, fsync dir."""
    torch = require("torch", "torch")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        try:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:  # pragma: no cover - directories cannot be fsynced on some systems
            pass
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a keeper checkpoint with ``weights_only=True`` (no code execution) onto the CPU."""
    torch = require("torch", "torch")
    obj = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise UsageError(f"{path}: not a gapwatch checkpoint (expected format {FORMAT!r})")
    return obj


@dataclass
class BestKeeper:
    """Keep the best model state.

    Args:
        path: checkpoint file for on-disk keeping (default ``<dir>/gapwatch-best.pt``); only used when the
            state is larger than ``memory_limit_mb`` or ``memory_limit_mb == 0``.
        dir: directory for the default path (default: the current directory).
        memory_limit_mb: states up to this size (MiB) are kept in memory; larger ones on disk. ``0`` = always
            disk, ``float('inf')`` = always memory.
        keep_optimizer: also keep the optimizer state, restored with the weights.
        overwrite: allow replacing a pre-existing file at ``path`` (default: refuse).
    """

    path: str | os.PathLike[str] | None = None
    dir: str | os.PathLike[str] | None = None
    memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB
    keep_optimizer: bool = False
    overwrite: bool = False
    _mem: dict[str, Any] | None = field(default=None, repr=False)
    _meta: dict[str, Any] | None = field(default=None, repr=False)
    _owned: bool = field(default=False, repr=False)
    _where: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        lim = self.memory_limit_mb
        if isinstance(lim, bool) or not isinstance(lim, (int, float)) or lim != lim or lim < 0:
            raise UsageError(f"BestKeeper: memory_limit_mb must be a number >= 0 (MiB), got {lim!r}")
        base = Path(self.dir) if self.dir is not None else Path(".")
        self._path = Path(self.path) if self.path is not None else base / DEFAULT_FILENAME

    @property
    def checkpoint_path(self) -> Path:
        return self._path

    @property
    def has_best(self) -> bool:
        return self._meta is not None

    @property
    def where(self) -> str | None:
        """``"memory"``, ``"disk"`` or None before the first save."""
        return self._where

    @property
    def meta(self) -> dict[str, Any] | None:
        """``{"index", "step", "epoch", "value", "nbytes"}`` of the kept state."""
        return dict(self._meta) if self._meta else None

    def save(self, model: Any, optimizer: Any = None, **meta: Any) -> str:
        """Keep ``model.state_dict()`` (and ``optimizer.state_dict()`` if ``keep_optimizer``) as the best.

        ``meta`` (e.g. ``index=``, ``step=``, ``epoch=``, ``value=``) is stored with it. Returns where it was
        kept (``"memory"`` or ``"disk"``).
        """
        sd = model.state_dict()
        nbytes = state_nbytes(sd)
        osd = optimizer.state_dict() if (optimizer is not None and self.keep_optimizer) else None
        if osd is not None:
            nbytes += state_nbytes(osd)
        m = {**{k: _plain(v) for k, v in meta.items()}, "nbytes": nbytes}
        if nbytes <= self.memory_limit_mb * 1024 * 1024:
            self._mem = {"model": cpu_copy(sd), "optimizer": cpu_copy(osd)}
            self._where = "memory"
        else:
            self._check_owned()
            atomic_torch_save({"format": FORMAT, "model": sd, "optimizer": osd, "meta": m}, self._path)
            self._owned = True
            self._mem = None
            self._where = "disk"
        self._meta = m
        return self._where

    def _check_owned(self) -> None:
        if self._owned or self.overwrite:
            return
        if self._path.exists():
            raise UsageError(
                f"{self._path} already exists and was not written by this run; refusing to "
                "overwrite it. Pass path= to another file or overwrite=True"
            )

    def best_state(self) -> dict[str, Any]:
        """``{"model": state_dict, "optimizer": state_dict | None, "meta": {...}}`` of the kept best."""
        if self._meta is None:
            raise UsageError("BestKeeper: nothing kept yet (no evaluation improved on the best)")
        if self._where == "memory":
            if self._mem is None:  # an internal invariant, not user input
                raise RuntimeError("gapwatch internal error: self._mem is unset")
            return {
                "model": self._mem["model"],
                "optimizer": self._mem["optimizer"],
                "meta": dict(self._meta),
            }
        ck = load_checkpoint(self._path)
        return {"model": ck["model"], "optimizer": ck.get("optimizer"), "meta": ck.get("meta", self._meta)}

    def restore(self, model: Any, optimizer: Any = None) -> dict[str, Any]:
        """Load the kept weights (and optimizer state when kept) into ``model``/``optimizer``; return meta."""
        st = self.best_state()
        model.load_state_dict(st["model"])
        if optimizer is not None and st["optimizer"] is not None:
            optimizer.load_state_dict(st["optimizer"])
        return dict(st["meta"])

    # ------------------------------------------------------------------ state
    def state_dict(self, *, tensors: bool = True) -> dict[str, Any]:
        """Versioned state. With ``tensors=True`` an in-memory best is included (for framework checkpoints
        that hold tensors, e.g. Lightning); with ``False`` the state is pure JSON (an in-memory best is then
        not carried over: ``"lost_in_memory_best": true``)."""
        st: dict[str, Any] = {
            "version": STATE_VERSION,
            "where": self._where,
            "meta": self._meta,
            "path": str(self._path),
            "owned": self._owned,
        }
        if self._where == "memory":
            st["best"] = self._mem if tensors else None
        return st

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            got = state.get("version") if isinstance(state, Mapping) else type(state).__name__
            raise UsageError(f"BestKeeper state: expected version {STATE_VERSION}, got {got!r}")
        unknown = set(state) - {"version", "where", "meta", "path", "owned", "best"}
        if unknown:
            raise UsageError(f"BestKeeper state: unknown keys {sorted(unknown)}")
        self._path = Path(state["path"])
        self._owned = bool(state["owned"])
        self._where = state["where"]
        self._meta = dict(state["meta"]) if state["meta"] else None
        self._mem = None
        if self._where == "memory":
            best = state.get("best")
            if best is None:
                # the best lived only in memory and the state carried no tensors: start keeping afresh
                self._where, self._meta = None, None
            else:
                self._mem = cpu_copy(best)
        elif self._where == "disk" and not self._path.exists():
            raise UsageError(f"BestKeeper state points at {self._path}, which does not exist")


def _plain(v: Any) -> Any:
    item = getattr(v, "item", None)
    if callable(item):
        return item()
    return v


def state_to_bytes(obj: Any) -> bytes:
    """``torch.save`` into bytes (used by tests and benchmarks to size a state)."""
    torch = require("torch", "torch")
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()
