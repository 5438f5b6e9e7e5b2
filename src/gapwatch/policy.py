"""The online stop policy: seeing only the evaluations so far, continue or stop, and what to restore.

The same object drives ``gapwatch replay`` (a recorded log fed one evaluation at a time) and the live
:class:`~gapwatch.guard.Guard` inside training loops, so a replayed log reproduces the live decisions.

Rule (noise-aware generalisation-loss test). Values are put in "lower is better" form. After
``warmup`` evaluations, the policy stops when the best evaluation is at least ``min_wait`` evaluations old
**and** the mean of the last ``window`` evaluations is worse than the best trailing-``window`` level by more
than ``z_stop`` noise standard errors and by more than ``min_rel`` of the best value, or when the best is
``max_wait`` evaluations old (a patience cap). Noise σ is the robust MAD of second differences. This is
Prechelt's generalisation-loss criterion GL_α ("Early Stopping — But When?", 1998) with α replaced by a
significance test against the curve's own noise, so scale and offset of the metric do not matter.

It only ever looks at the monitored (validation) series; test data must never be passed to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .stats import noise_sigma

STATE_VERSION = 1

#: Default parameters with their units and reasons.
DEFAULTS: dict[str, Any] = {
    "warmup": 5,          # evaluations: never stop before this many (noise estimate needs a few points)
    "min_wait": 3,        # evaluations since the best before a stop is considered
    "max_wait": 20,       # evaluations since the best after which we stop regardless (patience cap)
    "window": 3,          # evaluations averaged for levels
    "z_stop": 3.0,        # degradation in noise standard errors needed to stop
    "min_rel": 0.005,     # degradation relative to |best| needed to stop (0.5%)
    "keep_through_memorization": False,  # never stop while held-out is near chance and train is fitted
}


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
    """

    action: str
    best_index: int
    best_step: float | None
    best_epoch: float | None
    best_value: float
    reason: str = ""
    improved: bool = False

    @property
    def stop(self) -> bool:
        return self.action == "stop"


@dataclass
class StopPolicy:
    """Online early-stopping policy (see module docstring). ``mode``: ``"min"`` or ``"max"``."""

    mode: str = "min"
    params: dict[str, Any] = field(default_factory=dict)
    _values: list[float] = field(default_factory=list, repr=False)
    _steps: list[float | None] = field(default_factory=list, repr=False)
    _epochs: list[float | None] = field(default_factory=list, repr=False)
    _stopped_at: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"StopPolicy: mode must be 'min' or 'max', got {self.mode!r}")
        unknown = set(self.params) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"StopPolicy: unknown parameter(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        p = {**DEFAULTS, **self.params}
        for k in ("warmup", "min_wait", "max_wait", "window"):
            v = p[k]
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"StopPolicy: {k} must be a positive integer (evaluations), got {v!r}")
        for k in ("z_stop", "min_rel"):
            if not isinstance(p[k], (int, float)) or not math.isfinite(p[k]) or p[k] < 0:
                raise ValueError(f"StopPolicy: {k} must be a finite number >= 0, got {p[k]!r}")
        if p["min_wait"] > p["max_wait"]:
            raise ValueError(f"StopPolicy: min_wait ({p['min_wait']}) must be <= max_wait ({p['max_wait']})")
        self.params = p

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

    def update(self, value: float, *, step: float | None = None, epoch: float | None = None) -> Decision:
        """Feed one evaluation of the monitored metric; returns the decision after it.

        Non-finite values count as the worst possible evaluation (they never become the best).
        Once the policy has said stop, it keeps saying stop with the same restore point.
        """
        v = float(value)
        self._values.append(v)
        self._steps.append(None if step is None else float(step))
        self._epochs.append(None if epoch is None else float(epoch))
        return self._decide()

    def _decide(self) -> Decision:
        p = self.params
        z = np.array([self.sign * v if math.isfinite(v) else math.inf for v in self._values])
        n = z.size
        finite = np.isfinite(z)
        if not finite.any():
            return Decision("continue", n - 1, self._steps[-1], self._epochs[-1], self._values[-1])
        b = int(np.argmin(np.where(finite, z, np.inf)))
        improved = b == n - 1
        base = dict(best_index=b, best_step=self._steps[b], best_epoch=self._epochs[b],
                    best_value=self._values[b], improved=improved)
        if self._stopped_at is not None:
            return Decision("stop", reason="stopped earlier", **base)
        since = n - 1 - b
        if n < p["warmup"] or since < p["min_wait"]:
            return Decision("continue", **base)
        if since >= p["max_wait"]:
            self._stopped_at = n - 1
            return Decision("stop", reason=f"no improvement for {since} evaluations (max_wait)", **base)
        zf = z[finite]
        w = int(min(p["window"], since))
        tail = z[-w:]
        if not np.all(np.isfinite(tail)):
            level = math.inf
        else:
            level = float(np.mean(tail))
        csum = np.convolve(zf, np.ones(w) / w, mode="valid") if zf.size >= w else zf
        best_level = float(np.min(csum)) if csum.size else float(z[b])
        sigma = noise_sigma(zf)
        se = sigma * math.sqrt(2.0 / w)
        deg = level - best_level
        scale = max(abs(float(z[b])), 1e-12)
        if deg > 0 and (se == 0 or deg / se >= p["z_stop"]) and deg / scale >= p["min_rel"]:
            self._stopped_at = n - 1
            zs = "inf" if se == 0 else f"{deg / se:.1f}"
            return Decision(
                "stop",
                reason=f"held-out metric worse than its best by {100 * deg / scale:.2f}% "
                f"({zs} noise s.e.) for {since} evaluations",
                **base,
            )
        return Decision("continue", **base)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Versioned, JSON-able state; :meth:`load_state_dict` restores identical future decisions."""
        return {
            "version": STATE_VERSION,
            "mode": self.mode,
            "params": dict(self.params),
            "values": [v if math.isfinite(v) else repr(v) for v in self._values],
            "steps": list(self._steps),
            "epochs": list(self._epochs),
            "stopped_at": self._stopped_at,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` output; unknown versions or keys raise ``ValueError``."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ValueError(f"StopPolicy state: expected version {STATE_VERSION}, got "
                             f"{state.get('version') if isinstance(state, dict) else type(state).__name__}")
        expected = {"version", "mode", "params", "values", "steps", "epochs", "stopped_at"}
        if set(state) != expected:
            raise ValueError(f"StopPolicy state: keys {sorted(state)} != expected {sorted(expected)}")
        fresh = StopPolicy(state["mode"], dict(state["params"]))
        self.mode, self.params = fresh.mode, fresh.params
        self._values = [float(v) for v in state["values"]]
        self._steps = list(state["steps"])
        self._epochs = list(state["epochs"])
        self._stopped_at = state["stopped_at"]


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
