"""Plain-PyTorch guard and best-model keeping on a real (tiny) overfitting training run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gapwatch.analysis import analyze  # noqa: E402
from gapwatch.errors import UsageError  # noqa: E402
from gapwatch.replay import replay_guard_log as replay_log  # noqa: E402
from gapwatch.integrations.torch import TorchGuard  # noqa: E402
from gapwatch.keeper import BestKeeper, load_checkpoint  # noqa: E402
from gapwatch.readers import load  # noqa: E402


def noisy_data(seed: int = 0, n: int = 256, d: int = 20, flip: float = 0.4):
    """Linear-rule labels, ``flip`` of the training labels flipped, clean validation: overfits fast."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, generator=g)
    X = torch.randn(2 * n, d, generator=g)
    y = (X @ w > 0).long()
    ytr = y[:n].clone()
    flips = torch.rand(n, generator=g) < flip
    ytr[flips] = 1 - ytr[flips]
    return X[:n], ytr, X[n:], y[n:]


def net(seed: int = 0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(20, 128), torch.nn.ReLU(), torch.nn.Linear(128, 2))


def train(tg: TorchGuard | None, model, opt, epochs: int, start: int = 0, data=None, on_epoch=None):
    Xtr, ytr, Xva, yva = data or noisy_data()
    lossf = torch.nn.CrossEntropyLoss()
    decisions = []
    for epoch in range(start, epochs):
        model.train()
        opt.zero_grad()
        loss = lossf(model(Xtr), ytr)
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            vl = lossf(model(Xva), yva)
        d = tg.observe(step=epoch + 1, epoch=epoch + 1, train_loss=loss, val_loss=vl)
        decisions.append(d)
        if on_epoch is not None:
            on_epoch(epoch)
        if d.stop:
            break
    return decisions


def test_plain_loop_stops_restores_best_and_log_is_analysable(tmp_path):
    model = net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    log = tmp_path / "run.jsonl"
    tg = TorchGuard(model, opt, log=log, verbose=False, restore_on_stop=False)
    snapshots = {}
    ds = train(
        tg,
        model,
        opt,
        300,
        on_epoch=lambda e: snapshots.__setitem__(e, {k: v.clone() for k, v in model.state_dict().items()}),
    )
    assert ds[-1].stop, "the guard should stop an overfitting run"
    meta = tg.finish()
    best = ds[-1].best_index
    assert meta is not None and meta["index"] == best
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[best][k])
    res = analyze(load(log))
    assert res.runs[0].best.epoch == ds[-1].best_epoch
    first, n = replay_log(log)
    assert first is not None and n == len(ds) and first.best_index == best


def test_stop_and_resume_from_checkpoint_gives_identical_decisions(tmp_path):
    data = noisy_data(1)

    def fresh(log):
        m = net(1)
        o = torch.optim.SGD(m.parameters(), lr=0.5)
        return m, o, TorchGuard(m, o, log=log, verbose=False, keep_optimizer=True, overwrite=True)

    m, o, tg = fresh(tmp_path / "ref.jsonl")
    ref = train(tg, m, o, 300, data=data)
    cut = max(2, len(ref) // 2)
    m, o, tg = fresh(tmp_path / "b.jsonl")
    train(tg, m, o, cut, data=data)
    ck = tmp_path / "ck.pt"
    torch.save({"model": m.state_dict(), "opt": o.state_dict(), "guard": tg.state_dict()}, ck)
    del m, o, tg
    m, o, tg = fresh(tmp_path / "b.jsonl")
    state = torch.load(ck, weights_only=True)
    m.load_state_dict(state["model"])
    o.load_state_dict(state["opt"])
    tg.load_state_dict(state["guard"])
    rest = train(tg, m, o, 300, start=cut, data=data)
    assert [(d.action, d.best_index, d.improved) for d in ref] == [
        (d.action, d.best_index, d.improved) for d in tg.guard.decisions
    ]
    assert len(rest) == len(ref) - cut


@pytest.mark.parametrize("limit", [float("inf"), 0.0])
def test_keeper_memory_and_disk_restore_same_weights(tmp_path, limit):
    m = net()
    o = torch.optim.Adam(m.parameters())
    m(torch.randn(3, 20)).sum().backward()
    o.step()
    k = BestKeeper(dir=tmp_path, memory_limit_mb=limit, keep_optimizer=True)
    assert k.save(m, o, index=3, epoch=4.0) == ("memory" if limit else "disk")
    want = {n: v.clone() for n, v in m.state_dict().items()}
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    o2 = torch.optim.Adam(m.parameters())
    assert k.restore(m, o2)["index"] == 3
    assert all(torch.equal(v, want[n]) for n, v in m.state_dict().items())
    assert o2.state_dict()["state"], "optimizer state restored"


def test_keeper_never_overwrites_foreign_file(tmp_path):
    p = tmp_path / "gapwatch-best.pt"
    p.write_bytes(b"user's file")
    k = BestKeeper(dir=tmp_path, memory_limit_mb=0)
    with pytest.raises(UsageError, match="refusing to overwrite"):
        k.save(net())
    assert p.read_bytes() == b"user's file"


def test_keeper_refuses_non_gapwatch_checkpoint(tmp_path):
    p = tmp_path / "x.pt"
    torch.save({"a": torch.zeros(1)}, p)
    with pytest.raises(UsageError, match="not a gapwatch checkpoint"):
        load_checkpoint(p)


CHILD = textwrap.dedent("""
    import sys, torch
    from gapwatch.keeper import BestKeeper
    k = BestKeeper(path=sys.argv[1], memory_limit_mb=0)
    class M(torch.nn.Module):
        def __init__(self, v, n):
            super().__init__()
            self.register_buffer("w", torch.full((n,), float(v)))
    k.save(M(0, 1000), index=0)
    print("ready", flush=True)
    i = 1
    while True:  # keep writing big checkpoints until killed
        k.save(M(i, 4_000_000), index=i)
        i += 1
""")


@pytest.mark.slow
def test_checkpoint_write_killed_midway_leaves_previous_loadable(tmp_path):
    path = tmp_path / "best.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed_mid_write = False
    for attempt in range(5):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, env=env)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            tmps = list(tmp_path.glob(".best.pt.*.tmp"))
            if tmps and tmps[0].stat().st_size > 1_000_000:
                os.kill(proc.pid, signal.SIGKILL)
                killed_mid_write = True
                break
            time.sleep(0.002)
        proc.wait()
        if killed_mid_write:
            break
    assert killed_mid_write, "could not catch the child while writing"
    ck = load_checkpoint(path)  # weights_only=True
    w = ck["model"]["w"]
    # a complete checkpoint: its content matches its own metadata (never half of two writes)
    assert torch.all(w == float(ck["meta"]["index"]))
    assert w.numel() in (1000, 4_000_000)
    assert np.isfinite(w.numpy()).all()
