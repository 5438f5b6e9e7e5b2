"""MLflow tracking stores as gapwatch sources: ``mlruns/`` file stores, SQLite stores, tracking servers.

An experiment is a sweep: each run becomes a gapwatch run named ``<experiment>/<run name>`` (``~<run id>``
appended when two runs of an experiment share a name); the run's params become its hyperparameters
(``History.meta[run]["hparams"]``, values as MLflow stores them: strings) and ``meta[run]["mlflow"]`` holds
the run id, experiment and status. Metric keys are normalised like any other log (``val_loss`` → split
``val``, metric ``loss``); MLflow's ``step`` is the step, and a metric named ``epoch`` gives the epoch of the
others logged at the same (or nearest earlier) step. Deleted runs and experiments are skipped.

Three ways in:

* **file store** (``mlruns/``, or ``file:///…/mlruns``): read directly from its documented on-disk layout
  (``<experiment>/meta.yaml``, ``<experiment>/<run>/meta.yaml``, ``metrics/<key>`` lines
  ``timestamp value step``, ``params/<key>``). MLflow 3.x puts the file store in maintenance mode (writing
  needs ``MLFLOW_ALLOW_FILE_STORE=true``), but old ``mlruns/`` directories are everywhere: they are read as
  they are, with no migration and without the ``mlflow`` package.
* **SQLite store** (``sqlite:///…/mlflow.db``, or the ``.db`` file): read directly with ``sqlite3`` from the
  ``experiments``, ``runs``, ``params`` and ``metrics`` tables MLflow's SQLAlchemy store defines (unchanged
  in these columns since MLflow 1.x), opened read-only. No ``mlflow`` package needed; one query per table,
  which is what makes 1,000 runs fast (bench/bench_watch.py compares with ``mlflow.search_runs`` +
  ``get_metric_history``).
* **tracking server** (``http(s)://``): through the ``mlflow`` client (``pip install 'gapwatch[mlflow]'``):
  ``search_runs`` per experiment, then ``get_metric_history`` per metric. The server is probed first
  (``/health``, :data:`PROBE_TIMEOUT_S`) so an unreachable server is one line, not minutes of retries.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, UsageError, require
from ..history import History
from ..readers._parts import Parts, build
from ..readers.base import FunctionReader, check_experiment
from ._series import run_parts, unique_name

NAME = "mlflow"
#: Seconds the SQLite reader waits for a writer's lock before reporting the store as locked.
SQLITE_TIMEOUT_S = 5.0
#: Seconds allowed for the tracking server's ``/health`` probe (and each client request's timeout).
PROBE_TIMEOUT_S = 5.0
#: Runs fetched per ``search_runs`` page from a tracking server (MLflow's maximum is 50,000).
PAGE_SIZE = 1000
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: The file store's numeric run status (``mlflow.entities.RunStatus``) → its name.
_STATUS = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED", "5": "KILLED"}


# ------------------------------------------------------------------------------------------ sniffing
def _yaml_has(f: Path, key: str) -> bool:
    try:
        with open(f, encoding="utf-8", errors="replace") as fh:
            return any(line.startswith(f"{key}:") for line in fh.read(8192).splitlines())
    except OSError:
        return False


def _is_experiment_dir(d: Path) -> bool:
    return (d / "meta.yaml").is_file() and _yaml_has(d / "meta.yaml", "experiment_id")


def is_file_store(d: Path) -> bool:
    """A directory laid out as an MLflow file store (``mlruns/``): experiment folders with ``meta.yaml``."""
    if not d.is_dir():
        return False
    try:
        subs = [p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return False
    return bool(subs) and any(_is_experiment_dir(s) for s in subs[:50])


def is_sqlite_store(f: Path) -> bool:
    """A SQLite database holding MLflow's ``runs`` and ``metrics`` tables."""
    try:
        with open(f, "rb") as fh:
            if fh.read(16) != _SQLITE_MAGIC:
                return False
    except OSError:
        return False
    try:
        with _connect(f) as con:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except InputError:
        return False
    return {"runs", "metrics", "params", "experiments"} <= names


def sniff(path: Path, head: str) -> bool:
    path = Path(path)
    if path.is_dir():
        return is_file_store(path)
    return path.suffix in (".db", ".sqlite", ".sqlite3") and is_sqlite_store(path)


# ------------------------------------------------------------------------------------------ file store
def _yaml(f: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"not a readable MLflow meta.yaml ({exc.__class__.__name__})", path=f) from None
    if not isinstance(data, dict):
        raise InputError("not an MLflow meta.yaml (expected a mapping)", path=f)
    return data


def _metric_file(f: Path) -> tuple[np.ndarray, np.ndarray]:
    """``timestamp value step`` lines → (step, value); NaN/inf spelled as MLflow writes them."""
    steps: list[float] = []
    vals: list[float] = []
    try:
        text = f.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read MLflow metric file ({exc.__class__.__name__})", path=f) from None
    for i, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            if i == len(text.splitlines()) and not text.endswith("\n"):
                break  # a line being written
            raise InputError(f"expected 'timestamp value step', got {line[:60]!r}", path=f, line=i)
        try:
            vals.append(float(parts[1]))
            steps.append(float(parts[2]) if len(parts) == 3 else 0.0)
        except ValueError:
            raise InputError(f"expected numbers in 'timestamp value step', got {line[:60]!r}", path=f,
                             line=i) from None
    return np.asarray(steps, float), np.asarray(vals, float)


def _store_root(path: Path) -> Path:
    return path / "mlruns" if not is_file_store(path) and is_file_store(path / "mlruns") else path


def read_file_store(path: Path, experiment: str | None = None) -> list[Parts]:
    """Every active run of an ``mlruns/`` directory (or of experiment ``experiment`` only)."""
    root = _store_root(Path(path))
    out: list[Parts] = []
    found: list[str] = []
    for exp_dir, em in _file_experiments(root):
        ename = str(em.get("name", exp_dir.name))
        if em.get("lifecycle_stage", "active") != "active":
            continue
        found.append(ename)
        if experiment is not None and ename != experiment:
            continue
        out.extend(_file_runs(exp_dir, ename))
    _check_experiment(experiment, found, root)
    return out


def _file_experiments(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The experiment folders of a file store and their ``meta.yaml``, in creation order."""
    exps = [(p, _yaml(p / "meta.yaml")) for p in root.iterdir() if p.is_dir() and _is_experiment_dir(p)]
    exps.sort(key=lambda e: (_num(e[1].get("creation_time")), e[0].name))  # creation order, as SQLite's ids
    return exps


def _file_runs(exp_dir: Path, ename: str) -> list[Parts]:
    """Every active run of one experiment folder, in start order."""
    used: set[str] = set()
    runs = [(p, _yaml(p / "meta.yaml")) for p in exp_dir.iterdir() if p.is_dir() and (p / "meta.yaml").is_file()]
    runs.sort(key=lambda r: (_num(r[1].get("start_time")), r[0].name))
    out: list[Parts] = []
    for run_dir, rm in runs:
        if rm.get("lifecycle_stage", "active") != "active" or "run_id" not in rm:
            continue
        out.append(_file_run(run_dir, rm, ename, used))
    return out


def _file_run(run_dir: Path, rm: dict[str, Any], ename: str, used: set[str]) -> Parts:
    """One run folder (``rm``: its ``meta.yaml``) as Parts."""
    rid = str(rm["run_id"])
    rname = str(rm.get("run_name") or _read_text(run_dir / "tags" / "mlflow.runName") or rid)
    series = {}
    mdir = run_dir / "metrics"
    if mdir.is_dir():
        for f in sorted(q for q in mdir.rglob("*") if q.is_file()):
            series[f.relative_to(mdir).as_posix()] = _metric_file(f)
    params = {}
    pdir = run_dir / "params"
    if pdir.is_dir():
        params = {f.relative_to(pdir).as_posix(): _read_text(f) for f in sorted(pdir.rglob("*"))
                  if f.is_file()}
    status = _STATUS.get(str(rm.get("status")), str(rm.get("status")))
    name = unique_name(f"{ename}/{rname}", rid, used)
    return run_parts(name, str(run_dir), series,
                     {"hparams": params, "mlflow": {"run_id": rid, "experiment": ename, "status": status}})


def _num(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("inf")


def _read_text(f: Path) -> str:
    try:
        return f.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _check_experiment(experiment: str | None, found: list[str], where: object) -> None:
    check_experiment(experiment, found, where)


# ------------------------------------------------------------------------------------------ SQLite
@contextmanager
def _connect(f: Path) -> Iterator[sqlite3.Connection]:
    try:
        con = sqlite3.connect(f"file:{Path(f).resolve()}?mode=ro", uri=True, timeout=SQLITE_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise InputError(f"cannot open the SQLite store ({exc})", path=f) from None
    try:
        yield con
    except sqlite3.OperationalError as exc:
        msg = str(exc)
        if "locked" in msg or "busy" in msg:
            raise InputError(f"the MLflow SQLite store is locked by another process (waited "
                             f"{SQLITE_TIMEOUT_S:g} s, SQLITE_TIMEOUT_S); try again when the writer is done",
                             path=f) from None
        raise InputError(f"not an MLflow SQLite store ({msg})", path=f) from None
    except sqlite3.DatabaseError as exc:
        raise InputError(f"not a readable SQLite database ({exc})", path=f) from None
    finally:
        con.close()


def read_sqlite(path: Path, experiment: str | None = None) -> list[Parts]:
    """Every active run of an MLflow SQLite store, one query per table."""
    f = Path(path)
    with _connect(f) as con:
        exps = {int(r[0]): str(r[1]) for r in con.execute(
            "SELECT experiment_id, name FROM experiments WHERE lifecycle_stage = 'active'")}
        _check_experiment(experiment, list(exps.values()), f)
        runs = _sqlite_runs(con, exps, experiment)
        keep = {r[0] for r in runs}
        params = _sqlite_params(con, keep)
        rows = con.execute("SELECT run_uuid, key, step, value, is_nan FROM metrics "
                           "ORDER BY run_uuid, key, step, timestamp").fetchall()
    series = _sqlite_series(rows, keep)
    out: list[Parts] = []
    used: set[str] = set()
    for rid, rname, eid, status in runs:
        name = unique_name(f"{exps[eid]}/{rname}", rid, used)
        out.append(run_parts(name, f"{f}#{rid}", series.get(rid, {}),
                             {"hparams": params.get(rid, {}),
                              "mlflow": {"run_id": rid, "experiment": exps[eid], "status": status}}))
    return out


def _sqlite_runs(con: sqlite3.Connection, exps: dict[int, str],
                 experiment: str | None) -> list[tuple[str, str, int, str]]:
    """``(run id, run name, experiment id, status)`` of the active runs of the active experiments ``exps``
    (of ``experiment`` only, when given), in creation and start order."""
    return [(str(r[0]), str(r[1] or r[0]), int(r[2]), str(r[3])) for r in con.execute(
        "SELECT r.run_uuid, r.name, r.experiment_id, r.status FROM runs r JOIN experiments e "
        "ON r.experiment_id = e.experiment_id WHERE r.lifecycle_stage = 'active' "
        "ORDER BY e.creation_time, e.experiment_id, r.start_time, r.run_uuid")
        if int(r[2]) in exps and (experiment is None or exps[int(r[2])] == experiment)]


def _sqlite_params(con: sqlite3.Connection, keep: set[str]) -> dict[str, dict[str, str]]:
    """Run id → its params, for the runs in ``keep``."""
    params: dict[str, dict[str, str]] = {}
    for k, v, rid in con.execute("SELECT key, value, run_uuid FROM params"):
        if rid in keep:
            params.setdefault(rid, {})[str(k)] = str(v)
    return params


def _sqlite_series(rows: list[Any], keep: set[str]) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Run id → metric key → ``(step, value)`` from the ``metrics`` rows sorted by run and key."""
    series: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    if rows:
        rid_a = np.asarray([r[0] for r in rows], dtype=object)
        key_a = np.asarray([r[1] for r in rows], dtype=object)
        step_a = np.asarray([r[2] for r in rows], dtype=float)
        val_a = np.asarray([r[3] for r in rows], dtype=float)
        val_a[np.asarray([bool(r[4]) for r in rows])] = np.nan
        cut = np.flatnonzero((rid_a[1:] != rid_a[:-1]) | (key_a[1:] != key_a[:-1])) + 1
        for a, b in zip(np.r_[0, cut], np.r_[cut, len(rows)], strict=True):
            rid = str(rid_a[a])
            if rid in keep:
                series.setdefault(rid, {})[str(key_a[a])] = (step_a[a:b], val_a[a:b])
    return series


# ------------------------------------------------------------------------------------------ server
def _probe(uri: str) -> None:
    import urllib.error  # (here: every `gapwatch analyze` imports this module's reader; urllib costs start-up)
    import urllib.request

    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as r:  # noqa: S310 - the user's server
            r.read(64)
    except urllib.error.HTTPError:
        return  # it answers (some proxies have no /health): let the client speak
    except (urllib.error.URLError, OSError) as exc:
        raise InputError(f"cannot reach the MLflow tracking server at {uri} "
                         f"({getattr(exc, 'reason', exc)})") from None


@contextmanager
def _client_env() -> Iterator[None]:
    """Fail fast: the client's default is 7 retries with backoff (minutes against a dead server)."""
    keys = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(int(PROBE_TIMEOUT_S) * 6)}
    unset = [k for k in keys if k not in os.environ]  # the user's own settings win
    for k in unset:
        os.environ[k] = keys[k]
    try:
        yield
    finally:
        for k in unset:
            os.environ.pop(k, None)


def read_client(uri: str, experiment: str | None = None) -> list[Parts]:
    """Every active run through the ``mlflow`` client (any tracking URI the client accepts)."""
    require("mlflow", "mlflow")
    if uri.startswith(("http://", "https://")):
        _probe(uri)
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    out: list[Parts] = []
    try:
        with _client_env():
            client = MlflowClient(tracking_uri=uri)
            exps = sorted(client.search_experiments(view_type=ViewType.ACTIVE_ONLY),
                          key=lambda e: (e.creation_time or 0, e.experiment_id))  # as the direct readers
            _check_experiment(experiment, [e.name for e in exps], uri)
            for e in exps:
                if experiment is not None and e.name != experiment:
                    continue
                used: set[str] = set()
                token = None
                while True:
                    page = client.search_runs([e.experiment_id], run_view_type=ViewType.ACTIVE_ONLY,
                                              max_results=PAGE_SIZE, page_token=token,
                                              order_by=["attributes.start_time ASC"])
                    for r in page:
                        out.append(_client_run(client, e.name, r, used, uri))
                    token = page.token
                    if not token:
                        break
    except MlflowException as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise InputError(f"MLflow tracking store {uri}: {first}") from None
    return out


def _client_run(client: Any, ename: str, r: Any, used: set[str], uri: str) -> Parts:
    rid = r.info.run_id
    series = {}
    for key in sorted(r.data.metrics):
        hist = client.get_metric_history(rid, key)
        hist = sorted(hist, key=lambda m: (m.step, m.timestamp))
        series[key] = (np.asarray([m.step for m in hist], float), np.asarray([m.value for m in hist], float))
    name = unique_name(f"{ename}/{r.info.run_name or rid}", rid, used)
    return run_parts(name, f"{uri}#{rid}", series,
                     {"hparams": dict(r.data.params),
                      "mlflow": {"run_id": rid, "experiment": ename, "status": r.info.status}})


# ------------------------------------------------------------------------------------------ entry points
def read_parts(source: str | Path, experiment: str | None = None) -> list[Parts]:
    """Runs of an MLflow store given as a path (``mlruns/``, ``mlflow.db``) or a tracking URI
    (``file:``, ``sqlite:``, ``http(s):``).

    Raises:
        InputError: unreadable store, locked SQLite store, unreachable server (one line each).
        NoSuchExperiment: ``experiment`` names no experiment of the store (a UsageError listing them).
        UsageError: an unsupported URI scheme.
        MissingDependencyError: an ``http(s)://`` URI without the ``mlflow`` package.
    """
    s = str(source)
    if s.startswith(("http://", "https://")):
        return read_client(s, experiment)
    if s.startswith("sqlite:///"):
        # SQLAlchemy's form: sqlite:///relative.db, sqlite:////absolute/path.db
        return read_sqlite(Path(s[len("sqlite:///"):]), experiment)
    if s.startswith("file://"):
        s = s[len("file://"):]
    elif "://" in s:
        raise UsageError(f"unsupported MLflow tracking URI {s!r}: use a path, file://, sqlite:/// or http(s)://")
    p = Path(s)
    if not p.exists():
        raise UsageError(f"{p}: no such file or directory")
    if p.is_dir():
        if not (is_file_store(p) or is_file_store(p / "mlruns")):
            raise InputError("not an MLflow file store (no experiment folders with meta.yaml)", path=p)
        return read_file_store(p, experiment)
    try:
        with open(p, "rb") as fh:
            magic = fh.read(16)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=p) from None
    if magic != _SQLITE_MAGIC:
        raise InputError("not an MLflow store (expected an mlruns/ directory or a SQLite database)", path=p)
    return read_sqlite(p, experiment)  # a SQLite file without MLflow's tables: InputError naming the table


def read_mlflow(source: str | Path, experiment: str | None = None) -> History:
    """An MLflow store as a History (a sweep: one run per MLflow run). See :func:`read_parts`."""
    parts = read_parts(source, experiment)
    if not parts:
        raise InputError(f"no runs in the MLflow store {source}" + (f" (experiment {experiment!r})"
                                                                    if experiment else ""))
    return build(parts)


def _read(path: Path, run: str, experiment: str | None = None) -> list[Parts]:
    return read_parts(path, experiment)


READER = FunctionReader(NAME, sniff, _read, options=("experiment",))
