"""Hugging Face adapter driving a real Trainer with a tiny randomly initialised BERT (CPU, no downloads)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from gapwatch.analysis import analyze  # noqa: E402
from gapwatch.errors import UsageError  # noqa: E402
from gapwatch.integrations.hf import GapwatchTrainerCallback  # noqa: E402
from gapwatch.readers import load  # noqa: E402
from gapwatch.replay import replay_guard_log as replay_log  # noqa: E402

pytestmark = pytest.mark.slow


class Toks(torch.utils.data.Dataset):
    def __init__(self, ids, labels):
        self.ids, self.labels = ids, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {
            "input_ids": self.ids[i],
            "attention_mask": torch.ones_like(self.ids[i]),
            "labels": self.labels[i],
        }


def data(seed: int = 0, n: int = 128, length: int = 8, flip: float = 0.4):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 40, (2 * n, length), generator=g)
    y = (ids < 20).sum(1).gt(length // 2).long()  # label: mostly-low tokens
    ytr = y[:n].clone()
    f = torch.rand(n, generator=g) < flip
    ytr[f] = 1 - ytr[f]
    return Toks(ids[:n], ytr), Toks(ids[n:], y[n:])


def model():
    cfg = transformers.BertConfig(
        vocab_size=40,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=16,
        num_labels=2,
    )
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(cfg)


def args(tmp_path, **kw):
    base = dict(
        output_dir=str(tmp_path / "out"),
        eval_strategy="epoch",
        num_train_epochs=150,
        per_device_train_batch_size=64,
        per_device_eval_batch_size=128,
        learning_rate=3e-3,
        report_to=[],
        save_strategy="no",
        logging_strategy="epoch",
        use_cpu=True,
        seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    base.update(kw)
    return transformers.TrainingArguments(**base)


class Snap(transformers.TrainerCallback):
    def __init__(self, gw):
        self.gw, self.snaps = gw, {}

    def on_evaluate(self, args, state, control, model=None, **kw):
        self.snaps[self.gw.guard.evaluations - 1] = {k: v.clone() for k, v in model.state_dict().items()}


def test_hf_trainer_stops_restores_best_and_writes_history(tmp_path):
    tr, ev = data()
    log = tmp_path / "run.jsonl"
    gw = GapwatchTrainerCallback(log=log, verbose=False)
    snap = Snap(gw)
    m = model()
    t = transformers.Trainer(
        model=m, args=args(tmp_path), train_dataset=tr, eval_dataset=ev, callbacks=[gw, snap]
    )
    t.train()
    last = gw.guard.last
    assert last is not None and last.stop and t.state.epoch < 150
    best = last.best_index
    assert gw.restored is not None and gw.restored["index"] == best
    for k, v in m.state_dict().items():
        assert torch.equal(v, snap.snaps[best][k]), k
    h = load(log)
    assert h.has("train", "loss") and len(h.series("val", "loss")) == gw.guard.evaluations
    assert analyze(h).runs[0].best.epoch == last.best_epoch
    first, n = replay_log(log)
    assert first is not None and n == last.evaluation + 1


def test_hf_resume_from_checkpoint_gives_identical_decisions(tmp_path):
    tr, ev = data(1)
    a = args(tmp_path, save_strategy="epoch", num_train_epochs=60)
    gw = GapwatchTrainerCallback(log=tmp_path / "run.jsonl", verbose=False, memory_limit_mb=0)
    transformers.Trainer(model=model(), args=a, train_dataset=tr, eval_dataset=ev, callbacks=[gw]).train()
    ref = [(d.action, d.best_index, d.improved) for d in gw.guard.decisions]
    assert ref[-1][0] == "stop"
    cut = max(1, len(ref) // 2)
    steps_per_epoch = 2  # 128 examples, batch 64
    ck = tmp_path / "out" / f"checkpoint-{cut * steps_per_epoch}"
    gw2 = GapwatchTrainerCallback(log=tmp_path / "run.jsonl", verbose=False, memory_limit_mb=0)
    t2 = transformers.Trainer(model=model(), args=a, train_dataset=tr, eval_dataset=ev, callbacks=[gw2])
    t2.train(resume_from_checkpoint=str(ck))
    live = next(c for c in t2.callback_handler.callbacks if isinstance(c, GapwatchTrainerCallback))
    assert live is gw2  # resumed from trainer_state.json without restore_callback_states_from_checkpoint
    assert [(d.action, d.best_index, d.improved) for d in live.guard.decisions] == ref
    assert live.restored is not None and live.restored["index"] == ref[-1][1]


def test_hf_state_round_trips_through_trainer_state_json(tmp_path):
    """The exported state is JSON and rebuilding the callback the way Trainer does restores decisions."""
    import json

    gw = GapwatchTrainerCallback(verbose=False)
    for i, v in enumerate([1.0, 0.8, 0.7, 0.75, 0.9]):
        gw.guard.observe(step=i, epoch=i, eval_loss=v)
    st = json.loads(json.dumps(gw.state()))
    gw2 = type(gw)(**st["args"])
    for k, v in st["attributes"].items():
        setattr(gw2, k, v)
    assert [d.to_dict() for d in gw2.guard.decisions] == [d.to_dict() for d in gw.guard.decisions]
    assert (
        gw2.guard.observe(step=5, epoch=5, eval_loss=1.0).to_dict()
        == gw.guard.observe(step=5, epoch=5, eval_loss=1.0).to_dict()
    )


def test_hf_without_evaluation_names_what_is_missing(tmp_path):
    tr, _ = data()
    t = transformers.Trainer(
        model=model(),
        args=args(tmp_path, eval_strategy="no", num_train_epochs=1),
        train_dataset=tr,
        callbacks=[GapwatchTrainerCallback(verbose=False)],
    )
    with pytest.raises(UsageError, match="no evaluation is configured"):
        t.train()
