"""The one atomic file writer: reports, checkpoints and every other file gapwatch writes go through here.

A write goes to a fresh temporary file in the destination's directory (so the rename cannot cross file
systems), is flushed and ``fsync``-ed, then ``os.replace``-d over the destination, and the directory is
``fsync``-ed. A crash at any moment (even SIGKILL) leaves either the old file or the new one, complete.

File mode: every file is created with :data:`FILE_MODE` (``0o644``: owner read/write, everyone else read)
minus the process umask, the same for reports and checkpoints. The kernel applies the umask when the
temporary file is created (``os.open(..., O_CREAT | O_EXCL, mode)``), so the process umask is never changed
(changing it is not thread-safe). Pass ``mode=0o600`` for a file only its owner may read.

Safety: the destination is refused (a :class:`~gapwatch.errors.UsageError` naming it) when it is a symbolic
link (a planted link is never followed or replaced), a directory, a device or any other non-regular file, or
when it exists and ``overwrite`` is False, or when it is one of the ``inputs`` the caller read (the same file by
path, through a symbolic link or through a hard link: same device and inode), so ``--html <the input log>
--force`` can never replace the log. A failure of the file system (read-only, full disk, a parent that is
a file) is reported the same way, one line naming the path, and the previous file is left intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from .errors import UsageError

#: Mode (before the umask) of every file gapwatch creates: reports and checkpoints alike.
FILE_MODE = 0o644
#: Temporary files are named ``.<name>.<random>.tmp`` beside the destination.
TMP_SUFFIX = ".tmp"


class _HashingWriter:
    """A binary file object that also feeds what is written into a SHA-256 (so a checkpoint's content hash
    costs no second read)."""

    def __init__(self, fh: IO[bytes]) -> None:
        self._fh = fh
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()

    def read(self, *args: object) -> bytes:
        """Not readable (present so that ``np.savez`` treats this as a file object, not a path)."""
        raise io.UnsupportedOperation("write-only")


#: What callers pass as ``inputs``: the paths they read (a log, a run directory's files).
Inputs = Iterable[str | os.PathLike[str]]


def check_destination(path: Path, *, overwrite: bool, inputs: Inputs = ()) -> None:
    """Raise :class:`UsageError` unless ``path`` may be written: not a symlink, not a directory or special
    file (device node, FIFO, socket), not one of ``inputs`` (compared by device and inode, so a hard link or
    another spelling of an input's path is refused too), and absent unless ``overwrite``."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"{path}: cannot write here ({exc.strerror})") from None
    if stat.S_ISLNK(st.st_mode):
        raise UsageError(f"{path} is a symbolic link; refusing to write through or replace it")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{path} is {_kind(st.st_mode)}; refusing to write over it (choose a file name)")
    src = _same_input(st, inputs)
    if src is not None:
        same = "" if os.path.abspath(src) == os.path.abspath(path) else f" (the same file as {src})"
        raise UsageError(f"{path} is an input being analysed{same}; refusing to write over it "
                         "(choose another file name)")
    if not overwrite:
        raise UsageError(f"{path} already exists; refusing to overwrite it (choose another name or pass --force)")


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _same_input(st: os.stat_result, inputs: Inputs) -> str | None:
    """The first of ``inputs`` that is the file ``st`` describes (same device and inode), or None. Inputs that
    no longer exist or cannot be read are not the destination."""
    for p in inputs:
        try:
            ist = os.stat(p)
        except (OSError, ValueError):
            continue
        if os.path.samestat(st, ist):
            return os.fspath(p)
    return None


def _create_temp(parent: Path, name: str, mode: int) -> tuple[int, Path]:
    for _ in range(100):
        tmp = parent / f".{name}.{secrets.token_hex(4)}{TMP_SUFFIX}"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode), tmp
        except FileExistsError:
            continue
    raise UsageError(f"{parent}: could not create a temporary file for {name}")  # pragma: no cover


def _fsync_dir(parent: Path) -> None:
    try:
        dfd = os.open(parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - some systems cannot open directories
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover - directories cannot be fsynced on some file systems
        pass
    finally:
        os.close(dfd)


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[bytes]], object],
    *,
    overwrite: bool = False,
    mode: int = FILE_MODE,
    before_replace: Callable[[], object] | None = None,
    inputs: Inputs = (),
) -> str:
    """Write a file atomically through ``write(fh)`` (``fh``: a binary file object with ``write``/``flush``).

    Args:
        path: destination.
        write: called once with the open temporary file; it writes the whole content.
        overwrite: allow replacing an existing regular file (never a link, directory or device).
        mode: permission bits before the umask (default :data:`FILE_MODE`).
        before_replace: called once the new content is safely on disk, just before the rename (the keeper
            uses it to move the previous checkpoint aside, so a crash while writing never loses it).
        inputs: paths the caller read (the analysed logs): the destination may never be one of them, even
            with ``overwrite`` (see :func:`check_destination`).
    Returns:
        The SHA-256 (hex) of the bytes written.
    Raises:
        UsageError: the destination is refused (see module docstring) or the file system failed; the
            previous file, if any, is intact and no temporary file is left behind.
    """
    path = Path(path)
    inputs = tuple(inputs)
    check_destination(path, overwrite=overwrite, inputs=inputs)
    parent = path.parent if str(path.parent) else Path(".")
    tmp: Path | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_temp(parent, path.name, mode)
        with os.fdopen(fd, "wb") as fh:
            hw = _HashingWriter(fh)
            write(hw)  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace()
        check_destination(path, overwrite=overwrite, inputs=inputs)  # nothing planted while we wrote
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(parent)
        return hw.sha256.hexdigest()
    except OSError as exc:
        raise UsageError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class AtomicFile:
    """A destination written over time by another library (e.g. a streaming Parquet writer) with the same
    guarantees as :func:`atomic_write`: the content goes to :attr:`temp_path` (created now, beside ``path``,
    with ``mode`` minus the umask), and :meth:`commit` fsyncs it and renames it over ``path`` after checking
    the destination again; :meth:`abort` removes it. Nothing appears at ``path`` before :meth:`commit`.

    Raises:
        UsageError: the destination is refused (see the module docstring) or the file system failed.
    """

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False, mode: int = FILE_MODE,
                 inputs: Inputs = ()) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self.inputs = tuple(inputs)
        check_destination(self.path, overwrite=overwrite, inputs=self.inputs)
        self._parent = self.path.parent if str(self.path.parent) else Path(".")
        try:
            self._parent.mkdir(parents=True, exist_ok=True)
            fd, self.temp_path = _create_temp(self._parent, self.path.name, mode)
        except OSError as exc:
            raise UsageError(f"{self.path}: cannot write ({exc.strerror or exc})") from None
        os.close(fd)
        self._open = True

    def commit(self) -> Path:
        """fsync the temporary file and move it over ``path`` (then fsync the directory); returns ``path``."""
        if not self._open:
            raise UsageError(f"{self.path}: already committed or aborted")
        try:
            fd = os.open(self.temp_path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            check_destination(self.path, overwrite=self.overwrite, inputs=self.inputs)
            os.replace(self.temp_path, self.path)
        except OSError as exc:
            self.abort()
            raise UsageError(f"{self.path}: cannot write ({exc.strerror or exc})") from None
        except UsageError:
            self.abort()
            raise
        self._open = False
        _fsync_dir(self._parent)
        return self.path

    def abort(self) -> None:
        """Remove the temporary file (idempotent)."""
        self._open = False
        with contextlib.suppress(OSError):
            os.unlink(self.temp_path)


def atomic_write_bytes(path: Path, data: bytes, *, overwrite: bool = False, mode: int = FILE_MODE,
                       inputs: Inputs = ()) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`); returns ``path``."""
    atomic_write(path, lambda fh: fh.write(data), overwrite=overwrite, mode=mode, inputs=inputs)
    return Path(path)


def atomic_write_text(path: Path, text: str, *, overwrite: bool = False, mode: int = FILE_MODE,
                      inputs: Inputs = ()) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically (see :func:`atomic_write`); returns ``path``."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite, mode=mode, inputs=inputs)


def file_sha256(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file, read in ``chunk``-byte pieces (memory stays bounded)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                return h.hexdigest()
            h.update(b)


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary files a killed :func:`atomic_write` of ``path`` left behind (``.<name>.<8 hex>.tmp``
    beside it); returns what was removed. Only regular files with exactly that name pattern are touched."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    prefix = f".{path.name}."
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for e in entries:
        mid = e.name[len(prefix): -len(TMP_SUFFIX)] if e.name.startswith(prefix) else ""
        if not (e.name.endswith(TMP_SUFFIX) and len(mid) == 8 and all(c in "0123456789abcdef" for c in mid)):
            continue
        try:
            if e.is_file(follow_symlinks=False):
                os.unlink(e.path)
                removed.append(Path(e.path))
        except OSError:
            continue
    return removed
