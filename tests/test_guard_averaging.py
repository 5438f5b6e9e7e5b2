"""EMA / SWA / soups: known answers on tiny models."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from gapwatch.averaging import EMA, SWA, Soup, _average, has_batchnorm  # noqa: E402
from gapwatch.errors import UsageError  # noqa: E402


def lin(v: float):
    m = torch.nn.Linear(2, 1)
    with torch.no_grad():
        m.weight.fill_(v)
        m.bias.fill_(v)
    return m


def test_average_is_elementwise_mean_and_keeps_integer_buffers():
    bn = torch.nn.BatchNorm1d(2)
    a, b = bn.state_dict(), {k: v.clone() for k, v in bn.state_dict().items()}
    b["running_mean"] += 2.0
    b["num_batches_tracked"] += 7
    avg = _average([a, b])
    assert torch.allclose(avg["running_mean"], a["running_mean"] + 1.0)
    assert avg["num_batches_tracked"] == a["num_batches_tracked"]


@pytest.mark.parametrize(
    "values,radius,want",
    [
        ([5, 4, 3, 2, 3, 4, 5], 2, [2, 4, 3, 3, 4]),  # best 2 at index 3: two before (4, 3), two after (3, 4)
        ([5, 4, 3, 2, 3, 4, 5], 1, [2, 3, 3]),
        ([1, 2, 3], 2, [1, 2, 3]),  # best first: only after
        ([3, 2, 1], 2, [1, 3, 2]),  # best last: only before
        ([3, 1, 2, 0.5, 4], 1, [0.5, 2, 4]),  # a later best discards the earlier neighbourhood
    ],
)
def test_soup_collects_checkpoints_around_the_best(values, radius, want):
    s = Soup(radius=radius)
    best = float("inf")
    for v in values:
        s.observe(lin(v), v, v < best)
        best = min(best, v)
    got = [v for v, _ in s.ingredients]
    assert got == want
    for v, st in s.ingredients:  # each value travels with its own weights
        assert torch.all(st["weight"] == v)


def test_uniform_soup_averages_and_greedy_is_never_worse_than_best():
    s = Soup(radius=2)
    for i, v in enumerate([3.0, 2.0, 1.0, 2.5, 4.0]):
        s.observe(lin(float(i)), v, v == min([3.0, 2.0, 1.0, 2.5, 4.0][: i + 1]))
    m = lin(0.0)
    out = s.cook(m)
    assert out["ingredients"] == 5 and torch.allclose(m.weight, torch.full_like(m.weight, 2.0))

    def evaluate(model):  # held-out "loss": distance of the weight from 1.7
        return float((model.weight.detach() - 1.7).abs().mean())

    m2 = lin(0.0)
    g = s.cook(m2, greedy=True, evaluate=evaluate)
    best_only = lin(2.0)
    assert g["value"] <= evaluate(best_only) + 1e-12
    assert 1 <= g["ingredients"] <= g["of"] == 5


def test_ema_matches_formula():
    m = lin(0.0)
    ema = EMA(m, decay=0.5)
    for v in (2.0, 4.0):
        with torch.no_grad():
            m.weight.fill_(v)
        ema.update(m)
    # AveragedModel starts from a copy of the first update: 2, then 0.5*2 + 0.5*4 = 3
    out = lin(9.0)
    ema.copy_to(out)
    assert torch.allclose(out.weight, torch.full_like(out.weight, 3.0))


def test_swa_recomputes_batchnorm_and_demands_a_loader():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    assert has_batchnorm(net)
    swa = SWA(net, start_epoch=1)
    swa.update(net, 0)
    with pytest.raises(UsageError, match="start_epoch"):
        swa.finalize()
    swa.update(net, 1)
    with pytest.raises(UsageError, match="BatchNorm"):
        swa.finalize()
    x = torch.randn(64, 3) * 5 + 3
    swa.finalize([x[:32], x[32:]])
    bn = swa.module.module[1]
    with torch.no_grad():
        h = net[0](x)
    assert torch.allclose(bn.running_mean, h.mean(0), atol=1e-4)


@pytest.mark.parametrize(
    "cls,kw,match", [(EMA, {"decay": 1.0}, "decay"), (SWA, {"start_epoch": -1}, "start_epoch")]
)
def test_bad_arguments(cls, kw, match):
    with pytest.raises(UsageError, match=match):
        cls(lin(0.0), **kw)


def test_soup_bad_arguments():
    with pytest.raises(UsageError, match="radius"):
        Soup(radius=-1)
    with pytest.raises(UsageError, match="no checkpoint"):
        Soup().cook(lin(0.0))
