"""Schedule series (learning rates) kept by the readers, schedule events, and loss spikes they explain
(issue 12, class 3: "a deliberate schedule change … is called instability")."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import gapwatch
from gapwatch import schedule
from gapwatch.analysis import Analysis, analyze
from gapwatch.errors import UsageError
from gapwatch.findings import Finding, FindingKind, Severity
from gapwatch.schedule import ScheduleSeries, learning_rate_events

# ------------------------------------------------------------------------------------------ events, known answers


def _lr(values: list[float] | np.ndarray) -> ScheduleSeries:
    v = np.asarray(values, dtype=float)
    return ScheduleSeries("learning_rate", np.arange(v.size, dtype=float) * 10, np.full(v.size, np.nan), v)


def _kinds(values: list[float] | np.ndarray) -> list[tuple[str, float]]:
    return [(e.kind, e.step) for e in learning_rate_events(_lr(values))]


@pytest.mark.parametrize(("name", "values", "want"), [
    ("constant", [1e-3] * 20, []),
    ("linear warm-up then linear decay (HF default)",
     list(np.linspace(0, 5e-5, 6)) + list(np.linspace(5e-5, 0, 30)), []),
    ("cosine to zero", list(5e-4 * 0.5 * (1 + np.cos(np.linspace(0, math.pi, 40)))), []),
    ("MultiStepLR x0.1 at 10 and 20", [0.1] * 10 + [0.01] * 10 + [0.001] * 10, [("drop", 100.0), ("drop", 200.0)]),
    ("ReduceLROnPlateau halvings", [1e-3] * 8 + [5e-4] * 6 + [2.5e-4] * 6, [("drop", 80.0), ("drop", 140.0)]),
    ("SGDR: two restarts",
     list(np.tile(1e-3 * 0.5 * (1 + np.cos(np.linspace(0, math.pi * 0.95, 10))), 3)),
     [("rewarm", 100.0), ("rewarm", 200.0)]),
    ("re-warm of continual pre-training", [3e-4] * 5 + list(np.linspace(3e-4, 3e-5, 15)) + [1e-4, 3e-4, 3e-4, 2e-4],
     [("rewarm", 200.0)]),
    ("a small bump is no re-warm", [1e-3] * 5 + [8e-4] * 5 + [9e-4] * 5, []),
])
def test_learning_rate_events_table(name: str, values: list[float], want: list[tuple[str, float]]) -> None:
    assert _kinds(values) == want, name


def test_event_ratios_are_validated() -> None:
    h = gapwatch.History({"run": "r", "split": "train", "metric": "loss", "value": [1.0, 0.5, 0.4]})
    with pytest.raises(UsageError, match="rewarm_ratio"):
        schedule.events(h, rewarm_ratio=1.0)


def test_non_learning_rate_schedules_make_no_events() -> None:
    s = ScheduleSeries("momentum", np.arange(4.0), np.full(4, np.nan), np.array([0.9, 0.1, 0.9, 0.1]))
    assert not s.is_learning_rate
    assert schedule.is_learning_rate("lr/pg0") and schedule.is_learning_rate("lr-AdamW")
    assert schedule.is_learning_rate("train/learning_rate") and schedule.is_learning_rate("x/lr0")
    assert not schedule.is_learning_rate("val_loss") and not schedule.is_learning_rate("clr_score")


# ------------------------------------------------------------------------------------- readers keep the series


def _trainer_state(path: Path, lr: np.ndarray, loss: np.ndarray, eval_every: int = 10) -> Path:
    """A Hugging Face ``trainer_state.json`` as the Trainer writes it (logging every 10 steps)."""
    hist: list[dict[str, float]] = []
    for i, (a, b) in enumerate(zip(lr, loss, strict=True)):
        step = (i + 1) * 10
        hist.append({"epoch": round(step / 200, 4), "grad_norm": 1.0, "learning_rate": float(a), "loss": float(b),
                     "step": step})
        if (i + 1) % eval_every == 0:
            hist.append({"epoch": round(step / 200, 4), "eval_loss": float(b) + 0.1, "eval_runtime": 1.2,
                         "eval_samples_per_second": 80.0, "eval_steps_per_second": 10.0, "step": step})
    state = {"best_metric": None, "epoch": len(lr) * 10 / 200, "global_step": len(lr) * 10, "log_history": hist,
             "logging_steps": 10, "max_steps": len(lr) * 10, "num_train_epochs": 5, "train_batch_size": 8}
    f = path / "trainer_state.json"
    f.write_text(json.dumps(state, indent=2))
    return f


def _spiky_loss(n: int = 100, at: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    loss = 2.0 * np.exp(-np.arange(n) / 25) + 0.3 + rng.normal(0, 0.004, n)
    loss[at] += 0.9
    loss[at + 1] += 0.3
    return loss


def _restart_lr(n: int = 100, at: int = 60) -> np.ndarray:
    """Cosine with one hard restart at evaluation ``at`` (SGDR)."""
    a = 5e-5 * 0.5 * (1 + np.cos(np.linspace(0, math.pi * 0.97, at)))
    b = 5e-5 * 0.5 * (1 + np.cos(np.linspace(0, math.pi * 0.97, n - at)))
    return np.concatenate([a, b])


def _spikes(result: Analysis) -> list[Finding]:
    return [f for f in result.runs[0].findings
            if f.kind is FindingKind.INSTABILITY and f.evidence.get("type") == "spikes"]


def test_hf_learning_rate_is_kept_and_never_judged(tmp_path: Path) -> None:
    f = _trainer_state(tmp_path, _restart_lr(), _spiky_loss())
    h = gapwatch.load(f)
    assert "learning_rate" not in h.names()
    [s] = schedule.series_of(h)
    assert s.name == "learning_rate" and len(s.values) == 100 and s.step[0] == 10
    [e] = schedule.events(h)
    assert (e.kind, e.step) == ("rewarm", 610.0)
    assert e.to_dict()["before"] < e.to_dict()["after"]


def test_spike_after_a_rewarm_is_the_schedule_not_instability(tmp_path: Path) -> None:
    a, b = tmp_path / "rewarm", tmp_path / "constant"
    a.mkdir()
    b.mkdir()
    one = {"instability": {"warn_min_spikes": 1}}  # (one spike is a warning here: the schedule is under test)
    warm = _spikes(analyze(gapwatch.load(_trainer_state(a, _restart_lr(), _spiky_loss())), params=one))
    flat = _spikes(analyze(gapwatch.load(_trainer_state(b, np.full(100, 5e-5), _spiky_loss())), params=one))
    # the same spike with a constant learning rate is a warning ...
    assert [f.severity for f in flat] == [Severity.WARNING]
    assert flat[0].evidence["explained_by_schedule"] == 0
    # ... right after a re-warm it is named, as info, with the event
    [f] = warm
    assert f.severity is Severity.INFO
    assert "re-warm at step 610" in f.message and "not an instability" in f.message
    assert f.evidence["explained_by_schedule"] == 1 and f.evidence["count"] == 0
    assert f.evidence["schedule_events"][0]["kind"] == "rewarm"


def test_spike_far_from_the_rewarm_stays_a_warning(tmp_path: Path) -> None:
    f = _trainer_state(tmp_path, _restart_lr(at=30), _spiky_loss(at=75))
    [found] = _spikes(analyze(gapwatch.load(f), params={"instability": {"warn_min_spikes": 1}}))
    assert found.severity is Severity.WARNING
    assert "re-warm" not in found.message
    # with the default, one transient spike that undid little of the progress is info
    [default] = _spikes(analyze(gapwatch.load(f)))
    assert default.severity is Severity.INFO and "transient" in default.message


def test_schedule_window_is_a_parameter(tmp_path: Path) -> None:
    f = _trainer_state(tmp_path, _restart_lr(at=60), _spiky_loss(at=63))
    h = gapwatch.load(f)
    near = _spikes(analyze(h, params={"instability": {"warn_min_spikes": 1}}))
    far = _spikes(analyze(h, params={"instability": {"schedule_window": 2, "warn_min_spikes": 1}}))
    assert [x.severity for x in near] == [Severity.INFO]
    assert [x.severity for x in far] == [Severity.WARNING]


def test_lightning_keras_jsonl_text_tensorboard_keep_learning_rates(tmp_path: Path) -> None:
    lit = tmp_path / "metrics.csv"
    lit.write_text("epoch,lr-AdamW,step,train_loss,val_loss\n"
                   + "".join(f"{e},{0.01 if e < 3 else 0.001},{e * 10 + 9},{1 / (e + 1)},\n"
                             f"{e},,{e * 10 + 9},,{1.1 / (e + 1)}\n" for e in range(6)))
    (tmp_path / "hparams.yaml").write_text("lr: 0.01\n")
    keras = tmp_path / "k" / "training.log"
    keras.parent.mkdir()
    keras.write_text("epoch,accuracy,loss,lr,val_accuracy,val_loss\n"
                     + "".join(f"{e},{0.5 + e / 20},{1 / (e + 1)},{0.001 if e < 4 else 0.0001},{0.5 + e / 25},"
                               f"{1.2 / (e + 1)}\n" for e in range(8)))
    jl = tmp_path / "log.jsonl"
    jl.write_text("".join(json.dumps({"epoch": e, "lr": 0.1 * 0.5 ** (e // 3), "train_loss": 1 / (e + 1),
                                      "val_loss": 1.1 / (e + 1)}) + "\n" for e in range(9)))
    txt = tmp_path / "train.txt"
    txt.write_text("".join(f"Epoch {e}: lr=0.0{e % 3 + 1} train_loss={1 / e:.3f} val_loss={1.1 / e:.3f}\n"
                           for e in range(1, 8)))
    got = {}
    for path in (lit, keras, jl, txt):
        h = gapwatch.load(path)
        got[path.name] = [(s.name, s.values.tolist()) for s in schedule.series_of(h)]
        assert all("lr" not in n for n in h.names()), path
    assert got["metrics.csv"] == [("lr-AdamW", [0.01] * 3 + [0.001] * 3)]
    assert [e.kind for e in schedule.events(gapwatch.load(lit))] == ["drop"]
    assert got["training.log"][0][0] == "lr" and [e.epoch for e in schedule.events(gapwatch.load(keras))] == [5.0]
    assert got["log.jsonl"][0] == ("lr", [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])
    assert got["train.txt"][0][0] == "lr" and len(got["train.txt"][0][1]) == 7


def test_tensorboard_keeps_learning_rate(tmp_path: Path) -> None:
    SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter

    w = SummaryWriter(str(tmp_path / "run"))  # the tags HF's TensorBoardCallback writes
    for s in range(1, 30):
        w.add_scalar("train/loss", 1 / s, s)
        w.add_scalar("train/learning_rate", 1e-3 if s < 20 else 1e-4, s)
        if s % 5 == 0:
            w.add_scalar("eval/loss", 1.2 / s, s)
    w.close()
    h = gapwatch.load(tmp_path / "run")
    [s] = schedule.series_of(h)
    assert s.name == "train/learning_rate" and s.step[0] == 1 and len(s.values) == 29
    assert [(e.kind, e.step) for e in schedule.events(h)] == [("drop", 20.0)]


def test_ultralytics_close_mosaic_from_args_yaml(tmp_path: Path) -> None:
    head = ("                  epoch,         train/box_loss,         train/cls_loss,   metrics/mAP50(B),"
            "           val/box_loss,                 lr/pg0\n")
    rows = "".join(f"{e:>23},{1.5 - e * 0.02:>23.5f},{2.0 - e * 0.03:>23.5f},{0.3 + e * 0.01:>23.5f},"
                   f"{1.6 - e * 0.015:>23.5f},{0.01 * (1 - e / 40):>23.6f}\n" for e in range(1, 31))
    (tmp_path / "results.csv").write_text(head + rows)
    (tmp_path / "args.yaml").write_text("task: detect\nmode: train\nepochs: 30\nclose_mosaic: 10\nlr0: 0.01\n")
    h = gapwatch.load(tmp_path / "results.csv")
    assert h.meta[h.name]["hparams"]["lr0"] == 0.01
    [e] = schedule.events(h)
    assert (e.kind, e.name, e.epoch) == ("augmentation", "close_mosaic", 21.0)
    assert [s.name for s in schedule.series_of(h)] == ["lr/pg0"]


def test_damaged_args_yaml_is_a_note(tmp_path: Path) -> None:
    (tmp_path / "results.csv").write_text("epoch,train/box_loss,val/box_loss\n1,1.0,1.1\n2,0.9,1.0\n3,0.8,0.95\n")
    (tmp_path / "args.yaml").write_text("epochs: [unclosed\n")
    h = gapwatch.load(tmp_path / "results.csv")
    assert any("args.yaml" in n.message for n in h.notes)
    assert schedule.events(h) == []


def test_analysis_document_lists_schedule_events_and_names(tmp_path: Path) -> None:
    from gapwatch.documents import clean, validate
    from gapwatch.summary import summarize_run

    h = gapwatch.load(_trainer_state(tmp_path, _restart_lr(), _spiky_loss()))
    a = analyze(h)
    doc = a.to_dict()
    run = doc["runs"][0]
    assert run["schedule_events"] == [schedule.events(h)[0].to_dict()]
    assert {"name": "learning_rate", "role": "schedule", "split": None, "metric": None, "mode": None} in run["series"]
    validate(clean(doc))
    # a schedule series is evidence, never a hyperparameter of the run
    assert not [k for k in summarize_run(a.runs[0]).meta if k.startswith("schedule")]


def test_no_schedule_events_key_without_events(tmp_path: Path) -> None:
    h = gapwatch.load(_trainer_state(tmp_path, np.full(100, 5e-5), _spiky_loss()))
    assert "schedule_events" not in analyze(h).to_dict()["runs"][0]


def test_html_report_marks_schedule_events(tmp_path: Path) -> None:
    from gapwatch.report.html import render_html

    html = render_html(analyze(gapwatch.load(_trainer_state(tmp_path, _restart_lr(), _spiky_loss()))))
    assert 'class="schedline"' in html
    assert "LR re-warm at epoch 3.05 (learning_rate: 1.11e-07 → 5e-05)" in html
    assert "schedule change" in html  # the legend


def _results_csv(tmp_path: Path, columns: tuple[str, ...], epochs: range) -> Path:
    """A space-padded results.csv with the given columns (loss-like falling, metric-like rising)."""
    rows = []
    for e in epochs:
        cells = [f"{e:>23}"] + [f"{(0.3 + e * 0.01 if c.startswith('metrics/') else 1.5 - e * 0.02):>23.5f}"
                                for c in columns[1:]]
        rows.append(",".join(cells) + "\n")
    p = tmp_path / "results.csv"
    p.write_text(",".join(f"{c:>23}" for c in columns) + "\n" + "".join(rows))
    return p


@pytest.mark.parametrize(("first", "switch"), [(1, 21.0), (0, 20.0)])
def test_ultralytics_without_args_yaml_assumes_the_default_close_mosaic(tmp_path: Path, first: int,
                                                                       switch: float) -> None:
    """Most committed run folders keep results.csv without args.yaml: the run is read as finished at its last
    logged epoch, with Ultralytics' default close_mosaic 10 — epochs 1..30 switch at 21, older 0..29 at 20."""
    cols = ("epoch", "train/box_loss", "train/cls_loss", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "val/box_loss")
    h = gapwatch.load(_results_csv(tmp_path, cols, range(first, first + 30)))
    assert h.meta[h.name]["ultralytics"]["assumed"] is True
    [e] = schedule.events(h)
    assert (e.kind, e.name, e.epoch) == ("augmentation", "close_mosaic (default)", switch)


@pytest.mark.parametrize("cols", [
    # YOLOv5 never switches mosaic off
    ("epoch", "train/box_loss", "train/obj_loss", "metrics/precision", "metrics/mAP_0.5", "val/box_loss"),
    # a hand-written table, not Ultralytics'
    ("epoch", "train_loss", "val_loss", "val_acc"),
])
def test_no_assumed_close_mosaic_outside_ultralytics_v8(tmp_path: Path, cols: tuple[str, ...]) -> None:
    h = gapwatch.load(_results_csv(tmp_path, cols, range(1, 31)))
    assert "ultralytics" not in h.meta.get(h.name, {})
    assert schedule.events(h) == []


def test_no_assumed_close_mosaic_when_args_yaml_says_otherwise(tmp_path: Path) -> None:
    cols = ("epoch", "train/box_loss", "metrics/mAP50(B)", "val/box_loss")
    p = _results_csv(tmp_path, cols, range(1, 31))
    (tmp_path / "args.yaml").write_text("epochs: 50\nclose_mosaic: 0\n")
    assert schedule.events(gapwatch.load(p)) == []


def test_the_assumed_close_mosaic_is_no_planned_end_for_the_forecast(tmp_path: Path) -> None:
    """The default the reader assumes without args.yaml is the last logged epoch, not a plan the log states: the
    forecast's planned end stays unknown (an older 0-based file would otherwise end one epoch after its last)."""
    from gapwatch.forecast.core import planned_end
    from gapwatch.monitor import Monitor

    cols = ("epoch", "train/box_loss", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "val/box_loss")
    p = _results_csv(tmp_path, cols, range(0, 30))
    mon = Monitor("val", "map50_95", "max")
    assert planned_end(gapwatch.load(p), mon) == (None, "")
    (tmp_path / "args.yaml").write_text("epochs: 60\nclose_mosaic: 10\n")
    assert planned_end(gapwatch.load(p), mon) == (60.0, "epochs=60")
