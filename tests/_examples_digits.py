"""Shared generator for the digits tests: a real network on real digits with flipped labels (known truth)."""

from __future__ import annotations

import numpy as np


def noisy_digits(n: int = 600, noise: float = 0.3, seed: int = 0) -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))[:n]
    yc = y[idx]
    flip = rng.random(n) < noise
    yn = yc.copy()
    yn[flip] = (yn[flip] + rng.integers(1, 10, int(flip.sum()))) % 10
    return {"X": (X[idx] / 16.0).astype(np.float32), "clean": yc, "noisy": yn, "flipped": flip}


def train_recorded(X: np.ndarray, labels: np.ndarray, *, hidden: int, epochs: int, classes: int = 10,
                   seed: int = 0, batch: int = 100, lr: float = 1e-3):  # type: ignore[no-untyped-def]
    """Adam-trained 2-hidden-layer MLP; per-example records of the training forward pass every epoch."""
    import torch

    from gapwatch.examples.record import ExampleRecorder

    torch.manual_seed(seed)
    n = len(labels)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, classes))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    Xt, Y = torch.from_numpy(X), torch.from_numpy(np.asarray(labels, dtype=np.int64))
    rec = ExampleRecorder(None, n=n, num_classes=classes, store_probs=False)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for s in range(0, n, batch):
            b = perm[s:s + batch]
            z = model(Xt[b])
            loss = torch.nn.functional.cross_entropy(z, Y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            rec.record(b, z, Y[b])
        rec.end_epoch()
    return rec.table(), model
