"""Does conditioning on the regime after the last learning-rate event improve forecasts? (issue 14, item 2)

Curves: the validation loss of ``bench/curves/schedule-runs.jsonl`` (``bench/train_schedule_runs.py``: digits MLPs
trained here with SGD under a step schedule, the rate divided by 10 at two milestones, or under cosine annealing
with warm restarts), with the logged learning rate as the schedule (:class:`gapwatch.schedule.ScheduleSeries`;
events found by :func:`gapwatch.schedule.learning_rate_events`).

Cuts: after each event, at ``j`` evaluations into the new regime (``J``), as long as the observed window holds no
later event and at least 3 evaluations remain; the rest of the run is forecast (a later milestone or restart,
when there is one, is in the future the forecast is scored on: it is not anticipated by either variant).

Variants, per forecaster (``pfn``, ``ensemble``): ``whole`` conditions on the whole observed prefix (the default);
``segment`` on the evaluations after the last event (``forecast_curve(..., schedule=..., regime=True)``) when
there are at least ``min_segment`` of them, else the whole prefix; P(best behind) from the whole-prefix forecast
(the shipped rule) or, as measured in the first run, the segment forecast's own. ``min_segment`` is chosen on the
**dev** half of the runs (every other run in name order) for the best mean log-likelihood, and everything is
reported on the **test** half.

Scores per cut: mean log predictive density of the held-back evaluations (loss units, per-point floor -50), the
absolute error of the median at the last evaluation (MAE final, median over cuts), 80%-band coverage (the band
as shipped, with its conformal width factor), and the Brier score of P(best behind).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_forecast_schedule.py [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

from _sections import write_section  # noqa: E402

import gapwatch.forecast.schedule as fsched  # noqa: E402
from gapwatch.forecast import forecast_curve  # noqa: E402
from gapwatch.schedule import ScheduleSeries, learning_rate_events  # noqa: E402

RUNS = ROOT / "curves" / "schedule-runs.jsonl"
WORK = ROOT / "_work"
#: evaluations into the new regime at which the run is cut
J = (3, 4, 5, 6, 8, 10, 12, 16, 20)
#: candidate ``min_segment`` values (the dev half picks one)
MIN_SEGMENTS = (3, 4, 5, 6, 8, 10, 12)
METHODS = ("pfn", "ensemble")
SHIPPED_KINDS = fsched.REGIME_KINDS
LL_FLOOR = -50.0
BEGIN, END = "<!-- bench_forecast_schedule.py: begin -->", "<!-- bench_forecast_schedule.py: end -->"


def load(limit: int = 0) -> list[dict[str, Any]]:
    out = []
    for line in RUNS.read_text().splitlines():
        r = json.loads(line)
        y = np.array(r["metrics"]["val_loss"], dtype=float)
        lr = np.array(r["lr"], dtype=float)
        x = np.arange(y.size, dtype=float)
        s = ScheduleSeries("lr", np.full(x.size, np.nan), x.copy(), lr)
        evs = [e for e in learning_rate_events(s) if e.kind in ("drop", "rewarm")]
        out.append({"name": r["name"], "kind": r["config"]["schedule"], "x": x, "y": y, "schedule": s,
                    "events": [int(e.epoch) for e in evs], "event_kinds": [e.kind for e in evs]})
    out.sort(key=lambda c: c["name"])
    for i, c in enumerate(out):
        c["split"] = "dev" if i % 2 == 0 else "test"
    return out[:limit] if limit else out


def load_wild(cache: Path) -> list[dict[str, Any]]:
    """Runs of the real-log corpus (bench/wild) whose logged learning rate has a drop or re-warm and whose
    held-out loss (``loss``, else the first held-out ``*loss*`` series) has at least 12 finite evaluations; the
    schedule on the loss's axis. Scored with the ``min_segment`` chosen on the dev half (split ``wild``)."""
    from bench_wild import MANIFEST, entry_path

    from gapwatch import load as load_log
    from gapwatch.schedule import series_of

    out = []
    for e in json.loads(MANIFEST.read_text())["entries"]:
        j = e["judgement"]
        p = entry_path(e, cache)
        if j.get("kind") != "log" or not j.get("heldout") or not p.exists():
            continue
        try:
            h = load_log(p)
        except Exception:  # noqa: BLE001 - a log gapwatch refuses has no curve
            continue
        for run in h.runs():
            r = h.run(run)
            lrs = [sc for sc in series_of(h, run) if sc.is_learning_rate]
            keys = sorted((k for k in r.keys() if k[0] in ("val", "valid", "validation", "eval")  # noqa: SIM118
                           and "loss" in k[1]), key=lambda k: (k[1] != "loss", k))
            if not lrs or not keys:
                continue
            ser = r.series(*keys[0]).finite()
            y = np.asarray(ser.values, dtype=float)
            x = np.asarray(ser.x, dtype=float)
            axis = "step" if ser.x_kind == "step" else "epoch"
            if y.size < 12 or not np.all(np.diff(x) > 0):
                continue
            found: dict[int, str] = {}
            for sc in lrs:
                for ev in learning_rate_events(sc):
                    v = float(ev.step if axis == "step" else ev.epoch)
                    if ev.kind in ("drop", "rewarm") and x[0] < v <= x[-1]:
                        found.setdefault(int(np.searchsorted(x, v, side="left")), ev.kind)
            if not found:
                continue
            idx = sorted(found)
            out.append({"name": f"wild:{e['id'][:40]}", "kind": "wild", "x": x, "y": y, "schedule": lrs,
                        "axis": axis, "events": idx, "event_kinds": [found[i] for i in idx], "split": "wild"})
    return out


def segment_band(curves: list[dict[str, Any]], meth: str, k: int) -> dict[str, float]:
    """The segment forecasts' own 80% band (width factor 1) after step drops with at least ``k`` evaluations in
    the new regime: its coverage on each half, and the width factor fitted on dev for 80% coverage (grid
    0.30…4.00, step 0.01; the split-conformal correction of ``SEGMENT_BAND_SCALE``) with its coverage on each
    half."""
    parts: dict[str, list[tuple[np.ndarray, ...]]] = {"dev": [], "test": []}
    for c in curves:
        if c["kind"] != "step":
            continue
        x, y, n = c["x"], c["y"], c["y"].size
        ev = c["events"]
        for i, e in enumerate(ev):
            nxt = ev[i + 1] if i + 1 < len(ev) else n
            for j in (jj for jj in J if jj >= k):
                m = e + j
                if m > nxt or m > n - 3:
                    continue
                fc = forecast_curve(x, y, observed=m, horizon=n, method=meth, schedule=c["schedule"],
                                    schedule_axis="epoch", regime=True, min_segment=k, band_scale=1.0, n_samples=16)
                q = fc.quantiles
                parts[c["split"]].append((y[m:], q["0.1"], q["0.5"], q["0.9"]))

    def cov(rs: list[tuple[np.ndarray, ...]], f: float) -> float:
        return float(np.mean([np.mean((fut >= med - f * (med - lo)) & (fut <= med + f * (hi - med)))
                              for fut, lo, med, hi in rs]))

    grid = np.round(np.arange(0.30, 4.001, 0.01), 2)
    fit = float(grid[int(np.argmin([abs(cov(parts["dev"], float(g)) - 0.8) for g in grid]))])
    return {"dev_own": cov(parts["dev"], 1.0), "test_own": cov(parts["test"], 1.0), "factor": fit,
            "dev_fit": cov(parts["dev"], fit), "test_fit": cov(parts["test"], fit),
            "n_dev": len(parts["dev"]), "n_test": len(parts["test"])}


def score(fc: Any, y: np.ndarray, m: int) -> dict[str, float]:
    fut = y[m:]
    q = fc.quantiles
    return {"ll": float(np.mean(np.maximum(fc.logpdf(fut), LL_FLOOR))),
            "mae": float(abs(q["0.5"][-1] - fut[-1])),
            "cov": float(np.mean((fut >= q["0.1"]) & (fut <= q["0.9"]))),
            "p": float(fc.p_best_behind)}


def rows_for(curves: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for c in curves:
        x, y, n = c["x"], c["y"], c["y"].size
        ev = c["events"]
        for k, e in enumerate(ev):
            nxt = ev[k + 1] if k + 1 < len(ev) else n
            for j in J:
                m = e + j
                if m > nxt or m > n - 3:
                    continue
                behind = bool(y[:m].min() <= y[m:].min())
                row: dict[str, Any] = {"name": c["name"], "kind": c["kind"], "split": c["split"], "j": j, "m": m,
                                       "later_event": nxt < n, "behind": behind}
                row["event_kind"] = c["event_kinds"][k]
                for meth in METHODS:
                    for var, reg in (("whole", False), ("segment", True)):
                        t0 = time.process_time()
                        fsched.REGIME_KINDS = ("drop", "rewarm")  # both measured; pick() applies the shipped kinds
                        try:
                            fc = forecast_curve(x, y, observed=m, horizon=n, method=meth, schedule=c["schedule"],
                                                schedule_axis=c.get("axis", "epoch"), regime=reg, min_segment=3)
                        finally:
                            fsched.REGIME_KINDS = SHIPPED_KINDS
                        row[f"{meth}_{var}_ms"] = 1e3 * (time.process_time() - t0)
                        for key, v in score(fc, y, m).items():
                            row[f"{meth}_{var}_{key}"] = v
                rows.append(row)
    return rows


def event_kind(r: dict[str, Any]) -> str:
    """The kind of the event a cut follows (rows cached before the field existed: from the run's schedule)."""
    return str(r.get("event_kind") or ("drop" if r["kind"] == "step" else "rewarm"))


def pick(r: dict[str, Any], meth: str, min_seg: int | None, key: str,
         kinds: tuple[str, ...] = SHIPPED_KINDS, own_p: bool = False) -> float:
    """The score of the rule "segment when at least ``min_seg`` evaluations follow an event of ``kinds``"
    (None: always the whole prefix); P(best behind) from the whole-prefix forecast as shipped, or with ``own_p``
    the segment forecast's own (only in rows forecast before the shipped rule took it from the whole prefix:
    with the current code the two fields are equal)."""
    seg = min_seg is not None and r["j"] >= min_seg and event_kind(r) in kinds
    if key == "p" and not own_p:  # the shipped rule takes P(best behind) from the whole-prefix forecast
        seg = False
    return float(r[f"{meth}_{'segment' if seg else 'whole'}_{key}"])


def brier(rs: list[dict[str, Any]], meth: str, min_seg: int | None, kinds: tuple[str, ...] = SHIPPED_KINDS,
          own_p: bool = False) -> float:
    p = np.array([pick(r, meth, min_seg, "p", kinds, own_p) for r in rs])
    return float(np.mean((p - np.array([r["behind"] for r in rs], dtype=float)) ** 2))


def summary(rs: list[dict[str, Any]], meth: str, min_seg: int | None, kinds: tuple[str, ...] = SHIPPED_KINDS,
            own_p: bool = False) -> str:
    if not rs:
        return "— | — | — | —"
    ll = np.mean([pick(r, meth, min_seg, "ll", kinds) for r in rs])
    mae = np.median([pick(r, meth, min_seg, "mae", kinds) for r in rs])
    cov = np.mean([pick(r, meth, min_seg, "cov", kinds) for r in rs])
    p = np.array([pick(r, meth, min_seg, "p", kinds, own_p) for r in rs])
    t = np.array([r["behind"] for r in rs], dtype=float)
    return f"{ll:.2f} | {mae:.3f} | {100 * cov:.0f}% | {np.mean((p - t) ** 2):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=0, help="smoke test: first N runs")
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "forecast.md")
    ap.add_argument("--reuse", action="store_true", help="reuse the forecasts cached in bench/_work")
    ap.add_argument("--segment-band", action="store_true",
                    help="also measure the segment forecasts' own band and fit its width factor on dev")
    ap.add_argument("--wild-cache", type=Path, default=None,
                    help="also score the real-log corpus runs with learning-rate events (bench_wild.py's cache)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    t_start, c_start = time.time(), time.process_time()
    curves = load(args.limit)
    cache = WORK / "schedule_rows.json"
    if args.reuse and cache.is_file():
        rows = json.loads(cache.read_text())
    else:
        rows = rows_for(curves)
        WORK.mkdir(exist_ok=True)
        cache.write_text(json.dumps(rows))
    wild_runs = load_wild(args.wild_cache) if args.wild_cache else []
    wild = rows_for(wild_runs)
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    both = ("drop", "rewarm")
    # k per forecaster on dev: the highest mean LL (P(best behind) is the whole prefix's whatever k is)
    chosen: dict[str, int] = {}
    dev_lines = []
    for meth in METHODS:
        cand = {ms: float(np.mean([pick(r, meth, ms, "ll") for r in dev])) for ms in MIN_SEGMENTS}
        chosen[meth] = max(cand, key=lambda k: cand[k])
        for kinds, label in ((SHIPPED_KINDS, "drops"), (both, "drops + re-warms")):
            dev_lines.append(f"| {meth} | {label} | " + " | ".join(
                f"{np.mean([pick(r, meth, ms, 'll', kinds) for r in dev]):.2f} / "
                f"{brier(dev, meth, ms, kinds, own_p=True):.3f}" for ms in (None, *MIN_SEGMENTS)) + " |")
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False,
                          cwd=ROOT).stdout.strip()
    n_runs = {k: sum(c["kind"] == k for c in curves) for k in ("step", "rewarm")}
    md = ["## Schedule-aware forecasting: the segment after the last learning-rate event", "",
          "- command: `OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_forecast_schedule.py "
          f"{' '.join(sys.argv[1:])}` (curves: `bench/train_schedule_runs.py`, 48 runs, 92 CPU s)",
          f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {head} (plus working tree); "
          "machine: 2-core shared Intel Xeon (4 agents), no GPU, one torch thread; wall "
          f"{time.time() - t_start:.0f} s, CPU {time.process_time() - c_start:.0f} s"
          + (" (digits forecasts reused from bench/_work/schedule_rows.json)" if args.reuse else ""),
          f"- runs: {n_runs['step']} step-schedule runs (÷10 at two milestones) and {n_runs['rewarm']} SGDR runs "
          "(restarts every 25 epochs), digits MLPs trained here; dev / test halves alternate in name order; "
          f"cuts at {', '.join(map(str, J))} evaluations after an event: {len(dev)} dev / {len(test)} test cuts",
          "- `whole`: conditioned on the whole observed prefix (the default); `segment ≥ k`: on the evaluations "
          "after the last learning-rate drop when there are at least k of them (shipped rule, "
          f"`REGIME_KINDS = {SHIPPED_KINDS}`); `drops + re-warms`: the same rule also after SGDR restarts",
          "- k per forecaster, chosen on dev for the highest mean LL: " + ", ".join(f"{m} k = {chosen[m]}" for m in
                                                                                     METHODS)
          + "; P(best behind) is taken from the whole-prefix forecast (shipped), `own P`: the segment forecast's "
          "own P(best behind) instead (measured in the first run, see the reading below)",
          "- scores: mean LL per held-back evaluation (loss units, floor -50) ↑ | MAE of the median at the last "
          "evaluation (median over cuts) ↓ | 80%-band coverage (the shipped band) | Brier of P(best behind) ↓", "",
          "Dev half: mean LL / Brier of the segment's own P(best behind) by k (`—`: whole prefix)", "",
          "| method | events | — | " + " | ".join(f"k = {k}" for k in MIN_SEGMENTS) + " |",
          "|---|---|---|" + "---|" * len(MIN_SEGMENTS), *dev_lines, ""]
    groups = [("all test cuts", test),
              ("after a step drop", [r for r in test if event_kind(r) == "drop"]),
              ("after an SGDR re-warm", [r for r in test if event_kind(r) == "rewarm"]),
              ("after a drop, no later event before the end",
               [r for r in test if event_kind(r) == "drop" and not r["later_event"]]),
              ("after a drop, a later event in the future",
               [r for r in test if event_kind(r) == "drop" and r["later_event"]])]
    md += ["Test half:", "", "| test cuts | n | method | LL | MAE final | cov80 | Brier |",
           "|---|---|---|---|---|---|---|"]
    for title, rs in groups:
        for meth in METHODS:
            k = chosen[meth]
            for label, ms, kinds, own in (("whole", None, SHIPPED_KINDS, False),
                                          (f"segment ≥ {k} (shipped)", k, SHIPPED_KINDS, False),
                                          (f"segment ≥ {k}, own P", k, SHIPPED_KINDS, True),
                                          (f"segment ≥ {k}, drops + re-warms, own P", k, both, True)):
                md.append(f"| {title} | {len(rs)} | {meth} {label} | {summary(rs, meth, ms, kinds, own)} |")
    if wild:
        md += ["", f"Real-log corpus runs whose logged learning rate has a drop or re-warm ({len(wild_runs)} runs: "
               + ", ".join(sorted({c['name'] for c in wild_runs})) + f"; {len(wild)} cuts, "
               f"{sum(event_kind(r) == 'drop' for r in wild)} after a drop; the k chosen on dev):", "",
               "| cuts | n | method | LL | MAE final | cov80 | Brier |", "|---|---|---|---|---|---|---|"]
        for meth in METHODS:
            for label, ms in (("whole", None), (f"segment ≥ {chosen[meth]} (shipped)", chosen[meth])):
                md.append(f"| real-log corpus | {len(wild)} | {meth} {label} | {summary(wild, meth, ms)} |")
    if args.segment_band:
        md += ["", "Band of the segment forecasts after a drop (own band = width factor 1; the factor fitted on dev "
               "for 80% coverage is `SEGMENT_BAND_SCALE`; the table rows above use the whole-prefix factor, "
               "`BAND_SCALE`):", "", "| method | k | cuts dev / test | own band: dev / test | factor fitted on dev | "
               "coverage at it: dev / test |", "|---|---|---|---|---|---|"]
        for meth in METHODS:
            b = segment_band(curves, meth, chosen[meth])
            md.append(f"| {meth} | {chosen[meth]} | {b['n_dev']} / {b['n_test']} | {100 * b['dev_own']:.1f}% / "
                      f"{100 * b['test_own']:.1f}% | {b['factor']:.2f} | {100 * b['dev_fit']:.1f}% / "
                      f"{100 * b['test_fit']:.1f}% |")
    md += ["", "CPU ms per forecast (median, whole / segment): " + ", ".join(
        f"{m} {np.median([r[f'{m}_whole_ms'] for r in rows]):.1f} / "
        f"{np.median([r[f'{m}_segment_ms'] for r in rows]):.1f}" for m in METHODS) + ".", ""]
    text = "\n".join(md)
    print(text)
    write_section(args.out, BEGIN, END, text)


if __name__ == "__main__":
    main()
