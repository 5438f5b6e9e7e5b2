"""CPU time per run of ``forecast_sweep`` with and without batching the PFN's forward passes across runs.

A synthetic sweep of ``--runs`` runs (power-law curves of 40… evaluations, some turning up, seeded noise) is
written to ``bench/_work/sweep_bench/`` and forecast with ``forecast_sweep(batch=False)`` (one forward pass per
run and another per cross-run forecast, the previous path) and ``batch=True`` (one padded batch for all runs,
answered from memory for the cross-run forecasts), alternately, ``--repeat`` times each; the JSON documents
of the two paths are compared (largest absolute difference of any number).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_forecast_sweep.py [--runs 16] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

from gapwatch.forecast.sweep import forecast_sweep  # noqa: E402
from gapwatch.readers import load  # noqa: E402
from gapwatch.testing.samples import flatten  # noqa: E402


def write_sweep(d: Path, runs: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(runs):
        t = np.arange(40 + 2 * i, dtype=float)
        v = (0.2 + 1.8 * (1 + t) ** -(0.5 + 0.05 * i) + 0.01 * i * np.maximum(t - 10, 0) / 10
             + rng.normal(0, 0.003, t.size))
        (d / f"r{i:02d}.jsonl").write_text("".join(json.dumps({"epoch": k + 1, "val_loss": float(x)}) + "\n"
                                                   for k, x in enumerate(v)))




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    d = ROOT / "_work" / "sweep_bench"
    write_sweep(d, args.runs)
    h = load(d)
    forecast_sweep(h, batch=False)  # warm-up: weights loaded, imports done
    ms: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeat):
        for batch in (False, True):
            t0 = time.process_time()
            forecast_sweep(h, batch=batch)
            ms[batch].append(1000 * (time.process_time() - t0) / args.runs)
    a, b = flatten(forecast_sweep(h, batch=False).to_dict()), flatten(forecast_sweep(h, batch=True).to_dict())
    diff = max((abs(a[k] - b[k]) for k in a if isinstance(a[k], float)), default=0.0)
    same_rest = all(a[k] == b[k] for k in a if not isinstance(a[k], float)) and a.keys() == b.keys()
    print(f"{args.runs} runs, CPU ms per run (min / median of {args.repeat}): run by run "
          f"{min(ms[False]):.1f} / {float(np.median(ms[False])):.1f}; batched {min(ms[True]):.1f} / "
          f"{float(np.median(ms[True])):.1f}; largest absolute difference {diff:.2e}; other fields equal: "
          f"{same_rest}")


if __name__ == "__main__":
    main()
