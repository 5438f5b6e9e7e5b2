"""Scale benchmark for the readers and ``gapwatch analyze`` (issue 2).

Generates, in a temporary directory,

* a **1,000,000-point TensorBoard log**: one ``events.out.tfevents.*`` file with ``train/loss`` at every step and
  ``val/loss`` (``simple_value``) and ``val/acc`` (rank-0 tensor, the ``new_style``/TF2 encoding) every 40 steps.
  Events are serialised with TensorBoard's own ``event_pb2`` protos and framed as TFRecords with a vectorised
  masked CRC-32C (``gapwatch.readers._tfrecord``; checked against TensorBoard's reference CRC). The real
  ``torch.utils.tensorboard.SummaryWriter`` takes ~140 µs per scalar here (about 2.5 minutes for 1M points),
  too slow for a benchmark on a shared 2-core machine, so the test suite checks equivalence on small files;
* a **10,000-run CSV sweep**: ``sweep/g<k>/run<j>.csv`` wide CSVs (``epoch,train_loss,val_loss,val_acc``, 20
  epochs each, some overfitting), i.e. 600,000 points,

then times, for each: reading (``gapwatch.readers.load``), analysing (``gapwatch.analysis.analyze``), and the
whole CLI ``gapwatch analyze PATH --json`` in a fresh process (wall-clock and CPU seconds: on a shared machine the
wall-clock time depends on the other jobs, the CPU time much less); and the baselines in the same run: tbparse's
``SummaryReader(...).scalars`` and TensorBoard's ``EventAccumulator`` (size_guidance 0 = keep everything) on the
TensorBoard file, and a plain ``pandas.read_csv`` loop over the sweep's files.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_scale.py [--points 1000000] [--runs 10000]
        [--no-baselines] [--no-tb] [--forecast] [--out bench/results/scale.md]

Peak RSS: ``/usr/bin/time -f %M`` of each CLI child process, and this process's own peak (``ru_maxrss``) after
reading and after analysing (it includes generating the logs).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
VAL_EVERY = 40


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def write_tb(path: Path, points: int, seed: int = 0) -> dict[str, int]:
    """Write ``points`` scalars to one event file; returns points per tag."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

    from gapwatch.readers._tfrecord import masked_crc32c_rows

    rng = np.random.default_rng(seed)
    # steps 1..n_train with train/loss each step, val/* every VAL_EVERY steps: n_train * (1 + 2/VAL_EVERY)
    n_train = round(points / (1 + 2 / VAL_EVERY))
    n_val = n_train // VAL_EVERY
    n_train = points - 2 * n_val
    n_val = (points - n_train) // 2
    steps = np.arange(1, n_train + 1)
    train = 2.0 / np.sqrt(steps) + 0.02 * rng.random(n_train)
    vsteps = np.arange(1, n_val + 1) * VAL_EVERY
    u = vsteps / vsteps[-1]
    val = 0.5 + 1.2 * (u - 0.35) ** 2 + 0.01 * rng.random(n_val)  # U-shape: overfits after 35 %
    acc = 0.9 - 0.3 * (u - 0.35) ** 2
    t0 = 1.7e9
    records: list[bytes] = []
    fv = event_pb2.Event(wall_time=t0, file_version="brain.Event:2").SerializeToString()
    records.append(fv)
    # prefix of a simple_value event after wall_time/step: summary{value{tag, simple_value}}
    def simple(tag: str, step: int, v: float) -> bytes:
        return event_pb2.Event(wall_time=t0 + step * 1e-3, step=step, summary=summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag=tag, simple_value=v)])).SerializeToString()

    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))

    def tensor(tag: str, step: int, v: float, first: bool) -> bytes:
        tp = tensor_pb2.TensorProto(dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(), float_val=[v])
        val = summary_pb2.Summary.Value(tag=tag, tensor=tp)
        if first:
            val.metadata.CopyFrom(meta)
        return event_pb2.Event(wall_time=t0 + step * 1e-3, step=step,
                               summary=summary_pb2.Summary(value=[val])).SerializeToString()

    vi = 0
    for i, s in enumerate(steps.tolist()):
        records.append(simple("train/loss", s, float(train[i])))
        if vi < n_val and s == vsteps[vi]:
            records.append(simple("val/loss", s, float(val[vi])))
            records.append(tensor("val/acc", s, float(acc[vi]), vi == 0))
            vi += 1
    while vi < n_val:  # (only when rounding left some validation points after the last train step)
        s = int(vsteps[vi])
        records.append(simple("val/loss", s, float(val[vi])))
        records.append(tensor("val/acc", s, float(acc[vi]), vi == 0))
        vi += 1
    lens = np.fromiter((len(r) for r in records), dtype=np.int64, count=len(records))
    hdr = np.frombuffer(b"".join(struct.pack("<Q", n) for n in lens.tolist()), np.uint8).reshape(-1, 8)
    hcrc = masked_crc32c_rows(hdr)
    dcrc = np.zeros(len(records), dtype=np.uint32)
    for L in np.unique(lens).tolist():
        idx = np.flatnonzero(lens == L)
        mat = np.frombuffer(b"".join(records[i] for i in idx.tolist()), np.uint8).reshape(-1, L)
        dcrc[idx] = masked_crc32c_rows(mat)
    with open(path, "wb") as fh:
        for i, r in enumerate(records):
            fh.write(hdr[i].tobytes())
            fh.write(struct.pack("<I", int(hcrc[i])))
            fh.write(r)
            fh.write(struct.pack("<I", int(dcrc[i])))
    return {"train/loss": n_train, "val/loss": n_val, "val/acc": n_val}


def write_sweep(root: Path, runs: int, epochs: int = 20, seed: int = 0) -> int:
    """``runs`` wide CSV runs under ``root/g<k>/run<j>.csv``; returns the number of points."""
    rng = np.random.default_rng(seed)
    e = np.arange(epochs)
    pts = 0
    for r in range(runs):
        d = root / f"g{r // 100:03d}"
        d.mkdir(parents=True, exist_ok=True)
        best = rng.integers(3, epochs)
        tr = 1.5 * np.exp(-0.2 * e) + 0.02 * rng.random(epochs)
        va = 0.6 + 0.004 * (e - best) ** 2 + 0.02 * rng.random(epochs)
        ac = 0.8 - 0.002 * (e - best) ** 2
        lines = ["epoch,train_loss,val_loss,val_acc"]
        lines += [f"{i + 1},{tr[i]:.5f},{va[i]:.5f},{ac[i]:.5f}" for i in range(epochs)]
        (d / f"run{r % 100:02d}.csv").write_text("\n".join(lines) + "\n")
        pts += 3 * epochs
    return pts


#: CPU seconds (user + system) of the last :func:`_time` / :func:`_cli` call: wall-clock time on a shared machine
#: depends on the other jobs, CPU time much less.
_CPU: list[float] = [0.0]


def _time(fn):  # type: ignore[no-untyped-def]
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    _CPU[0] = time.process_time() - c
    return time.perf_counter() - t, out


def _cpu() -> float:
    return _CPU[0]


#: Peak RSS (MB) of the last :func:`_cli` child (``/usr/bin/time -f %M``; NaN where it is missing).
_RSS: list[float] = [float("nan")]
_TIME = "/usr/bin/time"


def _cli(path: Path, command: str = "analyze") -> tuple[float, int]:
    exe = ROOT / ".venv" / "bin" / "gapwatch"
    cmd = [str(exe) if exe.exists() else "gapwatch", command, str(path), "--json"]
    if os.path.exists(_TIME):
        cmd = [_TIME, "-f", "GWRSS %M", *cmd]
    import resource

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                       check=False)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    _CPU[0] = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    rss = [ln for ln in p.stderr.splitlines() if ln.startswith("GWRSS ")]
    _RSS[0] = int(rss[-1].split()[1]) * 1024 / 1e6 if rss else float("nan")
    if p.returncode not in (0, 3):
        raise RuntimeError(f"{cmd} failed ({p.returncode}): {p.stderr[-2000:]}")
    return dt, len(p.stdout)


def _peak_mb() -> float:
    """Peak RSS of this process so far (MB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def bench_tb(tmp: Path, points: int, baselines: bool) -> list[str]:
    from gapwatch.analysis import analyze
    from gapwatch.readers import load

    d = tmp / "tb_run"
    d.mkdir()
    f = d / "events.out.tfevents.1700000000.bench"
    tgen, counts = _time(lambda: write_tb(f, points))
    rows = [(f"- generated {sum(counts.values()):,} scalars ({counts}) in {f.stat().st_size / 1e6:.1f} MB, "
             f"{tgen:.1f} s")]
    tread, h = _time(lambda: load(d))
    cread = _cpu()
    assert len(h) == sum(counts.values()), (len(h), counts)
    tan, res = _time(lambda: analyze(h))
    can = _cpu()
    kinds = sorted({x.kind for r in res.runs for x in r.findings})
    tcli, nbytes = _cli(d)
    ccli = _cpu()
    rows += [
        "", "| what | wall s | CPU s | peak RSS MB |", "|---|---:|---:|---:|",
        f"| gapwatch read (`readers.load`) | {tread:.2f} | {cread:.2f} | |",
        f"| gapwatch analyze (detectors on the loaded History) | {tan:.2f} | {can:.2f} | |",
        f"| **in-process total** | **{tread + tan:.2f}** | {cread + can:.2f} | {_peak_mb():.0f} (this process) |",
        f"| **CLI `gapwatch analyze DIR --json`** (fresh process, incl. imports) | **{tcli:.2f}** | {ccli:.2f} | "
        f"{_RSS[0]:.0f} |",
    ]
    if baselines:
        try:
            from tbparse import SummaryReader

            tb_t, df = _time(lambda: SummaryReader(str(d)).scalars)
            rows.append(f"| baseline: tbparse `SummaryReader(dir).scalars` ({len(df):,} rows) | {tb_t:.2f} | "
                        f"{_cpu():.2f} |")
        except Exception as exc:  # noqa: BLE001
            rows.append(f"| baseline: tbparse | failed: {exc.__class__.__name__}: {exc} |")
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        def ea() -> int:
            acc = EventAccumulator(str(d), size_guidance={"scalars": 0, "tensors": 0})
            acc.Reload()
            return sum(len(acc.Scalars(t)) for t in acc.Tags()["scalars"]) + sum(
                len(acc.Tensors(t)) for t in acc.Tags()["tensors"])

        ea_t, n = _time(ea)
        rows.append(f"| baseline: tensorboard `EventAccumulator` Reload ({n:,} values) | {ea_t:.2f} | {_cpu():.2f} |")
    rows.append(f"\nfindings: {kinds}; JSON output {nbytes:,} bytes")
    return rows


def bench_sweep(tmp: Path, runs: int, baselines: bool, sample: int, forecast: bool = False) -> list[str]:
    from gapwatch.analysis import analyze
    from gapwatch.history import History
    from gapwatch.readers import load

    root = tmp / "sweep"
    tgen, pts = _time(lambda: write_sweep(root, runs))
    rows = [f"- generated {runs:,} runs ({pts:,} points) in {tgen:.1f} s"]
    tread, h = _time(lambda: load(root))
    cread = _cpu()
    assert len(h.runs()) == runs
    full = sample >= runs
    can = ccli = float("nan")
    rss_read = _peak_mb()
    rss_cli = float("nan")
    fc_row = ""
    if full:
        tan, res = _time(lambda: analyze(h))
        can = _cpu()
        n_find = sum(len(r.findings) for r in res.runs)
        tcli, nbytes = _cli(root)
        ccli = _cpu()
        rss_cli = _RSS[0]
        label_an, label_cli = "", ""
        if forecast:
            tfc, fbytes = _cli(root, "forecast")
            fc_row = (f"| CLI `gapwatch forecast DIR --json` (fresh process; {fbytes:,} bytes of JSON) | {tfc:.2f} | "
                      f"{_cpu():.2f} | {_RSS[0]:.0f} |")
    else:
        names = h.runs()[:sample]
        sub = History(h.frame[h.frame["run"].isin(names)], sources=h.sources)
        tsub, res = _time(lambda: analyze(sub))
        tan = tsub * runs / sample
        can = _cpu() * runs / sample
        n_find = sum(len(r.findings) for r in res.runs)
        part = tmp / "sweep_part"
        for g in sorted({n.split("/")[0] for n in names}):
            shutil.copytree(root / g, part / g)
        tcli_part, nbytes = _cli(part)
        # the fresh process's fixed start-up is paid once: scale only the per-run work (read + analyze)
        per_run = tsub / sample + tread / runs
        tcli = tcli_part + (runs - sample) * per_run
        label_an = f" — measured {tsub:.2f} s on {sample:,} runs, ×{runs / sample:g}"
        label_cli = (f" — measured {tcli_part:.2f} s on a {sample:,}-run sub-sweep, + {runs - sample:,} × "
                     f"{per_run * 1e3:.1f} ms per run (read + analyze)")
    est = "" if full else " (estimated)"
    rows += [
        "", "| what | wall s | CPU s | peak RSS MB |", "|---|---:|---:|---:|",
        f"| gapwatch read (`readers.load`, all {runs:,} runs) | {tread:.2f} | {cread:.2f} | {rss_read:.0f} "
        "(this process, incl. generating) |",
        f"| gapwatch analyze (detectors on the loaded History){est}{label_an} | {tan:.2f} | {can:.2f} | "
        f"{_peak_mb():.0f} (this process) |",
        f"| **in-process total**{est} | **{tread + tan:.2f}** | {cread + can:.2f} | |",
        (f"| **CLI `gapwatch analyze DIR --json`** (fresh process){est}{label_cli} | **{tcli:.2f}** | "
         + (f"{ccli:.2f} | {rss_cli:.0f} |" if full else "– | |")),
    ]
    if fc_row:
        rows.append(fc_row)
    if baselines:
        import pandas as pd

        files = sorted(root.rglob("*.csv"))
        t, _ = _time(lambda: [pd.read_csv(p) for p in files])
        rows.append(f"| baseline: `pandas.read_csv` on every file (reading only) | {t:.2f} | {_cpu():.2f} |")
    rows.append(f"\n{n_find:,} findings in the analysed runs; JSON output {nbytes:,} bytes")
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--sweep-sample", type=int, default=1000,
                    help="analyse (and run the CLI on) this many sweep runs and scale up; >= --runs: all")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown here (replaces the file)")
    ap.add_argument("--no-tb", action="store_true", help="skip the TensorBoard log (sweep only)")
    ap.add_argument("--forecast", action="store_true", help="also time `gapwatch forecast` on the whole sweep")
    a = ap.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    with open("/proc/cpuinfo") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")),
                   platform.processor())
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=ROOT, check=False).stdout.strip()
    # the code measured: the working tree, or an exported tree on PYTHONPATH (then say so, not the checkout's HEAD)
    where = subprocess.run([sys.executable, "-c", "import gapwatch; print(gapwatch.__file__)"], capture_output=True,
                           text=True, check=False).stdout.strip()
    code = (f"git {rev} (+ working tree)" if where.startswith(str(ROOT)) else
            f"gapwatch imported from {Path(where).parent.parent} (PYTHONPATH; the checkout is at git {rev})")
    tmp = Path(tempfile.mkdtemp(prefix="gapwatch_scale_"))
    try:
        out = [
            "# Scale: reading and analysing big logs",
            "",
            (f"- command: `OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_scale.py "
             f"{' '.join(sys.argv[1:]) if argv is None else ' '.join(argv)}`"),
            (f"- machine: {cpu}, {os.cpu_count()} cores (shared with other jobs), Python "
             f"{platform.python_version()}"),
            f"- date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC; code: {code}",
            "",
            *([] if a.no_tb else [f"## TensorBoard event log, {a.points:,} points (goal < 5 s)", "",
                                   *bench_tb(tmp, a.points, not a.no_baselines), ""]),
            f"## CSV sweep, {a.runs:,} runs (goal < 30 s)",
            "",
            *bench_sweep(tmp, a.runs, not a.no_baselines, a.sweep_sample, a.forecast),
            "",
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = "\n".join(out)
    print(text)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
