"""Known ground truth: real digits, a real MLP, 30% of training labels flipped at random.

AUM / forgetting / early statistics must rank the flipped labels far above chance, the default ranking must
stay sharp on a wide network that memorises every flipped label, and the threshold-sample calibration of
Pleiss et al. must give a usable cut-off.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).parent))

from _examples_digits import noisy_digits, train_recorded

from gapwatch.examples import analyze_examples, aum, aum_threshold, auroc, make_threshold_samples, prune


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return noisy_digits(n=600, noise=0.3, seed=0)


@pytest.fixture(scope="module")
def short_run(data):  # type: ignore[no-untyped-def]
    """Small network, 25 epochs: fits the clean labels, hardly any flipped one."""
    return train_recorded(data["X"], data["noisy"], hidden=64, epochs=25, lr=2e-3)[0]


@pytest.fixture(scope="module")
def memorising_run(data):  # type: ignore[no-untyped-def]
    """Wide network trained long: ends up fitting every flipped label."""
    return train_recorded(data["X"], data["noisy"], hidden=256, epochs=120, lr=2e-3)[0]


def _auroc(a, name, flipped):  # type: ignore[no-untyped-def]
    s = a.scores[name]
    s = -s if name.startswith("aum") else s
    return auroc(np.nan_to_num(s, posinf=1e9), flipped)


def test_scores_rank_flipped_labels_far_above_chance(short_run, data) -> None:  # type: ignore[no-untyped-def]
    a = analyze_examples(short_run)
    f = data["flipped"]
    assert _auroc(a, "aum", f) >= 0.95
    assert _auroc(a, "aum_early", f) >= 0.95
    assert _auroc(a, "forgetting", f) >= 0.85
    assert _auroc(a, "learned_epoch", f) >= 0.9
    assert _auroc(a, "el2n", f) >= 0.85
    assert _auroc(a, "mislabel", f) >= 0.95


@pytest.mark.slow
def test_default_ranking_stays_sharp_when_memorising(memorising_run, data) -> None:  # type: ignore[no-untyped-def]
    f = data["flipped"]
    assert memorising_run.correct[-1][f].mean() >= 0.95          # the flipped labels are memorised
    a = analyze_examples(memorising_run)
    assert a.cutoff_reliable
    assert a.early < memorising_run.n_epochs // 2                 # the window stops before memorisation
    assert _auroc(a, "mislabel", f) >= 0.98
    assert _auroc(a, "mislabel", f) > _auroc(a, "aum", f) + 0.01  # beats whole-run AUM
    flagged = np.isin(np.arange(len(f)), a.likely_mislabeled)
    assert (flagged & f).sum() / flagged.sum() >= 0.85           # precision of the suggested cut-off
    assert (flagged & f).sum() / f.sum() >= 0.85                 # recall
    mem = np.isin(np.arange(len(f)), a.memorized)
    assert mem.sum() >= 0.8 * f.sum() and (mem & f).sum() / mem.sum() >= 0.85
    right = [data["clean"][i] == c for i, c in a.suggested_relabel.items()]
    assert len(right) >= 0.5 * f.sum() and np.mean(right) >= 0.85


def test_cutoff_and_sets_on_short_run(short_run, data) -> None:  # type: ignore[no-untyped-def]
    f = data["flipped"]
    a = analyze_examples(short_run)
    assert a.cutoff_reliable
    flagged = np.isin(np.arange(len(f)), a.likely_mislabeled)
    assert (flagged & f).sum() / flagged.sum() >= 0.8 and (flagged & f).sum() / f.sum() >= 0.8
    assert len(a.memorized) <= 0.1 * f.sum()                    # nothing much was memorised
    prunable = np.isin(np.arange(len(f)), a.prunable)
    assert prunable.sum() > 0 and (prunable & f).sum() / prunable.sum() <= 0.05


def test_prune_by_el2n_drops_easy_examples(short_run, data) -> None:  # type: ignore[no-untyped-def]
    f = data["flipped"]
    keep = prune(short_run, 0.4, by="el2n")
    assert len(keep) == 360
    # easy examples go first, so the kept set is enriched in the (hard) flipped labels
    assert f[keep].mean() > f.mean() + 0.1
    rand = prune(short_run, 0.4, by="random", seed=0)
    assert abs(f[rand].mean() - f.mean()) < 0.08


def test_threshold_samples_calibration(data) -> None:  # type: ignore[no-untyped-def]
    f = data["flipped"]
    new, mask = make_threshold_samples(data["noisy"], 10, seed=1)
    t, _ = train_recorded(data["X"], new, hidden=64, epochs=25, classes=11, lr=2e-3)
    margins = aum(t.margin)
    thr = aum_threshold(margins[mask], percentile=99)
    flagged = (margins < thr) & ~mask
    real = f & ~mask
    assert (flagged & real).sum() / flagged.sum() >= 0.7
    assert (flagged & real).sum() / real.sum() >= 0.9
