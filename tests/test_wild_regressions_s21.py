"""Regressions found on the corpus of real logs (bench/wild) in the twenty-first session: fixtures in the shape of
the real files, numbers changed, with the verdict a reader of the raw curves gave them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gapwatch import analyze, load


def _percent_log(tmp_path: Path, epochs: int = 40) -> Path:
    """A hand-written loop that prints its accuracy with the unit in parentheses (``Val Acc (%): 71.2``): the
    held-out loss bottoms out at epoch 12 and rises (over-confidence) while the accuracy keeps climbing."""
    rng = np.random.default_rng(3)
    lines = []
    for e in range(1, epochs + 1):
        train = 1.2 * 0.93 ** e + 0.05
        val = 0.55 + 0.0015 * (e - 12) ** 2 + 0.005 * rng.standard_normal()
        acc = 90.0 - 25.0 * 0.9 ** e + 0.1 * rng.standard_normal()
        lines.append(f"Epoch {e}, Train Loss: {train:.4f}, Val Loss (MSE): {val:.4f}, Val Acc (%): {acc:.2f}")
    p = tmp_path / "train_log.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_a_percent_unit_after_a_name_is_not_part_of_it(tmp_path: Path) -> None:
    """``Val Acc (%): 71.2`` is the validation accuracy (the qualifier ``(%)`` was not a name's qualifier, so the
    pair was dropped and the run judged by its loss alone)."""
    h = load(_percent_log(tmp_path))
    assert ("val", "acc") in set(h.keys())
    assert np.allclose(h.series("val", "acc").values[:1], [90.0 - 22.5], atol=0.5)


def test_the_run_is_judged_by_its_percent_accuracy_not_its_rising_loss(tmp_path: Path) -> None:
    (r,) = analyze(load(_percent_log(tmp_path)), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "acc"
    assert not [f for f in r.findings if f.kind.value == "overfitting"]
