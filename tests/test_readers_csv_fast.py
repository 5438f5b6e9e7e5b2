"""The CSV fast path (blocks of plain lines split with ``str.split``) reads exactly what the csv module reads:
the same Parts, notes and errors (line numbers included), wherever a block boundary falls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gapwatch.errors import InputError
from gapwatch.readers import generic_csv, keras_csv

HEADER = "epoch,accuracy,loss,val_accuracy,val_loss\n"


def _rows(n: int, start: int = 0) -> str:
    rng = np.random.default_rng(start)
    return "".join(f"{e},{a:.5g},{b:.5g},{c:.5g},{d:.5g}\n" for e, (a, b, c, d) in
                   zip(range(start, start + n), rng.random((n, 4))))


CASES = {
    "plain": HEADER + _rows(300),
    "cut_last_line": HEADER + _rows(300) + "300,0.5,0.4,0.",
    "no_end_last_line_complete": HEADER + _rows(300)[:-1],
    "quote_later": HEADER + _rows(200) + '200,"0.5",0.4,0.3,0.2\n' + _rows(50, 201),
    "blank_line_later": HEADER + _rows(150) + "\n" + _rows(100, 150),
    "crlf_later": HEADER + _rows(150) + _rows(100, 150).replace("\n", "\r\n"),
    "short_row": HEADER + _rows(120) + "120,0.5,0.4\n" + _rows(30, 121),
    "long_row_blank_extra": HEADER + _rows(120) + "120,0.5,0.4,0.3,0.2,,\n" + _rows(30, 121),
    "long_row_bad": HEADER + _rows(120) + "120,0.5,0.4,0.3,0.2,7\n" + _rows(30, 121),
    "bad_cell": HEADER + _rows(220) + "220,0.5,abc,0.3,0.2\n" + _rows(30, 221),
    "blank_cells": HEADER + _rows(100) + "100,,0.4,,0.2\n" + _rows(100, 101),
    "nan_inf": HEADER + _rows(100) + "100,nan,inf,-inf, 0.25 \n" + _rows(10, 101),
    "semicolon": (HEADER + _rows(100)).replace(",", ";"),
    "not_utf8_later": None,
    "nul_later": None,
    "appended_runs": HEADER + _rows(100) + _rows(100),
}


def _write(tmp: Path, name: str) -> Path:
    p = tmp / f"{name}.csv"
    text = CASES[name]
    if name == "not_utf8_later":
        p.write_bytes((HEADER + _rows(200)).encode() + b"200,0.5,\xff\xfe,0.3,0.2\n" + _rows(10, 201).encode())
    elif name == "nul_later":
        p.write_bytes((HEADER + _rows(200)).encode() + b"200,0.5,\x00,0.3,0.2\n")
    else:
        assert text is not None
        p.write_text(text, newline="")
    return p


def _bits(a: np.ndarray) -> bytes:
    """The array's float64 bytes (NaN equal to NaN)."""
    return np.ascontiguousarray(a, dtype=float).tobytes()


def _read(p: Path) -> object:
    try:
        parts = keras_csv.read_parts(p, "run") if keras_csv.sniff(p, p.read_text(errors="replace")[:4096]) \
            else generic_csv.read_parts(p, "run")
    except InputError as exc:
        return ("error", str(exc))
    return [(q.run, [(b.split, b.metric, b.name, _bits(b.step), _bits(b.epoch), _bits(b.value))
                     for b in q.blocks], [n.message for n in q.notes]) for q in parts]


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("block", [64, 1000, 1 << 21])
def test_fast_path_reads_what_the_csv_module_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   name: str, block: int) -> None:
    p = _write(tmp_path, name)
    monkeypatch.setattr(generic_csv, "FAST_BLOCK_BYTES", block)
    fast = _read(p)
    monkeypatch.setattr(generic_csv, "_plain", lambda *a: False)  # every block handed to the csv module
    slow = _read(p)
    assert fast == slow


def test_fast_path_is_taken_on_a_plain_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = _write(tmp_path, "plain")
    calls: list[int] = []
    real = generic_csv._Builder.add

    def add(self: object, row: list[str], line: int) -> None:
        calls.append(line)
        real(self, row, line)  # type: ignore[arg-type]

    monkeypatch.setattr(generic_csv._Builder, "add", add)
    t = generic_csv.read_table(p)
    assert len(t) == 300 and calls == []  # no row went through the csv module
    assert t.lines.tolist() == list(range(2, 302))
