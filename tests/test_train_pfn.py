"""The PFN training entry point: a tiny CPU run writes loadable, checksummed weights; resuming is exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gapwatch.forecast import forecast_curve
from gapwatch.forecast.pfn import load_pfn, sha256_file
from gapwatch.forecast.train_pfn import main as train_main

TINY = ["--batch", "4", "--d-model", "16", "--layers", "1", "--heads", "2", "--d-ff", "16", "--bins", "16",
        "--eval-every", "1000"]


def test_tiny_training_run_writes_loadable_weights(tmp_path: Path) -> None:
    out = tmp_path / "w"
    assert train_main(["--steps", "6", "--ckpt", str(tmp_path / "ck.pt"), "--out", str(out), *TINY]) == 0
    man = json.loads((out / "forecast_pfn.json").read_text())
    assert man["sha256"] == sha256_file(out / "forecast_pfn.pt")
    assert man["training"]["steps"] == 6 and man["config"]["t_floor"] == 1e-5
    nll = man["training"]["held_out_prior_nll"]
    assert set(nll) == {"mixture", "old_prior", "degradation"} and all(np.isfinite(v) for v in nll.values())
    assert man["prior"]["P_DEGRADE"] > 0 and man["training"]["init"] is None
    pfn = load_pfn(out)
    assert pfn.borders.shape == (17,) and np.all(np.diff(pfn.borders) > 0)
    x = np.arange(1, 21, dtype=float)
    import gapwatch.forecast.pfn as pfn_mod

    old = pfn_mod.WEIGHTS_DIR
    pfn_mod.WEIGHTS_DIR = out
    try:
        fc = forecast_curve(x, 1.0 / x, observed=10, method="pfn")
    finally:
        pfn_mod.WEIGHTS_DIR = old
    assert fc.method == "pfn" and np.all(np.isfinite(fc.quantiles["0.5"]))


def test_resuming_from_a_checkpoint_gives_the_same_weights(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    train_main(["--steps", "8", "--ckpt", str(tmp_path / "a.pt"), "--out", str(a), *TINY])
    # the same run in two chunks: stop after step 3, then resume from the checkpoint
    train_main(["--steps", "8", "--ckpt", str(tmp_path / "b.pt"), "--stop-at", "3", "--out", str(b), *TINY])
    assert not (b / "forecast_pfn.pt").exists()
    train_main(["--steps", "8", "--ckpt", str(tmp_path / "b.pt"), "--out", str(b), *TINY])
    sa = torch.load(a / "forecast_pfn.pt", weights_only=True)
    sb = torch.load(b / "forecast_pfn.pt", weights_only=True)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_fine_tuning_starts_from_the_given_weights(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    train_main(["--steps", "3", "--ckpt", str(tmp_path / "a.pt"), "--out", str(a), *TINY])
    # zero learning rate: fine-tuning must hand back exactly the weights it started from (borders included)
    train_main(["--steps", "2", "--lr", "0", "--init", str(a), "--ckpt", str(tmp_path / "b.pt"), "--out", str(b),
                *TINY])
    sa = torch.load(a / "forecast_pfn.pt", weights_only=True)
    sb = torch.load(b / "forecast_pfn.pt", weights_only=True)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert json.loads((b / "forecast_pfn.json").read_text())["training"]["init"] == str(a)
