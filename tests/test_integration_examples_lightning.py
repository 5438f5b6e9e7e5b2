"""Lightning ExampleRecorderCallback on a real Trainer (CPU, data made here)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

from gapwatch.errors import UsageError  # noqa: E402
from gapwatch.examples import IndexedDataset, analyze_examples, read_table  # noqa: E402
from gapwatch.integrations.lightning import ExampleRecorderCallback  # noqa: E402

pytestmark = pytest.mark.slow
N, D = 96, 10


def data(flip: float = 0.3):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(N, D, generator=g)
    y = (X[:, 0] > 0).long()
    flipped = torch.rand(N, generator=g) < flip
    y[flipped] = 1 - y[flipped]
    return torch.utils.data.TensorDataset(X, y), flipped.numpy()


class Net(L.LightningModule):
    """Calls self(x) (so the forward hook sees the logits) or returns them in a dict."""

    def __init__(self, return_logits: bool = False, batch_logits: list | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(D, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))
        self.return_logits = return_logits
        self.batch_logits = batch_logits if batch_logits is not None else []

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        idx, (x, y) = batch
        logits = self(x)
        self.batch_logits.append((idx.clone(), logits.detach().clone(), y.clone()))
        loss = torch.nn.functional.cross_entropy(logits, y)
        return {"loss": loss, "logits": logits} if self.return_logits else loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


def fit(cb, module, epochs=6, batch_size=32, shuffle=True):
    ds, _ = data()
    loader = torch.utils.data.DataLoader(IndexedDataset(ds), batch_size=batch_size, shuffle=shuffle)
    L.Trainer(max_epochs=epochs, callbacks=[cb], logger=False, enable_progress_bar=False,
              enable_model_summary=False, enable_checkpointing=False, accelerator="cpu").fit(module, loader)


@pytest.mark.parametrize("return_logits", [False, True])
def test_records_every_example_every_epoch_with_the_training_logits(tmp_path, return_logits):
    seen: list = []
    path = tmp_path / "examples.parquet"
    cb = ExampleRecorderCallback(path, n=N, num_classes=2)
    fit(cb, Net(return_logits, seen))
    t = read_table(path)
    assert t.index.tolist() == list(range(N)) and t.epochs.tolist() == list(range(6))
    # the recorded loss is the cross-entropy of the logits the training step computed, example by example
    expect = np.zeros((6, N))
    for k, (idx, logits, y) in enumerate(seen):
        ep = k // 3  # 96 examples / batch 32 = 3 batches per epoch
        expect[ep, idx.numpy()] = torch.nn.functional.cross_entropy(logits, y, reduction="none").numpy()
    np.testing.assert_allclose(t.loss, expect, rtol=1e-5, atol=1e-6)
    ds, _ = data()
    np.testing.assert_array_equal(t.label, ds.tensors[1].numpy())


def test_in_memory_table_feeds_the_example_analysis():
    cb = ExampleRecorderCallback(n=N, num_classes=2)
    fit(cb, Net(), epochs=8)
    res = analyze_examples(cb.table)
    assert len(res.scores["el2n"]) == N


def test_batches_without_indices_get_a_clear_error(tmp_path):
    class Plain(Net):
        def training_step(self, batch, _):
            x, y = batch
            return torch.nn.functional.cross_entropy(self(x), y)

    ds, _ = data()
    loader = torch.utils.data.DataLoader(ds, batch_size=32)
    cb = ExampleRecorderCallback(n=N)
    with pytest.raises(UsageError, match="IndexedDataset"):
        L.Trainer(max_epochs=1, callbacks=[cb], logger=False, enable_progress_bar=False,
                  enable_model_summary=False, enable_checkpointing=False, accelerator="cpu").fit(Plain(), loader)


def test_no_logits_anywhere_is_a_clear_error():
    class NoForward(Net):
        def training_step(self, batch, _):
            _, (x, y) = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)  # bypasses forward(): nothing to capture

    with pytest.raises(UsageError, match="no logits"):
        fit(ExampleRecorderCallback(n=N), NoForward(), epochs=1)
