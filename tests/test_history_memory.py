"""The History's storage stays small (issue 16, item 10): narrow codes, no memory for an axis no row has, an
index without a per-point object column, series handed out as read-only views when no copy is needed."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from gapwatch.readers._parts import Parts, build

N = 200_000


def _parts(n: int = N) -> list[Parts]:
    rng = np.random.default_rng(0)
    epoch = np.arange(1.0, n + 1.0)
    p = Parts("run", "log.csv")
    for name in ("loss", "val_loss", "acc", "val_acc"):
        p.add(np.full(n, np.nan), epoch, "val" if name.startswith("val") else "train",
              name.removeprefix("val_"), rng.random(n), name)
    return [p]


def test_a_point_costs_at_most_24_bytes_with_its_index() -> None:
    build(_parts(10_000)).series("val", "loss")  # first-use imports are not the History's
    parts = _parts()
    tracemalloc.start()
    h = build(parts, consume=True)
    del parts
    h.series("val", "loss")  # builds the lookup index
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    points = 4 * N
    # value 8 + epoch 8 + four one-byte codes + an int32 row position; the step no row has costs nothing
    assert held / points <= 24.5, f"{held / points:.1f} bytes a point"
    assert h._num["step"].strides == (0,) and np.isnan(h._num["step"]).all()  # noqa: SLF001
    assert all(k.dtype == np.uint8 for k, _ in h._text.values())  # noqa: SLF001


def test_consuming_build_releases_the_blocks_and_equals_a_plain_build() -> None:
    parts = _parts(1000)
    plain = build(_parts(1000))
    h = build(parts, consume=True)
    assert all(b.value.size == 0 for p in parts for b in p.blocks)
    for c in ("step", "epoch", "value"):
        np.testing.assert_array_equal(h.columns()[c], plain.columns()[c])
    assert h.columns()["name"].tolist() == plain.columns()["name"].tolist()


def test_series_are_read_only_views_or_copies_never_writable_into_the_history() -> None:
    h = build(_parts(1000))
    s = h.series("val", "loss")
    assert np.shares_memory(s.values, h._num["value"])  # noqa: SLF001  # in order: a view, no copy
    assert h.series("val", "loss") is s  # built once
    for a in (s.values, s.epoch, s.step, s.finite().values):
        with pytest.raises(ValueError):
            a[0] = 1.0
    assert s.finite().values is not s.values and np.shares_memory(s.finite().values, s.values)


def test_codes_widen_with_the_number_of_names() -> None:
    p = Parts("run", "log.csv")
    for k in range(300):
        p.add(np.arange(2.0), np.arange(2.0), "val", f"m{k}", np.ones(2), f"val_m{k}")
    h = build([p])
    assert h._text["name"][0].dtype == np.uint16  # noqa: SLF001
    assert h.names()[:2] == ["val_m0", "val_m1"] and len(h.names()) == 300
