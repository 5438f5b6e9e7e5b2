"""Benchmark of ``gapwatch watch`` and the tracker readers (issue 15).

Measures, each in the same run on the same machine:

1. **CPU per poll for 1, 100 and 1,000 watched runs** (``--runs``): a directory of run directories (a third
   TensorBoard run dirs, a third CSV logs, a third JSON Lines logs; 40 evaluations each), watched by one
   :class:`gapwatch.watch.Watcher` polling (no inotify). Reported: the first pass (reads and analyses
   everything), then the steady state, where ``--live`` of the runs (default 1 %) append one evaluation
   before each poll. CPU is ``time.process_time`` of this process (robust to the other jobs on a shared
   machine); "% of one core at 10 s" is CPU seconds per poll / 10 s. The goal: 1,000 runs under 5 %.
2. **Bytes read per poll on a growing event file** (``--event-points``): a TensorBoard file of that many
   scalars (written like bench_scale.py's), tailed by :class:`gapwatch.watch.tail.TensorBoardTailer`; then
   ``--appends`` appends of 1,000 records each. Bytes read per poll must equal the bytes appended (O(new
   data)); the CPU per poll is also reported (it includes rebuilding the History and is O(total points)).
2b. **Bytes read per poll while a log grows to 1 GB** (``--grow-bytes``, ``--grow-steps``, ``--grow-kinds``): a
   TensorBoard event file (weight histograms + sparse scalars), a JSON Lines log (per-layer arrays + scalars)
   and a CSV log (per-step bookkeeping rows + sparse losses), each grown in ``--grow-steps`` appends with a
   :class:`gapwatch.watch.Watcher` poll after each. Per poll: bytes appended, bytes read (the tailer's counter
   and ``/proc/self/io`` ``rchar``), CPU; the benchmark fails unless every poll reads at most
   :data:`MAX_READ_FACTOR` x the bytes appended + :data:`READ_SLACK_BYTES`. Each file is deleted after its run.
3. **Detection delay, watch vs analyze** (``--seeds``): synthetic overfitting runs
   (``gapwatch.testing.synth``) grown one evaluation at a time into a JSON Lines log, polled after each; the evaluation at which watch first reports
   the overfitting finding and the stop, against ``analyze``'s onset and ``replay``'s stop on the finished log
   (the final decisions must agree).
4. **Tracker reading** (``--tracker-runs``): an MLflow SQLite store of that many runs written with the
   ``mlflow`` client (``log_batch``: 3 metrics x 50 steps), read by gapwatch (one query per table) and by the
   client (``search_runs`` + ``get_metric_history``); and that many W&B offline run directories (5 real runs
   written by ``wandb.init(mode="offline")``, each copied to 1/5 of the directories) read by gapwatch. The
   wandb SDK 0.31 has no Python reader for ``.wandb`` files (its Go core reads them), so there is no SDK
   baseline.

Usage::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_watch.py [--runs 1,100,1000] [--polls 5]
        [--live 0.01] [--event-points 1000000] [--grow-bytes 1e9] [--grow-steps 10] [--seeds 20]
        [--tracker-runs 1000] [--skip poll,growth,big,delay,trackers] [--out bench/results/watch.md [--append]]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
INTERVAL_S = 10.0  # the interval the CPU goal is stated at


def _cpu() -> float:
    return time.process_time()


def _u(e: int, k: int) -> tuple[float, float]:
    val = 0.5 + 1.5 * np.exp(-e / 4) + 0.02 * max(0, e - 14 - k % 7)
    return float(2.0 * np.exp(-e / 6)), float(val)


# ------------------------------------------------------------------------------------------ 1. CPU per poll
def _tb_event(step: int, tag: str, v: float) -> bytes:
    """One serialized TensorBoard ``Event`` holding scalar ``tag`` = ``v`` at ``step``."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    ev = event_pb2.Event(wall_time=1.7e9 + step, step=step, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, simple_value=v)]))
    return bytes(ev.SerializeToString())


def _tb_rec(step: int, tag: str, v: float) -> bytes:
    from gapwatch.readers._tfrecord import frame

    return frame(_tb_event(step, tag, v))


def _append(run: Path, kind: str, e: int, k: int) -> None:
    tr, va = _u(e, k)
    if kind == "tb":
        with open(run / "events.out.tfevents.1.bench", "ab") as fh:
            fh.write(_tb_rec(e, "train/loss", tr) + _tb_rec(e, "val/loss", va))
    elif kind == "csv":
        with open(run / "log.csv", "a") as fh:
            fh.write(f"{e},{tr:.6f},{va:.6f}\n")
    else:
        with open(run / "log.jsonl", "a") as fh:
            fh.write(json.dumps({"epoch": e, "train_loss": tr, "val_loss": va}) + "\n")


def make_runs(root: Path, n: int, evals: int = 40) -> list[tuple[Path, str]]:
    runs = []
    for k in range(n):
        kind = ("tb", "csv", "jsonl")[k % 3]
        d = root / f"run{k:04d}"
        d.mkdir(parents=True)
        if kind == "csv":
            (d / "log.csv").write_text("epoch,train_loss,val_loss\n")
        for e in range(1, evals + 1):
            _append(d, kind, e, k)
        runs.append((d, kind))
    return runs


def bench_poll(tmp: Path, sizes: list[int], polls: int, live: float) -> list[str]:
    from gapwatch.watch import Watcher, WatchOptions

    out = ["## 1. CPU per poll (polling, no inotify)", "",
           f"Each run: 40 evaluations logged before the watch starts; before each steady-state poll "
           f"{live:.0%} of the runs (at least 1) append one evaluation. {polls} steady-state polls.", "",
           "| watched runs | first pass: wall s | first pass: CPU s | steady poll: CPU s (mean) | "
           "steady poll: CPU s (max) | % of one core at a 10 s interval |", "|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        root = tmp / f"poll{n}"
        runs = make_runs(root, n)
        evs: list[dict[str, Any]] = []
        w = Watcher(root, WatchOptions(interval=INTERVAL_S, use_watchdog=False), emit=evs.append)
        t0, c0 = time.perf_counter(), _cpu()
        w.poll()
        first_wall, first_cpu = time.perf_counter() - t0, _cpu() - c0
        assert len(w.sources) == n, (len(w.sources), n)
        n_live = max(1, round(live * n))
        cpus = []
        for p in range(polls):
            for d, kind in runs[p * n_live % n:][:n_live]:
                _append(d, kind, 41 + p, 0)
            c0 = _cpu()
            w.poll()
            cpus.append(_cpu() - c0)
        mean = float(np.mean(cpus))
        out.append(f"| {n:,} | {first_wall:.2f} | {first_cpu:.2f} | {mean:.3f} | {max(cpus):.3f} | "
                   f"{100 * mean / INTERVAL_S:.2f} % |")
        print(out[-1], flush=True)
        shutil.rmtree(root)
    return out


# ------------------------------------------------------------------------------------------ 2. growing file
def bench_growth(tmp: Path, points: int, appends: int) -> list[str]:
    from bench_scale import write_tb

    from gapwatch.watch.tail import TensorBoardTailer

    f = tmp / "events.out.tfevents.1.big"
    write_tb(f, points)
    size = f.stat().st_size
    t = TensorBoardTailer(f, "big")
    t0, c0 = time.perf_counter(), _cpu()
    t.poll()
    first = (time.perf_counter() - t0, _cpu() - c0, t.stats.bytes_read)
    rows = []
    step0 = 10 * points
    for a in range(appends):
        chunk = b"".join(_tb_rec(step0 + 1000 * a + i, "val/loss", 0.5) for i in range(1000))
        with open(f, "ab") as fh:
            fh.write(chunk)
        b0, c0 = t.stats.bytes_read, _cpu()
        t.poll()
        rows.append((len(chunk), t.stats.bytes_read - b0, _cpu() - c0))
    ok = all(r[0] == r[1] for r in rows)
    out = ["## 2. Bytes read per poll on a growing TensorBoard file", "",
           f"File: {points:,} scalars, {size / 1e6:.1f} MB before the watch starts. First poll: "
           f"{first[0]:.2f} s wall, {first[1]:.2f} s CPU, {first[2] / 1e6:.1f} MB read (the file twice: framing "
           "pass + the vectorised decoder).", "",
           "| append | bytes appended | bytes read by the poll | poll CPU s |", "|---:|---:|---:|---:|"]
    out += [f"| {i + 1} | {a:,} | {b:,} | {c:.3f} |" for i, (a, b, c) in enumerate(rows)]
    out += ["", f"Bytes read per poll == bytes appended on every poll: **{ok}**. The CPU per poll is dominated "
            "by rebuilding the run's History from its decoded arrays (O(points logged), not O(bytes))."]
    print("\n".join(out), flush=True)
    return out


# ------------------------------------------------------------------------------------------ 2b. 1 GB growth
#: The O(new data) bound asserted on every poll: bytes the process read during the poll (``/proc/self/io``
#: ``rchar``) at most this many times the bytes appended since the previous poll, plus READ_SLACK_BYTES.
MAX_READ_FACTOR = 2.0
#: Bytes a poll may read beyond MAX_READ_FACTOR x appended (stat, /proc reads, the first 64 KiB sniffed).
READ_SLACK_BYTES = 1 << 20
#: Growth logs: a training scalar every TRAIN_EVERY steps, a validation scalar every VAL_EVERY steps (the CSV,
#: one short row per step like Lightning's learning-rate monitor writes, logs them every CSV_TRAIN_EVERY and
#: CSV_VAL_EVERY rows: a 1 GB CSV is 10 M rows).
TRAIN_EVERY, VAL_EVERY = 10, 100
CSV_TRAIN_EVERY, CSV_VAL_EVERY = 50, 1000
#: JSON Lines: floats in the per-layer array each line carries (what makes the log big; arrays are skipped).
JSONL_LAYERS = 2000


def _rchar() -> int:
    """Bytes this process has read through read syscalls (``/proc/self/io``), -1 where unavailable."""
    try:
        with open("/proc/self/io") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("rchar:"))
    except (OSError, StopIteration, ValueError):
        return -1


def _curve(g: int, total: int) -> tuple[float, float]:
    """Training loss falling, validation loss bottoming out at 60 % of ``total`` steps and climbing."""
    x = g / total
    return float(2.0 * np.exp(-4 * x) + 0.05), float(0.5 + np.exp(-5 * x) + 0.6 * max(0.0, x - 0.6) ** 2)


def _frames(datas: list[bytes]) -> bytes:
    """TFRecord records around each payload; the CRC-32Cs computed for all records of one length at once."""
    import struct

    from gapwatch.readers._tfrecord import masked_crc32c_rows

    n = len(datas)
    hdrs = np.frombuffer(b"".join(struct.pack("<Q", len(d)) for d in datas), np.uint8).reshape(n, 8)
    lc = masked_crc32c_rows(hdrs)
    dc = np.zeros(n, np.uint32)
    by_len: dict[int, list[int]] = {}
    for i, d in enumerate(datas):
        by_len.setdefault(len(d), []).append(i)
    for ln, idx in by_len.items():
        mat = np.frombuffer(b"".join(datas[i] for i in idx), np.uint8).reshape(len(idx), ln)
        dc[idx] = masked_crc32c_rows(mat)
    return b"".join(hdrs[i].tobytes() + struct.pack("<I", int(lc[i])) + d + struct.pack("<I", int(dc[i]))
                    for i, d in enumerate(datas))


class _Grower:
    """Appends training-log bytes of one format: ``chunk(nbytes)`` → the bytes of the next steps."""

    def __init__(self, kind: str, total_steps: int) -> None:
        self.kind, self.total, self.g = kind, total_steps, 0
        if kind == "tb":
            from tensorboard.compat.proto import event_pb2, summary_pb2

            hist = summary_pb2.HistogramProto(min=-3.0, max=3.0, num=1e6, sum=1.5, sum_squares=9.5e5,
                                              bucket_limit=[-3 + 6 * (i + 1) / 250 for i in range(250)],
                                              bucket=[1.0 + i for i in range(250)])
            self.hist = event_pb2.Event(wall_time=1.7e9, step=1, summary=summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag="layer0/weights", histo=hist)]))
        self.layers = json.dumps([round(0.01 + 1e-4 * i, 6) for i in range(JSONL_LAYERS)])

    def header(self) -> bytes:
        return b"step,epoch,time,lr-Adam,tokens_seen,train_loss,val_loss\n" if self.kind == "csv" else b""

    def chunk(self, nbytes: int) -> bytes:
        out: list[bytes] = []
        size = 0
        while size < nbytes:
            piece = self._steps(256)
            out.append(piece)
            size += len(piece)
        return b"".join(out)

    def _steps(self, k: int) -> bytes:
        """The bytes of the next ``k`` training steps."""
        recs: list[bytes] = []
        lines: list[str] = []
        for _ in range(k):
            self.g += 1
            g = self.g
            tr, va = _curve(g, self.total)
            train, val = g % TRAIN_EVERY == 0, g % VAL_EVERY == 0
            if self.kind == "tb":
                self.hist.step, self.hist.wall_time = g, 1.7e9 + g
                recs.append(self.hist.SerializeToString())
                if train:
                    recs.append(_tb_event(g, "train/loss", tr))
                if val:
                    recs.append(_tb_event(g, "val/loss", va))
            elif self.kind == "jsonl":
                extra = f', "val_loss": {va:.6f}' if val else ""
                lines.append(f'{{"step": {g}, "epoch": {g / 1000:.3f}, "train_loss": {tr:.6f}{extra}, '
                             f'"layer_grad_norms": {self.layers}}}\n')
            else:
                train, val = g % CSV_TRAIN_EVERY == 0, g % CSV_VAL_EVERY == 0
                lines.append(f"{g},{g / 1000:.3f},{1.7e9 + 0.25 * g:.3f},{0.001 * (1 - g / self.total):.9f},"
                             f"{2048 * g},{f'{tr:.6f}' if train else ''},{f'{va:.6f}' if val else ''}\n")
        return _frames(recs) if self.kind == "tb" else "".join(lines).encode()


def _step_bytes(kind: str) -> float:
    """Bytes one training step adds to a growth log of ``kind`` (measured on a sample)."""
    g = _Grower(kind, 10**6)
    return len(g._steps(1000)) / 1000


def bench_growth_big(tmp: Path, total: int, steps: int, kinds: list[str]) -> list[str]:
    """Grow a TensorBoard event file, a JSON Lines log and a CSV log to ``total`` bytes in ``steps`` appends,
    polling a :class:`gapwatch.watch.Watcher` on the file after each; per poll: bytes appended, bytes the
    tailer read, bytes the process read (``rchar``), CPU. Asserts the O(new data) bound on every poll."""
    from gapwatch.watch import Watcher, WatchOptions

    names = {"tb": "events.out.tfevents.1.grow", "jsonl": "grow.jsonl", "csv": "grow.csv"}
    what = {"tb": f"per step a 250-bucket weight histogram; train/loss every {TRAIN_EVERY} steps, "
                  f"val/loss every {VAL_EVERY}",
            "jsonl": f"per step one line with train_loss and a {JSONL_LAYERS}-float per-layer array (skipped: "
                     f"arrays are not curves); val_loss every {VAL_EVERY} lines",
            "csv": f"per step one row of bookkeeping (step, epoch, time, lr-Adam, tokens_seen); train_loss every "
                   f"{CSV_TRAIN_EVERY} rows, val_loss every {CSV_VAL_EVERY}"}
    out = ["## 2b. Bytes read per poll while a log grows to "
           f"{total / 1e9:g} GB (TensorBoard, JSON Lines, CSV)", "",
           "Each log starts small; a `Watcher` on the file (polling, no inotify) reads it whole once (first poll), "
           f"then the log grows by {steps} appends of about {total / steps / 1e6:.0f} MB, with one poll "
           "after each. *Tailer read*: the tailer's own counter; *process read*: `rchar` of `/proc/self/io` "
           "over the poll (every read syscall of the process, page cache or not). CPU: `time.process_time` of "
           "the poll (reading, parsing, rebuilding the History, running the detectors, the stop policy). Asserted "
           f"on every poll: process read <= {MAX_READ_FACTOR:g} x appended + {READ_SLACK_BYTES >> 20} MiB.", ""]
    ok_all = True
    for kind in kinds:
        f = tmp / names[kind]
        per_step = _step_bytes(kind)
        total_steps = int(total / per_step)
        gr = _Grower(kind, total_steps)
        with open(f, "wb") as fh:
            fh.write(gr.header() + gr.chunk(total // steps // 100))
        evs: list[dict[str, Any]] = []
        w = Watcher(f, WatchOptions(use_watchdog=False), emit=evs.append)
        c0, r0 = _cpu(), _rchar()
        w.poll()
        first = (f.stat().st_size, _rchar() - r0, _cpu() - c0)
        tailer = w.sources[f].tailer
        out += [f"### {kind}: {what[kind]} ({per_step / 1e3:.2f} KB per step)", "",
                f"First poll: {first[0] / 1e6:.1f} MB file, {first[1] / 1e6:.1f} MB read, {first[2]:.2f} s CPU.", "",
                "| poll | file MB | appended MB | tailer read MB | process read MB | read / appended | poll CPU s | "
                "points in the run | events |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        rows = []
        for k in range(steps):
            data = gr.chunk(int(total / steps))
            with open(f, "ab") as fh:
                fh.write(data)
            appended = len(data)
            del data
            b0, r0, c0, n0 = tailer.stats.bytes_read, _rchar(), _cpu(), len(evs)
            w.poll()
            cpu, rch, got = _cpu() - c0, _rchar() - r0, tailer.stats.bytes_read - b0
            pts = len(tailer.history())  # after the measured poll: observations the watch holds for the run
            ok = got <= appended and rch <= MAX_READ_FACTOR * appended + READ_SLACK_BYTES
            ok_all &= ok
            rows.append((f.stat().st_size, appended, got, rch, cpu, pts, len(evs) - n0))
            out.append(f"| {k + 1} | {rows[-1][0] / 1e6:,.0f} | {appended / 1e6:.1f} | {got / 1e6:.1f} | "
                       f"{rch / 1e6:.1f} | {rch / appended:.3f} | {cpu:.2f} | {pts:,} | {len(evs) - n0} |")
            print(out[-1], flush=True)
            if not ok:
                raise AssertionError(f"{kind} poll {k + 1}: read {rch:,} bytes (tailer {got:,}) for {appended:,} "
                                     f"appended: not O(new data)")
        size = f.stat().st_size
        f.unlink()
        cpus = [r[4] for r in rows]
        out += ["", f"Final size {size / 1e9:.2f} GB; bytes read per poll / bytes appended: "
                f"{min(r[3] / r[1] for r in rows):.3f}–{max(r[3] / r[1] for r in rows):.3f} (process), "
                f"{min(r[2] / r[1] for r in rows):.3f}–{max(r[2] / r[1] for r in rows):.3f} (tailer); poll CPU "
                f"{min(cpus):.2f}–{max(cpus):.2f} s for {total / steps / 1e6:.0f} MB appended "
                f"({total / steps / 1e6 / float(np.median(cpus)):.0f} MB/s of new data, median).", ""]
    out.append(f"O(new data) on every poll of every log: **{ok_all}** (the file deleted after each log).")
    return out


# ------------------------------------------------------------------------------------------ 3. delay
def bench_delay(tmp: Path, seeds: int) -> list[str]:
    from gapwatch.analysis import analyze
    from gapwatch.readers import load
    from gapwatch.replay import replay_history
    from gapwatch.testing import synth
    from gapwatch.watch import Watcher, WatchOptions
    from gapwatch.watch.core import finding_key

    rows = []
    agree_stop = agree_find = 0
    for seed in range(seeds):
        h = synth.overfitting(seed).history
        wide = h.frame.pivot_table(index="epoch", columns="name", values="value", aggfunc="last").sort_index()
        recs = [{"epoch": float(ep), **{k: float(v) for k, v in r.items() if np.isfinite(v)}}
                for ep, r in wide.iterrows()]
        f = tmp / f"delay{seed}.jsonl"
        f.write_text("")
        evs: list[dict[str, Any]] = []
        w = Watcher(f, WatchOptions(use_watchdog=False), emit=evs.append)
        first_find = first_stop = None
        for i, r in enumerate(recs):
            with open(f, "a") as fh:
                fh.write(json.dumps(r) + "\n")
            n0 = len(evs)
            w.poll()
            for e in evs[n0:]:
                if e["event"] == "finding" and e["finding"]["kind"] == "overfitting" and first_find is None:
                    first_find = i + 1
                if e["event"] == "stop" and first_stop is None:
                    first_stop = i + 1
        fin = load(f)
        a = analyze(fin).runs[0]
        onset = next((x.epoch for x in a.findings if x.kind == "overfitting"), None)
        rp = replay_history(fin)[0]
        wstop = next((e["stop"] for e in evs if e["event"] == "stop"), None)
        agree_stop += int(wstop == rp.to_dict()["stop"])
        keys_watch = {finding_key(x) for x in a.findings}
        seen = {f"finding:{e['finding']['detector']}:{e['finding']['kind']}:{e['finding']['severity']}"
                for e in evs if e["event"] == "finding" and e["finding"]["kind"] != "data"}
        agree_find += int({k for k in keys_watch if ":data:" not in k} <= seen)
        onset_i = None if onset is None else int(np.searchsorted(wide.index.to_numpy(), onset)) + 1
        rows.append((seed, len(recs), onset_i, first_find, rp.seen if rp.stop else None, first_stop))
    out = ["## 3. Detection delay: watch (polled after every evaluation) vs analyze on the finished log", "",
           f"{seeds} synthetic overfitting runs (`gapwatch.testing.synth.overfitting(seed)`, 100 epochs). Onset: the "
           "epoch of analyze's overfitting finding on the finished log; stop: replay's stop evaluation.", "",
           "| seed | evaluations | analyze onset (eval) | watch first reports overfitting (eval) | replay stop "
           "(eval) | watch stop (eval) |", "|---:|---:|---:|---:|---:|---:|"]
    out += [f"| {s} | {n} | {o} | {ff} | {rs} | {ws} |" for s, n, o, ff, rs, ws in rows]
    delays = [ff - o for _, _, o, ff, _, _ in rows if o is not None and ff is not None]
    out += ["", f"Stop decision identical to replay's: **{agree_stop}/{seeds}**. Every analyze finding on the "
            f"finished log was reported by watch: **{agree_find}/{seeds}**. Delay of the first overfitting report "
            f"after analyze's onset: median {np.median(delays) if delays else float('nan'):.0f}, max "
            f"{max(delays) if delays else float('nan')} evaluations ({len(delays)} runs with both)."]
    print("\n".join(out[-1:]), flush=True)
    return out


# ------------------------------------------------------------------------------------------ 4. trackers
def bench_trackers(tmp: Path, n: int) -> list[str]:
    out = ["## 4. Reading tracker stores", ""]
    try:
        import mlflow  # noqa: F401
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient
    except ImportError:
        out.append("mlflow not installed: skipped.")
    else:
        from gapwatch.readers._parts import build
        from gapwatch.trackers.mlflow import read_client, read_mlflow

        db = tmp / "mlflow.db"
        uri = f"sqlite:///{db}"
        c = MlflowClient(tracking_uri=uri)
        eid = c.create_experiment("bench")
        t0 = time.perf_counter()
        for k in range(n):
            r = c.create_run(eid, run_name=f"run{k}")
            ms = [Metric(key, v, 0, s) for s in range(1, 51)
                  for key, v in zip(("train_loss", "val_loss", "val_acc"),
                                    (_u(s, k)[0], _u(s, k)[1], 1 - _u(s, k)[1] / 3), strict=True)]
            c.log_batch(r.info.run_id, metrics=ms, params=[Param("lr", str(0.001 * (k + 1)))])
            c.set_terminated(r.info.run_id)
        write_s = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), _cpu()
        h = read_mlflow(uri)
        ours = (time.perf_counter() - t0, _cpu() - c0)
        t0, c0 = time.perf_counter(), _cpu()
        ref = build(read_client(uri))
        theirs = (time.perf_counter() - t0, _cpu() - c0)
        same = h.runs() == ref.runs() and len(h) == len(ref)
        out += [f"MLflow SQLite store: {n:,} runs x 3 metrics x 50 steps (written by the client in "
                f"{write_s:.0f} s).", "", "| reader | wall s | CPU s |", "|---|---:|---:|",
                f"| gapwatch `read_mlflow` (sqlite3, one query per table) | {ours[0]:.2f} | {ours[1]:.2f} |",
                f"| mlflow client: `search_runs` + `get_metric_history` per metric | {theirs[0]:.2f} | "
                f"{theirs[1]:.2f} |", "", f"Same runs and observations from both: **{same}**.", ""]
        print("\n".join(out[-7:]), flush=True)
    try:
        import wandb  # noqa: F401
    except ImportError:
        out.append("wandb not installed: skipped.")
        return out
    from gapwatch.trackers.wandb import read_wandb

    src = tmp / "wb"
    code = ("import sys, wandb\nfor r in range(5):\n"
            "    run = wandb.init(mode='offline', project='bench', name=f'r{r}', config={'lr': r}, dir=sys.argv[1])\n"
            "    for e in range(1, 51):\n"
            "        run.log({'train/loss': 1.0 / e, 'val/loss': 1.0 / e + 0.01 * e * (r + 1), 'epoch': e})\n"
            "    run.finish()\n")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    subprocess.run([sys.executable, "-c", code, str(src)], check=True, env=env, timeout=600)
    real = sorted((src / "wandb").glob("offline-run-*"))
    dst = tmp / "wandb"
    dst.mkdir()
    for k in range(n):
        d = real[k % len(real)]
        shutil.copytree(d, dst / f"offline-run-bench-{k:05d}", symlinks=True)
    t0, c0 = time.perf_counter(), _cpu()
    h = read_wandb(dst)
    ours = (time.perf_counter() - t0, _cpu() - c0)
    out += [f"W&B: {n:,} offline run directories (5 real runs written by `wandb.init(mode=\"offline\")`, 50 "
            "steps x 2 metrics, each copied to 1/5 of the directories).", "",
            "| reader | wall s | CPU s |", "|---|---:|---:|",
            f"| gapwatch `read_wandb` | {ours[0]:.2f} | {ours[1]:.2f} |",
            "| wandb SDK 0.31 | no Python reader for `.wandb` files | — |", "",
            f"Runs read: {len(h.runs()):,}."]
    print("\n".join(out[-8:]), flush=True)
    return out


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="1,100,1000", help="comma-separated numbers of watched runs")
    ap.add_argument("--polls", type=int, default=5)
    ap.add_argument("--live", type=float, default=0.01, help="share of runs that log between two polls")
    ap.add_argument("--event-points", type=int, default=1_000_000)
    ap.add_argument("--appends", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--tracker-runs", type=int, default=1000)
    ap.add_argument("--grow-bytes", type=float, default=1e9, help="size a growth log reaches (part 2b), bytes")
    ap.add_argument("--grow-steps", type=int, default=10, help="appends (polls) to reach --grow-bytes")
    ap.add_argument("--grow-kinds", default="tb,jsonl,csv", help="growth logs of part 2b: tb,jsonl,csv")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: poll,growth,big,delay,trackers")
    ap.add_argument("--append", action="store_true", help="append to --out instead of replacing it")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown here (replaces the file)")
    a = ap.parse_args(argv)
    skip = set(filter(None, a.skip.split(",")))
    head = ["# Benchmark: `gapwatch watch` and the tracker readers (issue 15)", "",
            f"Command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')} nice -n 10 .venv/bin/python "
            f"bench/bench_watch.py {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
            f"Date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC; commit {_commit()}; machine: "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), "
            f"Python {platform.python_version()}, no GPU.", ""]
    body: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gw-bench-watch-") as td:
        tmp = Path(td)
        if "poll" not in skip:
            body += bench_poll(tmp, [int(x) for x in a.runs.split(",") if x], a.polls, a.live) + [""]
        if "growth" not in skip:
            body += bench_growth(tmp, a.event_points, a.appends) + [""]
        if "big" not in skip:
            body += bench_growth_big(tmp, int(a.grow_bytes), a.grow_steps,
                                     [k for k in a.grow_kinds.split(",") if k]) + [""]
        if "delay" not in skip:
            body += bench_delay(tmp, a.seeds) + [""]
        if "trackers" not in skip:
            body += bench_trackers(tmp, a.tracker_runs) + [""]
    text = "\n".join(head + body)
    if a.out and a.append:
        with open(a.out, "a") as fh:
            fh.write("\n" + text)
    elif a.out:
        a.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
