"""CPU-scale reproduction attempt of "Deep Learning on a Data Diet" (Paul, Ganguli, Dziugaite, NeurIPS 2021).

Paper's headline: pruning 30-50% of CIFAR-10 (the easiest examples by EL2N, computed early in training and
averaged over seeds) costs <= 1 point of test accuracy, while random pruning of the same fraction costs more.

What this script does (no GPU in this session, so a small CNN, a 10,000-image training subset, 16x16 inputs,
one CPU thread):
  1. trains the CNN on the full subset with R seeds; after epoch --score-epoch each run records an eval pass
     over the training set with gapwatch's ExampleRecorder (``record_eval_pass``) -> one ExampleTable per seed.
     These full-set runs are also the fraction-0 baseline.
  2. for each pruning fraction keeps ``prune(tables, f, by="el2n", early=1)`` (EL2N at that epoch, averaged
     over the R seeds, easiest dropped) vs ``prune(tables, f, by="random", seed=s)`` (same size);
  3. retrains the same CNN from scratch on each kept set for the same number of epochs, R seeds each;
  4. reports test accuracy (all 10,000 CIFAR-10 test images) mean +- spread per (fraction, method).

Labels are the CLEAN CIFAR-10 labels (``clean_label``).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_data_diet.py --n 10000 --epochs 15 --seeds 3

Per-run results are cached in bench/_work/data_diet_runs.json (a rerun with the same settings resumes).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_examples import CLASSES, DATA, ROOT, WORK, load_subset, train


def load_test() -> tuple[np.ndarray, np.ndarray]:
    """All 10,000 CIFAR-10 test images (uint8, N×32×32×3) and labels, decoded once into bench/_work."""
    cache = WORK / "cifar10_test.npz"
    if cache.exists():
        z = np.load(cache)
        return z["X"], z["y"]
    from PIL import Image

    xs, ys = [], []
    with tarfile.open(DATA / "cifar10-jpeg.tar.gz", "r:gz") as tf:
        for m in tf:
            parts = m.name.split("/")
            if len(parts) != 3 or parts[0] != "test" or not m.isfile():
                continue
            f = tf.extractfile(m)
            if f is None:
                raise SystemExit(f"cannot read {m.name}")
            xs.append(np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB")))
            ys.append(CLASSES.index(parts[1]))
    X, y = np.stack(xs), np.asarray(ys, dtype=np.int64)
    if X.shape[0] != 10000:
        raise SystemExit(f"decoded {X.shape[0]} test images, expected 10000")
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(cache, X=X, y=y)
    return X, y


def prep(torch, X: np.ndarray, pool: int, stats=None):  # type: ignore[no-untyped-def]
    """uint8 N×32×32×3 → float N×3×(32/pool)×(32/pool), normalised with ``stats`` (default: X's own)."""
    x = torch.from_numpy(X).permute(0, 3, 1, 2).float().div_(255.0)
    if pool > 1:
        x = torch.nn.functional.avg_pool2d(x, pool)
    if stats is None:
        stats = (x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True))
    return ((x - stats[0]) / stats[1]).contiguous(), stats


def accuracy(torch, model, X, y, batch: int = 1000) -> float:  # type: ignore[no-untyped-def]
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(X[s:s + batch]).argmax(1) for s in range(0, len(X), batch)])
    return float((pred == y).float().mean())


MARKER = "<!-- interpretation (kept on rerun) -->"
METHODS = ("el2n", "random", "el2n_classbal", "el2n_keep_easy")
LABEL = {"el2n": "EL2N (drop easiest)", "random": "random", "el2n_classbal": "EL2N, class-balanced",
         "el2n_keep_easy": "EL2N reversed (drop hardest)"}


def key(args, fraction: float, method: str, seed: int) -> str:  # type: ignore[no-untyped-def]
    return (f"n{args.n}_e{args.epochs}_w{args.width}_p{args.pool}_se{args.score_epoch}_R{args.seeds}"
            f"|f{fraction}|{method}|s{seed}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000,
                    help="training subset size: <= 10000 takes the first n of the cached random 10,000-image "
                         "subset; 50000 is the whole CIFAR-10 training set")
    ap.add_argument("--epochs", type=int, default=15, help="training epochs, the same for every kept set")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds per (fraction, method); also the "
                    "number of runs EL2N is averaged over")
    ap.add_argument("--score-epoch", type=int, default=2, help="EL2N is computed after this epoch")
    ap.add_argument("--fractions", default="0.3,0.5")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--pool", type=int, default=2)
    ap.add_argument("--methods", default=",".join(METHODS), help="subset of " + ",".join(METHODS))
    ap.add_argument("--no-train", action="store_true", help="only write the report from cached runs")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "data_diet.md")
    args = ap.parse_args()
    if not 1 <= args.score_epoch <= args.epochs:
        raise SystemExit(f"--score-epoch must be in 1..{args.epochs}, got {args.score_epoch}")
    import torch

    from gapwatch.examples import ExampleRecorder, prune, read_table, write_table
    from gapwatch.examples.record import record_eval_pass

    torch.set_num_threads(1)
    t_start = time.time()
    if not (1 <= args.n <= 10000 or args.n == 50000):
        raise SystemExit(f"--n must be in 1..10000 (the cached subset) or 50000 (all of CIFAR-10), got {args.n}")
    data = {k: v[:args.n] for k, v in load_subset(10000 if args.n <= 10000 else 50000, 0).items()}
    X, stats = prep(torch, data["X"], args.pool)
    y = torch.from_numpy(data["clean"].astype(np.int64))
    Xte_np, yte_np = load_test()
    Xte, _ = prep(torch, Xte_np, args.pool, stats)
    yte = torch.from_numpy(yte_np)
    n = args.n
    fractions = [float(f) for f in args.fractions.split(",")]

    cache_path = WORK / "data_diet_runs.json"
    runs: dict = json.loads(cache_path.read_text()) if cache_path.exists() else {}

    def save() -> None:
        cache_path.write_text(json.dumps(runs, indent=1))

    # ---- 1. full-set runs (fraction 0) that also score EL2N after --score-epoch
    tables = []
    for s in range(args.seeds):
        tpath = WORK / (f"data_diet_table_n{n}_e{args.epochs}_w{args.width}_p{args.pool}"
                        f"_se{args.score_epoch}_s{s}.parquet")
        k = key(args, 0.0, "full", s)
        if k in runs and tpath.exists():
            tables.append(read_table(tpath))
            continue
        rec = ExampleRecorder(None, n=n, num_classes=10, run=s, start_epoch=args.score_epoch)
        idx = torch.arange(n)

        def on_epoch(ep, model, rec=rec, idx=idx):  # type: ignore[no-untyped-def]
            if ep == args.score_epoch:
                loader = [(idx[b:b + 1000], (X[b:b + 1000], y[b:b + 1000])) for b in range(0, n, 1000)]
                record_eval_pass(model, loader, rec)

        t0 = time.process_time()
        model, _ = train(torch, X, y, args.epochs, 1000 + s, width=args.width, on_epoch=on_epoch)
        cpu = time.process_time() - t0
        t = rec.table()
        write_table(t, tpath, overwrite=True)
        tables.append(t)
        runs[k] = {"acc": accuracy(torch, model, Xte, yte), "train_acc": accuracy(torch, model, X, y),
                   "kept": n, "cpu_s": cpu}
        save()
        print(k, runs[k], flush=True)

    ex_tables = tables  # one ExampleTable per seed, one epoch (the scoring epoch) each

    # ---- 2./3. pruned sets, retrained from scratch for the same number of epochs
    from gapwatch.examples import score_table

    el2n_mean = score_table(ex_tables, early=1)[0]["el2n"]  # the score prune(by="el2n") uses
    labels = data["clean"]
    # class-balanced variant (not in the paper's main results): EL2N percentile within its class, so the same
    # share is dropped from every class
    pct = np.zeros(n)
    for c in range(10):
        m = np.flatnonzero(labels == c)
        pct[m] = (np.argsort(np.argsort(el2n_mean[m], kind="stable"), kind="stable") + 0.5) / m.size
    keep_stats: dict = {}
    methods = args.methods.split(",")
    for method in methods:
        if method not in METHODS:
            raise SystemExit(f"unknown method '{method}'; choose from {', '.join(METHODS)}")
        for f in fractions:
            for s in range(args.seeds):
                if method == "el2n":
                    keep = prune(ex_tables, f, by="el2n", early=1)
                elif method == "random":
                    keep = prune(ex_tables, f, by="random", seed=s)
                elif method == "el2n_classbal":
                    keep = prune(ex_tables, f, by=pct)
                else:  # keep the easiest instead (Sorscher et al. 2022: better when data is scarce)
                    keep = prune(ex_tables, f, by=-el2n_mean)
                if method in ("el2n", "el2n_classbal") and s == 0:
                    dropped = np.setdiff1d(np.arange(n), keep)
                    keep_stats[(method, f)] = np.bincount(labels[dropped], minlength=10).tolist()
                k = key(args, f, method, s)
                if k in runs or args.no_train:
                    continue
                kt = torch.from_numpy(keep)
                t0 = time.process_time()
                model, _ = train(torch, X[kt], y[kt], args.epochs, 1000 + s, width=args.width)
                cpu = time.process_time() - t0
                runs[k] = {"acc": accuracy(torch, model, Xte, yte), "train_acc": accuracy(torch, model, X, y),
                           "kept": int(keep.size), "cpu_s": cpu}
                save()
                print(k, runs[k], flush=True)

    # seed-agreement of the EL2N ranking (Spearman between per-seed scores)
    from scipy.stats import spearmanr

    el = [np.asarray(t.el2n)[0] for t in tables]
    rho = [float(spearmanr(el[i], el[j])[0]) for i in range(len(el)) for j in range(i + 1, len(el))]
    md = write_md(args, runs, fractions, keep_stats, rho, time.time() - t_start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.exists() and MARKER in args.out.read_text():  # keep the hand-written interpretation
        md += "\n\n" + MARKER + args.out.read_text().split(MARKER, 1)[1].rstrip("\n")
    args.out.write_text(md + "\n")
    print(md)


def write_md(args, runs, fractions, keep_stats, rho, wall) -> str:  # type: ignore[no-untyped-def]
    cpu = subprocess.run("lscpu | grep 'Model name'", check=False, shell=True, capture_output=True, text=True).stdout
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True,
                          cwd=ROOT).stdout.strip()

    def accs(f: float, m: str) -> np.ndarray:
        return np.array([runs[key(args, f, m, s)]["acc"] for s in range(args.seeds)
                         if key(args, f, m, s) in runs])

    full = accs(0.0, "full")
    total_cpu = sum(v["cpu_s"] for k, v in runs.items() if k.startswith(key(args, 0, "x", 0).split("|")[0]))
    L = ["# Data Diet pruning (EL2N vs random) on CIFAR-10, CPU scale", "",
         (f"- command: `OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_data_diet.py --n {args.n} "
         f"--epochs {args.epochs} --seeds {args.seeds} --score-epoch {args.score_epoch} --fractions "
         f"{args.fractions} --width {args.width} --pool {args.pool}`"),
         (f"- machine: {cpu.split(':')[-1].strip()} (2 cores shared with other jobs; torch single-threaded), "
         "no GPU"),
         (f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {head} (plus the working tree); "
         f"wall {wall:.0f} s for this invocation; {total_cpu:.0f} CPU s of training in all runs"),
         (f"- data: {args.n} random CIFAR-10 training images (seed 0 subset, the one bench_examples.py caches) "
         f"with their CLEAN labels; test = all 10,000 CIFAR-10 test images; images average-pooled to "
         f"{32 // args.pool}×{32 // args.pool}, normalised with the training subset's statistics."),
         (f"- model: small CNN (3 conv layers, widths {args.width}/{2 * args.width}/{4 * args.width}, global "
         f"average pool, linear; bench_examples.make_model), SGD momentum 0.9, one-cycle lr 0.05, weight decay "
         f"5e-4, batch 64, random flips, {args.epochs} epochs for every kept set (so fewer SGD steps on "
         "smaller sets)."),
         (f"- EL2N: ‖softmax − one-hot‖₂ of every training example from an eval pass after epoch "
         f"{args.score_epoch} of the {args.seeds} full-set runs (gapwatch `ExampleRecorder` + "
         f"`record_eval_pass`), averaged over the {args.seeds} runs; kept set = "
         "`prune(tables, f, by=\"el2n\", early=1)`. Random baseline = `prune(tables, f, by=\"random\", "
         "seed=s)`: a different random subset for each training seed s."),
         (f"- {args.seeds} training seeds per row (the full-set runs double as the scoring runs). Spread = "
         "sample standard deviation over seeds (min–max in brackets)."), "",
         ("| pruned | method | kept | test accuracy % (mean ± sd [min–max]) | Δ vs full (points) | "
         f"accuracy % on all {args.n:,} training images (kept + dropped) |"), "|---|---|---|---|---|---|"]

    def row(f: float, m: str, label: str) -> None:
        a = accs(f, m)
        if a.size == 0:
            L.append(f"| {int(100 * f)}% | {label} | – | not run | – | – |")
            return
        tr = np.mean([runs[key(args, f, m, s)]["train_acc"] for s in range(args.seeds)
                      if key(args, f, m, s) in runs])
        kept = runs[key(args, f, m, 0)]["kept"] if key(args, f, m, 0) in runs else "?"
        sd = a.std(ddof=1) if a.size > 1 else float("nan")
        d = (f"{100 * (a.mean() - full.mean()):+.2f}" if full.size and f > 0 else "0")
        L.append(f"| {int(100 * f)}% | {label} | {kept} | {100 * a.mean():.2f} ± {100 * sd:.2f} "
                 f"[{100 * a.min():.2f}–{100 * a.max():.2f}] (n={a.size}) | {d} | {100 * tr:.1f} |")

    row(0.0, "full", "none (full subset)")
    for f in fractions:
        for m in METHODS:
            row(f, m, LABEL[m])
    L += ["", "- Spearman correlation of per-seed EL2N scores between seeds: "
          + ", ".join(f"{r:.2f}" for r in rho) + ".",
          "- examples dropped per class (airplane…truck): "
          + "; ".join(f"{m} {int(100 * f)}%: {v}" for (m, f), v in keep_stats.items()) + "."]
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
