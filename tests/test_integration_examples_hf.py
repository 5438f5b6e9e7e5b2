"""HF ExampleRecorderTrainerCallback on a real Trainer with a tiny randomly initialised BERT (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from test_integration_hf import args, data, model  # noqa: E402

from gapwatch.errors import UsageError  # noqa: E402
from gapwatch.examples import read_table  # noqa: E402
from gapwatch.integrations.hf import ExampleRecorderTrainerCallback  # noqa: E402

pytestmark = pytest.mark.slow


def train(tmp_path, callbacks, epochs=4):
    tr, _ = data(n=48)
    m = model()
    t = transformers.Trainer(model=m, args=args(tmp_path, num_train_epochs=epochs, eval_strategy="no",
                                                  per_device_train_batch_size=16, per_device_eval_batch_size=20),
                             train_dataset=tr, callbacks=callbacks)
    t.train()
    return m, tr


def test_records_every_example_each_epoch_and_leaves_training_unchanged(tmp_path):
    path = tmp_path / "examples.parquet"
    cb = ExampleRecorderTrainerCallback(path, num_classes=2)
    m, tr = train(tmp_path / "a", [cb])
    t = read_table(path)
    assert t.index.tolist() == list(range(48)) and t.epochs.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(t.label, tr.labels.numpy())
    # the last epoch's records are the final model's per-example loss in eval mode
    m.eval()
    with torch.no_grad():
        logits = m(input_ids=tr.ids, attention_mask=torch.ones_like(tr.ids)).logits
    ce = torch.nn.functional.cross_entropy(logits, tr.labels, reduction="none").numpy()
    np.testing.assert_allclose(t.loss[-1], ce, rtol=1e-4, atol=1e-5)
    # recording never changes training: the same run without the callback ends with identical weights
    m2, _ = train(tmp_path / "b", [])
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_in_memory_table_and_bad_batch_size(tmp_path):
    cb = ExampleRecorderTrainerCallback(num_classes=2, batch_size=7)
    train(tmp_path, [cb], epochs=2)
    assert cb.table.loss.shape == (2, 48)
    with pytest.raises(UsageError, match="batch_size"):
        ExampleRecorderTrainerCallback(batch_size=0)
