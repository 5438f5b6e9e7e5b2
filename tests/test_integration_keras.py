"""Keras 3 adapter (torch backend) on a tiny overfitting task."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover - another test imported keras first
    pytest.skip("keras was already imported with another backend", allow_module_level=True)

from gapwatch.errors import UsageError  # noqa: E402
from gapwatch.integrations.keras import GapwatchKerasCallback  # noqa: E402
from gapwatch.readers import load  # noqa: E402
from gapwatch.replay import replay_guard_log as replay_log  # noqa: E402

pytestmark = pytest.mark.slow


def data(seed=0, n=256, d=20, flip=0.4):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    X = rng.standard_normal((2 * n, d)).astype("float32")
    y = (X @ w > 0).astype("int64")
    ytr = y[:n].copy()
    f = rng.random(n) < flip
    ytr[f] = 1 - ytr[f]
    return X[:n], ytr, X[n:], y[n:]


def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential(
        [keras.Input((20,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(2)]
    )
    m.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return m


class Snap(keras.callbacks.Callback):
    def __init__(self, gw):
        super().__init__()
        self.gw, self.snaps = gw, {}

    def on_epoch_end(self, epoch, logs=None):
        self.snaps[self.gw.guard.evaluations - 1] = [np.array(w) for w in self.model.get_weights()]


@pytest.mark.parametrize("limit", [float("inf"), 0.0])
def test_keras_stops_restores_best_and_writes_history(tmp_path, limit):
    Xtr, ytr, Xva, yva = data()
    log = tmp_path / "run.jsonl"
    gw = GapwatchKerasCallback(log=log, verbose=False, memory_limit_mb=limit)
    snap = Snap(gw)
    m = model()
    m.fit(Xtr, ytr, validation_data=(Xva, yva), epochs=300, batch_size=256, verbose=0, callbacks=[gw, snap])
    last = gw.guard.last
    assert last is not None and last.stop and last.evaluation < 299
    best = last.best_index
    for a, b in zip(m.get_weights(), snap.snaps[best], strict=True):
        np.testing.assert_array_equal(a, b)
    h = load(log)
    assert h.has("train", "loss") and h.has("val", "acc")
    first, n = replay_log(log)
    assert first is not None and n == last.evaluation + 1


def test_keras_without_validation_names_what_is_missing(tmp_path):
    Xtr, ytr, _, _ = data()
    with pytest.raises(UsageError, match="validation_data"):
        model().fit(Xtr, ytr, epochs=2, verbose=0, callbacks=[GapwatchKerasCallback(verbose=False)])
