"""The embedded demo: a small MLP on scikit-learn's bundled digits with 30% of training labels flipped.

It trains the way a user's run would (mini-batches, an evaluation per epoch) with a live
:class:`~gapwatch.integrations.torch.TorchGuard` watching validation accuracy: the guard writes the history
(``log.jsonl``) as it goes, prints findings when they appear, stops the run when validation accuracy has
significantly degraded, and restores the best weights. The demo then reports what that saved (test accuracy of
the last trained epoch vs the restored model, epochs not trained), analyses its own log and writes the HTML
report. With ``full=True`` it trains every epoch anyway (the guard only watches), to show what not stopping
costs. No download: the digits ship with scikit-learn. Needs ``gapwatch[demo]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .errors import require

#: Fraction of training labels replaced by a different random class.
NOISE_FRACTION = 0.30
#: The demo monitors validation accuracy: with flipped labels the validation *loss* of this network stays
#: nearly flat for tens of epochs while accuracy on clean labels falls (the net grows confident on the
#: memorised wrong labels), so accuracy is the metric that shows the damage.
MONITOR = "val_acc"


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


def make_model(seed: int = 0) -> Any:
    """The demo network: 64 → 256 → 256 → 10 MLP (ReLU)."""
    torch = require("torch", "demo")
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                               torch.nn.ReLU(), torch.nn.Linear(256, 10))


def train_demo(out: Path, *, epochs: int = 120, seed: int = 0, full: bool = False, verbose: bool = True,
               printer: Any = None) -> dict[str, Any]:
    """Train with the guard; returns a summary dict (also used by tests and the benchmark).

    Keys: ``log``, ``epochs``, ``trained_epochs``, ``stop_epoch`` (None when the guard never said stop),
    ``best_epoch``, ``final_test_acc`` (last trained epoch), ``restored_test_acc``, ``guard`` (the TorchGuard).
    """
    torch = require("torch", "demo")
    from .integrations.torch import TorchGuard

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.jsonl"
    d = make_data(seed)
    model = make_model(seed)
    Xtr, ytr = torch.from_numpy(d["X_tr"]), torch.from_numpy(d["y_tr"]).long()
    Xva, yva = torch.from_numpy(d["X_va"]), torch.from_numpy(d["y_va"]).long()
    Xte, yte = torch.from_numpy(d["X_te"]), torch.from_numpy(d["y_te"]).long()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    # the demo directory is gapwatch's own output, so re-running the demo replaces its log
    guard = TorchGuard(model, opt, monitor=MONITOR, log=log_path, overwrite=True, restore_on_stop=False,
                       verbose=verbose, run="demo", printer=printer)

    def test_acc() -> float:
        model.eval()
        with torch.no_grad():
            return float((model(Xte).argmax(1) == yte).float().mean())

    step = 0
    stop_epoch = None
    trained = 0
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
        trained = epoch
        model.eval()
        with torch.no_grad():
            lv = model(Xva)
        dec = guard.observe(step=step, epoch=epoch, train_loss=tot / len(ytr), train_acc=correct / len(ytr),
                            val_loss=float(lossf(lv, yva)), val_acc=float((lv.argmax(1) == yva).float().mean()))
        if dec.stop and stop_epoch is None:
            stop_epoch = epoch
            if not full:
                break
    final_acc = test_acc()
    meta = guard.finish()  # restores the best weights, closes the log
    return {"log": log_path, "epochs": epochs, "trained_epochs": trained, "stop_epoch": stop_epoch,
            "best_epoch": None if meta is None else meta.get("epoch"), "final_test_acc": final_acc,
            "restored_test_acc": test_acc(), "kept": guard.keeper.where, "guard": guard}


def run_demo(out: Path, *, epochs: int = 120, seed: int = 0, full: bool = False) -> Path:
    """Train with the guard, print what it saved, analyse the log, write ``out/report.html``."""
    require("torch", "demo")
    from rich.console import Console

    from .analysis import analyze
    from .monitor import parse_monitor
    from .readers import load
    from .report.html import write_html
    from .report.terminal import render

    con = Console()
    out = Path(out)
    report = out / "report.html"
    con.print(f"[bold]gapwatch demo[/bold]: MLP on digits, {int(NOISE_FRACTION * 100)}% of training labels "
              f"flipped, up to {epochs} epochs; the guard watches {MONITOR}"
              + (" (and only watches: --full)" if full else ""))
    with con.status("training (findings appear as they arise)…"):
        s = train_demo(out, epochs=epochs, seed=seed, full=full, printer=con.print)
    _print_summary(con, s)
    result = analyze(load(s["log"]), monitor=parse_monitor(MONITOR))
    render(result, con)
    write_html(result, report, overwrite=True)
    con.print(f"log: [bold]{s['log']}[/bold]\nreport: [bold]{report}[/bold]")
    return report


def _print_summary(con: Any, s: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title="what the guard saved", show_header=True, header_style="bold")
    t.add_column("")
    t.add_column("epoch", justify="right")
    t.add_column("test accuracy (clean labels)", justify="right")
    last = "last trained epoch" + (" (guard stopped here)" if s["stop_epoch"] == s["trained_epochs"] else "")
    t.add_row(last, str(s["trained_epochs"]), f"{s['final_test_acc']:.1%}")
    be = s["best_epoch"]
    t.add_row(f"restored best (kept in {s['kept']})", "-" if be is None else f"{be:g}",
              f"{s['restored_test_acc']:.1%}")
    con.print(t)
    if s["stop_epoch"] is None:
        con.print("the guard never said stop")
    elif s["trained_epochs"] < s["epochs"]:
        skipped = s["epochs"] - s["trained_epochs"]
        con.print(f"epochs not trained: [bold]{skipped}[/bold] of {s['epochs']} "
                  f"({skipped / s['epochs']:.0%} of the planned compute); restoring gained "
                  f"{100 * (s['restored_test_acc'] - s['final_test_acc']):+.1f} test-accuracy points. "
                  "Run `gapwatch demo --full` to see what training on would have cost.")
    else:
        con.print(f"--full: the guard said stop at epoch {s['stop_epoch']}; training all {s['epochs']} epochs "
                  f"spent {s['epochs'] - s['stop_epoch']} more and the last epoch is "
                  f"{100 * (s['final_test_acc'] - s['restored_test_acc']):+.1f} test-accuracy points vs the "
                  "restored best")
