"""ExampleTable: Parquet round trip, streaming writer, .npz input, and clear errors on bad tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gapwatch.errors import InputError, UsageError
from gapwatch.examples import (
    ExampleTable,
    ExampleTableWriter,
    load,
    read_npz,
    read_table,
    read_tables,
    write_table,
)
from gapwatch.examples.record import ExampleRecorder, IndexedDataset, batch_records


def _table(E: int = 3, n: int = 7, C: int = 4, seed: int = 0, probs: bool = True) -> ExampleTable:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(E, n, C))
    y = rng.integers(0, C, n)
    recs = [batch_records(z[e], y) for e in range(E)]
    stack = {k: np.stack([r[k] for r in recs]) for k in recs[0] if k != "label"}
    return ExampleTable(index=np.arange(n), epochs=np.arange(E), loss=stack["loss"], margin=stack["margin"],
                        correct=stack["correct"], el2n=stack["el2n"], pred=stack["pred"],
                        probs=stack["probs"] if probs else None, label=y, num_classes=C)


def _same(a: ExampleTable, b: ExampleTable) -> None:
    assert np.array_equal(a.index, b.index) and np.array_equal(a.epochs, b.epochs)
    for k in ("loss", "margin", "el2n", "probs"):
        x, y = getattr(a, k), getattr(b, k)
        assert (x is None) == (y is None)
        if x is not None:
            assert np.allclose(x, y, atol=1e-6), k
    assert np.array_equal(a.correct, b.correct) and np.array_equal(a.pred, b.pred)
    assert np.array_equal(a.label, b.label)


def test_parquet_round_trip(tmp_path: Path) -> None:
    t = _table()
    p = write_table(t, tmp_path / "examples.parquet", n=7)
    _same(t, read_table(p, expected_n=7))
    # only some columns, only some epochs
    t2 = read_table(p, columns=["margin"], max_epochs=2)
    assert t2.el2n is None and t2.probs is None and t2.loss.shape == (2, 7)
    assert np.allclose(t2.margin, t.margin[:2])


def test_streaming_writer_row_groups_any_order(tmp_path: Path) -> None:
    t = _table(E=4, n=50, probs=False)
    p = tmp_path / "s.parquet"
    rng = np.random.default_rng(1)
    with ExampleTableWriter(p, n=50, row_group_rows=37) as w:
        for e in range(4):
            perm = rng.permutation(50)
            for s in range(0, 50, 16):
                b = perm[s:s + 16]
                w.write(epoch=e, index=b, loss=t.loss[e, b], margin=t.margin[e, b], correct=t.correct[e, b],
                        el2n=t.el2n[e, b], pred=t.pred[e, b], label=t.label[b])
    assert pq.ParquetFile(p).num_row_groups >= 5
    _same(t, read_table(p))


def test_recorder_streams_same_as_memory(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    z = torch.tensor(rng.normal(size=(3, 10, 5)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 5, 10))
    disk = ExampleRecorder(tmp_path / "r.parquet", n=10, store_probs=True, row_group_rows=8)
    mem = ExampleRecorder(None, n=10, store_probs=True)
    for e in range(3):
        for b in (torch.arange(0, 6), torch.arange(6, 10)):
            disk.record(b, z[e, b], y[b])
            mem.record(b, z[e, b], y[b])
        disk.end_epoch()
        mem.end_epoch()
    disk.close()
    _same(mem.table(), read_table(tmp_path / "r.parquet"))
    assert np.allclose(mem.table().loss[1], torch.nn.functional.cross_entropy(z[1], y, reduction="none"))


def test_multiple_runs(tmp_path: Path) -> None:
    a, b = _table(seed=0), _table(seed=1)
    b.label = a.label
    p = tmp_path / "runs.parquet"
    with ExampleTableWriter(p) as w:
        for run, t in ((0, a), (3, b)):
            for e in range(3):
                w.write(epoch=e, index=t.index, loss=t.loss[e], margin=t.margin[e], label=t.label, run=run)
    runs = read_tables(p)
    assert [r.run for r in runs] == [0, 3]
    assert np.allclose(runs[1].loss, b.loss)
    with pytest.raises(UsageError, match="holds 2 runs"):
        read_table(p)
    assert read_table(p, run=3).run == 3


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    p = write_table(_table(), tmp_path / "e.parquet")
    with pytest.raises(UsageError, match="already exists"):
        write_table(_table(), p)
    write_table(_table(seed=5), p, overwrite=True)


def test_indexed_dataset() -> None:
    ds = IndexedDataset([("a", 0), ("b", 1)])
    assert len(ds) == 2 and ds[1] == (1, ("b", 1))
    with pytest.raises(UsageError, match="map-style"):
        IndexedDataset(iter([]))


# ------------------------------------------------------------------------------------------- bad input

def _write_rows(path: Path, rows: dict[str, list], meta_n: int | None = None) -> Path:
    tbl = pa.table(rows)
    if meta_n is not None:
        tbl = tbl.replace_schema_metadata({b"gapwatch.examples": f'{{"n": {meta_n}}}'.encode()})
    pq.write_table(tbl, path)
    return path


def test_duplicate_index(tmp_path: Path) -> None:
    p = _write_rows(tmp_path / "d.parquet", {"epoch": [0, 0, 0], "index": [0, 1, 1], "loss": [0.1, 0.2, 0.3]})
    with pytest.raises(InputError, match=r"duplicate rows for example index 1 at epoch 0"):
        read_table(p)


def test_missing_epoch_rows(tmp_path: Path) -> None:
    p = _write_rows(tmp_path / "m.parquet",
                    {"epoch": [0, 0, 0, 1, 1], "index": [0, 1, 2, 0, 2], "loss": [0.1] * 5})
    with pytest.raises(InputError, match=r"epoch 1 \(run 0\) is missing 1 of 3 examples \(first missing index 1\)"):
        read_table(p)


def test_nan_loss(tmp_path: Path) -> None:
    p = _write_rows(tmp_path / "n.parquet", {"epoch": [0, 0, 1, 1], "index": [0, 1, 0, 1],
                                             "loss": [0.1, 0.2, float("nan"), 0.3]})
    with pytest.raises(InputError, match="loss is NaN/inf for example index 0 at epoch 1"):
        read_table(p)


def test_other_dataset_size(tmp_path: Path) -> None:
    p = _write_rows(tmp_path / "o.parquet", {"epoch": [0, 0], "index": [0, 1], "loss": [0.1, 0.2]}, meta_n=2)
    with pytest.raises(InputError, match="recorded on a dataset of 2 examples but this dataset has 5"):
        read_table(p, expected_n=5)
    p2 = _write_rows(tmp_path / "o2.parquet", {"epoch": [0, 0], "index": [0, 1], "loss": [0.1, 0.2]})
    with pytest.raises(InputError, match="covers 2 examples .* but the dataset has 3"):
        read_table(p2, expected_n=3)
    p3 = _write_rows(tmp_path / "o3.parquet", {"epoch": [0], "index": [9], "loss": [0.1]}, meta_n=5)
    with pytest.raises(InputError, match="index 9 is out of range for a dataset of 5"):
        read_table(p3)


def test_missing_column_and_not_parquet(tmp_path: Path) -> None:
    p = _write_rows(tmp_path / "c.parquet", {"epoch": [0], "index": [0]})
    with pytest.raises(InputError, match="missing required column 'loss'"):
        read_table(p)
    bad = tmp_path / "x.parquet"
    bad.write_text("hello")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        read_table(bad)
    with pytest.raises(UsageError, match="unknown table format"):
        load(tmp_path / "x.csv")


def test_label_changes_between_epochs(tmp_path: Path) -> None:
    p = _write_rows(tmp_path / "l.parquet", {"epoch": [0, 1], "index": [0, 0], "loss": [0.1, 0.2],
                                             "label": [3, 4]})
    with pytest.raises(InputError, match="label of example index 0 changes between epochs"):
        read_table(p)


def test_recorder_errors() -> None:
    torch = pytest.importorskip("torch")
    r = ExampleRecorder(None, n=4)
    with pytest.raises(UsageError, match="index 7 is out of range for n=4"):
        r.record(torch.tensor([7]), torch.zeros(1, 3), torch.tensor([0]))
    with pytest.raises(UsageError, match="2 indices for a batch of 1"):
        r.record(torch.tensor([0, 1]), torch.zeros(1, 3), torch.tensor([0]))
    r.record(torch.tensor([0, 1]), torch.zeros(2, 3), torch.tensor([0, 1]))
    r.record(torch.tensor([1]), torch.zeros(1, 3), torch.tensor([1]))
    with pytest.raises(InputError, match="example index 1 was recorded twice in epoch 0"):
        r.table()


def test_npz(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    p = tmp_path / "e.npz"
    np.savez(p, loss=rng.random((4, 6)), margin=rng.normal(size=(4, 6)), label=rng.integers(0, 3, 6))
    t = read_npz(p)
    assert t.n == 6 and t.n_epochs == 4 and t.correct is not None
    np.savez(tmp_path / "bad1.npz", loss=rng.random((4, 6)), margin=rng.normal(size=(4, 5)))
    with pytest.raises(InputError, match="'margin' covers 5 examples but 'loss' covers 6"):
        read_npz(tmp_path / "bad1.npz")
    np.savez(tmp_path / "bad2.npz", loss=rng.random((4, 6)), label=np.zeros(5, int))
    with pytest.raises(InputError, match="'label' has shape"):
        read_npz(tmp_path / "bad2.npz")
    np.savez(tmp_path / "bad3.npz", margin=rng.random((4, 6)))
    with pytest.raises(InputError, match="missing array 'loss'"):
        read_npz(tmp_path / "bad3.npz")
    with pytest.raises(InputError, match="covers 6 examples but the dataset has 7"):
        read_npz(p, expected_n=7)
    np.savez(tmp_path / "bad4.npz", loss=np.array([[0.1, np.nan]]))
    with pytest.raises(InputError, match="NaN/inf for example index 1 at epoch 0"):
        read_npz(tmp_path / "bad4.npz")


def test_record_eval_pass_with_indexed_loader() -> None:
    torch = pytest.importorskip("torch")
    from gapwatch.examples.record import record_eval_pass

    torch.manual_seed(0)
    X, y = torch.randn(11, 3), torch.randint(0, 2, (11,))
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5))
    loader = torch.utils.data.DataLoader(IndexedDataset(torch.utils.data.TensorDataset(X, y)), batch_size=4,
                                         shuffle=True)
    rec = ExampleRecorder(None, n=11)
    record_eval_pass(model, loader, rec)
    record_eval_pass(model, loader, rec)
    t = rec.table()
    assert t.n_epochs == 2 and model.training
    with torch.no_grad():
        model.eval()
        ref = torch.nn.functional.cross_entropy(model(X), y, reduction="none").numpy()
    assert np.allclose(t.loss[0], ref, atol=1e-6) and np.allclose(t.loss[1], ref, atol=1e-6)
    assert t.label.tolist() == y.tolist()


def test_stream_scores_match_dense(tmp_path: Path) -> None:
    from gapwatch.examples import score_table, stream_scores

    rng = np.random.default_rng(3)
    E, n = 9, 64
    t = _table(E=E, n=n, probs=False, seed=3)
    t.margin = t.margin + np.linspace(-1, 2, E)[:, None] * (rng.random(n) < 0.7)
    t.correct = t.margin > 0
    p = tmp_path / "big.parquet"
    with ExampleTableWriter(p, n=n, row_group_rows=50) as w:
        for e in range(E):
            perm = rng.permutation(n)
            w.write(epoch=e, index=perm, loss=t.loss[e, perm], margin=t.margin[e, perm], el2n=t.el2n[e, perm],
                    label=t.label[perm])
    dense, k = score_table(read_table(p))
    streamed, index, k2 = stream_scores(p, expected_n=n)
    assert k == k2 and index.tolist() == list(range(n))
    for name, v in streamed.items():
        assert np.allclose(v, dense[name], rtol=1e-5, atol=1e-6, equal_nan=True), name
    with pytest.raises(InputError, match="dataset has 65"):
        stream_scores(p, expected_n=65)
    _write_rows(tmp_path / "d.parquet", {"epoch": [0, 0, 0], "index": [0, 1, 1], "loss": [0.1, 0.2, 0.3]})
    with pytest.raises(InputError, match="duplicate rows for example index 1 at epoch 0"):
        stream_scores(tmp_path / "d.parquet")


def _arrays(E: int = 2, n: int = 3) -> dict[str, np.ndarray]:
    return {"index": np.arange(n), "epochs": np.arange(E), "loss": np.ones((E, n))}


@pytest.mark.parametrize(("change", "message"), [
    ({"index": np.zeros((3, 1), dtype=int)}, r"index must be 1-D, got shape \(3, 1\)"),
    ({"loss": np.ones((3, 2))}, r"loss must have shape \(epochs, n\) = \(2, 3\), got \(3, 2\)"),
    ({"index": np.arange(0), "loss": np.ones((2, 0))}, "the table is empty"),
    ({"index": np.array([0, 2, 2])}, r"duplicate example index 2 \(1 duplicates\)"),
    ({"index": np.array([2, 1, 0])}, "index must be sorted increasing"),
    ({"epochs": np.array([1, 1])}, r"epochs must be strictly increasing, got \[1, 1\]"),
    ({"margin": np.ones((2, 2))}, r"margin has shape \(2, 2\), expected \(2, 3\)"),
    ({"el2n": np.array([[0.1, np.inf, 0.2], [0.1, 0.1, 0.1]])}, "el2n is NaN/inf for example index 1 at epoch 0"),
    ({"correct": np.ones((1, 3), dtype=bool)}, r"correct has shape \(1, 3\), expected \(2, 3\)"),
    ({"pred": np.ones((2, 4), dtype=int)}, r"pred has shape \(2, 4\), expected \(2, 3\)"),
    ({"probs": np.ones((2, 3))}, r"probs has shape \(2, 3\), expected \(epochs, n, classes\)"),
    ({"label": np.array([0, 1])}, r"label has shape \(2,\), expected \(3,\)"),
    ({"label": np.array([0.0, 1.5, 2.0])}, "label must hold integer class ids"),
    ({"label": np.array([0, -1, 2])}, "label holds a negative class id -1"),
    ({"label": np.array([0, 1, 4]), "num_classes": 3}, "label 4 is out of range for 3 classes"),
])
def test_in_memory_table_rejects_bad_arrays(change: dict[str, object], message: str) -> None:
    """Every check of ExampleTable's constructor names the column, the shape or value and the table's source."""
    with pytest.raises(InputError, match=message) as err:
        ExampleTable(**{**_arrays(), **change}, source="mine.npz")  # type: ignore[arg-type]
    assert "mine.npz" in str(err.value)


def test_in_memory_table_derives_correct_and_classes() -> None:
    margin = np.array([[0.5, -0.2, 0.0], [1.0, 0.3, -2.0]], dtype=np.float32)
    t = ExampleTable(**_arrays(), margin=margin, label=np.array([0.0, 2.0, 1.0]))
    assert t.margin is not None and t.margin.dtype == np.float32  # float32 kept
    assert t.correct is not None and t.correct.tolist() == [[True, False, False], [True, True, False]]
    assert t.label is not None and t.label.dtype == np.int64 and t.num_classes == 3
    probs = np.full((2, 3, 5), 0.2)
    assert ExampleTable(**_arrays(), probs=probs, label=np.array([0, 1, 2])).num_classes == 5


def test_stream_scores_with_correct_but_no_margin_match_dense(tmp_path: Path) -> None:
    """A table with ``correct`` but no ``margin`` picks its early window on the running mean loss, as
    score_table does (it used to fail with "max() arg is an empty sequence")."""
    from gapwatch.examples import score_table, stream_scores

    E, n = 6, 40
    t = _table(E=E, n=n, probs=False, seed=5)
    p = tmp_path / "c.parquet"
    with ExampleTableWriter(p, n=n, row_group_rows=30) as w:
        for e in range(E):
            w.write(epoch=e, index=t.index, loss=t.loss[e], correct=t.correct[e], label=t.label)
    dense, k = score_table(read_table(p))
    streamed, _, k2 = stream_scores(p)
    assert k2 == k
    assert set(streamed) == {"forgetting", "learned_epoch", "loss_early", "loss_mean", "loss_last", "mislabel"}
    for name, v in streamed.items():
        assert np.allclose(v, dense[name], rtol=1e-5, atol=1e-6, equal_nan=True), name
