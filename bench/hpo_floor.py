"""Floor analysis of the HPO benchmark: how few epochs can a pruner spend on a replayed sweep and keep the pick?

``bench/bench_hpo.py`` replays real CPU-trained sweeps (``bench/curves/cpu-runs.jsonl``) trial by trial in
random orders. This script computes, for the same sweeps and the same trial orders, what pruners that *cannot
be built* (or can only be built with luck) would spend, so that a goal stated in epochs can be read against
what the rules of the game allow:

* **oracle** (clairvoyant): every trial other than the pick is cut at its first evaluation (an oracle knows at
  once that it will not be the pick), the pick's trial runs to its best evaluation, and the first trial of an
  order (no peers to compare with) runs to its own best. No pruner that sees only the past can do this.
* **rung floors** (information available at the time): each trial after the first is compared at the rungs
  (evaluation counts, e.g. ASHA's milestones 1, 3, 9, 27) with the *best* of the earlier trials' best-so-far
  over the same number of evaluations — the most aggressive at-the-time rung comparison (η → ∞, the top-1
  trial alone passes) — and cut at the first rung where it is behind, optionally by more than a noise margin
  (``k`` standard errors ``σ·√2`` of a difference, ``σ`` the median :func:`gapwatch.stats.noise_sigma` of
  the earlier trials' curves, as in rule (d)). Trials that pass every rung, and the first trial, stop either
  at their own best (a lower bound: an oracle stop, no tail after the best) or where gapwatch's stop policy
  stops them (``gapwatch.policy.first_stop`` at its defaults, the realistic single-run stop).
* **Ray's ASHA** re-implemented (``AsyncHyperBandScheduler``'s ``on_result``: milestones ``1, 3, 9, 27`` for
  ``max_t = 61, grace_period = 1, η = 3``; a trial is stopped when its *last* value at a milestone is worse
  than the ``1/η`` quantile, linear interpolation, of the values recorded there), checked against the Ray
  rows of ``bench/results/hpo.md``; and the same with the trials' **first evaluations shuffled** among the
  trials (``--shuffles`` random permutations): at evaluation 1 the digits curves are all 2.30 ± 0.01 (the
  untrained network's loss), so what milestone 1 keeps is chance; the shuffle measures how much of ASHA's
  cost and pick rests on it.

With ``--gapwatch`` GapwatchPruner's defaults are replayed on the same orders too (its decision function,
:meth:`gapwatch.forecast.sweep.SweepRule.judge`, called as the pruner calls it in a sequential study, PFN
forecaster), so the floors can be read against it on more orders than ``bench/bench_hpo.py`` runs.

Every number is the mean over the orders of ``bench/bench_hpo.py`` (``np.random.default_rng(0)``
permutations). The pick is the lowest validation loss among everything the trials reported; its clean test
accuracy is that run's at that evaluation.

Usage::

    .venv/bin/python bench/hpo_floor.py [--orders 5] [--sweeps digits-mlp] [--shuffles 200] [--gapwatch]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

from gapwatch.policy import first_stop  # noqa: E402
from gapwatch.stats import noise_sigma  # noqa: E402

CURVES = ROOT / "curves" / "cpu-runs.jsonl"
FAMILIES = {"digits-mlp": ("digits-mlp",), "fmnist": ("fmnist-mlp", "fmnist-cnn")}
#: Ray's ASHA milestones for max_t = 61, grace_period = 1, reduction_factor = 3 (bench_hpo.py's settings)
ASHA_MILESTONES = (1, 3, 9, 27)
ASHA_ETA = 3


def load_sweeps() -> dict[str, list[dict[str, Any]]]:
    runs = [json.loads(line) for line in CURVES.read_text().splitlines() if line.strip()]
    return {k: [r for r in runs if r["family"] in fams] for k, fams in FAMILIES.items()}


def _own_best(v: np.ndarray) -> int:
    """Evaluations up to and including the curve's best."""
    return int(np.argmin(v)) + 1


def _policy_stop(v: np.ndarray) -> int:
    """Evaluations gapwatch's stop policy (defaults) lets the curve run."""
    s = first_stop(v, "min")
    return len(v) if s is None else s + 1


def _pick(reported: list[np.ndarray], names: list[str], runs: dict[str, dict[str, Any]]) -> tuple[str, float]:
    best = min((float(v.min()), i, int(np.argmin(v))) for i, v in enumerate(reported))
    name = names[best[1]]
    return f"{name}@{best[2]}", 100.0 * float(runs[name]["metrics"]["test_acc"][best[2]])


def oracle(curves: list[np.ndarray], pick_trial: int) -> int:
    """Clairvoyant spend: first trial to its own best, the pick's trial to its best, every other trial 1."""
    total = 0
    for i, v in enumerate(curves):
        total += _own_best(v) if i == 0 or i == pick_trial else 1
    return total


def rung_floor(curves: list[np.ndarray], rungs: Sequence[int], margin: float, stop: str
               ) -> tuple[int, list[np.ndarray], int]:
    """The rung floor (module docstring): ``(epochs, reported curves, trials cut)``; ``stop``: ``"best"``
    (survivors and the first trial stop at their own best) or ``"policy"`` (at the stop policy's stop)."""
    done: list[np.ndarray] = []
    total = cut = 0
    for v in curves:
        end = _own_best(v) if stop == "best" else _policy_stop(v)
        for k in rungs:
            if k > end or not done:
                break
            peers = [d for d in done if d.size >= k]
            if not peers:
                continue
            top = min(float(d[:k].min()) for d in peers)
            sig = float(np.median([noise_sigma(d) for d in done if d.size >= 4])) if margin > 0 and any(
                d.size >= 4 for d in done) else 0.0
            if float(v[:k].min()) > top + margin * sig * np.sqrt(2.0):
                end = k
                cut += 1
                break
        total += end
        done.append(np.asarray(v[:end]))
    return total, done, cut


def _tail_peers(curves: list[np.ndarray], reported: list[np.ndarray]) -> tuple[int, int, int]:
    """For the trials after the first that ran past their best (the survivors' tails): ``(trials, evaluations
    after their best, sum over them of the earlier trials that reported past the trial's best + 5)``."""
    n = after = peers = 0
    for i, r in enumerate(reported):
        b = int(np.argmin(r))
        if i == 0 or r.size - 1 - b <= 0 or r.size <= 9:
            continue
        n += 1
        after += r.size - 1 - b
        peers += sum(d.size > b + 5 for d in reported[:i])
    return n, after, peers


def ray_asha(curves: list[np.ndarray], milestones: Sequence[int] = ASHA_MILESTONES, eta: int = ASHA_ETA
             ) -> tuple[int, list[np.ndarray]]:
    """Ray Tune's ``AsyncHyperBandScheduler`` on sequential trials (min mode): ``(epochs, reported curves)``."""
    recorded: dict[int, list[float]] = {m: [] for m in milestones}
    done: list[np.ndarray] = []
    total = 0
    for v in curves:
        end = len(v)
        for it in range(1, len(v) + 1):
            if it not in recorded:
                continue
            rec = recorded[it]
            val = float(v[it - 1])
            stop = bool(rec) and val > float(np.percentile(rec, 100.0 / eta))
            rec.append(val)
            if stop:
                end = it
                break
        total += end
        done.append(np.asarray(v[:end]))
    return total, done


def gapwatch_default(curves: list[np.ndarray]) -> tuple[int, list[np.ndarray]]:
    """GapwatchPruner's defaults (PFN) on sequential trials: ``(epochs, reported curves)``; each trial is judged
    after every evaluation against the earlier trials' reported curves, as the pruner does in a one-worker
    study."""
    from gapwatch.forecast.sweep import Curve, SweepRule

    rule = SweepRule("GapwatchPruner", method="pfn")
    done: list[Curve] = []
    total = 0
    for t, v in enumerate(curves):
        end = len(v)
        for k in range(1, len(v) + 1):
            c = Curve(np.arange(k, dtype=float), np.asarray(v[:k], dtype=float))
            if rule.judge(c, done, mode="min", horizon=None, finished=len(done), seed=t).stop:
                end = k
                break
        total += end
        done.append(Curve(np.arange(end, dtype=float), np.asarray(v[:end], dtype=float)))
    return total, [d.values for d in done]


def analyse(runs: list[dict[str, Any]], n_orders: int, shuffles: int, gapwatch: bool = False) -> list[str]:
    by_name = {r["name"]: r for r in runs}
    rng = np.random.default_rng(0)
    orders = [rng.permutation(len(runs)) for _ in range(n_orders)]
    full = [np.asarray(r["metrics"]["val_loss"], dtype=float) for r in runs]
    names_all = [r["name"] for r in runs]
    pick_name, pick_acc = _pick(full, names_all, by_name)
    pick_run = pick_name.split("@")[0]
    rows: dict[str, list[tuple[int, float, str]]] = {}

    def add(label: str, epochs: int, reported: list[np.ndarray], names: list[str]) -> None:
        p, acc = _pick(reported, names, by_name)
        rows.setdefault(label, []).append((epochs, acc, p))

    tails: list[tuple[int, int, int]] = []
    for o in orders:
        names = [names_all[i] for i in o]
        curves = [full[i] for i in o]
        add("oracle (clairvoyant): others cut at evaluation 1, the pick's trial and the first trial to their best",
            oracle(curves, names.index(pick_run)),
            [c[: (_own_best(c) if i in (0, names.index(pick_run)) else 1)] for i, c in enumerate(curves)], names)
        first = curves[0]
        rows.setdefault("of which: the first trial, stopped by the stop policy (defaults)", []).append(
            (_policy_stop(first), float("nan"), ""))
        rows.setdefault("of which: the first trial, at its own best", []).append((_own_best(first), float("nan"),
                                                                                     ""))
        for rungs in ((1, 3, 9, 27), (2, 6, 18), (3, 9, 27), tuple(range(2, 62))):
            for margin in (0.0, 2.0):
                for stop in ("best", "policy"):
                    e, rep, _ = rung_floor(curves, rungs, margin, stop)
                    if rungs == (3, 9, 27) and margin and stop == "policy":
                        tails.append(_tail_peers(curves, rep))
                    where = "every evaluation from the 2nd" if len(rungs) > 4 else f"rungs {', '.join(map(str, rungs))}"
                    add(f"{where}: behind the best earlier trial"
                        f"{' by > 2 s.e. of the noise' if margin else ''}; survivors stop at "
                        f"{'their own best' if stop == 'best' else 'the stop policy'}", e, rep, names)
        if gapwatch:
            e, rep = gapwatch_default(curves)
            add("GapwatchPruner, defaults (PFN), replayed: not a floor, the pruner itself", e, rep, names)
        e, rep = ray_asha(curves)
        add("Ray's ASHA (milestones 1, 3, 9, 27; η = 3), re-implemented", e, rep, names)
        e, rep = ray_asha(curves, milestones=(3, 9, 27))
        add("Ray's ASHA without milestone 1 (3, 9, 27)", e, rep, names)
        if shuffles:
            srng = np.random.default_rng(1)
            es, accs, keeps = [], [], []
            for _ in range(shuffles):
                perm = srng.permutation(len(curves))
                sh = [c.copy() for c in curves]
                for i, j in enumerate(perm):
                    sh[i][0] = curves[j][0]
                e, rep = ray_asha(sh)
                rep_true = [curves[i][: len(r)] for i, r in enumerate(rep)]
                _, acc = _pick(rep_true, names, by_name)
                es.append(e)
                accs.append(acc)
                keeps.append(acc >= pick_acc - 0.3)
            rows.setdefault(f"Ray's ASHA, first evaluations shuffled among the trials ({shuffles} shuffles per "
                            "order; pick column: mean, share of shuffles within 0.3 points of no pruning)",
                            []).append((int(round(np.mean(es))), float(np.mean(accs)),
                                        f"{100 * np.mean(keeps):.0f}% keep"))
    out = ["| floor | epochs (mean) | per order | pick test acc % (worst order) | picks |",
           "|---|---|---|---|---|"]
    for label, rs in rows.items():
        ep = [r[0] for r in rs]
        accs = [r[1] for r in rs]
        acc = "–" if np.isnan(accs[0]) else f"{np.mean(accs):.2f} ({np.min(accs):.2f})"
        tags = [r[2] for r in rs if r[2]]
        picks = (" / ".join(tags) if any("keep" in t for t in tags) else ", ".join(sorted(set(tags)))) or "–"
        out.append(f"| {label} | {np.mean(ep):.1f} | {' / '.join(map(str, ep))} | {acc} | {picks} |")
    n_tail = sum(t[0] for t in tails)
    out += ["", f"Survivors after the first trial (rungs 3, 9, 27 with the margin, the stop policy's stop): {n_tail} "
            f"in {len(tails)} orders, {sum(t[1] for t in tails)} evaluations after their own best in all; when such "
            "a trial was 5 evaluations past its best (the stop policy's min_wait), the earlier trials that had "
            f"reported past that step numbered {sum(t[2] for t in tails) / max(n_tail, 1):.1f} on average (a "
            "0.9-confidence posterior with Jeffreys' prior needs 5 with no success)."]
    out.insert(0, f"No pruning: pick {pick_name}, test accuracy {pick_acc:.2f}%; {sum(len(c) for c in full)} "
                  "epochs.\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=5)
    ap.add_argument("--sweeps", default="digits-mlp")
    ap.add_argument("--shuffles", type=int, default=200)
    ap.add_argument("--gapwatch", action="store_true", help="also replay GapwatchPruner's defaults (PFN)")
    args = ap.parse_args()
    sweeps = load_sweeps()
    for s in args.sweeps.split(","):
        print(f"## {s}\n")
        print("\n".join(analyse(sweeps[s], args.orders, args.shuffles, args.gapwatch)))
        print()


if __name__ == "__main__":
    main()
