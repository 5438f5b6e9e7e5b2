"""Recording per-example training dynamics from a PyTorch loop (torch imported lazily).

Plain PyTorch::

    from gapwatch.examples import ExampleRecorder, IndexedDataset
    loader = DataLoader(IndexedDataset(train_set), batch_size=128, shuffle=True)
    rec = ExampleRecorder("examples.parquet", n=len(train_set), num_classes=10)
    for epoch in range(epochs):
        for idx, (x, y) in loader:
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            ...
            rec.record(idx, logits, y)          # detached, moved to CPU; no effect on training
        rec.end_epoch()
    rec.close()                                 # writes the Parquet table next to your log

Framework adapters call the same three methods: ``record`` from a batch-end hook with the batch's example
indices, logits and labels, ``end_epoch`` from the epoch-end hook, ``close`` at fit end (in distributed runs:
:class:`gapwatch.examples.distributed.DistributedRecorder`). Ready-made: ``ExampleRecorderCallback`` in
:mod:`gapwatch.integrations.lightning` (training forward pass) and ``ExampleRecorderTrainerCallback`` in
:mod:`gapwatch.integrations.hf` (an extra eval pass per epoch).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError, require
from .table import DEFAULT_ROW_GROUP_ROWS, ExampleTable, ExampleTableWriter


def batch_records(logits: Any, labels: Any) -> dict[str, np.ndarray]:
    """Per-example loss, margin, correctness, EL2N, argmax and probabilities from a batch's logits.

    Accepts torch tensors (any device; detached, computed in float32 without autograd) or numpy arrays of
    shape ``(batch, C)`` logits and ``(batch,)`` integer labels.
    """
    if hasattr(logits, "detach"):
        torch = require("torch", "torch")
        with torch.no_grad():
            z = logits.detach().float()
            y = labels.detach().long().to(z.device) if hasattr(labels, "detach") else \
                torch.as_tensor(np.asarray(labels), dtype=torch.long, device=z.device)
            if z.ndim != 2 or y.ndim != 1 or y.shape[0] != z.shape[0]:
                raise UsageError(f"logits must be (batch, classes) and labels (batch,), got "
                                 f"{tuple(z.shape)} and {tuple(y.shape)}")
            logp = torch.log_softmax(z, dim=1)
            ar = torch.arange(z.shape[0], device=z.device)
            loss = -logp[ar, y]
            other = z.clone()
            other[ar, y] = float("-inf")
            margin = z[ar, y] - other.max(dim=1).values
            p = logp.exp()
            d = p.clone()
            d[ar, y] -= 1.0
            el2n = d.norm(dim=1)
            pred = z.argmax(dim=1)
            return {"loss": loss.cpu().numpy(), "margin": margin.cpu().numpy(),
                    "correct": (pred == y).cpu().numpy(), "el2n": el2n.cpu().numpy(),
                    "pred": pred.cpu().numpy(), "probs": p.cpu().numpy(), "label": y.cpu().numpy()}
    from .scores import el2n as _el2n
    from .scores import margins_from_logits, softmax

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if z.ndim != 2 or y.shape != (z.shape[0],):
        raise UsageError(f"logits must be (batch, classes) and labels (batch,), got {z.shape} and {y.shape}")
    p = softmax(z)
    pred = z.argmax(axis=1)
    return {"loss": -np.log(np.clip(p[np.arange(len(y)), y], 1e-300, None)), "margin": margins_from_logits(z, y),
            "correct": pred == y, "el2n": _el2n(p, y), "pred": pred, "probs": p, "label": y}


def _to_numpy_index(indices: Any) -> np.ndarray:
    if hasattr(indices, "detach"):
        indices = indices.detach().cpu().numpy()
    return np.asarray(indices, dtype=np.int64).reshape(-1)


class ExampleRecorder:
    """Collects per-example records batch by batch; writes a Parquet ExampleTable or returns it in memory.

    Args:
        path: Parquet file to stream to (row groups of ``row_group_rows``); ``None`` keeps everything in
            memory and :meth:`table` returns an :class:`ExampleTable`.
        n: training-set size (stored in the file; every index must be in ``0 … n-1``).
        num_classes: number of classes (optional).
        store_probs: also store the full probability vectors (n × C floats per epoch; off by default).
        run: run / seed id written to the ``run`` column.
        start_epoch: number given to the first epoch (increments on :meth:`end_epoch`).
        overwrite: replace an existing file (default: refuse).
    """

    def __init__(self, path: str | Path | None = None, *, n: int | None = None, num_classes: int | None = None,
                 store_probs: bool = False, run: int = 0, start_epoch: int = 0, overwrite: bool = False,
                 row_group_rows: int = DEFAULT_ROW_GROUP_ROWS) -> None:
        self.path = None if path is None else Path(path)
        self.n = n
        self.num_classes = num_classes
        self.store_probs = store_probs
        self.run = run
        self.epoch = start_epoch
        self._writer = (ExampleTableWriter(self.path, n=n, num_classes=num_classes, overwrite=overwrite,
                                           row_group_rows=row_group_rows) if self.path is not None else None)
        self._mem: list[dict[str, np.ndarray]] = []
        self._seen_this_epoch = 0
        self.closed = False

    def record(self, indices: Any, logits: Any, labels: Any) -> None:
        """Record one batch: example indices ``(B,)``, logits ``(B, C)``, assigned labels ``(B,)``."""
        if self.closed:
            raise UsageError("the recorder is closed")
        idx = _to_numpy_index(indices)
        rec = batch_records(logits, labels)
        if idx.shape[0] != rec["loss"].shape[0]:
            raise UsageError(f"{idx.shape[0]} indices for a batch of {rec['loss'].shape[0]} logits")
        if idx.size and self.n is not None and (idx.min() < 0 or idx.max() >= self.n):
            bad = idx[(idx < 0) | (idx >= self.n)][0]
            raise UsageError(f"example index {int(bad)} is out of range for n={self.n}")
        self.write_records(idx, rec)

    def write_records(self, idx: np.ndarray, rec: dict[str, np.ndarray]) -> None:
        """Append precomputed records (the columns of :func:`batch_records`) for indices ``idx``."""
        if not self.store_probs:
            rec = {k: v for k, v in rec.items() if k != "probs"}
        self._seen_this_epoch += idx.shape[0]
        if self._writer is not None:
            self._writer.write(epoch=self.epoch, index=idx, run=self.run, **rec)
        else:
            self._mem.append({"epoch": np.full(idx.shape[0], self.epoch, np.int64), "index": idx, **rec})

    def end_epoch(self) -> None:
        """Mark the end of an epoch: later records belong to the next epoch number."""
        self.epoch += 1
        self._seen_this_epoch = 0

    def table(self) -> ExampleTable:
        """The in-memory records as an :class:`ExampleTable` (only when ``path`` is None)."""
        if self._writer is not None:
            raise UsageError("this recorder streams to a file; read it with gapwatch.examples.read_table")
        if not self._mem:
            raise UsageError("nothing was recorded")
        return records_to_table(self._mem, n=self.n, num_classes=self.num_classes, run=self.run)

    def close(self) -> Path | None:
        """Finish the Parquet file (when streaming); returns its path."""
        if self.closed:
            return self.path
        self.closed = True
        if self._writer is not None:
            return self._writer.close()
        return None


def records_to_table(parts: list[dict[str, np.ndarray]], *, n: int | None = None,
                     num_classes: int | None = None, run: int = 0) -> ExampleTable:
    """Assemble long-format record chunks (``epoch``, ``index`` and value columns) into a dense table."""
    from ..errors import InputError

    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    epochs = np.unique(cat["epoch"])
    index = np.unique(cat["index"])
    if n is not None and (index[0] < 0 or index[-1] >= n):
        raise InputError(f"example index {int(index[-1])} is out of range for n={n}")
    E, m = epochs.shape[0], index.shape[0]
    flat = np.searchsorted(epochs, cat["epoch"]) * m + np.searchsorted(index, cat["index"])
    u, c = np.unique(flat, return_counts=True)
    if (c > 1).any():
        e0, i0 = divmod(int(u[c > 1][0]), m)
        raise InputError(f"example index {int(index[i0])} was recorded twice in epoch {int(epochs[e0])}")
    if u.size != E * m:
        seen = np.zeros(E * m, bool)
        seen[u] = True
        seen2 = seen.reshape(E, m)
        e_bad = int(np.argmax(~seen2.all(axis=1)))
        miss = index[~seen2[e_bad]]
        raise InputError(f"epoch {int(epochs[e_bad])} is missing {miss.size} of {m} examples (first missing "
                         f"index {int(miss[0])})")
    out: dict[str, Any] = {}
    for k, v in cat.items():
        if k in ("epoch", "index", "label"):
            continue
        shape = (E, m) + v.shape[1:]
        arr = np.empty((E * m,) + v.shape[1:], dtype=v.dtype)
        arr[flat] = v
        out[k] = arr.reshape(shape)
    label = None
    if "label" in cat:
        label = np.empty(m, dtype=np.int64)
        label[np.searchsorted(index, cat["index"])] = cat["label"]
    return ExampleTable(index=index, epochs=epochs, label=label, num_classes=num_classes, run=run, **out)


class IndexedDataset:
    """Wrap a map-style dataset so each item becomes ``(index, item)``; the default collate then yields
    ``(indices, batch)`` from a DataLoader, and ``(indices, (x, y))`` for an ``(x, y)`` dataset.

    Indices are positions ``0 … len(dataset)-1`` of the wrapped dataset, stable across epochs and shuffling.
    """

    def __init__(self, dataset: Any) -> None:
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise UsageError("IndexedDataset needs a map-style dataset (with __getitem__ and __len__)")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[int, Any]:
        return int(i), self.dataset[i]


INDEX_KEYS = ("idx", "index", "example_index")
LABEL_KEYS = ("labels", "label", "y", "target", "targets")


def split_indexed_batch(batch: Any) -> tuple[Any, Any]:
    """``(indices, labels)`` of a training batch that carries example indices.

    Accepted layouts: ``(indices, (x, y))`` (a DataLoader over :class:`IndexedDataset`) and a mapping with an
    index key (``INDEX_KEYS``: ``idx``, ``index``, ``example_index``) and a label key (``LABEL_KEYS``).

    Raises:
        UsageError: the batch carries no indices or no labels (says how to add them).
    """
    if isinstance(batch, Mapping):
        ik = next((k for k in INDEX_KEYS if k in batch), None)
        lk = next((k for k in LABEL_KEYS if k in batch), None)
        if ik is None or lk is None:
            missing = "example indices" if ik is None else "labels"
            raise UsageError(f"the batch (keys: {', '.join(map(str, batch))}) has no {missing}: add an 'idx' field "
                             f"(indices {INDEX_KEYS}, labels {LABEL_KEYS}) or wrap the dataset in "
                             "gapwatch.examples.IndexedDataset")
        return batch[ik], batch[lk]
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[1], (tuple, list)) \
            and len(batch[1]) >= 2:
        return batch[0], batch[1][-1]
    raise UsageError("the batch carries no example indices: wrap the training dataset in "
                     "gapwatch.examples.IndexedDataset (batches become (indices, (x, y))) or yield a dict with "
                     "'idx' and 'labels'")


def logits_of(output: Any) -> Any:
    """The logits in a model output: a tensor, an object with ``.logits`` (transformers), a mapping with a
    ``"logits"`` key, or the first element of a tuple; None when there are none."""
    if output is None:
        return None
    if hasattr(output, "logits") and output.logits is not None:
        return output.logits
    if isinstance(output, Mapping):
        return output.get("logits")
    if isinstance(output, (tuple, list)):
        return logits_of(output[0]) if output else None
    return output if hasattr(output, "shape") and len(output.shape) == 2 else None


def record_eval_pass(model: Any, loader: Any, recorder: ExampleRecorder, *, device: Any = None) -> None:
    """Run ``model`` in eval mode without gradients over ``loader`` (yielding ``(indices, (x, y))``), record
    every batch, then :meth:`ExampleRecorder.end_epoch`. Restores the model's train/eval mode."""
    torch = require("torch", "torch")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for idx, (x, y) in loader:
                if device is not None:
                    x = x.to(device)
                recorder.record(idx, model(x), y)
    finally:
        model.train(was_training)
    recorder.end_epoch()
