"""Generic CSV logs.

* **wide**: an ``epoch`` and/or ``step`` column plus metric columns (``train_loss``, ``val_loss``,
  ``val_acc``, ``test_acc``, ``val_pgd_acc``…). Empty cells are "not logged at this row" (sparse rows).
* **long**: columns ``step`` (and/or ``epoch``), ``split``, ``metric``, ``value``; an optional ``run`` column
  makes one file hold several runs.

A non-numeric cell raises :class:`InputError` naming the file, the line (1-based, header = line 1) and the
column.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..history import COLUMNS, History
from ..names import is_bookkeeping, normalize

NAME = "csv"

_X_COLUMNS = ("epoch", "step", "global_step", "iteration", "iter")


def _header(head: str) -> list[str] | None:
    first = head.splitlines()[0] if head.strip() else ""
    if "," not in first and "\t" not in first:
        return None
    delim = "\t" if first.count("\t") > first.count(",") else ","
    try:
        row = next(csv.reader(io.StringIO(first), delimiter=delim))
    except (csv.Error, StopIteration):
        return None
    return [c.strip().lower() for c in row]


def sniff(path: Path, head: str) -> bool:
    if not path.is_file():
        return False
    cols = _header(head)
    if not cols:
        return False
    if {"split", "metric", "value"} <= set(cols):
        return True
    return any(c in _X_COLUMNS for c in cols) and len(cols) >= 2


def read_frame(path: Path) -> pd.DataFrame:
    """Read a CSV into strings, with a clear error on malformed rows."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, sep=None, engine="python")
    except pd.errors.ParserError as exc:
        raise InputError(f"malformed CSV ({str(exc).splitlines()[0]})", path=path) from None
    except (UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV file ({exc.__class__.__name__})", path=path) from None


def to_numeric(df: pd.DataFrame, col: str, path: Path) -> np.ndarray:
    """Column → float array; blank cells → NaN; anything else non-numeric → InputError with its line."""
    s = df[col].astype(str).str.strip()
    blank = s.eq("") | s.str.lower().isin({"none", "null"})
    num = pd.to_numeric(s.where(~blank, "nan"), errors="coerce")
    bad = num.isna() & ~blank & ~s.str.lower().isin({"nan", "-nan", "inf", "-inf", "+inf", "infinity", "-infinity"})
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"column {col!r}: expected a number, got {s.iloc[i]!r}", path=path, line=i + 2)
    out = num.to_numpy(dtype=float)
    low = s.str.lower()
    out[low.isin({"inf", "+inf", "infinity"}).to_numpy()] = np.inf
    out[low.isin({"-inf", "-infinity"}).to_numpy()] = -np.inf
    return out


def read(path: Path, run: str) -> History:
    df = read_frame(path)
    df.columns = [str(c).strip() for c in df.columns]
    lower = {c.lower(): c for c in df.columns}
    if {"split", "metric", "value"} <= set(lower):
        return _read_long(df, lower, path, run)
    return read_wide(df, path, run)


def _x(df: pd.DataFrame, lower: dict[str, str], path: Path) -> tuple[np.ndarray, np.ndarray]:
    n = len(df)
    step = np.full(n, np.nan)
    epoch = np.full(n, np.nan)
    for k in ("step", "global_step", "iteration", "iter"):
        if k in lower:
            step = to_numeric(df, lower[k], path)
            break
    if "epoch" in lower:
        epoch = to_numeric(df, lower["epoch"], path)
    return step, epoch


def read_wide(df: pd.DataFrame, path: Path, run: str, default_split: str = "train") -> History:
    """Wide table → History (shared by the Keras and Lightning readers)."""
    lower = {c.lower(): c for c in df.columns}
    step, epoch = _x(df, lower, path)
    parts = []
    for col in df.columns:
        if is_bookkeeping(col) or col.lower() in _X_COLUMNS:
            continue
        vals = to_numeric(df, col, path)
        logged = ~(df[col].astype(str).str.strip().eq("").to_numpy())
        if not logged.any():
            continue
        split, metric = normalize(col, default_split)
        parts.append(pd.DataFrame({
            "run": run, "step": step[logged], "epoch": epoch[logged], "split": split, "metric": metric,
            "value": vals[logged], "name": col,
        }))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(COLUMNS))
    return History(frame, sources={run: str(path)}).dedupe()


def _read_long(df: pd.DataFrame, lower: dict[str, str], path: Path, run: str) -> History:
    step, epoch = _x(df, lower, path)
    splits = df[lower["split"]].astype(str).str.strip()
    metrics = df[lower["metric"]].astype(str).str.strip()
    vals = to_numeric(df, lower["value"], path)
    runs = df[lower["run"]].astype(str) if "run" in lower else pd.Series([run] * len(df))
    names = splits + "_" + metrics
    norm = [normalize(f"{s}_{m}", default_split=s) for s, m in zip(splits, metrics)]
    frame = pd.DataFrame({
        "run": runs.to_numpy(), "step": step, "epoch": epoch,
        "split": [a for a, _ in norm], "metric": [b for _, b in norm], "value": vals, "name": names,
    })
    srcs = {r: str(path) for r in frame["run"].unique()}
    return History(frame, sources=srcs).dedupe()
