"""Exact values of every per-example score on hand-computed tiny cases, plus invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.errors import UsageError
from gapwatch.examples import (
    ExampleTable,
    analyze_examples,
    aum,
    aum_early,
    aum_threshold,
    auroc,
    average_precision,
    el2n,
    el2n_score,
    forgetting_events,
    learned_epoch,
    loss_trajectory,
    make_threshold_samples,
    margins_from_logits,
    prune,
    score_table,
)
from gapwatch.examples.grand import grand_last_layer
from gapwatch.examples.scores import early_epochs, otsu_effectiveness, otsu_threshold, select_window, softmax


@pytest.mark.parametrize("logits,label,margin", [
    ([2.0, 1.0, 0.0], 1, -1.0),
    ([2.0, 1.0, 0.0], 0, 1.0),
    ([0.0, 0.0, 3.5], 2, 3.5),
    ([1.0, 1.0], 0, 0.0),
])
def test_margin_from_logits(logits: list[float], label: int, margin: float) -> None:
    assert margins_from_logits(np.array([logits]), np.array([label]))[0] == pytest.approx(margin)


@pytest.mark.parametrize("probs,label,value", [
    ([0.5, 0.5, 0.0], 0, math.sqrt(0.5)),
    ([1.0, 0.0, 0.0], 0, 0.0),
    ([0.0, 1.0, 0.0], 0, math.sqrt(2.0)),
    ([0.2, 0.3, 0.5], 2, math.sqrt(0.04 + 0.09 + 0.25)),
])
def test_el2n_exact(probs: list[float], label: int, value: float) -> None:
    assert el2n(np.array([probs]), np.array([label]))[0] == pytest.approx(value)


def test_el2n_score_averages_early_epochs_then_runs() -> None:
    run1 = np.array([[0.2, 1.0], [0.4, 1.0]])
    run2 = np.array([[0.6, 0.0], [9.0, 9.0]])
    assert el2n_score([run1, run2], epochs=1).tolist() == pytest.approx([0.4, 0.5])
    assert el2n_score(run1, epochs=2).tolist() == pytest.approx([0.3, 1.0])


def test_aum_exact() -> None:
    m = np.array([[1.0, -1.0], [3.0, -3.0]])
    assert aum(m).tolist() == [2.0, -2.0]
    assert aum(m, epochs=1).tolist() == [1.0, -1.0]
    assert aum_early(m, epochs=1).tolist() == [1.0, -1.0]


@pytest.mark.parametrize("column,events,learned", [
    ([1, 0, 1, 0], 2.0, 4.0),
    ([0, 0, 0, 0], math.inf, 4.0),
    ([1, 1, 1, 1], 0.0, 0.0),
    ([0, 1, 1, 0], 1.0, 4.0),
    ([1, 0, 1, 1], 1.0, 2.0),
    ([0, 0, 1, 1], 0.0, 2.0),
])
def test_forgetting_and_learned_epoch_exact(column: list[int], events: float, learned: float) -> None:
    c = np.array(column, dtype=bool)[:, None]
    assert forgetting_events(c)[0] == events
    assert learned_epoch(c)[0] == learned


def test_forgetting_never_learned_value() -> None:
    assert forgetting_events(np.zeros((3, 1), bool), never_learned=3.0)[0] == 3.0


def test_loss_trajectory_exact() -> None:
    s = loss_trajectory(np.array([[1.0], [2.0], [3.0]]), early=1)
    assert s["mean"][0] == pytest.approx(2.0)
    assert s["slope"][0] == pytest.approx(1.0)
    assert s["last"][0] == 3.0 and s["min"][0] == 1.0 and s["early_mean"][0] == 1.0
    assert s["std"][0] == pytest.approx(math.sqrt(2.0 / 3.0))


def test_threshold_samples_and_percentile() -> None:
    y = np.arange(110) % 10
    new, mask = make_threshold_samples(y, 10, seed=3)
    assert mask.sum() == 10 and np.all(new[mask] == 10) and np.array_equal(new[~mask], y[~mask])
    _new2, mask2 = make_threshold_samples(y, 10, seed=4, exclude=mask)
    assert not (mask & mask2).any()
    assert aum_threshold(np.arange(100.0), percentile=99) == pytest.approx(98.01)
    with pytest.raises(UsageError, match="labels must lie"):
        make_threshold_samples(np.array([0, 10]), 10)


def test_auroc_and_ap_exact() -> None:
    assert auroc(np.array([1, 2, 3, 4]), np.array([0, 0, 1, 1], bool)) == 1.0
    assert auroc(np.array([1.0, 1.0]), np.array([1, 0], bool)) == 0.5
    assert auroc(np.array([4, 3, 2, 1]), np.array([0, 0, 1, 1], bool)) == 0.0
    # ranking: pos, neg, pos → precision at hits 1/1 and 2/3
    assert average_precision(np.array([3, 2, 1]), np.array([1, 0, 1], bool)) == pytest.approx((1 + 2 / 3) / 2)


def test_grand_last_layer_exact() -> None:
    # logits equal → p = (0.5, 0.5); label 0 → ‖p − y‖ = √0.5; h = (3, 4), ‖h‖² + 1 = 26
    g = grand_last_layer(np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]]), np.array([0]))
    assert g[0] == pytest.approx(math.sqrt(0.5) * math.sqrt(26.0))
    g0 = grand_last_layer(np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]]), np.array([0]), bias=False)
    assert g0[0] == pytest.approx(math.sqrt(0.5) * 5.0)


def test_otsu_on_two_clusters() -> None:
    a = np.concatenate([np.full(50, -2.0), np.full(50, 2.0)])
    thr = otsu_threshold(a)
    assert -2.0 < thr <= 2.0 and (a < thr).sum() == 50
    assert otsu_effectiveness(a) == pytest.approx(1.0, abs=0.01)  # histogram (256-bin) approximation
    assert otsu_effectiveness(np.ones(5)) == 0.0


def test_select_window_stops_before_memorisation() -> None:
    # Every example has its own final margin level (difficulty). 120 clean examples reach it from epoch 2;
    # 80 wrong labels sit at ≈ −1 during epochs 2–4 and are memorised (same level as the clean ones) from
    # epoch 5 on. Epochs 0–1: nothing learned yet.
    rng = np.random.default_rng(0)
    E, n_clean, n_bad = 20, 120, 80
    n = n_clean + n_bad
    level = rng.normal(2.0, 0.6, size=n)
    m = rng.normal(0.0, 0.3, size=(E, n))
    m[2:, :n_clean] += level[:n_clean]
    m[2:5, n_clean:] -= 1.0
    m[5:, n_clean:] += level[n_clean:]
    k, eta = select_window(m)
    assert 4 <= k <= 6 and eta > 0.85
    assert select_window(m, tolerance=0.0)[0] == 5
    bad = np.arange(n) >= n_clean
    assert auroc(-aum_early(m), bad) == 1.0 and auroc(-aum(m), bad) < 0.9
    assert np.all(aum_early(m)[bad] < 0) and np.all(aum(m)[bad] > 0)  # whole-run AUM: memorised look clean
    with pytest.raises(UsageError, match="tolerance"):
        select_window(m, tolerance=1.0)


def test_early_epochs_rule() -> None:
    assert early_epochs(100) == 25 and early_epochs(3) == 1 and early_epochs(1) == 1
    with pytest.raises(UsageError, match="fraction"):
        early_epochs(10, fraction=0)


def _tiny_table() -> ExampleTable:
    # 4 examples × 4 epochs; example 3 is "mislabelled": wrong early, memorised at the end
    margin = np.array([[1.0, 0.5, -0.5, -3.0],
                       [2.0, 1.0, 0.5, -3.0],
                       [3.0, 1.5, -0.2, -2.0],
                       [3.0, 2.0, 1.0, 1.0]])
    z = np.stack([np.zeros((4, 4)), np.zeros((4, 4))], axis=-1)
    z[..., 0] = margin / 2
    z[..., 1] = -margin / 2
    p = softmax(z)
    label = np.zeros(4, dtype=np.int64)
    loss = -np.log(p[..., 0])
    return ExampleTable(index=np.arange(4), epochs=np.arange(4), loss=loss, margin=margin, probs=p, label=label)


def test_analysis_sets_on_tiny_table() -> None:
    a = analyze_examples(_tiny_table(), early=2)
    assert a.early == 2
    assert a.scores["aum_early"].tolist() == pytest.approx([1.5, 0.75, 0.0, -3.0])
    assert a.likely_mislabeled.tolist() == [3]
    assert a.memorized.tolist() == [3]             # flagged early, correct at the last epoch
    assert a.prunable.tolist() == [0, 1]           # learned at epoch 0 and never forgotten; easiest first
    assert a.hard.tolist() == [2]                  # not flagged, but learned only at the last epoch
    assert a.scores["forgetting"].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert a.suggested_relabel == {3: 1}
    doc = a.to_dict()
    assert doc["schema"] == "gapwatch.examples/1" and doc["n"] == 4 and doc["epochs"] == 4
    assert doc["likely_mislabeled"] == [3] and doc["suggested_relabel"][0]["suggested"] == 1


def test_prune_keeps_hardest_by_el2n_and_random_baseline() -> None:
    t = _tiny_table()
    keep = prune(t, 0.5, by="el2n", early=2)
    assert keep.tolist() == [2, 3]
    assert prune(t, 0.25, by="aum_early", early=2).tolist() == [1, 2, 3]
    assert prune(t, 0.25, by=np.array([4.0, 3.0, 2.0, 1.0])).tolist() == [0, 1, 2]
    assert prune(t, 0.5, by="el2n", early=2, drop_hardest=0.25).tolist() == [2]
    assert len(prune(t, 0.5, by="random", seed=1)) == 2
    with pytest.raises(UsageError, match="unknown pruning score 'grnd'"):
        prune(t, 0.5, by="grnd")
    with pytest.raises(UsageError, match="fraction"):
        prune(t, 1.0)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 8), st.integers(2, 5), st.integers(0, 10_000))
def test_invariants(E: int, n: int, C: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(E, n, C)) * 3
    y = rng.integers(0, C, n)
    p = softmax(z)
    e = el2n(p, y)
    assert np.all(e >= 0) and np.all(e <= math.sqrt(2) + 1e-12)
    m = margins_from_logits(z, y)
    correct = z.argmax(-1) == y
    assert np.array_equal(m > 0, correct | (m > 0))
    f = forgetting_events(correct)
    assert np.all((f >= 0) & ((f <= (E - 1) // 2 + 1) | np.isinf(f)))
    # shifting logits by a constant changes nothing
    assert np.allclose(margins_from_logits(z + 7.0, y), m)
    # AUROC of a score and its negation sum to 1
    pos = rng.random(n) < 0.5
    if 0 < pos.sum() < n:
        s = rng.normal(size=n)
        assert auroc(s, pos) + auroc(-s, pos) == pytest.approx(1.0)


def test_cutoff_flagged_unreliable_without_a_separate_group() -> None:
    rng = np.random.default_rng(0)
    m = rng.normal(1.0, 1.0, size=(6, 500))       # one Gaussian blob: nothing stands apart
    a = analyze_examples(ExampleTable(index=np.arange(500), epochs=np.arange(6), loss=np.log1p(np.exp(-m)),
                                      margin=m))
    assert not a.cutoff_reliable and a.separability < 0.75
    assert "UNRELIABLE" in a.cutoff_rule and a.to_dict()["cutoff_reliable"] is False


def test_several_runs_average_el2n_and_early_aum() -> None:
    a, b = _tiny_table(), _tiny_table()
    b.margin = b.margin + 1.0
    b.el2n = np.full_like(b.loss, 0.5)
    b.run = 1
    sc, k = score_table([a, b], early=2)
    ea = el2n(a.probs[:2], a.label).mean(axis=0)
    assert k == 2 and np.allclose(sc["el2n"], (ea + 0.5) / 2)
    assert np.allclose(sc["aum_early"], [2.0, 1.25, 0.5, -2.5])
    with pytest.raises(UsageError, match="runs cover different examples"):
        analyze_examples([a, ExampleTable(index=np.arange(3), epochs=np.arange(4), loss=np.ones((4, 3)))])


def test_prune_per_class_drops_the_same_share_of_every_class() -> None:
    from gapwatch.examples import ExampleTable

    n = 12
    label = np.repeat([0, 1, 2], 4)
    loss = np.tile(np.where(label == 0, 0.01, 1.0) + 0.001 * np.arange(n), (3, 1))  # class 0: all easy
    t = ExampleTable(index=np.arange(n), epochs=np.arange(3), label=label, loss=loss)
    by = -loss.mean(0)  # higher = harder = keep: class 0 is the easiest
    plain = prune(t, 0.25, by=-by)
    assert np.isin(np.arange(4), plain).sum() == 1  # plain ranking takes 3 of the 4 class-0 examples
    keep = prune(t, 0.25, by=-by, per_class=True)
    assert np.bincount(label[keep], minlength=3).tolist() == [3, 3, 3]
    # within each class the easiest goes first
    assert set(range(n)) - set(keep.tolist()) == {0, 4, 8}
    with pytest.raises(UsageError, match="labels"):
        prune(ExampleTable(index=np.arange(n), epochs=np.arange(3), loss=loss), 0.25, by=by, per_class=True)
