"""The monitor decision on logs written by real trainers (CPU, no downloads): an HF Trainer with
``metric_for_best_model`` and a Lightning run with two validation dataloaders."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gapwatch.detectors import run_all  # noqa: E402
from gapwatch.monitor import Monitor, decide  # noqa: E402
from gapwatch.readers import load  # noqa: E402

pytestmark = pytest.mark.slow


def _hf_data(n: int = 96, length: int = 8, flip: float = 0.3, seed: int = 0):  # type: ignore[no-untyped-def]
    class Toks(torch.utils.data.Dataset):
        def __init__(self, ids, labels):  # type: ignore[no-untyped-def]
            self.ids, self.labels = ids, labels

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, i):  # type: ignore[no-untyped-def]
            return {"input_ids": self.ids[i], "attention_mask": torch.ones_like(self.ids[i]),
                    "labels": self.labels[i]}

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 40, (2 * n, length), generator=g)
    y = (ids < 20).sum(1).gt(length // 2).long()
    ytr = y[:n].clone()
    f = torch.rand(n, generator=g) < flip
    ytr[f] = 1 - ytr[f]
    return Toks(ids[:n], ytr), Toks(ids[n:], y[n:])


def test_hf_trainer_metric_for_best_model_decides(tmp_path) -> None:
    """``metric_for_best_model="accuracy"``: trainer_state.json's best_metric is matched to eval_accuracy, and the
    analysis's best point is the checkpoint HF itself kept."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=16, num_labels=2)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg)
    train, val = _hf_data()

    def accuracy(p):  # type: ignore[no-untyped-def]
        return {"accuracy": float((np.argmax(p.predictions, axis=-1) == p.label_ids).mean())}

    out = tmp_path / "out"
    args = transformers.TrainingArguments(
        output_dir=str(out), eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch",
        num_train_epochs=12, per_device_train_batch_size=32, per_device_eval_batch_size=96, learning_rate=3e-3,
        load_best_model_at_end=True, metric_for_best_model="accuracy", greater_is_better=True,
        save_total_limit=1, report_to=[], use_cpu=True, seed=0, disable_tqdm=True, dataloader_num_workers=0)
    trainer = transformers.Trainer(model=model, args=args, train_dataset=train, eval_dataset=val,
                                   compute_metrics=accuracy)
    trainer.train()
    trainer.save_state()
    h = load(out)
    d = decide(h)
    assert d.monitor == Monitor("val", "acc", "max")
    assert d.source == "hf_best_metric" and "eval_accuracy" in d.reason
    assert Monitor("val", "loss", "min") in d.evidence
    hf = h.meta[h.name]["hf"]
    kept = int(str(hf["best_model_checkpoint"]).rsplit("-", 1)[-1])
    from gapwatch.analysis import analyze

    r = analyze(h).runs[0]
    best = r.best["step"] if isinstance(r.best, dict) else r.best.step
    assert best == kept
    for f in run_all(h, monitor=d.monitor):  # every detector runs on the real log
        assert f.detector



def test_lightning_two_validation_dataloaders(tmp_path) -> None:
    L = pytest.importorskip("lightning.pytorch")
    g = torch.Generator().manual_seed(0)
    d = 20
    w = torch.randn(d, generator=g)
    X = torch.randn(384, d, generator=g)
    y = (X @ w > 0).long()
    ytr = y[:128].clone()
    flip = torch.rand(128, generator=g) < 0.3
    ytr[flip] = 1 - ytr[flip]
    shifted = X[256:] * 2.0 + 0.5  # a second held-out set from a shifted distribution
    DL, TD = torch.utils.data.DataLoader, torch.utils.data.TensorDataset

    class Net(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2))

        def training_step(self, batch, _):  # type: ignore[no-untyped-def]
            x, t = batch
            loss = torch.nn.functional.cross_entropy(self.net(x), t)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch, _, dataloader_idx: int = 0):  # type: ignore[no-untyped-def]
            x, t = batch
            logits = self.net(x)
            self.log("val_loss", torch.nn.functional.cross_entropy(logits, t))
            self.log("val_acc", (logits.argmax(1) == t).float().mean())

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.Adam(self.parameters(), lr=1e-2)

    logger = L.loggers.CSVLogger(str(tmp_path), name="two")
    trainer = L.Trainer(max_epochs=8, logger=logger, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", num_sanity_val_steps=0)
    trainer.fit(Net(), DL(TD(X[:128], ytr), batch_size=128),
                [DL(TD(X[128:256], y[128:256]), batch_size=128), DL(TD(shifted, y[256:]), batch_size=128)])
    h = load(tmp_path / "two")
    dec = decide(h)
    assert dec.monitor == Monitor("val", "acc_dataloader_idx_0", "max")
    assert dec.evidence[0] == Monitor("val", "loss_dataloader_idx_0", "min")
    assert Monitor("val", "acc_dataloader_idx_1", "max") in dec.evidence
    from gapwatch.detectors import heldout_regression

    heldout_regression.check(h)  # judges the second set against the first without error
