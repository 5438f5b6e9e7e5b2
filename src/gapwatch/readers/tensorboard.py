"""TensorBoard event files (``events.out.tfevents.*``): one file, or a run directory holding several.

Scalars only (``simple_value`` and rank-0 tensor summaries; see :mod:`gapwatch.readers._tfrecord` for the fast
decoder). Tag names are normalised with :func:`gapwatch.names.normalize` (``train/loss``, ``val/acc``,
``eval/loss``…).

A **run directory** is a directory with event files directly in it (its immediate sub-directories' event
files belong to it too: ``SummaryWriter.add_scalars`` writes ``<tag>_<key>/`` sub-directories), or one whose
event files all sit in split-named sub-directories (``train/``, ``validation/``: the layout of Keras's
``TensorBoard`` callback). The sub-directory names the split of tags that carry none: ``epoch_loss`` in
``validation/`` becomes ``val``/``loss``. So does a run directory with a held-out name pointed at by itself (a
TF1 script's ``log/test/`` writer, or the event file in it) for its bare tags: its ``loss`` is the test split's,
as when its parent ``log/`` is read (:func:`dir_split`).

Axes: the event ``step`` is the step, except for Keras's ``epoch_*`` tags whose step is the 0-based epoch
index: they get ``epoch = step + 1`` (1-based, like every gapwatch reader) and no step. A scalar tag named
``epoch`` logged by the user gives the epoch of every other tag logged at the same (or the nearest earlier)
step. Several files for the same tag (a resumed run) are read in file-name order (the name holds the start
time); steps that go back keep the last value (a ``data`` note says so).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import schedule
from ..errors import InputError
from ..history import HistoryNote
from ..names import SPLIT_ALIASES, box_group_apart, comparison_twins_apart, is_bookkeeping, normalize, role, step_twins
from ._parts import Parts
from ._tfrecord import read_scalars
from .base import FunctionReader

NAME = "tensorboard"

_MARK = "tfevents"


def is_event_file(p: Path) -> bool:
    return _MARK in p.name and p.is_file()


def _looks_like_events(path: Path) -> bool:
    """Content check: the first record's framing is plausible and its data starts with Event.wall_time."""
    try:
        with open(path, "rb") as fh:
            b = fh.read(13)
    except OSError:
        return False
    if len(b) < 13:
        return False
    n = int.from_bytes(b[:8], "little")
    return 0 < n < (1 << 24) and b[12] == 0x09


def _event_files(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if _MARK in p.name and p.is_file())
    except OSError:
        return []


def _subdirs(d: Path) -> list[Path]:
    try:
        return sorted(p for p in d.iterdir() if p.is_dir())
    except OSError:
        return []


def run_files(d: Path) -> list[Path]:
    """The event files that make up run directory ``d`` (empty when ``d`` is not a run directory)."""
    direct = _event_files(d)
    subs = [(s, _event_files(s)) for s in _subdirs(d)]
    subs = [(s, f) for s, f in subs if f]
    if direct:
        return direct + [f for _, fs in subs for f in fs]
    if subs and all(s.name.lower() in SPLIT_ALIASES for s, _ in subs):
        return [f for _, fs in subs for f in fs]
    return []


def sniff(path: Path, head: str) -> bool:
    if path.is_dir():
        return bool(run_files(path))
    return _MARK in path.name or _looks_like_events(path)


def _has_split(tag: str) -> bool:
    low = tag.strip().lower()
    toks = [t for t in low.replace("/", "_").replace(".", "_").replace("-", "_").split("_") if t]
    return bool(toks) and (toks[0] in SPLIT_ALIASES or (len(toks) > 1 and toks[-1] in SPLIT_ALIASES))


def _logged_name(tag: str, sub: str | None) -> str:
    """The name to normalise for ``tag`` found in sub-directory ``sub`` of the run (None: the run dir)."""
    if sub is None or _has_split(tag):
        return tag
    if sub.startswith(tag + "_"):  # SummaryWriter.add_scalars: <main_tag>_<key>/ holding tag <main_tag>
        return f"{sub[len(tag) + 1:]}/{tag}"
    return f"{sub}/{tag}"


def _files(path: Path) -> tuple[list[Path], Path]:
    if not path.is_dir():
        return [path], path.parent
    files = run_files(path)
    if not files:
        raise InputError("no TensorBoard event files (events.out.tfevents.*) in this directory", path=path)
    return files, path


def dir_split(sub: str | None, root: Path, tag: str) -> str | None:
    """The split a directory names for ``tag`` when the tag names none (the one owner of the rule; the reader and
    ``watch``'s tailer both use it): the file's split-named sub-directory of the run (``validation/``), or, for a
    bare tag (no ``/``: a TF1 writer's ``loss``, Keras's ``epoch_loss``) directly in the run directory, the run
    directory's own held-out name (``log/test`` pointed at alone reads as ``log`` reads its ``test/``). A run
    directory named ``train`` names nothing — it is Ultralytics' default run name (``runs/detect/train``), whose
    ``metrics/mAP50(B)`` is a validation metric — and neither do tags with a namespace of their own."""
    if sub:
        return SPLIT_ALIASES.get(sub.lower())
    split = SPLIT_ALIASES.get(root.name.lower())
    return split if split is not None and split != "train" and "/" not in tag else None


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    files, root = _files(path)
    parts = Parts(run, str(path))
    for f in files:
        sc = read_scalars(f)
        rel = f.parent.relative_to(root)
        sub = None if str(rel) in ("", ".") else str(rel).replace("\\", "/")
        if sc.truncated:
            parts.notes.append(HistoryNote(run, f"{f.name}: the last record is incomplete (a run still writing, "
                                                "or a crash); it was ignored", str(f)))
        if sc.bad_crc:
            parts.notes.append(_crc_note(run, f, sc.bad_crc))
        epoch_map = sc.tags.get("epoch")
        for tag, (_, step, _, vals) in sc.tags.items():
            _add_tag(parts, tag, sub, dir_split(sub, root, tag), step, vals, epoch_map)
        del sc, epoch_map  # record indices and wall times are not kept: free them before the next file
    read = apart({b.name: (b.split, b.metric) for b in parts.blocks})
    for b in parts.blocks:
        b.split, b.metric = read[b.name]
    parts.meta["tensorboard_files"] = [str(f.relative_to(root)) for f in files]
    return [parts]


#: Byte offsets of damaged records listed in a note (the count is always given).
MAX_LISTED_OFFSETS = 5


def apart(read: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """``{tag: (split, metric)}`` of one run's tags with the twins that would read as one series kept apart (the
    one owner of the rule; the reader and ``watch``'s tailer both use it): Lightning's ``val_loss_step`` beside
    ``val_loss_epoch`` (``<metric>_step``) and an Ultralytics segmenter's or pose model's box group
    ``metrics/mAP50(B)`` beside its task's ``metrics/mAP50(P)`` (``box_<metric>``,
    :func:`gapwatch.names.box_group_apart`; read as one series, the two interleaved and one was dropped at each
    epoch as a "resumed" duplicate), and a ``Loss/train`` beside ``add_scalars``' ``Training vs. Validation Loss``
    training curve (``other_<metric>``, :func:`gapwatch.names.comparison_twins_apart`)."""
    out = dict(read)
    twins = step_twins(out)
    for name in twins:
        split, metric = out[name]
        out[name] = (split, f"{metric}_step")
    box_group_apart(out)
    comparison_twins_apart(out)
    return out


def _crc_note(run: str, f: Path, offsets: list[int]) -> HistoryNote:
    """The note for records skipped because their data checksum failed (a damaged file: disk, copy, NFS)."""
    shown = ", ".join(str(o) for o in offsets[:MAX_LISTED_OFFSETS])
    more = f" and {len(offsets) - MAX_LISTED_OFFSETS} more" if len(offsets) > MAX_LISTED_OFFSETS else ""
    what = "record fails" if len(offsets) == 1 else "records fail"
    return HistoryNote(run, f"{f.name}: {len(offsets)} {what} its data checksum (CRC-32C; damaged on disk or in "
                            f"a copy) and was skipped: the record at byte {shown}{more}", str(f))


def _add_tag(parts: Parts, tag: str, sub: str | None, split_dir: str | None, step: np.ndarray,
             vals: np.ndarray, epoch_map: tuple[np.ndarray, ...] | None) -> None:
    series = tag_series(tag, sub, split_dir, step, epoch_map)
    if series is not None:
        st, epoch, split, metric, name = series
        parts.add(st, epoch, split, metric, vals, name)
    elif role(tag) == "schedule":  # a learning rate: evidence of the schedule (gapwatch.schedule), not judged
        keras_epoch = tag.startswith("epoch_")
        ep = step + 1.0 if keras_epoch else (_epoch_at(step, epoch_map[1], epoch_map[3]) if epoch_map is not None
                                             else np.full(step.shape, np.nan))
        schedule.keep(parts.meta, tag if sub is None else f"{sub}/{tag}",
                      np.full(step.shape, np.nan) if keras_epoch else step, ep, vals)


def tag_series(tag: str, sub: str | None, split_dir: str | None, step: np.ndarray,
               epoch_map: tuple[np.ndarray, ...] | None) -> tuple[np.ndarray, np.ndarray, str, str, str] | None:
    """How one scalar tag becomes a series: ``(step, epoch, split, metric, original name)`` with arrays of the
    tag's shape ``(n,)``, or None for a bookkeeping tag (the one owner of the rule; the reader and ``watch``'s
    tailer both use it). Keras ``epoch_*`` tags carry the 0-based epoch in their step; ``batch_*`` tags are
    per-step; a logged ``epoch`` scalar (``epoch_map``) dates the others; a split sub-directory (``train/``,
    ``validation/``) names the split of tags that do not name their own."""
    t = tag
    epoch = np.full(step.shape, np.nan)
    st = np.asarray(step, dtype=float)  # no copy: the decoder already gives float steps
    if tag.startswith("epoch_") and len(tag) > 6:  # Keras: step is the 0-based epoch index
        t = tag[6:]
        epoch = step + 1.0
        st = np.full(step.shape, np.nan)
    elif tag.startswith("batch_") and len(tag) > 6:
        t = tag[6:]
    if is_bookkeeping(t):
        return None
    if epoch_map is not None and np.isnan(epoch).all():
        epoch = _epoch_at(step, epoch_map[1], epoch_map[3])
    name = f"{split_dir}/{t}" if split_dir is not None and not _has_split(t) else _logged_name(t, sub)
    split, metric = normalize(name, "train")
    return st, epoch, split, metric, tag if sub is None else f"{sub}/{tag}"


def _epoch_at(step: np.ndarray, ep_step: np.ndarray, ep_val: np.ndarray) -> np.ndarray:
    """Epoch logged at the same or nearest earlier step (NaN before the first one)."""
    order = np.argsort(ep_step, kind="stable")
    s, v = ep_step[order], ep_val[order]
    i = np.searchsorted(s, step, side="right") - 1
    out = np.where(i >= 0, v[np.clip(i, 0, None)], np.nan)
    return out.astype(float)


READER = FunctionReader(NAME, sniff, read_parts, "TensorBoard event files (a file or a run directory)")
