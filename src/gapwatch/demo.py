"""The embedded demo: a small MLP on scikit-learn's bundled digits with 30% of training labels flipped.

It trains the way a user's run would (mini-batches, an evaluation per epoch, a JSONL log), then analyses its own
log and writes the HTML report. No download: the digits ship with scikit-learn. Needs ``gapwatch[demo]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import require

#: Fraction of training labels replaced by a different random class.
NOISE_FRACTION = 0.30


def make_data(seed: int = 0) -> dict[str, np.ndarray]:
    """Digits split into train (1000, labels flipped), val (400) and test (397, clean), standardised."""
    datasets = require("sklearn.datasets", "demo", "scikit-learn")
    X, y = datasets.load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))
    X = (X / 16.0).astype(np.float32)
    tr, va, te = idx[:1000], idx[1000:1400], idx[1400:]
    y_tr = y[tr].copy()
    flip = rng.random(len(tr)) < NOISE_FRACTION
    y_tr[flip] = (y_tr[flip] + rng.integers(1, 10, flip.sum())) % 10
    return {"X_tr": X[tr], "y_tr": y_tr, "y_tr_clean": y[tr], "flipped": flip, "X_va": X[va], "y_va": y[va],
            "X_te": X[te], "y_te": y[te]}


def run_demo(out: Path, *, epochs: int = 120, seed: int = 0) -> Path:
    """Train, log to ``out/log.jsonl``, analyse, write ``out/report.html``; returns the report path."""
    torch = require("torch", "demo")
    from rich.console import Console
    from rich.progress import Progress

    from .analysis import analyze
    from .readers import load
    from .report.html import write_html
    from .report.terminal import render

    con = Console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.jsonl"
    report = out / "report.html"
    torch.manual_seed(seed)
    d = make_data(seed)
    Xtr, ytr = torch.from_numpy(d["X_tr"]), torch.from_numpy(d["y_tr"]).long()
    sets = {"val": (torch.from_numpy(d["X_va"]), torch.from_numpy(d["y_va"]).long()),
            "test": (torch.from_numpy(d["X_te"]), torch.from_numpy(d["y_te"]).long())}
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    step = 0
    lines = []
    with Progress(console=con, transient=True) as prog:
        task = prog.add_task("training on digits (30% flipped labels)", total=epochs)
        for epoch in range(1, epochs + 1):
            model.train()
            perm = torch.randperm(len(ytr), generator=gen)
            tot, correct = 0.0, 0
            for i in range(0, len(perm), 64):
                b = perm[i:i + 64]
                opt.zero_grad()
                logits = model(Xtr[b])
                loss = lossf(logits, ytr[b])
                loss.backward()
                opt.step()
                step += 1
                tot += loss.item() * len(b)
                correct += int((logits.argmax(1) == ytr[b]).sum())
            rec = {"epoch": epoch, "step": step, "train_loss": tot / len(ytr), "train_acc": correct / len(ytr)}
            model.eval()
            with torch.no_grad():
                for name, (X, y) in sets.items():
                    lg = model(X)
                    rec[f"{name}_loss"] = float(lossf(lg, y))
                    rec[f"{name}_acc"] = float((lg.argmax(1) == y).float().mean())
            lines.append(json.dumps(rec))
            prog.advance(task)
    log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = analyze(load(log_path))
    render(result, con)
    write_html(result, report, overwrite=True)
    con.print(f"log: [bold]{log_path}[/bold]\nreport: [bold]{report}[/bold]")
    return report
