"""Train the forecasting PFN on the curve prior of :mod:`gapwatch.forecast.prior` (CPU, reproducible).

    OMP_NUM_THREADS=1 python -m gapwatch.forecast.train_pfn --steps 40000 --batch 64 --d-model 96 --layers 4 \
        --d-ff 192 --max-minutes 100 --ckpt bench/_work/pfn2/ckpt.pt --out src/gapwatch/weights

Every step draws a fresh batch from the prior with ``numpy.random.default_rng([seed, step])``, so a run
resumed from a checkpoint (``--ckpt``, written every ``--ckpt-every`` steps and at ``--stop-at``) sees exactly
the batches an uninterrupted run would; with ``--stop-at`` (chunks, e.g. within a time-limited GPU call) and
no time budget the resumed run is bit-identical. The learning rate warms up over 5% of ``--steps`` and then
follows a cosine over ``max(step/steps, seconds/budget)``, so a ``--max-minutes`` budget always ends annealed.
Bucket borders are the quantiles of prior targets (as in PFN / LC-PFN), computed
from ``seed`` before training. ``--init DIR`` fine-tunes shipped weights instead (their bucket borders are
kept), e.g. on the prior with its degradation component (issue 14)::

    OMP_NUM_THREADS=1 nice -n 15 python -m gapwatch.forecast.train_pfn --init src/gapwatch/weights \
        --steps 20000 --batch 64 --lr 3e-4 --seed 1 --max-minutes 45 \
        --ckpt bench/_work/pfn3/ckpt.pt --out bench/_work/pfn3/weights

The held-out NLL is logged on three fixed sets of prior batches: the training mixture, the prior without the
degradation component (``p_degrade=0``: the shipped network's training prior) and degradation curves only.
The final weights are written with a manifest holding their SHA-256, the model config, the prior's constants
and the training budget actually spent.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from . import prior
from .pfn import MANIFEST_FILE, WEIGHTS_FILE, build_model, sha256_file


def prior_borders(seed: int, n_bins: int, n_batches: int = 300, batch: int = 64) -> np.ndarray:
    """Bucket borders ``(n_bins + 1,)``: quantiles of normalised future values drawn from the prior."""
    rng = np.random.default_rng([seed, 10**9])
    vals = []
    for _ in range(n_batches):
        _, y, m = prior.sample_batch(rng, batch)
        vals.append(y[:, m:].ravel())
    v = np.concatenate(vals)
    qs = np.quantile(v, np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    qs = np.unique(np.round(qs, 6))
    # exactly n_bins+1 borders: pad the outer ones one bucket-width beyond the extreme quantiles
    while qs.size < n_bins - 1:  # pragma: no cover - only with a degenerate prior
        qs = np.unique(np.concatenate([qs, [qs[-1] + 1e-3 * (qs.size + 1)]]))
    lo = qs[0] - (qs[1] - qs[0])
    hi = qs[-1] + (qs[-1] - qs[-2])
    return np.concatenate([[lo], qs[: n_bins - 1], [hi]])


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--d-ff", type=int, default=128)
    ap.add_argument("--bins", type=int, default=128)
    ap.add_argument("--t-floor", type=float, default=1e-5, help="resolution of the log-time feature")
    ap.add_argument("--ckpt", type=Path, default=Path("bench/_work/pfn_ckpt.pt"))
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--max-minutes", type=float, default=0.0,
                    help="time budget: the learning-rate schedule runs on max(step/steps, time/budget) and "
                         "training stops when either is spent (0: steps only)")
    ap.add_argument("--stop-at", type=int, default=0,
                    help="end this invocation after this step (checkpoint written; resume later with the same "
                         "arguments): training in chunks, e.g. within a time-limited remote call (0: never)")
    ap.add_argument("--eval-every", type=int, default=1000, help="held-out prior NLL every this many steps")
    ap.add_argument("--out", type=Path, default=None, help="directory for the final weights + manifest")
    ap.add_argument("--init", type=Path, default=None,
                    help="fine-tune the weights in this directory (forecast_pfn.pt + manifest; their model "
                         "config and bucket borders are used) instead of starting from scratch")
    return ap.parse_args(argv)


def _resume_or_init(args: argparse.Namespace, model: Any, opt: Any) -> tuple[int, float]:
    """Load the checkpoint when there is one (returns its steps done and seconds spent), else set the bucket
    borders from the prior (returns ``(0, 0.0)``)."""
    import torch

    if args.ckpt.is_file():
        ck = torch.load(args.ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step0, spent = int(ck["step"]), float(ck["seconds"])
        print(f"resumed at step {step0} ({spent:.0f} s spent)", flush=True)
        return step0, spent
    if args.init is not None:
        from .pfn import load_pfn

        model.load_state_dict(load_pfn(args.init).model.state_dict())
        print(f"fine-tuning the weights of {args.init}", flush=True)
        return 0, 0.0
    borders = prior_borders(args.seed, args.bins)
    model.borders.copy_(torch.as_tensor(borders, dtype=torch.float32))
    return 0, 0.0


def _lr_schedule(args: argparse.Namespace) -> Callable[[int, float], float]:
    """Linear warm-up over 5% of the steps, then a cosine over ``max(step/steps, seconds/budget)``."""
    warm = max(1, args.steps // 20)
    budget = args.max_minutes * 60.0

    def progress(step: int, seconds: float) -> float:
        p = (step - warm) / max(1, args.steps - warm)
        return cast(float, max(p, seconds / budget) if budget > 0 else p)

    def lr_at(step: int, seconds: float) -> float:
        if step < warm:
            return cast(float, args.lr * (step + 1) / warm)
        return cast(float, args.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress(step, seconds)))))

    return lr_at


#: the held-out sets: name → ``p_degrade`` of their prior batches (``None``: the training mixture)
HELD_OUT_SETS: dict[str, float | None] = {"mixture": None, "old_prior": 0.0, "degradation": 1.0}


def _held_out_batches(seed: int, p_degrade: float | None, count: int = 20) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """``count`` fixed prior batches of 64 curves. ``p_degrade=1`` keeps epoch grids only (the degradation
    component is not drawn on geometric grids); ``None`` is the training mixture (``prior.P_DEGRADE``)."""
    salt = {None: 1, 0.0: 2, 1.0: 3}.get(p_degrade, 4)
    rng = np.random.default_rng([seed, 10**9 + salt])
    if p_degrade is None:  # the same batches as before the degradation component had its own sets
        rng = np.random.default_rng([seed, 10**9 + 1])
        return [prior.sample_batch(rng, 64) for _ in range(count)]
    out: list[tuple[np.ndarray, np.ndarray, int]] = []
    while len(out) < count:
        t, y, m = prior.sample_batch(rng, 64, p_degrade=p_degrade)
        if p_degrade < 1.0 or not prior.is_geometric(t):
            out.append((t, y, m))
    return out


def _held_out_nll_fn(model: Any, borders_t: Any, seed: int) -> Callable[[], dict[str, float]]:
    """The mean cross-entropy of ``model`` on 20 fixed held-out prior batches of each of ``HELD_OUT_SETS``."""
    import torch

    sets = {name: _held_out_batches(seed, p) for name, p in HELD_OUT_SETS.items()}

    def held_out_nll() -> dict[str, float]:
        res = {}
        with torch.no_grad():
            for name, batches in sets.items():
                tot, cnt = 0.0, 0
                for t, y, m in batches:
                    tt = torch.as_tensor(t, dtype=torch.float32)[None].expand(y.shape[0], -1)
                    yy = torch.as_tensor(y, dtype=torch.float32)
                    tg = torch.bucketize(yy[:, m:].contiguous(), borders_t[1:-1])
                    lg = model(tt[:, :m], yy[:, :m], tt[:, m:])
                    tot += float(torch.nn.functional.cross_entropy(lg.reshape(-1, lg.shape[-1]), tg.reshape(-1),
                                                                   reduction="sum"))
                    cnt += tg.numel()
                res[name] = round(tot / cnt, 4)
        return res

    return held_out_nll


def _save_ckpt(path: Path, model: Any, opt: Any, steps_done: int, seconds: float) -> None:
    """Atomic checkpoint: model, optimizer, steps done and seconds spent."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": steps_done,
                "seconds": seconds}, tmp)
    tmp.replace(path)


def _train_step(args: argparse.Namespace, model: Any, opt: Any, borders_t: Any, step: int, lr: float) -> float:
    """One optimisation step on the prior batch of ``step``; returns its loss."""
    import torch

    rng = np.random.default_rng([args.seed, step])
    t, y, m = prior.sample_batch(rng, args.batch)
    tt = torch.as_tensor(t, dtype=torch.float32)[None].expand(args.batch, -1)
    yy = torch.as_tensor(y, dtype=torch.float32)
    target = torch.bucketize(yy[:, m:].contiguous(), borders_t[1:-1])  # bucket index 0..K-1
    for g in opt.param_groups:
        g["lr"] = lr
    logits = model(tt[:, :m], yy[:, :m], tt[:, m:])
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
    opt.zero_grad()
    cast(Any, loss).backward()  # torch leaves Tensor.backward unannotated
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return float(loss.detach())


def _write_weights(args: argparse.Namespace, model: Any, done: int, seconds: float, ema: float | None,
                   held_out_nll: Callable[[], dict[str, float]]) -> None:
    """The final weights and their manifest in ``args.out``."""
    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    wpath = args.out / WEIGHTS_FILE
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    torch.save(state, wpath)
    manifest: dict[str, Any] = {
        "format": "gapwatch.forecast_pfn/1",
        "sha256": sha256_file(wpath),
        "config": model.config,
        "training": {"steps": done, "planned_steps": args.steps, "batch": args.batch, "lr": args.lr,
                     "seed": args.seed, "cpu_seconds_wall": round(seconds, 1), "threads": 1,
                     "final_loss_ema": ema, "held_out_prior_nll": held_out_nll(),
                     "curves_seen": done * args.batch,
                     "init": None if args.init is None else str(args.init)},
        "prior": {k: getattr(prior, k) for k in ("P_OVERFIT", "P_DOUBLE_DESCENT", "P_GROK", "P_STEP",
                                                  "P_DIVERGE", "P_FLAT", "N_MIN", "N_MAX", "GEO_RATIO_MIN",
                                                  "GEO_RATIO_MAX", "GEO_MAX_DECADES", "GEO_SPEED_MAX",
                                                  "P_DEGRADE", "DEG_TB_MIN", "DEG_TB_MAX", "DEG_RISE_MIN",
                                                  "DEG_RISE_MAX", "DEG_NOISE_MIN", "DEG_NOISE_MAX")},
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }
    (args.out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {wpath} ({wpath.stat().st_size} bytes)", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    if args.init is not None:  # the architecture of the weights being fine-tuned
        from .pfn import MANIFEST_FILE as _MF

        model = build_model(**json.loads((args.init / _MF).read_text())["config"])
    else:
        model = build_model(args.d_model, args.layers, args.heads, args.d_ff, args.bins, args.t_floor)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    step0, spent = _resume_or_init(args, model, opt)
    borders_t = model.borders.clone()
    budget = args.max_minutes * 60.0
    lr_at = _lr_schedule(args)
    held_out_nll = _held_out_nll_fn(model, borders_t, args.seed)

    t_start = time.time()
    ema = None
    step = step0
    for step in range(step0, args.steps):
        lv = _train_step(args, model, opt, borders_t, step, lr_at(step, spent + time.time() - t_start))
        ema = lv if ema is None else 0.98 * ema + 0.02 * lv
        now = spent + time.time() - t_start
        if (step + 1) % 50 == 0:
            print(f"step {step + 1} loss {ema:.4f} lr {lr_at(step, now):.2e} {now:.0f}s", flush=True)
        if (step + 1) % args.eval_every == 0:
            val = held_out_nll()
            print(f"step {step + 1} held-out prior NLL " + " ".join(f"{k} {v:.4f}" for k, v in val.items()),
                  flush=True)
        stop_here = bool(args.stop_at) and args.stop_at <= step + 1 < args.steps
        if (step + 1) % args.ckpt_every == 0 or step + 1 == args.steps or stop_here:
            _save_ckpt(args.ckpt, model, opt, step + 1, now)
        if stop_here:
            print(f"stopped at step {step + 1} (--stop-at); resume with the same arguments", flush=True)
            return 0
        if budget > 0 and now > budget:
            print(f"time budget reached at step {step + 1}", flush=True)
            break
    done = step + 1
    seconds = spent + time.time() - t_start
    if args.out is not None:
        _write_weights(args, model, done, seconds, ema, held_out_nll)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
