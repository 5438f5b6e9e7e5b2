"""History: the tidy table, its helpers, immutability and resumed-run handling."""

from __future__ import annotations

import contextlib
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.errors import InputError
from gapwatch.history import COLUMNS, History
from gapwatch.readers._parts import Parts, build, needs_dedupe


def small() -> History:
    rows = [{"epoch": e, "step": 10 * e, "train_loss": 1.0 / e, "val_loss": 0.5 + (e - 3) ** 2 / 10,
             "val_acc": 0.5 + e / 100} for e in range(1, 6)]
    return History.from_records(rows, run="r", source="log.jsonl")


def test_columns_and_original_names() -> None:
    h = small()
    assert list(h.frame.columns) == list(COLUMNS)
    assert h.keys() == [("train", "loss"), ("val", "loss"), ("val", "acc")]
    assert h.names() == ["train_loss", "val_loss", "val_acc"]
    assert h.series("val", "loss").name == "val_loss"


def test_series_values_and_axis() -> None:
    s = small().series("val", "loss")
    assert s.x_kind == "epoch"
    np.testing.assert_array_equal(s.epoch, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(s.step, [10, 20, 30, 40, 50])
    np.testing.assert_allclose(s.values, [0.9, 0.6, 0.5, 0.6, 0.9])
    assert s.at(2) == {"step": 30, "epoch": 3.0}


def test_series_missing_lists_what_is_there() -> None:
    with pytest.raises(KeyError, match="val/loss"):
        small().series("test", "acc")


def test_series_needs_run_on_sweeps() -> None:
    h = History.concat([small(), small().with_run_name("other")])
    with pytest.raises(ValueError, match="run="):
        h.series("val", "loss")
    assert len(h.series("val", "loss", run="other")) == 5
    assert [r.name for r in h] == ["r", "other"]


def test_aligned_matches_train_to_each_evaluation() -> None:
    # train loss logged every step, validation every 5 steps
    recs = [{"step": s, "loss": 1.0 / s} for s in range(1, 21)]
    recs += [{"step": s, "eval_loss": 0.1 * s} for s in (5, 10, 15, 20)]
    a = History.from_records(recs).aligned("loss")
    np.testing.assert_array_equal(a["x"], [5, 10, 15, 20])
    np.testing.assert_allclose(a["train"], [1 / 5, 1 / 10, 1 / 15, 1 / 20])
    np.testing.assert_allclose(a["val"], [0.5, 1.0, 1.5, 2.0])


def test_immutability() -> None:
    h = small()
    with pytest.raises(AttributeError):
        h.notes = ()  # type: ignore[misc]
    f = h.frame
    f.loc[:, "value"] = -1.0
    assert (h.frame["value"] > 0).all()
    s = h.series("val", "loss")
    with contextlib.suppress(ValueError):
        s.values[:] = 0  # a Series' arrays are read-only views or copies: never the History's storage
    assert h.series("val", "loss").values[0] == pytest.approx(0.9)
    m = h.with_meta("r", lr=0.1)
    assert m.meta["r"]["lr"] == 0.1 and "r" not in h.meta


def test_nan_and_inf_are_kept() -> None:
    h = History.from_records([{"epoch": 1, "val_loss": 1.0}, {"epoch": 2, "val_loss": float("nan")},
                              {"epoch": 3, "val_loss": float("inf")}])
    v = h.series("val", "loss").values
    assert v[0] == 1.0 and math.isnan(v[1]) and math.isinf(v[2])


def test_resumed_run_keeps_last_and_says_so() -> None:
    # crashed after step 30, resumed from the step-20 checkpoint: steps 30 logged twice
    recs = [{"step": s, "val_loss": 1.0 / s} for s in (10, 20, 30)] + \
           [{"step": s, "val_loss": 2.0 / s} for s in (30, 40)]
    h = History.from_records(recs, run="resumed", source="x.jsonl")
    s = h.series("val", "loss")
    np.testing.assert_array_equal(s.step, [10, 20, 30, 40])
    np.testing.assert_allclose(s.values, [0.1, 0.05, 2 / 30, 0.05])
    (note,) = h.notes
    assert "kept the last value" in note.message and "dropped 1" in note.message


def test_bad_value_names_record_and_key() -> None:
    with pytest.raises(InputError, match=r"f\.jsonl, line 2: key 'val_loss'.*'oops'"):
        History.from_records([{"epoch": 1, "val_loss": 1}, {"epoch": 2, "val_loss": "oops"}], source="f.jsonl")


def test_missing_columns_raise() -> None:
    with pytest.raises(InputError, match="missing"):
        History(pd.DataFrame({"run": ["a"], "value": [1.0]}))


def test_parts_build_equals_from_records() -> None:
    p = Parts("r", "log.csv")
    p.add(np.array([10.0, 20.0]), np.array([1.0, 2.0]), "val", "loss", np.array([0.5, 0.4]), "val_loss")
    h = build([p])
    ref = History.from_records([{"epoch": 1, "step": 10, "val_loss": 0.5}, {"epoch": 2, "step": 20, "val_loss": 0.4}],
                               run="r")
    pd.testing.assert_frame_equal(h.frame, ref.frame)


_steps = st.lists(st.integers(0, 30), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(_steps)
def test_dedupe_property(steps: list[int]) -> None:
    """Whatever order steps come in: one value per step, the last one logged, sorted; a note iff needed. The one
    exception: strictly increasing steps whose last step comes once or more again (final re-evaluations) keep
    the run's own value there."""
    recs = [{"step": s, "val_loss": float(i)} for i, s in enumerate(steps)]
    h = History.from_records(recs)
    s = h.series("val", "loss", x="step")
    last = {st_: float(i) for i, st_ in enumerate(steps)}
    n = len(steps)
    m = next((k for k in range(1, n + 1) if k == n or steps[-k - 1] != steps[-1]), n)  # trailing repeats
    if m >= 2 and n - m >= 1 and all(a < b for a, b in itertools.pairwise(steps[:n - m + 1])):
        last[steps[-1]] = float(n - m)
    assert list(s.step) == sorted(last)
    assert list(s.values) == [last[k] for k in sorted(last)]
    needed = any(b <= a for a, b in itertools.pairwise(steps))
    assert bool(h.notes) == needed
    # the vectorised pre-check used by the readers agrees with History.dedupe
    raw = pd.DataFrame({"run": "r", "step": [float(x) for x in steps], "epoch": np.nan, "split": "val",
                        "metric": "loss", "value": np.arange(len(steps), dtype=float), "name": "val_loss"})
    assert bool(needs_dedupe(raw).any()) == needed


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), _steps), min_size=1, max_size=4))
def test_build_resolves_only_runs_that_need_it(runs: list[tuple[str, list[int]]]) -> None:
    parts = {}
    for name, steps in runs:
        p = parts.setdefault(name, Parts(name, f"{name}.csv"))
        p.add(np.asarray(steps, float), np.full(len(steps), np.nan), "val", "loss",
              np.arange(len(steps), dtype=float), "val_loss")
    h = build(list(parts.values()))
    for name, p in parts.items():
        steps = np.concatenate([b.step for b in p.blocks])
        vals = np.concatenate([b.value for b in p.blocks])
        last = {float(s): float(v) for s, v in zip(steps, vals)}
        n = len(steps)
        k = int(np.sum(steps == steps[-1])) - 1  # values more at the last step
        if k >= 1 and n >= k + 2 and bool(np.all(steps[-k - 1:] == steps[-1])) \
                and bool(np.all(np.diff(steps[:n - k]) > 0)):
            # final re-evaluations at the last step (one or more, after strictly increasing steps) are left out
            last[float(steps[-1])] = float(vals[n - k - 1])
        s = h.series("val", "loss", run=name, x="step")
        assert list(s.step) == sorted(last)
        assert list(s.values) == [last[k] for k in sorted(last)]
    assert h.runs() == list(parts)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=30), st.lists(st.integers(0, 40), min_size=1, max_size=10))
def test_aligned_equals_merge_asof(train_steps: list[int], val_steps: list[int]) -> None:
    recs = [{"step": s, "loss": float(i)} for i, s in enumerate(sorted(set(train_steps)))]
    recs += [{"step": s, "eval_loss": 100.0 + i} for i, s in enumerate(sorted(set(val_steps)))]
    h = History.from_records(recs)
    a = h.aligned("loss")
    tr = h.series("train", "loss", x="step")
    right = pd.DataFrame({"x": tr.step, "train": tr.values})
    left = pd.DataFrame({"x": a["x"].to_numpy()})
    want = pd.merge_asof(left, right, on="x", direction="backward")["train"].to_numpy()
    np.testing.assert_array_equal(a["train"].to_numpy(), want)


def test_table_from_a_mapping_equals_from_a_dataframe() -> None:
    """The constructor takes a pandas DataFrame or a mapping of columns (scalars repeated), same History."""
    cols = {"run": "r", "step": [10, 20, "x"], "epoch": [1.0, 2.0, 3.0], "split": "val", "metric": "loss",
            "value": [0.5, None, "0.25"]}
    a, b = History(cols), History(pd.DataFrame(cols))
    pd.testing.assert_frame_equal(a.frame, b.frame)
    s = a.series("val", "loss")
    np.testing.assert_array_equal(s.step, [10.0, 20.0, np.nan])  # not a number: NaN, as pd.to_numeric(coerce)
    np.testing.assert_array_equal(s.values, [0.5, np.nan, 0.25])
    assert a.names() == ["val_loss"]  # name defaults to <split>_<metric>
    with pytest.raises(InputError, match="differ in length"):
        History({"run": ["a", "b"], "split": "val", "metric": "loss", "value": [1.0, 2.0, 3.0]})


def test_columns_are_copies_with_the_frame_s_values() -> None:
    h = small()
    cols = h.columns()
    assert list(cols) == list(COLUMNS)
    for c in COLUMNS:
        np.testing.assert_array_equal(cols[c], h.frame[c].to_numpy(object if c in ("run", "split", "metric",
                                                                                  "name") else float))
    cols["value"][:] = -1.0
    cols["name"][:] = "changed"
    assert (h.frame["value"] > 0).all() and h.names() == ["train_loss", "val_loss", "val_acc"]


def test_concat_merges_the_string_tables() -> None:
    a = small()
    b = History.from_records([{"epoch": 1, "test_loss": 2.0, "val_loss": 1.0}], run="b")
    h = History.concat([a, b])
    assert h.runs() == ["r", "b"] and h.splits() == ["train", "val", "test"]
    assert h.names() == ["train_loss", "val_loss", "val_acc", "test_loss"]
    assert h.series("test", "loss", run="b").values.tolist() == [2.0]
    assert [r.keys() for r in h] == [a.keys(), [("test", "loss"), ("val", "loss")]]
    assert h.run("b").names() == ["test_loss", "val_loss"] and len(h.run("r")) == len(a)


def test_from_columns_checks_its_arguments() -> None:
    num = {"step": np.array([1.0, 2.0]), "epoch": np.array([np.nan, np.nan]), "value": np.array([0.5, 0.4])}
    one = (np.zeros(2, dtype=np.int32), ["x"])
    text = {"run": one, "split": (np.zeros(2, dtype=np.int32), ["val"]), "metric": (np.zeros(2), ["loss"]),
            "name": (np.zeros(2), ["val_loss"])}
    h = History.from_columns(num, text)
    assert h.series("val", "loss").values.tolist() == [0.5, 0.4] and h.name == "x"
    with pytest.raises(InputError, match="codes must be in"):
        History.from_columns(num, {**text, "run": (np.array([0, 1]), ["x"])})
    with pytest.raises(InputError, match="expected shape"):
        History.from_columns({**num, "step": np.zeros(3)}, text)
    with pytest.raises(InputError, match="missing"):
        History.from_columns(num, {k: v for k, v in text.items() if k != "name"})


def test_dedupe_regroups_rows_as_the_pandas_version_did() -> None:
    """Rows come out grouped by (run, split, metric) in first-appearance order; only resolved groups sort."""
    recs = [{"step": 1, "loss": 1.0, "val_loss": 2.0}, {"step": 3, "loss": 0.9},
            {"step": 2, "loss": 0.8, "val_loss": 1.5}, {"step": 2, "loss": 0.7}]
    h = History.from_records(recs, run="r")
    f = h.frame
    assert f["name"].tolist() == ["loss", "loss", "loss", "val_loss", "val_loss"]
    assert f["step"].tolist() == [1.0, 2.0, 3.0, 1.0, 2.0]
    assert f["value"].tolist() == [1.0, 0.7, 0.9, 2.0, 1.5]
    (note,) = h.notes
    assert note.message.startswith("train/loss:") and "dropped 1" in note.message


def test_a_final_re_evaluation_at_the_last_step_is_left_out() -> None:
    """Ultralytics validates best.pt after the last epoch and writes it at the last epoch's step (HF's
    load_best_model_at_end does the same with the restored best model): the curve ends with the run's own last
    evaluation, not the best checkpoint's, or a decline at the end would be hidden."""
    recs = [{"step": s, "val_acc": v} for s, v in [(1, 0.5), (2, 0.8), (3, 0.7), (4, 0.6), (4, 0.8)]]
    h = History.from_records(recs)
    s = h.series("val", "acc", x="step")
    assert list(s.values) == [0.5, 0.8, 0.7, 0.6]
    assert any("final re-evaluation" in n.message for n in h.notes)
    # a resumed run (steps go back) keeps the last value per step, as before
    recs = [{"step": s, "val_acc": v} for s, v in [(1, 0.5), (2, 0.6), (3, 0.7), (2, 0.65), (3, 0.75)]]
    s = History.from_records(recs).series("val", "acc", x="step")
    assert list(s.values) == [0.5, 0.65, 0.75]


def test_with_split_moves_one_series_and_keeps_its_logged_name() -> None:
    h = History.from_records([{"epoch": e, "loss": 1.0 / e, "acc": 0.5 + e / 100, "val_loss": 1.2 / e}
                              for e in range(1, 5)], run="r")
    moved = h.with_split("train", "acc", "test", note="acc: the user says it is held out")
    assert moved.has("test", "acc") and not moved.has("train", "acc")
    assert moved.series("test", "acc").name == "acc"
    assert list(moved.series("test", "acc").values) == list(h.series("train", "acc").values)
    assert moved.has("train", "loss") and moved.has("val", "loss") and len(moved) == len(h)
    assert [n.message for n in moved.notes] == ["acc: the user says it is held out"]
    # nothing to move, or a series already there: the same History
    assert h.with_split("train", "f1", "val") is h
    assert h.with_split("train", "loss", "val") is h
