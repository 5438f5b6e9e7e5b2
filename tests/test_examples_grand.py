"""GraNd via torch.func vmap equals a per-example autograd loop; the last-layer shortcut is exact."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gapwatch.errors import UsageError  # noqa: E402  # after importorskip("torch")
from gapwatch.examples.grand import grand, grand_last_layer_model, grand_naive, last_linear  # noqa: E402


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 16), torch.nn.Tanh(),
                               torch.nn.Dropout(0.5), torch.nn.Linear(16, 5))


def _data(n: int = 13) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 1, 8, 8, generator=g), torch.randint(0, 5, (n,), generator=g)


def test_vmap_equals_naive_loop_all_params() -> None:
    m = _model()
    X, y = _data()
    fast = grand(m, X, y, chunk_size=5)         # chunks that do not divide n
    slow = grand_naive(m, X, y)
    assert fast.shape == (13,)
    assert np.allclose(fast, slow, rtol=1e-5, atol=1e-6)
    assert m.training                            # mode restored


def test_vmap_equals_naive_loop_selected_params_and_shortcut() -> None:
    m = _model()
    X, y = _data()
    name, _lin = last_linear(m)
    names = [f"{name}.weight", f"{name}.bias"]
    fast = grand(m, X, y, params=names)
    assert np.allclose(fast, grand_naive(m, X, y, params=names), rtol=1e-5, atol=1e-6)
    assert np.allclose(grand_last_layer_model(m, X, y), fast, rtol=1e-5, atol=1e-6)


def test_grand_bad_arguments() -> None:
    m = _model()
    X, y = _data()
    with pytest.raises(UsageError, match="unknown parameter names"):
        grand(m, X, y, params=["nope.weight"])
    with pytest.raises(UsageError, match="13 inputs but 3 labels"):
        grand(m, X, y[:3])
    with pytest.raises(UsageError, match="params must be 'all'"):
        grand(m, X, y, params="last")


def test_hooks_equal_vmap_and_reject_unsupported_layers() -> None:
    from gapwatch.examples.grand import grand_hooks

    m = _model()
    X, y = _data()
    assert np.allclose(grand_hooks(m, X, y, chunk_size=4), grand(m, X, y), rtol=1e-4, atol=1e-6)
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2, bias=False))
    xs, ys = torch.randn(6, 5, 3), torch.randint(0, 2, (6,))

    class Pool(torch.nn.Module):  # a sequence model: Linear over 5 tokens, mean-pooled
        def __init__(self) -> None:
            super().__init__()
            self.body = seq

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x).mean(1)

    pm = Pool()
    assert np.allclose(grand_hooks(pm, xs, ys), grand(pm, xs, ys), rtol=1e-4, atol=1e-6)
    bn = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    with pytest.raises(UsageError, match="module '1' is BatchNorm1d"):
        grand_hooks(bn, torch.randn(4, 3), torch.randint(0, 2, (4,)))


@pytest.mark.parametrize("bias", [True, False])
def test_layer_sq_norms_equal_per_example_autograd(bias: bool) -> None:
    """The hook formula for one strided, dilated, padded Conv2d equals each example's own weight+bias gradient."""
    from gapwatch.examples.grand import _layer_sq_norms

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 3, kernel_size=3, stride=2, padding=1, dilation=2, bias=bias).double()
    x = torch.randn(4, 2, 9, 9, dtype=torch.float64)
    out = conv(x)
    g = torch.randn_like(out)  # any output gradient: the loss is <g, out>
    got = _layer_sq_norms(conv, x, g, torch)
    for i in range(4):
        grads = torch.autograd.grad((conv(x[i:i + 1]) * g[i:i + 1]).sum(), list(conv.parameters()))
        assert float(got[i]) == pytest.approx(float(sum(gr.pow(2).sum() for gr in grads)), rel=1e-10)


def test_hooks_skip_frozen_layers_and_reject_grouped_conv() -> None:
    from gapwatch.examples.grand import grand_hooks

    frozen = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    for p in frozen[1].parameters():
        p.requires_grad_(False)
    X, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
    ref = grand(frozen, X, y)  # trainable parameters only
    assert np.allclose(grand_hooks(frozen, X, y), ref, rtol=1e-4, atol=1e-6)
    grouped = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3, groups=2), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    grouped(torch.randn(1, 2, 5, 5))
    with pytest.raises(UsageError, match="conv '0' uses groups"):
        grand_hooks(grouped, torch.randn(2, 2, 5, 5), torch.randint(0, 2, (2,)))
