"""Parametric learning-curve ensemble that can turn up (overfitting) and recover (double descent).

Method. Domhan et al. 2015 ("Speeding up automatic hyperparameter optimization of deep neural networks by
extrapolation of learning curves") combine monotone parametric families (pow3, log-power, exponential,
Janoschek, MMF, Weibull, ilog2, …) in a Bayesian ensemble fitted by MCMC. Here every model is

    y(t) = c + a · g(t) + b · h(t)        (lower is better, t ∈ [0, 1] normalised time)

with ``g`` a monotone-decreasing family member with *fixed* shape parameters taken from a grid, and ``h`` an
optional "turn" term: ``((t - t0)₊)^p`` (overfitting: the curve rises after onset ``t0``) or
``(t - t0)₊ · exp(-(t - t0)₊ / τ)`` (a rise that recovers: epoch-wise double descent). With the shapes fixed,
the model is linear in ``(c, a, b)``, so each grid point is an exact Bayesian linear regression (Gaussian
prior on the coefficients, Gaussian noise of robustly estimated scale): posterior, predictive and marginal
likelihood in closed form. The ensemble is the posterior-weighted mixture over all grid points (Bayesian model
averaging), which replaces the MCMC of Domhan et al. by a grid and keeps a curve well under 50 ms on a CPU.
Onsets ``t0`` beyond the observed data keep their prior weight and spread, so the forecast admits that the
curve may still turn. One Huber reweighting pass makes the fit robust to evaluation spikes.

All values are in the normalised units of :func:`gapwatch.forecast.prior.normalise` (observed range = [0, 1]).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import numpy as np

from ..special import ndtr
from ..stats import median as _median

#: prior standard deviations of (c, a, b) in normalised units; prior means (0, 1, 0)
PRIOR_MEAN = np.array([0.0, 1.0, 0.0])
PRIOR_SD = np.array([2.0, 2.0, 0.7])
#: prior probability that the curve has no turn term at all (monotone)
P_MONOTONE = 0.5
#: floor on the noise scale, normalised units (fraction of the observed range)
NOISE_FLOOR = 0.003
#: model-discrepancy growth: extra predictive sd per unit of normalised time beyond the last observation, in
#: normalised value units (the families never fit real curves exactly; without it the mixture is overconfident)
DISCREPANCY = 1.0
#: scale the discrepancy by the range of the last half of the observations (True) or by the whole range (False)
DISCREPANCY_RECENT = True
#: multiplier on the estimated noise sd in the predictive (the MAD estimate misses correlated noise)
NOISE_INFLATE = 1.0
#: raise the noise estimate to the residual sd of the first fit when that is larger (model misfit)
RESIDUAL_NOISE = True
#: Huber constant (in noise standard deviations) of the robust reweighting pass
HUBER_K = 2.5
#: models kept after sorting by posterior weight (covering at least this much mass)
KEEP_MASS = 0.999


@dataclass(frozen=True)
class _Grid:
    g_kind: tuple[str, ...]
    g_par: np.ndarray  # (G, 2)
    h_kind: tuple[str, ...]
    h_par: np.ndarray  # (H, 2)


@lru_cache(maxsize=1)
def _grid() -> _Grid:
    g_kind: list[str] = []
    g_par: list[tuple[float, float]] = []
    for o in np.logspace(-2.7, 0.0, 9):
        for al in np.logspace(np.log10(0.15), np.log10(5.0), 10):
            g_kind.append("pow")
            g_par.append((float(o), float(al)))
    for k in np.logspace(-0.3, 2.0, 12):
        g_kind.append("exp")
        g_par.append((float(k), 0.0))
    for c in np.logspace(-2.3, 0.0, 7):
        for al in (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0):
            g_kind.append("mmf")
            g_par.append((float(c), al))
    for c in np.logspace(-1.5, 0.0, 5):
        for d in (0.5, 0.75, 1.5, 2.0, 3.0):
            g_kind.append("janoschek")
            g_par.append((float(c), d))
    for o in (0.01, 0.1):
        g_kind.append("ilog2")
        g_par.append((o, 0.0))
    g_kind.append("linear")
    g_par.append((0.0, 0.0))
    h_kind: list[str] = []
    h_par: list[tuple[float, float]] = []
    for t0 in np.linspace(0.0, 0.96, 17):
        for p in (1.0, 2.0):
            h_kind.append("rise")
            h_par.append((float(t0), p))
        for tau in (0.05, 0.2):
            h_kind.append("recover")
            h_par.append((float(t0), tau))
    return _Grid(tuple(g_kind), np.array(g_par), tuple(h_kind), np.array(h_par))


def _g_one(kind: str, p1: float, p2: float, t: np.ndarray) -> np.ndarray:
    if kind == "pow":
        return np.asarray((1.0 + t / p1) ** (-p2))
    if kind == "exp":
        return np.exp(-p1 * t)
    if kind == "mmf":
        return np.asarray(1.0 / (1.0 + (t / p1) ** p2))
    if kind == "janoschek":
        return np.exp(-((t / p1) ** p2))
    if kind == "ilog2":
        return np.asarray(1.0 / np.log(t / p1 + np.e))
    return np.asarray(1.0 - t)


def _g(t: np.ndarray, grid: _Grid) -> np.ndarray:
    """Monotone bases ``(G, n)``, each 1 at t = 0 and decreasing."""
    return np.stack([_g_one(k, float(p[0]), float(p[1]), t) for k, p in zip(grid.g_kind, grid.g_par)])


#: families whose two shape parameters the local refinement may move (the others have one or none)
_TWO_PARAM = {"pow", "mmf", "janoschek"}


def _refine(kind: str, p1: float, p2: float, t_obs: np.ndarray, y: np.ndarray, w_rows: np.ndarray,
            sigma: float) -> tuple[float, float]:
    """Move the best grid shape's parameters continuously (Nelder–Mead on the log evidence, in log space)."""
    if kind in ("ilog2", "linear"):
        return p1, p2
    s0 = (PRIOR_SD**2).copy()[None]
    s0[:, 2] = 1.0

    def neg(v: np.ndarray) -> float:
        q1 = float(np.exp(np.clip(v[0], -12, 6)))
        q2 = float(np.exp(np.clip(v[1], -5, 3))) if kind in _TWO_PARAM else p2
        X = np.zeros((1, t_obs.size, 3))
        X[0, :, 0] = 1.0
        X[0, :, 1] = _g_one(kind, q1, q2, t_obs)
        mean, _, ev, _ = _blr(X, y, w_rows, sigma, s0)
        return float(-ev[0]) if mean[0, 1] >= 0 else 1e12

    x0 = np.array([np.log(p1), np.log(p2) if kind in _TWO_PARAM else 0.0])
    x = nelder_mead(neg, x0[: 2 if kind in _TWO_PARAM else 1], xatol=REFINE_XATOL, fatol=REFINE_FATOL,
                    maxfev=REFINE_MAXFEV)
    q1 = float(np.exp(np.clip(x[0], -12, 6)))
    q2 = float(np.exp(np.clip(x[1], -5, 3))) if kind in _TWO_PARAM else p2
    return q1, q2


#: Nelder–Mead stops when every vertex is within this of the best, in log-parameter units (1e-3: 0.1 %) …
REFINE_XATOL = 1e-3
#: … and every vertex's negative log evidence within this of the best (nats)
REFINE_FATOL = 1e-3
#: at most this many evaluations of the evidence (each one Bayesian linear regression, ~30 µs)
REFINE_MAXFEV = 120


class _Budget(Exception):
    """The evaluation budget of :func:`nelder_mead` is spent."""


def nelder_mead(f: Callable[[np.ndarray], float], x0: np.ndarray, *, xatol: float, fatol: float,
                maxfev: int) -> np.ndarray:
    """Minimise ``f`` from ``x0`` (shape ``(N,)``) by the Nelder–Mead simplex method (Nelder & Mead 1965, "A
    simplex method for function minimization", Computer Journal 7:308), returning the best vertex ``(N,)``.

    A line-by-line port of ``scipy.optimize.minimize(method="Nelder-Mead")`` (scipy 1.17,
    ``_minimize_neldermead`` without bounds, adaptive or callbacks): the same initial simplex (each coordinate
    scaled by 1.05, or set to 0.00025 where zero), coefficients (reflection 1, expansion 2, contraction 0.5,
    shrink 0.5), stopping rule (every vertex within ``xatol`` of the best and every value within ``fatol``,
    or ``maxfev`` evaluations) and order of floating-point operations, so it returns the same bits without
    importing scipy.optimize (~0.3 s of CPU on a cold start, paid by every ``gapwatch analyze``).
    """
    rho, chi, psi, sigma = 1, 2, 0.5, 0.5
    nonzdelt, zdelt = 0.05, 0.00025
    x0 = np.asarray(x0, dtype=float).flatten()
    n = len(x0)
    sim = np.empty((n + 1, n), dtype=x0.dtype)
    sim[0] = x0
    for k in range(n):
        y = np.array(x0, copy=True)
        y[k] = (1 + nonzdelt) * y[k] if y[k] != 0 else zdelt
        sim[k + 1] = y
    fsim = np.full((n + 1,), np.inf, dtype=float)
    calls = [0]

    def func(x: np.ndarray) -> float:
        if calls[0] >= maxfev:
            raise _Budget
        calls[0] += 1
        return float(f(np.copy(x)))

    try:
        for k in range(n + 1):
            fsim[k] = func(sim[k])
    except _Budget:
        pass
    finally:
        ind = np.argsort(fsim)
        sim = np.take(sim, ind, 0)
        fsim = np.take(fsim, ind, 0)
    ind = np.argsort(fsim)
    fsim = np.take(fsim, ind, 0)
    sim = np.take(sim, ind, 0)
    while calls[0] < maxfev:
        try:
            if (np.max(np.ravel(np.abs(sim[1:] - sim[0]))) <= xatol
                    and np.max(np.abs(fsim[0] - fsim[1:])) <= fatol):
                break
            _nm_step(func, sim, fsim, n, rho, chi, psi, sigma)
        except _Budget:
            pass
        ind = np.argsort(fsim)
        sim = np.take(sim, ind, 0)
        fsim = np.take(fsim, ind, 0)
    return cast(np.ndarray, sim[0])


def _nm_step(func: Callable[[np.ndarray], float], sim: np.ndarray, fsim: np.ndarray, n: int, rho: float,
             chi: float, psi: float, sigma: float) -> None:
    """One Nelder–Mead iteration on the sorted simplex ``sim`` ``(n + 1, n)`` and values ``fsim``, in place:
    reflect the worst vertex; expand, accept, contract (outside or inside) or shrink towards the best."""
    xbar = np.add.reduce(sim[:-1], 0) / n
    xr = (1 + rho) * xbar - rho * sim[-1]
    fxr = func(xr)
    if fxr < fsim[0]:
        xe = (1 + rho * chi) * xbar - rho * chi * sim[-1]
        fxe = func(xe)
        if fxe < fxr:
            sim[-1], fsim[-1] = xe, fxe
        else:
            sim[-1], fsim[-1] = xr, fxr
        return
    if fxr < fsim[-2]:
        sim[-1], fsim[-1] = xr, fxr
        return
    if fxr < fsim[-1]:  # outside contraction
        xc = (1 + psi * rho) * xbar - psi * rho * sim[-1]
        fxc = func(xc)
        if fxc <= fxr:
            sim[-1], fsim[-1] = xc, fxc
            return
    else:  # inside contraction
        xcc = (1 - psi) * xbar + psi * sim[-1]
        fxcc = func(xcc)
        if fxcc < fsim[-1]:
            sim[-1], fsim[-1] = xcc, fxcc
            return
    for j in range(1, n + 1):  # shrink
        sim[j] = sim[0] + sigma * (sim[j] - sim[0])
        fsim[j] = func(sim[j])


def _h(t: np.ndarray, grid: _Grid) -> np.ndarray:
    """Turn terms ``(H, n)``: a rise reaching 1 at t = 1, or a bump of height 1 that decays back to 0."""
    out = np.empty((len(grid.h_kind), t.size))
    for i, (kind, (t0, p)) in enumerate(zip(grid.h_kind, grid.h_par)):
        u = np.maximum(t - t0, 0.0)
        if kind == "rise":
            out[i] = (u / max(1.0 - t0, 0.04)) ** p
        else:
            out[i] = u / p * np.exp(1.0 - u / p)
    return out


def noise_scale(y: np.ndarray) -> float:
    """Robust evaluation-noise estimate: MAD of second differences / sqrt(6) (iid noise), normalised units."""
    if y.size < 4:
        return 0.05
    d2 = np.diff(y, 2)
    mad = float(_median(np.abs(d2 - _median(d2)))) * 1.4826
    return cast(float, max(mad / np.sqrt(6.0), NOISE_FLOOR))


@dataclass
class EnsembleFit:
    """The posterior mixture: weights ``(K,)``, coefficient means ``(K, 3)``, covariances ``(K, 3, 3)``,
    design rows for the queries ``(K, q, 3)`` and the noise scale ``sigma`` (normalised units)."""

    weights: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    xq: np.ndarray
    sigma: float
    dt: np.ndarray | None = None  # (q,) normalised time beyond the last observation
    discrepancy: float = 0.0
    noise_inflate: float = 1.0

    def _extra_var(self) -> np.ndarray:
        dt = np.zeros(self.xq.shape[1]) if self.dt is None else self.dt
        return (self.noise_inflate**2 - 1.0) * self.sigma**2 + (self.discrepancy * dt) ** 2

    def predictive(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-model predictive means and standard deviations at the queries, each ``(K, q)``."""
        mu = np.einsum("kqj,kj->kq", self.xq, self.mean)
        var = np.einsum("kqi,kij,kqj->kq", self.xq, self.cov, self.xq) + self.sigma**2 + self._extra_var()[None]
        return mu, np.sqrt(np.maximum(var, 1e-18))

    def logpdf(self, y: np.ndarray) -> np.ndarray:
        """Mixture log-density of values ``y`` ``(q,)`` at each query, ``(q,)``."""
        mu, sd = self.predictive()
        lp = -0.5 * ((y[None] - mu) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
        lw = np.log(self.weights)[:, None]
        m = (lp + lw).max(axis=0)
        return cast(np.ndarray, m + np.log(np.exp(lp + lw - m).sum(axis=0)))

    def quantiles(self, qs: tuple[float, ...]) -> np.ndarray:
        """Mixture quantiles ``(len(qs), q)`` by bisection on the mixture CDF."""
        mu, sd = self.predictive()
        lo = (mu - 8 * sd).min(axis=0)
        hi = (mu + 8 * sd).max(axis=0)
        out = np.empty((len(qs), mu.shape[1]))
        for i, q in enumerate(qs):
            a, b = lo.copy(), hi.copy()
            for _ in range(40):
                mid = 0.5 * (a + b)
                cdf = (self.weights[:, None] * ndtr((mid[None] - mu) / sd)).sum(axis=0)
                below = cdf < q
                a = np.where(below, mid, a)
                b = np.where(below, b, mid)
            out[i] = 0.5 * (a + b)
        return out

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Joint sample paths ``(n, q)``: a model, its coefficients, then iid evaluation noise."""
        k = rng.choice(self.weights.size, size=n, p=self.weights)
        chol = np.linalg.cholesky(self.cov + 1e-12 * np.eye(3))
        beta = self.mean[k] + np.einsum("nij,nj->ni", chol[k], rng.standard_normal((n, 3)))
        paths = np.einsum("nqj,nj->nq", self.xq[k], beta)
        dt = np.zeros(paths.shape[1]) if self.dt is None else self.dt
        drift = self.discrepancy * rng.standard_normal((n, 1)) * dt[None]  # one smooth deviation per path
        return cast(np.ndarray, paths + drift + self.noise_inflate * self.sigma * rng.standard_normal(paths.shape))


#: refine the best monotone shape's parameters continuously (the grid alone misses exact shapes by a few %)
REFINE = True
#: monotone shapes (best by evidence) that get the turn terms added in the second stage
TOP_SHAPES = 8


def _blr(X: np.ndarray, y: np.ndarray, w_rows: np.ndarray, sigma: float, s0: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bayesian linear regressions for K designs ``X`` ``(K, m, 3)`` sharing ``y`` ``(m,)``.

    Prior ``N(PRIOR_MEAN, diag(s0))`` (``s0`` ``(K, 3)``), noise sd ``sigma / sqrt(w_rows)``. Returns posterior
    means ``(K, 3)``, covariances ``(K, 3, 3)``, log marginal likelihoods ``(K,)`` (up to a shared constant)
    and residuals ``(K, m)`` at the posterior mean.
    """
    s0inv = 1.0 / s0
    wx = X * w_rows[None, :, None]
    prec = np.einsum("kni,knj->kij", wx, X) / sigma**2
    prec[:, [0, 1, 2], [0, 1, 2]] += s0inv
    cov = np.linalg.inv(prec)
    rhs = np.einsum("kni,n->ki", wx, y) / sigma**2 + s0inv * PRIOR_MEAN
    mean = np.einsum("kij,kj->ki", cov, rhs)
    resid = y[None] - np.einsum("kni,ki->kn", X, mean)
    quad = (w_rows * resid**2).sum(axis=1) / sigma**2 + (s0inv * (mean - PRIOR_MEAN) ** 2).sum(axis=1)
    _, logdet_cov = np.linalg.slogdet(cov)
    logev = -0.5 * quad + 0.5 * logdet_cov - 0.5 * np.log(s0).sum(axis=1)
    return mean, cov, logev, resid


def _weights(logw: np.ndarray, mean: np.ndarray) -> np.ndarray:
    # the monotone part must improve (a >= 0) and a turn must go up, not down (b >= 0)
    logw = np.where((mean[:, 1] < 0.0) | (mean[:, 2] < -1e-9), -np.inf, logw)
    if not np.isfinite(logw).any():
        logw = np.zeros_like(logw)
    w = np.exp(logw - logw.max())
    return np.asarray(w / w.sum())


def fit(t_obs: np.ndarray, y_obs: np.ndarray, t_query: np.ndarray, *, monotone_only: bool = False) -> EnsembleFit:
    """Fit the ensemble to normalised observations (``(m,)`` each, m ≥ 2) and prepare queries ``(q,)``.

    Stage 1 scores every monotone shape; stage 2 adds every turn term to the ``TOP_SHAPES`` best shapes (the
    turn models of the other shapes are dropped as negligible). Prior: ``P_MONOTONE`` spread evenly over the
    monotone shapes, the rest evenly over all shape × turn combinations.
    """
    grid = _grid()
    t_all = np.concatenate([t_obs, t_query])
    m = t_obs.size
    g = _g(t_all, grid)  # (G, n)
    h = _h(t_all, grid)  # (H, n)
    ng, nh = g.shape[0], h.shape[0]
    sigma = noise_scale(y_obs)
    w_rows = np.ones(m)
    for it in range(3 if REFINE else 2):  # refine the best shape; fit; refit with Huber-reweighted rows
        Xm = np.empty((g.shape[0], t_all.size, 3))
        Xm[:, :, 0] = 1.0
        Xm[:, :, 1] = g
        Xm[:, :, 2] = 0.0
        s0m = np.broadcast_to(PRIOR_SD**2, (g.shape[0], 3)).copy()
        s0m[:, 2] = 1.0  # the zero column leaves b at its prior: no effect on fit or evidence
        mean_m, cov_m, ev_m, res_m = _blr(Xm[:, :m], y_obs, w_rows, sigma, s0m)
        if it == 0 and REFINE:
            i = int(np.argmax(np.where(mean_m[:, 1] < 0, -np.inf, ev_m)))
            kind = grid.g_kind[i]
            q1, q2 = _refine(kind, float(grid.g_par[i, 0]), float(grid.g_par[i, 1]), t_obs, y_obs, w_rows, sigma)
            g = np.concatenate([g, _g_one(kind, q1, q2, t_all)[None]])
            ng = g.shape[0]
            continue
        lp_m = ev_m + (np.log(P_MONOTONE / ng) if not monotone_only else 0.0)
        if monotone_only:
            X, mean, cov, logw, resid = Xm, mean_m, cov_m, lp_m, res_m
        else:
            top = np.argsort(-np.where(mean_m[:, 1] < 0, -np.inf, ev_m))[:TOP_SHAPES]
            Xt = np.empty((top.size * nh, t_all.size, 3))
            Xt[:, :, 0] = 1.0
            Xt[:, :, 1] = np.repeat(g[top], nh, axis=0)
            Xt[:, :, 2] = np.tile(h, (top.size, 1))
            s0t = np.broadcast_to(PRIOR_SD**2, (Xt.shape[0], 3)).copy()
            mean_t, cov_t, ev_t, res_t = _blr(Xt[:, :m], y_obs, w_rows, sigma, s0t)
            lp_t = ev_t + np.log((1.0 - P_MONOTONE) / (ng * nh))
            X = np.concatenate([Xm, Xt])
            mean = np.concatenate([mean_m, mean_t])
            cov = np.concatenate([cov_m, cov_t])
            logw = np.concatenate([lp_m, lp_t])
            resid = np.concatenate([res_m, res_t])
        wts = _weights(logw, mean)
        mix_resid = (wts[:, None] * resid).sum(axis=0)
        z = np.abs(mix_resid) / sigma
        w_rows = np.where(z > HUBER_K, HUBER_K / np.maximum(z, 1e-12), 1.0)
        if RESIDUAL_NOISE and m > 4:
            # misfit counts as noise: never assume less noise than the fit's own (Huber-weighted) residuals
            res_sd = float(np.sqrt((w_rows * mix_resid**2).sum() / max(m - 3, 1)))
            sigma = max(sigma, res_sd)
    order = np.argsort(-wts)
    csum = np.cumsum(wts[order])
    keep = order[: int(np.searchsorted(csum, KEEP_MASS)) + 1]
    wk = wts[keep] / wts[keep].sum()
    # discrepancy in units of the recent movement of the curve (the last half of the observations), not of the
    # whole observed range, which the first fast drop dominates
    recent = float(np.ptp(y_obs[m // 2:])) if m >= 4 else 1.0
    ref = max(recent, 2.0 * sigma) if DISCREPANCY_RECENT else 1.0
    return EnsembleFit(wk, mean[keep], cov[keep], X[keep, m:], sigma, np.maximum(t_query - t_obs[-1], 0.0),
                       DISCREPANCY * ref, NOISE_INFLATE)


def pow3_least_squares(t_obs: np.ndarray, y_obs: np.ndarray, t_query: np.ndarray) -> np.ndarray:
    """Baseline: the single best pow3-type curve ``c + a·(1 + t/o)^-α`` by least squares (no uncertainty)."""
    from scipy.optimize import least_squares

    def f(p: np.ndarray, t: np.ndarray) -> np.ndarray:
        return cast(np.ndarray, p[0] + p[1] * (1.0 + t / np.exp(p[2])) ** (-np.exp(p[3])))

    best: Any = None
    for o0 in (0.01, 0.1):
        for a0 in (0.5, 1.0):
            x0 = np.array([float(y_obs.min()), float(y_obs[0] - y_obs.min()) + 1e-3, np.log(o0), np.log(a0)])
            r = least_squares(lambda p: f(p, t_obs) - y_obs, x0, method="trf", max_nfev=200)
            if best is None or r.cost < best.cost:
                best = r
    return np.asarray(f(best.x, t_query))
