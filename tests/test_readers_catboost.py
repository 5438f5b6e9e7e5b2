"""CatBoost's ``catboost_info/catboost_training.json`` (:mod:`gapwatch.readers.catboost_json`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gapwatch import analyze, load
from gapwatch.errors import InputError
from gapwatch.findings import FindingKind
from gapwatch.readers import sniff


def _doc(n: int, test_sets: list[str], metrics: list[str], best: int) -> dict:
    """A document in CatBoost's layout: ``n`` iterations; the evaluation sets' first metric is best at ``best``
    and rises after it (the learning set's keeps falling)."""
    its = []
    for i in range(n):
        learn = [1.0 * 0.99 ** i + 0.01 * k for k in range(len(metrics))]
        test = [0.8 * 0.99 ** min(i, best) + 0.002 * max(0, i - best) + 0.01 * k for k in range(len(metrics))]
        rec = {"learn": learn, "iteration": i, "passed_time": 0.04 * (i + 1), "remaining_time": 0.04 * (n - i)}
        for t in test_sets:
            rec[t] = test
        its.append(rec)
    meta = {"test_sets": test_sets, "test_metrics": [{"best_value": "Min", "name": m} for m in metrics],
            "learn_metrics": [{"best_value": "Min", "name": m} for m in metrics], "launch_mode": "Train",
            "parameters": "", "iteration_count": n, "learn_sets": ["learn"], "name": "experiment"}
    return {"meta": meta, "iterations": its}


def test_read_and_judged(tmp_path: Path) -> None:
    p = tmp_path / "catboost_training.json"
    p.write_text(json.dumps(_doc(400, ["test"], ["MultiClass"], best=150)))
    assert sniff(p).name == "catboost-json"
    h = load(p)
    assert sorted(h.keys()) == [("train", "loss"), ("val", "loss")]
    assert "val_MultiClass_loss" in h.names()  # (CatBoost's multi-class log-loss is the loss)
    s = h.series("val", "loss")
    assert s.x[0] == 0.0 and s.x[-1] == 399.0
    (r,) = analyze(h, forecast=False).runs
    assert any(f.kind == FindingKind.OVERFITTING for f in r.findings)


def test_a_second_evaluation_set_is_a_test_split(tmp_path: Path) -> None:
    p = tmp_path / "catboost_training.json"
    p.write_text(json.dumps(_doc(50, ["test", "test1"], ["RMSE"], best=49)))
    assert {("train", "rmse"), ("val", "rmse"), ("test", "rmse")} <= set(load(p).keys())


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["iterations"][3].__setitem__("test", [0.1, 0.2]), r"iterations\[3\]\.test should be a list of 1"),
    (lambda d: d["iterations"][1].pop("iteration"), r"iterations\[1\] has no number 'iteration'"),
    (lambda d: d["meta"].__setitem__("test_metrics", "RMSE"), "'meta.test_sets' / 'meta.test_metrics'"),
])
def test_bad_documents_name_the_entry(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    d = _doc(10, ["test"], ["RMSE"], best=9)
    mutate(d)
    p = tmp_path / "catboost_training.json"
    p.write_text(json.dumps(d))
    with pytest.raises(InputError, match=message):
        load(p)
