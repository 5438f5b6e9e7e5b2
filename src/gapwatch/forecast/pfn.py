"""The forecasting PFN: a small transformer that maps an observed curve prefix to bar distributions.

Architecture after "Transformers Can Do Bayesian Inference" (Müller et al. 2022) and LC-PFN (Adriaensen et
al. 2023): each observed evaluation is one token (embedding of its normalised time plus embedding of its
normalised value); each future evaluation is a query token (time only). Observed tokens attend to observed
tokens; query tokens attend to observed tokens only, so every query is predicted independently and any number
of queries can be asked at once. The head outputs logits over ``K`` buckets (see :mod:`.bars`).

torch is imported lazily: this module is only imported when the PFN is used.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import InputError, require

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
WEIGHTS_FILE = "forecast_pfn.pt"
MANIFEST_FILE = "forecast_pfn.json"


def _features_t(torch: Any, t: Any, t_floor: float) -> Any:
    """Time features ``(..., 3)``: ``t``, ``√t`` and ``log(t + t_floor) / -log(t_floor)`` (in [-1, ~0])."""
    tc = t.clamp_min(0.0)
    return torch.stack([t, torch.sqrt(tc), torch.log(tc + t_floor) / -math.log(t_floor)], dim=-1)


def _features_y(torch: Any, y: Any) -> Any:
    return torch.stack([y.clamp(-5.0, 5.0), torch.tanh(y)], dim=-1)


def build_model(d_model: int = 64, n_layers: int = 3, n_heads: int = 4, d_ff: int = 128, n_bins: int = 128,
                t_floor: float = 1e-3) -> Any:
    """A fresh (untrained) PFN as a ``torch.nn.Module``.

    ``t_floor`` sets the resolution of the log-time feature: positions below it (normalised time) look alike.
    Geometric grids spanning several decades (sample-wise curves) need it small.
    """
    if not 0.0 < t_floor < 1.0:
        raise ValueError(f"t_floor must be in (0, 1), got {t_floor}")
    torch = require("torch", "torch")
    nn = torch.nn

    class ForecastPFN(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.config = {"d_model": d_model, "n_layers": n_layers, "n_heads": n_heads, "d_ff": d_ff,
                           "n_bins": n_bins, "t_floor": t_floor}
            self.t_enc = nn.Linear(3, d_model)
            self.y_enc = nn.Linear(2, d_model)
            layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, batch_first=True,
                                               norm_first=True, activation="gelu")
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, n_bins))
            self.register_buffer("borders", torch.linspace(-1.0, 2.0, n_bins + 1))

        def forward(self, t_obs: Any, y_obs: Any, t_query: Any, obs_pad: Any = None) -> Any:
            """``t_obs``, ``y_obs``: ``(B, m)``; ``t_query``: ``(B, q)`` → logits ``(B, q, K)``.

            ``obs_pad`` (optional, bool ``(B, m)``): True marks padding among the observed tokens (curves of
            different lengths in one batch); nothing attends to them."""
            m = t_obs.shape[1]
            q = t_query.shape[1]
            tok_o = self.t_enc(_features_t(torch, t_obs, t_floor)) + self.y_enc(_features_y(torch, y_obs))
            tok_q = self.t_enc(_features_t(torch, t_query, t_floor))
            seq = torch.cat([tok_o, tok_q], dim=1)
            mask = torch.zeros(m + q, m + q, dtype=torch.bool)
            mask[:, m:] = True  # nobody attends to query tokens
            if obs_pad is None:
                h = self.encoder(seq, mask=mask)
            else:  # one boolean mask per curve (and head): query columns and padded observed columns
                cols = torch.cat([obs_pad, torch.ones(obs_pad.shape[0], q, dtype=torch.bool)], dim=1)
                full = (mask[None] | cols[:, None, :]).repeat_interleave(n_heads, dim=0)
                h = self.encoder(seq, mask=full)
            return self.head(self.norm(h[:, m:]))

    return ForecastPFN()


def _memo_key(t_obs: np.ndarray, y_obs: np.ndarray, t_query: np.ndarray) -> bytes:
    """The exact inputs of one forward pass as bytes (shapes included)."""
    arrs = [np.ascontiguousarray(a, dtype=np.float64) for a in (t_obs, y_obs, t_query)]
    return repr([a.shape for a in arrs]).encode() + b"".join(a.tobytes() for a in arrs)


@dataclass
class LoadedPFN:
    """A PFN ready for CPU inference, with its bucket borders (``(K + 1,)`` numpy) and manifest."""

    model: Any
    borders: np.ndarray
    manifest: dict[str, Any]
    #: bucket probabilities of forward passes already made, by exact input (only inside :meth:`prefetched`)
    _memo: dict[bytes, np.ndarray] | None = field(default=None, repr=False)

    def predict_probs(self, t_obs: np.ndarray, y_obs: np.ndarray, t_query: np.ndarray) -> np.ndarray:
        """Bucket probabilities ``(q, K)`` for one curve (normalised inputs, 1-D arrays).

        Inside :meth:`prefetched`, inputs already computed are answered from memory (a copy), and new ones
        are remembered."""
        if self._memo is not None:
            key = _memo_key(t_obs, y_obs, t_query)
            if key not in self._memo:
                self._memo[key] = self._forward_one(t_obs, y_obs, t_query)
            return self._memo[key].copy()
        return self._forward_one(t_obs, y_obs, t_query)

    def predict_probs_batch(self, items: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Bucket probabilities for many curves in one forward pass: ``items`` are ``(t_obs, y_obs, t_query)``
        (1-D, any lengths); returns one ``(q_i, K)`` array per item. Shorter curves are padded and their
        padding masked, so each result equals :meth:`predict_probs` of the item up to float32 rounding."""
        torch = require("torch", "torch")
        if not items:
            return []
        b = len(items)
        m = max(len(it[0]) for it in items)
        q = max(len(it[2]) for it in items)
        t_o, y_o, t_q = np.zeros((b, m)), np.zeros((b, m)), np.zeros((b, q))
        pad = np.ones((b, m), dtype=bool)
        for i, (to, yo, tq) in enumerate(items):
            t_o[i, : len(to)], y_o[i, : len(yo)], t_q[i, : len(tq)] = to, yo, tq
            pad[i, : len(to)] = False
        with torch.no_grad():
            logits = self.model(torch.as_tensor(t_o, dtype=torch.float32), torch.as_tensor(y_o, dtype=torch.float32),
                                torch.as_tensor(t_q, dtype=torch.float32), torch.as_tensor(pad))
            probs = torch.softmax(logits.double(), dim=-1).numpy()
        return [probs[i, : len(it[2])].copy() for i, it in enumerate(items)]

    @contextmanager
    def prefetched(self, items: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Iterator[LoadedPFN]:
        """Within this block, :meth:`predict_probs` answers ``items`` (computed now as one batch, see
        :meth:`predict_probs_batch`) and any repeated input from memory: a sweep forecasts each run and then
        its cross-run forecast on the same inputs (:func:`gapwatch.forecast.sweep.forecast_sweep`)."""
        memo = {_memo_key(*it): p for it, p in zip(items, self.predict_probs_batch(items), strict=True)}
        self._memo = memo
        try:
            yield self
        finally:
            self._memo = None

    def _forward_one(self, t_obs: np.ndarray, y_obs: np.ndarray, t_query: np.ndarray) -> np.ndarray:
        torch = require("torch", "torch")
        with torch.no_grad():
            logits = self.model(
                torch.as_tensor(t_obs, dtype=torch.float32)[None],
                torch.as_tensor(y_obs, dtype=torch.float32)[None],
                torch.as_tensor(t_query, dtype=torch.float32)[None],
            )[0]
            return cast(np.ndarray, torch.softmax(logits.double(), dim=-1).numpy())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_CACHE: dict[str, LoadedPFN] = {}


def load_pfn(weights_dir: Path | None = None) -> LoadedPFN:
    """Load the shipped weights (no network), verifying their SHA-256 against the manifest.

    Raises:
        MissingDependencyError: torch is not installed.
        InputError: weights or manifest missing, or the checksum does not match (corrupted install).
    """
    torch = require("torch", "torch")
    d = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    key = str(d)
    if key in _CACHE:
        return _CACHE[key]
    wpath, mpath = d / WEIGHTS_FILE, d / MANIFEST_FILE
    if not wpath.is_file() or not mpath.is_file():
        raise InputError(f"forecast PFN weights not found ({WEIGHTS_FILE} and {MANIFEST_FILE} expected)", path=d)
    manifest = json.loads(mpath.read_text())
    digest = sha256_file(wpath)
    if digest != manifest.get("sha256"):
        raise InputError(f"checksum mismatch: sha256 {digest} but manifest says {manifest.get('sha256')}; "
                         "reinstall gapwatch", path=wpath)
    state = torch.load(wpath, map_location="cpu", weights_only=True)
    model = build_model(**manifest["config"])
    model.load_state_dict(state)
    model.eval()
    loaded = LoadedPFN(model, model.borders.double().numpy().copy(), manifest)
    _CACHE[key] = loaded
    return loaded
