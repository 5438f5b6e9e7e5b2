"""Schedule series a log carries (learning rate, momentum …) and the schedule events in them.

A logged learning rate says what the user *set*, not what the model did (role ``schedule`` in
:mod:`gapwatch.names`), so it never becomes a judged series. It is still evidence: a loss that jumps right after a
deliberate learning-rate re-warm, or after a planned augmentation switch, is the schedule at work, not an unstable
run (issue 12, class 3), and a forecast should know where the regime changed (issue 14, item 2).

Where the series live: the readers keep every schedule-role series of a run in ``History.meta[run]["schedule"]``
as ``{logged name: {"step": array, "epoch": array, "value": array}}`` (float64 arrays of one shape ``(n,)``, NaN
where the log had no step or epoch). Ultralytics runs whose ``args.yaml`` sits beside ``results.csv`` also carry
``meta[run]["ultralytics"]`` with the planned ``epochs`` and ``close_mosaic`` (the number of final epochs trained
without mosaic augmentation); an Ultralytics ``results.csv`` without ``args.yaml`` carries Ultralytics' default
(``close_mosaic`` 10, the last logged epoch read as the planned last, ``"assumed": True``). :func:`series_of`
gives the former as :class:`ScheduleSeries`; :func:`events` reads both into :class:`ScheduleEvent` s:

* ``rewarm`` — a learning rate that had fallen to at most ``1 / rewarm_ratio`` of its earlier peak rises again by at
  least ``rewarm_ratio`` (a restart of SGDR, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017; the
  re-warming of continual pre-training, "Continual Pre-Training of Large Language Models: How to (re)warm your
  model?", 2023, which reports the loss rising for a while after the re-warm). The initial warm-up is not a
  re-warm (nothing fell before it).
* ``drop`` — a learning rate that falls by at least ``drop_ratio`` from one logged value to the next after a flat
  stretch (a step schedule's milestone); the smooth end of a cosine or linear decay is not a drop.
* ``augmentation`` — Ultralytics' ``close_mosaic`` switch: mosaic augmentation is turned off for the last
  ``close_mosaic`` epochs, which changes the training losses' level at that epoch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .history import History
from .params import Param, register, validate

#: Key of ``History.meta[run]`` that holds the schedule series.
META_KEY = "schedule"
#: Key of ``History.meta[run]`` with the Ultralytics training arguments that matter here.
ULTRALYTICS_KEY = "ultralytics"
#: Names that are a learning rate (``lr``, ``learning_rate``, ``lr-SGD``, ``lr/pg0``, ``lr0``, ``train/lr``).
_LR_RE = re.compile(r"(^|[^a-z])(lr|learning_?rate|learningrate)([^a-z]|$)|(^|[^a-z])(lr\d+|pg\d+)$", re.I)
#: More turning points than this in a learning-rate series: it is not a schedule (noisy, or not an LR at all).
_MAX_TURNS = 10_000

SPECS: tuple[Param, ...] = register("schedule", (
    Param("rewarm_ratio", 2.0, "A learning-rate re-warm: the rate had fallen to at most 1/rewarm_ratio of its "
          "earlier peak and rises again by at least this factor. 2x keeps the small wiggles of adaptive "
          "schedules (ReduceLROnPlateau cool-downs, rounding in the log) out.", unit="ratio", low=1,
          low_open=True),
    Param("drop_ratio", 2.0, "A step drop: the rate falls by at least this factor between two logged values "
          "after a flat stretch (the usual milestone factors are 5 or 10; 2 catches halvings).", unit="ratio",
          low=1, low_open=True),
    Param("flat_ratio", 1.05, "Flat stretch before a step drop: the previous logged change is within this "
          "factor, so the fast end of a cosine or linear decay is not taken for a milestone.", unit="ratio",
          low=1),
))


@dataclass(frozen=True)
class ScheduleSeries:
    """One logged schedule series (a learning rate, a momentum): float arrays of shape ``(n,)``."""

    name: str
    step: np.ndarray
    epoch: np.ndarray
    values: np.ndarray

    @property
    def is_learning_rate(self) -> bool:
        return is_learning_rate(self.name)


@dataclass(frozen=True)
class ScheduleEvent:
    """A deliberate change of the training regime at one point of the run.

    Attributes:
        kind: ``"rewarm"``, ``"drop"`` or ``"augmentation"``.
        name: the logged series it was read from (``lr/pg0``), or the argument (``close_mosaic``).
        step, epoch: where the new regime starts (the first logged point under it); NaN when unknown.
        before, after: the value before and after (learning rate; for ``augmentation`` 1 and 0: mosaic on/off).
    """

    kind: str
    name: str
    step: float
    epoch: float
    before: float
    after: float

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | int | None:
            if not math.isfinite(v):
                return None
            return int(v) if float(v).is_integer() else float(v)

        return {"kind": self.kind, "name": self.name, "step": num(self.step), "epoch": num(self.epoch),
                "before": num(self.before), "after": num(self.after)}

    def where(self) -> str:
        """``"step 1200"`` or ``"epoch 40"`` for a message."""
        if math.isfinite(self.step):
            return f"step {self.step:g}"
        return f"epoch {self.epoch:g}" if math.isfinite(self.epoch) else "an unknown point"


def is_learning_rate(name: str) -> bool:
    """True for a name that logs a learning rate (``learning_rate``, ``lr-AdamW``, ``lr/pg1``, ``train/lr``)."""
    return bool(_LR_RE.search(name))


def keep(meta: MutableMapping[str, Any], name: str, step: np.ndarray, epoch: np.ndarray,
         values: np.ndarray) -> None:
    """Store one schedule series in a run's ``meta`` (a reader's ``Parts.meta``): own float64 copies, the finite
    values only. Called by the readers for every name whose role is ``schedule``."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if not ok.any():
        return
    st = np.broadcast_to(np.asarray(step, dtype=float), v.shape)
    ep = np.broadcast_to(np.asarray(epoch, dtype=float), v.shape)
    meta.setdefault(META_KEY, {})[str(name)] = {"step": np.array(st[ok]), "epoch": np.array(ep[ok]),
                                                "value": np.array(v[ok])}


def keep_records(meta: MutableMapping[str, Any], records: Any) -> None:
    """Store the schedule series of wide records (``[(line, {"step", "epoch", "learning_rate", …}), …]``)."""
    from .names import role

    cols: dict[str, tuple[list[float], list[float], list[float]]] = {}
    roles: dict[str, str] = {}  # one role() per distinct key, not per record
    for _, rec in records:
        for k, v in rec.items():
            if type(v) not in (int, float):
                continue
            r = roles.get(k)
            if r is None:
                r = roles[k] = role(str(k))
            if r != "schedule":
                continue
            c = cols.setdefault(str(k), ([], [], []))
            c[0].append(_axis(rec, ("step", "global_step")))
            c[1].append(_axis(rec, ("epoch",)))
            c[2].append(float(v))
    for k, (st, ep, va) in cols.items():
        keep(meta, k, np.asarray(st), np.asarray(ep), np.asarray(va))


def _axis(rec: Mapping[str, Any], keys: tuple[str, ...]) -> float:
    for k in keys:
        v = rec.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return math.nan


def series_of(history: History, run: str | None = None) -> list[ScheduleSeries]:
    """The schedule series of one run (the History's first run by default), in the order they were logged."""
    name = history.runs()[0] if run is None and history.runs() else run
    found = history.meta.get(str(name), {}).get(META_KEY) if name is not None else None
    if not isinstance(found, Mapping):
        return []
    out = []
    for k, d in found.items():
        if isinstance(d, Mapping) and {"step", "epoch", "value"} <= d.keys():
            out.append(ScheduleSeries(str(k), np.asarray(d["step"], float), np.asarray(d["epoch"], float),
                                      np.asarray(d["value"], float)))
    return out


def events(history: History, run: str | None = None, **params: Any) -> list[ScheduleEvent]:
    """The schedule events of one run, in order of their place in the run (see the module docstring).

    Parameters: :data:`SPECS` (``rewarm_ratio``, ``drop_ratio``, ``flat_ratio``).
    """
    p = validate("schedule", SPECS, params)
    name = history.runs()[0] if run is None and history.runs() else run
    if name is None:
        return []
    key = ("schedule.events", name, tuple(sorted(p.items())))
    return list(history.memo(key, lambda: _events(history, str(name), p)))


def _events(history: History, run: str, p: dict[str, Any]) -> list[ScheduleEvent]:
    found: list[ScheduleEvent] = []
    for s in series_of(history, run):
        if s.is_learning_rate:
            found.extend(learning_rate_events(s, rewarm_ratio=p["rewarm_ratio"], drop_ratio=p["drop_ratio"],
                                              flat_ratio=p["flat_ratio"]))
    found.extend(_augmentation(history.meta.get(run, {}).get(ULTRALYTICS_KEY)))
    return sorted(found, key=lambda e: (e.step if math.isfinite(e.step) else math.inf,
                                        e.epoch if math.isfinite(e.epoch) else math.inf))


def learning_rate_events(s: ScheduleSeries, *, rewarm_ratio: float = 2.0, drop_ratio: float = 2.0,
                         flat_ratio: float = 1.05) -> list[ScheduleEvent]:
    """Re-warms and step drops of one learning-rate series (values ``(n,)``, in logged order).

    A rate of 0 (the first point of a warm-up) is read as a millionth of the series' peak, so ratios stay finite.
    """
    v = np.asarray(s.values, dtype=float)
    if v.size < 3 or not np.isfinite(v).all() or float(v.max()) <= 0:
        return []
    lv = np.log(np.maximum(v, float(v.max()) * 1e-6))
    d = np.diff(lv)
    out = _drops(s, lv, d, math.log(drop_ratio), math.log(flat_ratio))
    out.extend(_rewarms(s, lv, d, math.log(rewarm_ratio)))
    return out


def _drops(s: ScheduleSeries, lv: np.ndarray, d: np.ndarray, need: float, flat: float) -> list[ScheduleEvent]:
    """Falls of at least ``need`` (log units) in one logged interval right after a flat interval."""
    idx = np.flatnonzero(d[1:] <= -need) + 1  # interval i → i+1, with interval i-1 → i before it
    return [_event("drop", s, int(i) + 1, int(i)) for i in idx if abs(float(d[i - 1])) <= flat]


def _rewarms(s: ScheduleSeries, lv: np.ndarray, d: np.ndarray, need: float) -> list[ScheduleEvent]:
    """Rises of at least ``need`` (log units) from a trough that lies at least ``need`` below an earlier peak."""
    sign = np.sign(d)
    nz = np.flatnonzero(sign)
    if nz.size == 0:
        return []
    turns = nz[np.flatnonzero(np.diff(sign[nz]) > 0) + 1]  # first rising interval after a falling one
    if turns.size > _MAX_TURNS:
        return []
    out = []
    peak_before = np.maximum.accumulate(lv)
    for t in turns.tolist():
        trough = int(t)  # the interval t → t+1 rises: t is the trough
        nxt = np.flatnonzero(d[t:] < 0)
        top = t + (int(nxt[0]) if nxt.size else d.size - t)  # the end of the rise
        if peak_before[trough] - lv[trough] >= need and lv[top] - lv[trough] >= need:
            out.append(_event("rewarm", s, trough + 1, trough))
    return out


def _event(kind: str, s: ScheduleSeries, at: int, before: int) -> ScheduleEvent:
    return ScheduleEvent(kind, s.name, float(s.step[at]), float(s.epoch[at]), float(s.values[before]),
                         float(s.values[at]))


def _augmentation(args: object) -> list[ScheduleEvent]:
    """Ultralytics' ``close_mosaic``: mosaic off for the last ``close_mosaic`` of ``epochs`` epochs (Ultralytics
    counts epochs from 0 inside the trainer and writes them 1-based in ``results.csv``: the first epoch without
    mosaic is written as ``epochs - close_mosaic + 1``; older versions wrote them 0-based, ``first_epoch`` 0).
    ``assumed`` (no ``args.yaml``: Ultralytics' default ``close_mosaic`` on a run read as finished) names the
    event ``close_mosaic (default)``."""
    if not isinstance(args, Mapping):
        return []
    epochs, close, first = args.get("epochs"), args.get("close_mosaic"), args.get("first_epoch", 1)
    if type(epochs) is not int or type(close) is not int or not 0 < close < epochs or first not in (0, 1):
        return []
    name = "close_mosaic (default)" if args.get("assumed") is True else "close_mosaic"
    return [ScheduleEvent("augmentation", name, math.nan, float(epochs - close + first), 1.0, 0.0)]
