"""Regressions found on the corpus of real logs (bench/wild) in the twenty-first session: fixtures in the shape of
the real files, numbers changed, with the verdict a reader of the raw curves gave them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gapwatch import analyze, load


def _percent_log(tmp_path: Path, epochs: int = 40) -> Path:
    """A hand-written loop that prints its accuracy with the unit in parentheses (``Val Acc (%): 71.2``): the
    held-out loss bottoms out at epoch 12 and rises (over-confidence) while the accuracy keeps climbing."""
    rng = np.random.default_rng(3)
    lines = []
    for e in range(1, epochs + 1):
        train = 1.2 * 0.93 ** e + 0.05
        val = 0.55 + 0.0015 * (e - 12) ** 2 + 0.005 * rng.standard_normal()
        acc = 90.0 - 25.0 * 0.9 ** e + 0.1 * rng.standard_normal()
        lines.append(f"Epoch {e}, Train Loss: {train:.4f}, Val Loss (MSE): {val:.4f}, Val Acc (%): {acc:.2f}")
    p = tmp_path / "train_log.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_a_percent_unit_after_a_name_is_not_part_of_it(tmp_path: Path) -> None:
    """``Val Acc (%): 71.2`` is the validation accuracy (the qualifier ``(%)`` was not a name's qualifier, so the
    pair was dropped and the run judged by its loss alone)."""
    h = load(_percent_log(tmp_path))
    assert ("val", "acc") in set(h.keys())
    assert np.allclose(h.series("val", "acc").values[:1], [90.0 - 22.5], atol=0.5)


def test_the_run_is_judged_by_its_percent_accuracy_not_its_rising_loss(tmp_path: Path) -> None:
    (r,) = analyze(load(_percent_log(tmp_path)), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "acc"
    assert not [f for f in r.findings if f.kind.value == "overfitting"]


def test_speech_quality_measures_are_larger_is_better_and_their_negation_is_a_loss() -> None:
    """SI-SDR, SDR, SI-SNR (dB), PESQ and STOI are larger-is-better; a separation model's loss is the negated
    ratio, printed as ``-SISDR`` or named ``neg_sisdr`` (an unknown measure was read smaller-is-better, so an
    improving SI-SDR looked like a model getting worse)."""
    from gapwatch.names import is_measure, metric_mode, normalize

    for name in ("val_si_sdr", "SI-SDR", "SISDRi", "val_sisnr", "sdr", "PESQ", "STOI", "eSTOI", "snr_db"):
        assert is_measure(name), name
        assert metric_mode(normalize(name)[1]) == "max", name
    for name in ("-SISDR", "-si-sdr", "neg_sisdr", "neg_si_sdr", "val_neg_sisdr", "sisdr_loss"):
        assert metric_mode(normalize(name)[1]) == "min", name
    assert normalize("val_neg_sisdr") == ("val", "neg_sisdr")
    assert normalize("-loss") == normalize("loss")  # a minus before any other name is not a negation
    assert metric_mode(normalize("val_acc_neg")[1]) == "max"  # (accuracy on the negatives)


def _separation_log(tmp_path: Path, epochs: int = 40) -> Path:
    """A speech-separation printout in the shape of a real one (batch 34): each epoch a training and a validation
    line ``Valid  -SISDR: -12.78, SISDRi: 12.38`` (the negated SI-SDR, the loss, glued to its minus sign); the
    validation SI-SDRi climbs from 7.4 to 15.4 dB and holds."""
    rng = np.random.default_rng(8)
    lines = ["Best SISDRi：-inf", ""]
    for e in range(1, epochs + 1):
        tr = 23.0 - 15.0 * 0.93 ** e + 0.05 * rng.standard_normal()
        va = 15.4 - 8.0 * 0.85 ** e + 0.08 * rng.standard_normal()
        lines += [f"Epoch {e}/{epochs}", f"Train  -SISDR: {-(tr + 0.35):.4f}, SISDRi: {tr:.4f}",
                  f"Valid  -SISDR: {-(va + 0.4):.4f}, SISDRi: {va:.4f}", ""]
    p = tmp_path / "train_logs.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_a_separation_log_is_judged_by_its_validation_sisdri(tmp_path: Path) -> None:
    h = load(_separation_log(tmp_path))
    assert {("train", "neg_sisdr"), ("train", "sisdri"), ("val", "neg_sisdr"), ("val", "sisdri")} <= set(h.keys())
    assert h.series("val", "neg_sisdr").values[0] < 0
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric, r.monitor.mode) == ("val", "sisdri", "max")
    assert not [f for f in r.findings if f.severity.value in ("warning", "critical")]


def _split_record_lists(tmp_path: Path, epochs: int = 30) -> Path:
    """``json.dump({"train": [...], "val": [...]})`` of a loop that appends each epoch's loss terms as an object (a
    pose-estimation run of batch 35): the validation total falls to epoch 12 and rises after it."""
    import json

    rng = np.random.default_rng(4)
    doc: dict[str, list[dict[str, float]]] = {"train": [], "val": []}
    for e in range(1, epochs + 1):
        tr = 3.9 * 0.8 ** e + 0.05
        va = 0.6 + 0.004 * (e - 12) ** 2 + 0.01 * rng.standard_normal()
        doc["train"].append({"total": tr, "bbox": tr / 50, "rotation": tr / 10})
        doc["val"].append({"total": va, "bbox": va / 50, "rotation": va / 10})
    p = tmp_path / "loss_history.json"
    p.write_text(json.dumps(doc, indent=2))
    return p


def test_lists_of_per_epoch_objects_under_split_names_are_read(tmp_path: Path) -> None:
    """They were dropped as nested objects, leaving nothing, and the reader failed (``max() arg is an empty
    sequence``) instead of reading them or saying what it saw."""
    h = load(_split_record_lists(tmp_path))
    assert {("train", "total"), ("val", "total"), ("val", "bbox"), ("train", "rotation")} <= set(h.keys())
    assert len(h.series("val", "total").values) == 30
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "total")
    assert [f for f in r.findings if f.kind.value == "overfitting"]


def test_a_json_of_nested_objects_only_is_refused_with_the_keys_it_saw(tmp_path: Path) -> None:
    import pytest

    from gapwatch.errors import InputError

    p = tmp_path / "history.json"
    p.write_text('{"folds": [{"train": {"loss": [1, 2]}}, {"train": {"loss": [3, 4]}}]}')
    with pytest.raises(InputError, match="'folds'") as exc:
        load(p)
    assert "reader failure" not in str(exc.value)


def test_a_split_glued_to_its_measure_or_abbreviated_to_a_letter_is_read() -> None:
    """Hand-written prints abbreviate the split: ``VAcc:46.25% VF1:46.25%`` beside ``TrF1`` (a graph classifier of
    batch 35, refused for want of a validation series), ``T_Loss 11.06 | T_acc 0.11 | V_Loss nan | V_acc. nan``
    (``T`` was read as a held-out set named ``t``). CamelCase ``ValAcc`` was normalised but not taken for a
    measure, so the text reader dropped it."""
    from gapwatch.names import is_measure, normalize

    table = {"VAcc": ("val", "acc"), "VF1": ("val", "f1"), "TrF1": ("train", "f1"), "vloss": ("val", "loss"),
             "valacc": ("val", "acc"), "testacc": ("test", "acc"), "V_Loss": ("val", "loss"),
             "V_acc.": ("val", "acc"), "T_Loss": ("train", "loss"), "T_acc": ("train", "acc"),
             "ValAcc": ("val", "acc"), "TrAcc": ("train", "acc")}
    for name, want in table.items():
        assert normalize(name) == want, name
        assert is_measure(name), name
    # a letter that is no split: Lightning's version number, a PDE solution's component, a lone glued ``t``
    assert not is_measure("v_num")
    assert normalize("Loss_v") == ("train", "loss_v")
    assert normalize("tacc") == ("train", "tacc")


def test_a_log_that_abbreviates_its_splits_is_judged_by_its_validation_accuracy(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    lines = []
    for e in range(1, 61):
        tr = 100 - 55 * 0.9 ** e
        va = 88 - 40 * 0.85 ** e + 1.5 * rng.standard_normal()
        lines.append(f"E{e:3d}/60 | Loss:{0.7 * 0.93 ** e:.4f} | TrA:{tr:.2f}% TrF1:{tr:.2f}% | VAcc:{va:.2f}% "
                     f"VF1:{va:.2f}% | ETA:{200 - 3 * e:.1f}min")
    p = tmp_path / "training_output.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert {("val", "acc"), ("val", "f1"), ("train", "f1")} <= set(h.keys())
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and r.monitor.split == "val" and r.monitor.mode == "max"


def test_histories_of_several_models_in_one_json_are_a_run_each(tmp_path: Path) -> None:
    """``json.dump({"LSTM": h1.history, "GRU": h2.history, "Transformer": h3.history})`` (three stock-price models
    of batch 36): the first model's lists were lifted and the other two silently dropped."""
    import json

    doc = {name: {"loss": [0.01 * 0.8 ** e + 0.002 for e in range(n)],
                  "val_loss": [0.004 * 0.85 ** e + 0.0015 + 0.00001 * (e % 2) for e in range(n)]}
           for name, n in (("LSTM", 6), ("GRU", 9), ("Transformer", 15))}
    p = tmp_path / "history.json"
    p.write_text(json.dumps(doc))
    a = analyze(load(p), forecast=False)
    assert [r.name for r in a.runs] == ["history/LSTM", "history/GRU", "history/Transformer"]
    assert [len(load(p).series("val", "loss", run=r.name).values) for r in a.runs] == [6, 9, 15]


def test_one_model_history_beside_settings_is_still_one_run(tmp_path: Path) -> None:
    """A run's metadata with one history object nested in it stays one run (the settings are not a model)."""
    import json

    p = tmp_path / "history.json"
    p.write_text(json.dumps({"config": {"lr": 0.001, "batch_size": 32},
                             "history": {"loss": [1.0, 0.8, 0.6, 0.5], "val_loss": [1.1, 0.9, 0.8, 0.79]}}))
    (r,) = analyze(load(p), forecast=False).runs
    assert r.name == "history"


@pytest.mark.parametrize("value,frozen", [(0.7334801554679871, True), (0.2857142984867096, False),
                                          (0.7335, False)])
def test_four_repeats_of_a_fine_grained_share_are_a_frozen_model(tmp_path: Path, value: float, frozen: bool) -> None:
    """Keras CSVLogger of a glaucoma classifier (batch 35): val_accuracy 0.7334801554679871 (333 of 454, the
    majority class) at all 4 epochs, training accuracy stuck too. Four repeats of a share no set under 50 examples
    can give are a constant prediction; four of 2/7 or of a value rounded to four decimals may be chance."""
    rows = ["epoch,accuracy,loss,val_accuracy,val_loss",
            f"0,0.6836734414100647,0.8095113039016724,{value},0.5972844362258911"]
    for e, loss, vl in ((1, 0.5848897695541382, 0.6074375510215759), (2, 0.5685385465621948, 0.5851501822471619),
                        (3, 0.5320382714271545, 0.5856376886367798)):
        rows.append(f"{e},0.7602040767669678,{loss},{value},{vl}")
    p = tmp_path / "epoch_log.csv"
    p.write_text("\n".join(rows) + "\n")
    (r,) = analyze(load(p), forecast=False).runs
    modes = {f.evidence.get("mode") for f in r.findings if f.kind.value == "not_learning"}
    assert ("frozen" in modes) is frozen


def test_per_epoch_objects_under_a_splits_metrics_key_are_that_splits(tmp_path: Path) -> None:
    """``{"train_loss": [...], "epochs": [...], "lr": [...], "val_metrics": [{"P2M_Acc@1": …, "Avg_Acc": …}, …]}``
    (a retrieval model of batch 37): refused for want of a validation series, the validation records being
    nested objects."""
    import json

    n = 10
    doc = {"train_loss": [3.2 * 0.7 ** e + 1.4 for e in range(n)], "epochs": list(range(1, n + 1)),
           "lr": [3e-5 * (1 - e / n) for e in range(n)],
           "val_metrics": [{"P2M_Acc@1": 0.87 + 0.006 * e, "M2P_Acc@1": 0.75 + 0.01 * e, "Avg_Acc": 0.81 + 0.008 * e}
                           for e in range(n)]}
    p = tmp_path / "history.json"
    p.write_text(json.dumps(doc, indent=2))
    h = load(p)
    assert {("train", "loss"), ("val", "avg_acc"), ("val", "p2m_acc@1")} <= set(h.keys())
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and r.monitor.split == "val"


def test_a_space_aligned_table_with_two_word_column_names(tmp_path: Path) -> None:
    """``Epoch    Train Loss   Train Acc    Test Loss    Test Acc     Time`` then one row every 10 epochs with the
    time's unit apart (``0.55    s``): a GCN on ENZYMES (batch 37), refused as an unknown format (the header was
    split into one-word columns that no row matched)."""
    lines = ["=" * 70, " ENZYME GCN CLASSIFIER - TRAINING", "=" * 70, "",
             f"{'Epoch':<9}{'Train Loss':<13}{'Train Acc':<13}{'Test Loss':<13}{'Test Acc':<13}{'Time':<8}", "-" * 70]
    for e in (1, *range(10, 201, 10)):
        lines.append(f"{e:<9}{2.4 - 0.005 * e:<13.4f}{0.27 + 0.0012 * e:<13.4f}{1.75 - 0.001 * e:<13.4f}"
                     f"{0.27 + 0.001 * e:<13.4f}{0.5:<8.2f}s")
    p = tmp_path / "training_output.log"
    p.write_text("\n".join(lines) + "\n")
    h = load(p)
    assert {("train", "loss"), ("train", "acc"), ("test", "loss"), ("test", "acc")} <= set(h.keys())
    assert len(h.series("test", "acc").values) == 21
    assert h.series("test", "acc").values[-1] == pytest.approx(0.47)


def test_correlation_coefficients_are_larger_is_better() -> None:
    """Spearman's rho (``val_rho``), SRCC/PLCC/KRCC of quality assessment and Kendall's tau are correlations with
    the targets: a model that improves raises them. ``val_rho`` was read smaller-is-better, so an improving
    correlation looked like a held-out set getting worse (found at the thirty-third look, on a test log). A bare
    ``tau`` stays unread: it is as often a temperature."""
    from gapwatch.names import is_measure, metric_mode, normalize

    for name in ("val_rho", "val_spearman", "val_srcc", "val_plcc", "krcc", "kendall_tau", "pearson_r"):
        assert is_measure(name), name
        assert metric_mode(normalize(name)[1]) == "max", name
    assert not is_measure("tau")


def test_records_after_a_long_per_step_list_are_found_beyond_the_head(tmp_path: Path) -> None:
    """``{"config": {…}, "steps": [9,500 per-step losses], "epochs": [{"epoch": 1, "train_loss_avg": …,
    "valid_loss": …, "valid_acc": …}, …], "total_time_seconds": …}`` (a course assignment, batch 20): the records
    start some 190 KB in, past the 64 KiB the sniffer reads, so the file was an unknown format."""
    import json

    rng = np.random.default_rng(1)
    doc = {"config": {"lr": 0.001, "batch_size": 64, "epochs": 10, "optimizer": "adam", "model": "cnn"},
           "steps": [float(2.3 * 0.9997 ** i + 0.05 * rng.standard_normal()) for i in range(9500)],
           "epochs": [{"epoch": e, "train_loss_avg": 2.0 * 0.8 ** e, "valid_loss": 1.9 * 0.85 ** e + 0.2,
                       "valid_acc": 0.9 - 0.5 * 0.7 ** e} for e in range(1, 11)],
           "total_time_seconds": 812.4}
    p = tmp_path / "training_log.json"
    p.write_text(json.dumps(doc, indent=2))
    assert p.stat().st_size > 1 << 16
    h = load(p)
    assert {("val", "loss"), ("val", "acc")} <= set(h.keys())
    assert len(h.series("val", "acc").values) == 10


def _wgan_log(tmp_path: Path) -> Path:
    """A WGAN's logging output in the shape of a real one (batch 36, judged clean): every 15 epochs the critic and
    generator losses, the critic's Wasserstein estimate ``W`` and its value on held-out windows ``val_W`` — which
    falls to -0.83 at epoch 15 and climbs back to about 0.17."""
    lines = ["2026-05-08 02:24:23  INFO      Training on device: mps"]
    val_w = [0.42, -0.81, -0.15, -0.08, -0.28, -0.33, -0.27, 0.06, 0.03, 0.02, 0.13, 0.16, 0.02, 0.14, -0.02,
             -0.11, -0.01, 0.01, -0.12, 0.18, 0.17]
    d_loss = [1.9, -3.7, -4.3, -4.6, -4.8, -4.7, -4.5, -4.4, -4.1, -3.8, -3.5, -3.3, -3.1, -3.0, -2.8, -2.7, -2.7,
              -2.6, -2.6, -2.6, -2.5]
    for k, v in enumerate(val_w):
        e = 1 if k == 0 else 15 * k
        w = 5.3 - 0.14 * abs(k - 4) if k else 1.4
        lines.append(f"2026-05-08 02:{24 + k:02d}:34  INFO      Epoch {e:4d}/300 | L_D={d_loss[k]:.4f} | "
                     f"L_G={-0.4 - 0.56 * k:.4f} | W={w:.4f} | val_W={v:.4f} | 5.3s")
    p = tmp_path / "train_log.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_a_deciding_series_whose_name_is_no_known_measure_is_never_critical(tmp_path: Path) -> None:
    """``val_W`` decided for want of any other held-out series and its direction was assumed (lower is better): its
    rise was a critical overfitting finding on a log judged clean. It stays a warning that says what was assumed."""
    (r,) = analyze(load(_wgan_log(tmp_path)), forecast=False).runs
    assert r.monitor is not None and r.monitor.metric == "w"
    over = [f for f in r.findings if f.kind.value == "overfitting"]
    assert over and all(f.severity.value == "warning" for f in over)
    assert "no measure gapwatch knows" in over[0].message and "--mode max" in over[0].message


def test_a_requested_unknown_series_keeps_its_severity(tmp_path: Path) -> None:
    from gapwatch.monitor import Monitor

    (r,) = analyze(load(_wgan_log(tmp_path)), monitor=Monitor("val", "w", "min"), forecast=False).runs
    assert [f.severity.value for f in r.findings if f.kind.value == "overfitting"] == ["critical"]
