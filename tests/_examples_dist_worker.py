"""Worker for the two-process gloo test (run by torch.multiprocessing.spawn from test_examples_distributed)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np


def model_and_data():  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    g = torch.Generator().manual_seed(1)
    X = torch.randn(23, 6, generator=g)          # 23 examples: DistributedSampler pads one shard
    y = torch.randint(0, 3, (23,), generator=g)
    return model, torch.utils.data.TensorDataset(X, y), X, y


def worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from gapwatch.examples import write_table
    from gapwatch.examples.distributed import DistributedRecorder, score_dataset_distributed

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        model, ds, X, y = model_and_data()
        out = score_dataset_distributed(model, ds, batch_size=4, grand=True)
        # training-time recorder: each rank records its DistributedSampler shard for two epochs
        sampler = torch.utils.data.distributed.DistributedSampler(ds, shuffle=True, seed=3)
        rec = DistributedRecorder(Path(out_dir) / "train.parquet", n=23)
        for epoch in range(2):
            sampler.set_epoch(epoch)
            for idx in torch.utils.data.DataLoader(list(sampler), batch_size=5):
                rec.record(idx, model(X[idx]) * (epoch + 1), y[idx])
            rec.end_epoch()
        rec.close()
        if rank == 0:
            assert out is not None
            write_table(out.table, Path(out_dir) / "scores.parquet")
            np.save(Path(out_dir) / "grand.npy", out.grand)
        else:
            assert out is None
        dist.barrier()  # no rank tears gloo down while another still uses it (else a teardown abort)
    finally:
        dist.destroy_process_group()
    # Every rank got here with its work written and the group destroyed. Leave without running the interpreter's
    # exit teardown: gloo's background threads sometimes abort it ("terminate called without an active exception",
    # SIGABRT after destroy_process_group had returned on both ranks; about 1 run in 8 under pytest on the 2-core
    # CI machine). An exception above still reaches torch.multiprocessing.spawn through its error file.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
