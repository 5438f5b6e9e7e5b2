"""Best-model keeping: hold the weights (and optionally the optimizer state) of the best evaluation.

One :class:`BestKeeper` for every adapter, with a backend per framework: ``"torch"`` (``state_dict`` /
``load_state_dict``, files read with ``torch.load(weights_only=True)``, which cannot run code) and
``"keras"`` (``get_weights`` / ``set_weights`` NumPy arrays, ``.npz`` files read with ``allow_pickle=False``;
any Keras 3 backend). Small states are copied in memory (on the CPU, so GPU memory is not doubled); a state
larger than ``memory_limit_mb`` is written to disk with the one atomic writer, :func:`gapwatch.io.atomic_write`
(temporary file, fsync, rename; mode :data:`gapwatch.io.FILE_MODE` minus the umask), so a crash at any moment
leaves a complete, loadable checkpoint.

Restoring only what the guard chose: the keeper records the SHA-256 of every checkpoint it writes (with the
evaluation index, step, epoch and value) in its state, and checks the file against it before restoring. A
file whose content is not the recorded one — e.g. the keeper of a run resumed from a checkpoint taken at
epoch 5 finds the file it wrote at epoch 6 before the process died — is refused with
:class:`CheckpointMismatchError`, and the file is left untouched. With ``keep_previous=True`` (the default)
the previously kept best is moved to ``<stem>.prev<suffix>`` before a new best replaces it, so that case
restores epoch 5 from there (cost: up to twice the checkpoint's size on disk). Temporary files of a killed
save are removed at the first save.

Ownership: the keeper only ever replaces a file it wrote in this run (or one named in a state it was
resumed from). If the checkpoint path already exists when it first saves, it refuses with
:class:`~gapwatch.errors.UsageError` unless ``overwrite=True``.

The torch backend needs ``torch`` (``pip install 'gapwatch[torch]'``); the Keras backend only NumPy.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from .errors import UsageError, require
from .io import TMP_SUFFIX, atomic_write, check_destination, file_sha256, remove_stale_temps
from .params import Param, register, validate

STATE_VERSION = 1
FORMAT = "gapwatch.keeper/1"
#: Default size (MiB of the model's state) above which the best weights go to disk instead of memory.
DEFAULT_MEMORY_LIMIT_MB = 256.0
DEFAULT_FILENAME = "gapwatch-best.pt"
#: Backends by name: the file suffix of their checkpoints.
BACKENDS = {"torch": ".pt", "keras": ".npz"}
_META_KEY = "__gapwatch__"

#: The keeper's parameters (validated by :func:`gapwatch.params.validate`; documented in docs/guard.md).
SPECS: tuple[Param, ...] = register("keeper", (
    Param("path", None, "Checkpoint file for on-disk keeping; None = gapwatch-best.pt (.npz for Keras) in dir.",
          type=(str, os.PathLike), allow_none=True),
    Param("dir", None, "Directory of the default checkpoint file; None = the current directory (the adapters "
          "use the directory of the guard's log).", type=(str, os.PathLike), allow_none=True),
    Param("memory_limit_mb", DEFAULT_MEMORY_LIMIT_MB, "States up to this size stay in memory (on the CPU), "
          "larger ones go to disk; 0 = always disk, inf = always memory. 256 MiB holds a ResNet-50's float32 "
          "weights plus SGD momentum (25.6 M parameters x 4 bytes x 2 = 195 MiB).",
          unit="MiB", type=float, low=0.0, high=math.inf),
    Param("keep_optimizer", False, "Also keep and restore the optimizer state (torch backend).", type=bool),
    Param("overwrite", False, "Allow replacing a pre-existing file at path (default: refuse).", type=bool),
    Param("backend", "torch", "How states are captured and stored: torch (state_dict, torch.save) or keras "
          "(get_weights, .npz).", type=str, choices=tuple(BACKENDS)),
    Param("keep_previous", True, "Before a new best replaces the checkpoint, keep the kept one beside it "
          "(gapwatch-best.prev.pt for gapwatch-best.pt), so a run resumed from a checkpoint taken one save "
          "earlier still restores its own best (issue 16: never restore weights the guard did not choose). "
          "Costs up to twice the checkpoint's size on disk.", type=bool),
))


class CheckpointMismatchError(UsageError):
    """The checkpoint on disk is not the one this keeper's state recorded; nothing was restored."""


# ---------------------------------------------------------------------------------------------- backends
class KeeperBackend(Protocol):
    """How one framework's model state is captured, copied, written, read and applied."""

    def capture(self, model: Any, optimizer: Any) -> tuple[dict[str, Any], int]:
        """``({"model": ..., "optimizer": ... | None}, bytes held)`` — live references, not copies."""

    def copy(self, state: Any) -> Any:
        """A detached CPU copy of a captured state (for keeping it in memory)."""

    def write(self, fh: IO[bytes], payload: dict[str, Any]) -> None:
        """Write ``{"format", "model", "optimizer", "meta"}`` to a binary file."""

    def read(self, path: Path) -> dict[str, Any]:
        """Read what :meth:`write` wrote; :class:`UsageError` when it is not a gapwatch checkpoint."""

    def apply(self, model: Any, optimizer: Any, state: Mapping[str, Any]) -> None:
        """Load a kept state into the model (and the optimizer when both are given)."""


def state_nbytes(state: Any) -> int:
    """Bytes held by the tensors/arrays of a (possibly nested) state."""
    total = 0
    stack: list[Any] = [state]
    while stack:
        o = stack.pop()
        if isinstance(o, Mapping):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, np.ndarray):
            total += o.nbytes
        elif hasattr(o, "element_size") and hasattr(o, "numel"):  # a torch tensor
            total += int(o.numel()) * int(o.element_size())
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


class TorchBackend:
    """``torch.nn.Module`` / ``torch.optim.Optimizer`` states; files via ``torch.save``/``torch.load``."""

    def capture(self, model: Any, optimizer: Any) -> tuple[dict[str, Any], int]:
        sd = model.state_dict()
        osd = optimizer.state_dict() if optimizer is not None else None
        return {"model": sd, "optimizer": osd}, state_nbytes(sd) + state_nbytes(osd)

    def copy(self, state: Any) -> Any:
        return cpu_copy(state)

    def write(self, fh: IO[bytes], payload: dict[str, Any]) -> None:
        require("torch", "torch").save(payload, fh)

    def read(self, path: Path) -> dict[str, Any]:
        return load_checkpoint(path)

    def apply(self, model: Any, optimizer: Any, state: Mapping[str, Any]) -> None:
        model.load_state_dict(state["model"])
        if optimizer is not None and state.get("optimizer") is not None:
            optimizer.load_state_dict(state["optimizer"])


class KerasBackend:
    """Keras 3 models through ``get_weights``/``set_weights`` (NumPy arrays, any backend); ``.npz`` files
    with the metadata as a JSON string array, read with ``allow_pickle=False``. No optimizer state."""

    def capture(self, model: Any, optimizer: Any) -> tuple[dict[str, Any], int]:
        if optimizer is not None:
            raise UsageError("BestKeeper(backend='keras') keeps weights only; keep_optimizer must be False")
        weights = [np.asarray(w) for w in model.get_weights()]
        return {"model": weights, "optimizer": None}, state_nbytes(weights)

    def copy(self, state: Any) -> Any:
        return {"model": [np.array(w, copy=True) for w in state["model"]], "optimizer": None}

    def write(self, fh: IO[bytes], payload: dict[str, Any]) -> None:
        head = json.dumps({"format": payload["format"], "meta": payload["meta"]}, allow_nan=True)
        np.savez(fh, *payload["model"], **{_META_KEY: np.array(head)})  # type: ignore[arg-type]

    def read(self, path: Path) -> dict[str, Any]:
        try:
            with np.load(path, allow_pickle=False) as z:
                head = json.loads(str(z[_META_KEY])) if _META_KEY in z.files else {}
                n = sum(f.startswith("arr_") for f in z.files)
                weights = [z[f"arr_{i}"] for i in range(n)]
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"{path}: not a readable gapwatch checkpoint ({exc})") from None
        if head.get("format") != FORMAT:
            raise UsageError(f"{path}: not a gapwatch checkpoint (expected format {FORMAT!r})")
        return {"format": FORMAT, "model": weights, "optimizer": None, "meta": head.get("meta", {})}

    def apply(self, model: Any, optimizer: Any, state: Mapping[str, Any]) -> None:
        model.set_weights(list(state["model"]))


def _backend(name: str) -> KeeperBackend:
    if name == "torch":
        return TorchBackend()
    if name == "keras":
        return KerasBackend()
    raise UsageError(f"BestKeeper: backend must be one of {sorted(BACKENDS)}, got {name!r}")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a torch keeper checkpoint with ``weights_only=True`` (no code execution) onto the CPU."""
    torch = require("torch", "torch")
    try:
        obj = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:  # a torn or foreign file
        raise UsageError(f"{path}: not a readable gapwatch checkpoint ({str(exc).splitlines()[0]})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise UsageError(f"{path}: not a gapwatch checkpoint (expected format {FORMAT!r})")
    return obj


# ---------------------------------------------------------------------------------------------- the keeper
@dataclass
class BestKeeper:
    """Keep the best model state (see module docstring).

    Args:
        path: checkpoint file for on-disk keeping (default ``<dir>/gapwatch-best.pt``, ``.npz`` for Keras);
            only used when the state is larger than ``memory_limit_mb`` or ``memory_limit_mb == 0``.
        dir: directory for the default path (default: the current directory).
        memory_limit_mb: states up to this size (MiB) are kept in memory; larger ones on disk. ``0`` = always
            disk, ``float('inf')`` = always memory.
        keep_optimizer: also keep the optimizer state, restored with the weights (torch only).
        overwrite: allow replacing a pre-existing file at ``path`` (default: refuse).
        backend: ``"torch"`` or ``"keras"``.
        keep_previous: before a new best replaces the checkpoint, move the kept one to
            ``<stem>.prev<suffix>``, so a run resumed from a checkpoint taken one save earlier still restores
            its own best (up to twice the checkpoint's size on disk).
    """

    path: str | os.PathLike[str] | None = None
    dir: str | os.PathLike[str] | None = None
    memory_limit_mb: float = DEFAULT_MEMORY_LIMIT_MB
    keep_optimizer: bool = False
    overwrite: bool = False
    backend: str = "torch"
    keep_previous: bool = True
    _mem: dict[str, Any] | None = field(default=None, repr=False)
    _meta: dict[str, Any] | None = field(default=None, repr=False)
    _owned: bool = field(default=False, repr=False)
    _where: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        given = {p.name: getattr(self, p.name) for p in SPECS}
        for k, v in validate("BestKeeper", SPECS, given).items():
            setattr(self, k, v)
        self._backend = _backend(self.backend)
        if self.keep_optimizer and self.backend != "torch":
            raise UsageError(f"BestKeeper(backend={self.backend!r}): keep_optimizer needs the torch backend")
        base = Path(self.dir) if self.dir is not None else Path(".")
        default = Path(DEFAULT_FILENAME).with_suffix(BACKENDS[self.backend])
        self._path = Path(self.path) if self.path is not None else base / default
        self._sha_cache: dict[tuple[str, int, int], str] = {}
        self._cleaned = False

    @property
    def checkpoint_path(self) -> Path:
        return self._path

    @property
    def previous_path(self) -> Path:
        """Where the previously kept best is moved (``keep_previous``)."""
        return self._path.with_name(f"{self._path.stem}.prev{self._path.suffix}")

    @property
    def has_best(self) -> bool:
        return self._meta is not None

    @property
    def where(self) -> str | None:
        """``"memory"``, ``"disk"`` or None before the first save."""
        return self._where

    @property
    def meta(self) -> dict[str, Any] | None:
        """``{"index", "step", "epoch", "value", "nbytes"}`` of the kept state (``"sha256"`` on disk)."""
        return dict(self._meta) if self._meta else None

    # ------------------------------------------------------------------ keeping
    def save(self, model: Any, optimizer: Any = None, **meta: Any) -> str:
        """Keep the model's state (and the optimizer's if ``keep_optimizer``) as the best.

        ``meta`` (e.g. ``index=``, ``step=``, ``epoch=``, ``value=``) is stored with it. Returns where it was
        kept (``"memory"`` or ``"disk"``).
        """
        state, nbytes = self._backend.capture(model, optimizer if self.keep_optimizer else None)
        m = {**{k: _plain(v) for k, v in meta.items()}, "nbytes": nbytes}
        if nbytes <= self.memory_limit_mb * 1024 * 1024:
            self._mem = self._backend.copy(state)
            self._where = "memory"
        else:
            self._save_disk(state, m)
            self._mem = None
            self._where = "disk"
        self._meta = m
        return self._where

    def _save_disk(self, state: dict[str, Any], m: dict[str, Any]) -> None:
        self._check_owned()
        if not self._cleaned:
            remove_stale_temps(self._path)
            remove_stale_temps(self.previous_path)
            self._cleaned = True
        keep = self._locate() if (self.keep_previous and self._where == "disk") else None

        old_sha = (self._meta or {}).get("sha256")

        def move_aside() -> None:
            if keep == self._path:  # the best kept so far becomes the previous one
                prev = self.previous_path
                check_destination(prev, overwrite=True)
                # a hard link keeps the checkpoint in place until the new one replaces it (no moment without
                # a file at path); file systems without hard links get a rename
                tmp = prev.with_name(f".{prev.name}.{secrets.token_hex(4)}{TMP_SUFFIX}")
                try:
                    os.link(self._path, tmp)
                    os.replace(tmp, prev)
                except OSError:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                    os.replace(self._path, prev)
                self._remember(prev, old_sha)

        payload = {"format": FORMAT, **state, "meta": m}
        sha = atomic_write(
            self._path,
            lambda fh: self._backend.write(fh, payload),
            overwrite=True,
            before_replace=move_aside,
        )
        m["sha256"] = sha
        self._remember(self._path, sha)
        self._owned = True

    def _remember(self, p: Path, sha: str | None) -> None:
        """Cache the hash of a file this keeper just wrote or moved (no re-read at the next save)."""
        if sha is not None:
            st = os.lstat(p)
            self._sha_cache[(str(p), st.st_mtime_ns, st.st_size)] = sha

    def _check_owned(self) -> None:
        if self._owned or self.overwrite:
            return
        if os.path.lexists(self._path):
            raise UsageError(
                f"{self._path} already exists and was not written by this run; refusing to "
                "overwrite it. Pass path= to another file or overwrite=True"
            )

    def _sha(self, p: Path) -> str | None:
        try:
            st = os.lstat(p)
        except OSError:
            return None
        if not os.path.isfile(p) or os.path.islink(p):
            return None
        key = (str(p), st.st_mtime_ns, st.st_size)
        if key not in self._sha_cache:
            self._sha_cache[key] = file_sha256(p)
        return self._sha_cache[key]

    def _locate(self) -> Path | None:
        """The file (checkpoint or previous) whose content is the kept best, or None."""
        want = (self._meta or {}).get("sha256")
        for p in (self._path, self.previous_path):
            if want is not None:
                if self._sha(p) == want:
                    return p
            elif p.is_file() and _same_eval(self._file_meta(p), self._meta or {}):  # state without a hash
                return p
        return None

    def _file_meta(self, p: Path) -> dict[str, Any] | None:
        try:
            return dict(self._backend.read(p).get("meta") or {})
        except UsageError:
            return None

    def _mismatch(self) -> CheckpointMismatchError:
        m = self._meta or {}
        held = []
        for p in (self._path, self.previous_path):
            if os.path.lexists(p):
                fm = self._file_meta(p)
                held.append(f"{p} holds {_describe(fm) if fm else 'something unreadable'}")
        found = "; ".join(held) if held else f"{self._path} does not exist"
        return CheckpointMismatchError(
            f"refusing to restore weights the guard did not choose: its state records the best as "
            f"{_describe(m)} (SHA-256 {str(m.get('sha256', '?'))[:12]}…), but {found}. A newer best was "
            "written after the checkpoint this run resumed from, and the file that held this best is gone. "
            "The files were left untouched; resume from a later checkpoint, or keep_previous=True"
        )

    def best_state(self) -> dict[str, Any]:
        """``{"model": state, "optimizer": state | None, "meta": {...}}`` of the kept best.

        Raises:
            UsageError: nothing kept yet.
            CheckpointMismatchError: on-disk keeping and no file holds the recorded best.
        """
        if self._meta is None:
            raise UsageError("BestKeeper: nothing kept yet (no evaluation improved on the best)")
        if self._where == "memory":
            if self._mem is None:  # an internal invariant, not user input
                raise RuntimeError("gapwatch internal error: self._mem is unset")
            return {"model": self._mem["model"], "optimizer": self._mem["optimizer"], "meta": dict(self._meta)}
        p = self._locate()
        if p is None:
            raise self._mismatch()
        ck = self._backend.read(p)
        return {"model": ck["model"], "optimizer": ck.get("optimizer"), "meta": dict(self._meta)}

    def restore(self, model: Any, optimizer: Any = None) -> dict[str, Any]:
        """Load the kept weights (and optimizer state when kept) into ``model``/``optimizer``; return meta."""
        st = self.best_state()
        self._backend.apply(model, optimizer, st)
        return dict(st["meta"])

    # ------------------------------------------------------------------ state
    def state_dict(self, *, tensors: bool = True) -> dict[str, Any]:
        """Versioned state. With ``tensors=True`` an in-memory best is included (for framework checkpoints
        that hold tensors, e.g. Lightning); with ``False`` the state is pure JSON (an in-memory best is then
        not carried over). An on-disk best is referred to by path and SHA-256."""
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
        """Restore :meth:`state_dict` output. An on-disk best is verified when it is restored (not here)."""
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
                self._mem = self._backend.copy(best)


def _same_eval(a: Mapping[str, Any] | None, b: Mapping[str, Any]) -> bool:
    if not a:
        return False
    return all(_eq(a.get(k), b.get(k)) for k in ("index", "step", "epoch", "value"))


def _eq(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return bool(x == y)


def _describe(m: Mapping[str, Any]) -> str:
    parts = [f"evaluation {m.get('index')}"]
    for k in ("epoch", "step", "value"):
        if m.get(k) is not None:
            parts.append(f"{k} {m[k]:g}" if isinstance(m[k], (int, float)) else f"{k} {m[k]}")
    return f"{parts[0]} ({', '.join(parts[1:])})" if len(parts) > 1 else parts[0]


def _plain(v: Any) -> Any:
    item = getattr(v, "item", None)
    if callable(item):
        return item()
    return v
