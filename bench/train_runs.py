"""Train small real models on CPU to widen the early-stopping benchmark corpus.

Writes ``bench/curves/cpu-runs.jsonl``: one JSON object per run with per-evaluation ``train``/``val``/``test``
loss and accuracy (error-rate derivable) curves, the configuration and the family. The validation split is the
only one a stop policy may look at; test is for scoring.

Families (all single-threaded, CPU, no downloads):

* ``digits-mlp``: scikit-learn's bundled 8x8 digits, a 2-layer MLP on a small training subset, several learning
  rates, weight decays and symmetric label-noise levels (noise on train labels only).
* ``fmnist-mlp`` / ``fmnist-cnn``: Fashion-MNIST (Debian package ``dataset-fashion-mnist``) subsets, an MLP and a
  small CNN, with label noise; skipped with a message when the package is missing.
* ``charlm``: a character-level GRU language model trained for many epochs on a small text (the GPL-3 licence text
  shipped by Debian), i.e. repeated data: validation/test are held-out parts of the same document.
* ``grokking``: modular addition a+b mod p with a small MLP and AdamW weight decay (full batch), the classic
  delayed-generalisation setting ("Grokking at the Edge of Numerical Stability"); train accuracy saturates long
  before validation accuracy rises (when weight decay is large enough).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/train_runs.py [--quick] [--out bench/curves/cpu-runs.jsonl]

Total budget on one core: about 10-15 minutes (``--quick`` runs one config per family for smoke testing).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(1)

FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
TEXT_FILE = Path("/usr/share/common-licenses/GPL-3")


def _r(x: float) -> float | None:
    if not math.isfinite(x):
        return None
    return float(f"{x:.6g}")


def noisy_labels(y: np.ndarray, rate: float, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Symmetric label noise: a fraction ``rate`` of labels replaced by a different random class."""
    y = y.copy()
    flip = rng.random(y.size) < rate
    shift = rng.integers(1, n_classes, size=y.size)
    y[flip] = (y[flip] + shift[flip]) % n_classes
    return y


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bs: int = 2048) -> tuple[float, float]:
    model.eval()
    tot, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), bs):
            out = model(x[i:i + bs])
            tot += float(F.cross_entropy(out, y[i:i + bs], reduction="sum"))
            correct += int((out.argmax(1) == y[i:i + bs]).sum())
    model.train()
    return tot / len(x), correct / len(x)


def log_splits(model: torch.nn.Module, data: dict[str, tuple[torch.Tensor, torch.Tensor]],
               curves: dict[str, list[float | None]]) -> None:
    """Append the loss and accuracy of ``model`` on each split (train, val, test) to ``curves[f"{split}_loss"]``
    and ``curves[f"{split}_acc"]``."""
    for s in ("train", "val", "test"):
        loss, acc = evaluate(model, *data[s])
        curves[f"{s}_loss"].append(_r(loss))
        curves[f"{s}_acc"].append(_r(acc))


def train_classifier(model: nn.Module, data: dict[str, tuple[torch.Tensor, torch.Tensor]], *, epochs: int,
                     lr: float, wd: float, bs: int, opt: str, seed: int) -> dict[str, list[float | None]]:
    torch.manual_seed(seed)
    if opt == "sgd":
        optim: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    else:
        optim = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    xtr, ytr = data["train"]
    curves: dict[str, list[float | None]] = {f"{s}_{m}": [] for s in ("train", "val", "test") for m in ("loss", "acc")}

    def log() -> None:
        log_splits(model, data, curves)

    log()
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), bs):
            idx = perm[i:i + bs]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()
        log()
    return curves


def mlp(d_in: int, hidden: int, n_out: int, dropout: float = 0.0) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


class SmallCNN(nn.Module):
    def __init__(self, c: int = 8) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, c, 3, padding=1)
        self.c2 = nn.Conv2d(c, 2 * c, 3, padding=1)
        self.fc = nn.Linear(2 * c * 7 * 7, 64)
        self.out = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.out(F.relu(self.fc(x.flatten(1))))


def split_data(x: np.ndarray, y: np.ndarray, n_train: int, n_val: int, n_test: int, noise: float,
               n_classes: int, seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(x))
    tr, va, te = perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:n_train + n_val + n_test]
    ytr = noisy_labels(y[tr], noise, n_classes, rng) if noise > 0 else y[tr]
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    li = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return {"train": (t(x[tr]), li(ytr)), "val": (t(x[va]), li(y[va])), "test": (t(x[te]), li(y[te]))}


def digits_runs(quick: bool) -> list[dict[str, Any]]:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    grid = [(lr, wd, noise, opt) for opt, lrs in (("adam", (1e-3, 1e-2)), ("sgd", (0.05,)))
            for lr in lrs for wd in (0.0, 1e-2) for noise in (0.0, 0.2, 0.4)]
    if quick:
        grid = grid[:1]
    runs = []
    for i, (lr, wd, noise, opt) in enumerate(grid):
        data = split_data(x, y, 400, 400, 997, noise, 10, seed=i)
        torch.manual_seed(i)
        model = mlp(64, 128, 10)
        cfg = {"lr": lr, "weight_decay": wd, "label_noise": noise, "optimizer": opt, "hidden": 128, "n_train": 400}
        runs.append({"family": "digits-mlp", "config": cfg, "x": "epoch",
                     "metrics": train_classifier(model, data, epochs=60, lr=lr, wd=wd, bs=32, opt=opt, seed=i)})
    return runs


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    magic = struct.unpack(">I", raw[:4])[0]
    nd = magic & 0xFF
    shape = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(shape)


def fmnist_runs(quick: bool) -> list[dict[str, Any]]:
    files = {k: next(iter(sorted(FMNIST_DIR.glob(f"{k}*"))), None) for k in
             ("train-images", "train-labels")} if FMNIST_DIR.exists() else {}
    if not files or None in files.values():
        print(f"fashion-mnist not found under {FMNIST_DIR}; skipping (apt-get install -y dataset-fashion-mnist)",
              file=sys.stderr)
        return []
    x = (_idx(files["train-images"]).astype(np.float32) / 255.0)[:, None, :, :]  # type: ignore[arg-type]
    y = _idx(files["train-labels"]).astype(np.int64)  # type: ignore[arg-type]
    grid = [("mlp", lr, wd, noise) for lr in (1e-3, 3e-3) for wd in (0.0, 0.05) for noise in (0.0, 0.3)]
    grid += [("cnn", 2e-3, wd, noise) for wd in (0.0,) for noise in (0.0, 0.3)]
    if quick:
        grid = grid[:1] + grid[-1:]
    runs = []
    for i, (arch, lr, wd, noise) in enumerate(grid):
        data = split_data(x, y, 1500, 1000, 2000, noise, 10, seed=100 + i)
        torch.manual_seed(100 + i)
        model = mlp(784, 256, 10) if arch == "mlp" else SmallCNN()
        cfg = {"arch": arch, "lr": lr, "weight_decay": wd, "label_noise": noise, "optimizer": "adam",
               "n_train": 1500}
        epochs = 50 if arch == "mlp" else 30
        runs.append({"family": f"fmnist-{arch}", "config": cfg, "x": "epoch",
                     "metrics": train_classifier(model, data, epochs=epochs, lr=lr, wd=wd, bs=64, opt="adam",
                                                 seed=100 + i)})
    return runs


class CharGRU(nn.Module):
    def __init__(self, vocab: int, emb: int = 32, hidden: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.rnn = nn.GRU(emb, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.emb(x))
        return self.out(self.drop(h))


def charlm_runs(quick: bool) -> list[dict[str, Any]]:
    text = TEXT_FILE.read_text(encoding="utf-8", errors="replace")
    chars = sorted(set(text))
    ix = {c: i for i, c in enumerate(chars)}
    ids = np.array([ix[c] for c in text], dtype=np.int64)
    n = len(ids)
    tr, va, te = ids[: int(0.5 * n)], ids[int(0.5 * n): int(0.75 * n)], ids[int(0.75 * n):]
    seq = 64

    def chunks(a: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        m = (len(a) - 1) // seq
        x = torch.tensor(a[: m * seq].reshape(m, seq))
        y = torch.tensor(a[1: m * seq + 1].reshape(m, seq))
        return x, y

    data = {"train": chunks(tr), "val": chunks(va), "test": chunks(te)}
    grid = [(hid, lr, drop) for hid, lr, drop in ((192, 3e-3, 0.0), (192, 3e-3, 0.3), (96, 3e-3, 0.0),
                                                   (192, 1e-3, 0.0))]
    if quick:
        grid = grid[:1]
    runs = []
    for i, (hid, lr, drop) in enumerate(grid):
        torch.manual_seed(200 + i)
        model = CharGRU(len(chars), hidden=hid, dropout=drop)
        optim = torch.optim.Adam(model.parameters(), lr=lr)
        curves: dict[str, list[float | None]] = {f"{s}_loss": [] for s in ("train", "val", "test")}

        def log() -> None:
            model.eval()
            with torch.no_grad():
                for s in ("train", "val", "test"):
                    x, y = data[s]
                    curves[f"{s}_loss"].append(_r(float(F.cross_entropy(model(x).flatten(0, 1), y.flatten()))))
            model.train()

        log()
        g = torch.Generator().manual_seed(i)
        xtr, ytr = data["train"]
        for _ in range(40 if not quick else 5):
            perm = torch.randperm(len(xtr), generator=g)
            for j in range(0, len(xtr), 32):
                idx = perm[j:j + 32]
                loss = F.cross_entropy(model(xtr[idx]).flatten(0, 1), ytr[idx].flatten())
                optim.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optim.step()
            log()
        runs.append({"family": "charlm", "config": {"hidden": hid, "lr": lr, "dropout": drop, "seq": seq,
                                                     "train_chars": int(len(tr)), "text": str(TEXT_FILE)},
                     "x": "epoch", "metrics": curves})
    return runs


def grokking_runs(quick: bool) -> list[dict[str, Any]]:
    p = 23
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    pairs = np.stack([a.ravel(), b.ravel()], 1)
    labels = (pairs[:, 0] + pairs[:, 1]) % p
    grid = [(wd, frac, seed) for wd, frac, seed in ((1.0, 0.5, 0), (1.0, 0.6, 1), (2.0, 0.5, 2), (0.0, 0.5, 3))]
    if quick:
        grid = grid[:1]
    runs = []
    for wd, frac, seed in grid:
        rng = np.random.default_rng(300 + seed)
        perm = rng.permutation(len(pairs))
        ntr = int(frac * len(pairs))
        nva = (len(pairs) - ntr) // 2
        sl = {"train": perm[:ntr], "val": perm[ntr:ntr + nva], "test": perm[ntr + nva:]}
        data = {k: (torch.tensor(pairs[v]), torch.tensor(labels[v])) for k, v in sl.items()}
        torch.manual_seed(300 + seed)
        emb = nn.Embedding(p, 32)
        net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, p))

        def model(x: torch.Tensor) -> torch.Tensor:
            return net(emb(x).flatten(1))

        params = list(emb.parameters()) + list(net.parameters())
        optim = torch.optim.AdamW(params, lr=1e-2, weight_decay=wd, betas=(0.9, 0.98))
        curves: dict[str, list[float | None]] = {f"{s}_{m}": [] for s in ("train", "val", "test")
                                                  for m in ("loss", "acc")}
        steps: list[int] = []
        total, every = (8000 if not quick else 600), 100
        for step in range(total + 1):
            if step % every == 0:
                with torch.no_grad():
                    for s in ("train", "val", "test"):
                        x, y = data[s]
                        out = model(x)
                        curves[f"{s}_loss"].append(_r(float(F.cross_entropy(out, y))))
                        curves[f"{s}_acc"].append(_r(float((out.argmax(1) == y).float().mean())))
                steps.append(step)
            if step == total:
                break
            x, y = data["train"]
            loss = F.cross_entropy(model(x), y)
            optim.zero_grad()
            loss.backward()
            optim.step()
        runs.append({"family": "grokking", "config": {"p": p, "weight_decay": wd, "train_frac": frac,
                                                       "lr": 1e-2, "eval_every_steps": every},
                     "x": "step", "steps": steps, "metrics": curves})
    return runs


FAMILIES: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "digits": digits_runs, "fmnist": fmnist_runs, "charlm": charlm_runs, "grokking": grokking_runs,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "curves" / "cpu-runs.jsonl")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--families", default=",".join(FAMILIES))
    args = ap.parse_args()
    rows = []
    for fam in args.families.split(","):
        t0 = time.process_time()
        runs = FAMILIES[fam](args.quick)
        for k, r in enumerate(runs):
            r["name"] = f"{r['family']}-{k:02d}"
        rows.extend(runs)
        print(f"{fam}: {len(runs)} runs in {time.process_time() - t0:.1f} s CPU", file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        for r in rows:
            fh.write(json.dumps(r, separators=(",", ":")) + "\n")
    tmp.replace(args.out)
    print(f"wrote {len(rows)} runs to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
