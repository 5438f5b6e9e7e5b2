"""The embedded demo: a small MLP on scikit-learn's bundled digits with 30% of training labels flipped.

It trains the way a user's run would (mini-batches, an evaluation per epoch) with a live
:class:`~gapwatch.integrations.torch.TorchGuard` watching validation accuracy: the guard writes the history
(``log.jsonl``) as it goes, prints findings when they appear, stops the run when validation accuracy has
significantly degraded, and restores the best weights. To show what that saved, the demo then keeps training
a copy the way a run without the guard would (to the planned last epoch, logged separately), and reports test
accuracy of that last epoch, of the guard's stop, and of the restored best, plus the epochs the guard would
not have trained; both logs are analysed together and written to the HTML report. No download: the digits
ship with scikit-learn. Needs ``gapwatch[demo]``.
"""

from __future__ import annotations

import json
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
    return {
        "X_tr": X[tr],
        "y_tr": y_tr,
        "y_tr_clean": y[tr],
        "flipped": flip,
        "X_va": X[va],
        "y_va": y[va],
        "X_te": X[te],
        "y_te": y[te],
    }


def make_model(seed: int = 0) -> Any:
    """The demo network: 64 → 256 → 256 → 10 MLP (ReLU)."""
    torch = require("torch", "demo")
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(64, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 256),
        torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )


def train_demo(
    out: Path,
    *,
    epochs: int = 120,
    seed: int = 0,
    compare: bool = True,
    verbose: bool = True,
    printer: Any = None,
) -> dict[str, Any]:
    """Train under the guard until it says stop; returns a summary dict (also used by tests and benchmarks).

    With ``compare=True`` the demo then keeps training the same model to ``epochs`` *without* the guard — what
    a run without gapwatch would have done — and writes that run's log to ``out/without-guard.jsonl`` (the
    guarded run's own log, ``out/log.jsonl``, ends at the stop). A real run would simply stop.

    Keys: ``log``, ``unguarded_log`` (None without compare), ``epochs``, ``stop_epoch`` (None when the guard
    never said stop), ``best_epoch``, ``stop_test_acc`` (test accuracy at the stop), ``final_test_acc``
    (after the last epoch trained: ``epochs`` with compare, else the stop epoch), ``restored_test_acc``,
    ``kept`` (memory/disk), ``guard`` (the TorchGuard).
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
    # a network this small trains fastest on one thread; more threads only contend on a busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # the demo directory is gapwatch's own output, so re-running the demo replaces its logs
    guard = TorchGuard(
        model,
        opt,
        monitor=MONITOR,
        log=log_path,
        overwrite=True,
        restore_on_stop=False,
        verbose=verbose,
        run="with-guard",
        printer=printer,
    )

    def test_acc() -> float:
        model.eval()
        with torch.no_grad():
            return float((model(Xte).argmax(1) == yte).float().mean())

    step = 0

    def one_epoch(epoch: int) -> dict[str, float]:
        nonlocal step
        model.train()
        perm = torch.randperm(len(ytr), generator=gen)
        tot, correct = 0.0, 0
        for i in range(0, len(perm), 64):
            b = perm[i : i + 64]
            opt.zero_grad()
            logits = model(Xtr[b])
            loss = lossf(logits, ytr[b])
            loss.backward()
            opt.step()
            step += 1
            tot += loss.item() * len(b)
            correct += int((logits.argmax(1) == ytr[b]).sum())
        model.eval()
        with torch.no_grad():
            lv = model(Xva)
        return {
            "train_loss": tot / len(ytr),
            "train_acc": correct / len(ytr),
            "val_loss": float(lossf(lv, yva)),
            "val_acc": float((lv.argmax(1) == yva).float().mean()),
        }

    stop_epoch = None
    epoch = 0
    records: list[dict[str, Any]] = []
    while epoch < epochs:
        epoch += 1
        m = one_epoch(epoch)
        records.append({"epoch": epoch, "step": step, **m})
        if guard.observe(step=step, epoch=epoch, **m).stop:
            stop_epoch = epoch
            break
    stop_acc = test_acc()
    guard.guard.close()  # the guarded run ends here: its log is complete
    unguarded = None
    if compare and epoch < epochs:
        # what a run without the guard would have done: keep training to the planned end
        while epoch < epochs:
            epoch += 1
            m = one_epoch(epoch)
            records.append({"epoch": epoch, "step": step, **m})
        unguarded = out / "without-guard.jsonl"
        unguarded.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    final_acc = test_acc()
    meta = guard.restore()
    restored_acc = test_acc()
    torch.set_num_threads(threads)
    return {
        "log": log_path,
        "unguarded_log": unguarded,
        "epochs": epochs,
        "stop_epoch": stop_epoch,
        "best_epoch": None if meta is None else meta.get("epoch"),
        "stop_test_acc": stop_acc,
        "final_epoch": epoch,
        "final_test_acc": final_acc,
        "restored_test_acc": restored_acc,
        "kept": guard.keeper.where,
        "guard": guard,
    }


def run_demo(out: Path, *, epochs: int = 120, seed: int = 0, compare: bool = True) -> Path:
    """Train with the guard, print what it saved, analyse the logs, write ``out/report.html``."""
    require("torch", "demo")
    from rich.console import Console

    from .analysis import analyze
    from .history import History
    from .monitor import parse_monitor
    from .readers import load
    from .report.html import write_html
    from .report.terminal import render

    con = Console()
    out = Path(out)
    report = out / "report.html"
    con.print(
        f"[bold]gapwatch demo[/bold]: MLP on digits, {int(NOISE_FRACTION * 100)}% of training labels "
        f"flipped, up to {epochs} epochs; a live guard watches {MONITOR}"
    )
    with con.status("training (findings appear as they arise)…"):
        s = train_demo(out, epochs=epochs, seed=seed, compare=compare, printer=con.print)
    runs = [load(s["log"]).with_run_name("with-guard")]
    if s["unguarded_log"] is not None:
        runs.append(load(s["unguarded_log"]).with_run_name("without-guard"))
    result = analyze(History.concat(runs), monitor=parse_monitor(MONITOR))
    render(result, con)
    _print_summary(con, s)
    write_html(result, report, overwrite=True)
    con.print(
        f"logs: [bold]{s['log']}[/bold] (written live by the guard)"
        + (f", [bold]{s['unguarded_log']}[/bold]" if s["unguarded_log"] else "")
        + f"\nreport: [bold]{report}[/bold]"
    )
    return report


def _print_summary(con: Any, s: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title="what the guard saved", show_header=True, header_style="bold")
    t.add_column("model")
    t.add_column("epoch", justify="right")
    t.add_column("test accuracy (clean labels)", justify="right")
    if s["final_epoch"] != s["stop_epoch"]:
        t.add_row("without the guard: last epoch", str(s["final_epoch"]), f"{s['final_test_acc']:.1%}")
    if s["stop_epoch"] is not None:
        t.add_row("guard stopped here", str(s["stop_epoch"]), f"{s['stop_test_acc']:.1%}")
    be = s["best_epoch"]
    t.add_row(
        f"restored best (kept in {s['kept']})",
        "-" if be is None else f"{be:g}",
        f"{s['restored_test_acc']:.1%}",
        style="bold green",
    )
    con.print(t)
    if s["stop_epoch"] is None:
        con.print("the guard never said stop: no significant overfitting in this run")
        return
    skipped = s["epochs"] - s["stop_epoch"]
    gain = 100 * (s["restored_test_acc"] - s["final_test_acc"])
    con.print(
        f"epochs not trained: [bold]{skipped}[/bold] of {s['epochs']} ({skipped / s['epochs']:.0%} of the "
        f"planned compute); the restored model is [bold]{gain:+.1f}[/bold] test-accuracy points vs the "
        f"last epoch {'of the full run' if s['final_epoch'] != s['stop_epoch'] else 'trained'}"
    )
