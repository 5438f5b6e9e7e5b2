"""Train small real models on CPU with learning-rate schedules that change the regime (issue 14, item 2).

Writes ``bench/curves/schedule-runs.jsonl``: one JSON object per run with per-epoch ``train``/``val``/``test``
loss and accuracy, the learning rate in force during each epoch (``lr``, index ``e`` = the rate used for epoch
``e``; index 0, the evaluation before training, repeats the first rate), the schedule's events and the
configuration. Used by ``bench/bench_forecast_schedule.py``.

Families (single-threaded, CPU, no downloads; scikit-learn's bundled 8x8 digits, a 2-layer MLP, SGD with
momentum 0.9, the helpers of ``bench/train_runs.py``):

* ``step``: a step schedule ("Deep Residual Learning for Image Recognition", He et al. 2016: the rate divided by
  10 at fixed epochs): 90 epochs, milestones at 30 and 60 or at 45 and 70, factor 0.1;
* ``rewarm``: cosine annealing with warm restarts ("SGDR", Loshchilov & Hutter 2017): periods of 25 epochs
  (the rate jumps back to its peak at epochs 25, 50, 75), 100 epochs.

Each over learning rates 0.05 / 0.2, weight decay 0 / 5e-4 and symmetric label noise 0 / 0.3 (train labels
only), training sets of 400 images, two seeds: 16 runs per schedule × 2 milestone sets for ``step`` = 48 runs.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/train_schedule_runs.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from train_runs import log_splits, mlp, split_data  # noqa: E402

torch.set_num_threads(1)
OUT = ROOT / "curves" / "schedule-runs.jsonl"
#: milestone epochs of the step family and their factor
MILESTONES = ((30, 60), (45, 70))
STEP_FACTOR = 0.1
STEP_EPOCHS = 90
#: SGDR period (epochs) and length of the re-warm family
REWARM_PERIOD = 25
REWARM_EPOCHS = 100


def lr_at(kind: str, epoch: int, base: float, milestones: tuple[int, ...] = ()) -> float:
    """The learning rate used during ``epoch`` (0-based) of a ``step`` or ``rewarm`` schedule."""
    if kind == "step":
        return base * STEP_FACTOR ** sum(epoch >= m for m in milestones)
    t = epoch % REWARM_PERIOD
    return 0.5 * base * (1 + math.cos(math.pi * t / REWARM_PERIOD))


def train(kind: str, data: dict[str, tuple[torch.Tensor, torch.Tensor]], *, epochs: int, base: float, wd: float,
          milestones: tuple[int, ...], seed: int) -> tuple[dict[str, list[float | None]], list[float]]:
    torch.manual_seed(seed)
    model = mlp(64, 128, 10)
    optim = torch.optim.SGD(model.parameters(), lr=base, momentum=0.9, weight_decay=wd)
    xtr, ytr = data["train"]
    curves: dict[str, list[float | None]] = {f"{s}_{m}": [] for s in ("train", "val", "test") for m in ("loss", "acc")}
    lrs: list[float] = []

    def log() -> None:
        log_splits(model, data, curves)

    log()
    lrs.append(lr_at(kind, 0, base, milestones))
    g = torch.Generator().manual_seed(seed)
    for e in range(epochs):
        lr = lr_at(kind, e, base, milestones)
        for pg in optim.param_groups:
            pg["lr"] = lr
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), 32):
            idx = perm[i:i + 32]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()
        lrs.append(lr)
        log()
    return curves, lrs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one run per family (smoke test)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    configs = [(base, wd, noise) for base in (0.05, 0.2) for wd in (0.0, 5e-4) for noise in (0.0, 0.3)
               for _seed in range(2)]
    plan: list[tuple[str, tuple[int, ...], float, float, float]] = []
    for ms in MILESTONES:
        plan += [("step", ms, *c) for c in configs]
    plan += [("rewarm", (), *c) for c in configs]
    if args.quick:
        plan = [plan[0], plan[-1]]
    runs: list[dict[str, Any]] = []
    t0 = time.process_time()
    for i, (kind, ms, base, wd, noise) in enumerate(plan):
        seed = 500 + i
        data = split_data(x, y, 400, 400, 997, noise, 10, seed=seed)
        epochs = STEP_EPOCHS if kind == "step" else REWARM_EPOCHS
        curves, lrs = train(kind, data, epochs=epochs, base=base, wd=wd, milestones=ms, seed=seed)
        events = list(ms) if kind == "step" else list(range(REWARM_PERIOD, epochs, REWARM_PERIOD))
        name = f"{kind}-{i:02d}"
        runs.append({"name": name, "family": f"digits-mlp-{kind}", "x": "epoch",
                     "config": {"schedule": kind, "milestones": list(ms), "lr": base, "weight_decay": wd,
                                "label_noise": noise, "optimizer": "sgd", "momentum": 0.9, "n_train": 400,
                                "epochs": epochs, "seed": seed},
                     # the first epoch trained under the new rate: evaluation index e + 1 is the first after it
                     "events": events, "lr": lrs, "metrics": curves})
        print(f"{name}: val_loss {curves['val_loss'][0]} -> min {min(v for v in curves['val_loss'] if v)} "
              f"-> {curves['val_loss'][-1]}  ({time.process_time() - t0:.0f} CPU s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in runs))
    print(f"{len(runs)} runs -> {args.out}; {time.process_time() - t0:.0f} CPU s")


if __name__ == "__main__":
    main()
