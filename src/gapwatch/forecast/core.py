"""Forecast the monitored validation curve: quantiles, the best evaluation and P(best already behind).

Two forecasters share one interface and one normalisation (:func:`gapwatch.forecast.prior.normalise`):

* ``"pfn"``: the prior-data fitted network shipped in ``gapwatch/weights`` (needs torch; CPU inference).
* ``"ensemble"``: the parametric ensemble of :mod:`gapwatch.forecast.ensemble` (numpy/scipy only).
* ``"auto"`` (default): the PFN when torch and the weights are available, else the ensemble with a note.

Curves are handled as "lower is better" internally and reported in the run's own units and direction.
A bounded score (mode ``"max"`` with every observed value in ``[0, U]``: ``U = 1``, or ``U = 100`` for a
percentage) is forecast as its log distance to the bound, ``z = log(U + ε·max(|U|, 1) - y)``, ``ε = BOUND_EPS``, so
no forecast can pass the bound and power-law improvements of the error become near-linear in ``z``; quantiles
map back exactly (the transform is monotone) and densities carry its Jacobian. Other "max" metrics are negated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import GapwatchError, InputError, MissingDependencyError, UsageError
from ..history import History
from ..monitor import Monitor, decide
from ..stats import median as _median
from . import bars, ensemble
from .calibrate import DEFAULT_RECALIBRATION, RECALIBRATIONS, band_factors, evidence, recalibrate
from .prior import normalise
from .schedule import (
    MIN_SEGMENT,
    PLANNED_MAX_FACTOR,
    SEGMENT_BAND_SCALE,
    SEGMENT_DEFAULT,
    horizon_to,
    regime_start,
)

if TYPE_CHECKING:
    from ..schedule import ScheduleSeries

SCHEMA = "gapwatch.forecast/1"
#: reported quantile levels
QUANTILES: tuple[float, ...] = (0.1, 0.5, 0.9)
#: fewest observed evaluations a forecast needs (evaluations)
MIN_OBSERVED = 3
#: default horizon when none is given and the log has no later evaluations: this many times the observed
#: evaluations (so 50% more), at least ``MIN_EXTRA`` more evaluations
DEFAULT_HORIZON_FACTOR = 1.5
MIN_EXTRA = 3
#: joint sample paths drawn for the best-evaluation interval and P(best behind)
N_SAMPLES = 512
#: Gaussian-copula correlation length (normalised time) joining the PFN's per-point marginals into paths
COPULA_LENGTH = 0.25
#: the PFN saw at most this many observed evaluations in training; longer prefixes are thinned evenly
PFN_MAX_OBSERVED = 64
METHODS = ("auto", "pfn", "ensemble")
#: positions checked for a geometric grid when extrapolating x beyond the log (evaluations)
GEOMETRIC_CHECK = 4
#: bounded scores are forecast as log(U + BOUND_EPS·max(|U|, 1) - y): the offset keeps a perfect score finite
#: (a fraction of the bound)
BOUND_EPS = 1e-3


@dataclass
class Forecast:
    """A forecast of one run's monitored series beyond its first ``observed`` evaluations.

    Attributes:
        name: run name. monitor: what was forecast. observed: evaluations used (count).
        x_observed, y_observed: the observed evaluations, shape ``(observed,)``, run units.
        x: future x values (epochs or steps), shape ``(q,)``.
        quantiles: level (``"0.1"``, ``"0.5"``, ``"0.9"``) → values ``(q,)`` in the metric's units.
        best: ``{"x", "low", "high"}``: the median and 10–90% interval of the x of the best evaluation over
            observed + forecast evaluations.
        p_best_behind: probability that no future evaluation (up to the horizon) beats the best observed one,
            after the evidence-aware recalibration of :mod:`gapwatch.forecast.calibrate` (fitted on real runs;
            ``forecast_curve(..., recalibration="v2")`` gives the previous one).
        p_best_behind_model: the forecaster's own probability (the share of its sample paths), before it.
        method: ``"pfn"`` or ``"ensemble"``. notes: human-readable remarks (fallbacks, degenerate input).
    """

    name: str
    monitor: Monitor | None
    observed: int
    x_observed: np.ndarray
    y_observed: np.ndarray
    x: np.ndarray
    quantiles: dict[str, np.ndarray]
    best: dict[str, float]
    p_best_behind: float
    method: str
    notes: list[str] = field(default_factory=list)
    _logpdf: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)
    samples: np.ndarray | None = field(default=None, repr=False)
    p_best_behind_model: float | None = None

    def logpdf(self, y_future: np.ndarray) -> np.ndarray:
        """Log predictive density of realised future values ``(q,)`` (metric units), per point ``(q,)``."""
        if self._logpdf is None:  # pragma: no cover - always set by forecast_curve
            raise UsageError("this Forecast carries no density")
        return self._logpdf(np.asarray(y_future, dtype=float))

    def to_run_dict(self) -> dict[str, Any]:
        """The run entry of the ``gapwatch.forecast/1`` document (JSON-safe)."""
        return {
            "name": self.name,
            "monitor": self.monitor.to_dict() if self.monitor else None,
            "observed": int(self.observed),
            "x": [_num(v) for v in self.x],
            "quantiles": {k: [float(v) for v in arr] for k, arr in self.quantiles.items()},
            "best": {k: _num(v) for k, v in self.best.items()},
            "p_best_behind": round(float(self.p_best_behind), 4),
            "p_best_behind_model": None if self.p_best_behind_model is None
            else round(float(self.p_best_behind_model), 4),
            "method": self.method,
            "notes": list(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        """``{"schema": "gapwatch.forecast/1", "runs": [...]}`` with this one run."""
        return {"schema": SCHEMA, "runs": [self.to_run_dict()]}


def _positive(v: object) -> bool:
    """True when ``v`` converts to a finite number > 0."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return math.isfinite(f) and f > 0


def _num(v: float) -> float | int:
    f = float(v)
    return int(f) if f.is_integer() and abs(f) < 2**53 else f


def resolve_observed(observed: float | None, n: int) -> int:
    """``observed`` as a count: an int ``N`` (evaluations) or a fraction in (0, 1] of the ``n`` logged."""
    if observed is None:
        k = n
    elif isinstance(observed, bool):
        raise UsageError(f"observed must be a count or a fraction in (0, 1], got {observed!r}")
    elif isinstance(observed, float):
        if not math.isfinite(observed) or observed <= 0:
            raise UsageError(f"observed must be a positive count or a fraction in (0, 1], got {observed}")
        if observed <= 1.0:
            k = math.ceil(observed * n)
        elif observed.is_integer():
            k = int(observed)
        else:
            raise UsageError(f"observed={observed} is neither a whole count nor a fraction in (0, 1]")
    else:
        k = int(observed)
    if k < MIN_OBSERVED:
        raise InputError(f"a forecast needs at least {MIN_OBSERVED} observed evaluations, got {k} "
                         f"(observed={observed!r} of {n} logged)")
    if k > n:
        raise UsageError(f"observed={observed!r} asks for {k} evaluations but only {n} are logged")
    return k


def _future_x(x: np.ndarray, observed: int, horizon: int) -> np.ndarray:
    """Future x values: the logged ones after the observed prefix, then extrapolated to ``horizon``.

    Extrapolation repeats the last spacing, or the last ratio when the last ``GEOMETRIC_CHECK`` positions are
    geometric (sample-size grids such as 16, 23, 32, 45, …: successive ratios within 5% of each other, > 1.05,
    and spacings not all equal).
    """
    logged = x[observed:horizon]
    extra = horizon - observed - logged.size
    if extra <= 0:
        return logged
    base = np.concatenate([x[:observed], logged])
    last = float(base[-1])
    tail = base[-GEOMETRIC_CHECK:]
    if _is_geometric(tail):
        r = float(np.exp(np.mean(np.log(tail[1:] / tail[:-1]))))
        return np.concatenate([logged, last * r ** np.arange(1, extra + 1)])
    step = float(_median(np.diff(base[-6:]))) if base.size >= 2 else 1.0
    if not step > 0:
        step = 1.0
    return np.concatenate([logged, last + step * np.arange(1, extra + 1)])


def sample_wise(x_observed: np.ndarray) -> bool:
    """True when the last ``GEOMETRIC_CHECK`` observed positions form a geometric grid (training-set sizes, a
    sample-wise learning curve) rather than epochs or steps: the grid the P(best behind) recalibration
    :data:`gapwatch.forecast.calibrate.EPOCH_WISE_ONLY` is not applied on."""
    return _is_geometric(np.asarray(x_observed, dtype=float)[-GEOMETRIC_CHECK:])


def _is_geometric(x: np.ndarray) -> bool:
    """At least ``GEOMETRIC_CHECK`` positive positions whose successive ratios are > 1.05 and within 5% of each
    other, and whose spacings are not all equal (a sample-size grid rather than epochs)."""
    if x.size < GEOMETRIC_CHECK or x[0] <= 0:
        return False
    ratios = x[1:] / x[:-1]
    diffs = np.diff(x)
    even = diffs.max() - diffs.min() <= 0.01 * abs(float(_median(diffs)))
    return bool(not even and ratios.min() > 1.05 and ratios.max() / ratios.min() < 1.05)


def _pfn_available(weights: Path | None = None) -> tuple[Any, GapwatchError | None, str | None]:
    try:
        from .pfn import load_pfn

        return load_pfn(weights), None, None
    except MissingDependencyError as exc:
        return None, exc, "torch is not installed, so the parametric ensemble was used (pip install 'gapwatch[torch]')"
    except GapwatchError as exc:
        return None, exc, f"forecast PFN unavailable ({exc}); the parametric ensemble was used"


def _check_options(method: str, mode: str, bound: float | str | None) -> None:
    if method not in METHODS:
        raise UsageError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if mode not in ("min", "max"):
        raise UsageError(f"mode must be 'min' or 'max', got {mode!r}")
    if not (bound is None or bound == "auto"
            or (isinstance(bound, (int, float)) and not isinstance(bound, bool) and math.isfinite(bound))):
        raise UsageError(f"bound must be 'auto', None or a finite number, got {bound!r}")


def _observed_arrays(x: np.ndarray, y: np.ndarray, observed: float | None) -> tuple[np.ndarray, np.ndarray, int]:
    """``x`` and ``y`` as flat float arrays and the validated observed count."""
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise InputError(f"x and y differ in length ({x.size} vs {y.size})")
    m = resolve_observed(observed, y.size)
    bad = np.flatnonzero(~np.isfinite(y[:m]))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"observed value {i} (x={x[i]:g}) is {y[i]}: a forecast needs finite observed values "
                         "(cut the run before it diverged)")
    if not np.all(np.isfinite(x[:m])) or np.any(np.diff(x[:m]) <= 0):
        raise InputError("x values of the observed evaluations must be finite and strictly increasing")
    return x, y, m


def _resolve_horizon(horizon: int | None, n: int, m: int) -> int:
    if horizon is None:
        horizon = n if n > m else max(math.ceil(DEFAULT_HORIZON_FACTOR * m), m + MIN_EXTRA)
    if int(horizon) <= m:
        raise UsageError(f"horizon ({horizon} evaluations) must be larger than observed ({m}); it counts all "
                         "evaluations, observed ones included")
    return int(horizon)


def _checked_bound(bound: float | str | None, y_obs: np.ndarray, mode: str, monitor: Monitor | None,
                   notes: list[str]) -> float | None:
    upper = _resolve_bound(bound, y_obs, mode, monitor)
    if upper is not None:
        if mode != "max" or np.any(y_obs > upper):
            raise UsageError(f"bound={upper:g} needs mode='max' and observed values <= {upper:g}")
        notes.append(f"forecast as the log distance to the bound {upper:g} (a bounded score)")
    return upper


def _choose_method(method: str, notes: list[str], weights: Path | None = None) -> tuple[str, Any]:
    """The method actually used and the loaded PFN (None for the ensemble)."""
    if method not in ("auto", "pfn"):
        return method, None
    pfn, err, why = _pfn_available(weights)
    if pfn is not None:
        return "pfn", pfn
    if method == "pfn" and err is not None:
        raise err
    notes.append(why or "PFN unavailable")
    return "ensemble", None


def _pfn_index(m: int) -> np.ndarray:
    """Indices of the observed evaluations the PFN sees: all, or ``PFN_MAX_OBSERVED`` evenly spaced ones."""
    if m > PFN_MAX_OBSERVED:
        return np.unique(np.round(np.linspace(0, m - 1, PFN_MAX_OBSERVED)).astype(int))
    return np.arange(m)


def _predict_pfn(pfn: Any, t_obs: np.ndarray, zn: np.ndarray, t_q: np.ndarray, n_samples: int,
                 rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    idx = _pfn_index(zn.size)
    probs = pfn.predict_probs(t_obs[idx], zn[idx], t_q)
    borders = pfn.borders
    qz = np.stack([bars.quantile(probs, borders, q) for q in QUANTILES])
    samples = bars.copula_samples(probs, borders, t_q, n_samples, COPULA_LENGTH, rng)

    def _lp(zf: np.ndarray) -> np.ndarray:
        return bars.logpdf(probs, borders, zf)

    return qz, samples, _lp


def _predict_ensemble(t_obs: np.ndarray, zn: np.ndarray, t_q: np.ndarray, n_samples: int,
                      rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    fit = ensemble.fit(t_obs, zn, t_q)
    return fit.quantiles(QUANTILES), fit.sample(n_samples, rng), fit.logpdf


def _best_position(zn: np.ndarray, samples: np.ndarray, x_all: np.ndarray, m: int
                   ) -> tuple[dict[str, float], float]:
    """Where the best value falls (10/50/90% of the sample paths) and the share of paths whose best is observed."""
    full = np.concatenate([np.broadcast_to(zn, (samples.shape[0], m)), samples], axis=1)
    arg = np.argmin(full, axis=1)
    lo_i, med_i, hi_i = (int(np.quantile(arg, q, method="inverted_cdf")) for q in (0.1, 0.5, 0.9))
    best = {"x": float(x_all[med_i]), "low": float(x_all[lo_i]), "high": float(x_all[hi_i])}
    return best, float(np.mean(arg < m))


@dataclass
class _Prepared:
    """A curve ready for a forecaster: the observed arrays, future x, the transform to lower-is-better ``z``
    and its normalisation ``zn = (z - lo) / scale``, and the normalised times of observed and future points."""

    x: np.ndarray
    y: np.ndarray
    m: int
    xf: np.ndarray
    notes: list[str]
    tr: _Transform
    z_obs: np.ndarray
    lo: float
    scale: float
    zn: np.ndarray
    t_obs: np.ndarray
    t_q: np.ndarray


def _prepare(x: np.ndarray, y: np.ndarray, observed: float | None, horizon: int | None, mode: str,
             bound: float | str | None, monitor: Monitor | None) -> _Prepared:
    """Validate and normalise one curve as :func:`forecast_curve` does (its errors are raised here)."""
    x, y, m = _observed_arrays(x, y, observed)
    horizon = _resolve_horizon(horizon, y.size, m)
    xf = _future_x(x, m, horizon)
    notes: list[str] = []
    upper = _checked_bound(bound, y[:m], mode, monitor, notes)
    tr = _Transform(mode, upper)
    z_obs = tr.fwd(y[:m])
    lo_a, sc_a = normalise(z_obs[None])
    lo, scale = float(lo_a[0, 0]), float(sc_a[0, 0])
    if float(z_obs.max() - z_obs.min()) <= 1e-8 * (1 + abs(lo)):
        notes.append("the observed values are constant; the forecast only says the curve stays flat")
    zn = (z_obs - lo) / scale
    x0 = min(0.0, float(x[0]))
    span = float(xf[-1]) - x0
    return _Prepared(x, y, m, xf, notes, tr, z_obs, lo, scale, zn, (x[:m] - x0) / span, (xf - x0) / span)


def pfn_query(x: np.ndarray, y: np.ndarray, *, observed: float | None = None, horizon: int | None = None,
              mode: str = "min", bound: float | str | None = "auto", monitor: Monitor | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The PFN's inputs ``(t_obs, y_obs, t_query)`` for the forecast :func:`forecast_curve` would make with
    these arguments, so that the forward passes of many curves can be run as one batch
    (:meth:`gapwatch.forecast.pfn.LoadedPFN.prefetched`). Raises what :func:`forecast_curve` raises."""
    _check_options("pfn", mode, bound)
    pr = _prepare(x, y, observed, horizon, mode, bound, monitor)
    idx = _pfn_index(pr.m)
    return pr.t_obs[idx], pr.zn[idx], pr.t_q


def forecast_curve(
    x: np.ndarray,
    y: np.ndarray,
    *,
    observed: float | None = None,
    horizon: int | None = None,
    mode: str = "min",
    method: str = "auto",
    n_samples: int = N_SAMPLES,
    seed: int = 0,
    name: str = "",
    monitor: Monitor | None = None,
    bound: float | str | None = "auto",
    pfn_weights: Path | None = None,
    band_scale: float | None = None,
    planned_end: float | None = None,
    schedule: ScheduleSeries | Sequence[ScheduleSeries] | None = None,
    schedule_axis: str = "auto",
    regime: bool | None = None,
    min_segment: int | None = None,
    recalibration: str = DEFAULT_RECALIBRATION,
) -> Forecast:
    """Forecast a curve given as arrays.

    Args:
        x: evaluation positions ``(n,)`` (epochs or steps), strictly increasing.
        y: metric values ``(n,)``; only the first ``observed`` must be finite.
        observed: evaluations to condition on: a count, or a fraction of ``n`` (default: all ``n``).
        horizon: forecast up to this many evaluations in total (> observed). Default: the logged ones after
            the observed prefix, or ``DEFAULT_HORIZON_FACTOR`` × observed (at least ``MIN_EXTRA`` more) when
            nothing was logged after it. Evaluations beyond the log are spaced like the last observed ones.
        mode: ``"min"`` (lower is better) or ``"max"``.
        method: ``"auto"``, ``"pfn"`` or ``"ensemble"``.
        n_samples: joint sample paths for ``best`` and ``p_best_behind``. seed: their random seed.
        bound: upper bound ``U`` of a higher-is-better score (forecast as ``log(U + ε·max(|U|, 1) - y)``, see
            the module docstring); ``"auto"`` (default) takes ``U = 1`` when ``mode == "max"`` and every
            observed value is in [0, 1], ``U = 100`` when they are in [0, 100] and the monitored metric is
            accuracy-like; None forecasts the values as they are.
        pfn_weights: directory of other PFN weights (``forecast_pfn.pt`` + manifest, e.g. an older release to
            compare with); default: the shipped ones. The P(best behind) recalibration is the shipped
            network's.
        band_scale: the reported 10% and 90% quantiles are moved towards (``< 1``) or away from the median by
            this factor, in the forecaster's normalised units, at every future evaluation; default (None): the
            forecaster's conformal width correction, a factor per future evaluation that depends on how far
            ahead it lies relative to the evaluations observed and on the grid (sample-wise or not)
            (:func:`gapwatch.forecast.calibrate.band_factors`; none for a forecaster without a fit); 1.0 gives
            the forecaster's own band, ``calibrate.BAND_SCALE["pfn"]`` (0.58) the previous constant
            correction. The density (``logpdf``), the samples and P(best behind) are never rescaled.
        planned_end: the x position where training is planned to end (``max_steps``, ``num_train_epochs``):
            the horizon reaches it (:func:`gapwatch.forecast.schedule.horizon_to`; at most
            ``PLANNED_MAX_FACTOR`` × the logged evaluations), so P(best behind) is about the planned run. Not
            together with ``horizon``; ignored when the log already reaches it.
        schedule: the run's logged learning rate(s) (:class:`gapwatch.schedule.ScheduleSeries`, e.g. from
            :func:`gapwatch.schedule.series_of`), on the same axis as ``x`` (``schedule_axis``: ``"step"``,
            ``"epoch"``, ``"auto"``). With ``regime`` true, a step drop of the rate inside the observed window
            starts a new regime and the forecast's distribution conditions on the evaluations after the last
            one only (at least ``min_segment``, default ``MIN_SEGMENT[method]``, else the whole prefix;
            :func:`gapwatch.forecast.schedule.regime_start`); the notes say which. P(best behind) and ``best``
            are those of the whole-prefix forecast.
        regime: apply that segment rule (default None: ``SEGMENT_DEFAULT``, on; see
            :mod:`gapwatch.forecast.schedule` for the measurement).
        recalibration: which recalibration of P(best behind) (:data:`gapwatch.forecast.calibrate.RECALIBRATIONS`):
            ``"v3"`` (default: the forecaster's probability with how far back the best lies and how significant
            the rise since is, the overfitting detector's statistic among them, raised to
            :data:`gapwatch.forecast.calibrate.GOAL_FLOOR` where the best is >= 10 evaluations back and the
            detector's test is significant), ``"v2"`` (the same logistic stage without the floor, the default
            until 2026-12-06 18:00 UTC), ``"v1"`` (before 2026-12-06 15:00 UTC) or ``"none"`` (the
            forecaster's own, also in ``p_best_behind_model``).

    Raises:
        InputError: fewer than 3 observed points, non-finite observed values, bad x.
        UsageError: horizon ≤ observed, horizon together with planned_end, unknown method/mode/axis.
    """
    _check_options(method, mode, bound)
    if band_scale is not None and not _positive(band_scale):
        raise UsageError(f"band_scale must be a positive number, got {band_scale!r}")
    if recalibration not in RECALIBRATIONS:
        raise UsageError(f"recalibration must be one of {list(RECALIBRATIONS)}, got {recalibration!r}")
    if planned_end is not None:
        if horizon is not None:
            raise UsageError("give either horizon (evaluations) or planned_end (an x position), not both")
        xa, _, m0 = _observed_arrays(x, y, observed)
        if np.asarray(y).size > m0:
            raise UsageError("planned_end forecasts beyond the last logged evaluation: observe all of them "
                             f"(observed={observed!r} leaves {np.asarray(y).size - m0} logged after the cut)")
        horizon, plan_note = horizon_to(xa[:m0], float(planned_end))
    else:
        plan_note = ""
    use_regime = SEGMENT_DEFAULT if regime is None else bool(regime)
    regime_note = ""
    if schedule is not None and use_regime:
        fc, regime_note = _forecast_regime(x, y, observed, horizon, mode, method, n_samples, seed, name, monitor,
                                           bound, pfn_weights, band_scale, schedule, schedule_axis, min_segment,
                                           recalibration)
        if fc is not None:
            if plan_note:
                fc.notes.append(plan_note)
            return fc
    fc = _forecast_curve(x, y, observed, horizon, mode, method, n_samples, seed, name, monitor, bound,
                         pfn_weights, band_scale, recalibration)
    fc.notes.extend(n for n in (regime_note, plan_note) if n)
    return fc


def _forecast_regime(x: np.ndarray, y: np.ndarray, observed: float | None, horizon: int | None, mode: str,
                     method: str, n_samples: int, seed: int, name: str, monitor: Monitor | None,
                     bound: float | str | None, pfn_weights: Path | None, band_scale: float | None,
                     schedule: ScheduleSeries | Sequence[ScheduleSeries], axis: str, min_segment: int | None,
                     recalibration: str = DEFAULT_RECALIBRATION) -> tuple[Forecast | None, str]:
    """The forecast conditioned on the observed evaluations after the last schedule event, or ``(None, note)``
    when there is no such segment (no event in the window, or fewer than ``min_segment`` evaluations after it).

    The segment is forecast on its own axis, x measured from the evaluation before its first one (time since
    the regime began), with the bound of the whole prefix: its quantiles (band width factor
    ``SEGMENT_BAND_SCALE`` unless ``band_scale`` is given), density and sample paths are reported.
    P(best behind) (both the recalibrated and the model's) and the best-evaluation interval are those of the
    forecast conditioned on the whole observed run: they are about the whole run's best, and the recalibration
    was fitted on whole prefixes (measured: the segment's own P(best behind) was worse calibrated,
    bench_forecast_schedule.py).
    """
    xa, ya, m = _observed_arrays(x, y, observed)
    used, _ = _choose_method(method, [], pfn_weights)
    if min_segment is None:
        min_segment = MIN_SEGMENT[used]
    reg = regime_start(xa[:m], schedule, axis=axis, min_segment=min_segment)
    if reg.start == 0:
        return None, reg.note
    s = reg.start
    hz = _resolve_horizon(horizon, ya.size, m)
    xf = _future_x(xa, m, hz)
    origin = float(xa[s - 1])
    upper = _resolve_bound(bound, ya[:m], mode, monitor)
    x_seg = np.concatenate([xa[s:m], xf]) - origin
    y_seg = np.concatenate([ya[s:m], np.full(xf.size, np.nan)])
    seg_scale = SEGMENT_BAND_SCALE.get(used, 1.0) if band_scale is None else band_scale
    inner = _forecast_curve(x_seg, y_seg, m - s, hz - s, mode, method, n_samples, seed, name, monitor, upper,
                            pfn_weights, seg_scale, recalibration)
    whole = _forecast_curve(xa, ya, m, hz, mode, method, n_samples, seed, name, monitor, bound, pfn_weights,
                            band_scale, recalibration)
    notes = [*inner.notes, reg.note,
             "P(best behind) and the best evaluation are from the forecast of the whole observed run"]
    return Forecast(name, monitor, m, xa[:m].copy(), ya[:m].copy(), xf, inner.quantiles, whole.best,
                    whole.p_best_behind, inner.method, notes, inner._logpdf, inner.samples,
                    whole.p_best_behind_model), reg.note


def _forecast_curve(x: np.ndarray, y: np.ndarray, observed: float | None, horizon: int | None, mode: str,
                    method: str, n_samples: int, seed: int, name: str, monitor: Monitor | None,
                    bound: float | str | None, pfn_weights: Path | None, band_scale: float | None,
                    recalibration: str = DEFAULT_RECALIBRATION) -> Forecast:
    """:func:`forecast_curve` without the schedule arguments (options already checked)."""
    pr = _prepare(x, y, observed, horizon, mode, bound, monitor)
    x, y, m, xf, notes, tr, z_obs = pr.x, pr.y, pr.m, pr.xf, pr.notes, pr.tr, pr.z_obs
    lo, scale, zn, t_obs, t_q = pr.lo, pr.scale, pr.zn, pr.t_obs, pr.t_q
    rng = np.random.default_rng(seed)

    used, pfn = _choose_method(method, notes, pfn_weights)
    if used == "pfn" and pfn is not None:
        qz, samples, lpz = _predict_pfn(pfn, t_obs, zn, t_q, n_samples, rng)
    else:
        qz, samples, lpz = _predict_ensemble(t_obs, zn, t_q, n_samples, rng)
    qz = np.sort(qz, axis=0)
    if band_scale is None:  # the shipped correction: a factor per future evaluation (calibrate.band_factors)
        c = band_factors(used, m, qz.shape[1], sample_wise=sample_wise(x[:m]))
    else:
        c = np.full(qz.shape[1], float(band_scale))
    if np.any(c != 1.0):  # conformal width correction of the reported band (quantile rows: 0.1, 0.5, 0.9)
        qz = np.stack([qz[1] - c * (qz[1] - qz[0]), qz[1], qz[1] + c * (qz[2] - qz[1])])

    # back to the metric's units and direction
    qy = tr.inv(lo + scale * qz)
    if tr.decreasing:
        qy = qy[::-1]
    quant = {f"{q:g}": qy[i] for i, q in enumerate(QUANTILES)}
    best, p_model = _best_position(zn, samples, np.concatenate([x[:m], xf]), m)
    p_behind = recalibrate(p_model, evidence(z_obs), used, recalibration, sample_wise=sample_wise(x[:m]))

    def logpdf(yf: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, np.asarray(lpz((tr.fwd(yf) - lo) / scale)) - math.log(scale) + tr.log_jacobian(yf))

    return Forecast(name, monitor, m, x[:m].copy(), y[:m].copy(), xf, quant, best, p_behind, used, notes,
                    logpdf, tr.inv(lo + scale * samples), p_model)


_ACCURACY_LIKE = ("acc", "f1", "auc", "precision", "recall", "iou", "dice", "map", "score")


def _resolve_bound(bound: float | str | None, y_obs: np.ndarray, mode: str, monitor: Monitor | None
                   ) -> float | None:
    if bound is None:
        return None
    if bound != "auto":
        return float(bound)
    if mode != "max" or not np.all(np.isfinite(y_obs)) or y_obs.min() < 0.0:
        return None
    if y_obs.max() <= 1.0:
        return 1.0
    metric = (monitor.metric if monitor is not None else "").lower()
    if y_obs.max() <= 100.0 and any(k in metric for k in _ACCURACY_LIKE):
        return 100.0
    return None


class _Transform:
    """Maps metric values ``y`` to the lower-is-better ``z`` the forecasters work in, and back."""

    def __init__(self, mode: str, upper: float | None) -> None:
        self.sign = 1.0 if mode == "min" else -1.0
        self.upper = upper
        self.top = None if upper is None else upper + BOUND_EPS * max(abs(upper), 1.0)
        #: True when z grows as y falls (quantile order flips on the way back)
        self.decreasing = upper is not None or mode == "max"

    def fwd(self, y: np.ndarray) -> np.ndarray:
        if self.top is None:
            return self.sign * np.asarray(y, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.maximum(self.top - np.asarray(y, dtype=float), 1e-300))

    def inv(self, z: np.ndarray) -> np.ndarray:
        if self.top is None:
            return self.sign * np.asarray(z, dtype=float)
        return cast(np.ndarray, np.minimum(self.top - np.exp(np.minimum(z, 700.0)), float(self.upper)))  # type: ignore[arg-type]

    def log_jacobian(self, y: np.ndarray) -> np.ndarray:
        """``log |dz/dy|`` at ``y`` (0 for the plain sign flip)."""
        if self.top is None:
            return np.zeros(np.shape(y))
        return -np.log(np.maximum(self.top - np.asarray(y, dtype=float), 1e-300))


def _series(history: History, monitor: Monitor | None) -> tuple[Monitor, np.ndarray, np.ndarray]:
    runs = history.runs()
    if len(runs) != 1:
        raise UsageError(f"forecast() takes the History of one run; this one has {len(runs)}: {runs[:5]}")
    mon = decide(history, monitor).monitor  # the one monitor decision (task metric beside the loss)
    s = history.series(mon.split, mon.metric)
    x = s.x
    if not np.all(np.isfinite(x)):
        x = np.arange(len(s), dtype=float)
    return mon, x, s.values


def forecast(
    history_run: History,
    monitor: Monitor | None = None,
    *,
    observed: float | None = None,
    horizon: int | None = None,
    method: str = "auto",
    seed: int = 0,
    bound: float | str | None = "auto",
    regime: bool | None = None,
    recalibration: str = DEFAULT_RECALIBRATION,
) -> Forecast:
    """Forecast the monitored validation series of one run (see :func:`forecast_curve` for the arguments).

    ``monitor`` defaults to :func:`gapwatch.monitor.decide` (the task metric, else validation loss, …). Without
    ``observed`` and ``horizon`` the forecast reaches the run's planned end of training when the log states it
    (:func:`planned_horizon`). The run's logged learning rate is the schedule (:func:`schedule_of`); ``regime``
    applies the segment rule (default ``SEGMENT_DEFAULT``).
    """
    mon, x, y = _series(history_run, monitor)
    return _forecast_series(history_run, mon, x, y, observed, horizon, method, bound, seed, regime, recalibration)


def _forecast_series(history_run: History, mon: Monitor, x: np.ndarray, y: np.ndarray, observed: float | None,
                    horizon: int | None, method: str, bound: float | str | None, seed: int,
                    regime: bool | None = None, recalibration: str = DEFAULT_RECALIBRATION) -> Forecast:
    """Forecast one run's monitored series ``x``, ``y``; without ``observed`` and ``horizon`` it reaches the
    run's planned end of training when the log says it (:func:`planned_horizon`)."""
    horizon, note = _series_horizon(history_run, mon, x, observed, horizon)
    sched, axis = schedule_of(history_run, mon)
    fc = forecast_curve(x, y, observed=observed, horizon=horizon, mode=mon.mode, method=method, seed=seed,
                        name=history_run.name, monitor=mon, bound=bound, schedule=sched or None,
                        schedule_axis=axis, regime=regime, recalibration=recalibration)
    if note:
        fc.notes.append(note)
    return fc


def _series_horizon(history_run: History, mon: Monitor, x: np.ndarray, observed: float | None,
                    horizon: int | None) -> tuple[int | None, str]:
    """The horizon :func:`_forecast_series` uses, and its note (the planned end of training when neither
    ``observed`` nor ``horizon`` is given and the log states it)."""
    if horizon is None and observed is None:
        return planned_horizon(history_run, mon, x)
    return horizon, ""


def planned_end(history_run: History, monitor: Monitor) -> tuple[float | None, str]:
    """The x position where the run's training is planned to end, on the monitored series' axis, and its label.

    Read from the run's metadata: Hugging Face ``max_steps`` when the series is on a step axis,
    ``num_train_epochs`` on an epoch axis (``History.meta[run]["hf"]``, see :mod:`gapwatch.readers.hf`);
    Ultralytics ``epochs`` on an epoch axis (``History.meta[run]["ultralytics"]``, from ``args.yaml``; not the
    default the CSV reader assumes without one, ``"assumed": True``, which is the last logged epoch). Returns
    ``(None, "")`` when the log states no plan for that axis.
    """
    meta = history_run.meta.get(history_run.name, {}) if history_run.meta else {}
    kind = history_run.series(monitor.split, monitor.metric).x_kind
    sources = (("hf", "max_steps"),) if kind == "step" else (("hf", "num_train_epochs"), ("ultralytics", "epochs"))
    for block, key in sources:
        d = meta.get(block, {})
        if isinstance(d, dict) and d.get("assumed") is True:
            continue  # (no args.yaml: the reader's assumption, no plan the log states)
        budget = d.get(key) if isinstance(d, dict) else None
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not math.isfinite(budget):
            continue
        return float(budget), f"{key}={budget:g}"
    return None, ""


def planned_horizon(history_run: History, monitor: Monitor, x: np.ndarray) -> tuple[int | None, str]:
    """The horizon (evaluations in total) that reaches the run's planned end of training (:func:`planned_end`),
    and a note.

    Evaluations up to it are spaced like the last logged ones, and there are at most
    ``PLANNED_MAX_FACTOR`` × the logged evaluations (:func:`gapwatch.forecast.schedule.horizon_to`). Returns
    ``(None, "")`` when there is no plan or the log already reaches it (the default horizon then applies).
    """
    end, label = planned_end(history_run, monitor)
    if end is None:
        return None, ""
    return horizon_to(np.asarray(x, dtype=float), end, PLANNED_MAX_FACTOR, MIN_EXTRA, label)


def schedule_of(history_run: History, monitor: Monitor) -> tuple[list[ScheduleSeries], str]:
    """The run's logged learning-rate series (:func:`gapwatch.schedule.series_of`) and the axis of the monitored
    series (``"step"`` or ``"epoch"``), ready for :func:`forecast_curve`'s ``schedule`` and ``schedule_axis``."""
    from ..schedule import series_of

    found = [s for s in series_of(history_run, history_run.name) if s.is_learning_rate]
    kind = history_run.series(monitor.split, monitor.metric).x_kind
    return found, ("step" if kind == "step" else "epoch")


def forecast_for_analysis(
    history_run: History,
    monitor: Monitor | None,
    *,
    method: str = "auto",
    reasons: list[str] | None = None,
    regime: bool | None = None,
) -> Forecast | None:
    """The forecast of a run that :func:`gapwatch.analyze` attaches (``RunAnalysis.forecast``), or None.

    Forecasts beyond the last logged evaluation: all finite evaluations are observed and the horizon is the
    run's planned end of training when the log states it (:func:`planned_horizon`: ``max_steps``,
    ``num_train_epochs``, Ultralytics ``epochs``), else ``DEFAULT_HORIZON_FACTOR`` × that (50% more evaluations,
    at least ``MIN_EXTRA``). The run's logged learning rate is passed as the schedule (:func:`schedule_of`;
    the segment rule applies when ``regime`` says so, default ``SEGMENT_DEFAULT``). Never raises: when the run
    cannot be forecast (no monitor, fewer than 3 evaluations, non-finite values, anything unexpected) it returns
    None and, when ``reasons`` is given, appends the reason to it.
    """
    def fail(why: str) -> None:
        if reasons is not None:
            reasons.append(why)

    try:
        if monitor is None:
            fail("no monitored series")
            return None
        mon, x, y = _series(history_run, monitor)
        if not np.all(np.isfinite(y)):
            fail("the monitored series has non-finite values (the run diverged); no forecast")
            return None
        if y.size < MIN_OBSERVED:
            fail(f"only {y.size} evaluation(s); a forecast needs at least {MIN_OBSERVED}")
            return None
        horizon, note = planned_horizon(history_run, mon, x)
        if horizon is None:
            horizon = max(math.ceil(DEFAULT_HORIZON_FACTOR * y.size), y.size + MIN_EXTRA)
        sched, axis = schedule_of(history_run, mon)
        fc = forecast_curve(x, y, observed=y.size, horizon=horizon, mode=mon.mode, method=method,
                            name=history_run.name, monitor=mon, schedule=sched or None, schedule_axis=axis,
                            regime=regime)
        if note:
            fc.notes.append(note)
        return fc
    except Exception as exc:  # noqa: BLE001 - documented: never raises
        fail(f"forecast failed: {exc}")
        return None
