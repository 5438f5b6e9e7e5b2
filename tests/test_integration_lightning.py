"""Lightning adapter driving a real Trainer on a tiny overfitting task (CPU, no downloads)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

from gapwatch.analysis import analyze  # noqa: E402
from gapwatch.errors import UsageError  # noqa: E402
from gapwatch.integrations.lightning import GapwatchCallback  # noqa: E402
from gapwatch.readers import load  # noqa: E402
from gapwatch.replay import replay_guard_log as replay_log  # noqa: E402

pytestmark = pytest.mark.slow


def loaders(seed: int = 0, n: int = 256, d: int = 20, flip: float = 0.4):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=g)
    X = torch.randn(2 * n, d, generator=g)
    y = (X @ w > 0).long()
    ytr = y[:n].clone()
    f = torch.rand(n, generator=g) < flip
    ytr[f] = 1 - ytr[f]
    DL, TD = torch.utils.data.DataLoader, torch.utils.data.TensorDataset
    return DL(TD(X[:n], ytr), batch_size=n), DL(TD(X[n:], y[n:]), batch_size=n)


class Net(L.LightningModule):
    def __init__(self, validate: bool = True) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(20, 128), torch.nn.ReLU(), torch.nn.Linear(128, 2))
        if not validate:
            self.validation_step = None  # type: ignore[assignment]

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


class Snap(L.Callback):
    def __init__(self, gw: GapwatchCallback) -> None:
        self.gw, self.snaps = gw, {}

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.snaps[self.gw.guard.evaluations - 1] = {
                k: v.clone() for k, v in pl_module.state_dict().items()
            }


def trainer(callbacks, tmp_path, max_epochs=300, **kw):
    return L.Trainer(
        max_epochs=max_epochs,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=tmp_path,
        num_sanity_val_steps=0,
        **kw,
    )


def test_lightning_stops_restores_best_and_writes_history(tmp_path):
    log = tmp_path / "run.jsonl"
    gw = GapwatchCallback(log=log, verbose=False)
    snap = Snap(gw)
    model = Net()
    tr, va = loaders()
    t = trainer([gw, snap], tmp_path, enable_checkpointing=False)
    t.fit(model, tr, va)
    last = gw.guard.last
    assert last is not None and last.stop and t.current_epoch < 299
    best = last.best_index
    assert gw.restored is not None and gw.restored["index"] == best
    for k, v in model.state_dict().items():
        assert torch.equal(v, snap.snaps[best][k])
    h = load(log)
    assert h.has("train", "loss") and len(h.series("val", "loss")) == gw.guard.evaluations
    assert analyze(h).runs[0].best.epoch == last.best_epoch
    first, n = replay_log(log)
    assert first is not None and n == last.evaluation + 1


def test_lightning_resume_from_checkpoint_gives_identical_decisions(tmp_path):
    tr, va = loaders(1)
    gw = GapwatchCallback(log=tmp_path / "ref.jsonl", verbose=False)
    ck = L.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "ck", save_top_k=-1, every_n_epochs=1, filename="{epoch}"
    )
    trainer([gw, ck], tmp_path).fit(Net(), tr, va)
    ref = [(d.action, d.best_index, d.improved) for d in gw.guard.decisions]
    assert ref[-1][0] == "stop"
    cut = max(1, len(ref) // 2)
    path = tmp_path / "ck" / f"epoch={cut - 1}.ckpt"
    gw2 = GapwatchCallback(log=tmp_path / "ref.jsonl", verbose=False)  # same config: resumes, appends
    trainer([gw2], tmp_path, enable_checkpointing=False).fit(Net(), tr, va, ckpt_path=path)
    assert [(d.action, d.best_index, d.improved) for d in gw2.guard.decisions] == ref


def test_lightning_without_validation_names_what_is_missing(tmp_path):
    tr, _ = loaders()
    gw = GapwatchCallback(verbose=False)
    with pytest.raises(UsageError, match="no evaluation is configured"):
        trainer([gw], tmp_path, max_epochs=2, enable_checkpointing=False).fit(Net(validate=False), tr)


def test_lightning_missing_metric_lists_metrics_seen(tmp_path):
    tr, va = loaders()
    gw = GapwatchCallback(monitor="val_acc", verbose=False)
    with pytest.raises(UsageError, match="metrics seen: val_loss"):
        trainer([gw], tmp_path, max_epochs=2, enable_checkpointing=False).fit(Net(), tr, va)
