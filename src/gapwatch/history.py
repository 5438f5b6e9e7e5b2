"""History: the one tidy table every reader produces and every detector consumes.

One row per logged observation with columns

================  ========  =====================================================================
column            dtype     meaning
================  ========  =====================================================================
``run``           str       run name (relative path inside a sweep directory, or the file stem)
``step``          float     optimizer step (NaN when the log has none)
``epoch``         float     epoch, possibly fractional (NaN when the log has none)
``split``         str       ``train``, ``val``, ``test`` or any named held-out set (``retention``)
``metric``        str       canonical metric (``loss``, ``acc``, ``pgd_acc``, …)
``value``         float     the value; NaN and ±inf are kept because they are evidence
``name``          str       the name exactly as logged (``eval_loss``)
================  ========  =====================================================================

A History is immutable: its frame is a private copy and every method returns new objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import numpy as np
import pandas as pd

from .errors import InputError
from .names import is_bookkeeping, normalize

COLUMNS: tuple[str, ...] = ("run", "step", "epoch", "split", "metric", "value", "name")
#: Up to this many rows the lookup index is built with a plain dict pass instead of a pandas groupby.
_SMALL_INDEX_ROWS = 5000
_T = TypeVar("_T")


@dataclass(frozen=True)
class Series:
    """One metric of one split of one run, ordered by its x axis.

    Attributes:
        split, metric, name: what the series is (``name`` is the original logged name).
        step, epoch: float arrays of shape ``(n,)``; NaN where the log had no value.
        values: float array ``(n,)``; NaN/inf kept.
        x_kind: ``"epoch"`` or ``"step"``: the axis the series is ordered by.
    """

    split: str
    metric: str
    name: str
    step: np.ndarray
    epoch: np.ndarray
    values: np.ndarray
    x_kind: str

    @property
    def x(self) -> np.ndarray:
        """The x values (epochs or steps), shape ``(n,)``."""
        return self.epoch if self.x_kind == "epoch" else self.step

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def at(self, i: int) -> dict[str, float | None]:
        """``{"step", "epoch"}`` of evaluation ``i`` with NaN turned into ``None`` (for JSON)."""
        return {"step": _num(self.step[i], as_int=True), "epoch": _num(self.epoch[i])}

    def finite(self) -> Series:
        """The series without its non-finite values."""
        keep = np.isfinite(self.values)
        return Series(self.split, self.metric, self.name, self.step[keep], self.epoch[keep],
                      self.values[keep], self.x_kind)


def _num(v: float, as_int: bool = False) -> float | int | None:
    if v is None or not np.isfinite(v):
        return None
    if as_int and float(v).is_integer():
        return int(v)
    if float(v).is_integer():
        return float(v)
    return float(v)


@dataclass(frozen=True)
class HistoryNote:
    """Something a reader or the History noticed and the user should know (resumed steps, dropped rows)."""

    run: str
    message: str
    source: str = ""


class History:
    """Immutable, tidy table of training observations (see module docstring for the columns)."""

    __slots__ = ("_df", "notes", "sources", "meta", "_cache")
    _df: pd.DataFrame
    notes: tuple[HistoryNote, ...]
    sources: dict[str, str]
    meta: dict[str, dict[str, object]]
    _cache: dict  # type: ignore[type-arg]

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        notes: Sequence[HistoryNote] = (),
        sources: Mapping[str, str] | None = None,
        meta: Mapping[str, Mapping[str, object]] | None = None,
    ) -> None:
        missing = [c for c in ("run", "split", "metric", "value") if c not in frame.columns]
        if missing:
            raise InputError(f"History needs columns {list(COLUMNS)}; missing {missing}")
        df = frame.copy()
        if "name" not in df.columns:
            df["name"] = df["split"].astype(str) + "_" + df["metric"].astype(str)
        for c in ("step", "epoch"):
            if c not in df.columns:
                df[c] = np.nan
        df = df[list(COLUMNS)]
        df["run"] = df["run"].astype(str)
        df["split"] = df["split"].astype(str)
        df["metric"] = df["metric"].astype(str)
        df["name"] = df["name"].astype(str)
        for c in ("step", "epoch", "value"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        df = df.reset_index(drop=True)
        object.__setattr__(self, "_df", df)
        object.__setattr__(self, "notes", tuple(notes))
        object.__setattr__(self, "sources", dict(sources or {}))
        object.__setattr__(self, "meta", {k: dict(v) for k, v in (meta or {}).items()})
        object.__setattr__(self, "_cache", {})  # lazily built lookup index (the History is immutable)

    def __setattr__(self, key: str, value: object) -> None:  # immutability
        raise AttributeError("History is immutable")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, object]],
        *,
        run: str = "run",
        source: str = "",
        default_split: str = "train",
        lines: Sequence[int] | None = None,
    ) -> History:
        """Build from wide records such as ``{"epoch": 3, "step": 120, "train_loss": 0.4, "val_acc": 0.8}``.

        Every key that is not bookkeeping (``epoch``, ``step``, ``learning_rate``…) becomes an observation,
        its name normalised with :func:`gapwatch.names.normalize`. Non-numeric values raise
        :class:`InputError` naming the record (1-based, or ``lines[i]`` when given) and key.
        """
        rows: list[tuple[str, float, float, str, str, float, str]] = []
        for j, rec in enumerate(records):
            i = lines[j] if lines is not None else j + 1
            step = _as_float(rec.get("step", rec.get("global_step")), source, i, "step")
            epoch = _as_float(rec.get("epoch"), source, i, "epoch")
            for key, val in rec.items():
                if is_bookkeeping(str(key)) or val is None:
                    continue
                if isinstance(val, (dict, list, tuple)):
                    continue
                v = _as_float(val, source, i, str(key))
                split, metric = normalize(str(key), default_split)
                rows.append((run, step, epoch, split, metric, v, str(key)))
        df = pd.DataFrame(rows, columns=list(COLUMNS))
        return cls(df, sources={run: source} if source else None).dedupe()

    @classmethod
    def concat(cls, histories: Sequence[History]) -> History:
        """Stack several histories (e.g. the runs of a sweep). Run names must be distinct."""
        if not histories:
            return cls(pd.DataFrame(columns=list(COLUMNS)))
        frames = [h._df for h in histories]
        notes: list[HistoryNote] = []
        sources: dict[str, str] = {}
        meta: dict[str, Mapping[str, object]] = {}
        for h in histories:
            notes.extend(h.notes)
            sources.update(h.sources)
            meta.update(h.meta)
        return cls(pd.concat(frames, ignore_index=True), notes=notes, sources=sources, meta=meta)

    def with_run_name(self, name: str) -> History:
        """Same observations, every row renamed to run ``name``."""
        df = self._df.copy()
        old = list(dict.fromkeys(df["run"]))
        df["run"] = name
        src = next(iter(self.sources.values()), "") if self.sources else ""
        notes = [HistoryNote(name, n.message, n.source) for n in self.notes]
        meta = {name: self.meta[old[0]]} if old and old[0] in self.meta else {}
        return History(df, notes=notes, sources={name: src} if src else None, meta=meta)

    def with_meta(self, run: str, **meta: object) -> History:
        """Attach metadata (hyperparameters, checkpoints found) to a run."""
        m = {k: dict(v) for k, v in self.meta.items()}
        m.setdefault(run, {}).update(meta)
        return History(self._df, notes=self.notes, sources=self.sources, meta=m)

    def dedupe(self) -> History:
        """Resolve resumed runs: when a (run, split, metric) logs the same step twice, or steps go back,
        keep the **last** logged value per step and record a :class:`HistoryNote` saying so."""
        df = self._df
        if df.empty:
            return self
        notes = list(self.notes)
        key = "step" if df["step"].notna().any() else "epoch"
        if df[key].isna().all():
            return self
        parts = []
        for (run, split, metric), g in df.groupby(["run", "split", "metric"], sort=False):
            xs = g[key].to_numpy()
            has = ~np.isnan(xs)
            went_back = bool(np.any(np.diff(xs[has]) < 0)) if has.sum() > 1 else False
            dup = g[has].duplicated(subset=[key], keep="last")
            if went_back or dup.any():
                n_drop = int(dup.sum())
                msg = (f"{split}/{metric}: {key}s go back or repeat (a resumed run?); kept the last value "
                       f"logged for each {key}, dropped {n_drop} earlier value(s)")
                notes.append(HistoryNote(str(run), msg, self.sources.get(str(run), "")))
                g = pd.concat([g[has][~dup], g[~has]]).sort_values(key, kind="stable")
            parts.append(g)
        new = pd.concat(parts, ignore_index=True)
        return History(new, notes=_unique_notes(notes), sources=self.sources, meta=self.meta)

    # ----------------------------------------------------------------- queries
    @property
    def frame(self) -> pd.DataFrame:
        """A copy of the tidy table (mutating it does not change the History)."""
        return self._df.copy()

    def __len__(self) -> int:
        return len(self._df)

    @property
    def empty(self) -> bool:
        return cast(bool, self._df.empty)

    def runs(self) -> list[str]:
        """Run names in order of first appearance."""
        return list(self.memo("runs", lambda: [str(r) for r in self._df["run"].unique()]))

    def run(self, name: str) -> Run:
        """The History of one run."""
        mask = self._df["run"] == name
        if not mask.any():
            raise KeyError(f"no run named {name!r}; runs: {self.runs()}")
        df = self._df[mask]
        return Run(
            df,
            notes=[n for n in self.notes if n.run == name],
            sources={name: self.sources[name]} if name in self.sources else None,
            meta={name: self.meta[name]} if name in self.meta else None,
        )

    def __iter__(self) -> Iterator[Run]:
        """The runs of this History, each a :class:`Run`, in order of first appearance.

        A sweep is cut into runs with one pass over its rows (each run's lookup index is cut out of this
        History's), not one pandas filter per run."""
        if len(self.runs()) <= 1:
            yield self if isinstance(self, Run) else Run._share(self)
            return
        notes: dict[str, list[HistoryNote]] = {}
        for n in self.notes:
            notes.setdefault(n.run, []).append(n)
        c = self._index()
        triples: dict[str, list[tuple[str, str, str]]] = {}
        for key in c["groups"]:
            triples.setdefault(key[0], []).append(key)
        for r, df in self._df.groupby("run", sort=False):
            name = str(r)
            # the rows are already validated and typed: skip __init__'s conversions (~1 ms per run)
            h = object.__new__(Run)
            object.__setattr__(h, "_df", df.reset_index(drop=True))
            object.__setattr__(h, "notes", tuple(notes.get(name, ())))
            object.__setattr__(h, "sources", {name: self.sources[name]} if name in self.sources else {})
            object.__setattr__(h, "meta", {name: dict(self.meta[name])} if name in self.meta else {})
            rows = df.index.to_numpy()  # positions in this History (its frame has a RangeIndex), increasing
            groups = {key: np.searchsorted(rows, c["groups"][key]) for key in triples.get(name, ())}
            sub = {"groups": groups, "pairs": {(sp, m) for _, sp, m in groups}, "runs": [name] if groups else [],
                   "step": c["step"][rows], "epoch": c["epoch"][rows], "value": c["value"][rows],
                   "name": c["name"][rows], ("memo", "runs"): [name]}
            object.__setattr__(h, "_cache", sub)
            yield h

    @property
    def name(self) -> str:
        """Name of the run (for single-run histories)."""
        runs = self.runs()
        return runs[0] if runs else ""

    @property
    def source(self) -> str:
        return self.sources.get(self.name, "")

    def keys(self) -> list[tuple[str, str]]:
        """``(split, metric)`` pairs present, in order of first appearance."""
        return list(dict.fromkeys((sp, m) for _, sp, m in self._index()["groups"]))

    def names(self) -> list[str]:
        """Original metric names present."""
        return [str(r) for r in self._df["name"].unique()]

    def splits(self) -> list[str]:
        return [str(r) for r in self._df["split"].unique()]

    def has(self, split: str, metric: str) -> bool:
        return (split, metric) in self._index()["pairs"]

    def _index(self) -> dict:  # type: ignore[type-arg]
        """Row positions of every (run, split, metric) and the numeric columns as arrays, built once: detectors
        call :meth:`series` many times per run and a pandas filter costs ~1 ms each."""
        c = self._cache
        if "groups" not in c:  # (other lazily computed entries may share the cache: see memo())
            df = self._df
            if len(df) <= _SMALL_INDEX_ROWS:
                # a plain dict pass: same groups, same first-appearance order and increasing row positions as
                # groupby(sort=False).indices, without pandas' ~3 ms per call (a sweep builds one per run)
                pos: dict[tuple[object, object, object], list[int]] = {}
                for j, key in enumerate(zip(df["run"].tolist(), df["split"].tolist(), df["metric"].tolist())):
                    pos.setdefault(key, []).append(j)
                c["groups"] = {(str(r), str(sp), str(m)): np.asarray(v, dtype=np.intp)
                               for (r, sp, m), v in pos.items()
                               if not any(k is None or (isinstance(k, float) and math.isnan(k)) for k in (r, sp, m))}
            else:
                groups = df.groupby(["run", "split", "metric"], sort=False).indices
                c["groups"] = {(str(r), str(sp), str(m)): np.asarray(v) for (r, sp, m), v in groups.items()}
            c["pairs"] = {(sp, m) for _, sp, m in c["groups"]}
            c["runs"] = list(dict.fromkeys(r for r, _, _ in c["groups"]))
            for k in ("step", "epoch", "value"):
                c[k] = df[k].to_numpy(float)
            c["name"] = df["name"].to_numpy(object)
        return c

    def memo(self, key: object, compute: Callable[[], _T]) -> _T:
        """``compute()`` once per History and ``key`` (the History is immutable, so results derived from it
        can be kept with it): detectors that ask each other (``underfitting`` asks ``instability`` about spikes)
        share one computation. ``key`` must be hashable and include every argument the result depends on."""
        c = self._cache
        k = ("memo", key)
        if k not in c:
            c[k] = compute()
        return c[k]  # type: ignore[no-any-return]

    def series(self, split: str, metric: str, *, run: str | None = None, x: str | None = None) -> Series:
        """The ``split``/``metric`` series of one run, ordered by its x axis.

        Args:
            x: ``"epoch"``, ``"step"`` or ``None`` (epoch when every point has a strictly increasing epoch,
               else step).
        Raises:
            KeyError: when absent; the message lists what is present.
        """
        c = self._index()
        if run is None:
            if len(c["runs"]) > 1:
                raise ValueError("series() on a History with several runs needs run=")
            run = c["runs"][0] if c["runs"] else ""
        pos = c["groups"].get((run, split, metric))
        if pos is None:
            have = ", ".join(f"{s}/{m}" for s, m in self.keys()) or "nothing"
            raise KeyError(f"no {split}/{metric} series; found: {have}")
        step, epoch, values = c["step"][pos], c["epoch"][pos], c["value"][pos]
        kind = x or _pick_x_arrays(epoch, step)
        first, second = (epoch, step) if kind == "epoch" else (step, epoch)
        order = np.lexsort((second, first))  # stable; NaN sorts last, like sort_values(na_position="last")
        name = str(c["name"][pos[order[0]]])
        return Series(split, metric, name, step[order], epoch[order], values[order], kind)

    def aligned(self, metric: str, splits: Sequence[str] = ("train", "val")) -> pd.DataFrame:
        """Wide table of ``metric`` for ``splits`` on a common x (the x of the last split), one column
        per split. Each split is matched to the nearest earlier-or-equal x of that split (train loss logged
        every 10 steps is matched to each evaluation)."""
        base, cols = self.aligned_arrays(metric, splits)
        out = pd.DataFrame({"x": base.x, "step": base.step, "epoch": base.epoch})
        for sp, vals in cols.items():
            out[sp] = vals
        return out

    def aligned_arrays(self, metric: str,
                       splits: Sequence[str] = ("train", "val")) -> tuple[Series, dict[str, np.ndarray]]:
        """:meth:`aligned` without the DataFrame (detectors call it once per run; building the frame costs more
        than the matching): the base series (``splits[-1]``) and, per split present, its values matched to the
        base's x, float arrays of shape ``(len(base),)``."""
        base = self.series(splits[-1], metric)
        out: dict[str, np.ndarray] = {}
        for sp in splits:
            if not self.has(sp, metric):
                continue
            s = self.series(sp, metric, x=base.x_kind)
            ok = np.isfinite(s.x)
            rx, rv = s.x[ok], s.values[ok]
            order = np.argsort(rx, kind="stable")
            rx, rv = rx[order], rv[order]
            # nearest earlier-or-equal x (numpy equivalent of merge_asof(direction="backward"), ~100x faster)
            bx = base.x
            i = np.searchsorted(rx, bx, side="right") - 1
            vals = np.where(i >= 0, rv[np.clip(i, 0, None)] if rv.size else np.nan, np.nan)
            vals[~np.isfinite(bx)] = np.nan
            out[sp] = vals.astype(float)
        return base, out


class Run(History):
    """The History of exactly one run, as :meth:`History.__iter__` yields it.

    Everything derived from a run (its series table, the monitor decision, detector intermediate results) is
    memoised on the Run (:meth:`History.memo`), so the detectors, the forecast and the report that ask the
    same question of one run compute the answer once."""

    __slots__ = ()

    @classmethod
    def _share(cls, h: History) -> Run:
        """A Run view of a one-run History ``h`` sharing its (immutable) table, index and memo."""
        r = object.__new__(cls)
        for k in History.__slots__:
            object.__setattr__(r, k, getattr(h, k))
        return r

    @classmethod
    def without_rows(cls, name: str, source: str = "") -> Run:
        """A run with no observations (a file of a sweep that could not be read)."""
        frame = pd.DataFrame({c: pd.Series([], dtype=float if c in ("step", "epoch", "value") else object)
                              for c in COLUMNS})
        r = cls(frame, sources={name: source} if source else None)
        object.__getattribute__(r, "_cache")[("memo", "runs")] = [name]
        return r

    @property
    def run_meta(self) -> dict[str, object]:
        """This run's metadata (hyperparameters, the reader's bookkeeping): ``meta[name]`` or ``{}``."""
        return self.meta.get(self.name, {})


def _pick_x(sel: pd.DataFrame) -> str:
    return _pick_x_arrays(sel["epoch"].to_numpy(float), sel["step"].to_numpy(float))


def _pick_x_arrays(ep: np.ndarray, st: np.ndarray) -> str:
    if np.all(np.isfinite(ep)) and (len(ep) < 2 or np.all(np.diff(np.sort(ep)) > 0)):
        return "epoch"
    if np.all(np.isfinite(st)):
        return "step"
    return "epoch" if np.isfinite(ep).sum() >= np.isfinite(st).sum() else "step"


def _unique_notes(notes: Sequence[HistoryNote]) -> list[HistoryNote]:
    return list(dict.fromkeys(notes))


def _as_float(val: object, source: str, line: int, key: str) -> float:
    if val is None:
        return float("nan")
    if isinstance(val, bool):
        return float(val)
    if isinstance(val, (int, float, np.integer, np.floating)):
        return float(val)
    if isinstance(val, str):
        s = val.strip()
        if s == "":
            return float("nan")
        try:
            return float(s)
        except ValueError:
            pass
    raise InputError(f"key {key!r}: expected a number, got {val!r}", path=source or None, line=line)
