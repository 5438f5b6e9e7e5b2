"""The streaming readers (issue 16, item 10) read what the whole-file readers read: CSV a batch of rows at a
time into numeric columns, JSON Lines a record at a time into growing arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from gapwatch.errors import InputError
from gapwatch.readers import _parts, generic_csv, load
from gapwatch.readers.jsonl import RecordColumns, _steps_that_are_epochs


def _series(h: Any) -> dict[tuple[str, str, str], tuple[list[float], list[float], list[float]]]:
    out = {}
    for (run, split, metric), g in h.frame.groupby(["run", "split", "metric"], sort=False):
        out[(run, split, metric)] = (g["step"].tolist(), g["epoch"].tolist(), g["value"].tolist())
    return out


def _same(a: Any, b: Any) -> None:
    sa, sb = _series(a), _series(b)
    assert list(sa) == list(sb)
    for k in sa:
        for x, y in zip(sa[k], sb[k]):
            np.testing.assert_array_equal(np.asarray(x, float), np.asarray(y, float))


KERAS = "epoch,accuracy,loss,val_accuracy,val_loss\n" + "".join(
    f"{e},{0.5 + e / 100:.3f},{1 / (e + 1):.4f},{0.4 + e / 200:.3f},{0.5 + (e - 20) ** 2 / 1000:.4f}\n"
    for e in range(47))


@pytest.mark.parametrize("batch", [1, 2, 5, 64])
def test_csv_batches_read_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    f = tmp_path / "log.csv"
    f.write_text(KERAS + "0,0.6,0.9,0.5,0.8\n1,0.7,0.8,0.6,0.7\n")  # a second fit appended: two runs
    whole = load(f)
    monkeypatch.setattr(generic_csv, "BATCH_ROWS", batch)
    _same(load(f), whole)
    assert len(whole.runs()) == 2


def test_csv_cut_off_last_line_dropped_with_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generic_csv, "BATCH_ROWS", 4)
    f = tmp_path / "log.csv"
    f.write_text(KERAS + "47,0.9,0.0")
    h = load(f)
    assert len(h.series("val", "loss")) == 47
    assert any("line 49, the last, has no line end" in n.message for n in h.notes)


def test_csv_bad_cell_names_its_line_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generic_csv, "BATCH_ROWS", 4)
    lines = KERAS.splitlines()
    lines[30] = lines[30].replace(lines[30].split(",")[4], "oops")
    f = tmp_path / "log.csv"
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 31.*column 'val_loss': expected a number, got 'oops'"):
        load(f)


def test_csv_text_bookkeeping_column_is_no_error(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_text("epoch,step,time,train_loss,val_loss\n1,10,2024-01-01 10:00,0.9,1.0\n2,20,2024-01-01 11:00,0.5,0.8\n")
    h = load(f)
    np.testing.assert_array_equal(h.series("val", "loss").values, [1.0, 0.8])


def test_csv_sparse_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generic_csv, "BATCH_ROWS", 2)
    f = tmp_path / "metrics.csv"
    f.write_text("epoch,step,train_loss,val_loss\n0,5,0.9,\n0,5,,1.0\n1,10,0.5,\n1,10,,nan\n2,15,null,0.7\n")
    h = load(f)
    v = h.series("val", "loss", x="step")
    np.testing.assert_array_equal(v.step, [5, 10, 15])
    assert np.isnan(v.values[1]) and v.values[2] == 0.7
    assert len(h.series("train", "loss", x="step")) == 2


def test_csv_long_format_with_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generic_csv, "BATCH_ROWS", 3)
    f = tmp_path / "long.csv"
    rows = ["run,step,split,metric,value"]
    for r in ("b", " a"):
        for s in range(1, 5):
            rows += [f"{r},{s},train,loss,{1 / s}", f"{r},{s},val , loss,{2 / s}", f"{r},{s},val,acc,{s / 10}"]
    f.write_text("\n".join(rows) + "\n")
    h = load(f)
    assert h.runs() == ["b", "a"]
    np.testing.assert_allclose(h.run("a").series("val", "loss", x="step").values, [2, 1, 2 / 3, 0.5])
    assert sorted(h.run("b").keys()) == [("train", "loss"), ("val", "acc"), ("val", "loss")]


def test_csv_long_empty_metric_names_its_line(tmp_path: Path) -> None:
    f = tmp_path / "long.csv"
    f.write_text("step,split,metric,value\n1,train,loss,0.5\n2,train, ,0.4\n")
    with pytest.raises(InputError, match=r"line 3.*empty 'split' or 'metric' cell"):
        load(f)


def test_csv_wide_run_column(tmp_path: Path) -> None:
    f = tmp_path / "runs.csv"
    f.write_text("run,epoch,train_loss,val_loss\n r2,1,0.9,1.0\nr1,1,0.8,0.9\nr2 ,2,0.5,0.8\n")
    h = load(f)
    assert h.runs() == ["r2", "r1"]
    np.testing.assert_array_equal(h.run("r2").series("val", "loss").values, [1.0, 0.8])


def test_csv_bom_crlf_and_cr_only(tmp_path: Path) -> None:
    ref = tmp_path / "ref.csv"
    ref.write_text(KERAS)
    for name, data in (("bom.csv", b"\xef\xbb\xbf" + KERAS.encode()),
                       ("crlf.csv", KERAS.replace("\n", "\r\n").encode()),
                       ("cr.csv", KERAS.replace("\n", "\r").encode())):
        f = tmp_path / name
        f.write_bytes(data)
        a, b = load(f), load(ref)
        assert [k[1:] for k in _series(a)] == [k[1:] for k in _series(b)]
        np.testing.assert_array_equal(a.series("val", "loss").values, b.series("val", "loss").values)


def test_csv_not_utf8_names_the_byte(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    data = KERAS.encode()
    at = data.index(b"\n", 200) + 3
    f.write_bytes(data[:at] + b"\xff" + data[at:])
    with pytest.raises(InputError, match=rf"not a UTF-8 text file \(byte {at}: invalid start byte\)"):
        load(f)


def test_csv_nul_refused(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_bytes(KERAS.encode() + b"1\x00,2,3,4,5\n")
    with pytest.raises(InputError, match=r"binary data \(NUL bytes\)"):
        load(f)


# ----------------------------------------------------------------------------- JSON Lines
_key = st.sampled_from(["epoch", "step", "global_step", "loss", "train_loss", "val_loss", "val_acc", "lr",
                        "eval/accuracy", "runtime", "accuracy"])
_val = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(allow_nan=True),
                 st.sampled_from(["0.5", "nan", " inf ", "", "x"]), st.just([1]), st.just({"a": 1}))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(_key, _val, max_size=6), max_size=25), st.sampled_from(["train", "val"]))
@example([{"epoch": None, "step": -1.0, "loss": 0}, {"epoch": -2.0, "step": 0, "train_loss": 0}], "train")
def test_record_columns_equal_records_parts(recs: list[dict[str, Any]], split: str) -> None:
    """The one-record-at-a-time accumulator gives what records_parts gives on the whole list, errors too."""
    numbered = list(enumerate(recs, start=1))
    try:
        want: Any = _parts.records_parts(numbered, "r", "f.jsonl", default_split=split)
    except InputError as exc:
        want = str(exc)
    cols = RecordColumns("f.jsonl", default_split=split).extend(numbered)
    # (MMEngine's validation records, logged at step = epoch without an epoch, are read as epochs by the JSON
    # Lines reader alone: records_parts has no such rule, so such draws are not comparable)
    assume(cols.error is not None or not _steps_that_are_epochs(cols.cols))
    try:
        got: Any = cols.parts("r")
    except InputError as exc:
        got = str(exc)
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
        return
    assert [(b.split, b.metric, b.name) for b in got.blocks] == [(b.split, b.metric, b.name) for b in want.blocks]
    for g, w in zip(got.blocks, want.blocks):
        for x, y in ((g.step, w.step), (g.epoch, w.epoch), (g.value, w.value)):
            np.testing.assert_array_equal(x, y)


def test_jsonl_number_error_after_json_error_order(tmp_path: Path) -> None:
    """An invalid line is reported before a non-numeric value on an earlier line (as the whole-file reader)."""
    f = tmp_path / "log.jsonl"
    f.write_text('{"epoch": 1, "val_loss": 0.5}\n{"epoch": 2, "val_loss": "x"}\n{"epoch": 3, oops}\n'
                 '{"epoch": 4, "val_loss": 0.2}\n')
    with pytest.raises(InputError, match="line 3.*not valid JSON"):
        load(f)
    f.write_text('{"epoch": 1, "val_loss": 0.5}\n{"epoch": 2, "val_loss": "x"}\n')
    with pytest.raises(InputError, match=r"line 2.*key 'val_loss': expected a number"):
        load(f)
