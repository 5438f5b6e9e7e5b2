"""CPU-scale benchmark of gapwatch.examples on real human label noise (CIFAR-10N) vs cleanlab.

The issue asks for ResNet-18 on the full CIFAR-10 on a GPU; this session has no GPU, so this is an honest
CPU-scale version: a small CNN, a random subset of the training images, single-threaded.

For each labelling (aggre ≈ 9% wrong, worse ≈ 40% wrong):
  * ONE training run with the in-loop ExampleRecorder → every gapwatch score → AUROC / AP of mislabel detection
    (ground truth: noisy label != clean label), plus the precision / recall of the suggested cut-off.
  * cleanlab: K-fold out-of-sample probabilities from the same architecture and epochs →
    get_label_quality_scores (AUROC / AP) and find_label_issues (precision / recall).
  * compute (CPU seconds of training) of each.
Then GraNd throughput: vmap vs a naive per-example loop vs plain batched forward+backward.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_examples.py --n 6000 --epochs 12 --folds 3

Images are decoded once from ../shared/data/cifar10-jpeg.tar.gz into bench/_work/ (gitignored).
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
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
WORK = ROOT / "bench" / "_work"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def load_subset(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """n random CIFAR-10 training images (uint8, N×32×32×3) with clean / aggre / worse labels."""
    cache = WORK / f"cifar10n_subset_n{n}_s{seed}.npz"
    if cache.exists():
        z = np.load(cache)
        return {k: z[k] for k in z.files}
    from PIL import Image

    lab = np.load(DATA / "cifar10n-labels.npz")
    clean = lab["clean_label"]
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(clean.shape[0], size=n, replace=False))
    # training index i with clean label c is train/<c>/<k:04d>.jpg, k = earlier indices with the same label
    k_of = np.zeros_like(clean)
    for c in range(10):
        pos = np.flatnonzero(clean == c)
        k_of[pos] = np.arange(pos.size)
    want = {f"train/{CLASSES[clean[i]]}/{k_of[i]:04d}.jpg": j for j, i in enumerate(chosen)}
    X = np.zeros((n, 32, 32, 3), dtype=np.uint8)
    got = 0
    with tarfile.open(DATA / "cifar10-jpeg.tar.gz", "r:gz") as tf:
        for m in tf:
            j = want.get(m.name)
            if j is None:
                continue
            f = tf.extractfile(m)
            assert f is not None
            X[j] = np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))
            got += 1
    if got != n:
        raise SystemExit(f"decoded {got} of {n} images")
    out = {"X": X, "train_index": chosen, "clean": clean[chosen], "aggre": lab["aggre_label"][chosen],
           "worse": lab["worse_label"][chosen]}
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


def make_model(torch, width: int = 32):  # type: ignore[no-untyped-def]
    nn = torch.nn
    w = width
    return nn.Sequential(
        nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(4 * w, 10))


POOL = 2  # input downsampling (2 → 16×16 images) to fit the CPU budget; set by --pool


def to_tensor(torch, X: np.ndarray):  # type: ignore[no-untyped-def]
    x = torch.from_numpy(X).permute(0, 3, 1, 2).float().div_(255.0)
    if POOL > 1:
        x = torch.nn.functional.avg_pool2d(x, POOL)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / std


def train(torch, X, y, epochs: int, seed: int, *, recorder=None, idx=None, width: int = 32,  # type: ignore[no-untyped-def]
          on_epoch=None, batch: int = 64, lr: float = 0.05):
    """SGD (momentum 0.9, cosine lr), random horizontal flips; records the training forward pass."""
    torch.manual_seed(seed)
    model = make_model(torch, width)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    steps = epochs * ((len(y) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(seed)
    rec_time = 0.0
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(y), generator=g)
        for s in range(0, len(y), batch):
            b = perm[s:s + batch]
            xb = X[b]
            flip = torch.rand(len(b), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            logits = model(xb)
            loss = torch.nn.functional.cross_entropy(logits, y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if recorder is not None:
                t0 = time.process_time()
                recorder.record(idx[b], logits, y[b])
                rec_time += time.process_time() - t0
        if recorder is not None:
            recorder.end_epoch()
        if on_epoch is not None:
            on_epoch(ep + 1, model)
    return model, rec_time


def predict(torch, model, X, batch: int = 1000):  # type: ignore[no-untyped-def]
    model.eval()
    with torch.no_grad():
        return torch.cat([torch.softmax(model(X[s:s + batch]), 1) for s in range(0, len(X), batch)]).numpy()


def pr(flag: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = int((flag & truth).sum())
    return tp / max(int(flag.sum()), 1), tp / max(int(truth.sum()), 1)


def run_noise(torch, data, name: str, args) -> dict:  # type: ignore[no-untyped-def]
    from gapwatch.examples.grand import grand, grand_last_layer_model
    from gapwatch.examples.record import ExampleRecorder

    X = to_tensor(torch, data["X"])
    y_np = data[name].astype(np.int64)
    y = torch.from_numpy(y_np)
    truth = y_np != data["clean"]
    n = len(y_np)
    idx = torch.arange(n)
    res: dict = {"labels": name, "n": n, "noise": float(truth.mean())}

    # ---- gapwatch: one run, recorded in the loop; GraNd on the model at the end of the early window
    from gapwatch.examples.scores import early_epochs

    k = early_epochs(args.epochs)
    grand_at: dict = {}

    def on_epoch(ep, model):  # type: ignore[no-untyped-def]
        if ep == k:
            t0 = time.process_time()
            grand_at["grand"] = grand(model, X, y, chunk_size=256)
            grand_at["grand_s"] = time.process_time() - t0
            t0 = time.process_time()
            grand_at["grand_last"] = grand_last_layer_model(model, X, y)
            grand_at["grand_last_s"] = time.process_time() - t0

    rec = ExampleRecorder(None, n=n, num_classes=10)
    t0 = time.process_time()
    model, rec_time = train(torch, X, y, args.epochs, args.seed, recorder=rec, idx=idx, width=args.width,
                            on_epoch=on_epoch)
    train_s = time.process_time() - t0 - grand_at["grand_s"] - grand_at["grand_last_s"]
    table = rec.table()
    from gapwatch.examples import write_table

    write_table(table, WORK / f"table_{name}_n{n}_e{args.epochs}.parquet", overwrite=True)
    np.savez(WORK / f"extra_{name}_n{n}_e{args.epochs}.npz", grand=grand_at["grand"],
             grand_last=grand_at["grand_last"],
             times=np.array([train_s, rec_time, grand_at["grand_s"], grand_at["grand_last_s"]]))
    return score_run(data, name, args, table, grand_at, train_s, rec_time, res)


def score_run(data, name, args, table, grand_at, train_s, rec_time, res):  # type: ignore[no-untyped-def]
    from gapwatch.examples import analyze_examples, auroc, average_precision

    y_np = data[name].astype(np.int64)
    truth = y_np != data["clean"]
    n = len(y_np)
    t0 = time.process_time()
    a = analyze_examples(table, extra_scores={"grand": grand_at["grand"], "grand_last": grand_at["grand_last"]})
    score_s = time.process_time() - t0
    fit_final = float(table.correct[-1].mean())
    res["gapwatch"] = {"train_cpu_s": train_s, "record_cpu_s": rec_time, "score_cpu_s": score_s,
                       "grand_cpu_s": grand_at["grand_s"], "grand_last_cpu_s": grand_at["grand_last_s"],
                       "early_epochs": a.early, "train_acc_final": fit_final,
                       "train_acc_on_noisy_final": float(table.correct[-1][truth].mean()), "scores": {}}
    for s_name, s in a.scores.items():
        direction = -1.0 if s_name in ("aum", "aum_early") else 1.0
        v = np.nan_to_num(direction * s, posinf=1e9)
        res["gapwatch"]["scores"][s_name] = {"auroc": auroc(v, truth), "ap": average_precision(v, truth)}
    flag = np.zeros(n, bool)
    flag[a.likely_mislabeled] = True
    p, r = pr(flag, truth)
    res["gapwatch"]["cutoff"] = {"flagged": int(flag.sum()), "precision": p, "recall": r,
                                 "separability": a.separability, "reliable": a.cutoff_reliable}
    mem = np.zeros(n, bool)
    mem[a.memorized] = True
    res["gapwatch"]["memorized"] = {"count": int(mem.sum()), "precision": pr(mem, truth)[0]}
    res["gapwatch"]["relabel_correct"] = (float(np.mean([data["clean"][i] == c for i, c in
                                                         a.suggested_relabel.items()]))
                                          if a.suggested_relabel else None)

    return res


def cleanlab_probs(torch, data, name, args):  # type: ignore[no-untyped-def]
    """K-fold out-of-sample probabilities (cached in bench/_work) and the training CPU seconds."""
    n = len(data[name])
    cache = WORK / f"oos_{name}_n{n}_e{args.epochs}_k{args.folds}.npz"
    if cache.exists():
        z = np.load(cache)
        return z["probs"], float(z["cpu_s"])
    X = to_tensor(torch, data["X"])
    y = torch.from_numpy(data[name].astype(np.int64))
    rng = np.random.default_rng(args.seed)
    fold = rng.permutation(n) % args.folds
    probs = np.zeros((n, 10))
    t0 = time.process_time()
    for f in range(args.folds):
        tr, te = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        m, _ = train(torch, X[tr], y[tr], args.epochs, args.seed + 1 + f, width=args.width)
        probs[te] = predict(torch, m, X[te])
    cl_train_s = time.process_time() - t0
    np.savez(cache, probs=probs, cpu_s=cl_train_s)
    return probs, cl_train_s


def run_cleanlab(data, name, probs, cl_train_s, args, res):  # type: ignore[no-untyped-def]
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from gapwatch.examples import auroc, average_precision

    y_np = data[name].astype(np.int64)
    truth = y_np != data["clean"]
    t0 = time.process_time()
    q = get_label_quality_scores(y_np, probs)
    issues = find_label_issues(y_np, probs)
    cl_score_s = time.process_time() - t0
    p, r = pr(issues, truth)
    res["cleanlab"] = {"train_cpu_s": cl_train_s, "score_cpu_s": cl_score_s, "folds": args.folds,
                       "auroc": auroc(-q, truth), "ap": average_precision(-q, truth),
                       "find_label_issues": {"flagged": int(issues.sum()), "precision": p, "recall": r},
                       "oos_acc_vs_clean": float((probs.argmax(1) == data["clean"]).mean())}
    return res


def throughput(torch, data, args) -> dict:  # type: ignore[no-untyped-def]
    from gapwatch.examples.grand import grand, grand_last_layer_model, grand_naive

    torch.manual_seed(0)
    model = make_model(torch, args.width)
    # contiguous: Opacus 1.6 returns wrong conv per-sample gradients for the non-contiguous (permuted) tensor
    # that to_tensor makes (found while writing this benchmark; gapwatch's hooks and vmap are right on both)
    X = to_tensor(torch, data["X"][:args.tp_n]).contiguous()
    y = torch.from_numpy(data["aggre"][:args.tp_n].astype(np.int64))
    out = {}

    def timed(fn, n):  # type: ignore[no-untyped-def]
        # CPU seconds of this (single-threaded) process: fair on a machine shared with other jobs
        fn()  # warm-up (vmap / allocator)
        t0 = time.process_time()
        fn()
        return n / (time.process_time() - t0)

    from gapwatch.examples.grand import grand_hooks

    out["grand_vmap"] = timed(lambda: grand(model, X, y, chunk_size=256), len(y))
    out["grand_hooks"] = timed(lambda: grand_hooks(model, X, y, chunk_size=256), len(y))
    m = min(len(y), args.tp_naive)
    out["grand_naive_loop"] = timed(lambda: grand_naive(model, X[:m], y[:m]), m)
    out["grand_last_layer"] = timed(lambda: grand_last_layer_model(model, X, y), len(y))
    try:
        import warnings

        from opacus import GradSampleModule

        warnings.filterwarnings("ignore", message="Full backward hook")
        om = make_model(torch, args.width)
        om.load_state_dict(model.state_dict())
        gm = GradSampleModule(om, loss_reduction="sum")  # hooks run in train mode (no dropout / BN here)
        gm.train()

        def opacus_grand():  # type: ignore[no-untyped-def]
            res = []
            for s in range(0, len(y), 256):
                gm.zero_grad(set_to_none=True)
                for p in gm.parameters():
                    p.grad_sample = None  # type: ignore[attr-defined]  # else Opacus accumulates across calls
                torch.nn.functional.cross_entropy(gm(X[s:s + 256]), y[s:s + 256], reduction="sum").backward()
                res.append(sum(p.grad_sample.reshape(p.grad_sample.shape[0], -1).pow(2).sum(1)
                               for p in gm.parameters()).sqrt().detach())
            return torch.cat(res).numpy()

        out["opacus_per_sample"] = timed(opacus_grand, len(y))
        out["max_abs_diff_opacus_vs_naive_16"] = float(np.max(np.abs(opacus_grand()[:16]
                                                                     - grand_naive(model, X[:16], y[:16]))))
        import opacus

        out["opacus_version"] = opacus.__version__
    except ImportError:
        pass

    def fwd_bwd():  # type: ignore[no-untyped-def]
        model.train()
        for s in range(0, len(y), 256):
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(X[s:s + 256]), y[s:s + 256]).backward()

    out["plain_forward_backward"] = timed(fwd_bwd, len(y))

    def fwd():  # type: ignore[no-untyped-def]
        with torch.no_grad():
            for s in range(0, len(y), 256):
                model(X[s:s + 256])

    out["forward_only_el2n"] = timed(fwd, len(y))
    try:
        ref = grand_naive(model, X[:16], y[:16])
        out["max_abs_diff_vmap_vs_naive_16"] = float(np.max(np.abs(grand(model, X[:16], y[:16]) - ref)))
        out["max_abs_diff_hooks_vs_naive_16"] = float(np.max(np.abs(grand_hooks(model, X[:16], y[:16]) - ref)))
    except Exception as exc:  # pragma: no cover
        out["check_error"] = str(exc)
    return out


def write_md(results: list[dict], tp: dict, args, wall: float) -> str:  # type: ignore[no-untyped-def]
    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True, text=True).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=ROOT).stdout.strip()
    L = ["# Per-example scores on real label noise (CIFAR-10N), CPU scale", "",
         f"- command: `OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_examples.py --n {args.n} "
         f"--epochs {args.epochs} --folds {args.folds} --width {args.width} --pool {args.pool}`",
         f"- machine: {cpu.split(':')[-1].strip()} (2 cores shared with other jobs; torch single-threaded), no GPU",
         f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {head} (plus the working tree); "
         + ("scores recomputed with --rescore from the tables, out-of-sample probabilities and throughput "
            "recorded by the earlier full run (CPU seconds below are from that run)" if args.rescore
            else f"wall time {wall:.0f} s (CPU seconds below are this process's own)"),
         f"- data: {args.n} random CIFAR-10 training images (seed {args.seed}), average-pooled to "
         f"{32 // args.pool}×{32 // args.pool}, with their CIFAR-10N labels; "
         f"ground truth = noisy label ≠ clean label.",
         f"- model: small CNN (3 conv layers, widths {args.width}/{2*args.width}/{4*args.width}, global average "
         f"pool, linear), SGD momentum 0.9, one-cycle lr 0.05, weight decay 5e-4, batch 64, flips, "
         f"{args.epochs} epochs; this is NOT the issue's ResNet-18 / full CIFAR-10 / GPU setting.",
         "- gapwatch: one run, per-example loss/margin/EL2N recorded on the training forward pass; GraNd at the "
         "end of the early window (first quarter of epochs).",
         f"- cleanlab {_cl_version()}: {args.folds}-fold out-of-sample probabilities from the same architecture "
         "and epochs; `get_label_quality_scores` (self-confidence) for AUROC/AP, `find_label_issues` for the "
         "flagged set.", ""]
    for r in results:
        g, c = r["gapwatch"], r["cleanlab"]
        L += [f"## `{r['labels']}` labels ({100 * r['noise']:.1f}% wrong among these {r['n']})", "",
              "| method | AUROC | AP | training CPU s |", "|---|---|---|---|"]
        order = sorted(g["scores"].items(), key=lambda kv: -kv[1]["auroc"])
        for name, v in order:
            extra = ""
            if name == "grand":
                extra = f" (+{g['grand_cpu_s']:.0f} s GraNd)"
            if name == "grand_last":
                extra = f" (+{g['grand_last_cpu_s']:.1f} s)"
            bold = "**" if name == "mislabel" else ""
            L.append(f"| {bold}gapwatch {name}{bold} | {v['auroc']:.3f} | {v['ap']:.3f} | "
                     f"{g['train_cpu_s']:.0f}{extra} |")
        L.append(f"| cleanlab quality score ({c['folds']}-fold) | {c['auroc']:.3f} | {c['ap']:.3f} | "
                 f"{c['train_cpu_s']:.0f} |")
        gc, fl = g["cutoff"], c["find_label_issues"]
        rel = ("reported reliable" if gc.get("reliable") else "reported UNRELIABLE (no separate low group)")
        L += ["", f"- default ranking `mislabel` = early AUM over the first {g['early_epochs']} of {args.epochs} "
              "epochs (window chosen without labels).",
              f"- gapwatch suggested cut-off: {gc['flagged']} flagged, precision {gc['precision']:.3f}, "
              f"recall {gc['recall']:.3f}, separability {gc.get('separability', float('nan')):.2f}, {rel}; "
              f"cleanlab find_label_issues: {fl['flagged']} flagged, precision "
              f"{fl['precision']:.3f}, recall {fl['recall']:.3f}.",
              f"- memorised set: {g['memorized']['count']} examples, {100 * g['memorized']['precision']:.1f}% "
              f"truly mislabelled; final training accuracy on the given labels {g['train_acc_final']:.3f} "
              f"(on the wrong labels {g['train_acc_on_noisy_final']:.3f}).",
              f"- suggested relabel equals the clean label for {_pct(g['relabel_correct'])} of the flagged "
              "examples that got one.",
              f"- recording overhead: {g['record_cpu_s']:.1f} CPU s of {g['train_cpu_s']:.0f} s training; "
              f"scoring {g['score_cpu_s']:.2f} s. cleanlab out-of-sample accuracy vs clean labels "
              f"{c['oos_acc_vs_clean']:.3f}.", ""]
    L += [f"## GraNd throughput (CPU, 1 thread, {args.tp_n} examples, naive loop on {args.tp_naive}; same CNN "
          "at init, 16×16 inputs)", "",
          "| method | examples / s |", "|---|---|"]
    for k in ("grand_vmap", "grand_hooks", "opacus_per_sample", "grand_naive_loop", "grand_last_layer",
              "plain_forward_backward", "forward_only_el2n"):
        if k in tp:
            L.append(f"| {k} | {tp[k]:.0f} |")
    hk = tp.get("grand_hooks")
    L += ["", f"- vmap / naive loop: {tp['grand_vmap'] / tp['grand_naive_loop']:.1f}×; vmap / plain "
          f"forward+backward: {100 * tp['grand_vmap'] / tp['plain_forward_backward']:.0f}%"
          + (f"; hooks / naive loop: {hk / tp['grand_naive_loop']:.1f}×; hooks / plain forward+backward: "
             f"{100 * hk / tp['plain_forward_backward']:.0f}%" if hk else "") + ". "
          f"Max |vmap − naive| on 16 examples: {tp.get('max_abs_diff_vmap_vs_naive_16', float('nan')):.2e}; "
          f"max |hooks − naive|: {tp.get('max_abs_diff_hooks_vs_naive_16', float('nan')):.2e}. Timed with "
          "this process's CPU time (single thread) after one warm-up pass, so other jobs on the shared "
          "machine do not count.",
          (f"- Opacus {tp['opacus_version']} (`GradSampleModule`, loss_reduction='sum', per-sample gradients "
           f"materialised, then normed): max |opacus − naive| {tp['max_abs_diff_opacus_vs_naive_16']:.2e}; "
           f"gapwatch hooks / Opacus: {tp['grand_hooks'] / tp['opacus_per_sample']:.1f}×."
           if "opacus_per_sample" in tp else "- Opacus: not installed / not measured."), ""]
    return "\n".join(L)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _cl_version() -> str:
    import cleanlab

    return getattr(cleanlab, "__version__", "?")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pool", type=int, default=2, help="average-pool the 32x32 images by this factor")
    ap.add_argument("--tp-n", type=int, default=512)
    ap.add_argument("--tp-naive", type=int, default=128)
    ap.add_argument("--labels", default="aggre,worse")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "examples.md")
    ap.add_argument("--prepare-only", action="store_true")
    ap.add_argument("--fresh-throughput", action="store_true", help="re-measure throughput even with --rescore")
    ap.add_argument("--rescore", action="store_true",
                    help="reuse the recorded tables / out-of-sample probabilities in bench/_work")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    global POOL
    POOL = args.pool
    data = {k: v[:args.n] for k, v in load_subset(max(args.n, 10000), args.seed).items()}
    if args.prepare_only:
        print("cached", args.n, "images")
        return
    results = []
    for name in args.labels.split(","):
        n = args.n
        tpath = WORK / f"table_{name}_n{n}_e{args.epochs}.parquet"
        if args.rescore and tpath.exists():
            from gapwatch.examples import read_table

            z = np.load(WORK / f"extra_{name}_n{n}_e{args.epochs}.npz")
            tm = z["times"]
            truth = data[name] != data["clean"]
            r = score_run(data, name, args, read_table(tpath), {"grand": z["grand"], "grand_last": z["grand_last"],
                          "grand_s": tm[2], "grand_last_s": tm[3]}, tm[0], tm[1],
                          {"labels": name, "n": n, "noise": float(truth.mean())})
        else:
            r = run_noise(torch, data, name, args)
        probs, cl_s = cleanlab_probs(torch, data, name, args)
        r = run_cleanlab(data, name, probs, cl_s, args, r)
        print(json.dumps(r, indent=1), flush=True)
        results.append(r)
    tp_cache = WORK / "throughput.json"
    if args.rescore and tp_cache.exists() and not args.fresh_throughput:
        tp = json.loads(tp_cache.read_text())
    else:
        tp = throughput(torch, data, args)
        tp_cache.write_text(json.dumps(tp))
    print(json.dumps(tp, indent=1), flush=True)
    md = write_md(results, tp, args, time.time() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md + "\n")
    (WORK / "examples_results.json").write_text(json.dumps({"results": results, "throughput": tp}, indent=1))
    print(md)


if __name__ == "__main__":
    sys.exit(main())
