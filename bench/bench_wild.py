"""Score gapwatch (and the peer log linters) on the corpus of real training logs in ``bench/wild/``.

Every entry of ``bench/wild/manifest.json`` carries a judgement written from the raw series before gapwatch was
run on it (``bench/wild/README.md`` says how). A log is **right** when the verdict matches the judgement:

* ``not_a_log`` (no training metrics in the file): the tool refuses it with an error (gapwatch: one
  :class:`~gapwatch.errors.GapwatchError` line).
* a log without a held-out series (``heldout: false``): refused with an error, or read without a false
  warning; a run judged ``stuck`` or ``diverging`` must not be called healthy (a refusal is fine).
* a log with a held-out series: read (a refusal is wrong unless the log has at most
  :data:`SHORT_EVALS` evaluations), and

  - ``overfits: true`` → an overfitting (or held-out regression) finding at warning or above;
    ``false`` → none; ``"either"`` → both accepted;
  - ``stuck: true`` → an underfitting (not learning) finding at warning or above;
  - ``diverging: true`` → a divergence or non-finite finding; ``false`` → none;
  - judged clean → no warning-or-worse instability, underfitting or overfitting finding (a
    metric-disagreement or data note is allowed), and never a critical finding.

The same rule scores each peer linter from its JSON report, mapping its check names onto the same four verdicts
(:data:`PEER_MAP`).

Usage::

    python bench/bench_wild.py --split dev            # tune on this
    python bench/bench_wild.py --split test --peers   # report this
    python bench/bench_wild.py --split all --download --markdown bench/results/wild.md
    python bench/bench_wild.py --split dev --batch 3  # only the entries of collection batch 3
    python bench/bench_wild.py --from-git owner/name path/to/repo.git   # rebuild one repository's cache files

Files of permissively licensed repositories are committed under ``bench/wild/files/``; the others are fetched
with ``--download`` from ``raw.githubusercontent.com`` at the recorded commit into the cache
(``--cache``, default ``$GAPWATCH_WILD_CACHE`` or ``~/.cache/gapwatch/wild``). Entries whose files are missing
are counted as *not available* and left out of the shares. Without network access, ``--from-git`` rebuilds a
repository's files from a local git directory of it (a clone, or a snapshot the tool library's ``fetch`` brings),
at the recorded commit.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
MANIFEST = ROOT / "wild" / "manifest.json"
FILES = ROOT / "wild" / "files"
#: A held-out series with at most this many evaluations may be refused ("too short to judge").
SHORT_EVALS = 2
#: Finding kinds that mean "the held-out measure got worse" for the overfitting verdict.
OVERFIT_KINDS = frozenset({"overfitting", "heldout_regression"})
#: Peer check names (substrings) → verdict.
PEER_MAP: dict[str, tuple[str, ...]] = {
    "overfit": ("overfit",),
    "stuck": ("stagnation", "no_learning", "not_learning", "plateau_loss", "underfit", "flat"),
    "diverging": ("diverg", "nan", "non_finite", "inf"),
    "spikes": ("spike",),
}
PEERS = ("losslint", "runmedic", "trainspotter")


@dataclass
class Verdict:
    """What one tool said about one log."""

    refused: bool = False
    message: str = ""
    crashed: bool = False
    overfit: bool = False
    stuck: bool = False
    diverging: bool = False
    spikes: bool = False
    critical: bool = False
    warnings: list[str] = field(default_factory=list)


def default_cache() -> Path:
    env = os.environ.get("GAPWATCH_WILD_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "gapwatch" / "wild"


#: Where a TensorBoard entry's files are laid out as they sit in their repository (see :func:`entry_path`).
LAYOUT = Path(tempfile.gettempdir()) / "gapwatch-wild-layout"


def entry_path(e: dict[str, Any], cache: Path) -> Path:
    """What a user would point the tool at: the entry's load file (committed files first, then the cache), or, for
    a TensorBoard run (``load`` empty), its directory as it sits in the repository.

    The corpus keeps an entry's files flat in ``<id>/`` (a base name given twice keeps its path below the entry's
    common directory). A TensorBoard run's directory names carry meaning a user's directory has and the flat copy
    loses: ``add_scalars`` writes each curve to a ``<tag>_<name>/`` sub-directory, a TF1 test writer's
    directory is called ``test``. So the run is laid out under :data:`LAYOUT` as ``<id>/<last part of the
    files' common directory>/<path below it>`` (copies, made once) and that directory is returned."""
    base = (FILES if e["committed"] else cache) / e["id"]
    if e["load"]:
        return base / e["load"]
    files = [Path(f) for f in e.get("files") or []]
    if not files or not base.is_dir():
        return base
    common = Path(os.path.commonpath([str(f.parent) for f in files])) if len(files) > 1 else files[0].parent
    rels = [f.relative_to(common) for f in files]
    sources = [base / r if (base / r).is_file() else base / r.name for r in rels]
    if not all(s.is_file() for s in sources):
        return base
    view = LAYOUT / e["id"] / (common.name or "run")
    for src, rel in zip(sources, rels, strict=True):
        target = view / rel
        if target.is_file() and target.stat().st_size == src.stat().st_size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(src.read_bytes())
        os.replace(tmp, target)
    return view


def download(e: dict[str, Any], cache: Path) -> None:
    """Fetch the entry's files at its commit from raw.githubusercontent.com into ``cache/<id>/``."""
    d = cache / e["id"]
    d.mkdir(parents=True, exist_ok=True)
    for p in e["files"]:
        target = d / Path(p).name
        if target.exists():
            continue
        url = (f"https://raw.githubusercontent.com/{e['repo']}/{e['commit']}/"
               f"{urllib.parse.quote(p)}")
        with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 (fixed https host)
            target.write_bytes(r.read())


def from_git(entries: list[dict[str, Any]], repo: str, gitdir: Path, cache: Path) -> dict[str, str]:
    """Rebuild ``cache/<id>/`` for every uncommitted entry of ``repo`` from a local git directory of that
    repository (a clone, or the snapshot the tool library's ``fetch`` brings): each file at the entry's recorded
    commit, else at ``HEAD`` (said in the status). Returns ``{id: "ok" | "HEAD" | "missing"}``; a file of the
    same base name twice in one entry keeps its path below the entry's common directory (Keras's ``train/`` and
    ``validation/`` event files)."""
    out: dict[str, str] = {}
    for e in entries:
        if e["repo"].lower() != repo.lower() or e["committed"]:
            continue
        names = [Path(p).name for p in e["files"]]
        common = os.path.commonpath([str(Path(p).parent) for p in e["files"]]) if len(set(names)) < len(names) else ""
        got: dict[Path, bytes] = {}
        status = "ok"
        for p in e["files"]:
            data = None
            for rev in (e["commit"], "HEAD"):
                r = subprocess.run(["git", "--git-dir", str(gitdir), "show", f"{rev}:{p}"], capture_output=True,
                                   check=False)
                if r.returncode == 0:
                    data, status = r.stdout, status if rev == e["commit"] else "HEAD"
                    break
            if data is None:
                status = "missing"
                break
            got[Path(os.path.relpath(p, common)) if common else Path(Path(p).name)] = data
        if status != "missing":
            for rel, data in got.items():
                target = cache / e["id"] / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        out[e["id"]] = status
    return out


def missing_repositories(entries: list[dict[str, Any]], cache: Path) -> list[tuple[str, int]]:
    """``[(owner/name, entries), …]`` of the repositories whose uncommitted entries have no files in ``cache``, most
    entries first (ties by name): the order in which to rebuild a lost cache with ``--from-git`` (one snapshot a
    repository), so that a limited number of snapshots restores the most entries."""
    count: dict[str, int] = defaultdict(int)
    for e in entries:
        if not e["committed"] and not entry_path(e, cache).exists():
            count[e["repo"]] += 1
    return sorted(count.items(), key=lambda kv: (-kv[1], kv[0].lower()))


# ----------------------------------------------------------------------------------------------- gapwatch
def gapwatch_verdict(path: Path) -> Verdict:
    """gapwatch's verdict: ``gapwatch.analyze(gapwatch.load(path))`` mapped onto the four verdicts."""
    import gapwatch

    v = Verdict()
    try:
        h = gapwatch.load(path)
        a = gapwatch.analyze(h, forecast=False, examples=False)
    except gapwatch.GapwatchError as exc:
        v.refused, v.message = True, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return v
    except Exception as exc:  # a crash is a wrong answer, never a benchmark abort
        v.crashed, v.refused, v.message = True, True, f"{type(exc).__name__}: {exc}"
        return v
    for r in a.runs:
        if r.error and len(a.runs) == 1:
            v.refused, v.message = True, r.error
        for f in r.findings:
            sev, kind = str(f.severity.value), str(f.kind)
            ev = f.evidence or {}
            if sev == "critical":
                v.critical = True
            if sev not in ("warning", "critical"):
                continue
            v.warnings.append(f"{kind}:{ev.get('type', '')}:{sev}")
            if kind in OVERFIT_KINDS:
                v.overfit = True
            elif kind == "not_learning" or (kind == "underfitting" and ev.get("mode") != "still_falling"):
                # "still falling at the end: train longer" says the run is *not* stuck (the judgement's
                # ``stuck`` is "never left its starting level"); only the stuck mode maps to it
                v.stuck = True
            elif kind == "instability":
                t = ev.get("type")
                if t in ("divergence", "non_finite"):
                    v.diverging = True
                elif t == "spikes":
                    v.spikes = True
    return v


# ----------------------------------------------------------------------------------------------- peers
def _peer_json(tool: str, path: Path) -> tuple[dict[str, Any] | None, str]:
    env = dict(os.environ)
    extra = os.environ.get("GAPWATCH_PEERS_PATH")
    if extra:
        env["PYTHONPATH"] = extra + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as td:
        out = Path(td) / "r.json"
        cmd = {
            "losslint": [sys.executable, "-m", "losslint.cli", "check", str(path), "--json-out", str(out)],
            "runmedic": [sys.executable, "-m", "runmedic", "diagnose", str(path), "--json"],
            "trainspotter": [sys.executable, "-m", "trainspotter.cli", "analyze", str(path), "--output", "json",
                             "--out", str(out)],
        }[tool]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
        except subprocess.TimeoutExpired:
            return None, "timeout"
        text = out.read_text() if out.exists() else p.stdout
        try:
            return json.loads(text), ""
        except json.JSONDecodeError:
            return None, (p.stderr or p.stdout).strip().splitlines()[-1:][0] if (p.stderr or p.stdout).strip() \
                else f"exit {p.returncode}"


def _walk_findings(doc: Any) -> list[dict[str, Any]]:
    """Every dict in the report that looks like a finding (has a severity and a check/name/kind)."""
    found: list[dict[str, Any]] = []
    stack = [doc]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if "severity" in x and any(k in x for k in ("check", "name", "kind", "id", "code", "detector")):
                found.append(x)
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return found


def peer_verdict(tool: str, path: Path) -> Verdict:
    doc, err = _peer_json(tool, path)
    v = Verdict()
    if doc is None:
        v.refused, v.message = True, err
        return v
    for f in _walk_findings(doc):
        name = str(f.get("check") or f.get("name") or f.get("kind") or f.get("id") or f.get("code")
                   or f.get("detector")).lower()
        sev = str(f.get("severity")).lower()
        if sev in ("critical", "error"):
            v.critical = True
        for verdict, keys in PEER_MAP.items():
            if any(k in name for k in keys):
                setattr(v, verdict, True)
        if sev in ("warning", "critical", "error"):
            v.warnings.append(f"{name}:{sev}")
    return v


# ----------------------------------------------------------------------------------------------- scoring
def right(j: dict[str, Any], v: Verdict) -> tuple[bool, str]:
    """Whether verdict ``v`` matches judgement ``j``; the second value names the failure class.

    ``j["n_heldout_evals"]`` is the number of evaluations of the longest held-out series counted from the raw
    file when it was judged (not as any tool reads it)."""
    if j["kind"] == "not_a_log":
        return v.refused and not v.crashed, "not_a_log"
    if v.crashed:
        return False, "crash"
    if not j["heldout"]:
        if v.refused:
            return True, "no_heldout"
        bad = v.overfit or v.spikes or v.critical or (v.diverging and not j["diverging"])
        missed = (j["stuck"] and not v.stuck) or (j["diverging"] and not v.diverging)
        return not (bad or missed), "no_heldout"
    if v.refused:
        return int(j.get("n_heldout_evals", 0)) <= SHORT_EVALS, "refused"
    cls = "overfits" if j["overfits"] is True else ("stuck" if j["stuck"] else (
        "diverging" if j["diverging"] else ("ambiguous" if j["overfits"] == "either" else "clean")))
    ok = True
    if j["overfits"] is True:
        ok &= v.overfit
    elif j["overfits"] is False:
        ok &= not v.overfit
    ok &= v.stuck if j["stuck"] else not (v.stuck and cls == "clean")
    ok &= v.diverging == bool(j["diverging"])
    if cls == "clean":
        ok &= not (v.spikes or v.critical)
    return bool(ok), cls


def score(entries: list[dict[str, Any]], tools: list[str], cache: Path,
          verbose: bool = False) -> dict[str, Any]:
    per_tool: dict[str, dict[str, list[bool]]] = {t: defaultdict(list) for t in tools}
    rows: list[dict[str, Any]] = []
    missing = []
    for e in entries:
        p = entry_path(e, cache)
        if not p.exists():
            missing.append(e["id"])
            continue
        row: dict[str, Any] = {"id": e["id"], "format": e["format"], "split": e["split"],
                               "batch": int(e.get("batch") or 0)}
        for t in tools:
            v = gapwatch_verdict(p) if t == "gapwatch" else peer_verdict(t, p)
            ok, cls = right(e["judgement"], v)
            per_tool[t][cls].append(ok)
            per_tool[t]["all"].append(ok)
            if v.critical and e["judgement"].get("clean"):
                per_tool[t]["critical_on_clean"].append(True)
            row[t] = {"right": ok, "class": cls, "refused": v.refused, "message": v.message[:160],
                      "warnings": v.warnings[:6]}
        rows.append(row)
        if verbose:
            g = row.get("gapwatch") or row[tools[0]]
            print(f"{'ok ' if g['right'] else 'BAD'} {g['class']:10s} {e['id'][:60]:60s} "
                  f"{g['message'][:60] if g['refused'] else ' '.join(g['warnings'])}")
    return {"per_tool": per_tool, "rows": rows, "missing": missing}


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def by_batch(rows: list[dict[str, Any]], tools: list[str]) -> list[str]:
    """Markdown lines of a table of logs right per collection batch (the manifest's ``batch``; 0: the entries
    collected before batches were marked) and tool: the newest batch's column is the measure on logs nothing here
    had seen before. Empty when the rows hold one batch only."""
    batches = sorted({int(r.get("batch", 0)) for r in rows})
    if len(batches) < 2:
        return []
    out = ["## Right by collection batch", "", "| tool | " + " | ".join(f"batch {b}" for b in batches) + " |",
           "|---|" + "---|" * len(batches)]
    for t in tools:
        cells = []
        for b in batches:
            got = [r[t]["right"] for r in rows if int(r.get("batch", 0)) == b and t in r]
            cells.append(f"{sum(got)}/{len(got)}" if got else "–")
        out.append(f"| {t} | " + " | ".join(cells) + " |")
    return out + [""]


def markdown(res: dict[str, Any], tools: list[str], split: str, argv: list[str]) -> str:
    classes = sorted({c for t in tools for c in res["per_tool"][t] if c not in ("all", "critical_on_clean")})
    lines = [f"# Real logs from the wild — split `{split}`", "",
             f"Command: `python bench/bench_wild.py {' '.join(argv)}`  ",
             f"Date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC · commit {_git_commit()} · "
             f"machine: {platform.machine()} {os.cpu_count()} CPUs, no GPU  ",
             f"Logs scored: {len(res['rows'])} (not available: {len(res['missing'])})", "",
             "| tool | right | " + " | ".join(classes) + " | critical on a clean log |",
             "|---|---|" + "---|" * len(classes) + "---|"]
    for t in tools:
        d = res["per_tool"][t]
        cell = [f"{sum(d[c])}/{len(d[c])}" if d.get(c) else "–" for c in classes]
        a = d["all"]
        lines.append(f"| {t} | {sum(a)}/{len(a)} ({100 * sum(a) / max(len(a), 1):.0f}%) | " + " | ".join(cell)
                     + f" | {len(d.get('critical_on_clean', []))} |")
    lines += ["", "Class of a log: its judgement (`overfits`, `stuck`, `clean`, `ambiguous` = overfitting "
              "either way, `no_heldout`, `not_a_log`); `refused` = a log with a held-out series that was not "
              "read; `crash` = an exception other than gapwatch's own errors.", ""]
    lines += by_batch(res["rows"], tools)
    wrong = [r for r in res["rows"] if "gapwatch" in r and not r["gapwatch"]["right"]]
    if wrong:
        lines += ["## gapwatch: the logs it got wrong", "", "| log | format | class | what it said |",
                  "|---|---|---|---|"]
        for r in wrong:
            g = r["gapwatch"]
            said = ("refused: " + g["message"]) if g["refused"] else (", ".join(g["warnings"]) or "no finding")
            lines.append(f"| {r['id'][:58]} | {r['format']} | {g['class']} | {said.replace('|', '/')[:150]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("dev", "test", "all"), default="dev")
    ap.add_argument("--batch", type=int, help="only entries of this collection batch (the manifest's \"batch\"; "
                    "0: the entries collected before batches were marked, batches 1 and 2)")
    ap.add_argument("--peers", action="store_true", help="also score losslint, runmedic, trainspotter")
    ap.add_argument("--cache", type=Path, default=default_cache())
    ap.add_argument("--download", action="store_true", help="fetch missing files from GitHub first")
    ap.add_argument("--from-git", nargs=2, metavar=("OWNER/NAME", "GITDIR"),
                    help="rebuild the cache files of one repository's entries from a local git directory of it "
                    "(a clone or a fetched snapshot), then exit")
    ap.add_argument("--missing", action="store_true", help="list the repositories whose uncommitted entries (of the "
                    "chosen split and batch) have no files in the cache, most entries first, then exit")
    ap.add_argument("--markdown", type=Path, help="write the result table here")
    ap.add_argument("--json", type=Path, help="write per-log verdicts here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text())
    if args.from_git:
        for eid, status in from_git(manifest["entries"], args.from_git[0], Path(args.from_git[1]),
                                    args.cache).items():
            print(f"{status}\t{eid}")
        return 0
    entries = [e for e in manifest["entries"] if (args.split == "all" or e["split"] == args.split)
               and (args.batch is None or e.get("batch", 0) == args.batch)]
    if args.missing:
        for repo, n in missing_repositories(entries, args.cache):
            print(f"{repo}\t{n}")
        return 0
    if args.download:
        for e in entries:
            if not e["committed"] and not entry_path(e, args.cache).exists():
                try:
                    download(e, args.cache)
                except OSError as exc:
                    print(f"not downloaded: {e['id']}: {exc}", file=sys.stderr)
    tools = ["gapwatch"]
    if args.peers:
        tools += list(PEERS)
    res = score(entries, tools, args.cache, verbose=args.verbose)
    md = markdown(res, tools, args.split, sys.argv[1:] if argv is None else argv)
    print(md)
    if args.markdown:
        args.markdown.write_text(md)
    if args.json:
        args.json.write_text(json.dumps(res["rows"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
