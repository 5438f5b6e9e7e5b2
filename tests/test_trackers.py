"""Tracker readers on stores written by the trackers' own clients: MLflow (file store, SQLite, a real
``mlflow server``) and W&B offline runs (``wandb.init(mode="offline")``), plus their bad-input paths."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from gapwatch.errors import InputError, UsageError
from gapwatch.readers._parts import build

EPOCHS = 12


def _vals(r: int, e: int) -> dict[str, float]:
    return {"train_loss": 1.0 / e, "val_loss": 1.0 / e + 0.02 * e * (r + 1), "val_acc": 0.5 + 0.03 * e}


def _log_mlflow(uri: str, runs: int = 3) -> None:
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("sweep")
    for r in range(runs):
        with mlflow.start_run(run_name=f"lr{r}"):
            mlflow.log_params({"lr": 0.1 * (r + 1), "wd": 1e-4})
            for e in range(1, EPOCHS + 1):
                mlflow.log_metrics({**_vals(r, e), "epoch": float(e)}, step=10 * e)
    mlflow.set_experiment("other")
    with mlflow.start_run(run_name="x"):
        mlflow.log_metric("val_loss", 1.0, step=1)


def _check_sweep(h: object, n_runs: int = 3) -> None:
    from gapwatch.history import History

    assert isinstance(h, History)
    runs = h.runs()
    assert [r for r in runs if r.startswith("sweep/")] == [f"sweep/lr{r}" for r in range(n_runs)]
    for r in range(n_runs):
        run = h.run(f"sweep/lr{r}")
        s = run.series("val", "loss")
        np.testing.assert_allclose(s.values, [_vals(r, e)["val_loss"] for e in range(1, EPOCHS + 1)])
        np.testing.assert_array_equal(s.step, [10 * e for e in range(1, EPOCHS + 1)])
        np.testing.assert_array_equal(s.epoch, np.arange(1, EPOCHS + 1))
        meta = h.meta[f"sweep/lr{r}"]
        assert meta["hparams"] == {"lr": str(0.1 * (r + 1)), "wd": "0.0001"}
        assert meta["mlflow"]["status"] == "FINISHED"


@pytest.fixture(scope="module")
def mlflow_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("mlflow")
    d = tmp_path_factory.mktemp("mlflow")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3.x: the file store is in maintenance mode
    try:
        _log_mlflow(f"file://{d / 'mlruns'}")
        _log_mlflow(f"sqlite:///{d / 'mlflow.db'}")
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    return {"file": d / "mlruns", "sqlite": d / "mlflow.db"}


def test_mlflow_file_store_and_sqlite_match_the_client(mlflow_stores: dict[str, Path]) -> None:
    from gapwatch.trackers.mlflow import read_client, read_mlflow

    for kind, src in (("file", str(mlflow_stores["file"])), ("sqlite", f"sqlite:///{mlflow_stores['sqlite']}")):
        h = read_mlflow(src)
        _check_sweep(h)
        assert "other/x" in h.runs()
        ref = build(read_client(src if kind == "sqlite" else f"file://{src}"))
        for r in h.runs():
            for sp, m in ref.run(r).keys():  # noqa: SIM118 - History.keys() is a method, not dict.keys
                a, b = h.run(r).series(sp, m), ref.run(r).series(sp, m)
                np.testing.assert_array_equal(a.values, b.values)
                np.testing.assert_array_equal(a.step, b.step)


def test_mlflow_experiment_filter_and_errors(mlflow_stores: dict[str, Path], tmp_path: Path) -> None:
    from gapwatch.trackers.mlflow import read_mlflow

    assert read_mlflow(mlflow_stores["sqlite"], experiment="other").runs() == ["other/x"]
    assert read_mlflow(mlflow_stores["file"], experiment="other").runs() == ["other/x"]
    with pytest.raises(UsageError, match="no such experiment.*experiments: Default, other, sweep"):
        read_mlflow(mlflow_stores["sqlite"], experiment="nope")
    with pytest.raises(UsageError, match="unsupported MLflow tracking URI"):
        read_mlflow("databricks://x")
    bad = tmp_path / "x.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(InputError, match="x.db"):
        read_mlflow(bad)


def test_mlflow_locked_sqlite_store_is_one_line(mlflow_stores: dict[str, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from gapwatch.trackers import mlflow as m

    db = tmp_path / "locked.db"
    shutil.copy(mlflow_stores["sqlite"], db)
    monkeypatch.setattr(m, "SQLITE_TIMEOUT_S", 0.2)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA locking_mode=EXCLUSIVE")
    con.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(InputError, match="locked by another process") as ei:
            m.read_mlflow(db)
        assert "\n" not in str(ei.value)
    finally:
        con.execute("ROLLBACK")
        con.close()
    _check_sweep(m.read_mlflow(db))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_mlflow_tracking_server(mlflow_stores: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from gapwatch.trackers.mlflow import read_mlflow

    exe = Path(sys.executable).parent / "mlflow"
    if not exe.exists():
        pytest.skip("the mlflow server entry point is not installed")
    db = tmp_path / "server.db"
    shutil.copy(mlflow_stores["sqlite"], db)
    port = _free_port()
    proc = subprocess.Popen([str(exe), "server", "--backend-store-uri", f"sqlite:///{db}", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not start within 120 s")
        h = read_mlflow(url)
        _check_sweep(h)
        direct = read_mlflow(db)
        assert h.runs() == direct.runs()
        from gapwatch.readers import NoSuchExperiment, load

        assert load(url, experiment="other").runs() == ["other/x"]  # a tracking URI string, as load takes it
        _check_sweep(load(url, experiment="sweep"))
        with pytest.raises(NoSuchExperiment, match="experiments: Default, other, sweep$"):
            load(url, experiment="nope")
    finally:  # the server and its workers (their own process group, started above)
        import signal

        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def test_mlflow_unreachable_server_is_one_line() -> None:
    pytest.importorskip("mlflow")
    from gapwatch.trackers.mlflow import read_mlflow

    t = time.time()
    with pytest.raises(InputError, match=r"cannot reach the MLflow tracking server at http://127\.0\.0\.1"):
        read_mlflow(f"http://127.0.0.1:{_free_port()}")
    assert time.time() - t < 30


# ------------------------------------------------------------------------------------------ W&B
_WANDB_WRITER = f"""
import sys, wandb
d = sys.argv[1]
for r in range(2):
    run = wandb.init(mode="offline", project="p", name=f"r{{r}}", config={{"lr": 0.1 * (r + 1)}}, dir=d)
    for e in range(1, {EPOCHS} + 1):
        run.log({{"train/loss": 1.0 / e, "val/loss": 1.0 / e + 0.02 * e * (r + 1), "epoch": e}})
    run.finish()
"""


@pytest.fixture(scope="module")
def wandb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("wandb")
    d = tmp_path_factory.mktemp("wandb")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}
    subprocess.run([sys.executable, "-c", _WANDB_WRITER, str(d)], check=True, env=env, timeout=300)
    return d / "wandb"


def test_wandb_offline_runs(wandb_dir: Path) -> None:
    from gapwatch.trackers.wandb import read_wandb

    h = read_wandb(wandb_dir)
    assert len(h.runs()) == 2
    for name in h.runs():
        assert name.startswith("offline-run-")
        # which run is which: by the name given to wandb.init (two runs started in the same second sort by
        # their random ids, not by the order they were written)
        r = int(h.meta[name]["wandb"]["name"][1:])
        s = h.run(name).series("val", "loss")
        np.testing.assert_allclose(s.values, [1.0 / e + 0.02 * e * (r + 1) for e in range(1, EPOCHS + 1)])
        np.testing.assert_array_equal(s.step, np.arange(EPOCHS))
        np.testing.assert_array_equal(s.epoch, np.arange(1, EPOCHS + 1))
        assert h.meta[name]["hparams"] == {"lr": 0.1 * (r + 1)}
    assert sorted(h.meta[n]["wandb"]["name"] for n in h.runs()) == ["r0", "r1"]


def test_wandb_truncated_newer_and_corrupt_files(wandb_dir: Path, tmp_path: Path) -> None:
    from gapwatch.trackers.wandb import read_run

    f = sorted(wandb_dir.glob("offline-run-*/run-*.wandb"))[0]
    data = f.read_bytes()
    cut = tmp_path / "offline-run-cut" / f.name
    cut.parent.mkdir()
    cut.write_bytes(data[: len(data) * 2 // 3])  # a run still writing: complete records only
    n = len(read_run(cut.parent).blocks[0].value)
    assert 0 < n <= EPOCHS
    newer = tmp_path / "newer.wandb"
    newer.write_bytes(data[:6] + bytes([7]) + data[7:])
    with pytest.raises(InputError, match="format version 7"):
        read_run(newer)
    bad = tmp_path / "bad.wandb"
    bad.write_bytes(data[:20] + bytes([data[20] ^ 0xFF]) + data[21:])
    with pytest.raises(InputError, match="bad checksum"):
        read_run(bad)


def test_wandb_csv_export(tmp_path: Path) -> None:
    from gapwatch.trackers.wandb import read_wandb

    p = tmp_path / "export.csv"
    rows = ["Step,run-a - val_loss,run-a - val_loss__MIN,run-a - val_loss__MAX,run-b - val_loss"]
    for s in range(1, 6):
        rows.append(f"{s},{1.0 / s},{0.9 / s},{1.1 / s},{'' if s == 3 else 2.0 / s}")
    p.write_text("\n".join(rows) + "\n")
    h = read_wandb(p)
    assert h.runs() == ["run-a", "run-b"]
    np.testing.assert_allclose(h.run("run-b").series("val", "loss").values, [2.0, 1.0, 0.5, 0.4])


def test_registered_readers_feed_load_and_watch(mlflow_stores: dict[str, Path], wandb_dir: Path) -> None:
    from gapwatch.readers import load
    from gapwatch.trackers import register
    from gapwatch.watch import Watcher, WatchOptions

    register()
    register()  # idempotent
    assert [r for r in load(mlflow_stores["sqlite"]).runs() if r.startswith("sweep")] == [
        f"sweep/lr{r}" for r in range(3)]
    assert len(load(wandb_dir).runs()) == 2
    evs: list[dict[str, object]] = []
    Watcher(mlflow_stores["file"], WatchOptions(), emit=evs.append).run(once=True)
    started = [e["run"] for e in evs if e["event"] == "run_started"]
    assert [r for r in started if r.startswith("sweep")] == [f"sweep/lr{r}" for r in range(3)]
    assert json.dumps(evs)


# ------------------------------------------------------------------------------------------ trackio
def test_trackio_project_database(tmp_path: Path) -> None:
    pytest.importorskip("trackio")
    code = ("import trackio\n"
            "for r in range(2):\n"
            "    trackio.init(project='proj', name=f'r{r}', config={'lr': 0.1 * (r + 1)})\n"
            f"    for e in range(1, {EPOCHS} + 1):\n"
            "        trackio.log({'train_loss': 1.0 / e, 'val_loss': 1.0 / e + 0.02 * e * (r + 1), 'epoch': e})\n"
            "    trackio.finish()\n")
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "store")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300, capture_output=True)
    from gapwatch.readers import load
    from gapwatch.trackers import register
    from gapwatch.trackers.trackio import read_trackio

    db = tmp_path / "store" / "proj.db"
    h = read_trackio(db)
    assert h.runs() == ["proj/r0", "proj/r1"]
    for r in range(2):
        s = h.run(f"proj/r{r}").series("val", "loss")
        np.testing.assert_allclose(s.values, [1.0 / e + 0.02 * e * (r + 1) for e in range(1, EPOCHS + 1)])
        np.testing.assert_array_equal(s.epoch, np.arange(1, EPOCHS + 1))
        assert h.meta[f"proj/r{r}"]["hparams"] == {"lr": 0.1 * (r + 1)}
    register()
    assert load(db).runs() == ["proj/r0", "proj/r1"]
    assert load(db, experiment="proj").runs() == ["proj/r0", "proj/r1"]
    assert load(db.parent, experiment="proj").runs() == ["proj/proj/r0", "proj/proj/r1"]
    with pytest.raises(UsageError, match=r"'other': no such trackio project .*experiments: proj$"):
        load(db, experiment="other")
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE metrics (id INTEGER, run TEXT)")
    con.commit()
    con.close()
    with pytest.raises(InputError, match="lacks column"):
        read_trackio(other)


# ------------------------------------------------------------------------------------------ experiment=
def test_load_experiment_option_on_mlflow_stores(mlflow_stores: dict[str, Path]) -> None:
    """``gapwatch.load(path, experiment=...)``: a file store, a SQLite file and a ``sqlite:///`` URI, each holding
    the experiments "sweep" (3 runs) and "other" (1 run) written by the mlflow client."""
    import gapwatch
    from gapwatch.readers import NoSuchExperiment

    for src in (mlflow_stores["file"], mlflow_stores["sqlite"], f"sqlite:///{mlflow_stores['sqlite']}"):
        assert gapwatch.load(src, experiment="other").runs() == ["other/x"]
        h = gapwatch.load(src, experiment="sweep")
        _check_sweep(h)
        assert h.runs() == [f"sweep/lr{r}" for r in range(3)]
        with pytest.raises(NoSuchExperiment, match=r"'nope': no such experiment .*experiments: Default, other, "
                                                   r"sweep$") as ei:
            gapwatch.load(src, experiment="nope")
        assert isinstance(ei.value, UsageError) and "\n" not in str(ei.value)
        assert ei.value.found == ["Default", "other", "sweep"]
    assert set(gapwatch.load(f"sqlite:///{mlflow_stores['sqlite']}").runs()) >= {"other/x", "sweep/lr0"}


def test_experiment_option_for_a_log_without_experiments_is_one_line(tmp_path: Path) -> None:
    from gapwatch.readers import load

    f = tmp_path / "log.csv"
    f.write_text("epoch,train_loss,val_loss\n1,1.0,1.1\n2,0.8,1.0\n")
    with pytest.raises(UsageError, match=r"log\.csv: --experiment selects .*but this is a csv log") as ei:
        load(f, experiment="sweep")
    assert "\n" not in str(ei.value)
    assert load(f).runs() == ["log"]  # not given: not passed
    for bad in ("", "  "):
        with pytest.raises(UsageError, match="--experiment must be an experiment name"):
            load(f, experiment=bad)
    with pytest.raises(UsageError, match="no tracker store .*was found below this directory"):
        load(tmp_path, experiment="sweep")


def test_experiment_option_in_a_directory_of_stores_and_logs(mlflow_stores: dict[str, Path],
                                                              tmp_path: Path) -> None:
    """A directory with an mlruns/ store, a SQLite store and a CSV log: with experiment= only the stores' runs
    of that experiment; a name no store has lists the experiments of all of them."""
    import shutil

    from gapwatch.readers import NoSuchExperiment, load

    shutil.copytree(mlflow_stores["file"], tmp_path / "mlruns")
    shutil.copy(mlflow_stores["sqlite"], tmp_path / "mlflow.db")
    (tmp_path / "log.csv").write_text("epoch,train_loss,val_loss\n1,1.0,1.1\n2,0.8,1.0\n")
    assert "log" in load(tmp_path).runs()
    # a store that gives one run is named by its path, as any one-run log of a sweep
    assert load(tmp_path, experiment="other").runs() == ["mlruns", "mlflow"]
    assert sorted(load(tmp_path, experiment="sweep").runs()) == sorted(
        f"{s}/sweep/lr{r}" for s in ("mlflow", "mlruns") for r in range(3))
    with pytest.raises(NoSuchExperiment, match="experiments: Default, other, sweep$"):
        load(tmp_path, experiment="nope")


def test_watch_experiment_option(mlflow_stores: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    from gapwatch.readers import NoSuchExperiment
    from gapwatch.watch import Watcher, WatchOptions, watch

    for src in (mlflow_stores["file"], mlflow_stores["sqlite"]):
        evs: list[dict[str, object]] = []
        assert watch(src, WatchOptions(use_watchdog=False), once=True, emit=evs.append, experiment="sweep") == 0
        assert [e["run"] for e in evs if e["event"] == "run_started"] == [f"sweep/lr{r}" for r in range(3)]
        assert any(e["event"] == "finding" for e in evs)
        with pytest.raises(NoSuchExperiment, match="experiments: Default, other, sweep$"):
            watch(src, WatchOptions(use_watchdog=False), once=True, experiment="nope")
    d = tmp_path / "runs"
    d.mkdir()
    shutil.copy(mlflow_stores["sqlite"], d / "mlflow.db")
    (d / "log.csv").write_text("epoch,train_loss,val_loss\n1,1.0,1.1\n2,0.8,1.0\n")
    evs = []
    w = Watcher(d, WatchOptions(use_watchdog=False, experiment="other"), emit=evs.append)
    assert w.run(once=True) == 0
    assert [e["run"] for e in evs if e["event"] == "run_started"] == ["mlflow"]  # named as load names it
    with pytest.raises(NoSuchExperiment, match="experiments: Default, other, sweep$"):
        Watcher(d, WatchOptions(use_watchdog=False, experiment="nope")).run(once=True)
    with pytest.raises(UsageError, match=r"log\.csv: --experiment selects .*csv log"):
        Watcher(d / "log.csv", WatchOptions(use_watchdog=False, experiment="other")).run(once=True)
    with pytest.raises(UsageError, match="--experiment must be an experiment name"):
        Watcher(d, WatchOptions(experiment=""))


def test_wandb_project_as_experiment(wandb_dir: Path) -> None:
    from gapwatch.readers import NoSuchExperiment, load
    from gapwatch.trackers.wandb import read_wandb

    assert len(read_wandb(wandb_dir, experiment="p").runs()) == 2
    assert len(load(wandb_dir, experiment="p").runs()) == 2
    one = sorted(wandb_dir.glob("offline-run-*"))[0]
    assert len(load(one, experiment="p").runs()) == 1
    for src in (wandb_dir, one):
        with pytest.raises(NoSuchExperiment, match=r"'q': no such W&B project .*experiments: p$"):
            load(src, experiment="q")
    with pytest.raises(NoSuchExperiment, match="experiments: p$"):
        read_wandb(wandb_dir, experiment="q")


def test_cli_commands_take_experiment(mlflow_stores: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """``--experiment`` on analyze, series, replay and forecast, with a SQLite store given as a ``sqlite:///`` URI
    (the path argument is passed on as typed, so URIs are not mangled into paths)."""
    import json

    from gapwatch.cli import main

    uri = f"sqlite:///{mlflow_stores['sqlite']}"
    assert main(["analyze", uri, "--experiment", "other", "--json", "--no-forecast"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)["runs"]] == ["other/x"]
    assert main(["series", uri, "--experiment", "other", "--json"]) == 0
    assert {r["run"] for r in json.loads(capsys.readouterr().out)} == {"other/x"}
    assert main(["replay", uri, "--experiment", "sweep", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["runs"]) == 3
    assert main(["forecast", uri, "--experiment", "sweep", "--json"]) == 0
    capsys.readouterr()
    assert main(["analyze", uri, "--experiment", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such experiment" in err and "other, sweep" in err
