"""Early-stopping benchmark: gapwatch's StopPolicy against patience, Prechelt's criteria and log linters.

Corpora (every run: a monitored validation loss, a test loss for scoring, a train loss for the peers that
need one):

* ``real-cv``: the 39 Crowded Valley runs of ``/work/shared/curves/real-runs.jsonl`` (decide on ``valid_loss``,
  score on ``test_loss``).
* ``real-deepobs``: the 31 DeepOBS runs have **no validation split**. They are reported in a separate table in
  which every method decides on ``test_loss`` and is scored on ``test_loss`` (a leaky, optimistic setting that
  still compares the stopping rules with each other); they never enter the headline numbers or the tuning.
* ``cpu``: runs trained on CPU by ``bench/train_runs.py`` (``bench/curves/cpu-runs.jsonl``); grokking runs are
  reported separately.
* ``synth``: generated families of :mod:`gapwatch.testing.synth` with known ground truth.

Split: tuning = synth seeds 0..TUNE_SEEDS-1 plus a fixed hash-chosen third of the real Crowded Valley and CPU
runs; report = everything else (synth seeds 1000+). Tuning scores a setting by its regret on the *validation*
curve (the whole run's validation best is the oracle), so no test value is ever used to choose a parameter.

Metrics per method: median / p90 relative regret = (test at the restored evaluation − best test of the whole
run) / |best test|; budget = evaluations trained / evaluations in the run; false-stop rate = share of stopped
runs where the best validation value of the whole run was > 1% better (relative) than the best seen at the
stop; the same on runs that never overfit. Every method restores the best validation evaluation seen so far.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_early_stopping.py [--tune] [--no-linters]
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_early_stopping.py --confirm-study

``--confirm-study`` measures the optional forecast-confirmed stop (``confirm_p_best_behind`` /
``confirm_wait``) against patience 10 and the current default, tunes among its settings on the tuning split
only, and writes its own section at the end of the results file (kept when the main tables are rewritten).

The linters run in their own venv (``bench/_work/linters-venv``, created with
``python -m venv bench/_work/linters-venv && bench/_work/linters-venv/bin/pip install runmedic finetune-doctor
losslint traintools``); this file doubles as their worker (``--linters-worker IN OUT``) in that venv.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL = Path("/work/shared/curves/real-runs.jsonl")
CPU = HERE / "curves" / "cpu-runs.jsonl"
WORK = HERE / "_work"
LINTERS_PY = WORK / "linters-venv" / "bin" / "python"
OUT = HERE / "results" / "early_stopping.md"
TUNE_SEEDS = 12
REPORT_SEEDS = range(1000, 1010)
SYNTH_FAMILIES = ("clean", "noisy", "overfitting", "double_descent", "spikes", "underfitting", "nan",
                  "divergence")
SYNTH_NOISES = (0.005, 0.02, 0.05)
NEVER_OVERFIT_SYNTH = ("clean", "noisy", "underfitting")


# ============================================================================================ linter worker
def _linters_worker(inp: str, out: str) -> None:  # runs inside the linters venv: stdlib + linters only
    import warnings

    warnings.filterwarnings("ignore")
    runs = json.loads(Path(inp).read_text())
    res: dict[str, dict[str, Any]] = {}

    def first(fn: Callable[[int], bool], n: int, start: int = 1) -> int | None:
        for k in range(start, n + 1):
            try:
                if fn(k):
                    return k - 1
            except Exception:  # a linter crashing on a prefix is no alarm
                continue
        return None

    from runmedic import checks as rm_checks
    from runmedic import model as rm_model
    from runmedic import roles as rm_roles

    def runmedic_alarm(r: dict[str, Any], k: int) -> bool:
        run = rm_model.Run(name=r["name"], source="csv", path="")
        for key, vals in (("train_loss", r["train"]), ("val_loss", r["val"])):
            s = run.get(key)
            for i in range(k):
                v = vals[i]
                s.add(float(r["x"][i]), float("nan") if v is None else float(v))
        run.finalize()
        return any(f.check == "overfitting" for f in rm_checks.run_checks(run, rm_roles.detect(run)))

    from losslint import checks as ll_checks
    from losslint.parsing import RunLog

    def losslint_alarm(r: dict[str, Any], k: int) -> bool:
        log = RunLog(steps=[int(x) for x in r["x"][:k]], series={"loss": r["train"][:k], "eval_loss": r["val"][:k]},
                     source=Path("run.jsonl"))
        return any(f.check == "overfit_onset" for f in ll_checks.run_all_checks(log))

    from finetune_doctor import diagnose
    from finetune_doctor.history import from_trainer_state

    def fd_alarm(r: dict[str, Any], k: int) -> bool:
        log = []
        for i in range(k):
            st = int(r["x"][i])
            if r["train"][i] is not None:
                log.append({"step": st, "loss": r["train"][i]})
            log.append({"step": st, "eval_loss": r["val"][i] if r["val"][i] is not None else float("nan")})
        d = diagnose(from_trainer_state({"log_history": log, "global_step": int(r["x"][k - 1])}))
        return any(f.check == "overfitting" for f in d.findings)

    tg_mod = None
    try:
        from traintools.earlyguard import TrainGuard
        tg_mod = TrainGuard
    except Exception as exc:  # pragma: no cover
        res["_traintools_error"] = {"error": repr(exc)}

    def trainguard_first(r: dict[str, Any], mult: int) -> int | None:
        import random

        import numpy as np

        random.seed(0)
        np.random.seed(0)
        g = tg_mod()  # type: ignore[misc]
        for i in range(len(r["val"])):
            v = r["val"][i]
            g.record(step=int(r["x"][i] * mult), val_loss=float("inf") if v is None else float(v))
            try:
                if g.evaluate().should_stop:
                    return i
            except Exception:  # TrainGuard raises on non-finite losses (statistics.stdev); no decision then
                crashes[0] += 1
        return None

    crashes = [0]

    t0 = time.time()
    for r in runs:
        n = len(r["val"])
        out_r: dict[str, Any] = {}
        out_r["runmedic"] = first(lambda k: runmedic_alarm(r, k), n)
        out_r["losslint"] = first(lambda k: losslint_alarm(r, k), n)
        out_r["finetune-doctor"] = first(lambda k: fd_alarm(r, k), n)
        out_r["TrainGuard"] = trainguard_first(r, 1) if tg_mod is not None else None
        out_r["TrainGuard x100"] = trainguard_first(r, 100 if r.get("x_is_epoch") else 1) if tg_mod else None
        res[r["name"]] = out_r
    res["_seconds"] = {"wall": time.time() - t0, "trainguard_crashed_evaluations": crashes[0]}
    Path(out).write_text(json.dumps(res))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--linters-worker":
    _linters_worker(sys.argv[2], sys.argv[3])
    sys.exit(0)

# ============================================================================================ main side
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

from gapwatch.policy import DEFAULTS, validate_params  # noqa: E402

# the offline helpers behind policy.first_stop are private (their contract: the online == offline tests)
from gapwatch.policy import _first_stop_from_stats as first_stop_from_stats  # noqa: E402
from gapwatch.policy import _prefix_stats as prefix_stats  # noqa: E402
from gapwatch.testing import synth  # noqa: E402


def _arr(xs: list[Any]) -> np.ndarray:
    return np.array([np.nan if x is None else float(x) for x in xs], dtype=float)


class Run:
    """One benchmark run: monitored ``val`` (lower is better), ``test`` for scoring, ``train`` for peers."""

    def __init__(self, name: str, corpus: str, val: np.ndarray, test: np.ndarray, train: np.ndarray,
                 x: np.ndarray, group: str, tune: bool, extra: dict[str, Any] | None = None) -> None:
        self.name, self.corpus, self.group, self.tune = name, corpus, group, tune
        self.val, self.test, self.train, self.x = val, test, train, x
        self.extra = extra or {}
        fv = val[np.isfinite(val)]
        best = float(fv.min()) if fv.size else math.nan
        last = float(val[-1]) if np.isfinite(val[-1]) else math.inf
        # never overfits: the final validation value is within 1% of the best (relative to |best|)
        self.never_overfit = bool(fv.size and last <= best + 0.01 * abs(best))
        if "never_overfit" in self.extra:
            self.never_overfit = bool(self.extra["never_overfit"])
        self._stats: Any = None

    @property
    def n(self) -> int:
        return int(self.val.size)

    def stats(self) -> Any:
        if self._stats is None:
            self._stats = prefix_stats(self.val, "min", 5)
        return self._stats


def _tune_pick(name: str, frac: float = 1 / 3) -> bool:
    h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < frac


def load_real() -> list[Run]:
    runs = []
    for line in REAL.read_text().splitlines():
        r = json.loads(line)
        m = r["metrics"]
        name = f"{r['source']}:{r['problem']}:{r['optimizer']}:{Path(r['path']).parent.name[-40:]}:{r['random_seed']}"
        x = np.arange(len(m["test_loss"]), dtype=float)
        train = _arr(m.get("train_loss", [None] * len(x)))
        if r["source"] == "crowded-valley":
            runs.append(Run(name, "real-cv", _arr(m["valid_loss"]), _arr(m["test_loss"]), train, x, "real-cv",
                            _tune_pick(name)))
        else:
            runs.append(Run(name, "real-deepobs", _arr(m["test_loss"]), _arr(m["test_loss"]), train, x,
                            "real-deepobs", False))
    return runs


def load_cpu() -> list[Run]:
    if not CPU.exists():
        print(f"note: {CPU} missing; run bench/train_runs.py first", file=sys.stderr)
        return []
    runs = []
    for line in CPU.read_text().splitlines():
        r = json.loads(line)
        m = r["metrics"]
        n = len(m["val_loss"])
        x = np.asarray(r.get("steps", list(range(n))), dtype=float)
        extra = {"family": r["family"], "config": r["config"]}
        if "val_acc" in m:
            extra.update(val_acc=_arr(m["val_acc"]), test_acc=_arr(m["test_acc"]), train_acc=_arr(m["train_acc"]))
        grok = r["family"] == "grokking"
        runs.append(Run(r["name"], "cpu-grokking" if grok else "cpu", _arr(m["val_loss"]), _arr(m["test_loss"]),
                        _arr(m["train_loss"]), x, r["family"], (not grok) and _tune_pick(r["name"]), extra))
    return runs


def _synth_run(fam: str, seed: int, noise: float, tune: bool) -> Run:
    kw: dict[str, Any] = {"noise": noise}
    s = synth.generate(fam, seed, **kw)
    h = s.history
    v, t, tr = h.series("val", "loss"), h.series("test", "loss"), h.series("train", "loss")
    extra: dict[str, Any] = {"label": s.label.to_dict()}
    if fam in NEVER_OVERFIT_SYNTH:
        extra["never_overfit"] = True
    if fam in ("grokking", "memorization"):
        va, ta = h.series("val", "acc"), h.series("test", "acc")
        extra.update(val_acc=va.values, test_acc=ta.values)
    corpus = "synth-grokking" if fam in ("grokking", "memorization") else "synth"
    return Run(f"synth:{fam}:{seed}:{noise}", corpus, v.values, t.values, tr.values, v.epoch if
               np.isfinite(v.epoch).all() else np.arange(len(v.values), dtype=float), fam, tune, extra)


def load_synth(tune: bool) -> list[Run]:
    seeds = range(TUNE_SEEDS) if tune else REPORT_SEEDS
    runs = [_synth_run(f, s, nz, tune) for f in SYNTH_FAMILIES for s in seeds for nz in SYNTH_NOISES]
    if not tune:
        runs += [_synth_run(f, s, 0.01, False) for f in ("grokking", "memorization") for s in range(10)]
    return runs


# ============================================================================================ baselines
Stopper = Callable[[Run], "int | None"]


def patience(k: int) -> Stopper:
    def f(r: Run) -> int | None:
        best, since = math.inf, 0
        for i, v in enumerate(r.val):
            vv = v if math.isfinite(v) else math.inf
            if vv < best:
                best, since = vv, 0
            else:
                since += 1
                if since >= k:
                    return i
        return None
    return f


def _gl(r: Run, i: int) -> float:
    fv = r.val[: i + 1]
    fv = fv[np.isfinite(fv)]
    if not math.isfinite(r.val[i]) or fv.size == 0:
        return math.inf
    eopt = float(fv.min())
    if eopt <= 0:  # Prechelt's ratios assume a positive error; fall back to a ratio on the shifted value
        return 100.0 * (r.val[i] - eopt) / max(abs(eopt), 1e-12)
    return 100.0 * (r.val[i] / eopt - 1.0)


def prechelt_gl(alpha: float) -> Stopper:
    """GL_α: stop when the generalisation loss 100·(E_va/E_opt − 1) exceeds α (Prechelt 1998)."""
    def f(r: Run) -> int | None:
        for i in range(r.n):
            if _gl(r, i) > alpha:
                return i
        return None
    return f


def _progress(r: Run, i: int, k: int = 5) -> float:
    s = r.train[i - k + 1: i + 1]
    s = s[np.isfinite(s)]
    if s.size < k or s.min() <= 0:
        return math.nan
    return 1000.0 * (s.sum() / (k * s.min()) - 1.0)


def prechelt_pq(alpha: float, k: int = 5) -> Stopper:
    """PQ_α: stop when GL / P_k > α, evaluated at the end of each training strip of k evaluations."""
    def f(r: Run) -> int | None:
        for i in range(k - 1, r.n, k):
            gl = _gl(r, i)
            if not math.isfinite(gl):
                return i
            p = _progress(r, i, k)
            if math.isfinite(p) and p > 0 and gl / p > alpha:
                return i
        return None
    return f


def prechelt_up(s: int, k: int = 5) -> Stopper:
    """UP_s: stop when the validation error rose at the end of s successive strips of k evaluations."""
    def f(r: Run) -> int | None:
        ups = 0
        for i in range(2 * k - 1, r.n, k):
            a, b = r.val[i], r.val[i - k]
            a = a if math.isfinite(a) else math.inf
            ups = ups + 1 if a > b else 0
            if ups >= s:
                return i
        return None
    return f


def never(r: Run) -> int | None:
    return None


def gapwatch_policy(**params: Any) -> Stopper:
    p = validate_params("min", params)

    def f(r: Run) -> int | None:
        return first_stop_from_stats(r.stats(), p)
    return f


# ============================================================================================ metrics
def evaluate(r: Run, stop: int | None, score: str = "test") -> dict[str, float]:
    end = r.n - 1 if stop is None else stop
    pref = r.val[: end + 1]
    fin = np.isfinite(pref)
    restore = int(np.argmin(np.where(fin, pref, np.inf))) if fin.any() else 0
    target = r.test if score == "test" else r.val
    tf = target[np.isfinite(target)]
    best_t = float(tf.min()) if tf.size else math.nan
    got = float(target[restore]) if np.isfinite(target[restore]) else math.inf
    regret = (got - best_t) / max(abs(best_t), 1e-12) if math.isfinite(best_t) else math.nan
    vf = r.val[np.isfinite(r.val)]
    best_all = float(vf.min()) if vf.size else math.nan
    best_seen = float(pref[fin].min()) if fin.any() else math.inf
    false_stop = float(stop is not None and best_seen - best_all > 0.01 * abs(best_all))
    return {"regret": regret, "budget": (end + 1) / r.n, "stopped": float(stop is not None),
            "false_stop": false_stop, "restore": restore}


def summarize(runs: list[Run], stops: dict[str, int | None], score: str = "test") -> dict[str, float]:
    ev = [evaluate(r, stops[r.name], score) for r in runs]
    reg = np.array([e["regret"] for e in ev])
    reg = reg[np.isfinite(reg)]
    no = [e for e, r in zip(ev, runs) if r.never_overfit]
    return {
        "n": len(runs),
        "median": float(np.median(reg)) if reg.size else math.nan,
        "p90": float(np.quantile(reg, 0.9)) if reg.size else math.nan,
        "mean": float(reg.mean()) if reg.size else math.nan,
        "n_stopped": float(np.sum([e["stopped"] for e in ev])),
        "budget": float(np.mean([e["budget"] for e in ev])) if ev else math.nan,
        "false_stop": float(np.mean([e["false_stop"] for e in ev])) if ev else math.nan,
        "n_never": len(no),
        "false_stop_never": float(np.mean([e["false_stop"] for e in no])) if no else math.nan,
        "alarm_never": float(np.mean([e["stopped"] for e in no])) if no else math.nan,
    }


# ============================================================================================ tuning
GRID = {
    "min_wait": (1, 2, 3, 5),
    "max_wait": (8, 10, 12, 15, 20),
    "window": (1, 2, 3, 5),
    "z_stop": (1.0, 2.0, 3.0, 4.0),
    "min_giveback": (0.0, 0.01, 0.03, 0.1),
}


def _tune_score(runs: list[Run], stops: dict[str, int | None]) -> tuple[float, float, dict[str, float]]:
    """(regret score, budget) with the generated and the real tuning runs weighted equally; regret score =
    mean + p90 of the relative regret measured on the validation curve (no test value is used)."""
    parts = {}
    for grp in ("synth", "real"):
        rr = [r for r in runs if (r.corpus == "synth") == (grp == "synth")]
        if rr:
            parts[grp] = summarize(rr, stops, score="val")
    reg = float(np.mean([p["mean"] + p["p90"] for p in parts.values()]))
    bud = float(np.mean([p["budget"] for p in parts.values()]))
    return reg, bud, {f"{g}_{k}": v[k] for g, v in parts.items() for k in ("mean", "p90", "budget")}


def tune(runs: list[Run], log: list[str]) -> dict[str, Any]:
    """Choose the policy parameters on the tuning split (never on the report runs, never on test values).

    Goal from the issue: as low regret as patience 10 with >= 25% less budget, else lower regret at equal
    budget. So: among settings whose budget is <= 0.75 x patience 10's, take the lowest regret score; if that
    score is not better than patience 10's, fall back to the lowest regret score among settings with budget
    <= patience 10's."""
    ref_reg, ref_bud, ref_parts = _tune_score(runs, {r.name: patience(10)(r) for r in runs})
    log.append(f"tuning runs: {len(runs)} ({sum(r.corpus == 'synth' for r in runs)} generated, "
               f"{sum(r.corpus != 'synth' for r in runs)} real); patience 10 on them: regret score "
               f"(mean + p90 validation regret) {ref_reg:.4f}, budget {ref_bud:.3f}")
    rows = []
    keys = list(GRID)
    for combo in itertools.product(*GRID.values()):
        params = dict(zip(keys, combo))
        if params["min_wait"] > params["max_wait"]:
            continue
        f = gapwatch_policy(**params)
        reg, bud, parts = _tune_score(runs, {r.name: f(r) for r in runs})
        rows.append((params, reg, bud, parts))
    a = [row for row in rows if row[2] <= 0.75 * ref_bud]
    best = min(a, key=lambda row: (row[1], row[2])) if a else None
    rule = "budget <= 0.75 x patience 10, lowest regret score"
    if best is None or best[1] > ref_reg:
        b = [row for row in rows if row[2] <= ref_bud]
        best = min(b or rows, key=lambda row: (row[1], row[2]))
        rule = "budget <= patience 10, lowest regret score (no setting at 0.75 x budget matched patience 10's regret)"
    p, reg, bud, parts = best
    log.append(f"settings tried: {len(rows)}; rule: {rule}")
    log.append(f"chosen: {p} -> regret score {reg:.4f}, budget {bud:.3f} "
               f"({', '.join(f'{k} {v:.3f}' for k, v in parts.items())})")
    return p


# ============================================================================================ linters
def run_linters(runs: list[Run], log: list[str]) -> dict[str, dict[str, int | None]]:
    if not LINTERS_PY.exists():
        log.append(f"linters venv missing at {LINTERS_PY}; linters skipped")
        return {}
    WORK.mkdir(exist_ok=True)
    cache_path = WORK / "linters-cache.json"
    cache: dict[str, Any] = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    payload, keys = [], {}
    for r in runs:
        x_is_epoch = not r.corpus.endswith("grokking") or r.corpus == "synth-grokking"
        item = {"name": r.name, "x": [float(v) for v in (r.x if np.isfinite(r.x).all() else np.arange(r.n))],
                "val": [None if not math.isfinite(v) else float(v) for v in r.val],
                "train": [None if not math.isfinite(v) else float(v) for v in r.train], "x_is_epoch": x_is_epoch}
        key = hashlib.sha256(json.dumps(item).encode()).hexdigest()[:20]
        keys[r.name] = key
        if key not in cache:
            payload.append(item)
    if payload:
        inp, outp = WORK / "linters-in.json", WORK / "linters-out.json"
        inp.write_text(json.dumps(payload))
        t0 = time.time()
        proc = subprocess.run([str(LINTERS_PY), str(Path(__file__).resolve()), "--linters-worker", str(inp),
                               str(outp)], capture_output=True, text=True, check=False,
                              env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""})
        if proc.returncode != 0:
            log.append(f"linters worker failed: {proc.stderr.strip().splitlines()[-1:]}")
            return {}
        res = json.loads(outp.read_text())
        for item in payload:
            cache[keys[item["name"]]] = res[item["name"]]
        cache_path.write_text(json.dumps(cache))
        log.append(f"linters worker: {len(payload)} new runs in {time.time() - t0:.0f} s")
    out: dict[str, dict[str, int | None]] = {}
    for tool in ("runmedic", "losslint", "finetune-doctor", "TrainGuard", "TrainGuard x100"):
        out[tool] = {r.name: cache.get(keys[r.name], {}).get(tool) for r in runs}
    return out


# ============================================================================================ report
def fmt(x: float, pct: bool = True) -> str:
    if not math.isfinite(x):
        return "—"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def table(title: str, runs: list[Run], methods: dict[str, dict[str, int | None]], lines: list[str],
          score: str = "test") -> dict[str, dict[str, float]]:
    out = {}
    lines.append(f"\n### {title} ({len(runs)} runs)\n")
    lines.append("| method | median regret | p90 regret | budget trained | false-stop rate | "
                 "false stops, never-overfit runs | any stop/alarm, never-overfit runs |")
    lines.append("|---|---|---|---|---|---|---|")
    for m, stops in methods.items():
        s = summarize(runs, stops, score)
        out[m] = s
        lines.append(f"| {m} | {fmt(s['median'])} | {fmt(s['p90'])} | {fmt(s['budget'])} | {fmt(s['false_stop'])} | "
                     f"{fmt(s['false_stop_never'])} (n={s['n_never']}) | {fmt(s['alarm_never'])} |")
    return out


def grok_table(runs: list[Run], methods: dict[str, dict[str, int | None]], lines: list[str]) -> None:
    lines.append("\n### Grokking and memorisation runs (stop evaluation / run length; test accuracy at the restored "
                 "evaluation vs the run's best)\n")
    names = list(methods)
    lines.append("| run | memorised at | generalised at | " + " | ".join(names) + " |")
    lines.append("|---|---|---|" + "---|" * len(names))
    for r in runs:
        ta = r.extra.get("test_acc")
        va = r.extra.get("val_acc")
        tra = r.extra.get("train_acc")
        lab = r.extra.get("label", {})
        if tra is not None:
            mem = int(np.argmax(tra >= 0.98)) if (tra >= 0.98).any() else None
        else:
            mem = int(lab["events"]["memorized"]) - 1 if lab.get("events", {}).get("memorized") else None
        gen = None
        if va is not None and np.isfinite(va).any():
            lo, hi = float(np.nanmin(va[:5])), float(np.nanmax(va))
            if hi - lo > 0.3:
                gen = int(np.argmax(va >= lo + 0.5 * (hi - lo)))
        cells = []
        for m in names:
            st = methods[m][r.name]
            end = r.n - 1 if st is None else st
            pref = r.val[: end + 1]
            rest = int(np.nanargmin(np.where(np.isfinite(pref), pref, np.inf)))
            acc = f"{float(ta[rest]):.2f}/{float(np.nanmax(ta)):.2f}" if ta is not None else ""
            cells.append(f"{'—' if st is None else st} ({acc})")
        lines.append(f"| {r.name} ({r.n} evals) | {mem} | {gen} | " + " | ".join(cells) + " |")


NOTES = [
    "How to read this:",
    "",
    "- Every method restores the best validation evaluation seen up to its stop (what a best-checkpoint "
    "keeper does), so the methods differ only in *when* they stop. Regret = (test loss at the restored "
    "evaluation - best test loss of the whole run) / |best test loss|; budget = evaluations trained / "
    "evaluations in the run (mean); false stop = stopped while the whole run's best validation value was "
    "> 1% (relative) better than the best seen at the stop.",
    "- Never-overfit runs: real and CPU runs whose final validation loss is within 1% of their best; generated "
    "runs of the clean, noisy and underfitting families. For gapwatch and patience the last column counts any "
    "stop (mostly the patience cap on plateaus); for the linters it counts their first overfitting alarm.",
    "- Report split only: synth seeds 1000-1009 (8 families x 3 noise levels) + grokking/memorisation seeds 0-9; "
    "real Crowded Valley and CPU runs not in the hash-chosen tuning third. DeepOBS has no validation split: it "
    "is excluded from tuning and from the headline, and shown separately with decisions on test_loss "
    "(leaky: the same series decides and scores).",
    "- CPU corpus (bench/train_runs.py, single thread): 18 digits MLPs (3 learning-rate/optimizer settings x 2 "
    "weight decays x label noise 0/0.2/0.4), 8 Fashion-MNIST MLPs and 2 small CNNs (1,500 training images, "
    "label noise 0/0.3), 4 char-level GRU LMs on the GPL-3 text (40 epochs over 17.5k characters), 4 "
    "modular-addition (p=23) MLPs with AdamW weight decay 0/1/2 (grokking/memorisation, evaluated every 100 "
    "steps). Monitored: val_loss; scored: test_loss.",
    "- Linters (installed from PyPI into bench/_work/linters-venv: runmedic 0.1.1, finetune-doctor 0.2.2, "
    "losslint 0.4.1, traintools 0.6.2), called on every prefix of the run with their defaults: runmedic "
    "`checks.run_checks` (first `overfitting` finding, any severity); losslint `checks.run_all_checks` on a "
    "`RunLog` with `loss`/`eval_loss` (first `overfit_onset`; this is what `losslint watch` re-runs on each "
    "poll); finetune-doctor `diagnose(from_trainer_state(...))` on a synthetic trainer_state log_history "
    "(first `overfitting` finding, any severity; it has no watch mode); traintools `TrainGuard().record(step, "
    "val_loss)` + `.evaluate().should_stop` after every evaluation. TrainGuard's decision depends on the step "
    "unit: with step = epoch index its curve-fit confidence check says stop at its 5th record on most runs, so "
    "it is shown twice (step as logged, and step = 100 x epoch for epoch-logged runs). TrainGuard raises on "
    "non-finite losses (Python's statistics.stdev); such evaluations count as no decision.",
    "",
]


def pareto(res: dict[str, dict[str, float]]) -> list[str]:
    """Methods not dominated on (median regret, p90 regret, budget)."""
    keys = ("median", "p90", "budget")
    out = []
    for m, a in res.items():
        dom = any(all(b[k] <= a[k] for k in keys) and any(b[k] < a[k] for k in keys)
                  for o, b in res.items() if o != m)
        if not dom:
            out.append(m)
    return out


CONFIRM_MARK = "<!-- confirm-study -->"
CONFIRM_THRESHOLDS = (0.8, 0.9)
CONFIRM_WAITS = (3, 5, 6)


def _write_section(out: Path, main_text: str | None, section: str | None) -> None:
    """Write the results file: the main tables and the forecast-confirmed stop section (each kept from the
    existing file when not given)."""
    old = out.read_text() if out.exists() else ""
    old_main, _, old_sec = old.partition(CONFIRM_MARK)
    main_text = old_main.rstrip() + "\n" if main_text is None else main_text
    sec = (CONFIRM_MARK + old_sec) if section is None and old_sec else (
        "" if section is None else CONFIRM_MARK + "\n" + section)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(main_text + ("\n" + sec if sec else ""))


def _oracle(r: Run) -> int | None:
    v = np.where(np.isfinite(r.val), r.val, np.inf)
    return int(np.argmin(v)) if np.isfinite(v).any() else None


def _earlier(a: int | None, b: int | None) -> bool:
    return a is not None and (b is None or a < b)


def confirm_study(args: argparse.Namespace) -> None:
    """The forecast-confirmed stop (StopPolicy ``confirm_p_best_behind``) on the same splits as the main tables."""
    t0 = time.time()
    real = load_real()
    cpu = load_cpu()
    tune_runs = [r for r in real + cpu if r.tune] + load_synth(tune=True)
    report = [r for r in real + cpu if not r.tune] + load_synth(tune=False)
    report = [r for r in report if r.corpus in ("real-cv", "cpu", "synth")]
    settings = list(itertools.product(args.confirm_horizons, args.confirm_thresholds, args.confirm_waits))

    def label(st: tuple[float, float, int]) -> str:
        hz = "" if st[0] == DEFAULTS["confirm_horizon"] else f", horizon {st[0]:g}x"
        return f"gapwatch + forecast P>={st[1]:g}, confirm_wait={st[2]}{hz}"

    def params(st: tuple[float, float, int]) -> dict[str, Any]:
        return {"confirm_horizon": st[0], "confirm_p_best_behind": st[1], "confirm_wait": st[2]}

    base: dict[str, Stopper] = {"gapwatch (default)": gapwatch_policy(), "patience 10": patience(10),
                                "patience 20": patience(20)}
    log: list[str] = []
    # tuning: the same rule as tune(), on the tuning split, scored on validation regret only
    ref_reg, ref_bud, _ = _tune_score(tune_runs, {r.name: patience(10)(r) for r in tune_runs})
    def_reg, def_bud, _ = _tune_score(tune_runs, {r.name: gapwatch_policy()(r) for r in tune_runs})
    log.append(f"tuning split ({len(tune_runs)} runs): patience 10 regret score {ref_reg:.4f} budget {ref_bud:.3f}; "
               f"default {def_reg:.4f} / {def_bud:.3f}")
    rows = []
    for st in settings:
        f = gapwatch_policy(**params(st))
        reg, bud, parts = _tune_score(tune_runs, {r.name: f(r) for r in tune_runs})
        rows.append((st, reg, bud))
        log.append(f"{label(st)}: regret score {reg:.4f}, budget {bud:.3f} "
                   f"(synth p90 {parts.get('synth_p90', math.nan):.3f}, real p90 {parts.get('real_p90', math.nan):.3f})"
                   f" [{time.time() - t0:.0f} s]")
        print(log[-1], flush=True)
    a = [row for row in rows if row[2] <= 0.75 * ref_bud and row[1] <= ref_reg]
    if a:
        chosen = min(a, key=lambda row: (row[1], row[2]))
        rule = "budget <= 0.75 x patience 10 and regret score <= patience 10's; lowest regret score"
    else:
        b = [row for row in rows if row[2] <= ref_bud]
        chosen = min(b or rows, key=lambda row: (row[1], row[2]))
        rule = ("no setting reached 0.75 x patience 10's budget at its regret; lowest regret score among "
                "budget <= patience 10")
    log.append(f"rule: {rule}; chosen on the tuning split: {label(chosen[0])}")
    methods = dict(base)
    for st in settings:
        methods[label(st)] = gapwatch_policy(**params(st))
    # not a policy (it sees the future): where the whole run's validation best is, as a budget reference
    methods["oracle: stop at the run's validation best (not causal)"] = _oracle
    stops = {m: {r.name: f(r) for r in report} for m, f in methods.items()}
    n_calls = sum(len(r.stats().p_behind) for r in report)
    lines = ["## Forecast-confirmed stop (optional `confirm_p_best_behind`): measured", ""]
    cpu_name = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                     if ln.startswith("model name")), platform.processor() or "?")
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                         check=False).stdout.strip()
    mw_arg = (f" --confirm-thresholds {' '.join(map(str, args.confirm_thresholds))} --confirm-waits "
              f"{' '.join(map(str, args.confirm_waits))} --confirm-horizons {' '.join(map(str, args.confirm_horizons))}")
    lines += [f"- command: `OMP_NUM_THREADS=1 .venv/bin/python bench/bench_early_stopping.py --confirm-study{mw_arg}`",
              f"- machine: {cpu_name}, 2 cores shared, CPU only; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
              f"git {rev} (+ uncommitted work tree)",
              "- rule: the default StopPolicy plus an extra stop when the best is >= `confirm_wait` evaluations old "
              "and the parametric ensemble's P(best already behind), fitted to the validation values seen so far "
              f"(horizon `confirm_horizon` x evaluations seen: {DEFAULTS['confirm_horizon']:g}, the default, unless "
              "the label names another; seed 0), is >= the threshold. Same splits, regret, budget and "
              "false-stop definitions as the tables above; grokking/memorisation runs excluded.",
              f"- ensemble forecasts computed on the report split: {n_calls} (memoised per prefix across settings)",
              "", "Tuning log (tuning split only, validation regret):", ""] + [f"- {ln}" for ln in log]
    res = table("Headline: real runs of the report split (Crowded Valley + CPU-trained)",
                [r for r in report if r.corpus in ("real-cv", "cpu")], stops, lines)
    syn = table("Generated families, report seeds", [r for r in report if r.corpus == "synth"], stops, lines)
    table("All non-grokking report runs pooled", report, stops, lines)
    table("Real runs: Crowded Valley report split", [r for r in report if r.corpus == "real-cv"], stops, lines)
    table("CPU-trained runs, report split", [r for r in report if r.corpus == "cpu"], stops, lines)
    lines += ["", "### Goal check (issue 3: regret <= patience 10 at <= 0.75 x its budget, false stops on never-overfit "
              "runs <= 5%)", "",
              "| setting | headline median / p90 regret | headline budget / patience 10 | headline false stops never-overfit "
              "| generated p90 regret (patience 10) | generated budget / patience 10 | generated false stops never-overfit "
              "| goal on headline | same on generated | lower regret at <= budget (headline / generated) "
              "| runs stopped earlier than the default (headline / generated) |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    p10h, p10s = res["patience 10"], syn["patience 10"]
    verdict = {}
    for m in methods:
        h, g = res[m], syn[m]
        ok_h = (h["median"] <= p10h["median"] and h["p90"] <= p10h["p90"] and h["budget"] <= 0.75 * p10h["budget"]
                and h["false_stop_never"] <= 0.05)
        ok_g = (g["median"] <= p10s["median"] and g["p90"] <= p10s["p90"] and g["budget"] <= 0.75 * p10s["budget"])
        alt = ["yes" if (x["budget"] <= ref["budget"] and x["median"] <= ref["median"] and x["p90"] <= ref["p90"]
                         and (x["median"] < ref["median"] or x["p90"] < ref["p90"])) else "no"
               for x, ref in ((h, p10h), (g, p10s))]
        verdict[m] = (ok_h, ok_g)
        earlier = [sum(1 for r in rs if _earlier(stops[m][r.name], stops["gapwatch (default)"][r.name]))
                   for rs in ([r for r in report if r.corpus in ("real-cv", "cpu")],
                              [r for r in report if r.corpus == "synth"])]
        lines.append(f"| {m} | {fmt(h['median'])} / {fmt(h['p90'])} | {h['budget'] / p10h['budget']:.3f} | "
                     f"{fmt(h['false_stop_never'])} | {fmt(g['p90'])} ({fmt(p10s['p90'])}) | "
                     f"{g['budget'] / p10s['budget']:.3f} | {fmt(g['false_stop_never'])} | "
                     f"{'yes' if ok_h else 'no'} | {'yes' if ok_g else 'no'} | {alt[0]} / {alt[1]} | "
                     f"{earlier[0]} / {earlier[1]} |")
    lines += ["", f"- chosen on the tuning split: {label(chosen[0])}: headline goal "
              f"{'met' if verdict[label(chosen[0])][0] else 'missed'}, generated "
              f"{'met' if verdict[label(chosen[0])][1] else 'missed'}",
              f"- elapsed {time.time() - t0:.0f} s"]
    text = "\n".join(lines) + "\n"
    _write_section(args.out, None, text)
    print(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tune", action="store_true", help="search the policy parameters on the tuning split")
    ap.add_argument("--no-linters", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--linters-only", action="store_true", help="only fill the linters cache")
    ap.add_argument("--confirm-study", action="store_true",
                    help="measure the forecast-confirmed stop (confirm_p_best_behind) and write its section")
    ap.add_argument("--confirm-thresholds", type=float, nargs="+", default=list(CONFIRM_THRESHOLDS),
                    help="with --confirm-study: P(best behind) thresholds to try")
    ap.add_argument("--confirm-waits", type=int, nargs="+", default=list(CONFIRM_WAITS),
                    help="with --confirm-study: confirm_wait values (evaluations) to try")
    ap.add_argument("--confirm-horizons", type=float, nargs="+", default=[DEFAULTS["confirm_horizon"]],
                    help="with --confirm-study: forecast horizons (x evaluations seen) to try")
    args = ap.parse_args()
    if args.confirm_study:
        confirm_study(args)
        return
    t0 = time.time()
    log: list[str] = []
    real = load_real()
    cpu = load_cpu()
    tune_runs = [r for r in real + cpu if r.tune] + load_synth(tune=True)
    chosen = tune(tune_runs, log) if args.tune else {k: DEFAULTS[k] for k in GRID}
    report = [r for r in real + cpu if not r.tune] + load_synth(tune=False)
    headline = [r for r in report if r.corpus in ("real-cv", "cpu")]
    methods: dict[str, Stopper] = {
        "gapwatch (default)": gapwatch_policy(),
    }
    if args.tune:
        methods["gapwatch (tuned now)"] = gapwatch_policy(**chosen)
    methods["gapwatch keep_through_memorization"] = gapwatch_policy(keep_through_memorization=True)
    for mw in (8, 20):  # other operating points of the same rule (not tuned on the report runs)
        methods[f"gapwatch max_wait={mw}"] = gapwatch_policy(max_wait=mw)
    for k in (3, 5, 10, 20):
        methods[f"patience {k}"] = patience(k)
    for a in (1.0, 2.0, 5.0):
        methods[f"Prechelt GL_{a:g}"] = prechelt_gl(a)
    for a in (0.5, 1.0, 2.0):
        methods[f"Prechelt PQ_{a:g}"] = prechelt_pq(a)
    for s in (2, 3):
        methods[f"Prechelt UP_{s}"] = prechelt_up(s)
    methods["never stop"] = never
    if args.linters_only:
        run_linters(report, log)
        print("\n".join(log))
        return
    stops: dict[str, dict[str, int | None]] = {m: {r.name: f(r) for r in report} for m, f in methods.items()}
    if not args.no_linters:
        lint = run_linters(report, log)
        for tool, st in lint.items():
            label = {"TrainGuard": "traintools TrainGuard (step = logged x)",
                     "TrainGuard x100": "traintools TrainGuard (step = 100 x epoch)"}.get(
                         tool, f"{tool} (first overfitting alarm)")
            stops[label] = st

    lines = ["## Early stopping: gapwatch StopPolicy vs patience, Prechelt and log linters", ""]
    cpu_name = platform.processor() or ""
    try:
        cpu_name = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except Exception:  # noqa: BLE001
        pass
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    lines += [f"- command: `OMP_NUM_THREADS=1 .venv/bin/python bench/bench_early_stopping.py{' --tune' if args.tune else ''}`",
              f"- machine: {cpu_name}, 2 cores shared, CPU only; date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
              f"git {rev} (+ uncommitted work tree)",
              f"- policy defaults: `{ {k: DEFAULTS[k] for k in GRID} }`",
              ""]
    lines += ["Tuning log:", ""] + [f"- {ln}" for ln in log] + [""]
    lines += NOTES
    res = table("Headline: real runs of the report split (Crowded Valley + CPU-trained, grokking excluded)",
                headline, stops, lines)
    pooled = table("All non-grokking report runs pooled (real + CPU-trained + generated)",
                   [r for r in report if r.corpus in ("real-cv", "cpu", "synth")], stops, lines)
    for title, rs in (("headline", res), ("pooled", pooled)):
        front = pareto(rs)
        lines.append(f"\nPareto front ({title}; median regret, p90 regret, budget; lower is better): "
                     + ", ".join(front))
    for corpus, title in (("real-cv", "Real runs: Crowded Valley report split (decide on valid_loss, score on test_loss)"),
                          ("cpu", "CPU-trained runs, report split (bench/train_runs.py)"),
                          ("synth", "Generated families, report seeds")):
        table(title, [r for r in report if r.corpus == corpus], stops, lines)
    table("DeepOBS (no validation split: decide AND score on test_loss — leaky, for comparison only)",
          [r for r in report if r.corpus == "real-deepobs"], stops, lines)
    grok = [r for r in report if r.corpus in ("cpu-grokking", "synth-grokking")]
    if grok:
        table("Grokking / memorisation runs (score: test loss)", grok, stops, lines)
        gm = {m: stops[m] for m in stops if m in ("gapwatch (default)", "gapwatch keep_through_memorization",
                                                 "patience 10", "Prechelt GL_5", "never stop")
              or "alarm" in m or "TrainGuard" in m}
        grok_table(grok, gm, lines)
    # goal check
    d, p10 = res["gapwatch (default)"], res["patience 10"]
    lines += ["", "### Goal check (headline table)", "",
              f"- gapwatch default: median {fmt(d['median'])}, p90 {fmt(d['p90'])}, budget {fmt(d['budget'])}; "
              f"patience 10: median {fmt(p10['median'])}, p90 {fmt(p10['p90'])}, budget {fmt(p10['budget'])}.",
              f"- budget ratio gapwatch / patience 10 = {d['budget'] / p10['budget']:.3f} (goal <= 0.75 at no more regret)",
              f"- false-stop rate on never-overfit runs: {fmt(d['false_stop_never'])} (goal <= 5%)",
              f"- elapsed {time.time() - t0:.0f} s"]
    text = "\n".join(lines) + "\n"
    _write_section(args.out, text, None)
    print(text)


if __name__ == "__main__":
    main()
