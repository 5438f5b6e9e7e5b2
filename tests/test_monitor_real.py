"""Real Whisper fine-tune logs (tests/fixtures/logs/hf_real, provenance in PROVENANCE.md): the task metric decides,
the disagreement with the loss is reported, and the restore point is the checkpoint the trainer itself kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from gapwatch.analysis import analyze
from gapwatch.detectors import run_all
from gapwatch.findings import FindingKind, Severity
from gapwatch.monitor import Monitor, decide
from gapwatch.readers import load

REAL = Path(__file__).parent / "fixtures" / "logs" / "hf_real"


def _best_step(r):  # type: ignore[no-untyped-def]
    return r.best["step"] if isinstance(r.best, dict) else r.best.step


@pytest.mark.parametrize("name,kept,disagree", [
    ("Merlinmy__Whisper_small_hi", 4000, True),
    ("P4P4N1CK__whisper-large-v2-japanese-5k-steps", 3000, True),
    ("anthonyrathe__fixed-whisperv2-flemish", 15000, False),
])
def test_whisper_runs_follow_wer(name: str, kept: int, disagree: bool) -> None:
    h = load(REAL / name / "trainer_state.json")
    d = decide(h)
    assert d.monitor == Monitor("val", "wer", "min") and d.source == "hf_best_metric"
    assert f"at step {kept}" in d.reason and Monitor("val", "loss", "min") in d.evidence
    r = analyze(h).runs[0]
    assert _best_step(r) == kept  # the checkpoint HF kept (best_model_checkpoint), not the loss's best
    kinds = {f.kind for f in r.findings}
    assert (FindingKind.METRIC_DISAGREEMENT in kinds) == disagree
    assert not [f for f in r.findings if f.kind == FindingKind.OVERFITTING and f.severity == Severity.CRITICAL]
    if disagree:
        (md,) = [f for f in r.findings if f.kind == FindingKind.METRIC_DISAGREEMENT]
        assert md.evidence["pattern"] == "loss_worse_metric_better"
        assert md.evidence["restore"]["step"] == kept and md.evidence["loss_best"]["step"] == 1000


def test_judged_by_the_loss_the_same_log_says_overfitting_from_the_first_evaluation() -> None:
    """What the issue reports gapwatch (and the peers) said before: restore the step-1000 model, worse WER."""
    h = load(REAL / "Merlinmy__Whisper_small_hi" / "trainer_state.json")
    found = run_all(h, monitor=Monitor("val", "loss", "min"))
    of = [f for f in found if f.kind == FindingKind.OVERFITTING]
    assert of and of[0].step == 1000
