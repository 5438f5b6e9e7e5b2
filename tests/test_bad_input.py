"""Bad input: every case gets one line naming the file and the place (exit 1 unreadable input, 2 usage), or a
``data`` finding; never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gapwatch.cli import main

LOGS = Path(__file__).parent / "fixtures" / "logs"
# the tracker stores register themselves as readers (gapwatch.trackers), before the log formats they resemble
FORMATS = ("supported: mlflow, trackio, notebook, hf-trainer, tensorboard, lightning-csv, keras-csv, history-json, "
           "catboost-json, jsonl, bare-series, wandb, csv, history-csv, yolo-txt, torch7-logger, text")


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["analyze", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("gapwatch: error: ")
    assert "Traceback" not in err
    return lines[0]


def write(p: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


CASES = [
    # (name, file name, content, exit code, regexes the message must contain)
    ("empty", "log.csv", "", 1, [r"log\.csv", r"empty \(0 bytes\)"]),
    ("header only", "log.csv", "epoch,train_loss,val_loss\n", 1, [r"log\.csv", "no numeric observations"]),
    ("binary", "weights.bin", bytes(range(256)) * 4, 1,
     [r"weights\.bin", "unknown log format", r"binary data \(first bytes 00 01 02", FORMATS]),
    ("prose", "notes.txt", "we trained a model\nit went well\n", 1,
     [r"notes\.txt", r"unknown log format \(saw first line 'we trained a model'\)", FORMATS]),
    ("non-numeric csv", "log.csv", "epoch,train_loss,val_loss\n1,0.5,0.4\n2,0.4,oops\n", 1,
     [r"log\.csv, line 3", r"column 'val_loss'", "'oops'"]),
    ("non-numeric jsonl", "log.jsonl", '{"epoch": 1, "val_loss": 0.5}\n{"epoch": 2, "val_loss": "n/a"}\n', 1,
     [r"log\.jsonl, line 2", r"key 'val_loss'", "'n/a'"]),
    ("bad json line", "log.jsonl", ('{"epoch": 1, "val_loss": 0.5}\n{"epoch": 2, "val_loss" 0.4}\n'
                                     '{"epoch": 3, "val_loss": 0.3}\n'), 1, [r"log\.jsonl, line 2", "not valid JSON"]),
    ("ragged csv", "log.csv", "epoch,val_loss\n1,0.5\n2,0.4,0.3,9\n", 1,
     [r"log\.csv, line 3", "4 cells but the header has 2 columns"]),
    ("no validation series", "keras.csv", "epoch,loss,accuracy\n0,0.9,0.5\n1,0.7,0.6\n", 1,
     [r"keras\.csv", "no validation series", "val_loss", "Metrics found: loss, accuracy"]),
    ("corrupt tensorboard", "events.out.tfevents.123.host", b"\xff" * 64, 1,
     [r"events\.out\.tfevents\.123\.host", "not a TensorBoard event file"]),
    ("truncated trainer_state", "trainer_state.json", '{\n  "log_history": [\n    {"loss": 1.0, "step": 1},\n', 1,
     [r"trainer_state\.json, line \d", "not valid JSON"]),
    ("non-numeric trainer_state", "trainer_state.json",
     json.dumps({"log_history": [{"step": 1, "eval_loss": 0.5}, {"step": 2, "eval_loss": "high"}]}), 1,
     [r"trainer_state\.json, log_history entry #2", r"key 'eval_loss'", "'high'"]),
    ("duplicate header", "log.csv", "epoch,val_loss,val_loss\n1,0.5,0.4\n", 1,
     [r"log\.csv, line 1", r"duplicate column name\(s\) \['val_loss'\]"]),
    ("latin-1 csv", "log.csv", "epoch,val_loss,caf\xe9\n1,0.5,1\n".encode("latin-1"), 1,
     [r"log\.csv", "not a UTF-8 text file"]),
    ("deeply nested jsonl", "log.jsonl", '{"epoch": 1, "val_loss": 0.5}\n{"x": ' + "[" * 50000 + "]" * 50000 + "}\n",
     1, [r"log\.jsonl, line 2", r"not valid JSON \(nested too deeply\)"]),
    ("deeply nested trainer_state", "trainer_state.json", '{"log_history": ' + "[" * 50000 + "]" * 50000 + "}", 1,
     [r"trainer_state\.json", "nested too deeply"]),
]


@pytest.mark.parametrize("name,fname,content,code,patterns", CASES, ids=[c[0] for c in CASES])
def test_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, fname: str,
                  content: str | bytes, code: int, patterns: list[str]) -> None:
    import re

    f = write(tmp_path / fname, content)
    got, out, err = run_cli(capsys, str(f), "--json")
    line = one_line_error(err)
    assert got == code, line
    for pat in patterns:
        assert re.search(pat, line), (pat, line)
    assert out == ""


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, str(tmp_path / "nope" / "log.csv"))
    line = one_line_error(err)
    assert code == 2
    assert "nope/log.csv: no such file or directory" in line and "does not exist either" in line


def test_directory_where_a_file_is_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory named like a log (e.g. a failed download that created 'metrics.csv/') holds nothing."""
    (tmp_path / "metrics.csv").mkdir()
    write(tmp_path / "metrics.csv" / "README", "nothing here\n")
    code, _, err = run_cli(capsys, str(tmp_path / "metrics.csv"))
    line = one_line_error(err)
    assert code == 1
    assert "no training logs found in this directory" in line and "README" in line and FORMATS in line


def test_unreadable_file_in_place_of_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tests run as root, so chmod cannot make a file unreadable: a broken symlink is a file that cannot be
    opened."""
    (tmp_path / "log.csv").symlink_to(tmp_path / "gone.csv")
    code, _, err = run_cli(capsys, str(tmp_path / "log.csv"))
    assert code == 2 and "no such file or directory" in one_line_error(err)


def test_fifo_is_a_usage_error_not_a_hang(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    os.mkfifo(tmp_path / "log.csv")
    code, _, err = run_cli(capsys, str(tmp_path / "log.csv"))
    assert code == 2 and "not a regular file or directory" in one_line_error(err)


def test_bad_monitor_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, str(LOGS / "keras" / "training.csv"), "--mode", "sideways")
    assert code == 2 and "--mode" in one_line_error(err)


def test_monitor_not_logged_lists_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, str(LOGS / "keras" / "training.csv"), "--monitor", "val_f1")
    line = one_line_error(err)
    assert code == 1
    assert "val/f1 was not logged" in line and "val_loss" in line


def _data_findings(doc: dict) -> list[dict]:
    return [f for r in doc["runs"] for f in r["findings"] if f["kind"] == "data"]


def test_resumed_steps_are_a_data_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path / "resumed.csv",
              "step,train_loss,val_loss\n10,1,0.5\n20,0.8,0.4\n30,0.7,0.3\n20,0.8,0.45\n30,0.7,0.5\n40,0.6,0.6\n")
    code, out, _ = run_cli(capsys, str(f), "--json")
    assert code == 0
    msgs = [d["message"] for d in _data_findings(json.loads(out))]
    assert any("val/loss" in m and "kept the last value" in m and "dropped 2" in m and "resumed.csv" in m
               for m in msgs), msgs


def test_single_evaluation_is_a_data_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path / "one.csv", "epoch,train_loss,val_loss\n1,0.5,0.4\n2,0.4,\n")
    code, out, _ = run_cli(capsys, str(f), "--json")
    assert code == 0
    (d,) = [d for d in _data_findings(json.loads(out)) if "evaluation" in d["message"]]
    assert "1 finite evaluation" in d["message"] and "one.csv" in d["message"]


def test_one_bad_run_does_not_hide_a_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(LOGS / "keras" / "training.csv", tmp_path / "good.csv")
    write(tmp_path / "noval.csv", "epoch,loss\n0,1\n1,0.5\n")
    code, out, _ = run_cli(capsys, str(tmp_path), "--json")
    assert code == 0
    runs = {r["name"]: r for r in json.loads(out)["runs"]}
    assert runs["good"]["best"] is not None
    assert "no validation series" in runs["noval"]["error"]


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "gapwatch"
    if not exe.exists():
        pytest.skip("console script not installed next to the interpreter")
    bad = write(tmp_path / "log.csv", "epoch,val_loss\n1,abc\n")
    for args, code in ((["analyze", str(bad)], 1), (["analyze", str(tmp_path / "missing.csv")], 2)):
        p = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120, check=False)
        assert p.returncode == code, p.stderr
        assert "Traceback" not in p.stderr and p.stderr.startswith("gapwatch: error: ")


def test_a_csv_with_git_merge_conflict_markers_is_refused_with_what_they_are(tmp_path: Path) -> None:
    # a results.csv committed mid-merge (seen in the real-log corpus): a complete conflict is read as one run per
    # side (which to keep is the user's call); one without its closing marker is refused, naming the marker
    p = tmp_path / "results.csv"
    p.write_text("epoch,loss,val_loss\n0,1.0,1.1\n<<<<<<< HEAD\n1,0.9,1.0\n=======\n1,0.8,1.0\n>>>>>>> 3f2a1c\n")
    from gapwatch import load
    from gapwatch.errors import InputError

    assert load(p).runs() == ["results#HEAD", "results#3f2a1c"]
    p.write_text("epoch,loss,val_loss\n0,1.0,1.1\n<<<<<<< HEAD\n1,0.9,1.0\n=======\n1,0.8,1.0\n")
    with pytest.raises(InputError) as e:
        load(p)
    msg = str(e.value)
    assert "line 3" in msg and "merge-conflict marker" in msg and str(p) in msg
