"""JSON Lines logs: one JSON object per logged line, e.g. ``{"epoch": 3, "train_loss": 0.4, "val_loss": 0.6}``.

Also reads gapwatch's own live history files (written by the guard), which add a ``"gapwatch"`` header
record. Keys are normalised with :func:`gapwatch.names.normalize`; bookkeeping keys (``epoch``, ``step``,
``lr``…) are not metrics. A line that is not a JSON object raises :class:`InputError` naming the line.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..history import History

NAME = "jsonl"


def sniff(path: Path, head: str) -> bool:
    if not path.is_file():
        return False
    lines = [ln for ln in head.splitlines()[:5] if ln.strip()]
    if not lines:
        return False
    try:
        first = json.loads(lines[0])
    except ValueError:
        return False
    if not isinstance(first, dict):
        return False
    # a whole-file JSON document (trainer_state.json) is not JSONL
    return "log_history" not in first


def read(path: Path, run: str) -> History:
    records = []
    header: dict | None = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line, parse_constant=lambda c: float(c))
            except ValueError as exc:
                if i > 1 and not line.endswith("\n"):
                    break  # a line cut off by a crash at the end of the file: ignore it
                raise InputError(f"not valid JSON ({getattr(exc, 'msg', exc)})", path=path, line=i) from None
            if not isinstance(rec, dict):
                raise InputError(f"expected a JSON object, got {type(rec).__name__}", path=path, line=i)
            if "gapwatch" in rec:
                if rec["gapwatch"] == "guard/1" and rec.get("monitor"):
                    header = rec  # the live guard's header names the series it monitored
                continue
            records.append((i, rec))
    h = _from_numbered(records, run, str(path))
    if header is not None and not h.empty:
        h = h.with_meta(h.name, monitor=str(header["monitor"]), monitor_mode=header.get("mode"))
    return h


def _from_numbered(records: list[tuple[int, dict]], run: str, source: str) -> History:
    return History.from_records([r for _, r in records], run=run, source=source,
                                lines=[ln for ln, _ in records])
