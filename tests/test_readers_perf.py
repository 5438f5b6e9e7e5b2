"""The vectorised paths that make big logs fast give exactly what the plain versions give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch.stats import _mk_s, rolling_median


def _rolling_median_loop(v: np.ndarray, window: int) -> np.ndarray:
    h = window // 2
    return np.array([np.median(v[max(0, i - h): i + h + 1]) for i in range(v.size)])


_vals = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=80, deadline=None)
@given(_vals, st.integers(2, 15))
def test_rolling_median_vectorised_equals_loop(vals: list[float], window: int) -> None:
    v = np.asarray(vals)
    np.testing.assert_array_equal(rolling_median(v, window), _rolling_median_loop(v, window))


def _mk_s_pairs(v: np.ndarray) -> float:
    return float(np.triu(np.sign(v[None, :] - v[:, None]), 1).sum())


def test_mann_kendall_s_large_n_equals_pairwise() -> None:
    rng = np.random.default_rng(0)
    for v in (rng.normal(size=2500), np.round(rng.normal(size=3000), 1),  # many ties
              np.arange(2600.0), np.arange(2600.0)[::-1], np.ones(2100)):
        assert _mk_s(v) == _mk_s_pairs(v)


def test_sweep_of_every_format_equals_per_file_loads(tmp_path: Path) -> None:
    """A sweep assembles all runs' columns into one History at once; each run must equal its own load."""
    from gapwatch.readers import load

    rng = np.random.default_rng(3)
    writers = {
        "keras.csv": lambda v: "epoch,loss,val_loss\n" + "".join(f"{e},{a},{b}\n" for e, (a, b) in enumerate(v)),
        "hist.csv": lambda v: ",loss,val_loss\n" + "".join(f"{e},{a},{b}\n" for e, (a, b) in enumerate(v)),
        "log.jsonl": lambda v: "".join(f'{{"epoch": {e + 1}, "train_loss": {a}, "val_loss": {b}}}\n'
                                       for e, (a, b) in enumerate(v)),
        "train.log": lambda v: "".join(f"Epoch {e + 1}/{len(v)}\n10/10 [====] - 1s - loss: {a} - val_loss: {b}\n"
                                       for e, (a, b) in enumerate(v)),
    }
    for i in range(24):
        d = tmp_path / f"seed{i}"
        d.mkdir()
        v = np.round(rng.random((int(rng.integers(2, 12)), 2)), 4).tolist()
        name = list(writers)[i % len(writers)]
        (d / name).write_text(writers[name](v))
    h = load(tmp_path)
    assert len(h.runs()) == 24
    for r in h.runs():
        f = next((tmp_path / r).parent.glob(Path(r).name + ".*"))
        single = load(f)
        a, b = h.series("val", "loss", run=r), single.series("val", "loss")
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.epoch, b.epoch)
