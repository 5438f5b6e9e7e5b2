"""Distributed recording and scoring with ``torch.distributed`` (torchrun, DistributedSampler, any backend).

Each rank handles its shard; results are gathered *by example index* on rank 0 into one table. The
DistributedSampler pads the last shard by repeating examples, so duplicate indices are expected and dropped
(the first record of an index wins). Launch with torchrun, e.g.::

    torchrun --nproc_per_node 8 score.py      # score.py calls score_dataset_distributed(...)

inside which::

    import torch.distributed as dist
    dist.init_process_group("nccl")           # or "gloo" on CPU
    out = score_dataset_distributed(model, train_set, batch_size=512, grand=True, device="cuda")
    if dist.get_rank() == 0:
        write_table(out.table, "examples.parquet")

For training-time recording use :class:`DistributedRecorder` exactly like :class:`ExampleRecorder`; only
rank 0 writes the file. Torch is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError, require
from .record import ExampleRecorder, batch_records, records_to_table
from .table import ExampleTable


def _dist() -> Any:
    torch = require("torch", "torch")
    dist = torch.distributed
    if not dist.is_available() or not dist.is_initialized():
        raise UsageError("torch.distributed is not initialised; call torch.distributed.init_process_group "
                         "first (torchrun sets the environment for it)")
    return dist


def _gather_parts(parts: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]] | None:
    """Gather every rank's record chunks on rank 0 (None elsewhere), keeping the first record per key."""
    dist = _dist()
    rank, world = dist.get_rank(), dist.get_world_size()
    payload = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
    bucket: list[Any] = [None] * world if rank == 0 else []
    dist.gather_object(payload, bucket if rank == 0 else None, dst=0)
    if rank != 0:
        return None
    got = [b for b in bucket if b]
    if not got:
        return []
    cat = {k: np.concatenate([b[k] for b in got]) for k in got[0]}
    key = cat["epoch"].astype(np.int64) * (int(cat["index"].max()) + 1) + cat["index"]
    _, first = np.unique(key, return_index=True)  # DistributedSampler padding repeats examples
    first.sort()
    return [{k: v[first] for k, v in cat.items()}]


class DistributedRecorder(ExampleRecorder):
    """An :class:`ExampleRecorder` for data-parallel training: every rank calls :meth:`record` on its own
    batches; :meth:`end_epoch` gathers the epoch's records on rank 0 (deduplicated by example index) and rank 0
    alone writes the Parquet file / keeps the table. Arguments as :class:`ExampleRecorder`; ``path`` is used
    on rank 0 only. All ranks must call :meth:`end_epoch` and :meth:`close` (they are collective)."""

    def __init__(self, path: str | Path | None = None, **kw: Any) -> None:
        dist = _dist()
        self.rank = dist.get_rank()
        super().__init__(path if self.rank == 0 else None, **kw)
        self._epoch_parts: list[dict[str, np.ndarray]] = []

    def write_records(self, idx: np.ndarray, rec: dict[str, np.ndarray]) -> None:
        if not self.store_probs:
            rec = {k: v for k, v in rec.items() if k != "probs"}
        self._epoch_parts.append({"epoch": np.full(idx.shape[0], self.epoch, np.int64), "index": idx, **rec})

    def end_epoch(self) -> None:
        merged = _gather_parts(self._epoch_parts)
        self._epoch_parts = []
        if merged:
            m = merged[0]
            if self._writer is not None:
                self._writer.write(epoch=self.epoch, index=m["index"], run=self.run,
                                   **{k: v for k, v in m.items() if k not in ("epoch", "index")})
            else:
                self._mem.append(m)
        super().end_epoch()

    def table(self) -> ExampleTable:
        if self.rank != 0:
            raise UsageError("only rank 0 holds the gathered table")
        return super().table()


@dataclass
class DistributedScores:
    """Rank 0's result of :func:`score_dataset_distributed`: a one-epoch table and optional GraNd scores."""

    table: ExampleTable
    grand: np.ndarray | None


def score_dataset_distributed(model: Any, dataset: Any, *, batch_size: int = 256, grand: bool = False,
                              device: Any = None, num_workers: int = 0, epoch: int = 0,
                              grand_chunk_size: int = 256) -> DistributedScores | None:
    """Score every example of a map-style ``(x, y)`` dataset across ranks; gather on rank 0 by index.

    Each rank runs ``model`` (eval mode, no dropout) on its DistributedSampler shard, records loss, margin,
    correctness, EL2N and argmax, and with ``grand=True`` the GraNd score (:func:`gapwatch.examples.grand.grand`).

    Returns:
        on rank 0 a :class:`DistributedScores` (table with one epoch numbered ``epoch``, examples 0…n-1),
        ``None`` on the other ranks.
    """
    torch = require("torch", "torch")
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    from .grand import grand as grand_fn
    from .record import IndexedDataset

    if batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}")
    dist = _dist()
    ds = IndexedDataset(dataset)
    sampler: Any = DistributedSampler(ds, shuffle=False, drop_last=False)  # type: ignore[arg-type]
    loader: Any = DataLoader(ds, batch_size=batch_size, sampler=sampler,  # type: ignore[arg-type]
                             num_workers=num_workers)
    parts: list[dict[str, np.ndarray]] = []
    was_training = model.training
    model.eval()
    try:
        for idx, (x, y) in loader:
            if device is not None:
                x, y = x.to(device), y.to(device)
            with torch.no_grad():
                rec = batch_records(model(x), y)
            rec.pop("probs")
            if grand:
                rec["grand"] = grand_fn(model, x, y.long(), chunk_size=grand_chunk_size)
            parts.append({"epoch": np.full(len(idx), epoch, np.int64), "index": idx.numpy().astype(np.int64),
                          **rec})
    finally:
        model.train(was_training)
    merged = _gather_parts(parts)
    if dist.get_rank() != 0:
        return None
    if not merged:
        raise UsageError("no examples were scored (is the dataset empty?)")
    m = merged[0]
    g = m.pop("grand", None)
    table = records_to_table([m], n=len(dataset))
    table.check_size(len(dataset))
    g_sorted = None
    if g is not None:
        g_sorted = np.empty(len(dataset))
        g_sorted[m["index"]] = g
    return DistributedScores(table=table, grand=g_sorted)
