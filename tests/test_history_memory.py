"""The History's storage stays small (issue 16, item 10): series blocks whose shared axis is stored once, no
memory for an axis no row has, no per-point index, series handed out as read-only views when no copy is
needed."""

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


def test_a_point_costs_its_value_and_its_share_of_the_axis() -> None:
    build(_parts(10_000)).series("val", "loss")  # first-use imports are not the History's
    parts = _parts()
    reader_held = sum(b.value.nbytes for b in parts[0].blocks) + parts[0].blocks[0].epoch.nbytes
    tracemalloc.start()
    h = build(parts, consume=True)
    del parts
    pairs = h.keys()
    for split, metric in pairs:
        h.series(split, metric)  # builds the lookup index
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    points = 4 * N
    # the arrays are the reader's (taken, not copied): only the index and the Series objects are new
    assert held / points <= 0.5, f"{held / points:.2f} new bytes a point"
    # value 8 + the epoch shared by the four series (8 / 4); the step no row has costs nothing
    assert reader_held / points == 10.0
    blocks = h._blocks  # noqa: SLF001
    assert blocks is not None and len({id(b.epoch) for b in blocks}) == 1
    assert all(b.step.strides == (0,) for b in blocks)
    assert h._num["step"].strides == (0,) and np.isnan(h._num["step"]).all()  # noqa: SLF001
    assert all(k.dtype == np.uint8 for k, _ in h._text.values())  # noqa: SLF001


def test_equal_axes_of_different_series_are_stored_once() -> None:
    p = Parts("run", "log.jsonl")
    for name in ("train_loss", "val_loss"):  # a JSON Lines reader builds one axis array per key
        p.add(np.arange(0.0, 50.0, 10.0), np.arange(1.0, 6.0), name[:-5] if name[0] == "v" else "train", "loss",
              np.linspace(1, 0, 5), name)
    h = build([p], consume=True)
    blocks = h._blocks  # noqa: SLF001
    assert blocks is not None and blocks[0].step is blocks[1].step and blocks[0].epoch is blocks[1].epoch


def test_a_build_that_does_not_consume_copies() -> None:
    parts = _parts(100)
    h = build(parts)
    before = h.series("val", "loss").values.copy()
    parts[0].blocks[1].value[:] = -1.0  # the reader's arrays change: the History does not
    np.testing.assert_array_equal(h.series("val", "loss").values, before)


def test_consuming_build_releases_the_blocks_and_equals_a_plain_build() -> None:
    parts = _parts(1000)
    plain = build(_parts(1000))
    h = build(parts, consume=True)
    assert all(b.value.size == 0 for p in parts for b in p.blocks)
    for c in ("step", "epoch", "value"):
        np.testing.assert_array_equal(h.columns()[c], plain.columns()[c])
    assert h.columns()["name"].tolist() == plain.columns()["name"].tolist()


def test_series_are_read_only_views_or_copies_never_writable_into_the_history() -> None:
    parts = _parts(1000)
    reader_values = parts[0].blocks[1].value
    h = build(parts, consume=True)
    s = h.series("val", "loss")
    assert np.shares_memory(s.values, reader_values)  # in order: a view of the reader's array, no copy
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
