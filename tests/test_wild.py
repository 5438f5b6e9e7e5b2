"""A quality floor on real logs from the wild: the committed files of ``bench/wild/`` (permissively licensed).

Each test runs the real pipeline (``gapwatch.load`` → ``gapwatch.analyze``) on a file a public project committed
and checks the verdict against the judgement written before gapwatch was run on it (``bench/wild/README.md``).
The corpus-wide shares are measured by ``bench/bench_wild.py``; these tests keep the individual conventions and
verdicts from regressing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import gapwatch
from gapwatch.names import metric_mode, series_table

ROOT = Path(__file__).resolve().parents[1]
WILD = ROOT / "bench" / "wild"
sys.path.insert(0, str(ROOT / "bench"))

import bench_wild  # noqa: E402  (the benchmark's own scoring rule)

MANIFEST: dict[str, Any] = json.loads((WILD / "manifest.json").read_text())
COMMITTED = [e for e in MANIFEST["entries"] if e["committed"]]
#: Committed entries the suite runs gapwatch on: batch 3's ``test`` files stay unseen (nobody runs gapwatch on a
#: ``test`` entry of batch 3 before the single test run of ``bench_wild.py``; ``bench/wild/README.md``).
RUN = [e for e in COMMITTED if not (e.get("batch") == 3 and e["split"] == "test")]
#: Committed entries gapwatch must get right (their judgement and gapwatch's verdict agree today).
MUST_BE_RIGHT = (
    "AD_Styles_gpt2_korean_finetuning_training_log_4def63",  # application log: refused
    "AmirrezaSedghamiz_Phi2_microsoft_model_finetuning_training_log_0f4a22",  # resource monitor log: refused
    "ChengSashankh_trying_GAT_training_log_csv_d0c6bc",  # val acc stuck at the majority class
    "ChengSashankh_trying_GAT_training_log_txt_e1e452",  # per-batch training log, no held-out: refused
    "NijatZeynalov_mT5_based_azerbaijani_news_summarize_trainer_state_json_d76537",  # mT5, clean
    "Velihh_ML_text_trainer_state_json_ca7d0f",  # two evaluations, clean
    "aigoncharov_trainer_state_viz_trainer_state_json_8c259b",  # six eval sets, all get worse
)


@pytest.fixture(autouse=True)
def _layout_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorBoard runs are laid out in a temporary directory of the test session, not the shared one."""
    monkeypatch.setattr(bench_wild, "LAYOUT", tmp_path_factory.getbasetemp() / "wild-layout")


def _entry(prefix: str) -> dict[str, Any]:
    found = [e for e in COMMITTED if e["id"].startswith(prefix)]
    assert len(found) == 1, prefix
    return found[0]


def _path(e: dict[str, Any]) -> Path:
    return bench_wild.entry_path(e, WILD / "files")


def test_manifest_entries_have_provenance_and_a_judgement() -> None:
    entries = MANIFEST["entries"]
    assert len(entries) >= 150
    assert len({e["repo"] for e in entries}) >= 60
    assert len({e["format"] for e in entries}) >= 8
    for e in entries:
        assert {"repo", "path", "commit", "license", "split", "judgement"} <= set(e), e["id"]
        assert len(e["commit"]) == 40
        assert e["split"] in ("dev", "test")
        assert e["judgement"]["kind"] in ("log", "not_a_log")
    # one repository's logs are all in one split
    split_of: dict[str, set[str]] = {}
    for e in entries:
        split_of.setdefault(e["repo"], set()).add(e["split"])
    assert all(len(s) == 1 for s in split_of.values())


def test_only_permissive_files_are_committed() -> None:
    on_disk = {p.name for p in (WILD / "files").iterdir() if p.is_dir()}
    assert on_disk == {e["id"] for e in COMMITTED}
    assert all(e["license"] in ("MIT", "Apache-2.0", "BSD", "BSD-2-Clause", "BSD-3-Clause") for e in COMMITTED)
    assert all(_path(e).exists() for e in COMMITTED)


@pytest.mark.parametrize("entry_id", MUST_BE_RIGHT)
def test_committed_log_verdict_matches_judgement(entry_id: str) -> None:
    e = _entry(entry_id)
    v = bench_wild.gapwatch_verdict(_path(e))
    ok, cls = bench_wild.right(e["judgement"], v)
    assert ok, (cls, v)
    assert not v.crashed


def test_quality_floor_on_committed_files() -> None:
    right = [bench_wild.right(e["judgement"], bench_wild.gapwatch_verdict(_path(e)))[0] for e in RUN]
    assert sum(right) >= len(MUST_BE_RIGHT)


#: Committed files that are not logs which gapwatch still reads as a log: fresh ``test`` entries whose miss the
#: look that first ran them measured (``bench/results/wild.md``); never tuned on, so they stay misses here.
KNOWN_MISREAD = frozenset({
    "MichaelShpyl_AI_Text_Detection_Tool_logs_training_log_69a7be",  # batch 15 test: pipeline lines + one eval dict
    # batch 21 dev: a Keras-style history of one value per list, a final summary; a fit of one epoch writes the
    # same file, and a run after its first evaluation gets the "evaluate more often" data note, not an error
    "A_SHOJAEI_adaptive_gating_network_for_heterogeneous_tab_2be2d9",
    # batch 27 dev: a debug print of one training step, then thousands of printed tensors (read as a run)
    "UreMine02_DQN_MedSAM2_cuong_txt_dab474",
    # batch 28 dev: final accuracy for each of 100 pruning rates (a pandas table, one row per setting) read as a curve
    "YusukeKanai_LTHLearning_experiments_accuracy_of_various_4f1ae9",
    # batch 27 test (seen only through this suite; not looked into, not tuned on): read as a log
    "GeorgePearse_rf_detr_mask_training_logs_training_log_20_aac35d",
    # batch 38 dev: one JSON line of final numbers stored as strings, read as a run evaluated once (the "evaluate
    # more often" data note, as for the one-value history above: a logger's first record looks the same)
    "SaschaMet_melanoma_classification_results_metrics_txt_c53205",
})


def test_files_that_are_not_logs_are_refused_with_one_line() -> None:
    for e in RUN:
        if e["judgement"]["kind"] != "not_a_log" or e["id"] in KNOWN_MISREAD:
            continue
        with pytest.raises(gapwatch.GapwatchError) as info:
            gapwatch.analyze(gapwatch.load(_path(e)), forecast=False, examples=False)
        assert "\n" not in str(info.value).strip()


def test_several_eval_sets_each_read_as_held_out() -> None:
    """HF ``eval_<set>_loss``/``eval_<set>_accuracy``: six held-out sets, never the training split."""
    h = gapwatch.load(_path(_entry("aigoncharov_trainer_state_viz")))
    keys = set(h.keys())
    for g in range(6):
        assert (f"g{g}", "loss") in keys
        assert (f"g{g}", "acc") in keys
    assert ("train", "loss") in keys


def test_ultralytics_v5_metrics_are_validation_and_higher_is_better() -> None:
    rows = series_table(gapwatch.load(_path(_entry("Leaferd6712_Australian_Bills_Object_Detection_YOLOv5_runs_"
                                                       "train_exp_results_csv"))))
    by = {str(r["name"]).strip(): r for r in rows}
    for name in ("metrics/mAP_0.5", "metrics/mAP_0.5:0.95", "metrics/precision", "metrics/recall"):
        assert by[name]["split"] == "val" and by[name]["mode"] == "max", by[name]
    lrs = [r for r in rows if str(r["name"]).strip().startswith("x/lr")]  # learning rates: listed, never judged
    assert lrs and all(r["role"] == "schedule" and r["split"] is None for r in lrs)
    assert metric_mode("map_0_5") == "max"


def test_hf_seq2seq_rouge_is_max_and_bookkeeping_is_not_a_series() -> None:
    rows = series_table(gapwatch.load(_path(_entry("NijatZeynalov_mT5"))))
    series = {r["name"] for r in rows if r["role"] == "metric"}
    assert not series & {"learning_rate", "grad_norm", "eval_runtime", "eval_samples_per_second", "epoch",
                         "eval_gen_len", "total_flos"}
    assert {r["name"]: r["role"] for r in rows}.get("learning_rate") == "schedule"  # listed, kept aside
    rouge = [r for r in rows if r["name"] == "eval_rougeL"]
    assert rouge and rouge[0]["mode"] == "max" and rouge[0]["split"] == "val"


# ---------------------------------------------------------------- issue 12 class 3: batch noise is not instability
def _hf_state(losses: list[float], evals: list[float], every: int = 100) -> dict[str, Any]:
    """A trainer_state.json in HF's shape: a training loss every ``every`` steps, an eval every 10 of those."""
    log: list[dict[str, Any]] = []
    for i, v in enumerate(losses, start=1):
        log.append({"epoch": i / 50, "grad_norm": 1.0, "learning_rate": 2e-5, "loss": round(v, 4), "step": i * every})
        if i % 10 == 0 and i // 10 <= len(evals):
            log.append({"epoch": i / 50, "eval_loss": evals[i // 10 - 1], "eval_runtime": 3.2,
                        "eval_samples_per_second": 80.0, "step": i * every})
    return {"global_step": len(losses) * every, "log_history": log, "best_metric": None}


def _spikes(tmp_path: Path, state: dict[str, Any]) -> list[Any]:
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps(state))
    a = gapwatch.analyze(gapwatch.load(p), forecast=False, examples=False)
    return [f for f in a.runs[0].findings if f.kind == "instability" and f.evidence.get("type") == "spikes"]


@pytest.mark.parametrize("seed", range(10))
def test_right_skewed_batch_noise_of_a_fine_tune_is_not_a_spike(tmp_path: Path, seed: int) -> None:
    """A small-batch fine-tune near zero loss: a smooth decay plus hard batches, lognormal (sigma 0.7) around
    0.03 — most logged losses near the floor, one in ten or so at 2-5x it (the shape of the Whisper and ViT
    fine-tunes in the corpus). No spike warning. (Without the upper-tail noise floor, 12 of 30 such seeds got
    one.)"""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = 150
    level = 0.75 * np.exp(-np.arange(n) / 12.0)
    losses = list(level + 0.03 * rng.lognormal(mean=0.0, sigma=0.7, size=n))
    evals = list(0.3 + 0.2 * np.exp(-np.arange(15) / 3.0))
    assert _spikes(tmp_path, _hf_state(losses, evals)) == []


def test_a_real_spike_in_the_same_run_is_still_found(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(3)
    n = 150
    level = 0.75 * np.exp(-np.arange(n) / 12.0) + 0.02
    losses = level * (1 + 0.05 * rng.standard_normal(n))
    losses[90] += 0.5  # a loss spike far above anything the noise does, back down at once
    evals = list(0.3 + 0.2 * np.exp(-np.arange(15) / 3.0))
    found = _spikes(tmp_path, _hf_state(list(losses), evals))
    assert len(found) == 1 and found[0].evidence["count"] == 1
    assert found[0].step == 9100


def test_the_by_batch_table_counts_each_batch_and_tool() -> None:
    """``bench_wild.by_batch``: one column per collection batch, right/total per tool; nothing for one batch."""
    rows = [{"batch": 0, "gapwatch": {"right": True}, "losslint": {"right": False}},
            {"batch": 16, "gapwatch": {"right": True}, "losslint": {"right": True}},
            {"batch": 16, "gapwatch": {"right": False}, "losslint": {"right": True}}]
    table = bench_wild.by_batch(rows, ["gapwatch", "losslint"])
    assert table[2] == "| tool | batch 0 | batch 16 |"
    assert table[4] == "| gapwatch | 1/1 | 1/2 |" and table[5] == "| losslint | 0/1 | 2/2 |"
    assert bench_wild.by_batch(rows[1:], ["gapwatch"]) == []


def test_cache_files_are_rebuilt_from_a_local_git_directory(tmp_path: Path) -> None:
    """``bench_wild.py --from-git``: an entry's files at its recorded commit (else HEAD, said), the two event files
    of a Keras run under their own subdirectories; committed entries and other repositories untouched."""
    import subprocess
    work = tmp_path / "repo"
    (work / "logs" / "train").mkdir(parents=True)
    (work / "logs" / "validation").mkdir(parents=True)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(work), *args], check=True, capture_output=True, text=True,
                              env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                                   "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(tmp_path)}).stdout.strip()
    git("init", "-q")
    (work / "train.log").write_text("epoch 1 loss 0.5\n")
    (work / "logs" / "train" / "events.out").write_bytes(b"T")
    (work / "logs" / "validation" / "events.out").write_bytes(b"V")
    git("add", ".")
    git("commit", "-q", "-m", "one")
    first = git("rev-parse", "HEAD")
    (work / "train.log").write_text("epoch 1 loss 0.4\n")
    git("commit", "-q", "-am", "two")
    entries = [
        {"id": "a", "repo": "Me/Repo", "committed": False, "commit": first, "files": ["train.log"]},
        {"id": "b", "repo": "me/repo", "committed": False, "commit": "0" * 40, "files": ["train.log"]},
        {"id": "c", "repo": "me/repo", "committed": False, "commit": first,
         "files": ["logs/train/events.out", "logs/validation/events.out"]},
        {"id": "d", "repo": "me/repo", "committed": False, "commit": first, "files": ["gone.log"]},
        {"id": "e", "repo": "me/repo", "committed": True, "commit": first, "files": ["train.log"]},
        {"id": "f", "repo": "other/repo", "committed": False, "commit": first, "files": ["train.log"]},
    ]
    cache = tmp_path / "cache"
    got = bench_wild.from_git(entries, "me/repo", work / ".git", cache)
    assert got == {"a": "ok", "b": "HEAD", "c": "ok", "d": "missing"}
    assert (cache / "a" / "train.log").read_text() == "epoch 1 loss 0.5\n"
    assert (cache / "b" / "train.log").read_text() == "epoch 1 loss 0.4\n"
    assert (cache / "c" / "train" / "events.out").read_bytes() == b"T"
    assert (cache / "c" / "validation" / "events.out").read_bytes() == b"V"
    assert not (cache / "d").exists() and not (cache / "e").exists() and not (cache / "f").exists()


def test_second_judgements_are_valid_and_scored_both_ways() -> None:
    """The second judgements (bench/wild/second_judgements*.json) name manifest entries and carry every field the
    scoring needs; a judge scored against itself is always right, and "either" agrees with both answers."""
    import wild_agreement as wa

    first = {e["id"]: e["judgement"] for e in MANIFEST["entries"]}
    for name in ("second_judgements.json", "second_judgements_dev.json"):
        doc = json.loads((WILD / name).read_text())
        assert doc["judgements"], name
        for i, j in doc["judgements"].items():
            assert i in first and wa.valid(j), (name, i)
    j = {"kind": "log", "overfits": True, "stuck": False, "diverging": False, "heldout": True, "clean": False,
         "n_heldout_evals": 20}
    assert bench_wild.right(j, wa.as_verdict(j, j))[0]
    either = dict(j, overfits="either")
    clean = dict(j, overfits=False, clean=True)
    assert bench_wild.right(j, wa.as_verdict(either, j))[0] and bench_wild.right(clean, wa.as_verdict(either, clean))[0]
    assert not bench_wild.right(j, wa.as_verdict(clean, j))[0]
    assert wa.judge_class(either) == "ambiguous" and wa.judge_class(dict(j, heldout=False)) == "no_heldout"
    assert wa.judge_class(dict(j, kind="not_a_log")) == "not_a_log"


def test_the_judges_agreement_runs_without_the_files(tmp_path: Path) -> None:
    """``wild_agreement.py --judges-only`` scores the judges against each other and runs no tool (running gapwatch
    on test logs is a look), so it needs none of the corpus's files."""
    import subprocess

    out = tmp_path / "agree.md"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "wild_agreement.py"), "--judges-only", "--cache",
                        str(tmp_path / "empty"), "--markdown", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    n = len(json.loads((WILD / "second_judgements.json").read_text())["judgements"])
    assert f"Logs with a second judgement: {n}." in text and "| both ways |" in text and "| tool |" not in text


def test_a_tensorboard_run_is_laid_out_as_in_its_repository() -> None:
    """``add_scalars`` (the PyTorch tutorial's "Training vs. Validation Loss") writes each curve to a
    ``<tag>_<name>/`` sub-directory; the flat copy loses the split, the repository's layout keeps it."""
    e = _entry("MedAmineGhamgui_prepapartion_code_train_X3D_Pytorch__ru_e205fd")
    p = _path(e)
    assert p.name == "fashion_trainer_20240520_141927"
    assert (p / "Training vs. Validation Loss_Validation").is_dir()
    h = gapwatch.load(p)
    assert "val" in h.splits()
    assert bench_wild.right(e["judgement"], bench_wild.gapwatch_verdict(p))[0]
    # laid out once: a second call reuses the copies
    assert _path(e) == p


def test_missing_repositories_lists_the_lost_cache_most_entries_first(tmp_path: Path) -> None:
    """``bench_wild.py --missing``: the repositories to rebuild after the cache of uncommitted files is lost (a new
    machine), most entries first; committed entries and entries whose files are in the cache are not listed."""
    def e(i: str, repo: str, committed: bool = False) -> dict[str, Any]:
        return {"id": i, "repo": repo, "committed": committed, "load": "log.csv", "files": ["log.csv"]}

    (tmp_path / "b1").mkdir()
    (tmp_path / "b1" / "log.csv").write_text("epoch,loss\n")
    entries = [e("a1", "o/a"), e("b1", "o/b"), e("b2", "o/b"), e("c1", "O/c"), e("c2", "O/c"), e("c3", "O/c"),
               e("d1", "o/d", committed=True)]
    assert bench_wild.missing_repositories(entries, tmp_path) == [("O/c", 3), ("o/a", 1), ("o/b", 1)]
