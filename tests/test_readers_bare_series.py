"""The bare-number curve reader (:mod:`gapwatch.readers.bare_series`): one measure's values saved without a name,
the file's name naming them — fixtures in the shapes found in the real-log corpus (``np.savetxt``'s
``%.18e`` lines, ``f"{epoch}_{loss}"`` lines, a printed NumPy array wrapped over lines, a Python list)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch import load
from gapwatch.errors import InputError
from gapwatch.readers import bare_series, read_head, sniff


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_np_savetxt_one_value_a_line_names_the_series_by_the_file(tmp_path: Path) -> None:
    vals = [0.0, 0.035, 0.1467, 0.31, 0.52, 0.61, 0.66]
    p = _write(tmp_path, "Val_Acc.txt", "".join(f"{v:.18e}\n" for v in vals))
    h = load(p)
    assert h.keys() == [("val", "acc")]
    s = h.series("val", "acc")
    np.testing.assert_allclose(s.values, vals)
    np.testing.assert_allclose(s.x, np.arange(1, 8))


def test_an_index_and_a_value_a_line_with_any_separator(tmp_path: Path) -> None:
    for sep in ("_", " ", ",", "\t", ", ", ": "):
        p = _write(tmp_path, "val_loss.txt", "".join(f"{e}{sep}{2.0 / e:.6f}\n" for e in range(1, 9)))
        s = load(p).series("val", "loss")
        np.testing.assert_allclose(s.x, np.arange(1, 9))
        np.testing.assert_allclose(s.values, [round(2.0 / e, 6) for e in range(1, 9)])


def test_a_printed_numpy_array_wrapped_over_lines_and_a_python_list(tmp_path: Path) -> None:
    p = _write(tmp_path, "val_accuracy.txt", "[0.17187500 0.17838542 0.20052083 0.21744792 0.2265625  0.24869792\n"
                                             " 0.25260416 0.28125    0.27083333 0.27864584]\n")
    s = load(p).series("val", "acc")
    assert len(s) == 10 and s.values[7] == pytest.approx(0.28125)
    q = _write(tmp_path, "train_loss_history.txt", "[7.58, 6.23, 5.57, 5.31, nan]")
    t = load(q).series("train", "loss")
    assert len(t) == 5 and np.isnan(t.values[-1])


def test_keeping_words_are_dropped_from_the_name(tmp_path: Path) -> None:
    assert bare_series.series_name(Path("loss_log.txt")) == "loss"
    assert bare_series.series_name(Path("valid_acc_history.csv")) == "valid_acc"
    assert bare_series.series_name(Path("log.txt")) is None
    assert bare_series.series_name(Path("test.txt")) is None  # (a split alone names no measure)
    assert bare_series.series_name(Path("predictions.txt")) is None


def test_trainings_appended_to_one_file_are_runs(tmp_path: Path) -> None:
    lines = [f"{e},{5.0 / e:.4f}" for e in range(1, 24)] + [f"{e},{4.0 / e:.4f}" for e in range(1, 7)]
    h = load(_write(tmp_path, "loss_log.txt", "\n".join(lines) + "\n"))
    assert h.runs() == ["loss_log#1", "loss_log#2"]
    assert len(h.series("train", "loss", run="loss_log#2")) == 6
    assert any("goes back" in n.message or "appended" in n.message for n in h.notes)


@pytest.mark.parametrize(("name", "text"), [
    ("val_loss.txt", "0.5\n0.4\n"),                                  # two values are a result, not a curve
    ("val_loss.txt", "0\t0.74\t0.74\n1\t0.67\t0.75\n2\t0.64\t0.78\n"),  # several unnamed columns
    ("val_loss.txt", "[1.0, 2.0, 3.0]\n[4.0, 5.0, 6.0]\n"),            # several lists
    ("predictions.txt", "0.1\n0.2\n0.3\n0.4\n"),                      # a stem that names no measure
    ("val_loss.txt", "epoch 1 loss 0.5\nepoch 2 loss 0.4\nepoch 3 loss 0.3\n"),  # words: the text reader's
    ("val_loss.txt", "3 0.5\n2 0.4\n5 0.3\n"),                       # an index that neither grows nor restarts
])
def test_not_sniffed(tmp_path: Path, name: str, text: str) -> None:
    p = _write(tmp_path, name, text)
    assert not bare_series.sniff(p, read_head(p))


def test_the_sniffer_picks_it_over_the_generic_readers(tmp_path: Path) -> None:
    p = _write(tmp_path, "loss_history.csv", "".join(f"{v:.18e}\n" for v in (0.1, 0.03, 0.02, 0.015)))
    assert sniff(p).name == "bare-series"


def test_a_bad_line_past_the_head_is_an_error_naming_it(tmp_path: Path) -> None:
    body = "".join(f"{0.5 + 1e-6 * k:.12f}\n" for k in range(20000))  # (past the sniffed head)
    p = _write(tmp_path, "val_loss.txt", body + "oops\n")
    with pytest.raises(InputError) as err:
        bare_series.read_parts(p, "run")
    assert "line 20001" in str(err.value) and "val_loss" in str(err.value)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=3, max_size=40),
       st.sampled_from(["plain", "indexed", "list"]))
def test_round_trip(tmp_path_factory: pytest.TempPathFactory, vals: list[float], layout: str) -> None:
    d = tmp_path_factory.mktemp("bare")
    if layout == "plain":
        text = "".join(f"{v!r}\n" for v in vals)
    elif layout == "indexed":
        text = "".join(f"{e} {v!r}\n" for e, v in enumerate(vals))
    else:
        text = "[" + ", ".join(repr(v) for v in vals) + "]\n"
    s = load(_write(d, "test_mae.txt", text)).series("test", "mae")
    np.testing.assert_array_equal(s.values, vals)


def test_an_index_that_does_not_count_evaluations_past_the_head_is_an_error(tmp_path: Path) -> None:
    body = "".join(f"{k} {0.5 + 1e-6 * k:.12f}\n" for k in range(1, 8000)) + "5 0.4\n"
    p = _write(tmp_path, "val_loss.txt", body)
    with pytest.raises(InputError) as err:
        bare_series.read_parts(p, "run")
    assert "first column" in str(err.value) and "val_loss" in str(err.value)
