"""Early-window vs whole-run statistics on a network that memorises flipped labels (real digits, CPU, seconds).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_examples_digits.py

600 scikit-learn digits, 30% of the labels flipped to another random class; a 2-hidden-layer MLP (Adam 2e-3,
batch 100) trained either briefly (64 units, 25 epochs: fits the clean labels only) or long (256 units,
120 epochs: memorises every flipped label). Prints the AUROC of each score and the suggested cut-off's
precision / recall, as a markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from _examples_digits import noisy_digits, train_recorded

    from gapwatch.examples import analyze_examples, auroc

    d = noisy_digits(n=600, noise=0.3, seed=0)
    f = d["flipped"]
    rows = []
    runs = (("short (64 units, 25 epochs)", 64, 25), ("memorising (256 units, 120 epochs)", 256, 120))
    for label, hidden, epochs in runs:
        t, _ = train_recorded(d["X"], d["noisy"], hidden=hidden, epochs=epochs, lr=2e-3)
        a = analyze_examples(t)
        au = {k: auroc(np.nan_to_num(-v if k.startswith("aum") else v, posinf=1e9), f) for k, v in a.scores.items()}
        flagged = np.isin(np.arange(len(f)), a.likely_mislabeled)
        prec = (flagged & f).sum() / max(flagged.sum(), 1)
        rec = (flagged & f).sum() / f.sum()
        rows.append((label, t.correct[-1][f].mean(), a.early, epochs, au, prec, rec))
    print("| run | flipped labels fitted at the end | window | default (early AUM) | whole-run AUM | EL2N | "
          "forgetting | cut-off precision / recall |")
    print("|---|---|---|---|---|---|---|---|")
    for label, fit, k, E, au, prec, rec in rows:
        print(f"| {label} | {100 * fit:.0f}% | {k}/{E} epochs | {au['mislabel']:.3f} | {au['aum']:.3f} | "
              f"{au['el2n']:.3f} | {au['forgetting']:.3f} | {prec:.2f} / {rec:.2f} |")


if __name__ == "__main__":
    main()
