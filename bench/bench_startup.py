"""CLI start-up cost: CPU seconds and peak memory of `gapwatch analyze` on a 10-epoch Keras CSVLogger file (default
forecast, and without it) and of `gapwatch --help`, side by side in one loop with an earlier commit of gapwatch and
with a peer log linter (runmedic), so the ratios hold on a shared, noisy machine. Two 10-epoch logs: one generated
here (its validation loss turns up, so the forecast refines its best curve shape) and the test fixture
``tests/fixtures/logs/keras/training.csv`` (issue 11's measurement).

Run:
    git worktree add /tmp/base <old commit>          # optional: the earlier commit to compare with
    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install runmedic   # optional: the peer
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_startup.py --base /tmp/base/src --peer /tmp/peer/bin/runmedic \\
        --repeats 5 --out bench/results/startup.md

CPU = user + system time of the process (``/usr/bin/time -f "%U %S"``, from ``resource.getrusage`` of the
child); memory = its peak resident set size (``%M``). Medians over ``--repeats`` interleaved runs.

``--variant LABEL=DIR`` (repeatable) adds rows for this tree with ``DIR`` in front of it on ``PYTHONPATH``, e.g.
another typer installed with ``pip install --no-deps --target DIR typer==0.29.2`` (the cost of a dependency's
version, measured in the same loop).

Bytecode: an installed package has its ``.pyc`` files (pip compiles them), but a source checkout run with
``PYTHONDONTWRITEBYTECODE=1`` (as on the shared development machine) compiles every gapwatch module on every
start, ~0.2–0.4 s of CPU that no user pays. By default the children therefore write and reuse bytecode in a
private ``PYTHONPYCACHEPREFIX`` (nothing is written into the source trees) after one unmeasured warm-up run of
each command; ``--as-is`` keeps the environment as it is (no warm-up).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from gapwatch.testing.samples import keras_csvlogger_file

ROOT = Path(__file__).resolve().parents[1]


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, after.ru_maxrss / 1024  # ru_maxrss is the max over children so far: run the biggest last


def _shown_args(argv: list[str]) -> str:
    """The command's arguments without the ``--note`` texts (they are printed under the table)."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a == "--note":
            out.append("--note …")
            skip = True
        elif not a.startswith("--note="):
            out.append(shlex.quote(a))
    return " ".join(out)


def _cpu_model() -> str:
    """The CPU's model name (``lscpu``'s "Model name", from /proc/cpuinfo), else the platform's machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    """Installed version of a distribution (as the children see it without a ``--variant``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "absent"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="src/ directory of an earlier gapwatch to compare with (PYTHONPATH)")
    ap.add_argument("--peer", help="path of the runmedic executable")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--note", action="append", default=[], help="a line to add under the table (repeatable)")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=DIR",
                    help="also run this tree with DIR first on PYTHONPATH (repeatable)")
    ap.add_argument("--as-is", action="store_true",
                    help="keep the environment's bytecode settings (no private pyc cache, no warm-up)")
    args = ap.parse_args()
    log = keras_csvlogger_file(Path(tempfile.mkdtemp()) / "training.csv")
    fixture = ROOT / "tests" / "fixtures" / "logs" / "keras" / "training.csv"
    py = sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    if not args.as_is:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="gapwatch-pyc-")
    cases: dict[str, tuple[list[str], dict[str, str]]] = {
        "gapwatch --help (this tree)": ([py, "-m", "gapwatch", "--help"], env),
        "gapwatch analyze (this tree)": ([py, "-m", "gapwatch", "analyze", str(log)], env),
        "gapwatch analyze fixture (this tree)": ([py, "-m", "gapwatch", "analyze", str(fixture)], env),
        "gapwatch analyze --no-forecast (this tree)": ([py, "-m", "gapwatch", "analyze", str(log), "--no-forecast"],
                                                       env),
    }
    for variant in args.variant:
        label, sep, where = variant.partition("=")
        if not sep or not Path(where).is_dir():
            ap.error(f"--variant: expected LABEL=DIR with an existing directory, got {variant!r}")
        venv = {**env, "PYTHONPATH": f"{where}{os.pathsep}{env['PYTHONPATH']}"}
        cases[f"gapwatch --help (this tree, {label})"] = ([py, "-m", "gapwatch", "--help"], venv)
        cases[f"gapwatch analyze fixture (this tree, {label})"] = ([py, "-m", "gapwatch", "analyze", str(fixture)],
                                                                    venv)
    if args.base:
        benv = {**env, "PYTHONPATH": args.base}
        cases["gapwatch --help (earlier commit)"] = ([py, "-m", "gapwatch", "--help"], benv)
        cases["gapwatch analyze (earlier commit)"] = ([py, "-m", "gapwatch", "analyze", str(log)], benv)
        cases["gapwatch analyze fixture (earlier commit)"] = ([py, "-m", "gapwatch", "analyze", str(fixture)], benv)
    if args.peer:
        cases["runmedic --help (peer)"] = ([args.peer, "--help"], env)
        cases["runmedic diagnose (peer)"] = ([args.peer, "diagnose", str(log)], env)
        cases["runmedic diagnose fixture (peer)"] = ([args.peer, "diagnose", str(fixture)], env)
    if not args.as_is:  # warm-up: write each tree's bytecode once (not measured)
        for cmd, e in cases.values():
            measure(cmd, e)
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    mem: dict[str, float] = {}
    for _ in range(args.repeats):
        for k, (cmd, e) in cases.items():
            cpu[k].append(measure(cmd, e)[0])
    for k, (cmd, e) in cases.items():  # peak memory: each in a fresh measuring process
        out = subprocess.run([py, "-c", "import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
                              "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
                              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)", *cmd],
                             env=e, capture_output=True, text=True, check=True)
        mem[k] = int(out.stdout.strip()) / 1024
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    lines = [
        "# CLI start-up", "",
        f"Command: `OMP_NUM_THREADS=1 .venv/bin/python bench/bench_startup.py {_shown_args(sys.argv[1:])}`  ",
        f"Machine: {_cpu_model()}, {os.cpu_count()} cores (shared); Python {platform.python_version()}; "
        f"typer {_version('typer')}, numpy {_version('numpy')}, rich {_version('rich')}  ",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  ", f"Commit: {commit} (plus the working tree)  ",
        f"Load average at the end: {os.getloadavg()[0]:.2f}  ",
        "Bytecode: " + ("as the environment has it" if args.as_is else "cached (private PYTHONPYCACHEPREFIX, "
                                                                       "one warm-up run per command)"), "",
        "| command | CPU s, median | min | peak RSS (MB) |", "|---|---:|---:|---:|",
    ]
    for k in cases:
        lines.append(f"| {k} | {statistics.median(cpu[k]):.2f} | {min(cpu[k]):.2f} | {mem[k]:.0f} |")
    lines += ["", "Goals (issue 11): `analyze` of a 10-epoch log with the default forecast ≤ 0.4 s CPU and ≤ 120 MB; "
              "`--help` ≤ 0.2 s.", "", *args.note]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    time.sleep(0)


if __name__ == "__main__":
    main()
