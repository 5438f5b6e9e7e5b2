"""Monitor benchmark (issue 13): on real logs with a held-out loss *and* a task metric, how often does the restore
point equal the task metric's best evaluation (within one evaluation)?

Rules compared on every log (the same gapwatch code, two monitors):

* ``loss``: the held-out loss decides (gapwatch before issue 13, and the peer log linters' rule);
* ``decide``: :func:`gapwatch.monitor.decide` (the task metric decides; HF ``best_metric`` when present).

Restore points, each per rule: ``offline`` = the best evaluation of the deciding series over the whole log (the
analysis's best point); ``replay`` = the best evaluation seen when the online stop policy first says stop
(:func:`gapwatch.replay.replay_run`, default parameters), or over the whole log when it never stops.

Scores: ``hit`` = the restore is within one evaluation of the task metric's best; ``before-improvement`` = the
task metric at the restore is no better than at the first evaluation (a checkpoint from before training improved
what the user cares about).

Corpora: Hugging Face ``trainer_state.json`` files given on the command line (their provenance — repository,
commit, path — is listed in ``bench/results/monitor.md``) and the 39 Crowded Valley runs with a validation split
of ``/work/shared/curves/real-runs.jsonl`` (``valid_loss``/``valid_acc``). Nothing is tuned here: ``decide`` has
no parameter and the policy runs with its defaults, so there is no dev/test split.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_monitor.py [--out bench/results/monitor.md] \\
        STATE.json [STATE.json ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gapwatch import History
from gapwatch.errors import GapwatchError
from gapwatch.monitor import companions, decide
from gapwatch.readers import load
from gapwatch.replay import replay_run

sys.path.insert(0, str(Path(__file__).parent))
from bench_wild import _peer_json  # noqa: E402  (a sibling script: the peers are run as bench_wild runs them)

CURVES = Path("/work/shared/curves/real-runs.jsonl")


def crowded_valley() -> list[tuple[str, History]]:
    out = []
    for line in CURVES.read_text().splitlines():
        rec = json.loads(line)
        m = rec["metrics"]
        if "valid_loss" not in m or "valid_acc" not in m:
            continue
        rows = [{"epoch": e, "train_loss": m["train_loss"][e], "valid_loss": m["valid_loss"][e],
                 "valid_acc": m["valid_acc"][e]} for e in range(len(m["valid_loss"]))]
        name = f"cv:{rec['problem']}/{rec['optimizer']}/{rec.get('random_seed')}/{len(out)}"
        out.append((name, History.from_records(rows, run=name)))
    return out


def _index_of(series_x: np.ndarray, at: dict[str, Any] | None, kind: str) -> int | None:
    if at is None or at.get(kind) is None:
        return None
    hit = np.flatnonzero(np.isclose(series_x, float(at[kind])))
    return int(hit[0]) if hit.size else None


PEERS = ("losslint", "runmedic", "trainspotter")


def peer_restore(tool: str, path: Path) -> float | None:
    """The step a peer linter tells the user to go back to: the step of its overfitting finding (runmedic:
    "keep the checkpoint from step X"; losslint ``overfit_onset``: ``since_step``; trainspotter: its overfitting
    finding's best/start step), or None when it reports no overfitting (the user keeps the final model)."""
    doc, _ = _peer_json(tool, path)
    if doc is None:
        return None
    found = doc.get("findings", []) if isinstance(doc, dict) else [f for r in doc for f in r.get("findings", [])]
    for f in found:
        name = str(f.get("check") or f.get("detector") or "").lower()
        if "overfit" not in name:
            continue
        ev = {**(f.get("details") or {}), **(f.get("evidence") or {} if isinstance(f.get("evidence"), dict) else {})}
        for key in ("best_step", "since_step", "step", "step_start", "peak_step"):
            v = f.get(key, ev.get(key))
            if isinstance(v, (int, float)):
                return float(v)
    return None


def score(name: str, h: History, peers: dict[str, float | None] | None = None) -> dict[str, Any] | None:
    """One log's row, or None when it lacks a held-out loss or a task metric (or has < 3 evaluations)."""
    try:
        d = decide(h)
    except GapwatchError:
        return None
    loss, task = companions(h, d.monitor)
    if loss is None or task is None:
        return None
    t = h.series(task.split, task.metric)
    fin = np.isfinite(t.values)
    if fin.sum() < 3:
        return None
    kind = "step" if np.all(np.isfinite(t.step)) else "epoch"
    tx = t.step if kind == "step" else t.epoch
    z = np.where(fin, task.sign * t.values, np.inf)
    best = int(np.argmin(z))
    row: dict[str, Any] = {"name": name, "monitor": d.monitor.label, "source": d.source, "task": t.name,
                           "evaluations": int(fin.sum())}
    for rule, mon in (("loss", loss), ("decide", d.monitor)):
        s = h.series(mon.split, mon.metric)
        sz = np.where(np.isfinite(s.values), mon.sign * s.values, np.inf)
        offline = s.at(int(np.argmin(sz)))
        rep = replay_run(h, mon if rule == "loss" else None)
        for how, at in (("offline", offline), ("replay", rep.restore)):
            i = _index_of(tx, at, kind)
            row[f"{rule}_{how}_hit"] = i is not None and abs(i - best) <= 1
            row[f"{rule}_{how}_before_improvement"] = i is not None and z[i] >= z[0] and best != 0
    for tool, step in (peers or {}).items():  # nearest evaluation to the peer's step; no finding: the final one
        i = int(np.argmin(np.abs(tx - step))) if step is not None else int(np.flatnonzero(fin)[-1])
        row[f"{tool}_offline_hit"] = abs(i - best) <= 1
        row[f"{tool}_offline_before_improvement"] = bool(z[i] >= z[0] and best != 0)
        row[f"{tool}_replay_hit"] = row[f"{tool}_offline_hit"]  # (a linter has no online rule)
        row[f"{tool}_replay_before_improvement"] = row[f"{tool}_offline_before_improvement"]
    return row


def _share(rows: list[dict[str, Any]], key: str) -> str:
    k = sum(bool(r[key]) for r in rows)
    return f"{k}/{len(rows)} ({100 * k / max(len(rows), 1):.0f}%)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("states", nargs="*", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--peers", action="store_true",
                    help="also score the peer linters' restore points on the files given (GAPWATCH_PEERS_PATH)")
    a = ap.parse_args(argv)
    logs: list[tuple[str, History]] = []
    for p in a.states:
        try:
            logs.append((str(p), load(p)))
        except GapwatchError as exc:
            print(f"skip {p}: {exc}", file=sys.stderr)
    peer_steps = {n: {t: peer_restore(t, Path(n)) for t in PEERS} for n, _ in logs} if a.peers else {}
    logs += crowded_valley()
    rows = [r for n, h in logs for run in h if (r := score(n, run, peer_steps.get(n))) is not None]
    groups = {"HF trainer_state.json": [r for r in rows if not r["name"].startswith("cv:")],
              "Crowded Valley (valid_loss + valid_acc)": [r for r in rows if r["name"].startswith("cv:")],
              "all": rows}
    lines = ["| corpus | logs | rule | offline restore = task best ±1 | replay restore = task best ±1 | "
             "offline before task improved | replay before task improved |", "|---|---|---|---|---|---|---|"]
    for g, rs in groups.items():
        for rule in ("loss", "decide", *(PEERS if a.peers and g == "HF trainer_state.json" else ())):
            lines.append(f"| {g} | {len(rs)} | {rule} | {_share(rs, f'{rule}_offline_hit')} | "
                         f"{_share(rs, f'{rule}_replay_hit')} | {_share(rs, f'{rule}_offline_before_improvement')} | "
                         f"{_share(rs, f'{rule}_replay_before_improvement')} |")
    detail = ["| log | task metric | decided by | evals | loss offline hit | decide offline hit | "
              "decide replay hit |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if not r["name"].startswith("cv:"):
            detail.append(f"| {r['name']} | {r['task']} | {r['source']} | {r['evaluations']} | "
                          f"{r['loss_offline_hit']} | {r['decide_offline_hit']} | {r['decide_replay_hit']} |")
    text = "\n".join(lines) + "\n\nPer HF log:\n\n" + "\n".join(detail) + "\n"
    print(text)
    if a.out is not None:
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
