"""How far two independent judges of the real-log corpus agree, and how every tool scores against each.

    python bench/wild_agreement.py [--peers] [--cache DIR] [--markdown F] [--json F]

Reads the corpus's judgements (``bench/wild/manifest.json``: the first judge) and a second, independent set of
judgements of a random sample of its logs (``bench/wild/second_judgements.json``: written by other judges from
the raw files, without seeing the first judgement or any tool's output). It reports

* the judges' agreement: each judge's judgement scored as if it were a tool's verdict against the other's
  (:func:`bench_wild.right`, the benchmark's own scoring; ``"either"`` from the judge being scored counts as
  agreeing with either answer, as the benchmark treats a first judge's ``"either"``), their agreement field by
  field, and the table of classes (overfits / stuck / diverging / clean / …) one against the other;
* each tool's share right against the first judge, against the second, against both, and on the logs where the
  two judges give the same class (the consensus set).

A benchmark's score cannot be read far above the agreement of its own judges: where two careful readers of the
same numbers disagree on one log in ten, "90% right" against one of them is near the ceiling. The script runs
the tools on the sampled logs only (the files must be present, as for ``bench_wild.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_wild as bw  # noqa: E402

SECOND = Path(__file__).resolve().parent / "wild" / "second_judgements.json"
CLASSES = ("overfits", "stuck", "diverging", "ambiguous", "clean", "no_heldout", "not_a_log")


def judge_class(j: dict[str, Any]) -> str:
    """The class of a judgement (the benchmark's classes; ``no_heldout`` for a log without a held-out series)."""
    if j["kind"] == "not_a_log":
        return "not_a_log"
    if not j["heldout"]:
        return "no_heldout"
    if j["overfits"] is True:
        return "overfits"
    if j["stuck"]:
        return "stuck"
    if j["diverging"]:
        return "diverging"
    return "ambiguous" if j["overfits"] == "either" else "clean"


def as_verdict(j: dict[str, Any], other: dict[str, Any]) -> bw.Verdict:
    """Judgement ``j`` as a tool's verdict, to be scored against ``other``: a judge who found no training curve
    or no held-out series "refuses"; ``"either"`` takes the other judge's answer (it agrees with both)."""
    v = bw.Verdict()
    if j["kind"] == "not_a_log" or not j["heldout"]:
        v.refused = True
        return v
    v.overfit = bool(other.get("overfits") is True) if j["overfits"] == "either" else j["overfits"] is True
    v.stuck, v.diverging = bool(j["stuck"]), bool(j["diverging"])
    return v


def valid(j: Any) -> bool:
    keys = ("kind", "overfits", "stuck", "diverging", "heldout")
    return isinstance(j, dict) and all(k in j for k in keys) and j["kind"] in ("log", "not_a_log")


def pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "–"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--second", type=Path, default=SECOND, help="the second judgements (default: %(default)s)")
    ap.add_argument("--peers", action="store_true", help="also score losslint, runmedic, trainspotter")
    ap.add_argument("--judges-only", action="store_true", help="only the judges' agreement: run no tool (running "
                    "gapwatch on test logs is a look at the test split)")
    ap.add_argument("--cache", type=Path, default=bw.default_cache())
    ap.add_argument("--markdown", type=Path, help="write the tables here")
    ap.add_argument("--json", type=Path, help="write per-log rows here")
    a = ap.parse_args()
    first = {e["id"]: e for e in json.loads(bw.MANIFEST.read_text())["entries"]}
    doc = json.loads(a.second.read_text())
    second = {i: j for i, j in doc["judgements"].items() if i in first and valid(j)}
    skipped = len(doc["judgements"]) - len(second)  # (ids not in the manifest, or judgements missing a field)
    tools = [] if a.judges_only else ["gapwatch"] + (list(bw.PEERS) if a.peers else [])
    rows: list[dict[str, Any]] = []
    missing = []
    for i, j2 in sorted(second.items()):
        e = first[i]
        j1 = e["judgement"]
        p = bw.entry_path(e, a.cache)
        if tools and not p.exists():  # (the judges' agreement needs no file)
            missing.append(i)
            continue
        row: dict[str, Any] = {"id": i, "split": e["split"], "c1": judge_class(j1), "c2": judge_class(j2),
                               "j2_right_by_j1": bw.right(j1, as_verdict(j2, j1))[0],
                               "j1_right_by_j2": bw.right(j2, as_verdict(j1, j2))[0]}
        for t in tools:
            v = bw.gapwatch_verdict(p) if t == "gapwatch" else bw.peer_verdict(t, p)
            row[t] = {"by_j1": bw.right(j1, v)[0], "by_j2": bw.right(j2, v)[0]}
        for f in ("kind", "heldout", "overfits", "stuck", "diverging"):
            row[f"same_{f}"] = j1.get(f) == j2.get(f)
        rows.append(row)
    n = len(rows)
    out: list[str] = []
    out.append(f"Logs with a second judgement: {len(second)}"
               + (f" ({n} with their files here; {len(missing)} missing)" if missing else "")
               + (f"; {skipped} skipped (not in the manifest, or a field missing)" if skipped else "") + ".")
    out.append("")
    both = sum(r["j2_right_by_j1"] and r["j1_right_by_j2"] for r in rows)
    out.append("| agreement | logs |")
    out.append("|---|---|")
    out.append(f"| second judge scored as a tool against the first (the benchmark's scoring) | "
               f"{pct(sum(r['j2_right_by_j1'] for r in rows), n)} |")
    out.append(f"| first judge scored as a tool against the second | {pct(sum(r['j1_right_by_j2'] for r in rows), n)} |")
    out.append(f"| both ways | {pct(both, n)} |")
    out.append(f"| same class | {pct(sum(r['c1'] == r['c2'] for r in rows), n)} |")
    for f in ("kind", "heldout", "overfits", "stuck", "diverging"):
        out.append(f"| same `{f}` | {pct(sum(r[f'same_{f}'] for r in rows), n)} |")
    out.append("")
    out.append("Classes, first judge (rows) against second judge (columns):")
    out.append("")
    conf = Counter((r["c1"], r["c2"]) for r in rows)
    present = [c for c in CLASSES if any(c in k for k in conf)]
    out.append("| first \\ second | " + " | ".join(present) + " |")
    out.append("|---|" + "---|" * len(present))
    for c1 in present:
        out.append(f"| {c1} | " + " | ".join(str(conf.get((c1, c2), 0)) for c2 in present) + " |")
    out.append("")
    consensus = [r for r in rows if r["j2_right_by_j1"] and r["j1_right_by_j2"]]
    if tools:
        out.append("| tool | right by the first judge | right by the second judge | right by both | "
                   f"on the {len(consensus)} logs the judges agree on |")
        out.append("|---|---|---|---|---|")
    for t in tools:
        out.append(f"| {t} | {pct(sum(r[t]['by_j1'] for r in rows), n)} | {pct(sum(r[t]['by_j2'] for r in rows), n)}"
                   f" | {pct(sum(r[t]['by_j1'] and r[t]['by_j2'] for r in rows), n)}"
                   f" | {pct(sum(r[t]['by_j1'] for r in consensus), len(consensus))} |")
    text = "\n".join(out) + "\n"
    print(text)
    if a.markdown:
        a.markdown.write_text(text)
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "missing": missing}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
