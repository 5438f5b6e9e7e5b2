"""Detectors: a table of small curves with known answers, invariance properties, edge cases, and every
registered detector on every generated family."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gapwatch import History
from gapwatch.detectors import registered, run_all
from gapwatch.errors import UsageError
from gapwatch.findings import FindingKind, Severity
from gapwatch.monitor import Monitor

NAN = float("nan")
DEC = [round(2.0 * math.exp(-i / 4) + 0.2, 4) for i in range(20)]  # converging training loss


def make(cols: dict[str, list[float]], x: str = "epoch") -> History:
    """One run from columns; epoch = i + 1 and step = 10 (i + 1) (step only when ``x="step"``)."""
    n = max(len(v) for v in cols.values())
    recs = []
    for i in range(n):
        r: dict[str, float] = {"step": (i + 1) * 10}
        if x == "epoch":
            r["epoch"] = i + 1
        for k, v in cols.items():
            if i < len(v):
                r[k] = v[i]
        recs.append(r)
    return History.from_records(recs, run="t")


def kinds(h: History, min_severity: Severity = Severity.INFO) -> list[str]:
    return sorted(f.kind for f in run_all(h) if f.severity.rank >= min_severity.rank)


# ------------------------------------------------------------------------------------------------ the table
CASES: list[tuple[str, dict[str, list[float]], str, str, float, str]] = [
    # (id, columns, x, expected kind, expected onset on that axis, severity)
    ("overfitting", {"train_loss": DEC,
                     "val_loss": [1.0, .8, .6, .5, .45, .44, .46, .5, .55, .6, .65, .7, .75, .8]},
     "epoch", "overfitting", 6, "critical"),
    ("overfitting_acc_only", {"train_acc": [.3, .5, .7, .8, .9, .95, .97, .98, .99, .99, 1, 1, 1, 1],
                              "val_acc": [.3, .5, .6, .66, .7, .71, .7, .68, .66, .64, .62, .6, .58, .56]},
     "epoch", "overfitting", 6, "critical"),
    ("overfitting_step_only", {"train_loss": DEC,
                               "val_loss": [1.0, .8, .6, .5, .45, .44, .46, .5, .55, .6, .65, .7, .75, .8]},
     "step", "overfitting", 60, "critical"),
    ("double_descent", {"train_loss": DEC + DEC[-1:] * 5,
                        "val_loss": [2.0, 1.6, 1.3, 1.1, 1.0, .95, 1.0, 1.1, 1.2, 1.3, 1.25, 1.1, .95, .85, .8,
                                     .76, .74, .73, .72, .71, .705, .70, .70, .70, .70]},
     "epoch", "double_descent", 13, "info"),
    ("grokking", {"train_acc": [.1, .5, .9, .99] + [1.0] * 16,
                  "val_acc": [.1, .1, .11, .1, .1, .11, .1, .1, .1, .11, .1, .1, .3, .9, .97, .98, .98, .98, .99,
                              .99]},
     "epoch", "grokking", 14, "info"),
    ("memorization", {"train_acc": [.1, .5, .9, .99] + [1.0] * 16,
                      "val_acc": [.1, .1, .11, .1, .1, .11, .1, .1, .1, .11, .1, .1, .1, .1, .12, .1, .1, .1, .1,
                                  .1]},
     "epoch", "memorization", 5, "warning"),
    ("nan", {"train_loss": DEC[:8] + [NAN] * 4, "val_loss": [v + .1 for v in DEC[:8]] + [NAN] * 4},
     "epoch", "instability", 9, "critical"),
    ("spike", {"train_loss": DEC[:10] + [DEC[10] * 5] + DEC[11:],
               "val_loss": [v + .1 for v in DEC[:10]] + [DEC[10] * 5 + .1] + [v + .1 for v in DEC[11:]]},
     "epoch", "instability", 11, "warning"),
    ("spike without a trace on validation", {"train_loss": DEC[:10] + [DEC[10] * 5] + DEC[11:],
                                             "val_loss": [v + .1 for v in DEC]},
     "epoch", "instability", 11, "info"),
    ("divergence", {"train_loss": DEC[:12] + [DEC[11] * 3 ** k for k in range(1, 6)],
                    "val_loss": [v + .1 for v in DEC[:12]] + [DEC[11] * 3 ** k + .1 for k in range(1, 6)]},
     "epoch", "instability", 13, "critical"),
    ("underfitting", {"train_loss": list(np.linspace(2.0, 1.0, 15)), "val_loss": list(np.linspace(2.02, 1.03, 15))},
     "epoch", "underfitting", 15, "warning"),
    ("catastrophic_overfitting",
     {"train_loss": DEC[:15], "val_loss": [v + .3 for v in DEC[:15]],
      "val_fgsm_acc": [.2, .3, .35, .4, .42, .44, .45, .85, .9, .9, .91, .9, .92, .9, .91],
      "val_pgd_acc": [.15, .25, .3, .35, .37, .38, .39, .05, .01, 0, 0, .01, 0, 0, 0]},
     "epoch", "catastrophic_overfitting", 8, "critical"),
    ("stability_gap",
     {"task0_acc": [.5, .9, .95, .96, .96, .96, .6, .75, .85, .9, .92, .92, .65, .8, .88, .9, .9, .9],
      "task1_acc": [.1] * 6 + [.6, .9, .94, .95, .95, .95, .7, .82, .9, .92, .93, .93],
      "task2_acc": [.1] * 12 + [.6, .9, .95, .96, .96, .96]},
     "step", "stability_gap", 70, "warning"),
    ("stability_gap_val_slash",
     {"val_task0/acc": [.5, .9, .95, .96, .96, .96, .6, .75, .85, .9, .92, .92],
      "val_task1/acc": [.1] * 6 + [.6, .9, .94, .95, .95, .95]},
     "step", "stability_gap", 70, "warning"),
]


@pytest.mark.parametrize("cols,x,kind,onset,severity", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table(cols: dict[str, list[float]], x: str, kind: str, onset: float, severity: str) -> None:
    h = make(cols, x)
    found = run_all(h)
    assert [f.kind for f in found] == [kind], [(f.kind, f.message) for f in found]
    f = found[0]
    assert f.severity.value == severity
    where = f.epoch if x == "epoch" else f.step
    assert where == onset
    assert (f.actions or f.severity.value == "info") and f.references and f.evidence  # (info: nothing to do)
    json.dumps(f.to_dict())


def test_stability_gap_metrics() -> None:
    h = make(dict(CASES[-2][1]), "step")
    (f,) = run_all(h, only=["stability_gap"])
    ev = f.evidence
    # min-ACC: task0's minimum after its training ended (0.6), task1's after its end (0.7) → 0.65
    assert ev["min_acc"] == pytest.approx(0.65)
    # WC-ACC = 1/3 · A_2(last) + 2/3 · min-ACC
    assert ev["wc_acc"] == pytest.approx(0.96 / 3 + 2 / 3 * 0.65)
    assert ev["avg_acc"] == pytest.approx((0.9 + 0.93 + 0.96) / 3)
    assert ev["boundaries"] == [70.0, 130.0]
    assert ev["largest_gap"] == pytest.approx(0.96 - 0.6)


def test_stability_gap_explicit_boundaries_must_match_tasks() -> None:
    h = make(dict(CASES[-2][1]), "step")
    with pytest.raises(UsageError, match="boundaries"):
        run_all(h, only=["stability_gap"], params={"stability_gap": {"boundaries": [70]}})
    (f,) = run_all(h, only=["stability_gap"], params={"stability_gap": {"boundaries": [70, 130]}})
    assert f.step == 70


def test_catastrophic_overfitting_explicit_names() -> None:
    cols = dict(next(c for c in CASES if c[0] == "catastrophic_overfitting")[1])
    cols["adv_a"] = cols.pop("val_pgd_acc")
    cols["adv_b"] = cols.pop("val_fgsm_acc")
    h = make(cols)
    assert not run_all(h, only=["catastrophic_overfitting"])
    params = {"catastrophic_overfitting": {"multi_step": "adv_a", "single_step": "adv_b"}}
    (f,) = run_all(h, only=["catastrophic_overfitting"], params=params)
    assert f.epoch == 8
    with pytest.raises(UsageError, match="was not logged"):
        run_all(h, only=["catastrophic_overfitting"], params={"catastrophic_overfitting": {"multi_step": "nope"}})


def test_grokking_run_is_not_overfitting_or_double_descent() -> None:
    from gapwatch.testing import synth

    for seed in range(5):
        r = synth.generate("grokking", seed)
        assert kinds(r.history) == ["grokking"], seed


def test_double_descent_run_is_not_critical_overfitting() -> None:
    from gapwatch.testing import synth

    for seed in range(5):
        r = synth.generate("double_descent", seed, noise=0.005)
        assert kinds(r.history) == ["double_descent"], seed


def test_memorization_downgrades_overfitting_to_info() -> None:
    from gapwatch.testing import synth

    r = synth.generate("memorization", 0)
    # judged by the loss (rising while the model memorises); by default the flat task metric decides and
    # there is no overfitting to downgrade (issue 13)
    found = {f.kind: f for f in run_all(r.history, monitor=Monitor("val", "loss", "min"))}
    assert found["memorization"].severity == Severity.WARNING
    assert found["overfitting"].severity == Severity.INFO
    assert found["overfitting"].evidence["memorizing"] is True


# ------------------------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize("name", sorted(registered()))
def test_unknown_and_bad_parameters_raise(name: str) -> None:
    h = make({"train_loss": DEC, "val_loss": [v + .1 for v in DEC]})
    with pytest.raises(UsageError, match="unknown parameter"):
        registered()[name](h, no_such_parameter=1)
    with pytest.raises(UsageError, match="min_evaluations"):
        registered()[name](h, min_evaluations=0)


# ------------------------------------------------------------------------------------------------ properties
def _transform_losses(h: History, a: float, c: float) -> History:
    df = h.frame
    m = df["metric"] == "loss"
    df.loc[m, "value"] = df.loc[m, "value"] * a + c
    return History(df)


def _signature(h: History) -> list[tuple[str, str, float | None, float | None]]:
    return sorted((f.kind, f.severity.value, f.step, f.epoch) for f in run_all(h))


_FAMS = ["clean", "overfitting", "double_descent", "spikes", "divergence", "underfitting", "nan"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fam=st.sampled_from(_FAMS), seed=st.integers(0, 50), k=st.integers(-6, 6), c=st.integers(-1000, 0))
def test_shift_and_scale_of_losses_change_nothing(fam: str, seed: int, k: int, c: int) -> None:
    """Multiplying every loss series by a positive factor, or lowering it by a constant, changes no finding.

    Raising it is not covered: a positive loss is also read on a ratio scale (``divergence_min_ratio``: a loss
    ending under 3% above its best is no blow-up), so a divergence from 0.22 to 4.0 lifted by 1,000 (1000.2 to
    1004) rightly stops being one (:func:`test_a_high_loss_rising_by_a_percent_is_no_blow_up`)."""
    from gapwatch.testing import synth

    h = synth.generate(fam, seed, noise=0.01).history
    base = _signature(h)
    assert _signature(_transform_losses(h, 2.0 ** k, 0.0)) == base
    assert _signature(_transform_losses(h, 1.0, float(c))) == base


def test_a_high_loss_rising_by_a_percent_is_no_blow_up() -> None:
    from gapwatch.testing import synth

    h = synth.generate("divergence", 16, noise=0.01).history
    assert any(f.kind == FindingKind.INSTABILITY for f in run_all(h))
    lifted = run_all(_transform_losses(h, 1.0, 1000.0))
    assert not any(f.kind == FindingKind.INSTABILITY for f in lifted)


@settings(max_examples=30, deadline=None)
@given(steps=st.lists(st.floats(0.01, 1.0), min_size=10, max_size=40), ratio=st.floats(0.3, 0.75),
       start=st.floats(-100, 100), acc=st.booleans())
def test_no_finding_on_strictly_improving_noiseless_curve(steps: list[float], ratio: float, start: float,
                                                          acc: bool) -> None:
    """A strictly improving noiseless curve that has flattened (geometric decrements, at most a tenth of the
    first one left by 80% of the run) gets no finding at all."""
    d = np.array([ratio ** i for i in range(len(steps))]) * (1 + np.array(steps) * 0.01)
    d = np.minimum.accumulate(d)  # decrements never grow
    # strictly improving in float64 too: a decrement below the values' resolution (0.375**34 beside 61) leaves the
    # tail exactly constant — a loss that repeats to the digit, which not_learning rightly calls frozen
    d = np.maximum(d, 1e-9 * (abs(start) + 5.0))
    val = start + 5.0 - np.cumsum(d)
    train = val - 0.1 * (1 - ratio ** np.arange(val.size))
    cols = {"train_loss": list(train), "val_loss": list(val)}
    if acc:
        cols["val_acc"] = list(0.9 - 0.5 * (val - val[-1]) / (val[0] - val[-1] + 1e-9) + 0.05)
    assert run_all(make(cols)) == []


@settings(max_examples=30, deadline=None)
@given(decrements=st.lists(st.floats(1e-3, 10.0), min_size=1, max_size=40), start=st.floats(-100, 100))
def test_strictly_improving_curve_is_at_most_underfitting(decrements: list[float], start: float) -> None:
    """Any strictly improving noiseless curve (even one still falling steeply) is never overfitting,
    instability or anything else; only "train longer" may be said."""
    val = start - np.cumsum(decrements)
    cols = {"train_loss": list(val - 0.05), "val_loss": list(val)}
    assert set(kinds(make(cols))) <= {"underfitting"}


# ------------------------------------------------------------------------------------------------ edge cases
@pytest.mark.parametrize("n", [1, 2, 3])
def test_one_to_three_evaluations(n: int) -> None:
    h = make({"train_loss": DEC[:n], "val_loss": [1.0, 1.5, 2.0][:n], "train_acc": [.1, .5, 1][:n],
              "val_acc": [.1, .1, .1][:n]})
    assert run_all(h) == []


def test_all_nan() -> None:
    h = make({"train_loss": [NAN] * 6, "val_loss": [NAN] * 6})
    found = run_all(h)
    assert [f.kind for f in found] == ["instability"]
    assert found[0].severity == Severity.CRITICAL and found[0].epoch == 1
    assert "never produced a finite value" in found[0].actions[0]


def test_constant_curves() -> None:
    h = make({"train_loss": [1.0] * 12, "val_loss": [1.2] * 12, "train_acc": [.3] * 12, "val_acc": [.3] * 12})
    found = run_all(h)
    assert [f.kind for f in found] == ["underfitting"]
    assert found[0].evidence["mode"] == "stuck"


def test_accuracy_only_and_step_only_logs_run_every_detector() -> None:
    cols = {"train_acc": [.3, .5, .7, .8, .9, .95, .97, .98, .99, .99, 1, 1, 1, 1],
            "val_acc": [.3, .5, .6, .66, .7, .71, .7, .68, .66, .64, .62, .6, .58, .56]}
    for x in ("epoch", "step"):
        found = run_all(make(cols, x))
        assert [f.kind for f in found] == ["overfitting"]
        assert (found[0].epoch is None) == (x == "step")


def test_no_heldout_series_is_silent() -> None:
    assert run_all(make({"train_loss": DEC})) == []


def test_several_runs_are_refused() -> None:
    a, b = make({"train_loss": DEC, "val_loss": DEC}), make({"train_loss": DEC, "val_loss": DEC})
    both = History.concat([a.with_run_name("a"), b.with_run_name("b")])
    with pytest.raises(ValueError):
        run_all(both)


def test_every_kind_is_public() -> None:
    kinds_ = {k.value for k in FindingKind}
    for name in registered():
        assert name in kinds_


def test_a_falling_f1_beside_an_improving_loss_is_a_warning_not_critical() -> None:
    """The wild corpus's shape (a Lightning 1D-CNN, dev split): the held-out F1 peaks at epoch 10 and settles
    10% lower while the same set's loss keeps improving to the end (a decision-threshold effect on an imbalanced
    set). The decline is reported, but not as critical; with a loss that rose too it stays critical."""
    n = 40
    rng = np.random.default_rng(3)
    f1 = [0.40 + 0.02 * i if i <= 10 else 0.60 - 0.06 * (1 - math.exp(-(i - 10) / 3)) for i in range(n)]
    f1 = [v + 0.003 * e for v, e in zip(f1, rng.standard_normal(n), strict=True)]
    falling = [0.70 - 0.35 * (1 - math.exp(-i / 12)) + 0.002 * e for i, e in enumerate(rng.standard_normal(n))]
    rising = [0.70 - 0.3 * (1 - math.exp(-i / 4)) + (0.004 * (i - 10) if i > 10 else 0.0) for i in range(n)]
    train = [0.6 * math.exp(-i / 15) + 0.1 for i in range(n)]
    (f,) = [g for g in run_all(make({"val_f1": f1, "val_loss": falling, "train_loss": train}))
            if g.kind == FindingKind.OVERFITTING]
    assert f.severity == Severity.WARNING and f.evidence["loss_improving_z"] >= 3.0
    assert "kept improving" in f.message
    (g,) = [g for g in run_all(make({"val_f1": f1, "val_loss": rising, "train_loss": train}))
            if g.kind == FindingKind.OVERFITTING]
    assert g.severity == Severity.CRITICAL


def test_a_decline_that_has_won_back_a_third_of_its_fall_is_a_warning_not_critical() -> None:
    """The wild corpus's shape (a chemical VAE's held-out accuracy, dev split): it peaks, falls by a third of its
    gain as a KL anneal takes hold, then climbs back part of the way. The decline is reported, but a curve on its
    way back is not a failed CI gate; the same fall that stays down is critical."""
    n = 60
    up = [0.40 + 0.04 * i for i in range(10)] + [0.76]  # best 0.76 at epoch 11
    down = [0.76 - 0.024 * i for i in range(1, 11)]  # to 0.52: two thirds of the gain undone
    rest = n - len(up) - len(down)
    back = [min(0.52 + 0.005 * i, 0.62) for i in range(1, rest + 1)]  # back to 0.62: 10 of the 24 points won back
    stays = [0.52] * rest
    train = [1.2 * math.exp(-i / 15) + 0.1 for i in range(n)]
    (f,) = [g for g in run_all(make({"val_acc": up + down + back, "train_loss": train}))
            if g.kind == FindingKind.OVERFITTING]
    assert f.severity == Severity.WARNING and f.evidence["recovered_fraction"] >= 0.33
    assert "won back" in f.message
    (g,) = [g for g in run_all(make({"val_acc": up + down + stays, "train_loss": train}))
            if g.kind == FindingKind.OVERFITTING]
    assert g.severity == Severity.CRITICAL and g.evidence["recovered_fraction"] == 0.0
    (h,) = [g for g in run_all(make({"val_acc": up + down + back, "train_loss": train}),
                               params={"overfitting": {"critical_max_recovered": 1.0}})
            if g.kind == FindingKind.OVERFITTING]
    assert h.severity == Severity.CRITICAL


@pytest.mark.parametrize("z,signed,text", [(4.46, False, "4.5"), (4.46, True, "+4.5"), (-2.4, True, "-2.4"),
                                           (187118398115487.7, True, "over +100"), (math.inf, False, "over 100"),
                                           (-1e9, True, "below -100"), (100.0, False, "100.0")])
def test_a_count_of_standard_errors_is_never_an_absurd_number(z: float, signed: bool, text: str) -> None:
    """A nearly noise-free curve makes counts such as 187118398115487.7 standard errors (issue 12: no number in a
    message a person would call absurd)."""
    from gapwatch.detectors._common import se_count

    assert se_count(z, signed=signed) == text
