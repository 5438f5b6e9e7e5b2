"""Train LC-PFN (its published prior and training code) at a small, CPU-sized scale, for the forecast benchmark.

LC-PFN ("Efficient Bayesian Learning Curve Extrapolation using Prior-Data Fitted Networks", Adriaensen et al.
2023) ships its prior and training code on PyPI (``lcpfn``) but not its weights, and nothing may be downloaded
at run time, so it is trained here. Its code is never committed: fetch it into the git-ignored bench/_work/:

    .venv/bin/pip download --no-deps lcpfn==0.1.3 -d bench/_work
    (cd bench/_work && mkdir -p lcpfn_src && cd lcpfn_src && unzip -oq ../lcpfn-0.1.3-py3-none-any.whl)
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_forecast_lcpfn_train.py --epochs 40

Writes bench/_work/lcpfn_small.pt (the whole torch module, as LC-PFN's own code saves it) and
bench/_work/lcpfn_small.json (the budget spent). Model: emsize 128 (LC-PFN derives nhead = emsize // 128, so 128
is the smallest legal size), 3 layers, nhid 256, 1000 buckets; its prior (``sample_from_prior``), seq_len 100;
100 steps per epoch (LC-PFN's constant).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "_work" / "lcpfn_src"))


def _torch_compat() -> None:
    """LC-PFN 0.1.3 star-imports nn layers from torch.nn.modules.transformer, which newer torch no longer
    re-exports there; put them back (no change to LC-PFN's code)."""
    import torch.nn.modules.transformer as tr
    from torch import nn

    names = ["MultiheadAttention", "Dropout", "Linear", "LayerNorm", "ModuleList", "Module"]
    for n in names:
        setattr(tr, n, getattr(nn, n))
    tr.__all__ = list(getattr(tr, "__all__", [])) + names


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--emsize", type=int, default=128)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--borders", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "_work" / "lcpfn_small.pt")
    args = ap.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    _torch_compat()
    import lcpfn
    import lcpfn.layer

    _orig = lcpfn.layer.TransformerEncoderLayer.forward

    def _fwd(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False, **_kw):  # type: ignore
        return _orig(self, src, src_mask, src_key_padding_mask)

    lcpfn.layer.TransformerEncoderLayer.forward = _fwd  # newer torch passes is_causal= to layers

    t0, c0 = time.time(), time.process_time()
    _, _, model, _ = lcpfn.train_lcpfn(
        get_batch_func=lcpfn.create_get_batch_func(prior=lcpfn.sample_from_prior),
        seq_len=100, emsize=args.emsize, nlayers=args.layers, num_borders=args.borders,
        lr=args.lr, batch_size=args.batch, epochs=args.epochs)
    wall, cpu = time.time() - t0, time.process_time() - c0
    torch.save(model, args.out)
    info = {"epochs": args.epochs, "steps": args.epochs * 100, "batch": args.batch, "lr": args.lr,
            "emsize": args.emsize, "nlayers": args.layers, "num_borders": args.borders,
            "curves_seen": args.epochs * 100 * args.batch, "wall_seconds": round(wall, 1),
            "cpu_seconds": round(cpu, 1), "threads": 1,
            "parameters": int(sum(p.numel() for p in model.parameters()))}
    args.out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
