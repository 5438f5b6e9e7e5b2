"""The text reader's last way of reading a log: the file's own repeated line layouts
(:mod:`gapwatch.readers._templates`).

Fixtures are in the shape of real logs of the corpus (bench/wild) that no phrasing rule read, with the numbers
changed; each was refused ("no validation series" or "unknown log format") before templates were read."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gapwatch import analyze, load
from gapwatch.errors import InputError
from gapwatch.findings import FindingKind
from gapwatch.readers._templates import MIN_TEMPLATE_EVALS, template_records


def _cifar_prose_log(n: int = 50, every: int = 5) -> str:
    """A ResNet on CIFAR-10: each epoch ``\\tepoch e: train acc: x%, loss: y``; every ``every`` epochs a prose
    summary ``The result of … is test acc: x%, loss: y`` and ten per-class lines."""
    out = []
    for e in range(1, n + 1):
        acc = 95.0 - 45.0 * 0.9 ** e
        out.append(f"\tepoch {e}: train acc: {acc:.3f}%, loss: {1.5 * 0.93 ** e + 0.1:.6f}\n")
        if e % every == 0:
            test = 88.0 - 30.0 * 0.85 ** e
            out.append(f"The result of BN_Relu_ResNet18 with Adam is test acc: {test:.2f}%, loss: "
                       f"{0.35 + 0.6 * 0.9 ** e:.6f}\n")
            out.extend(f"\t test acc for class{c} is {test - 3 + c * 0.5:.4f}%\n" for c in range(10))
    return "".join(out)


def test_prose_summary_line_gives_the_test_series(tmp_path: Path) -> None:
    p = tmp_path / "log_train.txt"
    p.write_text(_cifar_prose_log())
    h = load(p)
    s = h.series("test", "acc")
    assert list(s.x) == [float(e) for e in range(5, 51, 5)]
    assert s.values[-1] == pytest.approx(88.0 - 30.0 * 0.85 ** 50, abs=0.01)
    assert h.has("test", "loss") and h.has("train", "acc") and h.has("train", "loss")
    assert any("repeated line layouts" in n.message for n in h.notes)
    (r,) = analyze(h, forecast=False).runs
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING]


def _restoration_log(steps: int = 9000) -> str:
    """A restoration model: a configuration preamble, ``  step   k/15000  loss …  charb …  lr …`` every 100 steps,
    ``  VAL step k: PSNR …  SSIM …`` and ``  saved best.pt (PSNR …)`` every 1000; PSNR peaks at step 4000."""
    out = ["device   : NVIDIA GeForce RTX 4050 Laptop GPU | 6.44 GB | sm_89 | torch 2.12.0+cu126 | cuda 12.6\n",
           "model    : nafnet_sr  4.02 M params  stride 8\n", "\n"]
    best = 0.0
    for k in range(100, steps + 1, 100):
        loss = 0.05 * 0.9998 ** k
        out.append(f"  step {k:6d}/15000  loss {loss:.5f}  charb {loss * 0.8:.5f}  lr {1.7e-4:.2e}\n")
        if k % 1000 == 0:
            psnr = 27.5 - 0.25 * ((k - 4000) / 1000) ** 2 if k <= 4000 else 27.5 - 0.2 * (k - 4000) / 1000
            out.append(f"  VAL step {k}: PSNR {psnr:.4f}  SSIM {psnr / 37:.4f}\n")
            if psnr > best:
                best = psnr
                out.append(f"  saved best.pt (PSNR {psnr:.4f})\n")
    return "".join(out)


def test_split_tagged_step_line_is_read_and_running_best_is_not(tmp_path: Path) -> None:
    p = tmp_path / "train_log.txt"
    p.write_text(_restoration_log())
    h = load(p)
    s = h.series("val", "psnr")
    assert list(s.x) == [float(k) for k in range(1000, 9001, 1000)]
    assert not h.has("train", "psnr")  # (``saved best.pt (PSNR …)`` is a running best)
    (r,) = analyze(h, forecast=False).runs
    over = [f for f in r.findings if f.kind == FindingKind.OVERFITTING]
    assert over and over[0].step == 4000


def test_bare_bracket_counter_and_value_before_an_arrow(tmp_path: Path) -> None:
    """MAML: ``[k/100000] batch loss : x | time : 4.45s`` every 100 and ``[k/100000] mean test loss : a -> b by 1
    grad steps`` every 1000 (the test loss before adaptation is the slot named ``mean test loss``)."""
    lines = []
    for k in range(0, 20001, 100):
        lines.append(f"[{k}/100000] batch loss : {2.5 * 0.9999 ** k:.4f} | time : 4.45s\n")
        if k % 1000 == 0:
            lines.append(f"[{k}/100000] mean test loss : {6.3 * 0.9999 ** k:.4f} -> {0.2 + k * 1e-6:.4f} by 1 "
                         "grad steps\n")
    p = tmp_path / "train_log.txt"
    p.write_text("tf-docker ~/MAML > python main.py\n" + "".join(lines))
    h = load(p)
    assert len(h.series("test", "loss").values) == 21
    assert len(h.series("train", "loss").values) == 201


def test_training_only_log_is_still_refused(tmp_path: Path) -> None:
    """Templates add no held-out series a log does not print: a one-off ``train=…, val=…, test=…`` line (data
    sizes) is no evaluation, and a log of training lines stays refused with the reason."""
    text = "Data ready: train=2034, val=436, test=437\n" + "".join(
        f"  Ep {e:4d}/200 | reward={-600 + e:.4f} | loss={1 / e:.4f}\n" for e in range(1, 60))
    p = tmp_path / "train_log.txt"
    p.write_text(text)
    with pytest.raises(InputError, match="no validation series"):
        analyze(load(p), forecast=False)


def _with_evals(n_evals: int) -> list[str]:
    lines = []
    for e in range(1, 31):
        lines.append(f"epoch {e}: loss {1 / e:.3f}")
        if e % 10 == 0 and e // 10 <= n_evals:
            lines.append(f"after all: valid acc {0.5 + e / 100:.2f}")
    return lines


def test_too_few_evaluations_give_no_records() -> None:
    assert template_records(_with_evals(MIN_TEMPLATE_EVALS - 1)) == []
    recs = template_records(_with_evals(MIN_TEMPLATE_EVALS))
    assert [r["epoch"] for _, r in recs if "valid acc" in r] == [10.0, 20.0, 30.0][:MIN_TEMPLATE_EVALS]


def test_rule_read_log_is_read_as_before(tmp_path: Path) -> None:
    """A log the phrasing rules read with a held-out series never goes through templates (no note)."""
    p = tmp_path / "train.log"
    p.write_text("".join(f"Epoch {e}: Train Loss={1 / e:.3f}, Val Loss={1.2 / e + 0.1:.3f}\n" for e in range(1, 9)))
    h = load(p)
    assert h.has("val", "loss") and not any("line layouts" in n.message for n in h.notes)


def test_value_before_its_name() -> None:
    """``Epoch 3 : 0.52 C.E. Loss, 81% Accuracy`` on a test split: the names follow the values."""
    lines = [f"Test epoch {e} : {1 / e:.3f} C.E. Loss, {50 + e}% Accuracy" for e in range(1, 8)]
    recs = template_records(lines)
    assert [r["epoch"] for _, r in recs] == [float(e) for e in range(1, 8)]
    assert recs[2][1] == {"epoch": 3.0, "test CE Loss": pytest.approx(1 / 3, abs=1e-3), "test Accuracy": 53.0}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.001, 50, allow_nan=False), st.floats(0, 100, allow_nan=False)),
                min_size=MIN_TEMPLATE_EVALS, max_size=30))
def test_values_are_read_as_printed(vals: list[tuple[float, float]]) -> None:
    lines = []
    for e, (loss, acc) in enumerate(vals, start=1):
        lines.append(f"[train] ep {e} :: loss is {loss:.4f}")
        lines.append(f"  -> dev acc is {acc:.2f} %")
    recs = template_records(lines)
    assert [r["epoch"] for _, r in recs] == [float(e) for e in range(1, len(vals) + 1)]
    assert [r["dev acc"] for _, r in recs] == [float(f"{a:.2f}") for _, a in vals]
    assert [r["train loss"] for _, r in recs] == [float(f"{v:.4f}") for v, _ in vals]


def test_table_after_a_preamble(tmp_path: Path) -> None:
    """The tab-separated ``Logger`` of the widely copied pytorch-classification code (every field followed by a
    tab), after a block of ``==>Arguments:`` lines: the header names the columns, each row is an epoch."""
    lines = ["==>Arguments:\n", "arch:resnet18\n", "epochs:30\n", "schedule:[20, 40]\n", "==>Training log:\n",
             "Learning Rate\tTrain Loss\tValid Loss\tTrain Acc\tValid Acc\t\n"]
    for e in range(1, 31):
        val = 1.2 * 0.9 ** e + 0.3 + (0.02 * (e - 12) if e > 12 else 0.0)
        lines.append(f"{0.1:.6f}\t{2.0 * 0.88 ** e:.6f}\t{val:.6f}\t{95 - 70 * 0.85 ** e:.6f}\t"
                     f"{80 - 50 * 0.8 ** e:.6f}\t\n")
    p = tmp_path / "log.txt"
    p.write_text("".join(lines))
    h = load(p)
    assert sorted(h.keys()) == [("train", "acc"), ("train", "loss"), ("val", "acc"), ("val", "loss")]
    assert list(h.series("val", "loss").x) == [float(e) for e in range(1, 31)]


def test_bracketed_split_tags_and_a_running_best_line(tmp_path: Path) -> None:
    """``[Train] loss: …, score: …`` / ``[Dev] loss: …`` after ``epoch: k, iteration: i, step: s`` lines, with a
    closing ``best validation accuracy`` (a running best, which does not count as an evaluation), two runs
    appended: the dev loss is read per epoch and the runs apart."""
    out = []
    for run in range(2):
        out.append("=" * 40 + f"\nStart training: model{run}\n")
        for e in range(5):
            for it in range(0, 300, 100):
                out.append(f"epoch: {e}, iteration: {it}, step: {e * 300 + it}\n")
                out.append(f"[Train] loss: {2 / (e + 1 + it / 300):.6f}, score: {0.5 + e / 20:.6f}\n")
                out.append(f"[Dev] loss: {2.2 / (e + 1 + it / 300):.6f}, score: {0.45 + e / 20:.6f}\n")
        out.append(f"best validation accuracy: {0.7:.5f}\n")
    p = tmp_path / "train_log.txt"
    p.write_text("".join(out))
    h = load(p)
    assert h.runs() == ["train_log#1", "train_log#2"]
    assert list(h.series("val", "loss", run="train_log#2").x) == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_timm_running_means_and_epoch(tmp_path: Path) -> None:
    """timm's ``train.py`` logging (``Train: 3 [ 200/390 ( 51%)]  Loss: 4.21 (4.35)`` and ``Test: [  78/78]  Loss:
    … (…)  Acc@1: … (…)``, behind a logger named ``train``): the epoch comes from ``Train: 3 [``, the running
    means in parentheses are read, and the test lines are the test split's (not the logger's name's)."""
    out = []
    for e in range(12):
        for b in (0, 200, 389):
            loss = 6.0 * 0.85 ** e
            out.append(f"2024-03-06 19:40:31,330 -                train: [    INFO] - Train: {e} [ {b:3d}/390 "
                       f"({b * 100 // 390:3d}%)]  Loss: {loss + 0.4:.4f} ({loss:.3f})  LR: 1.000e-04\n")
        for b in (0, 78):
            acc = 60 - 50 * 0.8 ** e
            out.append(f"2024-03-06 19:56:18,442 -                train: [    INFO] - Test: [  {b}/78]  Time: 0.209 "
                       f"(0.167)  Loss:  {2.0 * 0.9 ** e + 1:.4f} ({2.0 * 0.9 ** e + 1.01:.4f})  Acc@1: "
                       f"{acc + 3:.4f} ({acc:.4f})\n")
    p = tmp_path / "train.log"
    p.write_text("".join(out))
    h = load(p)
    s = h.series("test", "acc@1")
    assert list(s.x) == [float(e) for e in range(12)]
    assert s.values[-1] == pytest.approx(60 - 50 * 0.8 ** 11, abs=1e-3)
    assert h.series("train", "loss").values[0] == pytest.approx(6.0, abs=1e-3)


def test_a_repeated_heading_names_the_split_of_the_lines_after_it(tmp_path: Path) -> None:
    """An ST-GCN processor log: ``Training epoch: k`` then ``\\tmean_loss: …``, and every 5 epochs ``Eval epoch: k``
    then ``\\tmean_loss: …`` and ``\\tTop1: …%`` — the same ``mean_loss`` layout, told apart by the heading printed
    before it."""
    out = []
    for e in range(30):
        out.append(f"[03.24.23|09:57:10] Training epoch: {e}\n[03.24.23|09:57:31] \tmean_loss: {3 * 0.9 ** e:.6f}\n"
                   "[03.24.23|09:57:31] Done.\n")
        if e % 5 == 4:
            out.append(f"[03.24.23|09:57:51] Eval epoch: {e}\n[03.24.23|09:58:13] \tmean_loss: {2 + 0.9 ** e:.6f}\n"
                       f"[03.24.23|09:58:13] \tTop1: {60 - 40 * 0.9 ** e:.2f}%\n[03.24.23|09:58:13] Done.\n")
    p = tmp_path / "log.txt"
    p.write_text("".join(out))
    h = load(p)
    assert list(h.series("val", "loss").x) == [4.0, 9.0, 14.0, 19.0, 24.0, 29.0]
    assert len(h.series("train", "loss").values) == 30
    assert h.has("val", "top1") or h.has("val", "acc")


def test_a_list_of_names_then_values() -> None:
    """``Epoch 5  IS, FID: 1.666, 341.353``: each name takes its value in order (``FID`` was given the IS)."""
    lines = []
    for e in range(5, 40, 5):
        lines.append(f"10-03 16:07:23: utils.py[151]: Epoch {e}  loss: {1 / e:.4f}")
        lines.append(f"10-03 16:07:23: utils.py[151]: Epoch {e}  test IS, FID: {1 + e / 10:.3f}, {300 / e:.3f}")
    recs = template_records(lines)
    fid = [r["test FID"] for _, r in recs if "test FID" in r]
    assert fid == [float(f"{300 / e:.3f}") for e in range(5, 40, 5)]
