"""Hugging Face ``Trainer`` state: ``trainer_state.json`` and ``Trainer`` output directories.

``trainer_state.json`` holds ``log_history``: a list of records such as
``{"epoch": 0.5, "step": 4, "loss": 0.69, "grad_norm": 0.2, "learning_rate": 4e-3}`` (training),
``{"epoch": 1.0, "step": 8, "eval_loss": 0.69, "eval_accuracy": 0.5, "eval_runtime": 0.01}`` (evaluation) and
one closing record with ``train_runtime`` and ``train_loss``, the *mean* training loss of the whole run (not a
point of the curve: it goes to the run's metadata as ``hf.train_summary`` instead). Bare ``loss`` is training
loss; ``eval_*`` is validation; ``test_*`` (from ``predict``) is test. ``epoch`` is fractional epochs
completed, ``step`` is the optimizer step.

An **output directory** holds ``checkpoint-<step>/trainer_state.json`` files and, after
``trainer.save_state()``, a top-level ``trainer_state.json``. The state with the largest ``global_step`` is read
(the top-level one wins a tie: it is written last); the checkpoints found are listed in the run's metadata.

Metadata (``History.meta[run]["hf"]``): every scalar top-level field of the state (``best_model_checkpoint``,
``best_metric``, ``best_global_step``, ``global_step``, ``max_steps``, ``num_train_epochs``,
``logging_steps``, ``eval_steps``, ``save_steps``, ``train_batch_size``…), plus ``checkpoints`` and ``state_file``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._parts import Parts, read_json_document
from .base import FunctionReader
from .jsonl import RecordColumns

NAME = "hf-trainer"

STATE = "trainer_state.json"
_CKPT = re.compile(r"^checkpoint-(\d+)$")
_LOG_HISTORY = re.compile(r'"log_history"\s*:\s*\[')
#: Largest ``trainer_state.json`` read, in bytes (1 GiB: about 5 million ``log_history`` records).
MAX_STATE_BYTES = 1 << 30


def _checkpoints(d: Path) -> list[tuple[int, Path]]:
    out = []
    try:
        for p in d.iterdir():
            m = _CKPT.match(p.name)
            if m and (p / STATE).is_file():
                out.append((int(m.group(1)), p / STATE))
    except OSError:
        return []
    return sorted(out)


def sniff(path: Path, head: str) -> bool:
    if path.is_dir():
        return (path / STATE).is_file() or bool(_checkpoints(path))
    h = head.lstrip()
    return h.startswith("{") and _LOG_HISTORY.search(h) is not None


def _load_state(path: Path) -> dict[str, Any]:
    state = read_json_document(path, max_bytes=MAX_STATE_BYTES, limit="MAX_STATE_BYTES", what="a trainer state")
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise InputError("not a Hugging Face trainer_state.json: no 'log_history' list", path=path)
    return state


def _state_file(path: Path) -> tuple[Path, list[str]]:
    """The state file to read for ``path`` (a file, or an output directory) and the checkpoints found."""
    if not path.is_dir():
        return path, []
    checkpoints: list[str] = []
    cands: list[tuple[int, int, Path]] = []
    for n, f in _checkpoints(path):
        checkpoints.append(f.parent.name)
        cands.append((n, 0, f))
    if (path / STATE).is_file():
        top = _load_state(path / STATE)
        gs = top.get("global_step")
        cands.append((gs if isinstance(gs, int) and not isinstance(gs, bool) else 0, 1, path / STATE))
    if not cands:
        raise InputError(f"no {STATE} and no checkpoint-*/{STATE} in this directory", path=path)
    return max(cands, key=lambda c: (c[0], c[1]))[2], checkpoints


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    state_file, checkpoints = _state_file(path)
    state = _load_state(state_file)
    cols = RecordColumns(str(state_file), default_split="train", place="log_history entry #")
    summary: dict[str, Any] = {}
    for i, rec in enumerate(state["log_history"], start=1):
        if not isinstance(rec, dict):
            raise InputError(f"log_history[{i - 1}] is {type(rec).__name__}, expected an object",
                             path=state_file)
        if "train_runtime" in rec:  # the closing summary record: run averages, not curve points
            summary = {k: v for k, v in rec.items() if isinstance(v, (int, float, str))}
            continue
        cols.add(i, rec)
    parts = cols.parts(run)
    parts.source = str(path)
    meta: dict[str, Any] = {k: v for k, v in state.items()
                            if k != "log_history" and (v is None or isinstance(v, (int, float, str, bool)))}
    meta["state_file"] = str(state_file.relative_to(path)) if path.is_dir() else state_file.name
    if path.is_dir():
        meta["checkpoints"] = checkpoints
    if summary:
        meta["train_summary"] = summary
    parts.meta["hf"] = meta
    return [parts]


READER = FunctionReader(NAME, sniff, read_parts, "Hugging Face Trainer trainer_state.json / output directory")
