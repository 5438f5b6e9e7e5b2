"""Double descent: the validation metric got worse, then recovered past its previous best.

Statistic. The monitored series is put in "lower is better" form and smoothed with a centred rolling median over
``smooth`` evaluations (removes single-evaluation outliers). For every evaluation the *excursion* is its
smoothed value minus the running minimum so far; the largest excursion that is later followed by a value below
that running minimum is the candidate: first best ``b`` (argmin before the peak), peak ``p``, recovery ``r``
(first evaluation after ``p`` whose smoothed value is below the first best by more than the noise tolerance).
It is reported when

* the rise is statistically significant: ``(peak − first best) / σ ≥ min_z`` with σ the robust evaluation noise;
* the rise is practically large: at least ``min_rise_fraction`` of the improvement made before the first best;
* the run is not grokking (a validation-loss bump while memorising, then a jump, is reported as
  ``grokking`` only);
* the rise is gradual, not a spike: the peak is at least ``min_rise_evaluations`` evaluations after the first
  best, and, when a training loss is logged, training did not get worse over the rise (if it did, the run was
  disturbed, which is ``instability``).

The finding is ``info``: the point is that the run must not be stopped at the first rise; patience-based early
stopping would have stopped it. Its ``step``/``epoch`` is the recovery point.

References: Nakkiran et al., "Deep Double Descent: Where Bigger Models and More Data Hurt" (epoch-wise double
descent); Prechelt, "Early Stopping — But When?" (why stopping at the first rise can be premature).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..findings import Finding, FindingKind, Severity
from ..history import History, Series
from ..monitor import Monitor
from ..params import Param, defaults, register, validate
from ..stats import noise_sigma, rolling_median
from . import register as register_detector
from ._common import (
    DEEP_DOUBLE_DESCENT,
    PRECHELT,
    evals,
    fraction,
    monitored_finite,
    sigmas,
    sign_of,
    signed,
    train_series,
    undone_text,
    where_text,
)

REFERENCES = (DEEP_DOUBLE_DESCENT, PRECHELT)

#: Parameters (:mod:`gapwatch.params`). Units: evaluations, noise standard deviations, fractions of the improvement.
SPECS: tuple[Param, ...] = register("double_descent", (
    evals("min_evaluations", 10, "Finite evaluations of the monitored series needed before judging: a descent, "
          "a rise and a second descent need room."),
    evals("smooth", 5, "Centred rolling-median window (made odd: an even value is raised by one); five "
          "evaluations remove single spikes without flattening a multi-epoch bump."),
    sigmas("min_z", 4.0, "Rise (peak - first best, smoothed) in noise standard deviations: 4 keeps noise bumps "
           "of a flat curve out."),
    fraction("min_rise_fraction", 0.01, "Rise as a fraction of the improvement before the first best: 1%, so "
             "negligible wiggles are not double descent.", of="improvement"),
    evals("min_rise_evaluations", 3, "Evaluations from the first best to the peak (a spike rises in one)."),
    sigmas("recovery_z", 1.0, "The second descent must go below the first best by this many noise standard "
           "deviations (so returning to the same level is not a recovery)."),
    sigmas("train_worse_z", 4.0, "A held-out bump is a disturbance (oscillation, spike), not double descent, when "
           "the smoothed training curve rose over it by more than this many of its noise standard deviations "
           "..."),
    fraction("train_worse_fraction", 0.3, "... or (same metric only) by more than this fraction of the held-out "
             "rise.", of="rise"),
))

#: Default parameters, ``{name: default}`` (from :data:`SPECS`).
DEFAULTS: dict[str, Any] = defaults(SPECS)


@register_detector("double_descent")
def check(history: History, *, monitor: Monitor | None = None, **params: Any) -> list[Finding]:
    """Find epoch-wise double descent in one run. Parameters: see :data:`SPECS`."""
    p = validate("double_descent", SPECS, params)
    monitored = monitored_finite(history, monitor, p["min_evaluations"])
    if monitored is None:
        return []
    mon, s = monitored
    if _grokked(history, mon):
        return []  # a validation-loss bump during memorisation followed by a jump is grokking
    # the instability detector's spikes (a bump that is a spike's recovery is not double descent), asked before
    # the long arrays below exist: its own temporaries and these are never in memory together
    spikes = _spike_xs(history, mon)
    k = p["smooth"] | 1
    train = _Train(history, mon.metric, k)
    train.get()  # (its noise estimate's temporaries too come and go before the long arrays below exist)
    # the statistics of the values, turned by the sign: the same numbers as on ``sign * values`` (a median of
    # negated values is the negated median; the noise is sign-free), without the negated copy
    sigma = noise_sigma(s.values)
    sm = rolling_median(s.values, k)
    if mon.sign == -1.0:  # (a monitor's sign is +1 or -1)
        np.negative(sm, out=sm)
    z0 = float(signed(s.values[:1], mon.sign)[0])
    neg_min = np.negative(sm)
    np.maximum.accumulate(neg_min, out=neg_min)  # -(running minimum of sm): non-decreasing
    # candidate peaks in decreasing excursion order; keep the first that recovers and passes the tests
    for pk in _excursion_peaks(sm, neg_min):  # (the excursion is made a chunk at a time, never kept)
        found = _episode(history, mon, s, z0, sm, neg_min, sigma, k, pk, train, spikes, p)
        if found is not None:
            return [found]
    return []


def _first_argmin(neg_min: np.ndarray, i: int) -> int:
    """``argmin(sm[: i + 1])`` (the first index of the minimum, as ``np.argmin``) from ``neg_min``, the negated
    running minimum of ``sm`` (shape ``(n,)``, non-decreasing): where the running minimum first took its value
    at ``i``, a binary search (no prefix-argmin array the size of the curve)."""
    return int(np.searchsorted(neg_min, neg_min[i], side="left"))


def _episode(history: History, mon: Monitor, s: Series, z0: float, sm: np.ndarray, neg_min: np.ndarray,
             sigma: float, k: int, pk: int, train: _Train, spikes: list[float], p: dict[str, Any]) -> Finding | None:
    """The double-descent finding of the rise peaking at ``pk`` when it recovers and passes the tests, else None.
    ``z0``: the first value as "lower is better"; ``neg_min``: the negated running minimum of ``sm``."""
    b = _first_argmin(neg_min, pk)
    rise = float(sm[pk] - sm[b])
    tol = max(p["recovery_z"] * sigma, 1e-12 * max(1.0, abs(float(sm[b]))))  # (1e-12: round-off)
    # the first evaluation after the peak below the earlier best by tol is where the running minimum first
    # falls below it (up to pk it is sm[b] itself): a binary search on the non-increasing running minimum
    r = int(np.searchsorted(neg_min, -(sm[b] - tol), side="right"))
    if r >= sm.size:
        return None
    improvement = float(max(z0, sm[0]) - sm[b])  # raw first value: smoothing hides a first big drop
    zrise = rise / sigma if sigma > 0 else np.inf
    if zrise < p["min_z"] or pk - b < p["min_rise_evaluations"]:
        return None
    if improvement > 0 and rise < p["min_rise_fraction"] * improvement:
        return None
    if _train_worse(train, mon.metric, s.x[b], s.x[pk], rise, p):
        return None
    if any(s.x[b] <= x <= s.x[r] for x in spikes):  # a spike between: the bump is its recovery
        return None
    return _finding(mon, s, sm, sigma, k, b, pk, r, rise, improvement, zrise)


def _finding(mon: Monitor, s: Series, sm: np.ndarray, sigma: float, k: int, b: int, pk: int, r: int, rise: float,
             improvement: float, zrise: float) -> Finding:
    """The double-descent finding: best at ``b``, peak at ``pk``, recovery past the best at ``r``."""
    final_gain = float(sm[b] - np.min(sm[r:]))
    msg = (f"{mon.split}_{mon.metric} got worse after {where_text(s, b)} (peak at {where_text(s, pk)}, "
           + (f"{undone_text(rise / improvement)}), " if improvement > 0 else "worse than at the first evaluation), ")
           + f"then recovered past its earlier best at {where_text(s, r)}: double descent; stopping at the "
           "first rise would have missed the better model")
    ev = {
        "first_best_index": b, "first_best_step": s.at(b)["step"], "first_best_epoch": s.at(b)["epoch"],
        "first_best_value": float(mon.sign * sm[b]),
        "peak_index": pk, "peak_step": s.at(pk)["step"], "peak_epoch": s.at(pk)["epoch"],
        "peak_value": float(mon.sign * sm[pk]),
        "recovery_index": r, "recovery_step": s.at(r)["step"], "recovery_epoch": s.at(r)["epoch"],
        "rise": rise, "rise_z": float(zrise) if np.isfinite(zrise) else None,
        "rise_fraction_of_improvement": float(rise / improvement) if improvement > 0 else None,
        "gain_after_recovery": final_gain, "noise_sigma": float(sigma), "smooth": k,
        "delay_evaluations": int(r - b),
    }
    actions = (
        (f"do not stop this kind of run at the first rise: the rise after {where_text(s, b)} was temporary; "
        "use a patience longer than the rise (here "
        f"{r - b} evaluations) or gapwatch's noise-aware policy"),
        "keep the best checkpoint of the whole run, not of the first descent",
        ("if a smaller learning rate, more data or a different model size is an option, epoch-wise double "
        "descent is strongest near the interpolation threshold (label noise makes it stronger)"),
    )
    return Finding(FindingKind.DOUBLE_DESCENT, Severity.INFO, msg, step=s.at(r)["step"],
                   epoch=s.at(r)["epoch"], evidence=ev, actions=actions, references=REFERENCES,
                   detector="double_descent")


def _grokked(history: History, mon: Monitor) -> bool:
    from .grokking import check as grokking_check

    return bool(grokking_check(history, monitor=mon))


def _spike_xs(history: History, mon: Monitor) -> list[float]:
    """Where the instability detector reported spikes (epoch, else step, as its evidence gives them)."""
    from .instability import check as instability_check

    out: list[float] = []
    for f in instability_check(history, monitor=mon):
        for sp in f.evidence.get("spikes", []) if f.evidence.get("type") == "spikes" else []:
            x = sp.get("epoch") if sp.get("epoch") is not None else sp.get("step")
            if x is not None:
                out.append(float(x))
    return out


def _episode_peaks(exc: np.ndarray) -> list[int]:
    """Peak index of every contiguous episode with a positive excursion, largest excursion first (on the whole
    excursion array: the definition :func:`_excursion_peaks` computes chunk by chunk, kept as its reference)."""
    pos = np.concatenate(([False], exc > 0, [False]))
    edges = np.flatnonzero(pos[1:] != pos[:-1])  # starts and ends (exclusive) of the episodes, alternating
    peaks = [int(i) + int(np.argmax(exc[i:j])) for i, j in zip(edges[::2], edges[1::2], strict=True)]
    return sorted(peaks, key=lambda k: -exc[k])


def _excursion_peaks(sm: np.ndarray, neg_min: np.ndarray) -> list[int]:
    """:func:`_episode_peaks` of the excursion ``sm + neg_min`` (``sm`` above its running minimum; shapes
    ``(n,)``), made :data:`_CHUNK` evaluations at a time: an episode still open at a chunk's end is carried into
    the next (its peak so far and that value), so the excursion never exists as one long array. The same peaks
    in the same order (ties: the earlier evaluation first, as ``np.argmax`` and a stable sort give them)."""
    found: list[tuple[float, int]] = []  # (excursion at the peak, peak) of every closed episode, in order
    open_peak: tuple[float, int] | None = None  # the episode running into the current chunk
    n = sm.shape[0]
    for a in range(0, n, _CHUNK):
        exc = sm[a:a + _CHUNK] + neg_min[a:a + _CHUNK]
        if open_peak is not None and not exc[0] > 0:  # the carried episode ended with the last chunk
            found.append(open_peak)
            open_peak = None
        pos = np.concatenate(([False], exc > 0, [False]))
        edges = np.flatnonzero(pos[1:] != pos[:-1])
        for i, j in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            m = i + int(np.argmax(exc[i:j]))
            cand = (float(exc[m]), a + m)
            if i == 0 and open_peak is not None:  # the carried episode goes on: keep the earlier peak on a tie
                cand = open_peak if open_peak[0] >= cand[0] else cand
                open_peak = None
            if j == exc.shape[0] and a + j < n:  # still open at the chunk's end
                open_peak = cand
            else:
                found.append(cand)
    if open_peak is not None:
        found.append(open_peak)
    found.sort(key=lambda t: -t[0])  # (stable: equal excursions keep their order)
    return [k for _, k in found]


#: Evaluations per chunk of :func:`_excursion_peaks`.
_CHUNK = 1 << 16


class _Train:
    """The training series of the monitored metric and its noise, found on the first episode that asks
    (:func:`_train_worse`) and kept for the others. Its smoothing (centred rolling median of ``sign * values``,
    the held-out curve's) is made over the stretch an episode asks about only: the same medians there, without
    a smoothed copy of the whole curve beside the held-out one's arrays."""

    def __init__(self, history: History, metric: str, k: int) -> None:
        self._history, self._metric, self.k = history, metric, k
        self._done = False
        self._got: tuple[Series, float] | None = None
        self._whole: np.ndarray | None = None

    def get(self) -> tuple[Series, float] | None:
        """``(series with finite values, ordered by x; its noise sigma)``, or None without a usable one."""
        if not self._done:
            self._done = True
            tr = train_series(self._history, self._metric)
            ts = tr.finite() if tr is not None else None
            if ts is not None and len(ts) >= 4:
                self._got = (ts, noise_sigma(ts.values))  # (sign-free)
        return self._got

    def smooth(self, ts: Series, lo: int, hi: int) -> np.ndarray:
        """The smoothed ``sign * values`` at positions ``lo..hi`` (inclusive), from the values within half a
        window of them: a centred median's window never reaches further, and at the curve's ends it is cut as
        on the whole curve."""
        h = self.k // 2
        a = max(0, lo - h)
        part = rolling_median(ts.values[a:hi + h + 1], self.k)[lo - a:hi - a + 1]
        if sign_of(ts.metric) == -1.0:  # (negation is exact: the medians of the negated values)
            np.negative(part, out=part)
        return part

    def smooth_all(self, ts: Series) -> np.ndarray:
        """The smoothed ``sign * values`` of the whole curve (made once, for a selection that is not one
        stretch: an x axis out of order)."""
        if self._whole is None:
            self._whole = self.smooth(ts, 0, len(ts) - 1)
        return self._whole


def _train_worse(train: _Train, metric: str, x0: float, x1: float, rise: float, p: dict[str, Any]) -> bool:
    """Did training get worse between x0 and x1 (a disturbance — oscillation, spike — not double descent)?

    Compares the smoothed training curve over the rise with its value at x0: worse when it rose by more than
    ``train_worse_z`` noise standard deviations or by more than ``train_worse_fraction`` of the held-out rise
    (both curves are in the same units when they are the same metric)."""
    got = train.get()
    if got is None:
        return False
    ts, tsigma = got
    sel = ts.x >= x0
    sel &= ts.x <= x1
    count = int(np.count_nonzero(sel))
    if count < 2:
        return False
    first = int(np.argmax(sel))  # the first selected evaluation
    last = sel.shape[0] - 1 - int(np.argmax(sel[::-1]))
    if last - first + 1 == count:  # one stretch (an ordered axis): smooth just that
        part = train.smooth(ts, first, last)
        worse = float(np.max(part) - part[0])
    else:
        tsm = train.smooth_all(ts)
        worse = float(np.max(tsm, where=sel, initial=-np.inf) - tsm[first])
    limit = p["train_worse_z"] * tsigma
    if ts.metric == metric:
        frac = p["train_worse_fraction"] * rise
        limit = min(limit, frac) if limit > 0 else frac
    return bool(worse > limit)
