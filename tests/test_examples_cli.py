"""`gapwatch examples TABLE` (--json and rich) and summary_beside for `gapwatch analyze` / the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gapwatch.cli import main
from gapwatch.examples import TABLE_NAMES, ExampleTable, summary_beside, write_table


def _npz(path: Path, n: int = 40, E: int = 8, noisy: int = 10, seed: int = 0) -> Path:
    """Clean examples: margin rises to +3; the first `noisy` ones stay at −2 (wrong labels, never fitted)."""
    rng = np.random.default_rng(seed)
    margin = np.linspace(-0.5, 3.0, E)[:, None] + rng.normal(0, 0.2, (E, n))
    margin[:, :noisy] = -2.0 + rng.normal(0, 0.2, (E, noisy))
    loss = np.log1p(np.exp(-margin))
    np.savez(path, loss=loss, margin=margin, label=rng.integers(0, 3, n))
    return path


def test_cli_json_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _npz(tmp_path / "e.npz")
    assert main(["examples", str(p), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "gapwatch.examples/1" and doc["n"] == 40 and doc["epochs"] == 8
    assert sorted(doc["likely_mislabeled"]) == list(range(10))
    for name, vals in doc["scores"].items():
        assert len(vals) == 40 and all(np.isfinite(vals)), name
    assert doc["directions"]["aum_early"] == "low" and doc["directions"]["mislabel"] == "high"
    assert set(doc["prunable"]).isdisjoint(range(10))
    assert isinstance(doc["memorized"], list)


def test_cli_loss_only_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    loss = np.full((6, 30), 0.05) + rng.random((6, 30)) * 0.01
    loss[:, :5] = 3.0
    np.savez(tmp_path / "l.npz", loss=loss)
    assert main(["examples", str(tmp_path / "l.npz"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["default_score"] == "loss_early" and sorted(doc["likely_mislabeled"]) == [0, 1, 2, 3, 4]


def test_cli_rich_and_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    z = np.load(_npz(tmp_path / "e.npz"))
    t = ExampleTable(index=np.arange(40), epochs=np.arange(8), loss=z["loss"], margin=z["margin"], label=z["label"])
    p = write_table(t, tmp_path / "examples.parquet", n=40)
    assert main(["examples", str(p)]) == 0
    out = capsys.readouterr().out
    assert "likely mislabelled: 10" in out and "most suspicious" in out
    assert main(["examples", str(p), "--n", "41"]) == 1
    assert "dataset has 41" in capsys.readouterr().err


def test_cli_bad_input_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "b.npz", loss=np.array([[0.1, np.nan, 0.2]]))
    assert main(["examples", str(tmp_path / "b.npz"), "--json"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "NaN/inf for example index 1 at epoch 0" in err
    assert main(["examples", str(tmp_path / "missing.npz")]) == 1
    assert "file not found" in capsys.readouterr().err


def test_summary_beside(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text("{}\n")
    assert summary_beside(log) is None
    _npz(tmp_path / TABLE_NAMES[1])
    summary = summary_beside(log)
    assert summary is not None and summary.error is None
    s = summary.to_dict()  # the gapwatch.examples.summary/1 document
    assert s["schema"] == "gapwatch.examples.summary/1"
    assert s["n"] == 40 and s["counts"]["likely_mislabeled"] == 10
    assert {r["index"] for r in s["top_suspicious"]} == set(range(10))
    assert set(s["histograms"]) >= {"aum_early", "loss_early"}
    h = s["histograms"]["aum_early"]
    assert len(h["edges"]) == len(h["counts"]) + 1 and sum(h["counts"]) == 40
    json.dumps(s)  # JSON-able
    beside_dir = summary_beside(tmp_path)  # a directory works too
    assert beside_dir is not None and beside_dir.path == s["path"]
    # a broken table gives an error entry, not an exception
    (tmp_path / TABLE_NAMES[0]).write_text("not parquet")
    bad = summary_beside(log)
    assert bad is not None and bad.error is not None and "not a readable Parquet file" in bad.error
    assert set(bad.to_dict()) == {"schema", "path", "error"}
