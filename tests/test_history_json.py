"""The Keras history saved as JSON (``json.dump(history.history, f)``; a format met in the real-log corpus):
read as one run with 1-based epochs, learning rates kept aside, and clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gapwatch import analyze, load
from gapwatch.errors import InputError
from gapwatch.readers import sniff

FIXTURE = Path(__file__).parent / "fixtures" / "logs" / "keras" / "history.json"


def test_the_fixture_is_read_with_one_based_epochs_and_the_schedule_aside() -> None:
    h = load(FIXTURE)
    assert sniff(FIXTURE) is not None and sniff(FIXTURE).name == "history-json"  # type: ignore[union-attr]
    raw = json.loads(FIXTURE.read_text())
    assert sorted(h.keys()) == [("train", "acc"), ("train", "loss"), ("val", "acc"), ("val", "loss")]
    s = h.series("val", "loss")
    assert s.epoch.tolist() == list(range(1, 31))
    np.testing.assert_array_equal(s.values, raw["val_loss"])
    sched = h.meta[h.runs()[0]]["schedule"]
    assert list(sched) == ["learning_rate"] and sched["learning_rate"]["value"][-1] == 0.0001
    (r,) = analyze(h, forecast=False).runs
    assert r.monitor is not None and (r.monitor.split, r.monitor.metric) == ("val", "acc")


@pytest.mark.parametrize("indent", [None, 2])
def test_a_dumped_history_in_either_layout(tmp_path: Path, indent: int | None) -> None:
    p = tmp_path / "hist.json"
    p.write_text(json.dumps({"val_loss": [1.0, 0.8, 0.9], "loss": [1.2, 0.7, 0.5]}, indent=indent))
    h = load(p)
    assert h.series("train", "loss").values.tolist() == [1.2, 0.7, 0.5]


def test_a_shorter_list_is_read_from_epoch_one_with_a_note(tmp_path: Path) -> None:
    p = tmp_path / "hist.json"
    p.write_text('{"loss": [1.0, 0.8, 0.7, 0.6], "val_loss": [1.1, 0.9], "val_acc": [0.5, null, 0.7, 0.8]}')
    h = load(p)
    assert h.series("val", "loss").epoch.tolist() == [1.0, 2.0]
    assert h.series("val", "acc").values.tolist() == [0.5, 0.7, 0.8]  # null: not logged
    assert any("val_loss has fewer values than the 4 epochs" in n.message for n in h.notes)


@pytest.mark.parametrize(("doc", "expected"), [
    ('{"loss": [1.0, 0.9], "val_loss": {"a": 1}}',
     "key 'val_loss': expected a list of per-epoch values, or an object keyed by row index (0, 1, 2…, pandas "
     "to_json), got the key 'a'"),
    ('{"loss": [1.0, true]}', "key 'loss', epoch 2: expected a number, got true"),
    ('{"loss": [1.0, "high"]}', "expected a number, got 'high'"),
    ('{"loss": []}', "every list is empty"),
    ('{"loss": [1.0, 0.9]', "not valid JSON"),
])
def test_bad_histories_are_refused_with_the_key(tmp_path: Path, doc: str, expected: str) -> None:
    p = tmp_path / "hist.json"
    p.write_text(doc)
    with pytest.raises(InputError) as e:
        load(p)
    assert expected in str(e.value) and str(p) in str(e.value)


def test_a_pandas_to_json_history_is_read_by_row_index(tmp_path: Path) -> None:
    """``pd.DataFrame(history.history).to_json(f)`` writes each metric as an object keyed by the frame's row index
    (as strings): row i is epoch i + 1, in index order even when the keys are not."""
    p = tmp_path / "history.json"
    p.write_text('{"loss":{"0":1.0,"1":0.8,"2":0.7},"val_loss":{"1":0.95,"0":1.1,"2":0.9},'
                 '"val_accuracy":{"0":0.5,"1":0.6,"2":0.65}}')
    h = load(p)
    s = h.series("val", "loss")
    assert list(s.epoch) == [1.0, 2.0, 3.0] and list(s.values) == [1.1, 0.95, 0.9]
    assert list(h.series("val", "acc").values) == [0.5, 0.6, 0.65]


def test_other_json_is_not_taken_for_a_history(tmp_path: Path) -> None:
    cfg = tmp_path / "config.json"
    cfg.write_text('{"layers": [64, 32], "dropout": 0.1}')
    summary = tmp_path / "metrics.json"
    summary.write_text('{"loss": 0.31, "accuracy": 0.9}')
    state = tmp_path / "trainer_state.json"
    state.write_text('{"loss": [1], "log_history": [{"loss": 1.0, "step": 1}]}')
    for p in (cfg, summary):
        r = sniff(p)
        assert r is None or r.name != "history-json"
    assert sniff(state).name == "hf-trainer"  # type: ignore[union-attr]


def test_values_beyond_float_range_numeric_strings_and_nan(tmp_path: Path) -> None:
    p = tmp_path / "hist.json"
    p.write_text('{"loss": [1.0, "0.5", NaN, ' + "9" * 400 + '], "val_loss": [1.0, 0.9, 0.8, 0.7]}')
    v = load(p).series("train", "loss").values
    assert v[:2].tolist() == [1.0, 0.5] and np.isnan(v[2]) and v[3] == np.inf  # NaN is evidence: kept


def test_a_history_larger_than_the_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gapwatch.readers import history_json

    monkeypatch.setattr(history_json, "MAX_BYTES", 16)
    p = tmp_path / "hist.json"
    p.write_text('{"loss": [1.0, 0.9, 0.8, 0.7], "val_loss": [1.0, 0.9, 0.8, 0.7]}')
    with pytest.raises(InputError, match="larger than 16 bytes"):
        load(p)


def test_a_final_score_beside_the_lists_is_left_out_with_a_note(tmp_path: Path) -> None:
    """A Keras history saved with its final test score: ``{"loss": [...], ..., "test_accuracy": 0.92}``."""
    p = tmp_path / "training_history.json"
    p.write_text('{"loss": [1.0, 0.8, 0.7], "val_loss": [1.1, 0.9, 0.95], "test_accuracy": 0.92, '
                 '"test_loss": 0.25}')
    h = load(p)
    assert len(h.series("val", "loss")) == 3 and not h.has("test", "acc")
    assert any("test_accuracy, test_loss: a single value" in n.message for n in h.notes)


def test_a_history_nested_in_a_run_summary_is_read(tmp_path: Path) -> None:
    """matt-balda/fewshot_bert_ensemble (batch 24 dev, numbers changed): a meta JSON whose per-epoch lists sit under
    ``history`` beside the model's name, its hyper-parameters and its best epoch — read like a history at the top,
    the rest left out; under a split's name each list takes the split."""
    p = tmp_path / "bert-base-uncased_training_meta.json"
    p.write_text(json.dumps({"model_key": "bert-base-uncased", "hyperparams": {"seed": 42, "batch_size": 16},
                             "best_epoch": 3, "history": {"train_loss": [0.40, 0.30, 0.20, 0.10],
                                                          "val_loss": [0.50, 0.45, 0.60, 0.90],
                                                          "val_f1_macro": [0.70, 0.78, 0.76, 0.74]},
                             "training_time_min": 38.8}, indent=2))
    assert sniff(p).name == "history-json"  # type: ignore[union-attr]
    h = load(p)
    assert sorted(h.keys()) == [("train", "loss"), ("val", "f1_macro"), ("val", "loss")]
    assert list(h.series("val", "f1_macro").values) == [0.70, 0.78, 0.76, 0.74]
    by_split = tmp_path / "split.json"
    by_split.write_text('{"name": "cnn", "train": {"loss": [0.9, 0.7, 0.5]}, "val": {"loss": [1.0, 0.8, 0.85]}}')
    h = load(by_split)
    assert list(h.series("val", "loss").values) == [1.0, 0.8, 0.85] and h.has("train", "loss")


def test_facts_beside_the_lists_and_one_element_lists_per_record(tmp_path: Path) -> None:
    """DevKhampariya/OceanEmbed (a ``"training_complete": true`` beside the lists: refused before) and
    AliBavarchee/LOCP_i (a loop that calls ``fit`` one epoch at a time and appends each history:
    ``[{"loss": [0.34], "val_loss": [0.22]}, …]``, read as holding no numbers before), batch 24 dev."""
    p = tmp_path / "training_history.json"
    p.write_text('{"train_losses": [0.39, 0.2, 0.1], "val_losses": [0.19, 0.1, 0.09], "test_loss": 0.0217, '
                 '"training_complete": true, "model": "mlp", "note": null}')
    h = load(p)
    assert list(h.series("val", "loss").values) == [0.19, 0.1, 0.09]
    assert any("training_complete, model, note: a text, a true/false or a null" in n.message for n in h.notes)
    q = tmp_path / "history_records.json"
    q.write_text(json.dumps([{"loss": [0.34], "val_loss": [0.22]}, {"loss": [0.18], "val_loss": [0.15]},
                             {"loss": [0.14], "val_loss": [0.13]}]))
    h = load(q)
    assert list(h.series("val", "loss").values) == [0.22, 0.15, 0.13]
    assert list(h.series("val", "loss").epoch) == [1.0, 2.0, 3.0]
