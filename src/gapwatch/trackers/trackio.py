"""trackio (Hugging Face's local-first tracker) projects as gapwatch sources.

trackio keeps one SQLite database per project (``$TRACKIO_DIR/<project>.db``, by default under
``~/.cache/huggingface/trackio/``). Its ``metrics`` table holds one row per ``trackio.log`` call: ``run_name``,
``step`` and ``metrics``, a JSON object of the logged values; the ``configs`` table holds each run's config as
JSON. Those columns are the ones read here; trackio 0.43 added ``run_id`` (used to tell runs with the same
name apart when present), ``log_id`` and ``space_id`` (ignored). The store format is young and not
documented as stable: a database without these columns is a one-line :class:`InputError` naming what was
expected. No ``trackio`` package is needed to read it.

Each run becomes a gapwatch run named ``<project>/<run name>``; non-numeric logged values (media, tables) and
trackio's own keys (``_...``) are skipped; a key named ``epoch`` gives the epoch of the others. A trackio
project is what ``experiment=`` selects (:func:`gapwatch.readers.load`): in a directory of project databases,
only ``<experiment>.db`` is read.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..history import History
from ..readers._parts import Parts, build
from ..readers.base import FunctionReader, check_experiment
from ._series import run_parts, unique_name

NAME = "trackio"
#: Seconds to wait for trackio's writer before reporting the database as locked.
SQLITE_TIMEOUT_S = 5.0
_SQLITE_MAGIC = b"SQLite format 3\x00"
_NEEDED = {"metrics": {"run_name", "step", "metrics"}}


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in con.execute(f"PRAGMA table_info({table})")}  # noqa: S608 - fixed table names


def _open(f: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"file:{Path(f).resolve()}?mode=ro", uri=True, timeout=SQLITE_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise InputError(f"cannot open the trackio database ({exc})", path=f) from None


def sniff(path: Path, head: str) -> bool:
    p = Path(path)
    if not p.is_file() or p.suffix != ".db":
        return False
    try:
        with open(p, "rb") as fh:
            if fh.read(16) != _SQLITE_MAGIC:
                return False
        con = _open(p)
        try:
            return _NEEDED["metrics"] <= _columns(con, "metrics") and "configs" in {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except (OSError, sqlite3.Error, InputError):
        return False


_Series = dict[str, tuple[list[float], list[float]]]


def read_parts(path: Path, experiment: str | None = None) -> list[Parts]:
    """Every run of one trackio project database.

    Args:
        experiment: the trackio project to read: the database's name (``<project>.db``); another name is a
            :class:`~gapwatch.readers.base.NoSuchExperiment` naming the project the file holds.
    """
    f = Path(path)
    check_experiment(experiment, [f.stem], f, kind="trackio project")
    con = _open(f)
    try:
        rows = _metric_rows(con, f)
        configs = _configs(con)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise InputError(f"the trackio database is locked by another process (waited {SQLITE_TIMEOUT_S:g} s)",
                             path=f) from None
        raise InputError(f"not a trackio project database ({exc})", path=f) from None
    finally:
        con.close()
    runs = _runs(rows, f)
    used: set[str] = set()
    out = []
    for key, (name, ser) in runs.items():
        series = {k: (np.asarray(s, float), np.asarray(v, float)) for k, (s, v) in ser.items()}
        run = unique_name(f"{f.stem}/{name}", key, used)
        out.append(run_parts(run, f"{f}#{name}", series, {"hparams": configs.get(key, {}),
                                                           "trackio": {"project": f.stem, "run": name}}))
    return out


def _metric_rows(con: sqlite3.Connection, f: Path) -> list[Any]:
    """The ``metrics`` table's ``(run key, run name, step, metrics JSON)`` rows in logging order."""
    have = _columns(con, "metrics")
    missing = _NEEDED["metrics"] - have
    if missing:
        raise InputError(f"not a trackio project database: table 'metrics' lacks column(s) {sorted(missing)} "
                         "(expected run_name, step, metrics)", path=f)
    rid = "run_id" if "run_id" in have else "run_name"
    return con.execute(f"SELECT {rid}, run_name, step, metrics FROM metrics ORDER BY id").fetchall()  # noqa: S608


def _configs(con: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Run key → its config (trackio's own ``_...`` keys dropped); unreadable configs are skipped."""
    configs: dict[str, dict[str, Any]] = {}
    ccols = _columns(con, "configs")
    if {"run_name", "config"} <= ccols:
        key = "run_id" if "run_id" in ccols else "run_name"
        for k, cfg in con.execute(f"SELECT {key}, config FROM configs"):  # noqa: S608
            try:
                val = json.loads(cfg)
            except ValueError:
                continue
            if isinstance(val, dict):
                configs[str(k)] = {a: b for a, b in val.items() if not str(a).startswith("_")}
    return configs


def _runs(rows: list[Any], f: Path) -> dict[str, tuple[str, _Series]]:
    """Run key → (run name, metric key → (steps, values)) of the numeric logged values."""
    runs: dict[str, tuple[str, _Series]] = {}
    for i, (key, name, step, blob) in enumerate(rows, start=1):
        try:
            vals = json.loads(blob)
        except ValueError:
            raise InputError(f"metrics row {i}: not valid JSON", path=f) from None
        ser = runs.setdefault(str(key), (str(name), {}))[1]
        for k, v in vals.items() if isinstance(vals, dict) else ():
            if str(k).startswith("_") or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            lst = ser.setdefault(str(k), ([], []))
            lst[0].append(float(step))
            lst[1].append(float(v))
    return runs


def read_trackio(path: Path | str, experiment: str | None = None) -> History:
    """A trackio project database (``<project>.db``) as a History (``experiment``: see :func:`read_parts`)."""
    parts = read_parts(Path(path), experiment)
    if not parts:
        raise InputError("the trackio project has no logged metrics", path=path)
    return build(parts)


def _read(path: Path, run: str, experiment: str | None = None) -> list[Parts]:
    return read_parts(path, experiment)


READER = FunctionReader(NAME, sniff, _read, options=("experiment",))
