"""Framework-free Guard: decisions = policy replay, history file, state round trip, errors."""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.analysis import analyze
from gapwatch.errors import UsageError
from gapwatch.guard import Guard, MetricNotLoggedError, NonFiniteMetricError
from gapwatch.policy import StopPolicy
from gapwatch.readers import load
from gapwatch.replay import read_guard_log
from gapwatch.replay import replay_guard_log as replay_log


def u_curve(n: int = 60, best: int = 20, noise: float = 0.01, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Validation loss falling to ``best`` then rising; training loss always falling (overfitting)."""
    rng = np.random.default_rng(seed)
    x = np.arange(n, dtype=float)
    val = 1.0 / (1 + 0.3 * x) + 0.004 * np.maximum(0, x - best) ** 1.3 + noise * rng.standard_normal(n)
    train = 1.0 / (1 + 0.5 * x)
    return train, val


def feed(g: Guard, train: np.ndarray, val: np.ndarray, start: int = 0, stop_early: bool = True) -> list:
    out = []
    for i in range(start, len(val)):
        d = g.observe(step=10 * (i + 1), epoch=i + 1, train_loss=float(train[i]), val_loss=float(val[i]))
        out.append(d)
        if d.stop and stop_early:
            break
    return out


def test_stops_on_overfitting_and_writes_readable_history(tmp_path):
    train, val = u_curve()
    log = tmp_path / "run.jsonl"
    g = Guard(log=log, verbose=False)
    ds = feed(g, train, val)
    g.close()
    assert ds[-1].stop and ds[-1].reason
    assert ds[-1].best_index < ds[-1].evaluation
    h = load(log)
    assert len(h.series("val", "loss")) == len(ds)
    res = analyze(h)
    assert res.runs[0].best.epoch == ds[-1].best_epoch
    info = read_guard_log(log)
    assert info["header"]["monitor"] == "val_loss" and info["header"]["mode"] == "min"
    assert [r["evaluation"] for r in info["decisions"]] == [ds[-1].evaluation]


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), best=st.integers(3, 40), noise=st.floats(0.0, 0.05))
def test_live_decisions_equal_policy_replay(tmp_path_factory, seed, best, noise):
    """Every live decision equals a fresh StopPolicy fed the monitored series read back from the file."""
    train, val = u_curve(n=50, best=best, noise=noise, seed=seed)
    log = tmp_path_factory.mktemp("r") / "run.jsonl"
    g = Guard(log=log, verbose=False, detect_every=50, detectors=[])
    ds = feed(g, train, val, stop_early=False)
    g.close()
    s = load(log).series("val", "loss")
    pol = StopPolicy("min", dict(read_guard_log(log)["header"]["policy"]))
    assert len(s) == len(ds)
    for d, v, stp, ep in zip(ds, s.values, s.step, s.epoch, strict=True):
        p = pol.update(float(v), step=float(stp), epoch=float(ep))
        assert (p.action, p.best_index, p.improved) == (d.action, d.best_index, d.improved)
    first, n = replay_log(log)
    live_first = next((d for d in ds if d.stop), None)
    assert (first is None) == (live_first is None)
    if first is not None:
        assert live_first is not None
        assert n == live_first.evaluation + 1 and first.best_index == live_first.best_index


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 45))
def test_state_round_trip_continues_with_identical_decisions(tmp_path_factory, seed, cut):
    train, val = u_curve(n=50, best=15, noise=0.02, seed=seed)
    d = tmp_path_factory.mktemp("s")
    kw = dict(verbose=False, detect_every=7, detect_budget=None, detectors=["overfitting"])
    ref = feed(Guard(log=d / "a.jsonl", **kw), train, val, stop_early=False)
    g1 = Guard(log=d / "b.jsonl", **kw)
    part1 = feed(g1, train[:cut], val[:cut], stop_early=False)
    state = json.loads(json.dumps(g1.state_dict()))  # must be strict JSON
    g1.close()
    g2 = Guard(log=d / "b.jsonl", overwrite=True, **kw)
    g2.load_state_dict(state)
    part2 = feed(g2, train, val, start=cut, stop_early=False)
    g2.close()
    strip = [(x.action, x.best_index, x.improved, x.reason, [f.kind for f in x.findings]) for x in ref]
    assert strip == [
        (x.action, x.best_index, x.improved, x.reason, [f.kind for f in x.findings]) for x in part1 + part2
    ]
    # the resumed file still reads as one run with every evaluation once
    assert len(load(d / "b.jsonl").series("val", "loss")) == len(val)


def test_findings_reported_once_and_logged(tmp_path):
    train, val = u_curve(n=50, best=12, noise=0.003)
    lines: list[str] = []
    log = tmp_path / "f.jsonl"
    g = Guard(
        log=log,
        printer=lines.append,
        detect_every=3,
        detect_budget=None,
        detectors=["overfitting"],
        policy={"max_wait": 200, "z_stop": 1e9},
    )
    ds = feed(g, train, val, stop_early=False)
    g.close()
    kinds = [f.kind for d in ds for f in d.findings]
    assert "overfitting" in kinds
    # reported again only when severity rises (info -> warning -> critical at most)
    assert kinds.count("overfitting") <= 3
    assert any("overfitting" in ln for ln in lines)
    assert any(r["kind"] == "overfitting" for r in read_guard_log(log)["findings"])


def test_missing_metric_lists_what_was_seen():
    g = Guard(monitor="val_loss", verbose=False)
    with pytest.raises(MetricNotLoggedError, match=r"metrics seen: train_loss, val_acc"):
        g.observe(epoch=1, train_loss=1.0, val_acc=0.5)


@pytest.mark.parametrize("name", ["eval_loss", "val/loss", "valid_loss", "validation_loss"])
def test_monitor_matches_normalised_names(name):
    g = Guard(monitor="val_loss", verbose=False)
    assert g.observe(epoch=1, **{name: 0.5}).best_value == 0.5


def test_auto_monitor_prefers_validation_and_refuses_test_only():
    g = Guard(monitor=None, verbose=False)
    g.observe(epoch=1, train_loss=1.0, eval_accuracy=0.5)
    assert g.monitored is not None and (g.monitored.split, g.monitored.metric, g.monitored.mode) == (
        "val",
        "acc",
        "max",
    )
    with pytest.raises(UsageError, match="validation"):
        Guard(monitor=None, verbose=False).observe(epoch=1, test_loss=1.0)


def test_nan_raises_naming_metric_and_is_logged(tmp_path):
    log = tmp_path / "n.jsonl"
    g = Guard(log=log, verbose=False)
    g.observe(epoch=1, val_loss=1.0)
    with pytest.raises(NonFiniteMetricError, match=r"'val_loss' is nan at evaluation 1"):
        g.observe(epoch=2, val_loss=float("nan"))
    g.close()
    assert math.isnan(load(log).series("val", "loss").values[-1])


def test_nan_stop_restores_previous_best():
    g = Guard(verbose=False, on_nan="stop")
    g.observe(epoch=1, val_loss=1.0)
    g.observe(epoch=2, val_loss=0.8)
    d = g.observe(epoch=3, val_loss=float("inf"))
    assert d.stop and d.best_index == 1 and d.policy_action == "continue" and "non-finite" in d.reason


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"detect_every": 0}, "detect_every"),
        ({"on_nan": "explode"}, "on_nan"),
        ({"mode": "up"}, "mode"),
        ({"detect_budget": 0.0}, "detect_budget"),
        ({"detect_budget": 2}, "detect_budget"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, match):
    with pytest.raises(UsageError, match=match):
        Guard(verbose=False, **kwargs)


def test_bad_metric_value_names_key():
    with pytest.raises(UsageError, match="'val_loss'.*'abc'"):
        Guard(verbose=False).observe(epoch=1, val_loss="abc")


def test_never_overwrites_existing_log(tmp_path):
    p = tmp_path / "mine.jsonl"
    p.write_text("precious\n")
    g = Guard(log=p, verbose=False)
    with pytest.raises(UsageError, match="refusing to overwrite"):
        g.check_log()
    with pytest.raises(UsageError, match="refusing to overwrite"):
        g.observe(epoch=1, val_loss=1.0)
    assert p.read_text() == "precious\n"


def test_crashed_run_cut_mid_line_is_still_readable(tmp_path):
    train, val = u_curve(n=12)
    log = tmp_path / "c.jsonl"
    g = Guard(log=log, verbose=False)
    feed(g, train, val, stop_early=False)
    # no close(): every line was flushed; simulate a crash mid-write of the next line
    with open(log, "a") as fh:
        fh.write('{"epoch": 13, "val_lo')
    assert len(load(log).series("val", "loss")) == 12


def test_state_rejects_other_versions():
    g = Guard(verbose=False)
    st_ = g.state_dict()
    with pytest.raises(UsageError, match="version"):
        g.load_state_dict({**st_, "version": 99})
    with pytest.raises(UsageError, match="unexpected keys"):
        g.load_state_dict({**st_, "extra": 1})


def test_detection_budget_postpones_costly_passes():
    """With a tiny budget, a pass is postponed until enough wall time has passed; with None it is fixed."""
    train, val = u_curve(n=30)
    fixed = Guard(
        verbose=False,
        detect_every=2,
        detect_budget=None,
        detectors=["overfitting"],
        policy={"max_wait": 100, "z_stop": 1e9},
    )
    tight = Guard(
        verbose=False,
        detect_every=2,
        detect_budget=1e-9,
        detectors=["overfitting"],
        policy={"max_wait": 100, "z_stop": 1e9},
    )
    feed(fixed, train, val, stop_early=False)
    feed(tight, train, val, stop_early=False)
    assert fixed._since_detect == 0 and tight._since_detect > 2  # the budget held the pass back


# ---------------------------------------------------------------------------------------------- events
def test_guard_emits_typed_events_and_prints_nothing_itself(capsys):
    from gapwatch.guard import DecisionEvent, FindingEvent, StopEvent, StopReason

    events: list = []
    train, val = u_curve(80)
    g = Guard(on_event=events.append, detect_budget=None, detectors=["overfitting"])  # verbose=True default
    ds = feed(g, train, val)
    g.close()
    assert capsys.readouterr().err == ""  # on_event given: the default printer is not used
    decisions = [e.decision for e in events if isinstance(e, DecisionEvent)]
    assert decisions == ds  # one DecisionEvent per evaluation, the same objects observe returned
    stops = [e for e in events if isinstance(e, StopEvent)]
    assert len(stops) == 1 and stops[0].evaluation == ds[-1].evaluation
    assert stops[0].reason is ds[-1].stop_reason and stops[0].reason is not StopReason.OTHER
    assert stops[0].message == ds[-1].reason and stops[0].metric == "val_loss"
    assert stops[0].best_index == ds[-1].best_index
    assert [e.finding for e in events if isinstance(e, FindingEvent)] == g.findings


def test_stop_reasons_are_an_enum_beside_the_message():
    from gapwatch.guard import StopReason, stop_reason_of

    train, val = u_curve(80)
    g = Guard(verbose=False, detectors=[])
    d = feed(g, train, val)[-1]
    assert d.stop and d.stop_reason is StopReason.DEGRADATION and "noise s.e." in d.reason
    # a flat, noisy curve never degrades significantly: the patience cap stops it
    rng = np.random.default_rng(1)
    g = Guard(verbose=False, detectors=[], policy={"max_wait": 12, "z_stop": 1e6})
    flat = [g.observe(epoch=i, val_loss=1.0 + 0.01 * rng.standard_normal()) for i in range(200)]
    last = next(d for d in flat if d.stop)
    assert last.stop_reason is StopReason.NO_IMPROVEMENT and "(max_wait)" in last.reason
    # after the stop every decision keeps the first stop's reason (the policy says "stopped earlier")
    assert flat[-1].stop and flat[-1].stop_reason is StopReason.NO_IMPROVEMENT
    g = Guard(verbose=False, on_nan="stop", detectors=[])
    g.observe(epoch=1, val_loss=1.0)
    assert g.observe(epoch=2, val_loss=float("nan")).stop_reason is StopReason.NON_FINITE
    assert stop_reason_of("the held-out metric became non-finite after its best") is (
        StopReason.NON_FINITE_AFTER_BEST)
    assert stop_reason_of("no new best for 6 evaluations and the forecast puts P(best already behind) at 0.97 "
                          "(confirm_p_best_behind)") is StopReason.FORECAST
    assert stop_reason_of("something new") is StopReason.OTHER
    assert Guard(verbose=False).observe(epoch=1, val_loss=1.0).stop_reason is None


def test_stop_reason_survives_state_and_is_written_to_the_log(tmp_path):
    from gapwatch.guard import StopReason

    log = tmp_path / "h.jsonl"
    train, val = u_curve(80)
    g = Guard(log=log, verbose=False, detectors=[])
    ds = feed(g, train, val)
    g.close()
    g2 = Guard(verbose=False)
    g2.load_state_dict(json.loads(json.dumps(g.state_dict())))
    assert g2.decisions == ds and g2.decisions[-1].stop_reason is StopReason.DEGRADATION
    assert read_guard_log(log)["decisions"][0]["stop_reason"] == "degradation"
    # a state written before stop_reason existed gets it from the message
    st = g.state_dict()
    for d in st["decisions"]:
        d.pop("stop_reason")
    g3 = Guard(verbose=False)
    g3.load_state_dict(st)
    assert g3.decisions == ds


def test_default_printer_escapes_markup_and_control_characters():
    lines: list[str] = []
    g = Guard(monitor="val_loss[/]", printer=lines.append, detectors=[], on_nan="stop")
    g.observe(epoch=1, **{"val_loss[/]": 1.0})
    g.observe(epoch=2, **{"val_loss[/]": float("nan")})
    assert len(lines) == 1
    from rich.console import Console

    con = Console(width=400, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    con.print(lines[0])  # valid markup (an unescaped "[/]" would raise MarkupError)
    text = con.export_text()
    assert "val_loss[/]" in text and "stop at evaluation 1" in text
    from gapwatch.findings import Finding, Severity
    from gapwatch.guard import FindingEvent
    from gapwatch.report.terminal import format_guard_event

    f = Finding(kind="overfitting", severity=Severity.WARNING, message="gap on [top1]\x1b[31m", detector="x")
    out = format_guard_event(FindingEvent(f, 3))
    assert out is not None and "\\[top1]" in out and "\x1b" not in out


# ---------------------------------------------------------------------------------------------- parameters
def test_guard_parameter_specs_match_the_signature_and_reject_bad_values():
    import dataclasses
    import inspect

    from gapwatch.guard import SPECS

    fields = {f.name: f.default for f in dataclasses.fields(Guard) if f.init}
    assert [p.name for p in SPECS] == list(fields)
    assert {p.name: p.default for p in SPECS} == fields
    assert list(inspect.signature(Guard).parameters) == list(fields)
    bad = {"monitor": 3, "mode": "up", "policy": [1], "log": 5, "overwrite": "yes", "detect_every": 1.5,
           "detect_budget": 0.0, "detectors": "overfitting", "detector_params": [], "on_nan": "explode",
           "verbose": 1, "printer": "stderr", "run": None, "on_event": 7}
    assert set(bad) == set(fields)
    for name, value in bad.items():
        with pytest.raises(UsageError, match=re.escape(f"Guard: {name} must be ")) as err:
            Guard(**{name: value})
        assert str(err.value).endswith(f"({name}={value!r})")


# ---------------------------------------------------------------------------------------------- files
def test_guard_log_refuses_a_planted_symlink(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "h.jsonl"
    link.symlink_to(target)
    g = Guard(log=link, overwrite=True, verbose=False)
    with pytest.raises(UsageError, match="symbolic link"):
        g.observe(epoch=1, val_loss=1.0)
    assert target.read_text() == "keep me"


def test_atomic_writer_mode_symlink_directory_and_failure(tmp_path):
    import stat

    from gapwatch.io import FILE_MODE, atomic_write, atomic_write_text, remove_stale_temps

    umask = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "r.html", "x")
        assert stat.S_IMODE(p.stat().st_mode) == FILE_MODE & ~0o022 == 0o644
        os.umask(0o077)
        q = atomic_write_text(tmp_path / "private.html", "x")
        assert stat.S_IMODE(q.stat().st_mode) == 0o600  # the umask is honoured ...
        assert os.umask(0o077) == 0o077  # ... and never changed
    finally:
        os.umask(umask)
    target = tmp_path / "target"
    target.write_text("keep")
    (tmp_path / "link.html").symlink_to(target)
    with pytest.raises(UsageError, match="symbolic link"):
        atomic_write_text(tmp_path / "link.html", "evil", overwrite=True)
    assert target.read_text() == "keep"
    (tmp_path / "d").mkdir()
    with pytest.raises(UsageError, match="a directory"):
        atomic_write_text(tmp_path / "d", "x", overwrite=True)
    with pytest.raises(UsageError, match="cannot write"):
        atomic_write_text(tmp_path / "r.html" / "sub.html", "x")  # parent is a file

    def boom(fh):
        fh.write(b"half")
        raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "r.html", boom, overwrite=True)
    assert p.read_text() == "x"  # the previous file is intact ...
    assert not list(tmp_path.glob(".r.html.*.tmp"))  # ... and no temporary file is left
    stale = tmp_path / ".r.html.0123abcd.tmp"
    stale.write_bytes(b"left by a SIGKILL")
    other = tmp_path / ".r.html.notmine.tmp"
    other.write_bytes(b"")
    assert remove_stale_temps(tmp_path / "r.html") == [stale]
    assert other.exists()


def test_docs_parameter_tables_are_generated_from_the_specs():
    from pathlib import Path

    import gapwatch.integrations
    import gapwatch.keeper  # noqa: F401  (registers the keeper's specs)
    from gapwatch.params import markdown_table

    doc = (Path(__file__).parents[1] / "docs" / "guard.md").read_text(encoding="utf-8")
    for owner in ("guard", "keeper", "adapter"):
        assert markdown_table(owner) in doc, f"docs/guard.md: regenerate the {owner} table"
    assert gapwatch.integrations.SPECS


def test_resume_cuts_a_torn_last_line_before_appending(tmp_path):
    log = tmp_path / "h.jsonl"
    train, val = u_curve(40)
    g = Guard(log=log, verbose=False, detectors=[])
    feed(g, train[:10], val[:10], stop_early=False)
    state = g.state_dict()
    g.close()
    with open(log, "a", encoding="utf-8") as fh:
        fh.write('{"step": 110, "epoch": 11, "val_lo')  # the process died mid-line
    g2 = Guard(log=log, verbose=False, detectors=[])
    g2.load_state_dict(state)
    feed(g2, train, val, start=10, stop_early=False)
    g2.close()
    text = log.read_text(encoding="utf-8")
    assert text.endswith("\n") and "val_lo" not in text.replace("val_loss", "")
    assert all(isinstance(json.loads(line), dict) for line in text.splitlines())  # every line whole JSON
    h = load(log)  # readable again: no line glued onto the torn one
    assert len(h.series("val", "loss")) == 40
    # a file whose only line is torn loses it and starts again with a header
    log2 = tmp_path / "h2.jsonl"
    log2.write_text('{"gapwatch": "guard/1", "ru')
    g3 = Guard(log=log2, verbose=False, detectors=[])
    g3.load_state_dict(Guard(verbose=False).state_dict())
    g3.observe(epoch=1, val_loss=1.0)
    g3.close()
    assert read_guard_log(log2)["header"] is not None


def test_atomic_file_for_streaming_writers(tmp_path):
    import stat

    from gapwatch.io import AtomicFile

    dest = tmp_path / "t.parquet"
    old = os.umask(0o022)
    try:
        af = AtomicFile(dest)
    finally:
        os.umask(old)
    with open(af.temp_path, "ab") as fh:  # another library writes the file in pieces
        fh.write(b"part 1,")
        fh.write(b"part 2")
    assert not dest.exists()  # nothing at the destination before commit
    assert af.commit() == dest and dest.read_bytes() == b"part 1,part 2"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644
    with pytest.raises(UsageError, match="already exists"):
        AtomicFile(dest)
    af2 = AtomicFile(dest, overwrite=True)
    af2.abort()
    assert not af2.temp_path.exists() and dest.read_bytes() == b"part 1,part 2"
    af3 = AtomicFile(tmp_path / "u.parquet")
    (tmp_path / "u.parquet").symlink_to(dest)  # planted while writing
    with pytest.raises(UsageError, match="symbolic link"):
        af3.commit()
    assert not af3.temp_path.exists() and dest.read_bytes() == b"part 1,part 2"


def test_monitor_decided_after_the_header_is_recorded_for_replay(tmp_path) -> None:
    """Guard(monitor=None) writes its header before the first evaluation when training metrics come first; the
    series it then decides on (the task metric, issue 13) is recorded, so replay and the reader agree with it."""
    log = tmp_path / "h.jsonl"
    g = Guard(log=log, printer=lambda _line: None)
    g.log_metrics(step=1, train_loss=2.0)
    accs = [0.5, 0.7, 0.8, 0.82, 0.81, 0.8, 0.78, 0.75, 0.7, 0.68, 0.65, 0.6, 0.55, 0.5]
    for i, a in enumerate(accs):
        d = g.observe(step=10 * (i + 1), epoch=i + 1, val_loss=1.0 - a / 2 + 0.01 * i, val_acc=a)
        if d.stop:
            break
    g.close()
    assert g.monitored is not None and g.monitored.metric == "acc" and g.monitored.mode == "max"
    assert read_guard_log(log)["header"]["monitor"] == "val_acc"
    first, n = replay_log(log)
    assert n == g.evaluations and (first is not None) == g.stopped
    h = load(log)
    assert h.meta[h.name]["monitor"] == "val_acc"
