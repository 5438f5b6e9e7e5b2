"""Two CPU processes on the gloo backend: shards scored / recorded separately, gathered by example index."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parent))

from _examples_dist_worker import model_and_data, worker  # noqa: E402  # after importorskip and the sys.path entry

from gapwatch.errors import UsageError  # noqa: E402
from gapwatch.examples import read_table  # noqa: E402
from gapwatch.examples.grand import grand  # noqa: E402
from gapwatch.examples.record import batch_records  # noqa: E402


@pytest.mark.slow
def test_two_process_gloo(tmp_path: Path) -> None:
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed not available")
    import torch.multiprocessing as mp

    mp.spawn(worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    model, _ds, X, y = model_and_data()
    t = read_table(tmp_path / "scores.parquet")
    assert t.index.tolist() == list(range(23)) and t.n_epochs == 1
    with torch.no_grad():
        ref = batch_records(model(X), y)
    assert np.allclose(t.loss[0], ref["loss"], atol=1e-6)
    assert np.allclose(t.margin[0], ref["margin"], atol=1e-6)
    assert np.allclose(np.load(tmp_path / "grand.npy"), grand(model, X, y), rtol=1e-5)
    tr = read_table(tmp_path / "train.parquet", expected_n=23)
    assert tr.n_epochs == 2
    with torch.no_grad():
        ref2 = batch_records(model(X) * 2, y)
    assert np.allclose(tr.loss[1], ref2["loss"], atol=1e-6)


def test_needs_initialised_process_group() -> None:
    from gapwatch.examples.distributed import DistributedRecorder

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        pytest.skip("a process group is already initialised")
    with pytest.raises(UsageError, match="not initialised"):
        DistributedRecorder(None)
