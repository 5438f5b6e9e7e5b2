"""Per-example scores from training dynamics (numpy only: arrays in, one score per example out).

Every function takes arrays shaped ``(epochs, n)`` (or ``(n, C)`` probabilities) and returns ``(n,)``.
Direction is part of each docstring: "higher = more suspicious" means more likely mislabelled / harder.

Papers:
    * EL2N — Paul, Ganguli, Dziugaite, "Deep Learning on a Data Diet: Finding Important Examples Early in
      Training" (NeurIPS 2021).
    * AUM — Pleiss, Zhang, Elenberg, Weinberger, "Identifying Mislabeled Data using the Area Under the Margin
      Ranking" (NeurIPS 2020).
    * Forgetting events — Toneva, Sordoni, Combes, Trischler, Bengio, Gordon, "An Empirical Study of Example
      Forgetting during Deep Neural Network Learning" (ICLR 2019).
    * Early-learning / late memorisation of noisy labels — Arpit et al., "A Closer Look at Memorization in
      Deep Networks" (ICML 2017); Feldman, "Does Learning Require Memorization? A Short Tale about a Long Tail".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import cast

import numpy as np

from ..errors import UsageError

#: Default share of the recorded epochs treated as "early training" (see :func:`early_epochs`).
DEFAULT_EARLY_FRACTION = 0.25
#: Default minimum number of early epochs.
DEFAULT_MIN_EARLY = 1


def _as2d(name: str, a: np.ndarray) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise UsageError(f"{name} must have shape (epochs, n), got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise UsageError(f"{name} is empty (shape {arr.shape})")
    return arr


def early_epochs(n_epochs: int, fraction: float = DEFAULT_EARLY_FRACTION, minimum: int = DEFAULT_MIN_EARLY) -> int:
    """Number of leading epochs counted as "early training": ``max(minimum, ceil(fraction × n_epochs))``.

    Noisy labels are fitted last (memorisation starts once the clean examples are learned), so statistics over
    the first quarter of training separate wrong labels from right ones even on networks that end up fitting
    everything. Capped at ``n_epochs``.
    """
    if n_epochs < 1:
        raise UsageError(f"n_epochs must be >= 1, got {n_epochs}")
    if not 0 < fraction <= 1:
        raise UsageError(f"early fraction must be in (0, 1], got {fraction}")
    if minimum < 1:
        raise UsageError(f"minimum early epochs must be >= 1, got {minimum}")
    return min(n_epochs, max(minimum, math.ceil(fraction * n_epochs)))


# ------------------------------------------------------------------------------------------------- per-step

def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return cast(np.ndarray, e / e.sum(axis=-1, keepdims=True))


def margins_from_logits(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """AUM margin ``z_y − max_{k≠y} z_k`` for logits ``(..., n, C)`` and labels ``(n,)`` → ``(..., n)``."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    assigned = np.take_along_axis(z, np.broadcast_to(y[..., None], z.shape[:-1] + (1,)), axis=-1)[..., 0]
    other = z.copy()
    np.put_along_axis(other, np.broadcast_to(y[..., None], z.shape[:-1] + (1,)), -np.inf, axis=-1)
    return cast(np.ndarray, assigned - other.max(axis=-1))


def el2n(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """EL2N of each example: ‖p − one_hot(y)‖₂ for probabilities ``(..., n, C)`` → ``(..., n)``.

    Range 0 (confident and right) … √2 (confident and wrong). Higher = harder / more suspicious.
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if p.shape[-2] != y.shape[0]:
        raise UsageError(f"probs cover {p.shape[-2]} examples but labels {y.shape[0]}")
    if y.min() < 0 or y.max() >= p.shape[-1]:
        raise UsageError(f"labels must lie in 0…{p.shape[-1] - 1}, got {int(y.min())}…{int(y.max())}")
    d = p.copy()
    idx = np.broadcast_to(y[..., None], p.shape[:-1] + (1,))
    np.put_along_axis(d, idx, np.take_along_axis(d, idx, axis=-1) - 1.0, axis=-1)
    return cast(np.ndarray, np.sqrt((d * d).sum(axis=-1)))


# ------------------------------------------------------------------------------------------------- scores

def el2n_score(el2n_values: np.ndarray | Sequence[np.ndarray], *, epochs: int | None = None) -> np.ndarray:
    """Data Diet EL2N score: mean of per-epoch EL2N over the first ``epochs`` epochs and over runs.

    Args:
        el2n_values: ``(epochs, n)`` for one run, or a sequence of such arrays (one per seed / run; the paper
            averages over ~10 independent runs). Runs may have different numbers of epochs.
        epochs: how many leading epochs to average (default: :func:`early_epochs` of the shortest run).

    Returns:
        ``(n,)``; higher = harder / more important to keep (and, among the highest, likely mislabelled).
    """
    seq: Sequence[np.ndarray] = (list(el2n_values) if isinstance(el2n_values, (list, tuple))
                                 else [np.asarray(el2n_values)])
    runs = [_as2d("el2n", v) for v in seq]
    n = runs[0].shape[1]
    for r in runs:
        if r.shape[1] != n:
            raise UsageError(f"runs cover different numbers of examples: {[x.shape[1] for x in runs]}")
    k = epochs if epochs is not None else early_epochs(min(r.shape[0] for r in runs))
    if k < 1:
        raise UsageError(f"epochs must be >= 1, got {k}")
    return cast(np.ndarray, np.mean([r[:k].mean(axis=0) for r in runs], axis=0))


def aum(margins: np.ndarray, *, epochs: int | None = None) -> np.ndarray:
    """Area under the margin (Pleiss et al. 2020): mean over epochs of ``z_assigned − max_other z``.

    Args:
        margins: ``(epochs, n)``, recorded on the training pass or on an eval pass after each epoch.
        epochs: average only the first ``epochs`` epochs (``None`` = all; see :func:`aum_early`).

    Returns:
        ``(n,)`` in logit units; LOWER = more suspicious (negative: the network prefers another class).
    """
    m = _as2d("margins", margins)
    if epochs is not None:
        if epochs < 1:
            raise UsageError(f"epochs must be >= 1, got {epochs}")
        m = m[:epochs]
    return cast(np.ndarray, m.mean(axis=0, dtype=np.float64))


def aum_early(margins: np.ndarray, *, epochs: int | None = None) -> np.ndarray:
    """AUM over the early epochs only; lower = more suspicious.

    Args:
        margins: ``(epochs, n)``.
        epochs: window length; default: :func:`select_window` (the most bimodal prefix).

    Stays sharp when a wide network memorises the wrong labels late in training, which drags the whole-run
    AUM of mislabelled examples up towards that of clean ones.
    """
    m = _as2d("margins", margins)
    k = select_window(m)[0] if epochs is None else epochs
    return aum(m, epochs=k)


def make_threshold_samples(labels: np.ndarray, num_classes: int, *, fraction: float | None = None,
                           seed: int = 0, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pleiss et al.'s threshold samples: relabel a random subset into a fake extra class ``num_classes``.

    Train a network with ``num_classes + 1`` outputs on the returned labels; the fake-class examples are
    mislabelled by construction, and the 99th percentile of their AUM (:func:`aum_threshold`) separates
    mislabelled from clean examples. The paper uses ``n / (C + 1)`` threshold samples and repeats the
    procedure with a disjoint subset so every example gets an AUM from a run where it kept its label.

    Args:
        labels: ``(n,)`` assigned labels in ``0 … num_classes-1``.
        fraction: share of examples to relabel (default ``1 / (num_classes + 1)``).
        exclude: boolean ``(n,)`` of examples that must not be chosen (e.g. the first run's threshold set).

    Returns:
        ``(new_labels, threshold_mask)``: labels with the fake class, and the boolean mask of chosen examples.
    """
    y = np.asarray(labels, dtype=np.int64)
    n = y.shape[0]
    if num_classes < 2:
        raise UsageError(f"num_classes must be >= 2, got {num_classes}")
    if y.min() < 0 or y.max() >= num_classes:
        raise UsageError(f"labels must lie in 0…{num_classes - 1}, got {int(y.min())}…{int(y.max())}")
    frac = 1.0 / (num_classes + 1) if fraction is None else fraction
    if not 0 < frac < 1:
        raise UsageError(f"fraction must be in (0, 1), got {frac}")
    pool = np.arange(n) if exclude is None else np.flatnonzero(~np.asarray(exclude, dtype=bool))
    k = min(pool.size, max(1, int(round(frac * n))))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(pool, size=k, replace=False)
    mask = np.zeros(n, dtype=bool)
    mask[chosen] = True
    new = y.copy()
    new[mask] = num_classes
    return new, mask


def aum_threshold(threshold_aums: np.ndarray, *, percentile: float = 99.0) -> float:
    """AUM cut-off from threshold samples: the ``percentile``-th percentile of their AUMs (paper: 99).

    Examples of the real classes whose AUM is below this value are flagged as mislabelled.
    """
    a = np.asarray(threshold_aums, dtype=np.float64).reshape(-1)
    if a.size == 0:
        raise UsageError("no threshold-sample AUMs given")
    if not 0 < percentile < 100:
        raise UsageError(f"percentile must be in (0, 100), got {percentile}")
    return float(np.percentile(a, percentile))


def forgetting_events(correct: np.ndarray, *, never_learned: float = np.inf) -> np.ndarray:
    """Toneva et al.'s forgetting events: transitions from correct to incorrect between consecutive epochs.

    Args:
        correct: ``(epochs, n)`` booleans (prediction equals the assigned label), in epoch order.
        never_learned: value for examples never classified correctly (the paper counts them as forgotten
            infinitely often; pass e.g. ``epochs`` for a finite value).

    Returns:
        ``(n,)`` float counts; higher = more forgettable (harder / suspicious). 0 for never-forgotten examples
        ("unforgettable", the ones the paper shows can be removed).
    """
    c = _as2d("correct", correct).astype(bool)
    events = (c[:-1] & ~c[1:]).sum(axis=0).astype(np.float64)
    events[~c.any(axis=0)] = never_learned
    return cast(np.ndarray, events)


def learned_epoch(correct: np.ndarray) -> np.ndarray:
    """Position (0-based) of the first recorded epoch from which the example stays correct to the end.

    ``epochs`` (one past the last position) when the example is wrong at the last epoch. Higher = learned
    later; mislabelled examples are fitted last, so this is also a suspicion score.
    """
    c = _as2d("correct", correct).astype(bool)
    E = c.shape[0]
    # last epoch at which it was wrong, +1
    wrong = ~c
    any_wrong = wrong.any(axis=0)
    last_wrong = E - 1 - np.argmax(wrong[::-1], axis=0)
    return np.where(any_wrong, last_wrong + 1, 0).astype(np.float64)


def loss_trajectory(loss: np.ndarray, *, early: int | None = None) -> dict[str, np.ndarray]:
    """Summary statistics of each example's loss curve (nats). Higher = harder / more suspicious for all.

    Returns a dict of ``(n,)`` arrays:
        ``mean`` (area under the loss curve / epochs), ``early_mean`` (mean over :func:`early_epochs`),
        ``last`` (final-epoch loss), ``min``, ``std`` (across epochs), ``slope`` (least-squares slope per
        epoch; values near 0 or positive = not being learned; note its sign: it is ≤ 0 for learned examples).
    """
    L = _as2d("loss", loss).astype(np.float64)
    E = L.shape[0]
    k = early if early is not None else early_epochs(E)
    t = np.arange(E, dtype=np.float64)
    tc = t - t.mean()
    denom = float((tc * tc).sum())
    slope = (tc[:, None] * (L - L.mean(axis=0))).sum(axis=0) / denom if denom > 0 else np.zeros(L.shape[1])
    return {"mean": L.mean(axis=0), "early_mean": L[:k].mean(axis=0), "last": L[-1], "min": L.min(axis=0),
            "std": L.std(axis=0), "slope": slope}


def otsu_effectiveness(values: np.ndarray, *, bins: int = 256) -> float:
    """Otsu's separability η = between-group variance / total variance at the best two-group split (0 … 1).

    High when the sample is clearly bimodal. Used by :func:`select_window` as a label-free measure of how well
    a per-example statistic separates two populations (clean vs wrongly labelled examples).
    """
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    a = a[np.isfinite(a)]
    var = float(a.var()) if a.size else 0.0
    if a.size < 2 or var <= 0:
        return 0.0
    h, e = np.histogram(a, bins=bins)
    c = (e[:-1] + e[1:]) / 2
    p = h / h.sum()
    w0 = np.cumsum(p)
    w1 = 1.0 - w0
    mu = np.cumsum(p * c)
    sb = (mu[-1] * w0 - mu) ** 2 / np.maximum(w0 * w1, 1e-12)
    return float(min(1.0, sb.max() / var))


#: Separability (η) a window may give up against the most separating one in exchange for more epochs.
DEFAULT_WINDOW_TOLERANCE = 0.05
#: Separability η (Otsu, 0…1) needed to call a score bimodal: a single Gaussian gives 2/π ≈ 0.64; runs with a
#: clear low-margin group of wrong labels give ≳ 0.78 (digits tests). Below it no window is "early".
DEFAULT_MIN_SEPARABILITY = 0.75


def select_window(values: np.ndarray, *, minimum: int = DEFAULT_MIN_EARLY, max_candidates: int = 64,
                  tolerance: float = DEFAULT_WINDOW_TOLERANCE,
                  min_separability: float = DEFAULT_MIN_SEPARABILITY, bins: int = 256) -> tuple[int, float]:
    """Choose how many leading epochs to average: the longest prefix whose per-example mean is (nearly) as
    bimodal as the most bimodal prefix.

    For each candidate ``k`` (all of ``minimum … E`` or ``max_candidates`` of them evenly spread) the mean of
    ``values[:k]`` over epochs is computed per example and scored with :func:`otsu_effectiveness` (η). The
    answer is the largest ``k`` with ``η(k) ≥ max η − tolerance``. Rationale: before the network has learned
    the clean examples the means are not yet separated; once it starts memorising wrong labels their margins
    rise and the two groups merge again (Arpit et al. 2017, "A Closer Look at Memorization in Deep
    Networks"), so separability peaks in between — found without knowing which labels are wrong. Longer
    windows average out epoch-to-epoch noise, hence the preference for the largest near-best ``k``; on a run
    that never memorises this is the whole run. When no prefix reaches ``min_separability`` (no separate group
    at any point, typical of an underfitting network) the whole run is used: there is nothing to protect
    from memorisation and the longest average is the least noisy.

    Args:
        values: ``(epochs, n)`` margins (or losses).
        minimum: smallest window in epochs.
        tolerance: η (a 0…1 ratio) a longer window may lose against the best one (default 0.05).
        min_separability: best η below which the whole run is returned (default 0.75).

    Returns:
        ``(k, eta)``: the window length in epochs and its separability.
    """
    v = _as2d("values", values)
    E = v.shape[0]
    if minimum < 1:
        raise UsageError(f"minimum must be >= 1, got {minimum}")
    if max_candidates < 1:
        raise UsageError(f"max_candidates must be >= 1, got {max_candidates}")
    if not 0 <= tolerance < 1:
        raise UsageError(f"tolerance must be in [0, 1), got {tolerance}")
    lo = min(minimum, E)
    cands = np.unique(np.linspace(lo, E, num=min(max_candidates, E - lo + 1)).round().astype(int))
    csum = np.zeros(v.shape[1])
    etas: list[tuple[int, float]] = []
    done = 0
    for k in cands:
        csum += v[done:k].sum(axis=0, dtype=np.float64)
        done = int(k)
        etas.append((int(k), otsu_effectiveness(csum / k, bins=bins)))
    best = max(e for _, e in etas)
    if best < min_separability:
        return etas[-1]
    k_sel, eta_sel = max((ke for ke in etas if ke[1] >= best - tolerance - 1e-12), key=lambda ke: ke[0])
    return k_sel, eta_sel


def otsu_threshold(values: np.ndarray, *, bins: int = 256) -> float:
    """Otsu's split of a 1-D sample into two groups (maximises the between-group variance of a histogram).

    Used for the suggested mislabel cut-off: early-training AUM is bimodal when labels are noisy (wrong labels
    sit in a low mode), so the valley between the modes is a natural cut. Returns the split value (same units
    as ``values``); ``values`` below it form the lower group.
    """
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    a = a[np.isfinite(a)]
    if a.size < 2:
        raise UsageError("Otsu's threshold needs at least 2 finite values")
    if bins < 2:
        raise UsageError(f"bins must be >= 2, got {bins}")
    h, e = np.histogram(a, bins=bins)
    c = (e[:-1] + e[1:]) / 2
    w0 = np.cumsum(h).astype(np.float64)
    w1 = w0[-1] - w0
    s0 = np.cumsum(h * c)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    ties = np.flatnonzero(between >= between.max() * (1 - 1e-9))  # an empty gap: every split in it is best
    return float((e[ties[0] + 1] + e[ties[-1] + 1]) / 2)  # the middle of the gap


def auroc(scores: np.ndarray, positives: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` (higher = positive) for boolean ``positives`` (ties averaged)."""
    from scipy.stats import rankdata

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positives, dtype=bool)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        raise UsageError("AUROC needs at least one positive and one negative example")
    r = rankdata(s)
    return float((r[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Average precision of ``scores`` (higher = positive) for boolean ``positives``."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positives, dtype=bool)
    if not y.any():
        raise UsageError("average precision needs at least one positive example")
    order = np.argsort(-s, kind="stable")
    hits = y[order]
    prec = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(prec[hits].mean())
