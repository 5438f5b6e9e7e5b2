"""The ``gapwatch.watch/1`` event schema (``schemas/watch.schema.json``): every event a real watch prints
validates, and events that break it are rejected with the place named."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gapwatch.documents import WATCH, SchemaError, load_schema, validate
from gapwatch.readers._tfrecord import frame
from gapwatch.watch import SCHEMA, CommandSink, Watcher, WatchOptions
from gapwatch.watch.events import EVENTS

jsonschema = pytest.importorskip("jsonschema")


def _u(e: int, k: int = 0) -> tuple[float, float]:
    """Training loss falls; validation loss bottoms out near epoch 14 + k and climbs (an overfitting run)."""
    val = 0.5 + 1.5 * np.exp(-e / 4) + 0.02 * max(0, e - 14 - k)
    return round(float(2.0 * np.exp(-e / 6)), 6), round(float(val), 6)


def _tb(path: Path, epochs: int) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    recs = []
    for e in range(1, epochs + 1):
        tr, va = _u(e, 3)
        for tag, v in (("train/loss", tr), ("val/loss", va)):
            ev = event_pb2.Event(wall_time=1.7e9 + e, step=e, summary=summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag=tag, simple_value=v)]))
            recs.append(frame(ev.SerializeToString()))
    path.write_bytes(b"".join(recs))


def _sweep(root: Path) -> Path:
    """A directory of runs in four formats: an overfitting CSV, a JSON Lines log, a TensorBoard run, a short
    run (a data note), and a JSON Lines log broken on line 3 (an error event)."""
    root.mkdir()
    (root / "a").mkdir()
    (root / "a" / "log.csv").write_text("epoch,train_loss,val_loss\n" + "".join(
        f"{e},{tr},{va}\n" for e in range(1, 41) for tr, va in [_u(e)]))
    (root / "b.jsonl").write_text("".join(
        json.dumps({"epoch": e, "step": 10 * e, "train_loss": tr, "val_loss": va}) + "\n"
        for e in range(1, 41) for tr, va in [_u(e, 5)]))
    tb = root / "tb_run"
    tb.mkdir()
    _tb(tb / "events.out.tfevents.1.host", 40)
    (root / "short.csv").write_text("epoch,train_loss,val_loss\n1,1.0,1.1\n")
    (root / "broken.jsonl").write_text('{"epoch": 1, "val_loss": 1.0}\n{"epoch": 2, "val_loss": 0.9}\n{oops\n')
    return root


def _cli_events(path: Path) -> list[dict[str, Any]]:
    code = "import sys\nfrom gapwatch.cli import main\nsys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "watch", str(path), "--once", "--json"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_watch_schema_is_published_and_refers_to_the_analysis_finding() -> None:
    sch = load_schema(WATCH)
    jsonschema.Draft202012Validator.check_schema(sch)
    assert SCHEMA == WATCH and sch["properties"]["schema"] == {"const": WATCH}
    assert sch["properties"]["event"]["enum"] == list(EVENTS)
    found = next(c["then"]["properties"]["finding"] for c in sch["allOf"]
                 if c["if"]["properties"]["event"]["const"] == "finding")
    assert found == {"$ref": "analysis.schema.json#/$defs/finding"}


@pytest.mark.slow
def test_every_event_of_a_real_watch_once_json_validates(tmp_path: Path) -> None:
    evs = _cli_events(_sweep(tmp_path / "runs"))
    kinds = {e["event"] for e in evs}
    assert {"run_started", "finding", "stop", "error"} <= kinds, kinds
    assert {e["run"] for e in evs if e["event"] == "stop"} >= {"a/log", "b", "tb_run"}
    assert any(e["event"] == "error" and e["run"] == "broken" for e in evs)
    for ev in evs:
        validate(ev)


def test_run_ended_and_alert_events_validate(tmp_path: Path) -> None:
    """The events a one-pass CLI run cannot show: a run that vanishes (error + run_ended), a run idle past
    ``idle_end``, and the alert copies the sinks receive (with ``alert_key``)."""
    root = _sweep(tmp_path / "runs")
    evs: list[dict[str, Any]] = []
    w = Watcher(root, WatchOptions(use_watchdog=False, idle_end=1e-9), emit=evs.append)
    w.poll()
    shutil.rmtree(root / "tb_run")
    w.poll()
    w.poll()
    assert {"vanished", "idle"} <= {e.get("reason") for e in evs if e["event"] == "run_ended"}
    got = tmp_path / "alerts.jsonl"
    sink = CommandSink(f"cat >> {got}")
    Watcher(root, WatchOptions(use_watchdog=False), sinks=[sink]).run(once=True)
    alerts = [json.loads(line) for line in got.read_text().splitlines()]
    assert alerts and all("alert_key" in e for e in alerts)
    assert {e["event"] for e in alerts} >= {"finding", "stop"}
    for ev in evs + alerts:
        validate(ev)


def _good() -> dict[str, dict[str, Any]]:
    t = "2026-12-06T06:10:00Z"
    fin = {"kind": "overfitting", "severity": "critical", "step": 1400, "epoch": 14.0, "message": "m",
           "evidence": {}, "actions": [], "references": [], "detector": "overfitting"}
    base = {"schema": WATCH, "time": t, "run": "r"}
    return {
        "run_started": {**base, "event": "run_started", "source": "/x/r.csv", "format": "csv"},
        "finding": {**base, "event": "finding", "finding": fin},
        "stop": {**base, "event": "stop", "monitor": {"split": "val", "metric": "loss", "mode": "min"},
                 "stop": {"step": 20, "epoch": None}, "restore": None, "restore_value": None, "reason": "r",
                 "evaluations_seen": 20},
        "run_ended": {**base, "event": "run_ended", "reason": "idle"},
        "error": {**base, "event": "error", "run": None, "message": "x.csv: gone"},
    }


@pytest.mark.parametrize("kind", EVENTS)
def test_handwritten_events_of_every_kind_validate(kind: str) -> None:
    validate(_good()[kind])


BROKEN: list[tuple[str, str, Any, str]] = [
    ("finding", "event", "alert", r"\$\['event'\]"),
    ("finding", "time", "yesterday", r"\$\['time'\]"),
    ("finding", "run", 3, r"\$\['run'\]"),
    ("finding", "finding.severity", "fatal", r"\$\['finding'\]\['severity'\]"),
    ("finding", "finding.kind", None, r"\$\['finding'\]\['kind'\]"),
    ("finding", "finding", None, r"\$\['finding'\]"),
    ("stop", "monitor.mode", "lowest", r"\$\['monitor'\]\['mode'\]"),
    ("stop", "evaluations_seen", 0, r"\$\['evaluations_seen'\]"),
    ("stop", "stop.step", "20", r"\$\['stop'\]\['step'\]"),
    ("run_ended", "reason", "bored", r"\$\['reason'\]"),
    ("error", "message", "two\nlines", r"\$\['message'\]"),
    ("run_started", "format", 1, r"\$\['format'\]"),
]


@pytest.mark.parametrize(("kind", "path", "value", "where"), BROKEN)
def test_invalid_events_are_rejected_naming_the_place(kind: str, path: str, value: Any, where: str) -> None:
    ev = copy.deepcopy(_good()[kind])
    *head, last = path.split(".")
    d = ev
    for k in head:
        d = d[k]
    d[last] = value
    with pytest.raises(SchemaError, match=where):
        validate(ev)


@pytest.mark.parametrize("kind", EVENTS)
def test_an_event_without_its_required_keys_is_rejected(kind: str) -> None:
    ev = _good()[kind]
    extra = [k for k in ev if k not in ("schema", "event", "run", "time")]
    for k in extra + ["time"]:
        bad = {a: b for a, b in ev.items() if a != k}
        with pytest.raises(SchemaError, match=f"'{k}' is a required property"):
            validate(bad)
