"""The atomic writers never replace an input being analysed, a device, a FIFO, a socket or a directory
(issue 16, item 7): each refusal is one UsageError naming the path, and the refused file is untouched."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from gapwatch.errors import UsageError
from gapwatch.io import AtomicFile, atomic_write_bytes, atomic_write_text, check_destination

LOG = "epoch,loss,val_loss\n0,0.9,1.0\n1,0.5,0.8\n"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    p = tmp_path / "log.csv"
    p.write_text(LOG)
    return p


def _no_temps(d: Path) -> bool:
    return not [p for p in d.iterdir() if p.name.endswith(".tmp")]


def test_input_refused_even_with_overwrite(log: Path) -> None:
    with pytest.raises(UsageError, match=r"log\.csv is an input being analysed"):
        atomic_write_text(log, "<html>", overwrite=True, inputs=[log])
    assert log.read_text() == LOG
    assert _no_temps(log.parent)


def test_input_refused_by_another_spelling(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(log.parent)
    other = Path("sub") / ".." / "log.csv"
    (log.parent / "sub").mkdir()
    with pytest.raises(UsageError, match="is an input being analysed"):
        atomic_write_text(other, "<html>", overwrite=True, inputs=[str(log)])
    assert log.read_text() == LOG


def test_hard_link_to_input_refused(log: Path) -> None:
    twin = log.parent / "twin.html"
    os.link(log, twin)
    with pytest.raises(UsageError, match=r"twin\.html is an input being analysed \(the same file as .*log\.csv\)"):
        atomic_write_text(twin, "<html>", overwrite=True, inputs=[log])
    assert log.read_text() == LOG and twin.read_text() == LOG


def test_input_through_symlinked_directory_refused(log: Path) -> None:
    alias = log.parent / "alias"
    alias.symlink_to(log.parent, target_is_directory=True)
    with pytest.raises(UsageError, match="is an input being analysed"):
        atomic_write_text(alias / "log.csv", "<html>", overwrite=True, inputs=[log])
    assert log.read_text() == LOG


def test_other_files_still_written(log: Path) -> None:
    out = log.parent / "report.html"
    atomic_write_text(out, "one", inputs=[log, log.parent / "missing.csv"])
    atomic_write_text(out, "two", overwrite=True, inputs=[log])
    assert out.read_text() == "two" and log.read_text() == LOG


def test_input_refused_by_atomic_file(log: Path) -> None:
    with pytest.raises(UsageError, match="is an input being analysed"):
        AtomicFile(log, overwrite=True, inputs=[log])
    assert log.read_text() == LOG and _no_temps(log.parent)


def test_input_planted_while_writing_refused(tmp_path: Path, log: Path) -> None:
    """The check is repeated just before the rename: an input hard-linked to the destination meanwhile."""
    out = tmp_path / "report.html"
    f = AtomicFile(out, overwrite=True, inputs=[log])
    f.temp_path.write_text("report")
    os.link(log, out)
    with pytest.raises(UsageError, match="is an input being analysed"):
        f.commit()
    assert log.read_text() == LOG and out.read_text() == LOG and _no_temps(tmp_path)


def test_dev_null_refused_and_untouched() -> None:
    before = os.stat("/dev/null")
    with pytest.raises(UsageError, match=r"^/dev/null is a device; refusing to write over it"):
        atomic_write_bytes(Path("/dev/null"), b"x", overwrite=True)
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_rdev, after.st_mode) == (before.st_ino, before.st_rdev, before.st_mode)


def test_fifo_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match=r"pipe is a FIFO \(named pipe\); refusing"):
        atomic_write_text(fifo, "x", overwrite=True)
    assert fifo.is_fifo() and _no_temps(tmp_path)


def test_socket_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(path))
        with pytest.raises(UsageError, match=r"s is a socket; refusing"):
            check_destination(path, overwrite=True)
    assert path.is_socket()


def test_directory_refused(tmp_path: Path) -> None:
    d = tmp_path / "out"
    d.mkdir()
    (d / "keep").write_text("k")
    with pytest.raises(UsageError, match=r"out is a directory; refusing"):
        atomic_write_text(d, "x", overwrite=True)
    assert (d / "keep").read_text() == "k"


def test_errors_are_one_line(log: Path) -> None:
    for dest, inputs in ((log, [log]), (Path("/dev/null"), [])):
        with pytest.raises(UsageError) as exc:
            check_destination(dest, overwrite=True, inputs=inputs)
        assert "\n" not in str(exc.value) and str(dest) in str(exc.value)
