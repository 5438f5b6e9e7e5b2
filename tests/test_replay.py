"""Tests of ``gapwatch replay`` (JSON shape on every format the readers accept, edge cases, errors)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import pytest

from gapwatch.cli import main
from gapwatch.errors import UsageError
from gapwatch.policy import replay
from gapwatch.readers import load
from gapwatch.replay import SCHEMA, parse_params, replay_history
from gapwatch.testing import synth

WHERE = {"oneOf": [{"type": "null"}, {
    "type": "object", "required": ["step", "epoch"], "additionalProperties": False,
    "properties": {"step": {"type": ["integer", "null"]}, "epoch": {"type": ["number", "null"]}}}]}
REPLAY_SCHEMA = {
    "type": "object", "required": ["schema", "runs"], "additionalProperties": False,
    "properties": {
        "schema": {"const": SCHEMA},
        "runs": {"type": "array", "items": {
            "type": "object", "required": ["name", "stop", "restore", "evaluations_seen"],
            "additionalProperties": False,
            "properties": {"name": {"type": "string"}, "stop": WHERE, "restore": WHERE,
                           "evaluations_seen": {"type": "integer", "minimum": 0},
                           "monitor": {"type": "object", "required": ["split", "metric", "mode"]},
                           "reason": {"type": "string"}, "error": {"type": "string"}}}},
    },
}

U = [2.0, 1.6, 1.3, 1.1, 1.0, 0.95, 0.93, 0.97, 1.02, 1.08, 1.15, 1.2, 1.3, 1.4, 1.5]


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    keys = list(rows[0])
    lines = [",".join(keys)] + [",".join("" if r[k] is None else str(r[k]) for k in keys) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def u_rows(epoch: bool = True, step: bool = True, metric: str = "val_loss", vals=U) -> list[dict[str, object]]:
    rows = []
    for i, v in enumerate(vals):
        r: dict[str, object] = {}
        if epoch:
            r["epoch"] = i + 1
        if step:
            r["step"] = 50 * (i + 1)
        r["train_loss"] = round(2.0 * 0.8**i, 6)
        r[metric] = v
        rows.append(r)
    return rows


def run_json(capsys, *args: str) -> dict:
    rc = main(["replay", *args, "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    doc = json.loads(out)
    jsonschema.validate(doc, REPLAY_SCHEMA)
    return doc


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_json_shape_and_answer_on_csv_and_jsonl(tmp_path, capsys, fmt):
    writer = write_csv if fmt == "csv" else write_jsonl
    path = writer(tmp_path / f"run.{fmt}", u_rows())
    doc = run_json(capsys, str(path))
    (run,) = doc["runs"]
    assert run["name"] == "run"
    # best at epoch 7 (0.93); degradation confirmed after min_wait evaluations
    assert run["restore"] == {"step": 350, "epoch": 7.0}
    assert run["stop"] is not None and run["stop"]["epoch"] > 7
    assert run["evaluations_seen"] == run["stop"]["epoch"]


def test_matches_the_library_policy(tmp_path, capsys):
    s = synth.generate("overfitting", 4, noise=0.02)
    v = s.history.series("val", "loss")
    rows = [{"epoch": float(e), "step": int(st), "val_loss": float(x)} for e, st, x in zip(v.epoch, v.step, v.values)]
    doc = run_json(capsys, str(write_jsonl(tmp_path / "of.jsonl", rows)))
    d, n = replay(v.values, v.step, v.epoch)
    assert doc["runs"][0]["evaluations_seen"] == n
    want = None if d is None else {"step": int(v.step[n - 1]), "epoch": float(v.epoch[n - 1])}
    assert doc["runs"][0]["stop"] == want


def test_step_only_log(tmp_path, capsys):
    doc = run_json(capsys, str(write_csv(tmp_path / "steps.csv", u_rows(epoch=False))))
    (run,) = doc["runs"]
    assert run["restore"] == {"step": 350, "epoch": None}
    assert run["stop"]["epoch"] is None and run["stop"]["step"] > 350


def test_accuracy_only_log_is_maximised(tmp_path, capsys):
    acc = [0.2, 0.5, 0.7, 0.8, 0.85, 0.87, 0.88, 0.86, 0.83, 0.8, 0.77, 0.74, 0.7, 0.66, 0.6]
    rows = [{"epoch": i + 1, "val_acc": a} for i, a in enumerate(acc)]
    doc = run_json(capsys, str(write_jsonl(tmp_path / "acc.jsonl", rows)))
    assert doc["runs"][0]["restore"]["epoch"] == 7.0


@pytest.mark.parametrize("n", [1, 2, 3])
def test_one_to_three_evaluations_never_stop(tmp_path, capsys, n):
    doc = run_json(capsys, str(write_jsonl(tmp_path / "short.jsonl", u_rows()[:n])))
    run = doc["runs"][0]
    assert run["stop"] is None and run["evaluations_seen"] == n
    assert run["restore"]["epoch"] == float(n)  # U falls for its first evaluations


def test_all_nan_and_constant_curves(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    write_csv(sweep / "nan.csv", [{"epoch": i + 1, "train_loss": 1.0, "val_loss": "nan"} for i in range(10)])
    write_csv(sweep / "flat.csv", [{"epoch": i + 1, "train_loss": 1.0, "val_loss": 0.5} for i in range(40)])
    doc = run_json(capsys, str(sweep))
    runs = {r["name"]: r for r in doc["runs"]}
    assert runs["nan"]["stop"] is None and runs["nan"]["restore"] is None
    assert runs["nan"]["evaluations_seen"] == 10
    assert runs["flat"]["restore"] == {"step": None, "epoch": 1.0}
    assert runs["flat"]["stop"] is not None  # the patience cap ends a run that never moves


def test_monitor_and_mode_options(tmp_path, capsys):
    rows = u_rows()
    for i, r in enumerate(rows):
        r["val_acc"] = 0.5 + 0.01 * i  # keeps improving
    path = write_jsonl(tmp_path / "two.jsonl", rows)
    by_loss = run_json(capsys, str(path), "--monitor", "val_loss")
    by_acc = run_json(capsys, str(path), "--monitor", "val_acc")
    # issue 13: by default the task metric beside the loss decides, as with --monitor val_acc
    assert run_json(capsys, str(path))["runs"][0]["stop"] == by_acc["runs"][0]["stop"]
    assert by_loss["runs"][0]["stop"] is not None
    assert by_acc["runs"][0]["stop"] is None and by_acc["runs"][0]["restore"]["epoch"] == 15.0
    forced = run_json(capsys, str(path), "--monitor", "val_acc", "--mode", "min")
    assert forced["runs"][0]["restore"]["epoch"] == 1.0


def test_param_and_keep_through_memorization(tmp_path, capsys):
    s = synth.generate("grokking", 2, noise=0.01)
    v = s.history.series("val", "loss")
    rows = [{"epoch": float(e), "val_loss": float(x)} for e, x in zip(v.epoch, v.values)]
    path = write_jsonl(tmp_path / "grok.jsonl", rows)
    default = run_json(capsys, str(path))["runs"][0]
    keep = run_json(capsys, str(path), "--keep-through-memorization")["runs"][0]
    assert default["stop"]["epoch"] < s.label.onset_epoch
    assert keep["evaluations_seen"] > s.label.onset_epoch
    capped = run_json(capsys, str(path), "--param", "max_wait=4", "--param", "min_wait=2")["runs"][0]
    assert capped["evaluations_seen"] <= default["evaluations_seen"]


def test_human_table(tmp_path, capsys):
    rc = main(["replay", str(write_csv(tmp_path / "run.csv", u_rows()))])
    out = capsys.readouterr().out
    assert rc == 0 and "replay" in out and "run" in out


@pytest.mark.parametrize(
    "args, code, needle",
    [
        (["--param", "foo=1"], 2, "foo"),
        (["--param", "max_wait=zero"], 2, "zero"),
        (["--param", "max_wait"], 2, "KEY=VALUE"),
        (["--mode", "median"], 2, "median"),
    ],
)
def test_usage_errors(tmp_path, capsys, args, code, needle):
    path = write_csv(tmp_path / "run.csv", u_rows())
    rc = main(["replay", str(path), *args])
    err = capsys.readouterr().err
    assert rc == code and needle in err


def test_no_validation_series_is_an_input_error(tmp_path, capsys):
    path = write_csv(tmp_path / "train_only.csv", [{"epoch": i, "train_loss": 1.0 / (i + 1)} for i in range(5)])
    rc = main(["replay", str(path), "--json"])
    err = capsys.readouterr().err
    assert rc == 1 and "validation" in err and "train_only" in err


def test_parse_params_validates():
    assert parse_params(["max_wait=10", "z_stop=2.5"], True) == {
        "max_wait": 10, "z_stop": 2.5, "keep_through_memorization": True}
    with pytest.raises(UsageError, match="min_wait \\(9\\)"):
        parse_params(["min_wait=9", "max_wait=4"])


def test_replay_history_api(tmp_path):
    h = load(write_jsonl(tmp_path / "r.jsonl", u_rows()))
    (res,) = replay_history(h)
    assert res.monitor is not None and res.monitor.label == "val_loss"
    assert res.restore_value == pytest.approx(0.93) and not math.isnan(res.restore_value)


LOG_FIXTURES = sorted(p for p in (Path(__file__).parent / "fixtures" / "logs").glob("*") if p.is_dir())


@pytest.mark.parametrize("path", LOG_FIXTURES, ids=[p.name for p in LOG_FIXTURES])
def test_every_reader_format_replays(capsys, path):
    doc = run_json(capsys, str(path))
    assert doc["runs"] and all(r["evaluations_seen"] > 0 for r in doc["runs"])


def test_sweep_with_one_run_lacking_validation_warns_and_keeps_the_shape(tmp_path, capsys):
    sweep = tmp_path / "mixed"
    sweep.mkdir()
    write_csv(sweep / "good.csv", u_rows())
    write_csv(sweep / "bad.csv", [{"epoch": i + 1, "train_loss": 1.0 / (i + 1)} for i in range(5)])
    rc = main(["replay", str(sweep), "--json"])
    cap = capsys.readouterr()
    assert rc == 0 and "bad" in cap.err and "warning" in cap.err
    doc = json.loads(cap.out)
    jsonschema.validate(doc, REPLAY_SCHEMA)
    runs = {r["name"]: r for r in doc["runs"]}
    bad = dict(runs["bad"])
    assert "no validation series" in bad.pop("error")  # the document says why, not only stderr (issue 12)
    assert bad == {"name": "bad", "stop": None, "restore": None, "evaluations_seen": 0}
    assert runs["good"]["stop"] is not None
