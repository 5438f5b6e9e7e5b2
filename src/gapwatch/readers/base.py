"""The reader plug-in contract.

A **reader** turns one log format into :class:`~gapwatch.readers._parts.Parts` (one per run it finds). It is any
object with:

* ``name: str`` — the format's short name, shown to users (``"keras-csv"``); unique among registered readers;
* ``sniff(path: Path, head: str) -> bool`` — does this file or directory look like my format? Decide from the
  **content**: ``head`` is the start of a file (up to :data:`HEAD_BYTES` bytes, a UTF-8 BOM removed, decoded
  with replacement characters), ``""`` for a directory. Must be cheap and must not raise for odd input
  (return False);
* ``read(path: Path, run: str) -> list[Parts]`` — read it; ``run`` is the name to give a single run (readers
  that find several runs name them ``f"{run}#{k}"`` for runs appended to one file, or by the file's own run
  column). Raise :class:`~gapwatch.errors.InputError` naming the file, the line/key and what was expected.

A reader may also accept **options** (keyword arguments of ``read`` beyond ``path`` and ``run``, named in
:data:`OPTIONS`): it lists the ones it takes in an ``options: tuple[str, ...]`` attribute, and
:func:`gapwatch.readers.load` passes an option only when the user gave it (a reader without the attribute is
never called with one; giving an option for a log whose reader does not take it is a one-line
:class:`~gapwatch.errors.UsageError`). Today there is one option, ``experiment``: the tracker readers keep the
runs of one MLflow experiment, W&B project or trackio project, and raise :class:`NoSuchExperiment` (listing
the ones that exist) when the store has no such experiment.

Built-in readers are :class:`FunctionReader` objects; :func:`gapwatch.readers.register_reader` adds others (the
tracker readers, a user's own) at a chosen priority.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import UsageError
from ._parts import Parts

#: Bytes of a file given to every sniffer (64 KiB: a CSV header or the first JSON Lines record of a log with a
#: few hundred per-class metrics fits; a longer first line is read in full by the JSON Lines sniffer itself).
HEAD_BYTES = 65536
#: Share of a file's non-ASCII characters that must be CJK ideographs for the file to be read as GB 18030 (the
#: encoding of Chinese Windows, where a Python ``print`` redirected to a file writes GBK).
CJK_MIN_SHARE = 0.5

#: Non-ASCII symbols a GBK-encoded log prints beside numbers (``val_dice=0.666 ± 0.278`` written on Chinese Windows
#: is ``0.666 \xa1\xc0 0.278``): they count towards :data:`CJK_MIN_SHARE` like ideographs do.
GB_SYMBOLS = frozenset("±×÷°·—…‘’“”→←↑↓√≤≥≈∞§№")


def text_encoding(raw: bytes) -> str:
    """The encoding of a text file from its first bytes ``raw``: ``utf-16`` after a UTF-16 byte order mark (a log
    redirected by Windows PowerShell's ``>``); ``gb18030`` when the bytes are not UTF-8 but decode strictly as
    GB 18030 into text whose non-ASCII characters are mostly CJK ideographs or :data:`GB_SYMBOLS`
    (:data:`CJK_MIN_SHARE`: a log written on Chinese Windows); else ``utf-8`` (read with replacement characters
    where bytes are invalid)."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # (a multi-byte character cut at the end of the head)
    for cut in range(4):  # (a GB 18030 character cut at the end of the head: up to 3 bytes)
        try:
            text = raw[: len(raw) - cut].decode("gb18030")
        except UnicodeDecodeError:
            continue
        wide = [c for c in text if ord(c) > 127]
        cjk = sum(1 for c in wide if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f"
                  or "\uff00" <= c <= "\uffef" or c in GB_SYMBOLS)  # (ideographs, CJK punctuation, full-width
        # forms, the symbols GBK logs print beside numbers)
        return "gb18030" if wide and cjk >= CJK_MIN_SHARE * len(wide) else "utf-8"
    return "utf-8"

#: The reader options :func:`gapwatch.readers.load` knows, with what each selects (named in error messages).
OPTIONS: dict[str, str] = {
    "experiment": "the runs of one experiment (MLflow experiment, W&B project, trackio project)",
}


class NoSuchExperiment(UsageError):
    """``experiment=`` names no experiment of a store; :attr:`found` lists the ones it has.

    A sweep holding several stores collects :attr:`found` from each and reports the union when no store has
    the experiment (:func:`gapwatch.readers.load`).
    """

    def __init__(self, experiment: str, found: Iterable[str], where: object, *, kind: str = "experiment",
                 note: str = "") -> None:
        self.experiment = experiment
        self.found = sorted(set(found))
        self.where = where
        self.kind = kind
        super().__init__(f"--experiment {experiment!r}: no such {kind} in {where}"
                         f"{f' ({note})' if note else ''}; experiments: {', '.join(self.found) or 'none'}")


def check_experiment(experiment: str | None, found: Iterable[str], where: object, *,
                     kind: str = "experiment") -> None:
    """Raise :class:`NoSuchExperiment` when ``experiment`` is given and is not among ``found``.

    Args:
        kind: what the store calls an experiment, for the message (``"W&B project"``).
    """
    names = list(found)
    if experiment is not None and experiment not in names:
        raise NoSuchExperiment(experiment, names, where, kind=kind)


def accepts(reader: object, option: str) -> bool:
    """Does ``reader`` take the read option ``option`` (its ``options`` attribute names it)?"""
    return option in tuple(getattr(reader, "options", ()) or ())


def check_options(reader: object, options: Mapping[str, Any], path: object) -> None:
    """One-line :class:`UsageError` when ``reader`` does not take one of the ``options`` given for ``path``."""
    for opt in options:
        if opt not in OPTIONS:
            raise UsageError(f"unknown read option {opt!r}; known: {', '.join(OPTIONS)}")
        if not accepts(reader, opt):
            name = getattr(reader, "name", "?")
            raise UsageError(f"{path}: --{opt} selects {OPTIONS[opt]}, but this is a {name} log, which has "
                             f"none; give --{opt} only for a tracker store")


@runtime_checkable
class Reader(Protocol):
    """What :func:`gapwatch.readers.load` needs of a log format (see the module docstring)."""

    @property
    def name(self) -> str: ...

    def sniff(self, path: Path, head: str) -> bool: ...

    def read(self, path: Path, run: str) -> list[Parts]: ...


@dataclass(frozen=True)
class FunctionReader:
    """A reader made of two functions (how the built-in readers are defined).

    Attributes:
        options: the read options (:data:`OPTIONS`) ``read_fn`` accepts as keyword arguments.
    """

    name: str
    sniff_fn: Callable[[Path, str], bool]
    read_fn: Callable[..., list[Parts]]
    doc: str = ""
    options: tuple[str, ...] = ()

    def sniff(self, path: Path, head: str) -> bool:
        return self.sniff_fn(path, head)

    def read(self, path: Path, run: str, **options: Any) -> list[Parts]:
        check_options(self, options, path)
        return self.read_fn(path, run, **options)
