"""HPO benchmark: GapwatchPruner against Optuna's pruners and Ray Tune's ASHA on real CPU-trained sweeps.

Replay (``bench/curves/cpu-runs.jsonl``, runs trained by ``bench/train_runs.py``): each family is one sweep
(``digits-mlp``: 18 configurations = 3 label-noise levels × 6 optimiser settings, 61 evaluations each;
``fmnist``: the 8 MLP + 2 CNN Fashion-MNIST runs, 41 evaluations). A trial is one recorded run; it reports
its real validation loss evaluation by evaluation (``trial.report(val_loss, epoch)``) and stops when the
pruner says so. Every pruner sees the same ``--orders`` random trial orders (sequential, one worker).

Scored per sweep and pruner:

* **epochs**: evaluations the trials reported in all (a pruned trial's evaluations count up to the prune);
* **pick**: the (trial, evaluation) with the lowest validation loss among everything reported — a pruned
  trial's best-so-far checkpoint counts as a candidate — and its **clean test accuracy** (the test split of
  that run, never seen by any pruner). ``Δ`` is the pick's test accuracy minus no pruning's, in points.

Ray Tune's ``AsyncHyperBandScheduler`` (ASHA) and gapwatch's ``GapwatchStopper`` run the same replays on a real
local Ray cluster (``ray.init(num_cpus=2)``, one trial at a time) with ``--ray``.

GapwatchPruner's rules (:mod:`gapwatch.forecast.sweep`): (a) the stop policy, (d) the rung rule (ASHA's
promotion test on the best so far with a noise margin, ``reduction_factor=3, rung_margin=2``: the default since
it kept the test sweep's pick), (c) the same-step rule, (b) the cross-run forecast; the "rules a/d/c/b" column
counts the trials each rule pruned (mean over the orders). Every gapwatch row names its rule (d) setting (off,
without margin, with margin 2), so the table does not depend on the defaults. The same-step rule, its
``same_step_warmup`` (3) and the rung rule (its comparable-trial population, η = 3, first rung 3, the margin)
were designed and chosen on ``digits-mlp`` (the dev sweep); ``fmnist`` (the test sweep) and the live study are
run once for the table. Optuna's ``SuccessiveHalvingPruner`` (its ASHA) runs on every order, Ray's ASHA on the
first ``--ray-orders``.

Live (``--live``): one real Optuna study (TPE, 16 trials) training digits MLPs with 30% symmetric label noise
on CPU, run twice with the same sampler seed: NopPruner and GapwatchPruner.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_hpo.py --orders 5 --ray --live
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

import optuna  # noqa: E402

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

from gapwatch.integrations.optuna import GapwatchPruner  # noqa: E402

CURVES = ROOT / "curves" / "cpu-runs.jsonl"
#: the headline numbers of the previous table (before the rung rule's noise margin and default), for the
#: "before" line
BEFORE = ("before (2026-12-06 17:38 UTC, commit 9af20eb, the same defaults on the forecast calibration v3 of "
          "6c70870): digits-mlp — none 1098, Ray ASHA 218 (first order) / 166 (five orders), gapwatch PFN default "
          "191 (per order 211 / 231 / 216 / 182 / 114) / ensemble 196, rule d off 262, rule d without margin 166, "
          "all at pick 95.19; fmnist — none 470, PatientPruner 252, gapwatch PFN default 96 / ensemble 98 at pick "
          "83.45, rule d off 122, rule d without margin 76 at −2.70 points, Ray ASHA 116 at −4.50 (first order) / "
          "110 at −2.81 (five orders); live — none 640 (84.84), gapwatch ensemble default 199, rule d off 267 (both "
          "89.97). Earlier (15:33 UTC, 1c72044, rule d opt-in): digits PFN 262, fmnist PFN 121; (06:14 UTC, "
          "d84167e, rules a+b): digits PFN 406, fmnist PFN 144.")
FAMILIES = {"digits-mlp": ("digits-mlp",), "fmnist": ("fmnist-mlp", "fmnist-cnn")}


def machine() -> str:
    """``"<n>-core <CPU model>"`` from ``/proc/cpuinfo`` (the platform's processor name elsewhere)."""
    import platform

    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()}-core {model}"


def load_sweeps() -> dict[str, list[dict[str, Any]]]:
    runs = [json.loads(line) for line in CURVES.read_text().splitlines() if line.strip()]
    return {k: [r for r in runs if r["family"] in fams] for k, fams in FAMILIES.items()}


def pruners(n_evals: int, confidences: tuple[float, ...] = ()) -> dict[str, Any]:
    P = optuna.pruners
    extra = {f"gapwatch (PFN, confidence {c:g})": (lambda c=c: GapwatchPruner(method="pfn", confidence=c))
             for c in confidences}
    # every gapwatch row names its rule (d) setting, so the table does not depend on the defaults
    no_d: dict[str, Any] = {"reduction_factor": None}
    d_plain: dict[str, Any] = {"reduction_factor": 3, "rung_margin": 0.0}
    d_margin: dict[str, Any] = {"reduction_factor": 3, "rung_margin": 2.0}
    return {
        "none (NopPruner)": lambda: P.NopPruner(),
        "PatientPruner(patience=10)": lambda: P.PatientPruner(None, patience=10),
        "MedianPruner": lambda: P.MedianPruner(n_startup_trials=2, n_warmup_steps=5),
        "HyperbandPruner": lambda: P.HyperbandPruner(min_resource=1, max_resource=n_evals - 1,
                                                     reduction_factor=3),
        "SuccessiveHalvingPruner (Optuna's ASHA)": lambda: P.SuccessiveHalvingPruner(min_resource=1,
                                                                                      reduction_factor=3),
        "gapwatch (policy only)": lambda: GapwatchPruner(use_forecast=False),
        "gapwatch (ensemble, rule d off)": lambda: GapwatchPruner(method="ensemble", **no_d),
        "gapwatch (PFN, rule d off)": lambda: GapwatchPruner(method="pfn", **no_d),
        "gapwatch (PFN, rules a+b only)": lambda: GapwatchPruner(method="pfn", same_step_warmup=None, **no_d),
        "gapwatch (PFN, rule d without margin, η=3)": lambda: GapwatchPruner(method="pfn", **d_plain),
        "gapwatch (PFN, default: rule d with margin 2, η=3)": lambda: GapwatchPruner(method="pfn", **d_margin),
        # opt-in, not the default: the earliest rung with information on the dev sweep (bench/hpo_floor.py)
        "gapwatch (PFN, rule d with margin 2, η=3, first rung 2)": lambda: GapwatchPruner(method="pfn", first_rung=2,
                                                                                          **d_margin),
        "gapwatch (ensemble, default: rule d with margin 2, η=3)": lambda: GapwatchPruner(method="ensemble",
                                                                                          **d_margin),
        **extra,
    }


def replay_study(runs: list[dict[str, Any]], order: np.ndarray, make_pruner: Any) -> dict[str, Any]:
    """One sequential study over ``runs`` in ``order``; returns epochs, pick and wall time."""
    study = optuna.create_study(direction="minimize", pruner=make_pruner(),
                                sampler=optuna.samplers.RandomSampler(seed=0))
    used: list[int] = []
    rules: dict[str, int] = {"policy": 0, "rung": 0, "same-step": 0, "forecast": 0}

    def objective(trial: optuna.Trial) -> float:
        r = runs[int(order[trial.number])]
        v = r["metrics"]["val_loss"]
        best = float("inf")
        for i, x in enumerate(v):
            trial.report(float(x), i)
            best = min(best, float(x))
            if trial.should_prune():
                used.append(i + 1)
                verdict = getattr(study.pruner, "last_verdict", None)
                if verdict is not None:
                    rules[verdict.rule] += 1
                raise optuna.TrialPruned()
        used.append(len(v))
        return best

    t0 = time.perf_counter()
    study.optimize(objective, n_trials=len(runs))
    wall = time.perf_counter() - t0
    best = (np.inf, -1, -1)
    for t in study.trials:
        for step, val in t.intermediate_values.items():
            if val < best[0]:
                best = (val, t.number, step)
    r = runs[int(order[best[1]])]
    return {"epochs": int(sum(used)), "test_acc": 100.0 * float(r["metrics"]["test_acc"][best[2]]),
            "pick": f"{r['name']}@{best[2]}", "wall": wall,
            "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
            "rules": rules if isinstance(study.pruner, GapwatchPruner) else None}


def _replay_fn(config: dict[str, Any]) -> None:
    from ray import tune

    for v in config["curve"]:
        tune.report({"val_loss": float(v)})


def _stopper_rules(stopper: Any) -> dict[str, int]:
    """Trials the Ray stopper stopped, per rule."""
    rules = {"policy": 0, "rung": 0, "same-step": 0, "forecast": 0}
    for v in stopper.verdicts.values():
        if v.stop:
            rules[v.rule] += 1
    return rules


def ray_replays(runs: list[dict[str, Any]], orders: list[np.ndarray],
                asha_only: bool = False) -> dict[str, list[dict[str, Any]]]:
    """ASHA and GapwatchStopper replays on a local Ray cluster; same trial orders as the Optuna replays
    (``asha_only``: ASHA alone)."""
    import ray
    from ray import tune
    from ray.tune.schedulers import AsyncHyperBandScheduler

    from gapwatch.integrations.ray import GapwatchStopper

    out: dict[str, list[dict[str, Any]]] = {
        "ASHA (Ray Tune)": [], "gapwatch GapwatchStopper, rule d off (Ray Tune)": [],
        "gapwatch GapwatchStopper, default: rule d with margin 2 (Ray Tune)": []}
    if asha_only:
        out = {"ASHA (Ray Tune)": []}
    n = len(runs[0]["metrics"]["val_loss"])
    for order in orders:
        for name in out:
            curves = [runs[int(i)]["metrics"]["val_loss"] for i in order]
            names = [runs[int(i)]["name"] for i in order]
            if name.startswith("ASHA"):
                sched: Any = AsyncHyperBandScheduler(time_attr="training_iteration", max_t=n, grace_period=1,
                                                     reduction_factor=3)
                stop: Any = None
                tc = tune.TuneConfig(metric="val_loss", mode="min", scheduler=sched, max_concurrent_trials=1)
            else:
                stop = GapwatchStopper("val_loss", "min", max_t=n, method="ensemble",
                                       reduction_factor=3 if "rule d with" in name else None, rung_margin=2.0)
                tc = tune.TuneConfig(max_concurrent_trials=1)
            t0 = time.perf_counter()
            grid = tune.Tuner(_replay_fn, param_space={"curve": tune.grid_search(curves)}, tune_config=tc,
                              run_config=tune.RunConfig(stop=stop, verbose=0,
                                                        storage_path=str(ROOT / "_work" / "ray"))).fit()
            wall = time.perf_counter() - t0
            epochs, best = 0, (np.inf, "", -1)
            for res in grid:
                df = res.metrics_dataframe
                vals = df["val_loss"].to_numpy()
                epochs += len(vals)
                k = int(np.argmin(vals))
                rname = names[curves.index(res.config["curve"])]
                if vals[k] < best[0]:
                    best = (float(vals[k]), rname, k)
            r = next(x for x in runs if x["name"] == best[1])
            out[name].append({"epochs": epochs, "test_acc": 100.0 * float(r["metrics"]["test_acc"][best[2]]),
                              "pick": f"{best[1]}@{best[2]}", "wall": wall, "pruned": -1,
                              "rules": None if stop is None else _stopper_rules(stop)})
    ray.shutdown()
    return out


def live_study(pruner: Any, n_trials: int, seed: int) -> dict[str, Any]:
    """A real Optuna study: digits MLPs (30% label noise on train) trained on CPU, 40 epochs max."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    torch.set_num_threads(1)
    d = load_digits()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target, dtype=torch.long)
    rng = np.random.default_rng(0)
    perm = torch.tensor(rng.permutation(len(x)))
    tr, va, te = perm[:500], perm[500:900], perm[900:]
    ytr = y[tr].clone()
    flip = torch.tensor(rng.random(len(tr)) < 0.3)
    ytr[flip] = (ytr[flip] + torch.tensor(rng.integers(1, 10, len(tr)))[flip]) % 10
    epochs_used: list[int] = []
    test_at: dict[tuple[int, int], float] = {}
    rules: dict[str, int] = {"policy": 0, "rung": 0, "same-step": 0, "forecast": 0}

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 3e-2, log=True)
        wd = trial.suggest_float("weight_decay", 1e-6, 1e-1, log=True)
        hidden = trial.suggest_categorical("hidden", [32, 128, 512])
        torch.manual_seed(trial.number)
        model = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
        best = float("inf")
        for ep in range(40):
            idx = torch.randperm(len(tr))
            for i in range(0, len(tr), 32):
                b = idx[i:i + 32]
                loss = F.cross_entropy(model(x[tr][b]), ytr[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                vl = float(F.cross_entropy(model(x[va]), y[va]))
                test_at[(trial.number, ep)] = 100.0 * float((model(x[te]).argmax(1) == y[te]).float().mean())
            best = min(best, vl)
            trial.report(vl, ep)
            if trial.should_prune():
                epochs_used.append(ep + 1)
                if isinstance(pruner, GapwatchPruner) and pruner.last_verdict is not None:
                    rules[pruner.last_verdict.rule] += 1
                raise optuna.TrialPruned()
        epochs_used.append(40)
        return best

    study = optuna.create_study(direction="minimize", pruner=pruner,
                                sampler=optuna.samplers.TPESampler(seed=seed))
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=n_trials)
    best = min(((v, t.number, s) for t in study.trials for s, v in t.intermediate_values.items()))
    return {"epochs": sum(epochs_used), "test_acc": test_at[(best[1], best[2])], "pick": f"trial {best[1]}@{best[2]}",
            "wall": time.perf_counter() - t0,
            "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
            "rules": rules if isinstance(pruner, GapwatchPruner) else None}


def summarise(rows: list[dict[str, Any]]) -> dict[str, float]:
    return {"epochs": float(np.mean([r["epochs"] for r in rows])),
            "test_acc": float(np.mean([r["test_acc"] for r in rows])),
            "min_acc": float(np.min([r["test_acc"] for r in rows])),
            "wall": float(np.mean([r["wall"] for r in rows])),
            "pruned": float(np.mean([r["pruned"] for r in rows]))}


def _rules(rows: list[dict[str, Any]]) -> str:
    """Trials pruned by the policy / rung / same-step / forecast rule (mean over the orders), "–" for other pruners."""
    if any(r.get("rules") is None for r in rows):
        return "–"
    return " / ".join(f"{np.mean([r['rules'][k] for r in rows]):.1f}"
                      for k in ("policy", "rung", "same-step", "forecast"))


def table(results: dict[str, list[dict[str, Any]]], full_epochs: int) -> list[str]:
    base = summarise(results["none (NopPruner)"])
    lines = ["| pruner | epochs (mean) | × no pruning | pruned trials | rules a / d / c / b | pick test acc % (worst "
             "order) | Δ vs none (points) | wall s / study |", "|---|---|---|---|---|---|---|---|"]
    for name, rows in results.items():
        s = summarise(rows)
        pr = "–" if s["pruned"] < 0 else f"{s['pruned']:.1f}"
        lines.append(f"| {name} | {s['epochs']:.0f} | {s['epochs'] / full_epochs:.3f} | {pr} | {_rules(rows)} | "
                     f"{s['test_acc']:.2f} ({s['min_acc']:.2f}) | {s['test_acc'] - base['test_acc']:+.2f} | "
                     f"{s['wall']:.2f} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=5, help="random trial orders per sweep")
    ap.add_argument("--ray", action="store_true", help="also run ASHA and GapwatchStopper on a local Ray cluster")
    ap.add_argument("--ray-orders", type=int, default=1, help="trial orders of the Ray rows (the first ones)")
    ap.add_argument("--ray-asha-only", action="store_true", help="of the Ray rows, ASHA only")
    ap.add_argument("--live", action="store_true", help="also run the live digits Optuna study")
    ap.add_argument("--live-trials", type=int, default=16)
    ap.add_argument("--confidences", default="", help="extra GapwatchPruner(method='pfn') confidences, e.g. "
                    "0.6,0.75 (choose on digits-mlp, the dev sweep; fmnist is the test sweep)")
    ap.add_argument("--sweeps", default="digits-mlp,fmnist", help="comma-separated subset of the sweeps")
    ap.add_argument("--no-baselines", action="store_true", help="only the gapwatch PFN rows (and none, the base)")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "hpo.md")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t_start = time.time()
    sweeps = {k: v for k, v in load_sweeps().items() if k in args.sweeps.split(",")}
    confs = tuple(float(c) for c in args.confidences.split(",") if c)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False,
                          cwd=ROOT).stdout.strip() or os.environ.get("GAPWATCH_COMMIT", "unknown (not a git checkout)")
    md = ["# HPO: pruning real sweeps (GapwatchPruner vs Optuna pruners and Ray ASHA)", "",
          f"- command: `OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_hpo.py {' '.join(sys.argv[1:])}`",
          f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {head} (plus working tree); "
          f"machine: {machine()}, shared with other jobs, no GPU, one torch thread", "",
          "Each trial replays one real CPU-trained run's validation loss (`bench/curves/cpu-runs.jsonl`); the "
          "pick is the best validation evaluation of any trial (pruned trials' best-so-far included), scored by "
          "that run's clean test accuracy at that evaluation. GapwatchPruner runs with its defaults "
          "(confidence 0.9, n_startup_trials 1, n_warmup_steps 5, same_step_warmup 3, stop-policy defaults, rung "
          "rule d with η = 3, first rung 3, rung_margin 2) except where a row says otherwise ('rule d off': "
          "reduction_factor=None; 'rule d without margin': rung_margin=0, ASHA's plain comparison). Rules (c), "
          "(d) and their settings were designed on digits-mlp (the dev sweep); fmnist (the test sweep) and the "
          "live study were not used to choose any setting.", "", f"- {BEFORE}", ""]
    for sweep, runs in sweeps.items():
        lens = sorted({len(r["metrics"]["val_loss"]) for r in runs})
        n = lens[-1]
        full = sum(len(r["metrics"]["val_loss"]) for r in runs)
        rng = np.random.default_rng(0)
        orders = [rng.permutation(len(runs)) for _ in range(args.orders)]
        results: dict[str, list[dict[str, Any]]] = {}
        for name, make in pruners(n, confs).items():
            if args.no_baselines and not (name.startswith("gapwatch (PFN") or name.startswith("none")):
                continue
            results[name] = [replay_study(runs, o, make) for o in orders]
            print(sweep, name, summarise(results[name]), flush=True)
        if args.ray:
            results.update(ray_replays(runs, orders[:args.ray_orders], args.ray_asha_only))
            print(sweep, "ray", {k: summarise(v) for k, v in results.items() if "Ray" in k}, flush=True)
        span = f"{lens[0]}–{lens[-1]}" if len(lens) > 1 else str(n)
        md += [f"## {sweep}: {len(runs)} trials × {span} evaluations ({full} epochs without pruning), "
               f"{args.orders} trial orders" + ((" (Ray rows: the first order only)" if args.ray_orders == 1 else
                                                f" (Ray rows: the first {args.ray_orders} orders)")
                                               if args.ray else ""), ""]
        md += table(results, full) + [""]
    if args.live:
        rows = {}
        for name, make in (("none (NopPruner)", lambda: optuna.pruners.NopPruner()),
                           ("gapwatch (ensemble, rule d off)",
                            lambda: GapwatchPruner(method="ensemble", reduction_factor=None)),
                           ("gapwatch (ensemble, default: rule d with margin 2, η=3)",
                            lambda: GapwatchPruner(method="ensemble", reduction_factor=3, rung_margin=2.0))):
            rows[name] = [live_study(make(), args.live_trials, seed=0)]
            print("live", name, rows[name], flush=True)
        md += [f"## Live Optuna study: digits MLP, 30% label noise, TPE seed 0, {args.live_trials} trials × 40 "
               "epochs", ""] + table(rows, 40 * args.live_trials) + [""]
    md += [f"Total wall time of this invocation: {time.time() - t_start:.0f} s.", ""]
    args.out.write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
