"""Off-target regression on real CPU runs (issue 13): fine-tune a small network on one task while measuring
another, and check whether ``heldout_regression`` catches the retention loss, and when.

Setup (scikit-learn's 8×8 digits, 1,797 images, CPU, a few seconds per run): an MLP (64-128-10) is first trained
on digits 0–4 (task A) for 30 epochs; it is then fine-tuned on digits 5–9 (task B) for 40 epochs with Adam.
Each fine-tuning epoch logs ``val_loss``/``val_acc`` on held-out task-B images (the target) and
``retention_loss``/``retention_acc`` on held-out task-A images (the off-target set). Two conditions:

* ``plain``: task-B data only — catastrophic forgetting of task A is expected;
* ``replay``: every batch mixes in task-A training images (half of each batch) — retention should hold.

Reference onset: the first fine-tuning epoch at which task-A accuracy is 5 points or more below its value
before fine-tuning and stays so. Reported per run: whether an off-target ``heldout_regression`` finding is
raised on the whole log, the epoch the finding names (``fell behind``), and the first prefix of the log (epochs
1..k) on which the finding is raised (the online delay, in epochs after the reference onset).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_retention.py [--seeds 5] [--out FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from gapwatch import History
from gapwatch.detectors import heldout_regression


def _data(seed: int) -> dict[str, Any]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))
    tr, te = idx[: int(0.6 * len(y))], idx[int(0.6 * len(y)):]
    a, b = y < 5, y >= 5
    return {"xa": x[tr][a[tr]], "ya": y[tr][a[tr]], "xb": x[tr][b[tr]], "yb": y[tr][b[tr]],
            "xa_te": x[te][a[te]], "ya_te": y[te][a[te]], "xb_te": x[te][b[te]], "yb_te": y[te][b[te]]}


def _run(seed: int, replay: bool, pre_epochs: int = 30, ft_epochs: int = 40) -> list[dict[str, float]]:
    import torch

    torch.manual_seed(seed)
    d = {k: torch.from_numpy(v) for k, v in _data(seed).items()}
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    ce = torch.nn.functional.cross_entropy

    def epoch(opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, xr: torch.Tensor | None = None,
              yr: torch.Tensor | None = None) -> None:
        g = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
        perm = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), 32):
            j = perm[i: i + 32]
            bx, by = x[j], y[j]
            if xr is not None and yr is not None:
                k = torch.randint(0, len(yr), (len(j),), generator=g)
                bx, by = torch.cat([bx, xr[k]]), torch.cat([by, yr[k]])
            opt.zero_grad()
            ce(net(bx), by).backward()
            opt.step()

    def evaluate(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        with torch.no_grad():
            out = net(x)
            return float(ce(out, y)), float((out.argmax(1) == y).float().mean())

    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(pre_epochs):
        epoch(opt, d["xa"], d["ya"])
    rows = []
    ra0 = evaluate(d["xa_te"], d["ya_te"])
    vb0 = evaluate(d["xb_te"], d["yb_te"])
    rows.append({"epoch": 0, "val_loss": vb0[0], "val_acc": vb0[1], "retention_loss": ra0[0],
                 "retention_acc": ra0[1]})
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for e in range(1, ft_epochs + 1):
        if replay:
            epoch(opt, d["xb"], d["yb"], d["xa"], d["ya"])
        else:
            epoch(opt, d["xb"], d["yb"])
        vb, ra = evaluate(d["xb_te"], d["yb_te"]), evaluate(d["xa_te"], d["ya_te"])
        rows.append({"epoch": e, "val_loss": vb[0], "val_acc": vb[1], "retention_loss": ra[0],
                     "retention_acc": ra[1]})
    return rows


def _off_target(rows: list[dict[str, float]]) -> Any:
    h = History.from_records([{**r, "epoch": r["epoch"] + 1} for r in rows], run="r")  # epoch 1 = before FT
    return next((f for f in heldout_regression.check(h) if f.evidence.get("pattern") == "off_target"), None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    lines = ["| condition | seed | task-A acc before → end | task-B acc start → end | reference onset (FT epoch) | "
             "caught (whole log) | finding's 'fell behind' (FT epoch) | first prefix raising it (FT epoch) |",
             "|---|---|---|---|---|---|---|---|"]
    for cond in ("plain", "replay"):
        for seed in range(a.seeds):
            rows = _run(seed, cond == "replay")
            ra = np.array([r["retention_acc"] for r in rows])
            va = np.array([r["val_acc"] for r in rows])
            below = ra <= ra[0] - 0.05
            onset = next((i for i in range(1, len(ra)) if below[i:].all()), None)
            f = _off_target(rows)
            fell = int(f.epoch) - 1 if f is not None and f.epoch is not None else None
            first = next((k - 1 for k in range(6, len(rows) + 1) if _off_target(rows[:k]) is not None), None)
            lines.append(f"| {cond} | {seed} | {ra[0]:.3f} → {ra[-1]:.3f} | {va[0]:.3f} → {va[-1]:.3f} | "
                         f"{onset if onset is not None else '–'} | {'yes' if f is not None else 'no'} | "
                         f"{fell if fell is not None else '–'} | {first if first is not None else '–'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out is not None:
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
