"""`gapwatch demo` trains under the guard, stops early, says what it saved, and the log shows overfitting."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from typer.testing import CliRunner  # noqa: E402

from gapwatch.analysis import analyze  # noqa: E402
from gapwatch.cli import app  # noqa: E402
from gapwatch.demo import MONITOR, train_demo  # noqa: E402
from gapwatch.monitor import parse_monitor  # noqa: E402
from gapwatch.readers import load  # noqa: E402
from gapwatch.replay import replay_guard_log as replay_log  # noqa: E402

pytestmark = pytest.mark.slow


def test_demo_cli_stops_early_and_reports(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert "epochs not trained" in res.output and "restored best" in res.output
    assert "without the guard" in res.output
    assert (tmp_path / "d" / "report.html").stat().st_size > 0
    # the run the guard prevented shows the overfitting clearly
    a = analyze(load(tmp_path / "d" / "without-guard.jsonl"), monitor=parse_monitor(MONITOR))
    assert any(f.kind == "overfitting" for f in a.runs[0].findings)
    assert not any(f.kind == "data" for f in a.runs[0].findings), "clean log: no repeated steps"


def test_demo_guard_decisions_replay_and_restore_helps(tmp_path):
    s = train_demo(tmp_path, epochs=120, verbose=False, compare=False)
    assert s["stop_epoch"] is not None and s["final_epoch"] == s["stop_epoch"] < 120
    assert s["best_epoch"] < s["stop_epoch"] and s["unguarded_log"] is None
    assert s["restored_test_acc"] >= s["final_test_acc"]
    first, n = replay_log(s["log"])
    assert first is not None and n == s["stop_epoch"]
