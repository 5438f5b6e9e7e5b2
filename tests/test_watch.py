"""Tests of ``gapwatch watch``: incremental tailing, agreement with analyze/replay, discovery, events, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gapwatch.analysis import analyze
from gapwatch.errors import UsageError
from gapwatch.readers import load
from gapwatch.readers._tfrecord import frame
from gapwatch.replay import replay_history
from gapwatch.watch import SCHEMA, Watcher, WatchOptions
from gapwatch.watch.core import finding_key
from gapwatch.watch.tail import LineTailer, TensorBoardTailer, WholeTailer

N = 40


def u_rows(n: int = N) -> list[dict[str, float]]:
    """An overfitting run: validation loss bottoms out at epoch 14 and climbs; training loss keeps falling."""
    out = []
    for e in range(1, n + 1):
        val = 0.5 + 1.5 * np.exp(-e / 4) + 0.02 * max(0, e - 14)
        out.append({"epoch": e, "step": 100 * e, "train_loss": round(2.0 * np.exp(-e / 6), 6),
                    "val_loss": round(float(val), 6)})
    return out


def csv_text(rows: list[dict[str, float]], header: bool = True) -> str:
    keys = list(u_rows(1)[0])
    body = "".join(",".join(str(r[k]) for k in keys) + "\n" for r in rows)
    return (",".join(keys) + "\n" if header else "") + body


def tb_record(step: int, tag: str, value: float) -> bytes:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    v = summary_pb2.Summary.Value(tag=tag, simple_value=value)
    ev = event_pb2.Event(wall_time=1.7e9 + step, step=step, summary=summary_pb2.Summary(value=[v]))
    return frame(ev.SerializeToString())


def tb_bytes(rows: list[dict[str, float]]) -> bytes:
    out = b""
    for r in rows:
        out += tb_record(int(r["step"]), "train/loss", r["train_loss"])
        out += tb_record(int(r["step"]), "val/loss", r["val_loss"])
    return out


def tb_header() -> bytes:
    from tensorboard.compat.proto import event_pb2

    return frame(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())


def run_once(path: Path, **kw: Any) -> tuple[list[dict[str, Any]], Watcher]:
    evs: list[dict[str, Any]] = []
    w = Watcher(path, WatchOptions(**kw), emit=evs.append)
    w.run(once=True)
    return evs, w


def series_equal(a: Any, b: Any) -> None:
    """Two Histories hold the same observations (order inside a series kept, blocks may interleave)."""
    key = ["run", "split", "metric", "step", "epoch"]
    fa = a.frame.sort_values(key, kind="stable").reset_index(drop=True)
    fb = b.frame.sort_values(key, kind="stable").reset_index(drop=True)
    assert fa[["run", "split", "metric", "name"]].equals(fb[["run", "split", "metric", "name"]])
    for c in ("step", "epoch", "value"):
        np.testing.assert_array_equal(fa[c].to_numpy(), fb[c].to_numpy())


# ------------------------------------------------------------------------- agreement with analyze / replay
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "tb"])
def test_once_on_finished_log_agrees_with_analyze_and_replay(tmp_path: Path, fmt: str) -> None:
    rows = u_rows()
    if fmt == "csv":
        p = tmp_path / "run.csv"
        p.write_text(csv_text(rows))
    elif fmt == "jsonl":
        p = tmp_path / "run.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        p = tmp_path / "events.out.tfevents.1.host"
        p.write_bytes(tb_header() + tb_bytes(rows))
    evs, w = run_once(p)
    h = load(p)
    want = {finding_key(f) for f in analyze(h).runs[0].findings}
    got = {finding_key_from(e) for e in evs if e["event"] == "finding"}
    assert got == want and "finding:overfitting:overfitting:critical" in got
    rp = replay_history(h)[0].to_dict()
    stops = [e for e in evs if e["event"] == "stop"]
    assert len(stops) == 1
    assert stops[0]["stop"] == rp["stop"] and stops[0]["restore"] == rp["restore"]
    assert stops[0]["evaluations_seen"] == rp["evaluations_seen"]
    assert all(e["schema"] == SCHEMA and e["time"].endswith("Z") for e in evs)
    assert evs[0]["event"] == "run_started" and evs[0]["run"] == p.stem


def finding_key_from(ev: dict[str, Any]) -> str:
    f = ev["finding"]
    key = f"finding:{f['detector']}:{f['kind']}:{f['severity']}"
    if f["kind"] == "data":
        import hashlib

        key += ":" + hashlib.sha1(f["message"].encode()).hexdigest()[:12]
    return key


# ------------------------------------------------------------------------- tailing
def test_csv_tail_reads_only_new_bytes_and_holds_a_half_line(tmp_path: Path) -> None:
    rows = u_rows()
    p = tmp_path / "log.csv"
    full = csv_text(rows)
    cut = full.index("\n", len(full) // 3) + 8  # mid-line
    p.write_text(full[:cut])
    t = LineTailer(p, "log", "csv")
    h1 = t.poll()
    assert h1 is not None
    n1 = len(h1.series("val", "loss"))
    assert 0 < n1 < N
    assert t.poll() is None  # nothing new
    with open(p, "a") as fh:
        fh.write(full[cut:])
    h2 = t.poll()
    assert h2 is not None
    series_equal(h2, load(p))
    assert t.stats.bytes_read == len(full.encode())  # every byte read once


def test_jsonl_tail_holds_half_written_record(tmp_path: Path) -> None:
    rows = u_rows()
    p = tmp_path / "log.jsonl"
    lines = [json.dumps(r) + "\n" for r in rows]
    p.write_text("".join(lines[:10]) + lines[10][:7])  # a record cut mid-write: not an error
    t = LineTailer(p, "log", "jsonl")
    h = t.poll()
    assert h is not None and len(h.series("val", "loss")) == 10
    with open(p, "a") as fh:
        fh.write(lines[10][7:] + "".join(lines[11:]))
    h = t.poll()
    assert h is not None
    series_equal(h, load(p))
    assert t.stats.bytes_read == sum(len(s) for s in lines)


def test_tensorboard_tail_by_offset_with_partial_record(tmp_path: Path) -> None:
    rows = u_rows()
    p = tmp_path / "events.out.tfevents.1.host"
    data = tb_header() + tb_bytes(rows)
    cut = len(data) // 2 + 5  # inside a record
    p.write_bytes(data[:cut])
    t = TensorBoardTailer(p, p.stem)
    h = t.poll()
    assert h is not None
    n1 = len(h.series("val", "loss"))
    with open(p, "ab") as fh:
        fh.write(data[cut:])
    h = t.poll()
    assert h is not None and len(h.series("val", "loss")) == N > n1
    series_equal(h, load(p))
    # the first poll reads the file twice (framing, then the fast decoder); later polls only the new bytes
    assert t.stats.bytes_read == 2 * cut + (len(data) - cut)
    assert t.poll() is None


def test_tensorboard_tail_matches_reader_on_real_summarywriter(tmp_path: Path) -> None:
    tb = pytest.importorskip("torch.utils.tensorboard")
    d = tmp_path / "tbrun"
    w = tb.SummaryWriter(str(d))
    rows = u_rows()
    t = TensorBoardTailer(d, "tbrun")
    for i, r in enumerate(rows):
        w.add_scalar("train/loss", r["train_loss"], int(r["step"]))
        w.add_scalar("val/loss", r["val_loss"], int(r["step"]))
        if i % 10 == 9:
            w.flush()
            assert t.poll() is not None
    w.close()
    t.poll()
    series_equal(t.history(), load(d))


def test_tensorboard_corrupt_new_record_is_an_input_error(tmp_path: Path) -> None:
    from gapwatch.errors import InputError

    p = tmp_path / "events.out.tfevents.1.host"
    p.write_bytes(tb_header() + tb_bytes(u_rows(5)))
    t = TensorBoardTailer(p, "r")
    t.poll()
    with open(p, "ab") as fh:
        fh.write(b"\xff" * 40)
    with pytest.raises(InputError, match="checksum mismatch at byte"):
        t.poll()


def test_trainer_state_rewritten_and_caught_half_written(tmp_path: Path) -> None:
    hist = [{"epoch": float(r["epoch"]), "step": int(r["step"]), "eval_loss": r["val_loss"]}
            for r in u_rows()]
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"log_history": hist[:10], "global_step": 1000}))
    t = WholeTailer(p, "hf", "hf-trainer")
    h = t.poll()
    assert h is not None and len(h.series("val", "loss")) == 10
    full = json.dumps({"log_history": hist, "global_step": 4000})
    p.write_text(full[: len(full) // 2])  # the Trainer's save caught half-way
    assert t.poll() is None  # not an error: read again at the next poll
    p.write_text(full)
    h = t.poll()
    assert h is not None and len(h.series("val", "loss")) == N


# ------------------------------------------------------------------------- discovery, vanishing, follow
def test_new_runs_appear_and_vanished_dir_is_an_error_event(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    (root / "a").mkdir(parents=True)
    (root / "a" / "metrics.csv").write_text(csv_text(u_rows(20)))
    evs: list[dict[str, Any]] = []
    w = Watcher(root, WatchOptions(), emit=evs.append)
    w.poll()
    assert [e["run"] for e in evs if e["event"] == "run_started"] == ["a/metrics"]
    (root / "b").mkdir()
    (root / "b" / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in u_rows()))
    (root / "notes.txt").write_text("not a log\n")
    w.poll()
    assert [e["run"] for e in evs if e["event"] == "run_started"] == ["a/metrics", "b/log"]
    assert any(e["event"] == "stop" and e["run"] == "b/log" for e in evs)
    import shutil

    shutil.rmtree(root / "a")
    n = len(evs)
    w.poll()
    new = evs[n:]
    assert [e["event"] for e in new] == ["error", "run_ended"]
    assert "disappeared" in new[0]["message"] and new[1]["reason"] == "vanished"
    with open(root / "b" / "log.jsonl", "a") as fh:
        fh.write(json.dumps({"epoch": 41, "step": 4100, "train_loss": 0.01, "val_loss": 1.5}) + "\n")
    w.poll()  # the watch goes on with the other run
    assert "b/log" in w.runs and w.runs["b/log"].fed


def test_follow_reports_stop_as_the_log_grows(tmp_path: Path) -> None:
    p = tmp_path / "grow.csv"
    rows = u_rows()
    p.write_text(csv_text(rows[:5]))
    evs: list[dict[str, Any]] = []
    stop = threading.Event()
    w = Watcher(p, WatchOptions(interval=0.05, use_watchdog=False), emit=evs.append)
    th = threading.Thread(target=w.run, kwargs={"stop": stop})
    th.start()
    try:
        for i in range(5, N):
            with open(p, "a") as fh:
                fh.write(csv_text(rows[i:i + 1], header=False))
            time.sleep(0.02)
        deadline = time.time() + 20
        while time.time() < deadline and not any(e["event"] == "stop" for e in evs):
            time.sleep(0.05)
    finally:
        stop.set()
        th.join(10)
    assert not th.is_alive()
    s = [e for e in evs if e["event"] == "stop"]
    assert len(s) == 1 and s[0]["stop"] == replay_history(load(p))[0].to_dict()["stop"]


def test_options_are_validated(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text(csv_text(u_rows(3)))
    for bad in ({"interval": 0}, {"interval": -1.0}, {"idle_end": 0}, {"policy_params": {"max_wait": -3}}):
        with pytest.raises(UsageError):
            Watcher(p, WatchOptions(**bad))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="no such file"):
        Watcher(tmp_path / "missing", WatchOptions())


# ------------------------------------------------------------------------- CLI
def _cli(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    code = ("import sys, gapwatch.cli.watch\nfrom gapwatch.cli import main\n"
            f"sys.exit(main({args!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, **kw)


def test_cli_once_json_and_fail_on(tmp_path: Path) -> None:
    p = tmp_path / "run.csv"
    p.write_text(csv_text(u_rows()))
    r = _cli(["watch", str(p), "--once", "--json"])
    assert r.returncode == 0, r.stderr
    evs = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert {e["event"] for e in evs} == {"run_started", "finding", "stop"}
    assert all(e["schema"] == SCHEMA for e in evs)
    f = next(e["finding"] for e in evs if e["event"] == "finding")
    assert {"kind", "severity", "step", "epoch", "message", "evidence"} <= set(f)
    r = _cli(["watch", str(p), "--once", "--fail-on", "critical"])
    assert r.returncode == 3 and "overfitting" in r.stdout
    r = _cli(["watch", str(p), "--once", "--interval", "0"])
    assert r.returncode == 2 and "--interval" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_ends_cleanly_on_signal(tmp_path: Path, sig: int) -> None:
    p = tmp_path / "run.csv"
    p.write_text(csv_text(u_rows(8)))
    code = ("import sys, gapwatch.cli.watch\nfrom gapwatch.cli import main\n"
            f"sys.exit(main(['watch', {str(p)!r}, '--json', '--interval', '0.2']))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the run_started event: the watch is up
    assert json.loads(first)["event"] == "run_started"
    time.sleep(0.3)
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err


def test_watchdog_events_wake_the_watch_before_the_interval(tmp_path: Path) -> None:
    pytest.importorskip("watchdog")
    root = tmp_path / "runs"
    root.mkdir()
    p = root / "grow.csv"
    rows = u_rows()
    p.write_text(csv_text(rows[:5]))
    evs: list[dict[str, Any]] = []
    stop = threading.Event()
    w = Watcher(root, WatchOptions(interval=600, use_watchdog=True), emit=evs.append)
    th = threading.Thread(target=w.run, kwargs={"stop": stop})
    th.start()
    try:
        time.sleep(1.0)  # the first pass and the observer start
        with open(p, "a") as fh:
            fh.write(csv_text(rows[5:], header=False))
        (root / "new.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))  # a new run
        deadline = time.time() + 30
        while time.time() < deadline and sum(e["event"] == "stop" for e in evs) < 2:
            time.sleep(0.1)
    finally:
        stop.set()
        th.join(10)
    assert not th.is_alive()  # a stop from another thread ends the watch without waiting out the 600 s interval
    assert {e["run"] for e in evs if e["event"] == "stop"} == {"grow", "new"}  # long before the 600 s poll


def test_jsonl_tail_skips_comments_and_watches_the_latest_of_appended_fits(tmp_path: Path) -> None:
    """A JSON Lines log that several fits append to, with ``//`` comments between them: the tailer skips the
    comments and watches the fit being trained now (the epoch went back to its first value), as the reader's
    latest launch decides in ``analyze``."""
    rows = u_rows()
    first = [dict(r, epoch=e) for e, r in enumerate(rows[:6])]
    second = [dict(r, epoch=e) for e, r in enumerate(rows)]
    p = tmp_path / "log.jsonl"
    p.write_text("// fit 1\n" + "".join(json.dumps(r) + "\n" for r in first) + "# fit 2\n"
                 + "".join(json.dumps(r) + "\n" for r in second))
    h = LineTailer(p, "log", "jsonl").poll()
    assert h is not None and len(h.series("val", "loss")) == len(rows)
    runs = load(p)
    assert sorted(runs.runs()) == ["log#1", "log#2"]
    assert np.array_equal(h.series("val", "loss").values, runs.series("val", "loss", run="log#2").values)
