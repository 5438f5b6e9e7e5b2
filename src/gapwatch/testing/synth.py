"""Generated training runs with known ground truth, for tests and benchmarks of detectors and stop policies.

Every generator is deterministic given its ``seed`` and returns a :class:`SynthRun`: a one-run
:class:`~gapwatch.history.History` plus a :class:`Label` that says what happened and when.

Conventions shared by all families
----------------------------------
* ``n``: number of evaluations (one per epoch unless the family is step-logged). Epochs are ``1..n``,
  steps are ``epoch * steps_per_epoch`` (``steps_per_epoch = 100``).
* ``noise``: evaluation noise. Losses get *multiplicative* Gaussian noise with standard deviation ``noise``
  (relative, so ``0.01`` = 1% of the value); accuracies get *additive* Gaussian noise with standard deviation
  ``noise`` in accuracy units (clipped to [0, 1]). Training series get a third of that noise.
* Logged names: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``test_loss``, ``test_acc``
  (test is an independent noisy copy of the same noiseless validation curve, shifted slightly), plus
  family-specific names documented below.
* ``x="step"`` drops the ``epoch`` column (a step-only log); ``x="epoch"`` keeps both.

Ground truth (:class:`Label`)
-----------------------------
``kind`` is the :class:`~gapwatch.findings.FindingKind` value a correct detector suite reports (``None`` for a
run with nothing to report). ``onset_epoch`` / ``onset_step`` locate it:

* ``clean`` → ``None``: noiseless validation loss never increases.
* ``noisy`` → ``None``: a clean run with heteroscedastic, heavy-tailed evaluation noise.
* ``overfitting`` → ``overfitting``: onset = argmin of the noiseless validation loss (the best epoch).
* ``double_descent`` → ``double_descent``: onset = first evaluation where the noiseless validation loss is back
  below its first minimum (``events``: ``first_best``, ``peak``).
* ``grokking`` → ``grokking``: onset = evaluation where noiseless validation accuracy is halfway up its jump
  (``events["memorized"]``: training accuracy ≥ 0.98).
* ``memorization`` → ``memorization``: onset = evaluation where noiseless training accuracy reaches 0.98;
  validation accuracy stays at chance until the end.
* ``spikes`` → ``instability``: onset = first loss spike (``events["spikes"]``: all of them).
* ``nan`` → ``instability``: onset = first non-finite evaluation.
* ``divergence`` → ``instability``: onset = first evaluation of the exponential blow-up.
* ``underfitting`` → ``underfitting``: no onset (``events["mode"]``: ``still_falling`` or ``stuck``).
* ``catastrophic_overfitting`` → ``catastrophic_overfitting``: onset = first evaluation where PGD accuracy has
  lost more than half its level (60% of the collapse; complete one evaluation later).
* ``robust_clean`` → ``None``: single-step adversarial training that does not collapse.
* ``stability_gap`` → ``stability_gap``: onset = first evaluation after the first task boundary
  (``events["boundaries"]``: all boundaries, in steps).

``tolerated`` lists kinds that are *not* counted as false positives for that family (e.g. an ``info``
``overfitting`` during a memorisation phase is not a mistake); everything else a detector reports at
``warning`` or ``critical`` severity is a false positive in ``bench/bench_detectors.py``.

Family-specific logs: ``catastrophic_overfitting``/``robust_clean`` add ``val_fgsm_acc`` and ``val_pgd_acc``
(robust accuracy under single- and multi-step attacks, names chosen by ``attack_names``); ``stability_gap`` logs
per-task accuracies named ``task{k}_acc`` (or ``val_task{k}/acc`` with ``naming="val_slash"``) at every
evaluation, ``val_acc`` (mean over all tasks) and is step-logged.

The shapes follow the phenomena described in: Prechelt, "Early Stopping — But When?" (U-shaped validation
curves); Nakkiran et al., "Deep Double Descent" (epoch-wise double descent); "Grokking at the Edge of Numerical
Stability" and "Benign Overfitting and Grokking in ReLU Networks for XOR Cluster Data" (delayed generalisation);
"Eliminating Catastrophic Overfitting Via Abnormal Adversarial Examples Regularization" (PGD accuracy
collapse within an epoch or two under FGSM training); "Continual evaluation for lifelong learning:
Identifying the stability gap" (transient drop of earlier-task accuracy at each task boundary).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit

from ..errors import UsageError
from ..history import COLUMNS, History
from ..names import normalize

STEPS_PER_EPOCH = 100


@dataclass(frozen=True)
class Label:
    """Ground truth of a generated run.

    Attributes:
        family: generator name.
        kind: the finding kind a correct detector suite reports, or ``None`` (nothing to report).
        onset_epoch, onset_step: where it starts (see the module table); ``None`` when not tied to a point.
        seed, n, noise: the generator arguments.
        tolerated: kinds that are not false positives for this run.
        events: other named moments (epochs or steps) and parameters drawn by the generator.
    """

    family: str
    kind: str | None
    onset_epoch: float | None
    onset_step: float | None
    seed: int
    n: int
    noise: float
    tolerated: tuple[str, ...] = ()
    events: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "kind": self.kind, "onset_epoch": self.onset_epoch,
                "onset_step": self.onset_step, "seed": self.seed, "n": self.n, "noise": self.noise,
                "tolerated": list(self.tolerated), "events": dict(self.events)}


@dataclass(frozen=True)
class SynthRun:
    """A generated run: ``history`` (one run) and its ground-truth ``label``."""

    history: History
    label: Label


# ------------------------------------------------------------------------------------------------ helpers
def _rng(family: str, seed: int) -> np.random.Generator:
    if int(seed) != seed or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
    tag = sum((i + 1) * ord(c) for i, c in enumerate(family))
    return np.random.default_rng([int(seed), tag])


def _check(n: int, noise: float, min_n: int, family: str) -> None:
    if int(n) != n or n < min_n:
        raise UsageError(f"{family}: n must be an integer >= {min_n} (evaluations), got {n!r}")
    if not np.isfinite(noise) or noise < 0 or noise > 0.5:
        raise UsageError(f"{family}: noise must be in [0, 0.5] (relative sd), got {noise!r}")


def _mult(rng: np.random.Generator, v: np.ndarray, sd: float | np.ndarray, heavy: bool = False) -> np.ndarray:
    e = rng.standard_t(5, size=v.shape) / np.sqrt(5 / 3) if heavy else rng.standard_normal(v.shape)
    return v * np.maximum(1.0 + sd * e, 0.05)


def _add_acc(rng: np.random.Generator, v: np.ndarray, sd: float | np.ndarray) -> np.ndarray:
    return np.clip(v + sd * rng.standard_normal(v.shape), 0.0, 1.0)


def _acc_from_loss(loss: np.ndarray, chance: float, scale: float) -> np.ndarray:
    """Accuracy that falls as the loss rises: ``chance + (1 - chance) * exp(-loss / scale)``."""
    return chance + (1.0 - chance) * np.exp(-np.asarray(loss) / scale)


def _build(run: str, epochs: np.ndarray | None, steps: np.ndarray, cols: dict[str, np.ndarray]) -> History:
    parts: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for name, vals in cols.items():
        split, metric = normalize(name)
        n = len(vals)
        for c, v in (("run", run), ("split", split), ("metric", metric), ("name", name)):
            parts[c] += [v] * n
        parts["step"].append(steps[:n].astype(float))
        parts["epoch"].append(epochs[:n].astype(float) if epochs is not None else np.full(n, np.nan))
        parts["value"].append(np.asarray(vals, dtype=float))
    table = {c: np.concatenate(v) if c in ("step", "epoch", "value") else v for c, v in parts.items()}
    return History(table, sources={run: f"synth:{run}"})


def _standard(family: str, seed: int, rng: np.random.Generator, val: np.ndarray, train: np.ndarray,
              noise: float, *, chance: float = 0.1, acc_scale: float = 1.0, x: str = "epoch",
              heavy: bool = False, val_sd: float | np.ndarray | None = None,
              extra: dict[str, np.ndarray] | None = None) -> History:
    """Noisy train/val/test loss and accuracy from noiseless ``val`` and ``train`` loss curves."""
    n = len(val)
    sd = noise if val_sd is None else val_sd
    epochs = np.arange(1, n + 1, dtype=float)
    steps = epochs * STEPS_PER_EPOCH
    test = val * 1.03
    cols = {
        "train_loss": _mult(rng, train, noise / 3),
        "train_acc": _add_acc(rng, _acc_from_loss(train, chance, acc_scale), np.asarray(sd) / 3),
        "val_loss": _mult(rng, val, sd, heavy),
        "val_acc": _add_acc(rng, _acc_from_loss(val, chance, acc_scale), sd),
        "test_loss": _mult(rng, test, sd, heavy),
        "test_acc": _add_acc(rng, _acc_from_loss(test, chance, acc_scale), sd),
    }
    cols.update(extra or {})
    if x not in ("epoch", "step"):
        raise UsageError(f"x must be 'epoch' or 'step', got {x!r}")
    return _build(f"{family}-{seed}", epochs if x == "epoch" else None, steps, cols)


def _label(family: str, kind: str | None, onset: int | None, seed: int, n: int, noise: float,
           x: str = "epoch", tolerated: tuple[str, ...] = (), **events: Any) -> Label:
    """``onset`` is a 0-based evaluation index (epoch ``onset + 1``)."""
    oe = float(onset + 1) if onset is not None and x == "epoch" else None
    os_ = float((onset + 1) * STEPS_PER_EPOCH) if onset is not None else None
    return Label(family, kind, oe, os_, int(seed), int(n), float(noise), tolerated, events)


def _schedule_curve(rng: np.random.Generator, t: np.ndarray, n: int, lo: float, hi: float,
                    tau: float) -> np.ndarray:
    """A converging loss from ``hi`` to ``lo`` with a random learning-rate schedule shape:
    exponential, step decay (drops at 50% and 75% of the run) or cosine."""
    kind = rng.choice(["exp", "step", "cosine"])
    if kind == "exp":
        c = np.exp(-t / tau)
    elif kind == "step":
        # progress rate drops 3x at each boundary, with a small extra drop when the rate is cut
        rate = np.where(t < 0.5 * n, 1.0, np.where(t < 0.75 * n, 1 / 3, 1 / 9))
        c = np.exp(-np.cumsum(rate) / tau) * np.where(t < 0.5 * n, 1.0, np.where(t < 0.75 * n, 0.8, 0.7))
    else:
        # cosine schedule: progress = integral of the learning rate
        lr = 0.5 * (1 + np.cos(np.pi * (t - 1) / n))
        c = np.exp(-np.cumsum(lr) / tau)
    return lo + (hi - lo) * c


# ------------------------------------------------------------------------------------------------ families
def clean(seed: int = 0, *, n: int = 100, noise: float = 0.01, x: str = "epoch") -> SynthRun:
    """Clean convergence: noiseless validation loss is non-increasing (it never overfits); the training loss
    converges well before the end. The schedule shape (exponential, step decay, cosine) is drawn at random."""
    _check(n, noise, 2, "clean")
    rng = _rng("clean", seed)
    t = np.arange(1, n + 1, dtype=float)
    tau = n * rng.uniform(0.06, 0.18)
    hi = rng.uniform(1.5, 2.5)
    lo_tr = rng.uniform(0.02, 0.3)
    train = _schedule_curve(rng, t, n, lo_tr, hi, tau)
    val = train + rng.uniform(0.05, 0.3) * (1 - (train - lo_tr) / (hi - lo_tr))  # gap grows, val still falls
    val = np.minimum.accumulate(val)
    h = _standard("clean", seed, rng, val, train, noise, x=x)
    return SynthRun(h, _label("clean", None, None, seed, n, noise, x))


def noisy(seed: int = 0, *, n: int = 100, noise: float = 0.04, x: str = "epoch") -> SynthRun:
    """Clean convergence evaluated with heteroscedastic, heavy-tailed noise: the noise level switches between
    regimes (×0.3 … ×2 of ``noise``) and follows a Student-t(5) law. Nothing to report."""
    _check(n, noise, 2, "noisy")
    rng = _rng("noisy", seed)
    t = np.arange(1, n + 1, dtype=float)
    tau = n * rng.uniform(0.06, 0.18)
    hi, lo = rng.uniform(1.5, 2.5), rng.uniform(0.05, 0.4)
    train = _schedule_curve(rng, t, n, lo, hi, tau)
    val = np.minimum.accumulate(train + rng.uniform(0.05, 0.3))
    k = int(rng.integers(2, 5))
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(k, n - 1), replace=False))
    mult = np.ones(n)
    for a, b in zip([0, *cuts], [*cuts, n]):
        mult[a:b] = rng.uniform(0.3, 2.0)
    h = _standard("noisy", seed, rng, val, train, noise, x=x, heavy=True, val_sd=noise * mult)
    return SynthRun(h, _label("noisy", None, None, seed, n, noise, x, regimes=[int(c) for c in cuts]))


def overfitting(seed: int = 0, *, n: int = 100, noise: float = 0.01, severity: float | None = None,
                x: str = "epoch") -> SynthRun:
    """U-shaped validation loss: falls, reaches its best at a known epoch, then rises (linearly, as on
    repeated data, or convexly) while the training loss keeps falling.

    Args:
        severity: final noiseless validation loss relative to its minimum, minus 1 (default: uniform in
            [0.03, 0.5]).
    """
    _check(n, noise, 8, "overfitting")
    rng = _rng("overfitting", seed)
    sev = float(rng.uniform(0.03, 0.5)) if severity is None else float(severity)
    if not np.isfinite(sev) or sev <= 0:
        raise UsageError(f"overfitting: severity must be > 0, got {severity!r}")
    t = np.arange(1, n + 1, dtype=float)
    t0 = rng.uniform(0.2, 0.7) * n
    tau = t0 / rng.uniform(2.0, 4.0)
    p = float(rng.choice([1.0, 1.5, 2.0]))
    hi, lo = rng.uniform(1.5, 2.5), rng.uniform(0.2, 0.6)
    base = lo + (hi - lo) * np.exp(-t / tau)
    r = np.maximum(t - t0, 0.0) ** p
    r = r / r[-1] if r[-1] > 0 else r

    def final_rel(k: float) -> float:
        v = base + k * r
        return float(v[-1] / v.min() - 1)

    a, b = 0.0, 10.0
    for _ in range(60):
        mid = (a + b) / 2
        a, b = (mid, b) if final_rel(mid) < sev else (a, mid)
    val = base + b * r
    best = int(np.argmin(val))
    train = lo * 0.8 * (1 - 0.7 * t / n) + (hi - lo * 0.8) * np.exp(-t / tau)
    h = _standard("overfitting", seed, rng, val, train, noise, x=x)
    return SynthRun(h, _label("overfitting", "overfitting", best, seed, n, noise, x, severity=sev,
                              shape="linear" if p == 1.0 else "convex"))


def double_descent(seed: int = 0, *, n: int = 150, noise: float = 0.01, x: str = "epoch") -> SynthRun:
    """Epoch-wise double descent: validation loss falls, rises to a peak, then falls below its first
    minimum and stays there. Training loss falls throughout."""
    _check(n, noise, 20, "double_descent")
    rng = _rng("double_descent", seed)
    t = np.arange(1, n + 1, dtype=float)
    for _ in range(200):
        tp = rng.uniform(0.2, 0.4) * n
        w = rng.uniform(0.04, 0.09) * n
        tau1 = tp / rng.uniform(3.0, 5.0)
        lo = rng.uniform(0.2, 0.5)
        hi = rng.uniform(1.5, 2.5)
        d = rng.uniform(0.3, 0.8)
        base = lo + (hi - lo) * np.exp(-t / tau1) + d * np.exp(-t / (rng.uniform(0.15, 0.35) * n))
        bump = rng.uniform(0.15, 0.5) * base[int(tp)] * np.exp(-0.5 * ((t - tp) / w) ** 2)
        val = base + bump
        pre = int(np.argmin(val[: int(tp)]))
        if pre >= int(tp) - 1:
            continue
        below = np.where((t > tp) & (val < val[pre] * 0.995))[0]
        if below.size == 0 or below[0] > 0.8 * n or val[-1] > 0.95 * val[pre]:
            continue
        if np.max(val[pre:below[0]]) < val[pre] * 1.05:
            continue
        peak = pre + int(np.argmax(val[pre:below[0]]))
        train = lo * 0.5 + (hi - lo * 0.5) * np.exp(-t / tau1) * 0.9 + 0.1 * hi * np.exp(-t / (0.3 * n))
        h = _standard("double_descent", seed, rng, val, train, noise, x=x)
        return SynthRun(h, _label("double_descent", "double_descent", int(below[0]), seed, n, noise, x,
                                  first_best=float(pre + 1), peak=float(peak + 1),
                                  peak_rel=float(val[peak] / val[pre] - 1)))
    raise RuntimeError("double_descent: could not draw a valid curve")  # pragma: no cover


def _grok_curves(rng: np.random.Generator, n: int, jump: bool) -> tuple[dict[str, np.ndarray], int, int,
                                                                           float]:
    t = np.arange(1, n + 1, dtype=float)
    classes = int(rng.choice([10, 59, 97, 113]))
    chance = 1.0 / classes
    t_mem = rng.uniform(0.04, 0.12) * n
    tr_acc = chance + (1 - chance) * expit((t - t_mem * 0.6) / (t_mem / 10))
    t_grok = rng.uniform(0.35, 0.8) * n if jump else 10.0 * n
    wj = rng.uniform(0.01, 0.03) * n
    final = rng.uniform(0.9, 1.0)
    va_acc = chance + (final - chance) * expit((t - t_grok) / wj)
    logc = np.log(classes)
    tr_loss = logc * (1 - tr_acc + 1e-3) ** 1.2
    # validation loss rises during memorisation (over-confident wrong answers), falls at the jump
    mem = expit((t - t_mem) / (t_mem / 5))
    va_loss = logc * (1 + 0.6 * mem) * (1 - (va_acc - chance) / (1 - chance)) + 0.05
    memorized = int(np.argmax(tr_acc >= 0.98))
    return ({"train_loss": tr_loss, "train_acc": tr_acc, "val_loss": va_loss, "val_acc": va_acc},
            memorized, int(np.argmin(np.abs(t - t_grok))), chance)


def _grok_history(family: str, seed: int, rng: np.random.Generator, c: dict[str, np.ndarray], noise: float,
                  x: str) -> History:
    n = len(c["val_acc"])
    cols = {
        "train_loss": _mult(rng, c["train_loss"], noise / 3),
        "train_acc": _add_acc(rng, c["train_acc"], noise / 3),
        "val_loss": _mult(rng, c["val_loss"], noise),
        "val_acc": _add_acc(rng, c["val_acc"], noise),
        "test_loss": _mult(rng, c["val_loss"], noise),
        "test_acc": _add_acc(rng, c["val_acc"], noise),
    }
    epochs = np.arange(1, n + 1, dtype=float)
    return _build(f"{family}-{seed}", epochs if x == "epoch" else None, epochs * STEPS_PER_EPOCH, cols)


def grokking(seed: int = 0, *, n: int = 200, noise: float = 0.01, x: str = "epoch") -> SynthRun:
    """Grokking: training accuracy saturates early, validation accuracy stays at chance (1/classes, classes
    drawn from {10, 59, 97, 113}) for a long stretch, then jumps to 0.9–1.0. Validation loss rises during the
    memorisation phase and falls at the jump."""
    _check(n, noise, 40, "grokking")
    rng = _rng("grokking", seed)
    c, mem, grok, chance = _grok_curves(rng, n, True)
    h = _grok_history("grokking", seed, rng, c, noise, x)
    return SynthRun(h, _label("grokking", "grokking", grok, seed, n, noise, x,
                              tolerated=("memorization", "overfitting"), memorized=float(mem + 1),
                              chance=chance))


def memorization(seed: int = 0, *, n: int = 200, noise: float = 0.01, x: str = "epoch") -> SynthRun:
    """Memorisation: like :func:`grokking` but validation accuracy never leaves chance within the budget."""
    _check(n, noise, 40, "memorization")
    rng = _rng("memorization", seed)
    c, mem, _, chance = _grok_curves(rng, n, False)
    h = _grok_history("memorization", seed, rng, c, noise, x)
    return SynthRun(h, _label("memorization", "memorization", mem, seed, n, noise, x,
                              tolerated=("overfitting",), chance=chance))


def _clean_base(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(1, n + 1, dtype=float)
    tau = n * rng.uniform(0.08, 0.18)
    hi, lo = rng.uniform(1.5, 2.5), rng.uniform(0.1, 0.4)
    train = lo + (hi - lo) * np.exp(-t / tau)
    return train, train + rng.uniform(0.05, 0.2)


def spikes(seed: int = 0, *, n: int = 100, noise: float = 0.01, x: str = "epoch") -> SynthRun:
    """Loss spikes: a clean run with 1–3 transient spikes (loss ×2–×6 of its level, recovering over 1–3
    evaluations) in both training and validation loss; accuracies dip accordingly."""
    _check(n, noise, 10, "spikes")
    rng = _rng("spikes", seed)
    train, val = _clean_base(rng, n)
    k = int(rng.integers(1, 4))
    where = np.sort(rng.choice(np.arange(int(0.2 * n), int(0.9 * n)), size=k, replace=False))
    mtr = np.ones(n)
    for s in where:
        height = rng.uniform(2.0, 6.0)
        decay = rng.uniform(0.5, 1.5)
        for j in range(s, n):
            mtr[j] *= 1 + (height - 1) * np.exp(-(j - s) / decay)
    h = _standard("spikes", seed, rng, val * mtr, train * mtr, noise, x=x)
    return SynthRun(h, _label("spikes", "instability", int(where[0]), seed, n, noise, x,
                              spikes=[float(s + 1) for s in where]))


def nan(seed: int = 0, *, n: int = 100, noise: float = 0.01, x: str = "epoch") -> SynthRun:
    """A clean run whose losses become NaN (or +inf) from a known evaluation on, after a short rise."""
    _check(n, noise, 10, "nan")
    rng = _rng("nan", seed)
    train, val = _clean_base(rng, n)
    t_nan = int(rng.integers(int(0.3 * n), int(0.95 * n)))
    bad = float(rng.choice([np.nan, np.inf]))
    h0 = _standard("nan", seed, rng, val, train, noise, x=x)
    df = h0.columns()
    ix = np.rint(df["step"] / STEPS_PER_EPOCH).astype(int) - 1 >= t_nan
    df["value"][ix & (df["metric"] == "loss")] = bad
    df["value"][ix & (df["metric"] == "acc")] = 0.1
    h = History(df, sources={h0.name: h0.source})
    return SynthRun(h, _label("nan", "instability", t_nan, seed, n, noise, x, value=str(bad)))


def divergence(seed: int = 0, *, n: int = 100, noise: float = 0.01, x: str = "epoch") -> SynthRun:
    """Divergence: from a known evaluation on, training and validation loss grow exponentially (×e every
    2–6 evaluations, up to ×1000) and accuracy falls to chance."""
    _check(n, noise, 10, "divergence")
    rng = _rng("divergence", seed)
    train, val = _clean_base(rng, n)
    t_div = int(rng.integers(int(0.3 * n), int(0.85 * n)))
    rate = 1.0 / rng.uniform(2.0, 6.0)
    g = np.ones(n)
    idx = np.arange(n)
    g[t_div:] = np.minimum(np.exp(rate * (idx[t_div:] - t_div + 1)), 1000.0)
    h = _standard("divergence", seed, rng, val * g, train * g, noise, x=x)
    return SynthRun(h, _label("divergence", "instability", t_div, seed, n, noise, x, rate=rate))


def underfitting(seed: int = 0, *, n: int = 60, noise: float = 0.01, mode: str | None = None,
                 x: str = "epoch") -> SynthRun:
    """Underfitting with a small train/val gap: ``still_falling`` (time constant 0.6–2× the run, so the loss
    is still dropping steeply at the end) or ``stuck`` (loss stays within 3–10% of its starting level and
    accuracy near chance: too small a model or too low a learning rate)."""
    _check(n, noise, 5, "underfitting")
    rng = _rng("underfitting", seed)
    m = str(rng.choice(["still_falling", "stuck"])) if mode is None else mode
    if m not in ("still_falling", "stuck"):
        raise UsageError(f"underfitting: mode must be 'still_falling' or 'stuck', got {mode!r}")
    t = np.arange(1, n + 1, dtype=float)
    hi = rng.uniform(1.8, 2.4)
    if m == "still_falling":
        tau = n * rng.uniform(0.6, 2.0)
        train = 0.1 + (hi - 0.1) * np.exp(-t / tau)
    else:
        drop = rng.uniform(0.03, 0.10)
        train = hi * (1 - drop * (1 - np.exp(-t / (0.1 * n))))
    val = train * (1 + rng.uniform(0.0, 0.03))
    h = _standard("underfitting", seed, rng, val, train, noise, x=x, acc_scale=0.8)
    return SynthRun(h, _label("underfitting", "underfitting", None, seed, n, noise, x, mode=m))


ATTACK_NAMES: dict[str, tuple[str, str]] = {
    "fgsm_pgd": ("val_fgsm_acc", "val_pgd_acc"),
    "robust": ("val_fgsm_acc", "val_robust_acc"),
    "autoattack": ("test_fgsm_acc", "test_autoattack_acc"),
}


def _adv(family: str, seed: int, n: int, noise: float, x: str, collapse: bool, attack_names: str) -> SynthRun:
    if attack_names not in ATTACK_NAMES:
        raise UsageError(f"attack_names must be one of {sorted(ATTACK_NAMES)}, got {attack_names!r}")
    rng = _rng(family, seed)
    t = np.arange(1, n + 1, dtype=float)
    tau = n * rng.uniform(0.1, 0.25)
    ramp = 1 - np.exp(-t / tau)
    pgd = 0.1 + rng.uniform(0.3, 0.4) * ramp
    fgsm = pgd + rng.uniform(0.04, 0.1) * ramp
    clean_acc = 0.1 + rng.uniform(0.65, 0.75) * ramp
    t_co = int(rng.integers(int(0.2 * n), int(0.7 * n))) if collapse else n
    if collapse:
        k = np.arange(n) - t_co
        s = np.clip((k + 1.2) / 2.0, 0.0, 1.0)  # 60% of the collapse at t_co, complete one evaluation later
        pgd = pgd * (1 - s) + rng.uniform(0.0, 0.05) * s
        fgsm = fgsm * (1 - s) + rng.uniform(0.8, 0.95) * s
        clean_acc = clean_acc * (1 - s) + np.minimum(clean_acc + 0.1, 0.95) * s
    train = 2.3 * np.exp(-t / tau) + 0.8 - (0.5 * (t >= t_co + 1) if collapse else 0.0)
    val = 2.3 * np.exp(-t / tau) + 0.9
    f_name, p_name = ATTACK_NAMES[attack_names]
    extra = {f_name: _add_acc(rng, fgsm, noise), p_name: _add_acc(rng, pgd, noise)}
    h = _standard(family, seed, rng, val, train, noise, x=x, extra=extra)
    df = h.columns()
    # clean accuracy follows the adversarial-training curve, not the loss transform
    for sp in ("val", "test"):
        m = (df["split"] == sp) & (df["metric"] == "acc")
        df["value"][m] = _add_acc(rng, clean_acc, noise)
    h = History(df, sources={h.name: h.source})
    kind = "catastrophic_overfitting" if collapse else None
    return SynthRun(h, _label(family, kind, t_co if collapse else None, seed, n, noise, x,
                              fgsm_name=f_name, pgd_name=p_name))


def catastrophic_overfitting(seed: int = 0, *, n: int = 50, noise: float = 0.01, x: str = "epoch",
                             attack_names: str = "fgsm_pgd") -> SynthRun:
    """FGSM adversarial training that collapses at a known epoch: multi-step (PGD) accuracy falls to 0–5%
    within two evaluations while single-step (FGSM) accuracy jumps to 80–95%. ``attack_names`` picks the
    logged names (see :data:`ATTACK_NAMES`)."""
    _check(n, noise, 10, "catastrophic_overfitting")
    return _adv("catastrophic_overfitting", seed, n, noise, x, True, attack_names)


def robust_clean(seed: int = 0, *, n: int = 50, noise: float = 0.01, x: str = "epoch",
                 attack_names: str = "fgsm_pgd") -> SynthRun:
    """Single-step adversarial training that stays robust (FGSM and PGD accuracy rise together)."""
    _check(n, noise, 10, "robust_clean")
    return _adv("robust_clean", seed, n, noise, x, False, attack_names)


def stability_gap(seed: int = 0, *, n: int = 100, noise: float = 0.01, tasks: int | None = None,
                  naming: str = "task_acc", x: str = "step") -> SynthRun:
    """Continual learning with per-task accuracy evaluated every ``STEPS_PER_EPOCH`` steps.

    ``tasks`` (default 3–5) tasks are trained one after another for ``n // tasks`` evaluations each. Task
    ``k``'s accuracy is at chance (0.1) before its turn, rises to 0.93–0.99 while it is trained, and at each
    later task boundary drops by 20–50 points within 1–2 evaluations before recovering (time constant 1–3
    evaluations) to a level a few points lower (forgetting). Logged as ``task{k}_acc`` (``naming="task_acc"``)
    or ``val_task{k}/acc`` (``naming="val_slash"``), plus ``val_acc`` = mean over all tasks. ``x="step"``
    (default) logs steps only, as continual-evaluation logs do.
    """
    _check(n, noise, 8, "stability_gap")
    if naming not in ("task_acc", "val_slash"):
        raise UsageError(f"stability_gap: naming must be 'task_acc' or 'val_slash', got {naming!r}")
    rng = _rng("stability_gap", seed)
    T = int(rng.integers(3, 6)) if tasks is None else int(tasks)
    if T < 2 or n // T < 4:
        raise UsageError(f"stability_gap: need tasks >= 2 and n // tasks >= 4 evaluations, got tasks={tasks!r}")
    E = n // T
    n = E * T
    idx = np.arange(n)
    accs = []
    boundaries = [k * E for k in range(1, T)]
    for k in range(T):
        a = np.full(n, 0.1)
        peak = rng.uniform(0.93, 0.99)
        seg = idx[k * E:(k + 1) * E] - k * E
        a[k * E:(k + 1) * E] = 0.1 + (peak - 0.1) * (1 - np.exp(-(seg + 1) / 1.5))
        level = a[(k + 1) * E - 1] if k < T - 1 else peak
        for b in boundaries:
            if b <= k * E:
                continue
            drop = rng.uniform(0.2, 0.5)
            rec = rng.uniform(1.0, 3.0)
            after = level - rng.uniform(0.0, 0.06)
            seg = idx[b:] - b
            a[b:] = after - drop * np.exp(-seg / rec) * (1 - np.exp(-(seg + 1) / 0.7))
            level = after
        accs.append(np.clip(a, 0, 1))
    cols: dict[str, np.ndarray] = {}
    for k, a in enumerate(accs):
        name = f"task{k}_acc" if naming == "task_acc" else f"val_task{k}/acc"
        cols[name] = _add_acc(rng, a, noise)
    cols["val_acc"] = _add_acc(rng, np.mean(accs, axis=0), noise / 2)
    steps = (idx + 1.0) * STEPS_PER_EPOCH
    epochs = idx + 1.0
    h = _build(f"stability_gap-{seed}", epochs if x == "epoch" else None, steps, cols)
    # onset: the first evaluation after the first boundary (the first one that sees the new task's updates)
    lab = _label("stability_gap", "stability_gap", boundaries[0], seed, n, noise, x,
                 boundaries=[float(b * STEPS_PER_EPOCH) for b in boundaries], tasks=T,
                 evaluations_per_task=E)
    return SynthRun(h, lab)


_FAMILIES: dict[str, Callable[..., SynthRun]] = {
    "clean": clean,
    "noisy": noisy,
    "overfitting": overfitting,
    "double_descent": double_descent,
    "grokking": grokking,
    "memorization": memorization,
    "spikes": spikes,
    "nan": nan,
    "divergence": divergence,
    "underfitting": underfitting,
    "catastrophic_overfitting": catastrophic_overfitting,
    "robust_clean": robust_clean,
    "stability_gap": stability_gap,
}


def families() -> tuple[str, ...]:
    """Names of every generator, in a fixed order."""
    return tuple(_FAMILIES)


def generate(family: str, seed: int = 0, **kw: Any) -> SynthRun:
    """Generate one run of ``family`` (see :func:`families`); ``kw`` go to the generator (``n``, ``noise``,
    ``x`` and family-specific ones).

    Raises:
        UsageError: unknown family or bad argument (the message names it).
    """
    if family not in _FAMILIES:
        raise UsageError(f"unknown synthetic family {family!r}; known: {', '.join(_FAMILIES)}")
    fn = _FAMILIES[family]
    try:
        return fn(seed, **kw)
    except TypeError as exc:
        raise UsageError(f"{family}: {exc}") from exc
