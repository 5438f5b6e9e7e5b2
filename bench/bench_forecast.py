"""Benchmark the learning-curve forecasters on real curves (CPU).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_forecast.py            # writes bench/results/forecast.md

Data, in one run:

* ``real``: the 70 real epoch-wise runs of ../shared/curves/real-runs.jsonl (Crowded Valley / DeepOBS; held-out
  loss: valid_loss, or test_loss for DeepOBS; diverged/degenerate runs skipped);
* ``cpu``: the validation loss of the runs trained here on CPU (bench/curves/cpu-runs.jsonl: digits /
  Fashion-MNIST MLPs and CNNs with label noise, char-LMs on repeated text, grokking);
* ``wild``: the held-out loss curves with at least ``WILD_MIN_EVALS`` finite evaluations of the real-log corpus
  (bench/wild, read with ``gapwatch.load``; files not committed come from ``bench_wild.py --download``'s cache,
  ``--wild-cache``): one series per run (``loss`` when logged, else the first held-out series whose name
  contains ``loss``), at most ``WILD_MAX_RUNS`` runs per log file, exact duplicates dropped;
* ``lcdb``: a fixed random subset of LCDB 1.0 sample-wise curves (validation accuracy vs training-set size;
  ``pip download --no-deps lcdb==0.1.0 -d bench/_work``, CSV read directly);
* ``prior``: held-out synthetic curves from the PFN's prior.

Each curve belongs to a fixed dev or test half (:func:`name_split`; a curve of the real-log corpus takes its
manifest entry's ``split``), used by the cross-fitted measurements (``--calibration-study`` here,
``bench_forecast_degradation.py``). Each curve is cut after 20/30/50/70% of its evaluations and the rest is forecast. The real, CPU and wild runs
are also grouped into **degrading runs** (best at least 10 evaluations before the end and a significant rise
since: the test of bench_forecast_degradation.py) and **non-degrading runs**.

Metrics (all in the normalised units of the forecasters: the observed part spans [0, 1]):
  LL       mean log predictive density of the held-back evaluations (per-point floor -50), higher is better
  MAE fin  |median forecast − true value| at the last evaluation
  MAE best |predicted best value − true best value| (best over the whole curve)
  best err |predicted best x − true best x| as % of the curve's x range
  cov80    fraction of held-back evaluations inside the 10–90% band (goal 75–85%)
  ms       CPU time (time.process_time) per forecast
Baselines without a distribution (last value, best so far, pow3 least squares) have no LL / coverage.
P(best behind) is scored as a classifier of "no later evaluation beats the best observed one" (Brier, AUROC).
Forecasters: the shipped PFN with its defaults (reported band with the conformal width factor, recalibrated
P(best behind)), the previous PFN (``--previous-weights``, sha256 418e3aa8…, its own band and its own
P(best behind)), the ensemble. LC-PFN: trained here by bench/bench_forecast_lcpfn_train.py (its prior and
code, small CPU budget); skipped when ``--lcpfn`` is absent. The "no bound" ablations run on LCDB only (the
transform only applies to bounded scores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
sys.path.insert(0, str(REPO / "src"))

from gapwatch.forecast import forecast_curve
from gapwatch.forecast.ensemble import pow3_least_squares
from gapwatch.forecast.prior import normalise

REAL = REPO.parent / "shared" / "curves" / "real-runs.jsonl"
CPU_RUNS = ROOT / "curves" / "cpu-runs.jsonl"
WORK = ROOT / "_work"
CUTS = (0.2, 0.3, 0.5, 0.7)
LL_FLOOR = -50.0
#: real-log corpus: a held-out loss series needs at least this many finite evaluations
WILD_MIN_EVALS = 12
#: ... and at most this many runs of one log file are used (one file of the corpus holds 36 runs)
WILD_MAX_RUNS = 5
#: a run degrades when its best is at least this many evaluations back and the rise since is this many noise
#: standard errors (the stop policy's test; bench_forecast_degradation.py)
DEG_SINCE = 10
DEG_Z = 3.0
#: methods run on LCDB only (the bound transform changes nothing on unbounded loss curves)
LCDB_ONLY = ("ensemble, no bound", "PFN, no bound")
#: the two halves every curve belongs to: fits (recalibrations, band corrections) are made on ``dev`` and scored
#: on ``test``
SPLITS = ("dev", "test")


def name_split(name: str) -> str:
    """The fixed half of a curve outside the real-log corpus (``cpu``, ``real``, ``lcdb``, ``prior``): ``"dev"``
    when the first byte of the SHA-1 of its UTF-8 name is even, else ``"test"``.

    The half depends on the name alone, so adding or removing other curves never moves a curve from one half to
    the other (the split used until 2026-12-06 alternated in the name order of all curves, and every growth of
    the real-log corpus reshuffled it). A curve of the real-log corpus takes its manifest entry's ``split``
    instead (:func:`load_wild`: the corpus's own split by repository, whose test half is never fitted on).
    """
    return SPLITS[hashlib.sha1(name.encode("utf-8")).digest()[0] % 2]


# ----------------------------------------------------------------------------------------------- data
def load_real() -> tuple[list[dict[str, Any]], list[str]]:
    curves, skipped = [], []
    for i, line in enumerate(REAL.read_text().splitlines()):
        r = json.loads(line)
        met = r["metrics"]
        key = "valid_loss" if "valid_loss" in met else "test_loss"
        y = np.array([np.nan if v is None else v for v in met[key]], dtype=float)
        name = f"real{i:02d}:{r['problem']}:{r['optimizer']}"
        if not np.all(np.isfinite(y)) or np.all(y[1:] == y[0]) or np.sum(y[1:] == y[0]) > 0.5 * y.size:
            skipped.append(name)
            continue
        curves.append({"name": name, "x": np.arange(y.size, dtype=float), "y": y, "mode": "min",
                       "set": "real", "split": name_split(name)})
    return curves, skipped


def load_cpu() -> list[dict[str, Any]]:
    """Validation loss of the runs trained here on CPU (bench/curves/cpu-runs.jsonl); non-finite runs skipped."""
    out = []
    for line in CPU_RUNS.read_text().splitlines():
        r = json.loads(line)
        y = np.array([np.nan if v is None else v for v in r["metrics"]["val_loss"]], dtype=float)
        if not np.all(np.isfinite(y)):
            continue
        x = np.array(r["steps"], dtype=float) if "steps" in r else np.arange(y.size, dtype=float)
        out.append({"name": r["name"], "x": x, "y": y, "mode": "min", "set": "cpu", "split": name_split(r["name"])})
    return out


def load_wild(cache: Path, manifest: Path | None = None) -> tuple[list[dict[str, Any]], int]:
    """Held-out loss curves of the real-log corpus (see the module docstring) and the count of log files whose
    files are missing. Each curve carries its manifest entry's ``split`` (``"dev"`` or ``"test"``: the corpus's
    own split, whose test half is never fitted on) and ``entry`` (the entry's id). ``manifest``: the corpus's
    manifest to read (default ``bench/wild/manifest.json``; an earlier version reproduces an earlier run)."""
    from bench_wild import MANIFEST, entry_path

    from gapwatch import load

    out: list[dict[str, Any]] = []
    seen: set[bytes] = set()
    missing = 0
    manifest = manifest or MANIFEST
    for e in json.loads(manifest.read_text())["entries"]:
        j = e["judgement"]
        if j.get("kind") != "log" or not j.get("heldout"):
            continue
        split = e.get("split")
        if split not in SPLITS:
            raise SystemExit(f"{manifest}: entry {e.get('id')!r} has split {split!r}; expected one of {SPLITS}")
        p = entry_path(e, cache)
        if not p.exists():
            missing += 1
            continue
        try:
            h = load(p)
        except Exception:  # noqa: BLE001 - a log gapwatch refuses has no curve to forecast
            continue
        used = 0
        for run in h.runs():
            if used >= WILD_MAX_RUNS:
                break
            r = h.run(run)
            keys = [k for k in r.keys() if k[0] in ("val", "valid", "validation", "eval") and "loss" in k[1]]  # noqa: SIM118
            keys.sort(key=lambda k: (k[1] != "loss", k))
            for k in keys[:1]:
                s = r.series(*k).finite()
                y = np.asarray(s.values, dtype=float)
                x = np.asarray(s.x, dtype=float)
                if y.size < WILD_MIN_EVALS or np.ptp(y) <= 0:
                    continue
                if not (np.all(np.isfinite(x)) and np.all(np.diff(x) > 0)):
                    x = np.arange(y.size, dtype=float)
                sig = np.round(y, 6).tobytes()
                if sig in seen:
                    continue
                seen.add(sig)
                used += 1
                out.append({"name": f"wild{len(out):03d}:{e['id'][:40]}:{run[-24:]}:{k[1]}", "x": x, "y": y,
                            "mode": "min", "set": "wild", "split": split, "entry": e["id"]})
    return out, missing


def is_degrading(y: np.ndarray, mode: str = "min") -> bool:
    """Best at least ``DEG_SINCE`` evaluations before the end and a rise of at least ``DEG_Z`` noise standard
    errors since (the stop policy's test, :func:`gapwatch.forecast.calibrate.degradation_features`)."""
    from gapwatch.forecast.calibrate import degradation_features

    rise_z, _, since_n = degradation_features(y if mode == "min" else -y)
    return since_n >= DEG_SINCE and rise_z >= DEG_Z


def load_lcdb(n: int, seed: int) -> list[dict[str, Any]]:
    cache = WORK / f"lcdb_subset_{n}_{seed}.json"
    if not cache.is_file():
        import pandas as pd

        csv = WORK / "lcdb-0.1.0" / "lcdb" / "database-accuracy.csv"
        if not csv.is_file():
            import tarfile

            tar = WORK / "lcdb-0.1.0.tar.gz"
            if not tar.is_file():
                raise SystemExit("LCDB missing: pip download --no-deps lcdb==0.1.0 -d bench/_work")
            with tarfile.open(tar) as tf:
                tf.extract("lcdb-0.1.0/lcdb/database-accuracy.csv", WORK)
        df = pd.read_csv(csv, usecols=["openmlid", "learner", "size_train", "outer_seed", "inner_seed",
                                       "score_valid"])
        df = df[(df.outer_seed == 0) & (df.inner_seed == 0)]
        groups = []
        for (oid, learner), g in df.groupby(["openmlid", "learner"]):
            g = g.sort_values("size_train")
            yv = g.score_valid.to_numpy(float)
            if len(g) >= 8 and np.all(np.isfinite(yv)) and np.ptp(yv) > 0:
                groups.append({"name": f"lcdb:{oid}:{learner}", "x": g.size_train.tolist(), "y": yv.tolist()})
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(groups), size=min(n, len(groups)), replace=False)
        cache.write_text(json.dumps([groups[i] for i in sorted(pick)]))
    out = []
    for c in json.loads(cache.read_text()):
        out.append({"name": c["name"], "x": np.array(c["x"], float), "y": np.array(c["y"], float), "mode": "max",
                    "set": "lcdb", "split": name_split(c["name"])})
    return out


def load_prior(n: int, seed: int = 123) -> list[dict[str, Any]]:
    """Held-out synthetic curves from the PFN's own prior (seed distinct from training's [0, step])."""
    from gapwatch.forecast import prior

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(20, prior.N_MAX + 1))
        t = prior.sample_positions(rng, k)
        y = prior.sample_curves(rng, t, 1)[0]
        out.append({"name": f"prior{i:03d}", "x": 100.0 * t, "y": y, "mode": "min", "set": "prior",
                    "split": name_split(f"prior{i:03d}")})
    return out


def overfits(y: np.ndarray, mode: str) -> bool:
    """README definition: best before the last 10% and the final value > 1% worse than the best."""
    z = y if mode == "min" else -y
    b = int(np.argmin(z))
    return b <= math.floor(0.9 * (z.size - 1)) and (z[-1] - z[b]) > 0.01 * abs(z[b]) + 1e-12


# ----------------------------------------------------------------------------------------------- methods
Result = dict[str, Any]


def _point_method(kind: str) -> Callable[[dict[str, Any], int], Result]:
    def run(c: dict[str, Any], m: int) -> Result:
        x, y, mode = c["x"], c["y"], c["mode"]
        sign = 1.0 if mode == "min" else -1.0
        z = sign * y
        q = y.size - m
        if kind == "last":
            med = np.full(q, z[m - 1])
        elif kind == "best":
            med = np.full(q, z[:m].min())
        else:
            lo, sc = normalise(z[None, :m])
            t = x / x[-1]
            try:
                pred = pow3_least_squares(t[:m], (z[:m] - lo[0, 0]) / sc[0, 0], t[m:])
                med = lo[0, 0] + sc[0, 0] * pred
            except Exception:  # noqa: BLE001 - a failed fit falls back to the last value
                med = np.full(q, z[m - 1])
        allz = np.concatenate([z[:m], med])
        bi = int(np.argmin(allz))
        return {"median_z": med, "best_x": x[bi], "best_z": float(allz.min())}
    return run


def _gap_method(method: str, bound: str | None = "auto", weights: Path | None = None,
                band_scale: float | None = None) -> Callable[[dict[str, Any], int], Result]:
    def run(c: dict[str, Any], m: int) -> Result:
        x, y, mode = c["x"], c["y"], c["mode"]
        sign = 1.0 if mode == "min" else -1.0
        fc = forecast_curve(x, y, observed=m, horizon=y.size, mode=mode, method=method, bound=bound,
                            pfn_weights=weights, band_scale=band_scale)
        qs = {k: sign * v for k, v in fc.quantiles.items()}
        lo_q, hi_q = (qs["0.1"], qs["0.9"]) if sign > 0 else (qs["0.9"], qs["0.1"])
        med = qs["0.5"]
        best_z = float(min((sign * y[:m]).min(), med.min()))
        # a network other than the shipped one is scored with its own P(best behind) (the shipped
        # recalibration was fitted for the shipped network)
        p = fc.p_best_behind if weights is None else fc.p_best_behind_model
        return {"median_z": med, "lo_z": lo_q, "hi_z": hi_q, "logpdf_raw": fc.logpdf(y[m:]),
                "best_x": fc.best["x"], "best_z": best_z, "p_behind": p, "p_model": fc.p_best_behind_model}
    return run


class LCPFN:
    """LC-PFN trained here (bench/bench_forecast_lcpfn_train.py); its curves are 'higher is better' in [0,1]
    at epochs 1..100, so a lower-is-better curve z with observed range [lo, lo+sc] is fed as
    v = 1 - sigmoid(2 (z - lo) / sc - 1) (LC-PFN's own pfn_normalize with minimize=True, soft bounds = the
    observed range) at x = 100 · t; densities are mapped back with the Jacobian."""

    def __init__(self, path: Path) -> None:
        sys.path.insert(0, str(WORK / "lcpfn_src"))
        import bench_forecast_lcpfn_train as tr  # type: ignore[import-not-found]
        import torch

        tr._torch_compat()
        import lcpfn.layer

        orig = lcpfn.layer.TransformerEncoderLayer.forward

        def _fwd(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False, **_kw):  # type: ignore
            return orig(self, src, src_mask, src_key_padding_mask)

        lcpfn.layer.TransformerEncoderLayer.forward = _fwd
        torch.set_num_threads(1)
        self.torch = torch
        self.model = torch.load(path, map_location="cpu", weights_only=False)
        self.model.eval()
        self.info = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").is_file() else {}

    def __call__(self, c: dict[str, Any], m: int) -> Result:
        torch = self.torch
        x, y, mode = c["x"], c["y"], c["mode"]
        sign = 1.0 if mode == "min" else -1.0
        z = sign * y
        lo, sc = normalise(z[None, :m])
        lo_, sc_ = float(lo[0, 0]), float(sc[0, 0])
        x0 = min(0.0, float(x[0]))
        ep = 100.0 * (x - x0) / (x[-1] - x0)

        def fwd(zz: np.ndarray) -> np.ndarray:
            return 1.0 - 1.0 / (1.0 + np.exp(-(2.0 * (zz - lo_) / sc_ - 1.0)))

        def inv(v: np.ndarray) -> np.ndarray:
            v = np.clip(v, 1e-12, 1 - 1e-12)
            return lo_ + sc_ * (np.log((1 - v) / v) + 1.0) / 2.0

        with torch.no_grad():
            xt = torch.as_tensor(ep, dtype=torch.float32)[:, None, None]
            yt = torch.as_tensor(fwd(z[:m]), dtype=torch.float32)[:, None, None]
            logits = self.model((xt, yt), single_eval_pos=m)  # (q, 1, K)
            crit = self.model.criterion
            vq = {q: crit.icdf(logits, q)[:, 0].double().numpy() for q in (0.1, 0.5, 0.9)}
            v_true = fwd(z[m:])
            nll = crit(logits, torch.as_tensor(v_true, dtype=torch.float32)[:, None]).double().numpy().ravel()
        s = 1.0 / (1.0 + np.exp(-(2.0 * (z[m:] - lo_) / sc_ - 1.0)))
        log_jac = np.log(2.0 / sc_) + np.log(s) + np.log1p(-s)
        med = inv(vq[0.5])
        allz = np.concatenate([z[:m], med])
        return {"median_z": med, "lo_z": inv(vq[0.9]), "hi_z": inv(vq[0.1]),  # v decreases in z
                "logpdf_raw": -nll + log_jac, "best_x": x[int(np.argmin(allz))], "best_z": float(allz.min())}


# ----------------------------------------------------------------------------------------------- scoring
def score(c: dict[str, Any], m: int, r: Result) -> dict[str, float]:
    x, y, mode = c["x"], c["y"], c["mode"]
    sign = 1.0 if mode == "min" else -1.0
    z = sign * y
    _, sc = normalise(z[None, :m])
    sc_ = float(sc[0, 0])
    zf = z[m:]
    out = {
        "mae_final": abs(r["median_z"][-1] - zf[-1]) / sc_,
        "mae_best": abs(r["best_z"] - z.min()) / sc_,
        "best_err": 100.0 * abs(r["best_x"] - x[int(np.argmin(z))]) / (x[-1] - x[0]),
    }
    if "logpdf_raw" in r:
        lp = np.maximum(np.asarray(r["logpdf_raw"]) + math.log(sc_), LL_FLOOR)
        out["ll"] = float(np.mean(lp))
        out["cov80"] = float(np.mean((zf >= r["lo_z"]) & (zf <= r["hi_z"])))
    return out


def evaluate(curves: list[dict[str, Any]], methods: dict[str, Callable[[dict[str, Any], int], Result]]
             ) -> list[dict[str, Any]]:
    rows = []
    for c in curves:
        n = c["y"].size
        of = overfits(c["y"], c["mode"])
        deg = is_degrading(c["y"], c["mode"])
        z = c["y"] if c["mode"] == "min" else -c["y"]
        for cut in CUTS:
            m = max(3, math.ceil(cut * n))
            if m >= n - 1:
                continue
            behind = bool(z[:m].min() <= z[m:].min())
            for name, fn in methods.items():
                if name in LCDB_ONLY and c["set"] != "lcdb":
                    continue
                t0 = time.process_time()
                r = fn(c, m)
                ms = 1e3 * (time.process_time() - t0)
                row = {"curve": c["name"], "set": c["set"], "overfits": bool(of), "degrading": deg, "cut": cut,
                       "method": name, "ms": ms, "behind": behind,
                       **{k: float(v) for k, v in score(c, m, r).items()}}
                if "p_behind" in r:
                    row["p"] = float(r["p_behind"])
                    row["p_model"] = float(r["p_model"])
                rows.append(row)
    return rows


def table(rows: list[dict[str, Any]], methods: list[str], title: str) -> str:
    cols = ("ll", "mae_final", "mae_best", "best_err", "cov80", "ms")
    head = f"\n**{title}** ({len({(r['curve'], r['cut']) for r in rows})} forecasts)\n\n"
    head += "| method | LL ↑ (mean / median) | MAE final ↓ | MAE best ↓ | best-x err % ↓ | cov80 | CPU ms |\n"
    head += "|---|---|---|---|---|---|---|\n"
    for mth in methods:
        rs = [r for r in rows if r["method"] == mth]
        if not rs:
            continue
        cells = []
        for col in cols:
            vals = np.array([r[col] for r in rs if col in r], float)
            if vals.size == 0:
                cells.append("—")
            elif col == "ll":
                cells.append(f"{vals.mean():.2f} / {np.median(vals):.2f}")
            elif col == "cov80":
                cells.append(f"{100 * vals.mean():.0f}%")
            elif col == "ms":
                cells.append(f"{np.median(vals):.1f}")
            elif col == "best_err":
                cells.append(f"{vals.mean():.1f}")
            else:
                cells.append(f"{np.median(vals):.3f}")
        head += f"| {mth} | " + " | ".join(cells) + " |\n"
    return head


def auroc(p: np.ndarray, t: np.ndarray) -> float:
    """Area under the ROC curve of scores ``p`` for labels ``t`` (ties count one half); NaN without both."""
    pos, neg = p[t], p[~t]
    if not pos.size or not neg.size:
        return float("nan")
    return float((np.sum(pos[:, None] > neg[None]) + 0.5 * np.sum(pos[:, None] == neg[None])) / (pos.size * neg.size))


def classifier_table(groups: list[tuple[str, list[dict[str, Any]]]], methods: list[str]) -> list[str]:
    """P(best behind) as a classifier of "the best observed evaluation is never beaten", per group and method:
    Brier score / AUROC; the shipped PFN also with its own (unrecalibrated) probability."""
    cols = []
    for mth in methods:
        cols.append((mth, "p"))
        if mth == "PFN (ours)":
            cols.append(("PFN (ours), own P", "p_model"))
    present = [(lbl, key, mth) for mth in methods for lbl, key in cols if lbl.startswith(mth)]
    out = ["| group | cuts (best behind) | " + " | ".join(lbl for lbl, _, _ in present) + " |",
           "|---|---|" + "---|" * len(present)]
    for title, rs in groups:
        cells = []
        n_cuts = len({(r["curve"], r["cut"]) for r in rs})
        n_behind = len({(r["curve"], r["cut"]) for r in rs if r["behind"]})
        for _lbl, key, mth in present:
            sel = [r for r in rs if r["method"] == mth and key in r]
            if not sel:
                cells.append("—")
                continue
            p = np.array([r[key] for r in sel])
            t = np.array([r["behind"] for r in sel])
            cells.append(f"{np.mean((p - t) ** 2):.3f} / {auroc(p, t):.3f}")
        out.append(f"| {title} | {n_cuts} ({n_behind}) | " + " | ".join(cells) + " |")
    return out


def by_cut_table(rs: list[dict[str, Any]], methods: list[str]) -> list[str]:
    """Mean LL / 80%-band coverage / median MAE of the final value per cut."""
    out = ["| method | " + " | ".join(f"{int(100 * c)}%: LL / cov80 / MAE fin" for c in CUTS) + " |",
           "|---|" + "---|" * len(CUTS)]
    for mth in methods:
        cells = []
        for cut in CUTS:
            sel = [r for r in rs if r["method"] == mth and r["cut"] == cut]
            if not sel:
                cells.append("—")
            elif "ll" in sel[0]:
                cells.append(f"{np.mean([r['ll'] for r in sel]):.2f} / {100 * np.mean([r['cov80'] for r in sel]):.0f}% / "
                             f"{np.median([r['mae_final'] for r in sel]):.3f}")
            else:
                cells.append(f"— / — / {np.median([r['mae_final'] for r in sel]):.3f}")
        if any(c != "—" for c in cells):
            out.append(f"| {mth} | " + " | ".join(cells) + " |")
    return out


# ----------------------------------------------------------------------------------------------- stop signal
def stop_signal(curves: list[dict[str, Any]], method: str, thresholds: tuple[float, ...], checks: int,
                recalibration: str = "v3") -> list[dict[str, Any]]:
    """Replay each real run: at ~``checks`` evaluations from 20% on, forecast the rest of the run and stop at the
    first check with P(best behind) ≥ threshold. Returned per run and threshold: the stop evaluation, the
    regret (best value up to the stop − best value of the whole run, in units of the run's value range) and
    the fraction of the run saved."""
    out = []
    for c in curves:
        y, n = c["y"], c["y"].size
        z = y if c["mode"] == "min" else -y
        rng_ = float(np.ptp(z)) or 1.0
        grid = np.unique(np.linspace(max(3, int(0.2 * n)), n - 2, checks).astype(int))
        ps = []
        for m in grid:
            fc = forecast_curve(c["x"], y, observed=int(m), horizon=n, mode=c["mode"], method=method,
                                n_samples=256, recalibration=recalibration)
            ps.append(fc.p_best_behind)
        for th in thresholds:
            hit = next((int(m) for m, p in zip(grid, ps) if p >= th), n)
            out.append({"curve": c["name"], "threshold": th, "stop": hit, "n": n,
                        "regret": (z[:hit].min() - z.min()) / rng_, "saved": 1.0 - hit / n,
                        "overfits": overfits(y, c["mode"])})
    return out


def calibration_study(real: list[dict[str, Any]], grid: tuple[float, ...] = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
                      ) -> list[str]:
    """Two-fold cross-fit of a band-sharpening factor for the PFN on the real runs (measurement only).

    The predictive is scaled around its median by ``c`` (quantiles ``med ± c·(med − q)``, density
    ``p(med + (y − med)/c)/c``); ``c`` is chosen on one half of the runs (their fixed ``split``,
    :func:`name_split`) for 80% coverage and scored on the other half."""
    rows = []
    for c in real:
        x, y = c["x"], c["y"]
        n = y.size
        for cut in CUTS:
            m = max(3, math.ceil(cut * n))
            if m >= n - 1:
                continue
            fc = forecast_curve(x, y, observed=m, horizon=n, method="pfn", n_samples=16)
            rows.append({"split": c["split"], "fc": fc, "yf": y[m:], "sc": float(np.ptp(y[:m]))})

    def ev(rs: list[dict[str, Any]], c: float) -> tuple[float, float]:
        cov, ll = [], []
        for r in rs:
            q = r["fc"].quantiles
            med = q["0.5"]
            lo, hi = med - c * (med - q["0.1"]), med + c * (q["0.9"] - med)
            cov.append(float(np.mean((r["yf"] >= lo) & (r["yf"] <= hi))))
            lp = r["fc"].logpdf(med + (r["yf"] - med) / c) - math.log(c)
            ll.append(float(np.mean(np.maximum(lp + math.log(r["sc"]), LL_FLOOR))))
        return float(np.mean(cov)), float(np.mean(ll))

    out = ["## Band calibration of the PFN on the real runs (two-fold cross-fit; measurement only)", "",
           "| fitted on | c | held-out coverage at c / at 1 | held-out mean LL at c / at 1 |", "|---|---|---|---|"]
    for a, b in (SPLITS, SPLITS[::-1]):
        fit = [r for r in rows if r["split"] == a]
        test = [r for r in rows if r["split"] == b]
        c = min(grid, key=lambda g: abs(ev(fit, g)[0] - 0.8))
        (cv, lc), (cv1, l1) = ev(test, c), ev(test, 1.0)
        out.append(f"| {a} half | {c} | {100 * cv:.1f}% / {100 * cv1:.1f}% "
                   f"| {lc:.2f} / {l1:.2f} |")
    return out + [""]


BEGIN, END = "<!-- bench_forecast.py: begin -->", "<!-- bench_forecast.py: end -->"
DEG_BEGIN = "<!-- bench_forecast_degradation.py: begin -->"


def write_section(out: Path, text: str) -> None:
    """Replace this benchmark's section of ``out`` (between ``BEGIN`` and ``END``; before the degradation
    benchmark's section when there are no markers yet), keeping everything else."""
    old = out.read_text() if out.is_file() else ""
    block = BEGIN + "\n" + text + END + "\n"
    if BEGIN in old and END in old:
        new = old[: old.index(BEGIN)] + block + old[old.index(END) + len(END) + 1:]
    elif DEG_BEGIN in old:
        new = block + "\n" + old[old.index(DEG_BEGIN):]
    else:
        new = block
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(new)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lcdb", type=int, default=120, help="LCDB curves in the subset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prior", type=int, default=60, help="held-out synthetic curves from the prior")
    ap.add_argument("--no-stop", action="store_true", help="skip the P(best behind) stop-signal replay")
    ap.add_argument("--stop-only", action="store_true",
                    help="only the stop-signal replay, saved to bench/_work/forecast_stop.md for a later --no-stop run")
    ap.add_argument("--checks", type=int, default=16, help="forecasts per run in the stop-signal replay")
    ap.add_argument("--recalibration", default="v3", help="P(best behind) recalibration of the stop-signal replay "
                    "(gapwatch.forecast.calibrate.RECALIBRATIONS; v1: the one before issue 14's evidence features)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "forecast.md")
    ap.add_argument("--limit", type=int, default=0, help="smoke test: only the first N curves of each set")
    ap.add_argument("--lcpfn", type=Path, default=WORK / "lcpfn_long.pt", help="LC-PFN model trained here")
    ap.add_argument("--weights", type=Path, default=None, help="PFN weights directory (default: shipped)")
    ap.add_argument("--previous-weights", type=Path, default=None,
                    help="weights directory of the previous PFN (default: commit 60a020b's, extracted with git show)")
    ap.add_argument("--wild-cache", type=Path, default=None,
                    help="cache of the real-log corpus (bench_wild.py --download; default: its default cache)")
    ap.add_argument("--calibration-study", action="store_true",
                    help="only the cross-fitted PFN band-calibration measurement (printed)")
    ap.add_argument("--methods", default="", help="comma-separated subset of method names (default: all)")
    ap.add_argument("--sets", default="real,cpu,wild,lcdb,prior",
                    help="comma-separated sets to forecast in this run (default: all)")
    ap.add_argument("--merge-rows", type=Path, default=None,
                    help="forecast_rows.json of an earlier run of this script: its rows of the sets not forecast "
                         "in this run are reported with this run's")
    args = ap.parse_args()
    if args.weights is not None:
        import gapwatch.forecast.pfn as pfn_mod

        pfn_mod.WEIGHTS_DIR = args.weights

    import torch

    torch.set_num_threads(1)
    real, skipped = load_real()
    lcdb = load_lcdb(args.lcdb, args.seed)
    cpu_runs = load_cpu()
    from bench_wild import default_cache

    wild, wild_missing = load_wild(args.wild_cache or default_cache())
    if not wild and "wild" in args.sets:
        raise SystemExit("no curve of the real-log corpus could be read (run bench_wild.py --download, or pass "
                         "--wild-cache); leave it out with --sets")
    if args.limit:
        real, lcdb, cpu_runs, wild = (real[: args.limit], lcdb[: args.limit], cpu_runs[: args.limit],
                                      wild[: args.limit])
    if args.calibration_study:
        print("\n".join(calibration_study(real)))
        return 0
    if args.stop_only:
        text = "\n".join(stop_section(real, args.checks, args.recalibration)) + "\n"
        (WORK / "forecast_stop.md").write_text(text)
        print(text)
        return 0
    prev = args.previous_weights
    if prev is None:
        from bench_forecast_degradation import old_weights

        prev = old_weights()
    prev_sha = json.loads((prev / "forecast_pfn.json").read_text()).get("sha256", "?")
    methods: dict[str, Callable[[dict[str, Any], int], Result]] = {
        "last value": _point_method("last"),
        "best so far": _point_method("best"),
        "pow3 LS": _point_method("pow3"),
        "ensemble (ours)": _gap_method("ensemble"),
        "PFN (ours)": _gap_method("pfn"),
        "PFN (previous)": _gap_method("pfn", weights=prev, band_scale=1.0),
        # ablation: the same forecasters without the log-distance-to-bound transform (matters on LCDB only)
        "ensemble, no bound": _gap_method("ensemble", None),
        "PFN, no bound": _gap_method("pfn", None),
    }
    lc_path = args.lcpfn
    lc = None
    if lc_path.is_file():
        lc = LCPFN(lc_path)
        methods["LC-PFN (here)"] = lc
    if args.methods:
        keep = [m.strip() for m in args.methods.split(",")]
        methods = {k: v for k, v in methods.items() if any(k.startswith(p) for p in keep)}
    for fn in list(methods.values()):  # warm-up (imports, weight loading) outside the timings
        fn(real[0], 10)
    t0 = time.time()
    c0 = time.process_time()
    load0 = os.getloadavg()[0]
    synth = load_prior(args.prior)
    if args.limit:
        synth = synth[: args.limit]
    curves = real + cpu_runs + wild + lcdb + synth
    wanted = set(args.sets.split(","))
    rows = evaluate([c for c in curves if c["set"] in wanted], methods)
    if args.merge_rows is not None:
        rows += [r for r in json.loads(args.merge_rows.read_text()) if r["set"] not in wanted]
    names = list(methods)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False).stdout
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    runs_ = [c for c in curves if c["set"] in ("real", "cpu", "wild")]
    n_deg = sum(is_degrading(c["y"]) for c in runs_)
    md = ["# Learning-curve forecasting benchmark\n",
          f"- command: `OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_forecast.py "
          f"{' '.join(sys.argv[1:])}`",
          f"- machine: {cpu}, 2 cores shared by 4 agents, no GPU; load average {load0:.1f} at start / "
          f"{os.getloadavg()[0]:.1f} at end (timings are CPU time of one thread, `time.process_time`)",
          f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; commit `{rev.strip()}` (+ uncommitted work)",
          f"- PFN (ours): the shipped weights (sha256 "
          f"{json.loads((REPO / 'src/gapwatch/weights/forecast_pfn.json').read_text())['sha256'][:8]}…) with "
          "the shipped defaults (conformal band width factor, recalibrated P(best behind)); PFN (previous): "
          f"the weights before the degradation fine-tuning (sha256 {prev_sha[:8]}…, commit 60a020b) with its own "
          "band and its own P(best behind)",
          f"- data: {len(real)} Crowded Valley / DeepOBS runs ({len(skipped)} diverged/degenerate skipped), "
          f"{len(cpu_runs)} CPU-trained runs, {len(wild)} held-out loss curves of the real-log corpus "
          f"({wild_missing} log files not in the cache), {len(lcdb)} LCDB curves (seed {args.seed}), "
          f"{len(synth)} synthetic prior curves (seed 123); {n_deg} of the {len(runs_)} real runs degrade; cuts at "
          f"{', '.join(f'{int(100 * c)}%' for c in CUTS)}; evaluation wall time {time.time() - t0:.0f} s, "
          f"CPU {time.process_time() - c0:.0f} s"
          + (f" (sets {args.sets} in this run; the others' rows from {args.merge_rows.name})"
             if args.merge_rows is not None else ""),
          "- units: normalised (observed part spans [0, 1]); LL per held-back evaluation, floored at "
          f"{LL_FLOOR:g}; MAE columns are medians over forecasts; best-x error is a mean",
          ]
    if lc is not None:
        md.append(f"- LC-PFN trained here: {json.dumps(lc.info)}")
    else:
        md.append(f"- LC-PFN: no model at {lc_path.relative_to(REPO) if lc_path.is_relative_to(REPO) else lc_path} "
                  "in this run (its rows from the earlier run are quoted below the tables, labelled as such)")
    is_run = {"real", "cpu", "wild"}
    deg = [r for r in rows if r["set"] in is_run and r["degrading"]]
    nondeg = [r for r in rows if r["set"] in is_run and not r["degrading"]]
    sets = [("real + LCDB", [r for r in rows if r["set"] in ("real", "lcdb")]),
            ("degrading runs (Crowded Valley / DeepOBS, CPU-trained, real-log corpus)", deg),
            ("non-degrading runs (same sets)", nondeg),
            ("real-log corpus (bench/wild, held-out loss)", [r for r in rows if r["set"] == "wild"]),
            ("Crowded Valley / DeepOBS runs", [r for r in rows if r["set"] == "real"]),
            ("CPU-trained runs", [r for r in rows if r["set"] == "cpu"]),
            ("LCDB (sample-wise, validation accuracy)", [r for r in rows if r["set"] == "lcdb"]),
            ("held-out curves from the PFN's prior (synthetic)", [r for r in rows if r["set"] == "prior"])]
    for title, rs in sets:
        md.append(table(rs, names, title))
    for title, rs in sets[1:4] + sets[6:7]:
        md += [f"\n**by cut, {title}**\n"] + by_cut_table(rs, names)
    md += ["\n**P(best behind) as a classifier (Brier ↓ / AUROC ↑)** — label: no later evaluation beats the "
           "best observed one. The shipped recalibration was fitted on half of the Crowded Valley / DeepOBS and "
           "CPU-trained runs (bench_forecast_degradation.py): in-sample there, out of sample on the real-log "
           "corpus and LCDB.\n"]
    md += classifier_table(sets[1:], [m for m in names if m not in ("last value", "best so far", "pow3 LS")])
    (WORK / "forecast_rows.json").write_text(json.dumps(rows))

    if not args.no_stop:
        md.extend(stop_section(real, args.checks, args.recalibration))
    elif (WORK / "forecast_stop.md").is_file():
        md.append((WORK / "forecast_stop.md").read_text())
    text = "\n".join(md) + "\n"
    write_section(args.out, text)
    print(text)
    return 0


def patience_with_forecast(curves: list[dict[str, Any]], frac: float, method: str | None = None, th: float = 0.0,
                           recalibration: str = "v3") -> list[dict[str, Any]]:
    """Patience (stop after ``frac`` × n evaluations without a new best). With ``method``, patience is only the
    trigger and P(best behind) the confirmation: at each evaluation where patience would stop, forecast the rest
    of the run and stop only if P(best behind) ≥ ``th``; otherwise keep training."""
    out = []
    for c in curves:
        y, n = c["y"], c["y"].size
        z = y if c["mode"] == "min" else -y
        pat = max(2, round(frac * n))
        best, since, stop = np.inf, 0, n
        for i, v in enumerate(z):
            if v < best:
                best, since = v, 0
            else:
                since += 1
            if since >= pat and method is None:
                stop = i + 1
                break
            if since >= pat and i + 1 < n - 1 and i + 1 >= 3:
                fc = forecast_curve(c["x"], y, observed=i + 1, horizon=n, mode=c["mode"], method=method,
                                    n_samples=256, recalibration=recalibration)
                if fc.p_best_behind >= th:
                    stop = i + 1
                    break
        rng_ = float(np.ptp(z)) or 1.0
        out.append({"curve": c["name"], "stop": stop, "n": n, "regret": (z[:stop].min() - z.min()) / rng_,
                    "saved": 1.0 - stop / n, "overfits": overfits(y, c["mode"])})
    return out


def stop_section(real: list[dict[str, Any]], checks: int, recalibration: str = "v3") -> list[str]:
    md = ["\n## P(best behind) as a stop signal (real runs)\n",
          f"Replay: {checks} forecasts per run from 20% of the run on (horizon = the run's end); stop at "
          "the first with P(best behind) ≥ threshold. Regret = best value up to the stop − best of the "
          "whole run, in units of the run's value range (0 = nothing lost). Baseline: patience (stop after "
          "k evaluations without a new best), k = 10% / 20% of the run, alone or confirmed by the forecast (stop "
          "only when P(best behind) ≥ threshold at the evaluation where patience fires). P(best behind): "
          f"recalibration {recalibration!r} (gapwatch.forecast.calibrate).\n",
          "| rule | runs stopped early | mean regret | median regret | runs with regret > 0.01 | "
          "mean fraction of run saved | ... on the runs that overfit |",
          "|---|---|---|---|---|---|---|"]
    ths = (0.8, 0.9, 0.95)
    for method in ("ensemble", "pfn"):
        sr = stop_signal(real, method, ths, checks, recalibration)
        for th in ths:
            md.append(_stop_row(f"{method} P≥{th}", [r for r in sr if r["threshold"] == th]))
    for frac in (0.1, 0.2):
        md.append(_stop_row(f"patience {int(100 * frac)}%", patience_with_forecast(real, frac)))
    for method in ("ensemble", "pfn"):
        for th in (0.5, 0.8):
            md.append(_stop_row(f"patience 10% confirmed by {method} P≥{th}",
                                patience_with_forecast(real, 0.1, method, th, recalibration)))
    return md


def _stop_row(name: str, rs: list[dict[str, Any]]) -> str:
    reg = np.array([r["regret"] for r in rs])
    early = sum(r["stop"] < r["n"] for r in rs)
    of = [r["saved"] for r in rs if r["overfits"]]
    return (f"| {name} | {early}/{len(rs)} | {reg.mean():.3f} | {np.median(reg):.3f} | {int((reg > 0.01).sum())} | "
            f"{np.mean([r['saved'] for r in rs]):.2f} | {np.mean(of):.2f} |")


if __name__ == "__main__":
    raise SystemExit(main())
