"""TensorBoard record data CRCs are checked (issue 16, item 11): a record whose data checksum fails is skipped
with a note naming the file and the record's byte offset; a torn tail record stays a note as before."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gapwatch.readers import _tfrecord as tfr
from gapwatch.readers import load

TB_TORCH = Path(__file__).parent / "fixtures" / "logs" / "tb" / "torch"


def _copy_run(tmp_path: Path) -> tuple[Path, Path]:
    d = tmp_path / "run"
    d.mkdir()
    src = next(TB_TORCH.glob("events*"))
    shutil.copy(src, d / src.name)
    return d, d / src.name


def _value_byte(f: Path, tag: str, k: int) -> tuple[int, int]:
    """The byte offset of the ``k``-th ``tag`` value's float32 inside the file, and its record's start."""
    buf = f.read_bytes()
    offs, lens, _ = tfr._framing(buf, f)
    idx = int(tfr.read_scalars(f).tags[tag][0][k])
    o, n = int(offs[idx]), int(lens[idx])
    val = np.float32(tfr.read_scalars(f).tags[tag][3][k]).tobytes()
    at = buf.find(val, o, o + n)
    assert at >= 0
    return at, o - 12


def test_flipped_bit_in_a_value_is_skipped_with_a_note(tmp_path: Path) -> None:
    d, f = _copy_run(tmp_path)
    good = load(d).series("val", "loss", x="step")
    assert good.values.min() == pytest.approx(0.7)  # the best val/loss, at step 15
    at, rec = _value_byte(f, "val/loss", 3)  # 0.75 at step 20
    b = bytearray(f.read_bytes())
    b[at + 3] ^= 0x20  # an exponent bit: 0.75 → about 1.7e-10, which would become the best
    f.write_bytes(bytes(b))
    h = load(d)
    v = h.series("val", "loss", x="step")
    np.testing.assert_array_equal(v.step, [5, 10, 15, 25, 30])
    assert v.values.min() == pytest.approx(0.7)
    msgs = [n.message for n in h.notes]
    assert any(f.name in m and "1 record fails its data checksum" in m and f"byte {rec}" in m for m in msgs), msgs
    assert all(n.source == str(f) for n in h.notes if "checksum" in n.message)
    # every other series is untouched
    np.testing.assert_array_equal(h.series("train", "loss", x="step").values,
                                  load(TB_TORCH).series("train", "loss", x="step").values)


def test_many_damaged_records_are_counted(tmp_path: Path) -> None:
    d, f = _copy_run(tmp_path)
    b = bytearray(f.read_bytes())
    starts = []
    for k in range(6):
        at, rec = _value_byte(f, "train/loss", k)
        b[at] ^= 0x01
        starts.append(rec)
    f.write_bytes(bytes(b))
    h = load(d)
    assert len(h.series("train", "loss", x="step")) == 30 - 6
    (msg,) = [n.message for n in h.notes if "checksum" in n.message]
    assert "6 records fail" in msg and "and 1 more" in msg and f"byte {starts[0]}" in msg


def test_torn_tail_still_a_note(tmp_path: Path) -> None:
    d, f = _copy_run(tmp_path)
    f.write_bytes(f.read_bytes()[:-7])
    h = load(d)
    assert any("incomplete" in n.message for n in h.notes)
    assert not any("checksum" in n.message for n in h.notes)


@pytest.mark.parametrize("n", [0, 1, 7, 64, 255, 256, 257, 511, 512, 513, 700, 1024, 4097, 70001])
def test_data_crc_matches_tensorboard_any_length(n: int) -> None:
    """Short (a length group at a time) and long (combined pieces) records agree with TensorBoard's CRC."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    rng = np.random.default_rng(n)
    recs = [rng.integers(0, 256, size=m, dtype=np.uint8).tobytes() for m in (n, n, n + 3)]
    buf = b"".join(tfr.frame(r) for r in recs)
    offs = np.cumsum([0] + [16 + len(r) for r in recs[:-1]]) + 12
    lens = np.asarray([len(r) for r in recs])
    for o, r in zip(offs, recs):
        assert int.from_bytes(buf[o + len(r):o + len(r) + 4], "little") == masked_crc32c(r)
    arr = np.frombuffer(buf, np.uint8)
    assert tfr.data_crc_ok(arr, offs, lens).all()
    if n:
        bad = bytearray(buf)
        bad[int(offs[1]) + n // 2] ^= 0x80
        np.testing.assert_array_equal(tfr.data_crc_ok(np.frombuffer(bytes(bad), np.uint8), offs, lens),
                                      [True, False, True])


# ----------------------------------------------------------------------------- reading a piece at a time
def _scalars_equal(a: tfr.Scalars, b: tfr.Scalars) -> None:
    assert sorted(a.tags) == sorted(b.tags)
    for tag in a.tags:
        for x, y in zip(a.tags[tag], b.tags[tag]):
            np.testing.assert_array_equal(x, y)
    assert (a.truncated, a.plugins, a.bad_crc) == (b.truncated, b.plugins, b.bad_crc)


@pytest.mark.parametrize("f", sorted(TB_TORCH.parent.glob("**/events*")), ids=lambda p: p.parent.name)
@pytest.mark.parametrize("chunk", [64, 1000, 4096])
def test_pieces_read_what_the_whole_file_holds(f: Path, chunk: int) -> None:
    _scalars_equal(tfr.read_scalars(f, chunk), tfr.read_scalars(f))


@pytest.mark.parametrize("chunk", [200, 1000])
def test_pieces_damaged_and_torn(tmp_path: Path, chunk: int) -> None:
    """A flipped value bit, a torn tail and garbage after the last record read the same in pieces."""
    d, f = _copy_run(tmp_path)
    at, rec = _value_byte(f, "val/loss", 3)
    b = bytearray(f.read_bytes())
    b[at] ^= 0x10
    for tail in (b"", b"\x07" * 9, bytes(range(40))):
        g = tmp_path / f"events.out.tfevents.{len(tail)}"
        g.write_bytes(bytes(b[:-5]) + tail)
        whole = tfr.read_scalars(g)
        assert whole.truncated and whole.bad_crc[0] == rec  # (a tail may complete the torn record: bad CRC)
        _scalars_equal(tfr.read_scalars(g, chunk), whole)


def test_watch_tailer_skips_a_damaged_record_as_the_reader_does(tmp_path: Path) -> None:
    """``gapwatch watch`` reads event files incrementally: the same flipped bit is skipped with the same kind of
    note, and the series equals the batch reader's."""
    from gapwatch.watch.tail import TensorBoardTailer

    d, f = _copy_run(tmp_path)
    at, rec = _value_byte(f, "val/loss", 3)
    b = bytearray(f.read_bytes())
    b[at + 3] ^= 0x20
    f.write_bytes(bytes(b))
    h = TensorBoardTailer(d, "run").poll()
    assert h is not None
    v = h.series("val", "loss", x="step")
    np.testing.assert_array_equal(v.values, load(d).series("val", "loss", x="step").values)
    assert any(f"byte {rec}" in n.message and "checksum" in n.message for n in h.notes)
