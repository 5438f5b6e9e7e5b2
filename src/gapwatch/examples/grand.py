"""GraNd: per-example gradient norms (Paul, Ganguli, Dziugaite, "Deep Learning on a Data Diet", NeurIPS 2021).

GraNd(x, y) = ‖∇_θ ℓ(f_θ(x), y)‖₂, over all parameters (or a chosen subset), evaluated at a model state
(the paper: early in training, averaged over several initialisations). Higher = more important / harder.

* :func:`grand` — all per-example gradients in one vectorised pass with ``torch.func.vmap(grad(...))``.
* :func:`grand_last_layer` — the shortcut for a final linear layer under cross-entropy: the gradient of
  ``W h + b`` is ``(p − y) hᵀ`` and ``p − y``, so its norm is ``‖p − y‖₂ · √(‖h‖² + 1)`` (no backward pass).
* :func:`grand_hooks` — the same norms from one batched backward pass (Linear / Conv2d layers; fast on CPU).
* :func:`grand_naive` — one backward pass per example (the reference the vmap version is tested against).

Models are evaluated in ``eval()`` mode so batch-norm uses running statistics (per-example gradients are
not defined for a batch-statistics batch norm). Torch only; import lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import numpy as np

from ..errors import UsageError, require


def _ce(torch: Any) -> Callable[[Any, Any], Any]:
    return lambda logits, y: torch.nn.functional.cross_entropy(logits, y)


def _select(model: Any, params: str | Iterable[str] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    named = dict(model.named_parameters())
    if params is None or params == "all":
        names = [k for k, v in named.items() if v.requires_grad]
    elif isinstance(params, str):
        raise UsageError(f"params must be 'all' or a list of parameter names, got '{params}'")
    else:
        names = list(params)
        unknown = [k for k in names if k not in named]
        if unknown:
            raise UsageError(f"unknown parameter names {unknown[:3]}; the model has {list(named)[:8]} …")
    if not names:
        raise UsageError("no trainable parameters selected")
    grad_p = {k: named[k].detach() for k in names}
    fixed = {k: v.detach() for k, v in named.items() if k not in grad_p}
    fixed.update({k: v for k, v in model.named_buffers()})
    return grad_p, fixed


def grand(model: Any, inputs: Any, labels: Any, *, params: str | Iterable[str] | None = "all",
          loss_fn: Callable[[Any, Any], Any] | None = None, chunk_size: int = 256) -> np.ndarray:
    """Per-example gradient norms with ``torch.func`` (vmap over examples).

    Args:
        model: a ``torch.nn.Module``; evaluated with ``torch.func.functional_call`` in eval mode.
        inputs: ``(n, ...)`` tensor; labels ``(n,)`` long tensor.
        params: ``"all"`` trainable parameters or a list of parameter names (e.g. the last layer's).
        loss_fn: ``loss_fn(logits (B, C), labels (B,)) -> scalar`` mean loss (default cross-entropy).
        chunk_size: examples per vmap call (memory ∝ chunk_size × parameters).

    Returns:
        ``(n,)`` float64 numpy array; higher = larger gradient = harder / more important.
    """
    torch = require("torch", "torch")
    from torch.func import functional_call, grad, vmap

    if chunk_size < 1:
        raise UsageError(f"chunk_size must be >= 1, got {chunk_size}")
    if inputs.shape[0] != labels.shape[0]:
        raise UsageError(f"{inputs.shape[0]} inputs but {labels.shape[0]} labels")
    lf = loss_fn or _ce(torch)
    was_training = model.training
    model.eval()
    grad_p, fixed = _select(model, params)

    def one(p: dict[str, Any], x: Any, y: Any) -> Any:
        out = functional_call(model, {**fixed, **p}, (x.unsqueeze(0),))
        return lf(out, y.unsqueeze(0))

    per_ex = vmap(grad(one), in_dims=(None, 0, 0))
    outs = []
    try:
        for s in range(0, inputs.shape[0], chunk_size):
            g = per_ex(grad_p, inputs[s:s + chunk_size], labels[s:s + chunk_size])
            sq = sum(v.reshape(v.shape[0], -1).pow(2).sum(dim=1) for v in g.values())
            outs.append(sq.sqrt().detach().cpu())
    finally:
        model.train(was_training)
    return cast(np.ndarray, torch.cat(outs).double().numpy())


def grand_hooks(model: Any, inputs: Any, labels: Any, *, chunk_size: int = 256) -> np.ndarray:
    """GraNd over all parameters from one batched backward pass with activation / output-gradient hooks.

    For ``nn.Linear`` and ``nn.Conv2d`` layers the per-example weight gradient is ``gᵢᵀ aᵢ`` (inputs unfolded
    into patches for convolutions), so its norm comes from the layer's input ``a`` and output gradient ``g``
    without a per-example backward pass (the construction behind Goodfellow's 2015 "Efficient per-example
    gradient computations" and Opacus). Cross-entropy loss only (summed, so each example's output gradient is
    its own). Much faster than :func:`grand` on CPU; equals it up to float rounding.

    Raises:
        UsageError: the model has trainable parameters outside ``Linear`` / ``Conv2d`` layers (use
            :func:`grand`, which handles any module), or a grouped convolution.
    """
    torch = require("torch", "torch")
    F = torch.nn.functional
    if chunk_size < 1:
        raise UsageError(f"chunk_size must be >= 1, got {chunk_size}")
    if inputs.shape[0] != labels.shape[0]:
        raise UsageError(f"{inputs.shape[0]} inputs but {labels.shape[0]} labels")
    layers = _hookable_layers(model, torch)
    sq: list[Any] = []

    def fwd(mod: Any, inp: Any, out: Any) -> None:
        a = inp[0].detach()

        def on_grad(g: Any) -> None:  # returns None: the gradient itself is left unchanged
            sq.append(_layer_sq_norms(mod, a, g, torch))

        out.register_hook(on_grad)

    was_training = model.training
    model.eval()
    handles = [m.register_forward_hook(fwd) for m in layers]
    params = [p for m in layers for p in m.parameters(recurse=False) if p.requires_grad]
    outs = []
    try:
        for s in range(0, inputs.shape[0], chunk_size):
            sq.clear()
            loss = F.cross_entropy(model(inputs[s:s + chunk_size]), labels[s:s + chunk_size], reduction="sum")
            torch.autograd.grad(loss, params)
            outs.append(torch.stack(sq).sum(0).sqrt().detach().cpu())
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return cast(np.ndarray, torch.cat(outs).double().numpy())


def _hookable_layers(model: Any, torch: Any) -> list[Any]:
    """The modules that own trainable parameters, after checking that each is a ``Linear`` or an ungrouped
    ``Conv2d`` with numeric padding (the layers :func:`_layer_sq_norms` handles)."""
    layers = []
    for name, mod in model.named_modules():
        if not any(p.requires_grad for p in mod.parameters(recurse=False)):
            continue
        if not isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d)):
            raise UsageError(f"grand_hooks supports Linear and Conv2d parameters only; module '{name}' is "
                             f"{type(mod).__name__} (use grand(), which handles any module)")
        if isinstance(mod, torch.nn.Conv2d) and (mod.groups != 1 or not isinstance(mod.padding, tuple)):
            raise UsageError(f"grand_hooks: conv '{name}' uses groups or string padding; use grand()")
        layers.append(mod)
    if not layers:
        raise UsageError("no trainable parameters")
    return layers


def _layer_sq_norms(mod: Any, a: Any, g: Any, torch: Any) -> Any:
    """Squared norm of each example's gradient of ``mod``'s weight and bias, shape ``(B,)``, from the layer's
    input ``a`` and the loss gradient ``g`` of its output (both with the batch first).

    Linear, ``a`` of shape ``(B, i)``: ``‖gᵢ aᵢᵀ‖² = ‖aᵢ‖² ‖gᵢ‖²``; with extra (sequence) axes the outer products
    are summed over them first. Conv2d: the weight gradient is ``Gᵢ Aᵢᵀ`` with ``A`` the unfolded input patches
    ``(B, i·kh·kw, L)`` and ``G`` the output gradient ``(B, o, L)``. The bias gradient is ``g`` summed over
    every axis but the last (Linear) or over positions (Conv2d)."""
    B = g.shape[0]
    if isinstance(mod, torch.nn.Linear):
        if a.dim() == 2:
            w = a.pow(2).sum(1) * g.pow(2).sum(1)
        else:
            w = torch.einsum("b...o,b...i->boi", g, a).pow(2).reshape(B, -1).sum(1)
        b = g.reshape(B, -1, g.shape[-1]).sum(1).pow(2).sum(1) if mod.bias is not None else 0.0
        return w + b
    A = torch.nn.functional.unfold(a, mod.kernel_size, dilation=mod.dilation, padding=mod.padding,
                                   stride=mod.stride)
    G = g.reshape(B, g.shape[1], -1)
    w = torch.bmm(G, A.transpose(1, 2)).pow(2).reshape(B, -1).sum(1)
    b = G.sum(2).pow(2).sum(1) if mod.bias is not None else 0.0
    return w + b


def grand_naive(model: Any, inputs: Any, labels: Any, *, params: str | Iterable[str] | None = "all",
                loss_fn: Callable[[Any, Any], Any] | None = None) -> np.ndarray:
    """Reference GraNd: one forward/backward pass per example (slow; for tests and benchmarks)."""
    torch = require("torch", "torch")
    lf = loss_fn or _ce(torch)
    was_training = model.training
    model.eval()
    grad_p, _ = _select(model, params)
    named = dict(model.named_parameters())
    ps = [named[k] for k in grad_p]
    out = np.empty(inputs.shape[0])
    try:
        for i in range(inputs.shape[0]):
            loss = lf(model(inputs[i:i + 1]), labels[i:i + 1])
            gs = torch.autograd.grad(loss, ps)
            out[i] = float(torch.sqrt(sum(g.pow(2).sum() for g in gs)))
    finally:
        model.train(was_training)
    return out


def grand_last_layer(features: np.ndarray, logits: np.ndarray, labels: np.ndarray, *,
                     bias: bool = True) -> np.ndarray:
    """Last-layer GraNd from penultimate features ``(n, d)``, logits ``(n, C)`` and labels ``(n,)`` (numpy).

    Exact for cross-entropy over a final ``Linear(d, C)``: ``‖p − y‖₂ · √(‖h‖² + [bias])``, i.e. EL2N times
    the feature norm. Higher = harder.
    """
    from .scores import el2n, softmax

    h = np.asarray(features, dtype=np.float64)
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if h.ndim != 2 or z.ndim != 2 or h.shape[0] != z.shape[0] or y.shape != (z.shape[0],):
        raise UsageError(f"features (n, d), logits (n, C), labels (n,) expected; got {h.shape}, {z.shape}, "
                         f"{y.shape}")
    return cast(np.ndarray, el2n(softmax(z), y) * np.sqrt((h * h).sum(axis=1) + (1.0 if bias else 0.0)))


def last_linear(model: Any) -> tuple[str, Any]:
    """The name and module of the model's last ``torch.nn.Linear`` (in registration order)."""
    torch = require("torch", "torch")
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if not found:
        raise UsageError("the model has no torch.nn.Linear layer; pass features and logits yourself")
    return found[-1]


def grand_last_layer_model(model: Any, inputs: Any, labels: Any, *, batch_size: int = 1024) -> np.ndarray:
    """Last-layer GraNd of a model whose output is its last ``nn.Linear`` (features captured by a hook)."""
    torch = require("torch", "torch")
    _, lin = last_linear(model)
    feats: list[Any] = []
    h = lin.register_forward_hook(lambda mod, inp, out: feats.append(inp[0].detach()))
    was_training = model.training
    model.eval()
    zs = []
    try:
        with torch.no_grad():
            for s in range(0, inputs.shape[0], batch_size):
                zs.append(model(inputs[s:s + batch_size]))
    finally:
        h.remove()
        model.train(was_training)
    f = torch.cat(feats).reshape(inputs.shape[0], -1).double().cpu().numpy()
    z = torch.cat(zs).double().cpu().numpy()
    return grand_last_layer(f, z, labels.cpu().numpy(), bias=lin.bias is not None)
