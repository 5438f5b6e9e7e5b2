"""Every reader on its real-tool fixture (see tests/fixtures/make_fixtures.py), values checked against the raw
files; format sniffing by content; TensorBoard fast path against TensorBoard's own protos; sweeps."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch import analyze
from gapwatch.cli import main
from gapwatch.monitor import Monitor
from gapwatch.readers import _tfrecord as tfr
from gapwatch.readers import load, sniff, supported_formats

LOGS = Path(__file__).parent / "fixtures" / "logs"
HF = LOGS / "hf" / "out"
TB_TORCH = LOGS / "tb" / "torch"
TB_KERAS = LOGS / "tb" / "keras"
LIGHTNING = LOGS / "lightning" / "version_0"
KERAS = LOGS / "keras" / "training.csv"


def _csv_rows(p: Path) -> list[dict[str, str]]:
    with open(p, newline="") as fh:
        return list(csv.DictReader(fh))


# ----------------------------------------------------------------------------- sniffing
@pytest.mark.parametrize("path,fmt", [
    (HF, "hf-trainer"),
    (HF / "trainer_state.json", "hf-trainer"),
    (HF / "checkpoint-8" / "trainer_state.json", "hf-trainer"),
    (TB_TORCH, "tensorboard"),
    (TB_KERAS, "tensorboard"),
    (LIGHTNING, "lightning-csv"),
    (LIGHTNING / "metrics.csv", "lightning-csv"),
    (KERAS, "keras-csv"),
])
def test_sniff_fixtures(path: Path, fmt: str) -> None:
    mod = sniff(path)
    assert mod is not None and mod.name == fmt


def test_sniff_by_content_not_extension(tmp_path: Path) -> None:
    shutil.copy(KERAS, tmp_path / "log.txt")
    ev = next(TB_TORCH.glob("events*"))
    shutil.copy(ev, tmp_path / "scalars.bin")  # an event file under a name without 'tfevents'
    shutil.copy(HF / "trainer_state.json", tmp_path / "state.txt")
    assert sniff(tmp_path / "log.txt").name == "keras-csv"
    assert sniff(tmp_path / "scalars.bin").name == "tensorboard"
    assert sniff(tmp_path / "state.txt").name == "hf-trainer"


def test_supported_formats_listed() -> None:
    # the tracker stores (gapwatch.trackers) register themselves before the log formats they resemble
    assert supported_formats() == ["mlflow", "trackio", "notebook", "hf-trainer", "tensorboard", "lightning-csv",
                                   "keras-csv", "history-json", "catboost-json", "jsonl", "bare-series", "wandb", "csv",
                                   "history-csv",
                                   "yolo-txt", "torch7-logger", "text"]


# ----------------------------------------------------------------------------- Hugging Face
def test_hf_trainer_state_values_match_log_history() -> None:
    state = json.loads((HF / "trainer_state.json").read_text())
    evals = [r for r in state["log_history"] if "eval_loss" in r]
    trains = [r for r in state["log_history"] if "loss" in r]
    h = load(HF / "trainer_state.json")
    v = h.series("val", "loss")
    np.testing.assert_allclose(v.values, [r["eval_loss"] for r in evals])
    np.testing.assert_array_equal(v.step, [r["step"] for r in evals])
    np.testing.assert_array_equal(v.epoch, [r["epoch"] for r in evals])
    np.testing.assert_allclose(h.series("val", "acc").values, [r["eval_accuracy"] for r in evals])
    t = h.series("train", "loss", x="step")
    np.testing.assert_allclose(t.values, [r["loss"] for r in trains])
    # the closing record's train_loss is a whole-run mean, not a curve point
    summary = state["log_history"][-1]
    assert "train_runtime" in summary
    assert h.meta["trainer_state"]["hf"]["train_summary"]["train_loss"] == summary["train_loss"]
    assert set(h.names()) == {"loss", "eval_loss", "eval_accuracy"}  # no grad_norm / runtime / lr series
    assert h.meta["trainer_state"]["hf"]["best_model_checkpoint"] == state["best_model_checkpoint"]


def test_hf_output_dir_takes_newest_and_lists_checkpoints() -> None:
    h = load(HF)
    meta = h.meta["out"]["hf"]
    assert meta["checkpoints"] == ["checkpoint-8", "checkpoint-16", "checkpoint-24", "checkpoint-32"]
    assert meta["state_file"] == "trainer_state.json"  # top-level wins the tie with checkpoint-32
    assert meta["global_step"] == 32
    assert len(h.series("val", "loss")) == 4


def test_hf_output_dir_without_top_level_state(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for ck in ("checkpoint-8", "checkpoint-24", "checkpoint-16"):
        (out / ck).mkdir(parents=True)
        shutil.copy(HF / ck / "trainer_state.json", out / ck / "trainer_state.json")
    (out / "checkpoint-99").mkdir()  # a checkpoint dir without state is not listed
    h = load(out)
    meta = h.meta["out"]["hf"]
    assert meta["state_file"] == "checkpoint-24/trainer_state.json"
    assert meta["checkpoints"] == ["checkpoint-8", "checkpoint-16", "checkpoint-24"]
    assert len(h.series("val", "loss")) == 3


# ----------------------------------------------------------------------------- TensorBoard
def test_tb_torch_run_dir() -> None:
    h = load(TB_TORCH)
    ref = tfr.read_scalars_reference(next(TB_TORCH.glob("events*")))
    v = h.series("val", "loss", x="step")
    np.testing.assert_array_equal(v.step, ref["val/loss"][0])
    np.testing.assert_allclose(v.values, ref["val/loss"][1])
    np.testing.assert_allclose(h.series("val", "acc", x="step").values, ref["val/acc"][1])  # tensor summary
    assert len(h.series("train", "loss", x="step")) == 30
    # the user's 'epoch' scalar gives every series its epoch
    np.testing.assert_array_equal(v.epoch, [0, 1, 2, 3, 4, 5])
    assert "note/text_summary" not in h.names() and "epoch" not in h.names()


def test_tb_keras_layout_splits_from_subdirs() -> None:
    h = load(TB_KERAS)
    assert sorted(h.keys()) == [("train", "acc"), ("train", "loss"), ("val", "acc"), ("val", "loss")]
    v = h.series("val", "loss")
    ref = tfr.read_scalars_reference(next((TB_KERAS / "validation").glob("events*")))
    np.testing.assert_allclose(v.values, ref["epoch_loss"][1])
    np.testing.assert_array_equal(v.epoch, ref["epoch_loss"][0] + 1)  # 0-based epoch index → 1-based
    assert np.isnan(v.step).all()


@pytest.mark.parametrize("f", sorted(LOGS.glob("tb/**/events*")), ids=lambda p: p.parent.name)
def test_tb_fast_path_equals_event_pb2(f: Path) -> None:
    fast = tfr.read_scalars(f)
    ref = tfr.read_scalars_reference(f)
    assert sorted(fast.tags) == sorted(ref)
    for tag, (steps, vals) in ref.items():
        np.testing.assert_array_equal(fast.tags[tag][1], steps)
        np.testing.assert_array_equal(fast.tags[tag][3], vals)


def test_masked_crc_matches_tensorboard() -> None:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    rng = np.random.default_rng(0)
    for n in (1, 8, 13, 50):
        rows = rng.integers(0, 256, size=(5, n), dtype=np.uint8)
        got = tfr.masked_crc32c_rows(rows)
        assert [int(x) for x in got] == [masked_crc32c(r.tobytes()) for r in rows]


def _event(step: int, tag: str, value: float, kind: str, wall: float = 1.7e9) -> bytes:
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2

    v = summary_pb2.Summary.Value(tag=tag)
    if kind == "simple":
        v.simple_value = value
    elif kind == "float":
        v.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                                 float_val=[value]))
    elif kind == "double":
        v.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=2, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                                 double_val=[value]))
    elif kind == "content":
        v.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=1, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                                 tensor_content=np.float32(value).tobytes()))
    elif kind == "int64":
        v.tensor.CopyFrom(tensor_pb2.TensorProto(dtype=9, tensor_shape=tensor_shape_pb2.TensorShapeProto(),
                                                 int64_val=[int(value) if np.isfinite(value) and abs(value) < 2**62
                                                            else 0]))
    return event_pb2.Event(wall_time=wall, step=step, summary=summary_pb2.Summary(value=[v])).SerializeToString()


_ev = st.tuples(st.integers(0, 2**40), st.sampled_from(["loss", "val/loss", "a_long/tag/name", "x"]),
                st.floats(allow_nan=True, allow_infinity=True, width=32),
                st.sampled_from(["simple", "float", "double", "content", "int64"]))


@settings(max_examples=40, deadline=None)
@given(st.lists(_ev, min_size=1, max_size=60))
def test_tb_fast_path_property(tmp_path_factory: pytest.TempPathFactory, events: list) -> None:
    """Random scalar events of every encoding: the vectorised decoder agrees with event_pb2, in file order."""
    from tensorboard.compat.proto import event_pb2

    f = tmp_path_factory.mktemp("tb") / "events.out.tfevents.1.prop"
    recs = [tfr.frame(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())]
    recs += [tfr.frame(_event(*e)) for e in events]
    f.write_bytes(b"".join(recs))
    fast = tfr.read_scalars(f)
    ref = tfr.read_scalars_reference(f)
    assert sorted(fast.tags) == sorted(ref)
    for tag, (steps, vals) in ref.items():
        np.testing.assert_array_equal(fast.tags[tag][1], steps)
        np.testing.assert_array_equal(fast.tags[tag][3], vals)


def test_tb_truncated_tail_is_a_note(tmp_path: Path) -> None:
    src = next(TB_TORCH.glob("events*"))
    d = tmp_path / "run"
    d.mkdir()
    data = src.read_bytes()
    (d / src.name).write_bytes(data[:-7])  # a run killed while writing
    h = load(d)
    assert any("incomplete" in n.message for n in h.notes)
    assert len(h.series("val", "loss", x="step")) >= 5


def test_tb_add_scalars_layout(tmp_path: Path) -> None:
    SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter

    w = SummaryWriter(str(tmp_path / "run"))
    for s in range(1, 5):
        w.add_scalars("loss", {"train": 1.0 / s, "val": 0.5 + 0.01 * s}, s)
    w.close()
    h = load(tmp_path / "run")
    assert sorted(h.keys()) == [("train", "loss"), ("val", "loss")]
    np.testing.assert_allclose(h.series("val", "loss", x="step").values, [0.51, 0.52, 0.53, 0.54], rtol=1e-6)


def test_tb_pytorch_tutorial_comparison_title(tmp_path: Path) -> None:
    """PyTorch's "Training with PyTorch" tutorial logs ``Loss/train`` every 1,000 batches and, once an epoch,
    ``add_scalars("Training vs. Validation Loss", {"Training": …, "Validation": …})``: the epoch curves are the
    training and validation loss, the per-batch one is kept apart (merged, its steps went back)."""
    SummaryWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter

    w = SummaryWriter(str(tmp_path / "fashion_trainer_20240520_141927"))
    for epoch in range(4):
        for i in range(1, 4):
            w.add_scalar("Loss/train", 1.0 / (epoch + 1) + 0.01 * i, epoch * 3000 + i * 1000)
        w.add_scalars("Training vs. Validation Loss", {"Training": 1.0 / (epoch + 1), "Validation": 0.9 - 0.1 * epoch},
                      epoch + 1)
    w.close()
    h = load(tmp_path / "fashion_trainer_20240520_141927")
    assert sorted(h.keys()) == [("train", "loss"), ("train", "other_loss"), ("val", "loss")]
    np.testing.assert_allclose(h.series("val", "loss", x="step").values, [0.9, 0.8, 0.7, 0.6], rtol=1e-6)
    assert len(h.series("train", "loss", x="step")) == 4
    assert not any("go back" in n.message for n in h.notes)


def test_tb_split_named_run_dir_pointed_at_alone(tmp_path: Path) -> None:
    """A TF1 script's ``log/train`` and ``log/test`` writers log bare ``loss``/``accuracy`` tags: read from
    ``log/`` the sub-directory names the split; pointed at ``log/test`` (or its event file) alone, the directory's
    own name does the same, so the held-out series is not read as the training loss."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    def events(d: Path, scale: float) -> Path:
        d.mkdir(parents=True)
        f = d / "events.out.tfevents.1578275509.host"
        recs = [tfr.frame(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())]
        for s in range(1, 6):
            vals = [summary_pb2.Summary.Value(tag="loss", simple_value=scale / s),
                    summary_pb2.Summary.Value(tag="accuracy", simple_value=1 - scale / (2 * s))]
            recs.append(tfr.frame(event_pb2.Event(wall_time=1.0 + s, step=100 * s,
                                                  summary=summary_pb2.Summary(value=vals)).SerializeToString()))
        f.write_bytes(b"".join(recs))
        return f

    events(tmp_path / "log" / "train", 0.8)
    f = events(tmp_path / "log" / "test", 0.5)
    assert sorted(load(tmp_path / "log").keys()) == [("test", "acc"), ("test", "loss"), ("train", "acc"),
                                                     ("train", "loss")]
    for p in (tmp_path / "log" / "test", f):
        h = load(p)
        assert sorted(h.keys()) == [("test", "acc"), ("test", "loss")]
        np.testing.assert_allclose(h.series("test", "loss", x="step").values, [0.5 / s for s in range(1, 6)],
                                   rtol=1e-6)
    # Ultralytics writes its TensorBoard file into ``runs/detect/train`` (its default run name) or a run named by
    # the user (``test``): tags with their own namespace keep their reading, the directory names nothing
    for name in ("train", "test"):
        d = tmp_path / "runs" / "detect" / name
        d.mkdir(parents=True)
        recs = [tfr.frame(event_pb2.Event(wall_time=1.0, file_version="brain.Event:2").SerializeToString())]
        for s in range(1, 6):
            vals = [summary_pb2.Summary.Value(tag="metrics/mAP50-95(B)", simple_value=0.1 * s),
                    summary_pb2.Summary.Value(tag="val/box_loss", simple_value=1.0 / s),
                    summary_pb2.Summary.Value(tag="train/box_loss", simple_value=1.2 / s)]
            recs.append(tfr.frame(event_pb2.Event(wall_time=1.0 + s, step=s,
                                                  summary=summary_pb2.Summary(value=vals)).SerializeToString()))
        (d / "events.out.tfevents.1.host").write_bytes(b"".join(recs))
        assert sorted(load(d).keys()) == [("train", "box_loss"), ("val", "box_loss"), ("val", "map50_95")], name


def test_tb_sweep_of_run_dirs(tmp_path: Path) -> None:
    shutil.copytree(TB_TORCH, tmp_path / "sweep" / "lr1")
    shutil.copytree(TB_KERAS, tmp_path / "sweep" / "nested" / "lr2")
    h = load(tmp_path / "sweep")
    assert h.runs() == ["lr1", "nested/lr2"]


# ----------------------------------------------------------------------------- Lightning / Keras
def test_lightning_metrics_csv() -> None:
    rows = _csv_rows(LIGHTNING / "metrics.csv")
    val_rows = [r for r in rows if r["val_loss"]]
    h = load(LIGHTNING)
    v = h.series("val", "loss")
    np.testing.assert_allclose(v.values, [float(r["val_loss"]) for r in val_rows])
    np.testing.assert_array_equal(v.epoch, [int(r["epoch"]) + 1 for r in val_rows])  # 1-based
    np.testing.assert_array_equal(v.step, [int(r["step"]) for r in val_rows])
    ep = [float(r["train_loss_epoch"]) for r in rows if r["train_loss_epoch"]]
    st_ = [float(r["train_loss_step"]) for r in rows if r["train_loss_step"]]
    np.testing.assert_allclose(h.series("train", "loss").values, ep)
    np.testing.assert_allclose(h.series("train", "loss_step", x="step").values, st_)
    assert h.meta["version_0"]["hparams"] == {"hidden": 32, "lr": 0.05}
    assert not h.notes  # sparse rows are not "repeated steps"


def test_keras_csv_is_one_based() -> None:
    rows = _csv_rows(KERAS)
    h = load(KERAS)
    v = h.series("val", "loss")
    np.testing.assert_array_equal(v.epoch, [int(r["epoch"]) + 1 for r in rows])
    np.testing.assert_allclose(v.values, [float(r["val_loss"]) for r in rows])
    np.testing.assert_allclose(h.series("train", "acc").values, [float(r["accuracy"]) for r in rows])
    np.testing.assert_allclose(h.series("val", "acc").values, [float(r["val_accuracy"]) for r in rows])


# ----------------------------------------------------------------------------- generic CSV / JSONL
def test_wide_csv_sparse_and_named_heldout(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_text("epoch,train_loss,val_loss,val_acc,test_acc,val_pgd_acc,retention_acc\n"
                 "1,1.0,0.9,0.5,,0.2,0.9\n2,0.8,0.7,0.6,,0.25,\n3,0.6,0.8,0.55,0.5,0.2,0.85\n")
    h = load(f)
    assert set(h.keys()) == {("train", "loss"), ("val", "loss"), ("val", "acc"), ("test", "acc"),
                             ("val", "pgd_acc"), ("retention", "acc")}
    np.testing.assert_array_equal(h.series("retention", "acc").epoch, [1, 3])
    np.testing.assert_allclose(h.series("test", "acc").values, [0.5])


def test_tab_and_semicolon_csv(tmp_path: Path) -> None:
    for sep in ("\t", ";"):
        f = tmp_path / f"log{ord(sep)}.tsv"
        f.write_text(sep.join(["step", "train_loss", "val_loss"]) + "\n" + sep.join(["10", "1", "0.5"]) + "\n"
                     + sep.join(["20", "0.5", "nan"]) + "\n" + sep.join(["30", "0.2", "inf"]) + "\n")
        v = load(f).series("val", "loss")
        assert v.values[0] == 0.5 and np.isnan(v.values[1]) and np.isinf(v.values[2])


def test_wide_csv_with_run_column(tmp_path: Path) -> None:
    f = tmp_path / "wide.csv"
    f.write_text("run,epoch,train_loss,val_loss\na,1,1.0,0.9\nb,1,1.1,0.95\na,2,0.8,0.7\nb,2,0.9,0.8\n")
    h = load(f)
    assert h.runs() == ["a", "b"] and not h.notes
    np.testing.assert_allclose(h.series("val", "loss", run="b").values, [0.95, 0.8])


def test_long_csv_with_runs(tmp_path: Path) -> None:
    f = tmp_path / "long.csv"
    f.write_text("run,step,split,metric,value\n"
                 "a,1,train,loss,1.0\na,1,val,loss,0.9\nb,1,val,acc,0.5\na,2,val,loss,0.8\nb,2,val,acc,0.6\n"
                 "a,2,retention,acc,0.7\n")
    h = load(f)
    assert h.runs() == ["a", "b"]
    np.testing.assert_allclose(h.series("val", "loss", run="a").values, [0.9, 0.8])
    np.testing.assert_allclose(h.series("val", "acc", run="b").values, [0.5, 0.6])
    assert h.run("a").has("retention", "acc")


def test_long_csv_metric_with_its_own_split(tmp_path: Path) -> None:
    f = tmp_path / "long.csv"
    f.write_text("step,split,metric,value\n1,val,pgd_acc,0.3\n1,val,val_loss,0.4\n")
    h = load(f)
    assert set(h.keys()) == {("val", "pgd_acc"), ("val", "loss")}


def test_jsonl(tmp_path: Path) -> None:
    f = tmp_path / "log.jsonl"
    f.write_text('{"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "lr": 0.1}\n'
                 '{"epoch": 2, "train_loss": 0.5, "val_loss": NaN}\n'
                 '{"epoch": 3, "train_loss": 0.4, "val_lo')  # a line cut off by a crash
    h = load(f)
    v = h.series("val", "loss")
    assert len(v) == 2 and np.isnan(v.values[1])
    assert "lr" not in h.names()


# ----------------------------------------------------------------------------- sweeps
def test_sweep_of_fixtures_names_runs_by_relative_path() -> None:
    h = load(LOGS)
    assert {"hf/out", "keras/training", "lightning/version_0", "tb/keras", "tb/torch"} <= set(h.runs())
    assert not [r for r in h.runs() if r.startswith("hf/out/")]  # a claimed run directory is not descended
    assert h.meta["hf/out"]["hf"]["global_step"] == 32
    assert h.meta["lightning/version_0"]["hparams"]["lr"] == 0.05
    np.testing.assert_allclose(h.series("val", "loss", run="keras/training").values,
                               load(KERAS).series("val", "loss").values)


def test_sweep_equals_per_file_loads(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for i in range(30):
        d = tmp_path / f"lr{i % 3}"
        d.mkdir(exist_ok=True)
        n = int(rng.integers(2, 9))
        lines = ["epoch,train_loss,val_loss"] + [f"{e},{rng.random():.4f},{rng.random():.4f}" for e in range(1, n + 1)]
        if i == 7:  # a resumed run
            lines += ["3,0.1,0.2", "4,0.1,0.2"]
        (d / f"seed{i}.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "README.md").write_text("not a log\n")
    h = load(tmp_path)
    assert len(h.runs()) == 30
    for r in h.runs():
        single = load(tmp_path / f"{r}.csv")
        np.testing.assert_array_equal(h.series("val", "loss", run=r).values, single.series("val", "loss").values)
        np.testing.assert_array_equal(h.series("val", "loss", run=r).epoch, single.series("val", "loss").epoch)
    assert [n.run for n in h.notes] == ["lr1/seed7", "lr1/seed7"]


@pytest.mark.parametrize("path", [HF, TB_TORCH, TB_KERAS, LIGHTNING, KERAS, LOGS], ids=lambda p: p.name)
def test_cli_analyze_json_on_each_fixture(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(path), "--json"]) in (0, 3)
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "gapwatch.analysis/1"
    for run in doc["runs"]:
        assert run["monitor"]["split"] == "val"  # which held-out series is the monitor's own module's concern
        assert run["best"]["value"] is not None


def test_hand_written_metrics_csv_is_generic(tmp_path: Path) -> None:
    """Only Lightning's metrics.csv (suffixed columns or hparams.yaml beside it) gets 0-based epochs shifted."""
    f = tmp_path / "metrics.csv"
    f.write_text("epoch,step,train_loss,val_loss\n1,10,0.9,0.8\n2,20,0.7,0.6\n")
    assert sniff(f).name == "csv"
    np.testing.assert_array_equal(load(f).series("val", "loss").epoch, [1, 2])
    (tmp_path / "hparams.yaml").write_text("lr: 0.1\n")
    assert sniff(f).name == "lightning-csv"


# ----------------------------------------------------------------------------- plug-ins, guard log
def test_register_reader_before_and_unregister(tmp_path: Path) -> None:
    from gapwatch.errors import UsageError
    from gapwatch.readers import readers, register_reader, unregister_reader
    from gapwatch.readers._parts import Parts
    from gapwatch.readers.base import FunctionReader, Reader

    def read(path: Path, run: str) -> list[Parts]:
        p = Parts(run, str(path))
        vals = [float(v) for v in path.read_text().split()[1:]]
        p.add(np.full(len(vals), np.nan), np.arange(1.0, len(vals) + 1), "val", "loss", np.asarray(vals), "v")
        return [p]

    mine = FunctionReader("house", lambda p, head: head.startswith("HOUSE"), read)
    assert isinstance(mine, Reader)
    f = tmp_path / "run.house"
    f.write_text("HOUSE 0.9 0.7 0.8\n")
    register_reader(mine, before="jsonl")
    try:
        names = [r.name for r in readers()]
        assert names.index("house") == names.index("jsonl") - 1
        assert sniff(f) is mine
        np.testing.assert_allclose(load(f).series("val", "loss").values, [0.9, 0.7, 0.8])
        with pytest.raises(UsageError, match="already registered"):
            register_reader(mine)
    finally:
        unregister_reader("house")
    assert "house" not in supported_formats()
    with pytest.raises(UsageError, match="no such reader"):
        register_reader(mine, before="nope")
    with pytest.raises(UsageError, match="not a reader"):
        register_reader(object())  # type: ignore[arg-type]


def test_guard_log_format_round_trip(tmp_path: Path) -> None:
    from gapwatch import guardlog

    f = tmp_path / "history.jsonl"
    hdr = guardlog.header_record(run="r", monitor="val/loss", mode="min", policy={"patience": 3}, started=1.0)
    assert guardlog.is_guard_header(hdr) and guardlog.is_guard_record(hdr)
    lines = [guardlog.encode(hdr),
             guardlog.encode({"epoch": 1, "val_loss": 0.5, "train_loss": np.float32(0.75)}),
             guardlog.encode({"epoch": 2, "val_loss": float("nan"), "train_loss": 0.5}),
             guardlog.encode(guardlog.decision_record({"action": "continue", "evaluation": 1})),
             guardlog.encode(guardlog.finding_record(1, {"kind": "data"})),
             guardlog.encode(guardlog.resume_record(2)),
             guardlog.encode({"epoch": 3, "val_loss": 0.4, "train_loss": 0.25})]
    assert all(ln.endswith("\n") and ln.count("\n") == 1 for ln in lines)
    f.write_text("".join(lines))
    log = guardlog.parse(f)
    assert log.header == hdr and len(log.decisions) == 1 and len(log.findings) == 1 and len(log.resumes) == 1
    h = load(f)
    v = h.series("val", "loss")
    np.testing.assert_array_equal(v.epoch, [1, 2, 3])
    assert np.isnan(v.values[1]) and v.values[2] == 0.4
    assert h.meta["history"]["monitor"] == "val/loss" and h.meta["history"]["monitor_mode"] == "min"


# ----------------------------------------------------------------------------- formats people write (issue 12)
TEXT = Path(__file__).parent / "fixtures" / "logs_text"


def test_keras1_stdout_equals_its_pandas_history() -> None:
    """The two files of one real run (tests/fixtures/logs_text/README.md: juanerolon/deep-learning-playground):
    Keras 1 stdout with ``\\r``/backspace progress bars, and ``pd.DataFrame(h.history).to_csv()``."""
    txt, csv_ = load(TEXT / "keras1_stdout.log"), load(TEXT / "keras_history_pandas.csv")
    assert sniff(TEXT / "keras1_stdout.log").name == "text"
    assert sniff(TEXT / "keras_history_pandas.csv").name == "history-csv"
    for key in (("train", "loss"), ("train", "acc"), ("val", "loss"), ("val", "acc")):
        a, b = txt.series(*key), csv_.series(*key)
        np.testing.assert_array_equal(a.epoch, [1, 2, 3, 4, 5, 6])
        np.testing.assert_array_equal(a.epoch, b.epoch)
        np.testing.assert_allclose(a.values, b.values, atol=5e-5)  # stdout prints 4 decimals
    assert not txt.notes and not csv_.notes


def test_keras2_log_of_two_trainings_is_two_runs() -> None:
    """KyotoSunshine/CNN-for-handwritten-kanji: two ``fit`` calls appended to one log, and an early-stopping
    message printed between an epoch's marker and its metrics."""
    h = load(TEXT / "keras2_verbose2_appended.log")
    assert h.runs() == ["keras2_verbose2_appended#1", "keras2_verbose2_appended#2"]
    v2 = h.series("val", "loss", run="keras2_verbose2_appended#2")
    np.testing.assert_array_equal(v2.epoch, np.arange(1, 10))
    assert v2.values[-1] == 0.0787  # epoch 9's metrics come after "Epoch 00008: early stopping"
    assert h.series("val", "acc", run="keras2_verbose2_appended#1").values[0] == 0.8959
    assert any("read as 2 runs" in n.message and "line 24" in n.message for n in h.notes)


def test_logging_prefixed_text_log() -> None:
    """CaryBond/data-science-project: ``2025-07-07 13:55:26.649 INFO: Epoch [001/300] - Train Loss: …, Valid
    Loss: …, LR: [0.001]``, with a printed argument dict holding ``'epoch': 300.0`` before epoch 1."""
    h = load(TEXT / "cgcnn_train_output.txt")
    assert sorted(h.keys()) == [("train", "loss"), ("val", "loss")]  # LR is a schedule, not a metric
    v = h.series("val", "loss")
    np.testing.assert_array_equal(v.epoch, np.arange(1, 13))
    assert v.values[0] == 70.66399 and v.values[3] == 125.75354 and v.values[-1] == 48.41712


def test_results_pasted_in_a_readme() -> None:
    """ak2k2/ECE-472-Deep-Learning: per-epoch prints pasted into a README; ``Loss on the test set: 0.1276`` after
    them is the test set's loss (one evaluation, of the epoch-4 model), never a value of the validation or training
    series, and the validation accuracy still decides. A sweep does not read README.md as a run; given as the
    path, it is read."""
    h = load(TEXT / "mnist_results.md")
    assert sorted(h.keys()) == [("test", "acc"), ("test", "loss"), ("train", "acc"), ("train", "loss"),
                                ("val", "acc"), ("val", "loss")]
    np.testing.assert_allclose(h.series("test", "loss").values, [0.1276])
    assert analyze(h, forecast=False).runs[0].monitor == Monitor("val", "acc", "max")
    np.testing.assert_allclose(h.series("val", "loss").values, [0.2372, 0.1642, 0.1363, 0.1326])
    np.testing.assert_allclose(h.series("val", "acc").values, [93.4785, 95.3790, 95.9109, 95.9719])
    assert "mnist_results" not in load(TEXT).runs()


TEXT_FORMS = {
    "print-equals": ("Epoch 1: Train Loss=0.91, Val Loss=0.95\nEpoch 2: Train Loss=0.61, Val Loss=0.70\n"
                     "Epoch 3: val_loss improved from 0.70 to 0.58, saving model\n"
                     "Epoch 3: Train Loss=0.41, Val Loss=0.58\n",
                     {("train", "loss"): [0.91, 0.61, 0.41], ("val", "loss"): [0.95, 0.70, 0.58]}),
    "pipes": ("[setup] device=cuda | train=712 val=179\nepoch   1 | loss 0.80 | val_loss 0.83\n"
              "epoch   2 | loss 0.65 | val_loss 0.78\n[early-stop] no val-loss improvement for 10 epochs.\n",
              {("train", "loss"): [0.80, 0.65], ("val", "loss"): [0.83, 0.78]}),
    "keras-tf2": ("Epoch 1/50\n251/251 [==============================] - 1s 3ms/step - loss: 0.2719 - accuracy: "
                  "0.9068 - val_loss: 0.1476 - val_accuracy: 0.9520\nEpoch 2/50\n"
                  "251/251 [==============================] - 0s 2ms/step - loss: 0.1441 - accuracy: 0.9490 - "
                  "val_loss: 0.1208 - val_accuracy: 0.9630\n",
                  {("val", "loss"): [0.1476, 0.1208], ("val", "acc"): [0.9520, 0.9630]}),
    "keras3": ("Epoch 1/2\n14/14 ━━━━━━━━━━━━━━━━━━━━ 0s 9ms/step - loss: 0.0402 - val_loss: 0.0555\nEpoch 2/2\n"
               "14/14 ━━━━━━━━━━━━━━━━━━━━ 0s 9ms/step - loss: 0.0392 - val_loss: 0.0551\n",
               {("train", "loss"): [0.0402, 0.0392], ("val", "loss"): [0.0555, 0.0551]}),
    "tqdm": ("Epoch 0: 100%|██████████| 50/50 [00:01<00:00, 40.1it/s, v_num=0, train_loss=0.812]\r"
             "Epoch 0: 100%|██████████| 50/50 [00:01<00:00, 40.1it/s, v_num=0, train_loss=0.812, val_loss=0.790]\n"
             "Epoch 1: 100%|██████████| 50/50 [00:01<00:00, 41.0it/s, v_num=0, train_loss=0.701, val_loss=0.702]\n",
             {("train", "loss"): [0.812, 0.701], ("val", "loss"): [0.790, 0.702]}),
    "block-under-marker": ("Epoch: 01 | Epoch Time: 0m 53s\n\tTrain Loss: 0.692 | Train Acc: 73.75%\n"
                           "\t Val. Loss: 0.409 |  Val. Acc: 83.94%\n"
                           "Epoch: 02 | Epoch Time: 0m 42s\n\tTrain Loss: 0.353 | Train Acc: 86.10%\n"
                           "\t Val. Loss: 0.262 |  Val. Acc: 90.47%\n",
                           {("train", "loss"): [0.692, 0.353], ("val", "loss"): [0.409, 0.262],
                            ("val", "acc"): [83.94, 90.47]}),
    # yashwantram97/ERA-V4-Mini-Capstone, README-logs.md (a Markdown table of per-epoch results)
    "markdown-table": ("### Epochs 1-61 (Initial Training)\n\n"
                       "| Epoch | Train Loss | Train Acc | Val Loss | Val Acc |\n"
                       "|-------|-----------|-----------|----------|---------|\n"
                       "| 1 | 6.4731 | 1.74% | 5.9321 | 4.10% |\n"
                       "| 2 | 6.0129 | 4.36% | 5.5839 | 6.11% |\n| 3 | 5.7562 | 6.57% | 5.2395 | 8.47% |\n",
                       {("val", "loss"): [5.9321, 5.5839, 5.2395], ("val", "acc"): [4.10, 6.11, 8.47]}),
    "split-inherited": ("Epoch  1 | Train Loss: 0.3803 Acc: 0.8898 | Test Loss: 0.1511 Acc: 0.9547\n"
                        "Epoch  2 | Train Loss: 0.1498 Acc: 0.9547 | Test Loss: 0.1011 Acc: 0.9693\n",
                        {("train", "acc"): [0.8898, 0.9547], ("test", "acc"): [0.9547, 0.9693],
                         ("test", "loss"): [0.1511, 0.1011]}),
    # Altaheri/EEG-ATCNet results/log.txt: a time with its unit before the next name ('1.5 m   valid_acc'), which
    # read as a measure 'm_acc' of the validation set
    "unit-before-name": ("Epoch: 1   seed 1   time: 1.5 m   valid_acc: 0.8448   valid_loss: 0.609\n"
                         "Epoch: 2   seed 1   time: 1.4 m   valid_acc: 0.7759   valid_loss: 0.703\n",
                         {("val", "acc"): [0.8448, 0.7759], ("val", "loss"): [0.609, 0.703]}),
    # KbsdJames/query_classification logs/*/metric.log: a prefix, a tab, then a JSON object whose numbers sit one
    # level down ({"metric": {...}})
    "prefixed-json": ('Step:200\t{"metric": {"eval_acc": 0.4843, "eval_loss": 0.7075}, "step": 200}\n'
                      'Step:400\t{"metric": {"eval_acc": 0.5821, "eval_loss": 0.6801}, "step": 400}\n'
                      'Step:600\t{"metric": {"eval_acc": 0.5935, "eval_loss": 0.6773}, "step": 600}\n',
                      {("val", "acc"): [0.4843, 0.5821, 0.5935], ("val", "loss"): [0.7075, 0.6801, 0.6773]}),
    # HoChengYun/TRY_voxelmorph train_oasis.log: a script that tests saved checkpoints one by one, the epoch's
    # heading naming the checkpoint file
    "checkpoint-heading": ("  Epoch 0001 : models\\0001.pt\n           Dice = 0.6026 ± 0.0759  |  Neg-Jac = 0.000%\n"
                           "  Epoch 0002 : models\\0002.pt\n           Dice = 0.6027 ± 0.0759  |  Neg-Jac = 0.000%\n"
                           "  Epoch 0003 : models\\0003.pt\n           Dice = 0.6329 ± 0.0758  |  Neg-Jac = 0.000%\n",
                           {("val", "dice"): [0.6026, 0.6027, 0.6329]}),
    # roythera/afterimage results/train_log.txt: name-value pairs two spaces apart, a timing with its unit and a
    # new-best mark at the end of the line
    "timing-and-best-mark": ("tag=baseline  aug=none  exclude=-  device=mps\n"
                             "  epoch  0  train_loss 0.2584  val_acc 0.9222  val_loss 0.2058  144s *\n"
                             "  epoch  1  train_loss 0.1754  val_acc 0.8926  val_loss 0.2810  119s\n",
                             {("val", "acc"): [0.9222, 0.8926], ("val", "loss"): [0.2058, 0.2810]}),
}


@pytest.mark.parametrize("form", list(TEXT_FORMS))
def test_text_log_forms(tmp_path: Path, form: str) -> None:
    text, want = TEXT_FORMS[form]
    f = tmp_path / "train.log"
    f.write_text(text, encoding="utf-8")
    assert sniff(f).name == "text"
    h = load(f)
    for key, vals in want.items():
        np.testing.assert_allclose(h.series(*key).values, vals)
    assert "v_num" not in h.names()


def test_prose_is_not_a_text_log(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("Loading data: 5000 samples\nEpoch 3: early stopping\nbest epoch: 3\n")
    assert sniff(f) is None


@pytest.mark.parametrize("index", [True, False], ids=["pandas-index", "no-index"])
def test_history_csv_without_epoch_column(tmp_path: Path, index: bool) -> None:
    f = tmp_path / "history.csv"
    rows = [(0.9, 0.95), (0.6, 0.7), (0.4, 0.72)]
    head = ",loss,val_loss\n" if index else "loss,val_loss\n"
    f.write_text(head + "".join((f"{i}," if index else "") + f"{a},{b}\n" for i, (a, b) in enumerate(rows)))
    assert sniff(f).name == "history-csv"
    v = load(f).series("val", "loss")
    np.testing.assert_array_equal(v.epoch, [1, 2, 3])
    np.testing.assert_allclose(v.values, [0.95, 0.7, 0.72])


def test_keras_csv_append_true_is_several_runs(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_text("epoch,loss,val_loss\n0,0.9,0.8\n1,0.7,0.6\n2,0.5,0.55\n0,0.95,0.85\n1,0.75,0.65\n")
    h = load(f)
    assert h.runs() == ["log#1", "log#2"]
    np.testing.assert_allclose(h.series("val", "loss", run="log#2").values, [0.85, 0.65])
    assert any("line 5" in n.message and "append=True" in n.message for n in h.run("log#2").notes)
    # a resume (fit(initial_epoch=2)) appends from epoch 2: one run, the last value per epoch kept
    f.write_text("epoch,loss,val_loss\n0,0.9,0.8\n1,0.7,0.6\n2,0.5,0.55\n2,0.45,0.5\n3,0.4,0.45\n")
    h = load(f)
    assert h.runs() == ["log"]
    np.testing.assert_allclose(h.series("val", "loss").values, [0.8, 0.6, 0.5, 0.45])


def test_sweep_keeps_appended_runs_names(tmp_path: Path) -> None:
    d = tmp_path / "sweep" / "a"
    d.mkdir(parents=True)
    (d / "log.csv").write_text("epoch,loss,val_loss\n0,0.9,0.8\n1,0.7,0.6\n0,0.95,0.85\n1,0.75,0.65\n")
    assert load(tmp_path / "sweep").runs() == ["a/log#1", "a/log#2"]


# ----------------------------------------------------------------------------- damage (issue 16 items 2-6)
@pytest.mark.parametrize("header,rows,fmt", [
    ("epoch,loss,val_loss", ["0,0.9,0.8", "1,0.7,0.6"], "keras-csv"),
    ("epoch,step,train_loss_epoch,val_loss", ["0,5,0.9,0.8", "1,10,0.7,0.6"], "lightning-csv"),
    ("epoch,train_loss,val_loss", ["1,0.9,0.8", "2,0.7,0.6"], "csv"),
])
def test_csv_cut_off_last_line_is_dropped_with_a_note(tmp_path: Path, header: str, rows: list[str],
                                                       fmt: str) -> None:
    f = tmp_path / "log.csv"
    f.write_text(header + "\n" + "\n".join(rows) + "\n" + rows[-1].rsplit(",", 1)[0] + ",0.")
    assert sniff(f).name == fmt
    h = load(f)
    assert len(h.series("val", "loss")) == 2 and 0.0 not in h.series("val", "loss").values
    assert any("line 4" in n.message and "no line end" in n.message for n in h.notes)


def test_jsonl_torn_line_followed_by_a_resume(tmp_path: Path) -> None:
    f = tmp_path / "history.jsonl"
    f.write_text('{"epoch": 1, "val_loss": 0.9}\n{"epoch": 2, "val_loss": 0.8}\n{"epoch": 3, "val_lo'
                 '{"gapwatch": "resume", "evaluation": 2}\n{"epoch": 3, "val_loss": 0.7}\n'
                 '{"epoch": 4, "val_lo{"epoch": 4, "val_loss": 0.6}\n')
    h = load(f)
    np.testing.assert_allclose(h.series("val", "loss").values, [0.9, 0.8, 0.7, 0.6])
    assert sum("cut off by a crash" in n.message for n in h.notes) == 2


def test_jsonl_edge_cases(tmp_path: Path) -> None:
    from gapwatch.errors import InputError

    wide = {"epoch": 1, "val_loss": 0.5, **{f"val_class{i}_acc": 0.5 for i in range(3000)}}
    f = tmp_path / "wide.jsonl"
    f.write_text(json.dumps(wide) + "\n" + json.dumps({**wide, "epoch": 2}) + "\n")
    assert len(json.dumps(wide)) > 65536 and sniff(f).name == "jsonl"
    assert len(load(f).series("val", "loss")) == 2
    f = tmp_path / "note.jsonl"
    f.write_text('{"epoch": 1, "val_loss": 0.5, "note": "log_history"}\n{"epoch": 2, "val_loss": 0.4}\n')
    assert sniff(f).name == "jsonl"
    f = tmp_path / "huge.jsonl"
    f.write_text('{"epoch": 1, "val_loss": 0.5}\n{"epoch": 2, "val_loss": ' + "9" * 5000 + ", \"ok\": true}\n")
    v = load(f).series("val", "loss")
    assert v.values[1] == np.inf and "ok" not in load(f).names()  # booleans are not metric values
    f = tmp_path / "deep.jsonl"
    f.write_text('{"epoch": 1, "val_loss": 0.5}\n{"x": ' + "[" * 100000 + "]" * 100000 + "}\n")
    with pytest.raises(InputError, match=r"deep\.jsonl, line 2: not valid JSON \(nested too deeply\)"):
        load(f)


def test_one_line_config_json_is_not_a_log(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"lr": 0.1, "batch_size": 32, "loss": "ce"}\n')
    shutil.copy(KERAS, tmp_path / "training.csv")
    assert sniff(tmp_path / "config.json") is None
    assert load(tmp_path).runs() == ["training"]


def test_sweep_two_logs_with_one_name_are_two_runs(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text("epoch,train_loss,val_loss\n1,0.9,0.8\n2,0.7,0.6\n")
    (tmp_path / "log.jsonl").write_text('{"epoch": 1, "val_loss": 0.5}\n{"epoch": 2, "val_loss": 0.4}\n')
    h = load(tmp_path)
    assert h.runs() == ["log.csv", "log.jsonl"] and not h.notes
    np.testing.assert_allclose(h.series("val", "loss", run="log.jsonl").values, [0.5, 0.4])


def test_bad_files_in_a_sweep_are_notes(tmp_path: Path) -> None:
    import os

    from gapwatch.readers import unread

    shutil.copy(KERAS, tmp_path / "good.csv")
    (tmp_path / "bad.csv").write_text("epoch,train_loss,val_loss\n1,0.5,oops\n")
    (tmp_path / "header_only.csv").write_text("epoch,train_loss,val_loss\n")
    (tmp_path / "lost.csv").symlink_to(tmp_path / "gone.csv")
    os.mkfifo(tmp_path / "pipe.jsonl")  # never opened: reading a FIFO would hang the sweep
    (tmp_path / "v0").mkdir()
    (tmp_path / "v0" / "metrics.csv").write_text("epoch,step,train_loss_step,val_loss\n0,1,0.9,0.8\n")
    (tmp_path / "v0" / "hparams.yaml").write_text("a: &x [*x, *x]\nb: " + "9" * 5001 + "\n")
    h = load(tmp_path)
    assert sorted(h.runs()) == ["good", "v0"]
    why = {n.run: n.message for n in unread(h)}
    assert set(why) == {"bad", "header_only", "lost"}
    assert "line 2" in why["bad"] and "'oops'" in why["bad"] and "no numeric" in why["header_only"]
    assert any("hparams.yaml" in n.message for n in h.run("v0").notes)  # a damaged side file is a note


def test_fifo_argument_is_a_usage_error(tmp_path: Path) -> None:
    import os

    from gapwatch.errors import UsageError

    os.mkfifo(tmp_path / "log.csv")
    with pytest.raises(UsageError, match="not a regular file"):
        load(tmp_path / "log.csv")


def test_bom_and_cr_line_ends(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_bytes(b"\xef\xbb\xbfepoch,loss,val_loss\r0,0.9,0.8\r1,0.7,0.6\r")
    assert sniff(f).name == "keras-csv"
    np.testing.assert_allclose(load(f).series("val", "loss").values, [0.8, 0.6])


def test_a_csv_whose_header_repeats_holds_runs_appended(tmp_path: Path) -> None:
    """Olba147/DrlPpoTransformer logs/train_log.csv (batch 24 dev): ``to_csv(mode="a")`` writes its header with every
    run appended, which stopped the reader at line 4 ("column 'epoch': expected a number, got 'epoch'"). The
    repeated header lines are skipped with a note, and the epoch going back to its first value starts a run of its
    own (batch 29: one run made of the last value of each epoch from whichever launch wrote it was no run at all)."""
    f = tmp_path / "train_log.csv"
    f.write_text("epoch,train_loss,val_loss\n0,0.0618,0.0663\n1,0.0543,0.0670\nepoch,train_loss,val_loss\n"
                 "0,0.0598,0.0630\n1,0.0500,0.0610\n2,0.0450,0.0600\n")
    h = load(f)
    assert any("the header repeats (1 time)" in n.message and "line 4" in n.message for n in h.notes)
    assert h.runs() == ["train_log#1", "train_log#2"]
    assert len(h.series("val", "loss", run="train_log#2")) == 3
