"""PyTorch Lightning ``CSVLogger``: ``<save_dir>/<name>/version_<n>/metrics.csv`` (+ ``hparams.yaml``).

``metrics.csv`` has one row per ``log`` flush, with ``epoch`` and ``step`` columns and the logged keys in
sorted order; training and validation land on separate, sparse rows::

    epoch,step,train_loss_epoch,train_loss_step,val_acc,val_loss
    0,1,,0.654,,
    0,5,,,0.4375,1.378
    0,5,0.504,,,

``self.log(..., on_step=True, on_epoch=True)`` writes two columns: ``train_loss_epoch`` (the epoch mean) becomes
``train``/``loss`` and ``train_loss_step`` becomes ``train``/``loss_step`` so the two never mix; a lone
``*_step`` or ``*_epoch`` column keeps its plain name. Lightning's ``epoch`` column is the 0-based epoch index;
gapwatch reports **1-based** epochs (epoch 1 = the first epoch), as for Keras. ``hparams.yaml`` beside the CSV
(or in the run directory) goes to ``History.meta[run]["hparams"]`` (nesting cut at :data:`MAX_HPARAMS_DEPTH`
levels); a damaged ``hparams.yaml`` is a note, never the end of the run's metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..history import HistoryNote
from ._parts import Parts
from .base import FunctionReader
from .generic_csv import Table, _header, read_table, wide_parts

NAME = "lightning-csv"

#: Added to Lightning's 0-based ``epoch`` column.
EPOCH_OFFSET = 1.0
#: Deepest nesting of ``hparams.yaml`` kept in the metadata (a self-referencing YAML anchor is infinitely
#: deep; real hyperparameter files are 1–4 levels deep).
MAX_HPARAMS_DEPTH = 16
#: Largest ``hparams.yaml`` read, in bytes (1 MiB; Lightning writes a few hundred bytes).
MAX_HPARAMS_BYTES = 1 << 20
#: Most values kept from ``hparams.yaml`` (aliases can expand a small file exponentially: a "billion laughs").
MAX_HPARAMS_NODES = 10_000


def sniff(path: Path, head: str) -> bool:
    if path.is_dir():
        return (path / "metrics.csv").is_file() and (path / "hparams.yaml").is_file()
    cols = _header(head)
    if not cols or "epoch" not in cols or "step" not in cols:
        return False
    suffixed = any(c.endswith(("_step", "_epoch")) for c in cols if c not in ("epoch", "step"))
    # a hand-written metrics.csv with epoch,step columns is only Lightning's when hparams.yaml is beside it
    return suffixed or (path.name == "metrics.csv" and (path.parent / "hparams.yaml").is_file())


def _hparams(f: Path) -> dict[str, Any]:
    """``hparams.yaml`` → a plain dict (JSON-able scalars, lists and dicts, at most :data:`MAX_HPARAMS_DEPTH`
    deep). Raises ValueError saying why it cannot be read."""
    import yaml

    try:
        if f.stat().st_size > MAX_HPARAMS_BYTES:
            raise ValueError(f"larger than {MAX_HPARAMS_BYTES:,} bytes (MAX_HPARAMS_BYTES)")
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError, ValueError, RecursionError, OverflowError) as exc:
        raise ValueError(f"not readable YAML ({exc.__class__.__name__})") from None
    clean = _plain(data, MAX_HPARAMS_DEPTH)
    return clean if isinstance(clean, dict) else {"value": clean}


def _plain(v: Any, depth: int, budget: list[int] | None = None) -> Any:
    """A copy of ``v`` made of plain values; cut (``"…"``) below ``depth`` levels and after
    :data:`MAX_HPARAMS_NODES` values in all (YAML aliases can make a small file expand exponentially)."""
    budget = budget if budget is not None else [MAX_HPARAMS_NODES]
    budget[0] -= 1
    if depth <= 0 or budget[0] < 0:
        return "…"
    if isinstance(v, dict):
        return {str(k): _plain(x, depth - 1, budget) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x, depth - 1, budget) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def table_parts(t: Table, run: str) -> Parts:
    """A CSVLogger table (or a chunk of one: ``watch`` tails it) → Parts. ``<name>_step`` columns that have an
    ``<name>_epoch`` twin are the per-step logs of the same metric and keep their own name."""
    return wide_parts(t, run, epoch_offset=EPOCH_OFFSET)  # (the twins: gapwatch.names.normalize_columns)


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    csv_path = path / "metrics.csv" if path.is_dir() else path
    p = table_parts(read_table(csv_path), run)
    p.source = str(path)
    f = csv_path.parent / "hparams.yaml"
    if f.is_file():
        try:
            p.meta["hparams"] = _hparams(f)
        except ValueError as exc:
            p.notes.append(HistoryNote(run, f"hparams.yaml: {exc}; hyperparameters not read", str(f)))
    return [p]


READER = FunctionReader(NAME, sniff, read_parts, "PyTorch Lightning CSVLogger metrics.csv (+ hparams.yaml)")
