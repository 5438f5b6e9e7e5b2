"""The online stop policy: seeing only the evaluations so far, continue or stop, and what to restore.

The same object drives ``gapwatch replay`` (a recorded log fed one evaluation at a time) and the live
:class:`~gapwatch.guard.Guard` inside training loops, so a replayed log reproduces the live decisions.

Rule: a noise-aware generalisation-loss test with a patience cap
-----------------------------------------------------------------
Values are put in "lower is better" form (``mode="max"`` flips the sign) and non-finite values count as the
worst possible evaluation. Let ``b`` be the best evaluation so far and ``since`` the number of evaluations
after it. With ``w = min(window, since)``:

* *level*: mean of the last ``w`` evaluations; *best level*: the lowest mean of ``w`` consecutive
  evaluations seen so far; *degradation* ``deg = level - best level``;
* *noise* σ: robust MAD of second differences of the evaluations so far (:func:`gapwatch.stats.noise_sigma`),
  so the standard error of ``deg`` is about ``σ·sqrt(2/w)``;
* *range*: worst minus best evaluation so far (the progress the run has made, in the metric's units).

After ``warmup`` evaluations the policy says **stop** when

1. ``since >= min_wait`` and ``deg >= z_stop·σ·sqrt(2/w)`` and ``deg >= min_giveback·range`` (and, when
   ``min_rel > 0``, ``deg >= min_rel·|best|``): the held-out metric is significantly and materially worse than
   its best — Prechelt's generalisation-loss criterion GL_α ("Early Stopping — But When?", 1998) with the
   fixed α replaced by a significance test against the curve's own noise and a threshold relative to the
   progress made; or
2. ``since >= max_wait``: no new best for ``max_wait`` evaluations (the patience cap of Keras/Lightning/HF).

It restores the best evaluation ``b``. Both thresholds are relative (noise units and fraction of the range),
so adding a constant to the metric or rescaling it changes no decision (``min_rel`` is the one exception and
is off by default).

Memorisation before generalisation (grokking)
---------------------------------------------
On grokking runs the held-out metric gets *worse* while the network memorises its training set, and only
much later improves ("Grokking at the Edge of Numerical Stability"; "Benign Overfitting and Grokking in ReLU
Networks for XOR Cluster Data"). The default rule sees a significant degradation and stops there, as every
patience rule does. With ``keep_through_memorization=True`` the policy holds (never stops, neither by rule 1
nor by the cap) until the held-out metric has made real progress: its best 3-evaluation mean is better than
the first evaluation by at least ``progress_min`` of the range so far (``progress_window`` = 3). It then
behaves as usual, so it trains through a memorisation phase until generalisation starts, or to the end of the
budget if it never does.

Optional forecast-confirmed stop
--------------------------------
With ``confirm_p_best_behind = p`` (default ``None``: off) the policy also stops when the best is at least
``confirm_wait`` evaluations old (a shorter patience than ``max_wait``) **and** a learning-curve forecast of the
evaluations seen so far says the best is already behind with probability ``>= p``. The forecast is the
parametric ensemble of :mod:`gapwatch.forecast.ensemble` (monotone families plus overfitting/recovery terms,
after Domhan et al. 2015, "Speeding up automatic hyperparameter optimization of deep neural networks by
extrapolation of learning curves"), fitted to the monitored values only, with a horizon of
``confirm_horizon`` x the evaluations seen and a fixed seed (:func:`gapwatch.policy_forecast.p_best_behind`), so
replayed and live decisions agree. It is only computed (~20-30 ms) when the cheap conditions already hold. It
is an *extra* route to stop: rules 1 and 2 are unchanged, so it can only stop earlier. The memorisation hold
(``keep_through_memorization``) blocks it too.

Stopping only when every held-out signal agrees (``stop_when="all_heldout"``)
--------------------------------------------------------------------------
By default (``stop_when="deciding"``) the policy follows the deciding series alone (the task metric when one is
logged, :mod:`gapwatch.monitor`): the held-out loss and the task metric disagree on real fine-tuning runs (the
loss rises through over-confidence while the metric improves: "The Hyperfitting Phenomenon", 2024; "Rethinking
Fine-Tuning when Scaling Test-Time Compute: Limiting Confidence", 2025), and stopping by the loss then throws
away the better model. With ``stop_when="all_heldout"`` the policy may also be fed the other held-out signals of
the run (``signals``: name → mode; the values through ``update(..., others=...)``: the held-out loss beside a
task metric, the same measure on the other evaluation sets — the evidence of
:class:`gapwatch.monitor.MonitorDecision`). It then stops only at an evaluation where the deciding series *and*
every other signal that has a finite value so far satisfy the same stop test (rules 1 and 2 above, on each
signal's own evaluations, noise and range; the forecast-confirmed stop only ever applies to the deciding
series). It restores the deciding series' best, as always. Until they agree it continues and says which
signals have not degraded. It is the conservative choice for runs where every held-out set matters (several
languages, a retention set): a stop needs all of them to say so. With no other signal it is exactly
``"deciding"``.

It only ever looks at the held-out series it is given; test data must never be passed to it. The default
parameters were chosen on data (generated families and a tuning subset of real runs, scored on test loss):
see ``docs/policy.md`` and ``bench/results/early_stopping.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from .errors import UsageError
from .params import Param, defaults, register, validate
from .stats import noise_sigma, window_means

STATE_VERSION = 1

#: Parameters (:mod:`gapwatch.params`), chosen on data by ``bench/bench_early_stopping.py --tune``.
SPECS: tuple[Param, ...] = register("policy", (
    Param("warmup", 5, "Never stop before this many evaluations: the noise estimate needs a few points.",
          unit="evaluations", type=int, low=1),
    Param("min_wait", 5, "Evaluations since the best before a degradation stop is considered (<= max_wait).",
          unit="evaluations", type=int, low=1),
    Param("max_wait", 12, "Patience cap: stop after this many evaluations without a new best of the window-mean "
          "(the patience of Keras/Lightning/HF, tuned).", unit="evaluations", type=int, low=1),
    Param("window", 1, "Evaluations averaged for the current and the best level (1 was best on the tuning "
          "split).", unit="evaluations", type=int, low=1),
    Param("z_stop", 3.0, "Degradation needed to stop, in noise standard errors of a level difference.",
          unit="standard errors", low=0),
    Param("min_giveback", 0.0, "Degradation needed to stop, as a fraction of the range (worst - best) so far "
          "(0: off; tuned).", unit="fraction of the range", low=0),
    Param("min_rel", 0.0, "Optional extra threshold: degradation relative to |best| (0 = off; the one "
          "parameter that is not offset-free).", unit="fraction of |best|", low=0),
    Param("keep_through_memorization", False, "Hold while the held-out metric has made no progress (grokking: "
          "it gets worse while the network memorises, and improves much later).", type=bool),
    Param("progress_window", 3, "Evaluations averaged (at least; window if larger) when measuring held-out "
          "progress for keep_through_memorization, so a noise dip right after the first evaluation does not end "
          "the hold.", unit="evaluations", type=int, low=1),
    Param("progress_min", 0.25, "Progress that ends the memorisation hold: (first - best progress_window-mean) "
          "/ (worst - best).", unit="fraction of the range", low=0, high=1),
    Param("confirm_p_best_behind", None, "Optional forecast-confirmed stop: stop when the forecast's P(best "
          "already behind) reaches this; None = off (the default; see the confirm study).",
          unit="probability", low=0, high=1, low_open=True, allow_none=True),
    Param("confirm_wait", 5, "Evaluations since the best before the forecast-confirmed stop is considered.",
          unit="evaluations", type=int, low=1),
    Param("confirm_horizon", 1.5, "Forecast horizon of that stop, as a multiple (> 1) of the evaluations seen.",
          unit="x evaluations seen", low=1, low_open=True),
    Param("stop_when", "deciding", "What must degrade before a stop: 'deciding' (the deciding series alone: the "
          "task metric decides, so a rising loss beside an improving metric never stops the run) or "
          "'all_heldout' (the deciding series and every other held-out signal it is fed, each by the same "
          "test at the same evaluation; the conservative option when every held-out set matters).",
          type=str, choices=("deciding", "all_heldout")),
))

#: Default parameters, ``{name: default}`` (from :data:`SPECS`).
DEFAULTS: dict[str, Any] = defaults(SPECS)

#: Default of ``progress_window`` (kept as a name for readers of older code).
PROGRESS_WINDOW = DEFAULTS["progress_window"]

_MODE = Param("mode", "min", "Direction of the monitored metric.", type=str, choices=("min", "max"))


def _check_signals(signals: Any) -> dict[str, str]:
    """``signals`` (name → ``"min"``/``"max"``) as a plain dict; :class:`UsageError` naming a bad entry."""
    if not isinstance(signals, dict):
        raise UsageError(f"policy: signals must be a dict of name -> 'min'/'max', got {type(signals).__name__}")
    for name, mode in signals.items():
        if not isinstance(name, str) or mode not in ("min", "max"):
            raise UsageError(f"policy: signals must map a series name to 'min' or 'max', got {name!r}: {mode!r}")
    return dict(signals)


def validate_params(mode: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` merged with :data:`DEFAULTS` and validated (:func:`gapwatch.params.validate`).

    Raises:
        UsageError (a ``ValueError``): unknown name, wrong type or out-of-range value, named with the value.
    """
    _MODE.check(mode, "policy")
    if not isinstance(params, dict):
        raise UsageError(f"policy: params must be a dict, got {type(params).__name__}")
    p = validate("policy", SPECS, params)
    if p["min_wait"] > p["max_wait"]:
        raise UsageError(f"policy: min_wait ({p['min_wait']}) must be <= max_wait ({p['max_wait']}), got "
                         f"{p['min_wait']} (min_wait={p['min_wait']})")
    return p


class StopReason(str, Enum):
    """Why the policy (or the guard) stopped — machine-readable; the message beside it is for people.

    ``DEGRADATION``: the held-out metric's trailing mean is worse than its best level by more than the noise
    allows (``z_stop``, ``min_giveback``, ``min_rel``). ``NO_IMPROVEMENT``: the trailing mean has not improved for
    ``max_wait`` evaluations. ``NON_FINITE_AFTER_BEST``: the monitored metric turned NaN/inf after its best.
    ``FORECAST``: the forecast-confirmed stop (``confirm_p_best_behind``). ``NON_FINITE``: the guard stopped because
    the metric became NaN/inf (``on_nan="stop"``). ``OTHER``: a reason an earlier version recorded as text only.
    """

    DEGRADATION = "degradation"
    NO_IMPROVEMENT = "no_improvement"
    NON_FINITE_AFTER_BEST = "non_finite_after_best"
    FORECAST = "forecast"
    NON_FINITE = "non_finite"
    OTHER = "other"

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class Decision:
    """What the policy says after an evaluation.

    Attributes:
        action: ``"continue"`` or ``"stop"``.
        best_index: index (0-based, in evaluations seen) of the evaluation to restore.
        best_step, best_epoch: where that evaluation was (None when unknown).
        best_value: its monitored value.
        reason: one line for people (empty when continuing without news).
        improved: this evaluation is the new best.
        stop_reason: why it stopped (:class:`StopReason`; None while continuing).
    """

    action: str
    best_index: int
    best_step: float | None
    best_epoch: float | None
    best_value: float
    reason: str = ""
    improved: bool = False
    stop_reason: StopReason | None = None

    @property
    def stop(self) -> bool:
        return self.action == "stop"


# ---------------------------------------------------------------------------------------------- core maths
def _lower_better(values: np.ndarray, sign: float) -> np.ndarray:
    """``sign * values`` with non-finite entries set to +inf, centred on the first finite value (so that an
    offset added to the metric gives bit-identical numbers when it is exactly representable)."""
    v = np.asarray(values, dtype=float)
    fin = np.isfinite(v)
    z = np.where(fin, sign * np.where(fin, v, 0.0), np.inf)
    if fin.any():
        z = np.where(fin, z - z[int(np.argmax(fin))], np.inf)
    return z


def _rolling(z: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing means of ``w`` evaluations, shape ``(n,)``: ``(mean, all_finite)``; the mean is NaN where the
    window is incomplete and meaningless where ``all_finite`` is False. The means are
    :func:`gapwatch.stats.window_means` (each is ``np.mean`` of its own window), so every element depends only
    on its own window: prefix and full-series computations agree bit for bit."""
    n = z.size
    out = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    if n < w:
        return out, ok
    zz = np.where(np.isfinite(z), z, 0.0)
    fin = np.isfinite(z[: n - w + 1]).copy()
    for k in range(1, w):
        fin &= np.isfinite(z[k: n - w + 1 + k])
    out[w - 1:] = window_means(zz, w)
    ok[w - 1:] = fin
    return out, ok


def _smoothed_since(z: np.ndarray, window: int, since: int) -> int:
    """Evaluations since the lowest complete, finite ``window``-mean (first occurrence); ``since`` (raw) when
    no window is complete yet. A noisy but still improving curve keeps setting new lows of its mean even
    when one lucky evaluation holds the raw record, so the patience cap does not fire on it."""
    rm, ok = _rolling(z, window)
    if not ok.any():
        return since
    cand = np.where(ok, rm, np.inf)
    return int(z.size - 1 - int(np.argmin(cand)))


def _progress(z: np.ndarray, window: int, rng: float) -> float:
    """Held-out progress so far: (first evaluation − lowest ``window``-mean) / range, a fraction; 0 when no
    window is complete or the range is 0. ``z`` is centred on its first finite value, so the first evaluation
    is 0. Smoothing keeps a noise dip right after the first evaluation from counting as progress, and
    recovering from a memorisation peak does not count until the metric is better than where it started."""
    rm, ok = _rolling(z, window)
    if not ok.any() or rng <= 0:
        return 0.0
    return float((0.0 - rm[ok].min()) / rng)


def _decide_last(z: np.ndarray, sigma: float, p: dict[str, Any],
                 abs_best: float = 0.0) -> tuple[StopReason | None, str, int]:
    """The stop rule for the last evaluation of ``z`` (lower-better, +inf for non-finite), given the noise
    estimate ``sigma`` of its finite values and ``abs_best`` = |best value| in the metric's own units (only
    used by ``min_rel``). Returns ``(why it stops or None, reason message, best_index)``."""
    n = z.size
    fin = np.isfinite(z)
    b = int(np.argmin(z)) if fin.any() else n - 1
    if not fin.any():
        return None, "", b
    since = n - 1 - b
    if n < p["warmup"]:
        return None, "", b
    zf = z[fin]
    zmin, zmax = float(zf.min()), float(zf.max())
    rng = zmax - zmin
    hold = _memorization_hold(z, p, rng)
    if hold:
        return None, hold, b
    if since < p["min_wait"]:
        return None, "", b
    cap_since = _smoothed_since(z, p["window"], since)
    if cap_since >= p["max_wait"]:
        return (StopReason.NO_IMPROVEMENT,
                f"no improvement of the {p['window']}-evaluation mean for {cap_since} evaluations (max_wait)", b)
    w = int(min(p["window"], since))
    if not np.all(fin[n - w:]):
        return StopReason.NON_FINITE_AFTER_BEST, "the held-out metric became non-finite after its best", b
    if _significant_degradation(z, b, w, sigma, rng, abs_best, p):
        return StopReason.DEGRADATION, "", b
    return None, "", b


def _memorization_hold(z: np.ndarray, p: dict[str, Any], rng: float) -> str:
    """The holding message while ``keep_through_memorization`` waits for held-out progress, else ""."""
    if p["keep_through_memorization"]:
        progress = _progress(z, max(p["progress_window"], p["window"]), rng)
        if progress < p["progress_min"]:
            return f"holding: no held-out progress yet ({100 * progress:.0f}% of the range)"
    return ""


def _significant_degradation(z: np.ndarray, b: int, w: int, sigma: float, rng: float, abs_best: float,
                             p: dict[str, Any]) -> bool:
    """Whether the mean of the last ``w`` evaluations is worse than the best ``w``-mean by more than the noise
    (``z_stop`` standard errors), ``min_giveback`` of the range and ``min_rel`` of the best value."""
    rm, ok = _rolling(z, w)
    level = float(rm[-1])
    cand = rm[ok]
    best_level = float(cand.min()) if cand.size else float(z[b])
    deg = level - best_level
    if deg <= 0:
        return False
    se = sigma * math.sqrt(2.0 / w)
    if se > 0 and deg < p["z_stop"] * se:
        return False
    if deg < p["min_giveback"] * rng:
        return False
    return not (p["min_rel"] > 0 and deg < p["min_rel"] * max(abs_best, 1e-12))


def _confirm_candidate(z: np.ndarray, p: dict[str, Any]) -> bool:
    """The cheap conditions of the forecast-confirmed stop for the last evaluation of ``z``: the option is on,
    ``warmup`` evaluations seen, some finite value, no memorisation hold, best >= ``confirm_wait`` old."""
    if p["confirm_p_best_behind"] is None:
        return False
    n = z.size
    fin = np.isfinite(z)
    if not fin.any() or n < p["warmup"]:
        return False
    b = int(np.argmin(z))
    if n - 1 - b < p["confirm_wait"]:
        return False
    if p["keep_through_memorization"]:
        zf = z[fin]
        rng = float(zf.max() - zf.min())
        if _progress(z, max(p["progress_window"], p["window"]), rng) < p["progress_min"]:
            return False
    return True


def _confirm_p(z: np.ndarray, p: dict[str, Any], cache: dict[tuple[int, float], float] | None = None) -> float:
    """P(best already behind) of the ensemble forecast on ``z`` (lower-better prefix), memoised in ``cache``
    by (prefix length, horizon)."""
    from .policy_forecast import p_best_behind

    key = (int(z.size), float(p["confirm_horizon"]))
    if cache is not None and key in cache:
        return cache[key]
    val = p_best_behind(z, p["confirm_horizon"])
    if cache is not None:
        cache[key] = val
    return val


def _stop_reason(z: np.ndarray, sigma: float, p: dict[str, Any], b: int) -> str:
    n = z.size
    since = n - 1 - b
    w = int(min(p["window"], since))
    rm, ok = _rolling(z, w)
    cand = rm[ok]
    deg = float(rm[-1]) - (float(cand.min()) if cand.size else float(z[b]))
    zf = z[np.isfinite(z)]
    rng = float(zf.max() - zf.min())
    se = sigma * math.sqrt(2.0 / w)
    zs = "inf" if se == 0 else f"{deg / se:.1f}"
    return (f"held-out metric worse than its best level by {100 * deg / rng if rng > 0 else 0:.1f}% of the "
            f"range ({zs} noise s.e.) for {since} evaluations")


# ---------------------------------------------------------------------------------------------- the policy
@dataclass
class StopPolicy:
    """Online early-stopping policy (see module docstring).

    Args:
        mode: ``"min"`` (lower is better, losses) or ``"max"`` (accuracies).
        params: overrides of :data:`DEFAULTS`; validated, errors name the bad value.
        signals: the other held-out series fed beside the deciding one (``update(..., others=...)``), as
            name → ``"min"``/``"max"``; only ``stop_when="all_heldout"`` looks at them. Empty by default.
    """

    mode: str = "min"
    params: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, str] = field(default_factory=dict)
    _others: dict[str, list[float]] = field(default_factory=dict, repr=False)
    _values: list[float] = field(default_factory=list, repr=False)
    _steps: list[float | None] = field(default_factory=list, repr=False)
    _epochs: list[float | None] = field(default_factory=list, repr=False)
    _stopped_at: int | None = field(default=None, repr=False)
    _stop_reason: StopReason | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.params = validate_params(self.mode, dict(self.params) if isinstance(self.params, dict)
                                      else self.params)
        self.signals = _check_signals(self.signals)
        self._others = {k: list(self._others.get(k, [])) for k in self.signals}

    # ------------------------------------------------------------------ online interface
    @property
    def sign(self) -> float:
        return 1.0 if self.mode == "min" else -1.0

    @property
    def evaluations_seen(self) -> int:
        return len(self._values)

    @property
    def stopped(self) -> bool:
        return self._stopped_at is not None

    @property
    def stopped_at(self) -> int | None:
        """Index (0-based) of the evaluation after which the policy first said stop, or None."""
        return self._stopped_at

    def set_signals(self, signals: dict[str, str]) -> None:
        """Declare the other held-out signals (name → ``"min"``/``"max"``) before the first evaluation.

        Raises:
            UsageError: evaluations were already fed, or a bad entry (named).
        """
        if self._values:
            raise UsageError(f"StopPolicy.set_signals: signals must be declared before the first evaluation "
                             f"({len(self._values)} seen)")
        self.signals = _check_signals(signals)
        self._others = {k: [] for k in self.signals}

    def update(self, value: float, *, step: float | None = None, epoch: float | None = None,
               others: Mapping[str, float] | None = None) -> Decision:
        """Feed one evaluation of the monitored metric; returns the decision after it.

        Non-finite values count as the worst possible evaluation (they never become the best).
        Once the policy has said stop, it keeps saying stop with the same restore point.

        Args:
            others: values of declared :attr:`signals` measured at this evaluation (a signal not measured at
                it is left out); only ``stop_when="all_heldout"`` uses them.
        Raises:
            ValueError: ``value`` (or a value of ``others``) is not a number, or ``others`` names a signal that
                was not declared.
        """
        try:
            v = float(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"StopPolicy.update: value must be a number, got {value!r}") from exc
        extra = self._check_others(others)
        for k, ov in extra.items():
            self._others[k].append(ov)
        self._values.append(v)
        self._steps.append(None if step is None or not math.isfinite(float(step)) else float(step))
        self._epochs.append(None if epoch is None or not math.isfinite(float(epoch)) else float(epoch))
        return self._decide()

    def _check_others(self, others: Mapping[str, float] | None) -> dict[str, float]:
        if not others:
            return {}
        unknown = sorted(set(others) - set(self.signals), key=str)
        if unknown:
            raise ValueError(f"StopPolicy.update: others names undeclared signal(s) {unknown}; declared: "
                             f"{sorted(self.signals)} (declare them with signals= or set_signals)")
        out = {}
        for k, ov in others.items():
            try:
                out[k] = float(ov)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"StopPolicy.update: others[{k!r}] must be a number, got {ov!r}") from exc
        return out

    def _waiting_signals(self) -> tuple[list[str], list[str]]:
        """``(signals that do not satisfy the stop test now, signals that do)`` among the declared signals
        with a finite value so far (the others are not counted)."""
        waiting: list[str] = []
        agree: list[str] = []
        for name, vals in self._others.items():
            z = _lower_better(np.asarray(vals, dtype=float), 1.0 if self.signals[name] == "min" else -1.0)
            fin = np.isfinite(z)
            if not fin.any():
                continue
            bb = int(np.argmin(z))
            why, _, _ = _decide_last(z, noise_sigma(z[fin]), self.params, abs(vals[bb]))
            (agree if why is not None else waiting).append(name)
        return waiting, agree

    def _decision(self, action: str, b: int, reason: str = "", why: StopReason | None = None) -> Decision:
        n = len(self._values)
        return Decision(action, b, self._steps[b], self._epochs[b], self._values[b], reason,
                        improved=(b == n - 1 and math.isfinite(self._values[b])), stop_reason=why)

    def _decide(self) -> Decision:
        z = _lower_better(np.asarray(self._values, dtype=float), self.sign)
        fin = np.isfinite(z)
        if self._stopped_at is not None:
            zs = z[: self._stopped_at + 1]
            b = int(np.argmin(zs)) if np.isfinite(zs).any() else self._stopped_at
            d = self._decision("stop", b, "stopped earlier", self._stop_reason)
            return Decision(d.action, d.best_index, d.best_step, d.best_epoch, d.best_value, d.reason, False,
                            d.stop_reason)
        sigma = noise_sigma(z[fin])
        bb = int(np.argmin(z)) if fin.any() else 0
        why, reason, b = _decide_last(z, sigma, self.params, abs(self._values[bb]))
        if why is not None:
            reason = reason or _stop_reason(z, sigma, self.params, b)
        elif _confirm_candidate(z, self.params):
            pb = _confirm_p(z, self.params)
            if pb >= self.params["confirm_p_best_behind"]:
                since = len(self._values) - 1 - b
                why = StopReason.FORECAST
                reason = (f"no new best for {since} evaluations and the forecast puts P(best already behind) at "
                          f"{pb:.2f} (confirm_p_best_behind)")
        if why is None:
            return self._decision("continue", b, reason)
        if self.params["stop_when"] == "all_heldout":
            waiting, agree = self._waiting_signals()
            if waiting:
                verb = "has" if len(waiting) == 1 else "have"
                return self._decision("continue", b, f"holding: the deciding series would stop ({why.value}) but "
                                      f"{', '.join(waiting)} {verb} not degraded (stop_when='all_heldout')")
            if agree:
                reason += f"; every held-out signal agrees ({', '.join(agree)})"
        self._stopped_at, self._stop_reason = len(self._values) - 1, why
        return self._decision("stop", b, reason, why)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Versioned, JSON-able state; :meth:`load_state_dict` restores identical future decisions."""
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "mode": self.mode,
            "params": dict(self.params),
            "values": _json_values(self._values),
            "steps": list(self._steps),
            "epochs": list(self._epochs),
            "stopped_at": self._stopped_at,
            "stop_reason": self._stop_reason.value if self._stop_reason is not None else None,
        }
        if self.signals:  # stop_when="all_heldout" with other held-out signals (added in 0.3)
            state["signals"] = dict(self.signals)
            state["others"] = {k: _json_values(v) for k, v in self._others.items()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` output; unknown versions or keys raise ``ValueError``."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"StopPolicy state: expected version {STATE_VERSION}, got "
                             f"{state.get('version') if isinstance(state, dict) else type(state).__name__}")
        expected = {"version", "mode", "params", "values", "steps", "epochs", "stopped_at"}
        # stop_reason: added in 0.2; signals and others: 0.3
        if not expected <= set(state) <= expected | {"stop_reason", "signals", "others"}:
            raise ValueError(f"StopPolicy state: keys {sorted(state)} != expected {sorted(expected)}")
        fresh = StopPolicy(state["mode"], dict(state["params"]), dict(state.get("signals") or {}))
        others = state.get("others") or {}
        if not isinstance(others, dict) or set(others) != set(fresh.signals):
            raise ValueError(f"StopPolicy state: others must hold one list per signal {sorted(fresh.signals)}, got "
                             f"{sorted(others) if isinstance(others, dict) else type(others).__name__}")
        values = [float(v) for v in state["values"]]
        steps, epochs = list(state["steps"]), list(state["epochs"])
        if not (len(values) == len(steps) == len(epochs)):
            raise ValueError(f"StopPolicy state: values/steps/epochs lengths differ "
                             f"({len(values)}, {len(steps)}, {len(epochs)})")
        sa = state["stopped_at"]
        if sa is not None and (not isinstance(sa, int) or not 0 <= sa < len(values)):
            raise ValueError(f"StopPolicy state: stopped_at must be None or an index < {len(values)}, got {sa!r}")
        why = state.get("stop_reason")
        try:
            reason = None if sa is None else StopReason(why) if why is not None else StopReason.OTHER
        except ValueError:
            raise ValueError(f"StopPolicy state: stop_reason must be one of {[r.value for r in StopReason]}, "
                             f"got {why!r}") from None
        self.mode, self.params, self.signals = fresh.mode, fresh.params, fresh.signals
        self._others = {k: [float(v) for v in others[k]] for k in fresh.signals}
        self._values, self._steps, self._epochs, self._stopped_at = values, steps, epochs, sa
        self._stop_reason = reason


def _json_values(values: list[float]) -> list[float | str]:
    """Values for a JSON state: non-finite ones as their ``repr`` (``'nan'``, ``'inf'``), read back by ``float``."""
    return [v if math.isfinite(v) else repr(v) for v in values]


# ---------------------------------------------------------------------------------------------- offline
# Private helpers of :func:`first_stop` (the vectorised replay). Their contract is the online == offline test
# (``tests/test_policy.py::test_vectorised_first_stop_matches_online_policy`` and the confirm variant): every
# first stop they compute equals the one a fresh :class:`StopPolicy` fed the same values one at a time says.
@dataclass(frozen=True)
class _PrefixStats:
    """Everything the stop rule needs at every prefix of a recorded series (see :func:`_prefix_stats`)."""

    z: np.ndarray            # lower-better, centred, +inf for non-finite; shape (n,)
    any_finite: np.ndarray   # bool (n,): some finite value in the prefix
    best: np.ndarray         # int (n,): index of the first best evaluation of the prefix
    sigma: np.ndarray        # float (n,): noise_sigma of the prefix's finite values
    zmin: np.ndarray
    zmax: np.ndarray
    abs_best: np.ndarray     # |best value| in the metric's units
    level: dict[int, np.ndarray]       # w -> mean of the last w evaluations (inf if one is non-finite)
    best_level: dict[int, np.ndarray]  # w -> lowest complete, finite w-mean in the prefix
    smooth_since: dict[int, np.ndarray]  # w -> evaluations since that lowest w-mean (-1: none complete yet)
    #: memo of P(best behind) by (prefix length, horizon), filled on demand by the forecast-confirmed stop
    p_behind: dict[tuple[int, float], float] = field(default_factory=dict, compare=False, repr=False)


def _prefix_stats(values: np.ndarray, mode: str = "min", max_window: int = 5) -> _PrefixStats:
    """Precompute the per-prefix quantities of the stop rule for ``values`` (shape ``(n,)``), for windows
    ``1..max_window``. Every number is computed exactly as :class:`StopPolicy` computes it online."""
    _MODE.check(mode, "policy")
    raw = np.asarray(values, dtype=float)
    z = _lower_better(raw, 1.0 if mode == "min" else -1.0)
    n = z.size
    fin = np.isfinite(z)
    any_fin = np.cumsum(fin) > 0
    best = np.zeros(n, dtype=int)
    sigma = np.zeros(n)
    zmin = np.full(n, np.inf)
    zmax = np.full(n, -np.inf)
    bi, bv, lo, hi = 0, np.inf, np.inf, -np.inf
    zf = z[fin]
    nfin = np.cumsum(fin)
    cache: dict[int, float] = {}
    for i in range(n):
        if z[i] < bv:
            bi, bv = i, z[i]
        if fin[i]:
            lo, hi = min(lo, z[i]), max(hi, z[i])
        best[i] = bi if any_fin[i] else i
        zmin[i], zmax[i] = lo, hi
        m = int(nfin[i])
        if m not in cache:
            cache[m] = noise_sigma(zf[:m])
        sigma[i] = cache[m]
    abs_best = np.abs(raw[best])
    level: dict[int, np.ndarray] = {}
    best_level: dict[int, np.ndarray] = {}
    smooth_since: dict[int, np.ndarray] = {}
    for w in range(1, max_window + 1):
        rm, ok = _rolling(z, w)
        cand = np.where(ok, rm, np.inf)
        level[w] = cand
        best_level[w] = np.minimum.accumulate(cand) if n else rm
        ss = np.full(n, -1, dtype=int)
        bi, bv = -1, np.inf
        for i in range(n):
            if ok[i] and cand[i] < bv:
                bi, bv = i, cand[i]
            ss[i] = i - bi if bi >= 0 else -1
        smooth_since[w] = ss
    return _PrefixStats(z, any_fin, best, sigma, zmin, zmax, abs_best, level, best_level, smooth_since)


def _first_stop_from_stats(st: _PrefixStats, params: dict[str, Any]) -> int | None:
    """First stop index of :class:`StopPolicy` with (validated) ``params`` on precomputed stats, or None."""
    p = params
    n = st.z.size
    need = max(p["window"], p["progress_window"])
    if need > max(st.level):
        raise ValueError(f"_first_stop_from_stats: window {p['window']} needs _prefix_stats(max_window={need}), "
                         f"got {max(st.level)}")
    idx = np.arange(n)
    since = idx - st.best
    rng = st.zmax - st.zmin
    ok = st.any_finite & (idx + 1 >= p["warmup"])
    if p["keep_through_memorization"]:
        w0 = max(p["progress_window"], p["window"])
        okw = st.level[w0] < np.inf
        if okw.any():
            seen = np.cumsum(okw) > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                progress = np.where(seen & (rng > 0), (0.0 - st.best_level[w0]) / np.where(rng > 0, rng, 1.0), 0.0)
        else:
            progress = np.zeros(n)
        ok &= progress >= p["progress_min"]
    ok_confirm = ok & (since >= p["confirm_wait"])
    ok &= since >= p["min_wait"]
    ss = st.smooth_since[p["window"]]
    cap_since = np.where(ss >= 0, ss, since)
    cap = ok & (cap_since >= p["max_wait"])
    w = np.clip(np.minimum(p["window"], since), 1, None)
    level = np.full(n, np.inf)
    blevel = np.full(n, np.inf)
    for ww in np.unique(w[ok]) if ok.any() else []:
        m = w == ww
        level[m] = st.level[int(ww)][m]
        blevel[m] = st.best_level[int(ww)][m]
    with np.errstate(invalid="ignore"):
        deg = level - blevel
        nonfinite_tail = ~np.isfinite(level)
        se = st.sigma * np.sqrt(2.0 / w)
        test = (deg > 0) & ((se == 0) | (deg >= p["z_stop"] * se)) & (deg >= p["min_giveback"] * rng)
        if p["min_rel"] > 0:
            test &= deg >= p["min_rel"] * np.maximum(st.abs_best, 1e-12)
    stop = cap | (ok & (nonfinite_tail | test))
    hits = np.flatnonzero(stop)
    first = int(hits[0]) if hits.size else None
    if p["confirm_p_best_behind"] is not None:
        end = n if first is None else first
        for i in np.flatnonzero(ok_confirm[:end]):
            if _confirm_p(st.z[: i + 1], p, st.p_behind) >= p["confirm_p_best_behind"]:
                return int(i)
    return first


def first_stop(values: np.ndarray, mode: str = "min", **params: Any) -> int | None:
    """Index of the first evaluation after which a fresh :class:`StopPolicy` would say stop, or None.

    Same decisions as feeding ``values`` one at a time to :meth:`StopPolicy.update`, computed in one
    vectorised pass (used by ``gapwatch replay`` on long logs and by the benchmark's parameter search).
    ``values``: shape ``(n,)``. One series only: ``stop_when="all_heldout"`` with no other signal is the same
    rule as ``"deciding"`` (feed other signals through :func:`gapwatch.replay.replay_values`).
    """
    p = validate_params(mode, dict(params))
    return _first_stop_from_stats(_prefix_stats(values, mode, max(p["window"], p["progress_window"])), p)


def replay(values: np.ndarray, steps: np.ndarray | None = None, epochs: np.ndarray | None = None,
           mode: str = "min", **params: Any) -> tuple[Decision | None, int]:
    """Feed a recorded series to a fresh :class:`StopPolicy`.

    Returns ``(first stop decision or None, evaluations seen)``; stops feeding at the first stop.
    """
    pol = StopPolicy(mode, params)
    n = len(values)
    for i in range(n):
        st = None if steps is None or not np.isfinite(steps[i]) else float(steps[i])
        ep = None if epochs is None or not np.isfinite(epochs[i]) else float(epochs[i])
        d = pol.update(float(values[i]), step=st, epoch=ep)
        if d.stop:
            return d, i + 1
    return None, n
