"""Weight averaging: EMA, SWA and soups of the checkpoints around the best evaluation.

* :class:`EMA` — exponential moving average of the weights, updated after every optimizer step
  (``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn``; buffers such as BatchNorm
  statistics are averaged too, so no BN recomputation is needed).
* :class:`SWA` — stochastic weight averaging: an equal-weight average of the weights at the end of every
  epoch from ``start_epoch`` on (Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
  Generalization", 2018), built on ``AveragedModel``; BatchNorm statistics of the averaged weights are
  recomputed with ``torch.optim.swa_utils.update_bn`` over the training loader.
* :class:`Soup` — averages the checkpoints of the evaluations around the best one, as in Wortsman et al.,
  "Model soups: averaging weights of multiple fine-tuned models improves accuracy without increasing
  inference time" (2022), here applied to the checkpoints of one run. ``uniform`` averages all
  ingredients; ``greedy`` (the paper's recipe) starts from the best checkpoint and adds an ingredient only
  if the held-out metric of the average does not get worse, so it is never worse than restore-best on the
  held-out data it is given.

All three work on any ``torch.nn.Module``; they need ``pip install 'gapwatch[torch]'``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import UsageError, require
from .keeper import cpu_copy
from .params import Param, register, validate

#: Parameters of :class:`EMA`, :class:`SWA` and :class:`Soup` (:mod:`gapwatch.params`).
EMA_SPECS: tuple[Param, ...] = register("ema", (
    Param("decay", 0.999, "Weight of the old average per optimizer step: 0.999 averages over about 1000 steps "
          "(the usual EMA horizon for a few epochs of training).", unit="per step", low=0, high=1,
          low_open=True, high_open=True),
))
SWA_SPECS: tuple[Param, ...] = register("swa", (
    Param("start_epoch", 0, "First epoch (as passed to SWA.update) included in the equal-weight average; "
          "Izmailov et al. start averaging late in training, once the learning rate is low.", unit="epochs",
          type=(int, float), low=0),
))
SOUP_SPECS: tuple[Param, ...] = register("soup", (
    Param("radius", 2, "Evaluations kept on each side of the best (up to 2 x radius + 1 ingredients, each a CPU "
          "copy of the weights): the neighbours of the best point lie in the same basin.", unit="evaluations",
          type=int, low=0),
    Param("mode", "min", "Direction of the monitored metric ('min': lower is better).", type=str,
          choices=("min", "max")),
))


def has_batchnorm(model: Any) -> bool:
    """True when ``model`` has BatchNorm layers (whose running statistics must match averaged weights)."""
    torch = require("torch", "torch")
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _recompute_bn(model: Any, loader: Iterable[Any] | None, what: str) -> None:
    if not has_batchnorm(model):
        return
    if loader is None:
        raise UsageError(
            f"{what}: the model has BatchNorm layers, whose running statistics do not match "
            "averaged weights; pass bn_loader= (a training DataLoader) to recompute them"
        )
    swa_utils = require("torch.optim.swa_utils", "torch")
    swa_utils.update_bn(loader, model)


class EMA:
    """Exponential moving average of a model's weights and buffers.

    Args:
        model: the trained module (left untouched).
        decay: weight of the old average per update, in (0, 1); 0.999 averages over ~1000 optimizer steps.
    Call :meth:`update` after every ``optimizer.step()``; evaluate :attr:`module`; :meth:`copy_to` puts the
    average into a model.
    """

    def __init__(self, model: Any, decay: float = 0.999) -> None:
        decay = validate("ema", EMA_SPECS, {"decay": decay})["decay"]
        swa_utils = require("torch.optim.swa_utils", "torch")
        self.decay = float(decay)
        self.module = swa_utils.AveragedModel(
            model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(self.decay), use_buffers=True
        )
        self.updates = 0

    def update(self, model: Any) -> None:
        self.module.update_parameters(model)
        self.updates += 1

    def copy_to(self, model: Any) -> None:
        """Load the averaged weights and buffers into ``model`` (same architecture)."""
        model.load_state_dict(self.module.module.state_dict())

    def state_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "decay": self.decay,
            "updates": self.updates,
            "average": self.module.state_dict(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("version") != 1:
            raise UsageError(f"EMA state: expected version 1, got {state.get('version')!r}")
        self.module.load_state_dict(state["average"])
        self.updates = int(state["updates"])


class SWA:
    """Stochastic weight averaging over epochs ``>= start_epoch`` (equal weights).

    Args:
        model: the trained module (left untouched).
        start_epoch: first epoch (as passed to :meth:`update`) included in the average.
    Call :meth:`update(model, epoch)` at the end of every epoch, then :meth:`finalize(bn_loader)`, and
    evaluate :attr:`module` (or :meth:`copy_to` a model).
    """

    def __init__(self, model: Any, start_epoch: float = 0) -> None:
        start_epoch = validate("swa", SWA_SPECS, {"start_epoch": start_epoch})["start_epoch"]
        swa_utils = require("torch.optim.swa_utils", "torch")
        self.start_epoch = start_epoch
        self.module = swa_utils.AveragedModel(model)
        self.count = 0

    def update(self, model: Any, epoch: float) -> None:
        if epoch >= self.start_epoch:
            self.module.update_parameters(model)
            self.count += 1

    def finalize(self, bn_loader: Iterable[Any] | None = None) -> None:
        """Recompute BatchNorm statistics of the averaged weights (needed when the model has BN)."""
        if self.count == 0:
            raise UsageError(f"SWA: no epoch >= start_epoch={self.start_epoch} was averaged")
        _recompute_bn(self.module, bn_loader, "SWA")

    def copy_to(self, model: Any) -> None:
        model.load_state_dict(self.module.module.state_dict())


class Soup:
    """Collect the checkpoints around the best evaluation and average them.

    Args:
        radius: evaluations kept on each side of the best (the soup has up to ``2 * radius + 1``
            ingredients); memory holds up to ``2 * radius + 1`` CPU copies of the weights.
    Call :meth:`observe(model, value, improved)` after every evaluation (``improved`` from the guard's
    decision), then :meth:`cook` at the end.
    """

    def __init__(self, radius: int = 2, mode: str = "min") -> None:
        p = validate("soup", SOUP_SPECS, {"radius": radius, "mode": mode})
        radius, mode = p["radius"], p["mode"]
        self.radius = radius
        self.mode = mode
        self._recent: deque[tuple[float, dict[str, Any]]] = deque(maxlen=radius)
        self._before: list[tuple[float, dict[str, Any]]] = []
        self._best: tuple[float, dict[str, Any]] | None = None
        self._after: list[tuple[float, dict[str, Any]]] = []

    def observe(self, model: Any, value: float, improved: bool) -> None:
        snap = (float(value), cpu_copy(model.state_dict()))
        if improved:
            self._before = list(self._recent)
            self._best = snap
            self._after = []
        elif self._best is not None and len(self._after) < self.radius:
            self._after.append(snap)
        self._recent.append(snap)

    @property
    def ingredients(self) -> list[tuple[float, dict[str, Any]]]:
        """``(held-out value, state)`` of the kept checkpoints, best first."""
        if self._best is None:
            return []
        return [self._best, *self._before, *self._after]

    def cook(
        self,
        model: Any,
        *,
        greedy: bool = False,
        evaluate: Callable[[Any], float] | None = None,
        bn_loader: Iterable[Any] | None = None,
    ) -> dict[str, Any]:
        """Load the soup into ``model``; returns ``{"ingredients": n_used, "of": n_kept, "value": ...}``.

        Args:
            greedy: add ingredients (best-valued first) only when ``evaluate(model)`` (the monitored held-out
                metric, same ``mode``) does not get worse; else average all (uniform soup).
            evaluate: ``model -> float``; required for ``greedy``.
            bn_loader: training batches for recomputing BatchNorm statistics of the averaged weights.
        """
        ing = self.ingredients
        if not ing:
            raise UsageError("Soup: no checkpoint collected (observe() was never told improved=True)")
        if greedy and evaluate is None:
            raise UsageError("Soup.cook(greedy=True) needs evaluate= (model -> held-out metric)")
        sign = 1.0 if self.mode == "min" else -1.0
        if not greedy:
            model.load_state_dict(_average([s for _, s in ing]))
            _recompute_bn(model, bn_loader, "Soup")
            return {
                "ingredients": len(ing),
                "of": len(ing),
                "value": evaluate(model) if evaluate is not None else None,
            }
        if evaluate is None:  # an internal invariant, not user input
            raise RuntimeError("gapwatch internal error: evaluate is unset")
        best, rest = ing[0], sorted(ing[1:], key=lambda t: sign * t[0])
        chosen = [best[1]]
        model.load_state_dict(best[1])
        _recompute_bn(model, bn_loader, "Soup")
        cur = evaluate(model)
        for _, s in rest:
            model.load_state_dict(_average([*chosen, s]))
            _recompute_bn(model, bn_loader, "Soup")
            v = evaluate(model)
            if math.isfinite(v) and sign * v <= sign * cur:
                chosen.append(s)
                cur = v
        model.load_state_dict(_average(chosen))
        _recompute_bn(model, bn_loader, "Soup")
        return {"ingredients": len(chosen), "of": len(ing), "value": cur}


def _average(states: list[dict[str, Any]]) -> dict[str, Any]:
    """Element-wise mean of floating tensors; integer tensors (``num_batches_tracked``) from the first."""
    out = {}
    for k, v in states[0].items():
        if getattr(v, "is_floating_point", lambda: False)():
            acc = v.detach().clone().double()
            for s in states[1:]:
                acc += s[k].double()
            out[k] = (acc / len(states)).to(v.dtype)
        else:
            out[k] = v.clone() if hasattr(v, "clone") else v
    return out
