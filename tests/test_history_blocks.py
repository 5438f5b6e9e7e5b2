"""A block-stored History (what the readers build, issue 16 item 10) answers every question exactly as the long
table of the same rows does: runs, keys, series (views or sorted copies), iteration, renaming, dedupe, and the
readers' resumed-run resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gapwatch import load
from gapwatch.history import History, Series
from gapwatch.readers._parts import Parts, _columns, build, needs_dedupe, resolve_resumed

FIXTURES = Path(__file__).parent / "fixtures"
WILD = Path(__file__).parent.parent / "bench" / "wild" / "files"
NAN = np.nan


def _same_series(a: Series, b: Series) -> None:
    assert (a.split, a.metric, a.name, a.x_kind) == (b.split, b.metric, b.name, b.x_kind)
    for f in ("step", "epoch", "values"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def _same_columns(a: History, b: History) -> None:
    ca, cb = a.columns(), b.columns()
    for c in ("step", "epoch", "value"):
        np.testing.assert_array_equal(ca[c], cb[c])
    for c in ("run", "split", "metric", "name"):
        assert ca[c].tolist() == cb[c].tolist()


def _series_or_error(h: History, *args: str, **kw: str | None) -> Series | str:
    try:
        return h.series(*args, **kw)  # type: ignore[arg-type]
    except (KeyError, ValueError) as e:
        return f"{type(e).__name__}: {e}"


def assert_equivalent(blocked: History, long: History) -> None:
    """Every public answer of ``blocked`` equals that of ``long`` (same rows, long-stored)."""
    assert len(blocked) == len(long)
    assert blocked.runs() == long.runs() and blocked.keys() == long.keys()
    assert blocked.names() == long.names() and blocked.splits() == long.splits()
    assert blocked.name_first_rows() == long.name_first_rows()
    assert blocked.notes == long.notes and blocked.sources == long.sources and blocked.meta == long.meta
    _same_columns(blocked, long)
    for run in long.runs():
        pairs = long.run(run).keys()
        for split, metric in pairs:
            for x in (None, "epoch", "step"):
                got = _series_or_error(blocked, split, metric, run=run, x=x)
                want = _series_or_error(long, split, metric, run=run, x=x)
                if isinstance(want, str):
                    assert got == want
                else:
                    assert isinstance(got, Series)
                    _same_series(got, want)
        _same_columns(blocked.run(run), long.run(run))
    for rb, rl in zip(blocked, long, strict=True):
        assert rb.name == rl.name and rb.keys() == rl.keys() and rb.notes == rl.notes and rb.meta == rl.meta
        pairs = rl.keys()
        for split, metric in pairs:
            _same_series(rb.series(split, metric), rl.series(split, metric))
        for metric in {m for _, m in pairs}:
            if rl.has("val", metric):
                bb, cb = rb.aligned_arrays(metric)
                bl, cl = rl.aligned_arrays(metric)
                _same_series(bb, bl)
                assert cb.keys() == cl.keys()
                for k in cl:
                    np.testing.assert_array_equal(cb[k], cl[k])
    _same_columns(blocked.dedupe(), long.dedupe())
    assert blocked.dedupe().notes == long.dedupe().notes
    np.testing.assert_array_equal(needs_dedupe(blocked), needs_dedupe(long))
    if long.runs():
        _same_columns(blocked.with_run_name("x"), long.with_run_name("x"))
        assert blocked.with_run_name("x").meta == long.with_run_name("x").meta
        assert blocked.with_meta(long.runs()[0], k=1).meta == long.with_meta(long.runs()[0], k=1).meta
    with pytest.raises(KeyError) as eb:
        blocked.run("no such run")
    with pytest.raises(KeyError) as el:
        long.run("no such run")
    assert str(eb.value) == str(el.value)


def _logs() -> list[Path]:
    return sorted(p for d in (FIXTURES, WILD) for p in d.rglob("*") if p.is_file() and p.suffix not in (".py", ".md"))


@pytest.mark.parametrize("path", _logs(), ids=lambda p: p.name)
def test_every_fixture_log_blocked_equals_long(path: Path) -> None:
    try:
        h = load(path)
    except Exception:  # noqa: BLE001  # a fixture that is meant to fail is the readers' tests' business
        pytest.skip("not a readable log")
    assert_equivalent(h, h._as_long())  # noqa: SLF001


def _resumed_parts() -> list[Parts]:
    """Runs that need resolving and runs that do not, interleaved, with shared and absent axes, two names of
    one series, a non-finite step, an empty block and a run name used by two parts."""
    shared = np.array([1.0, 2.0, 3.0, 2.0, 3.0, 4.0])  # resumed at 2
    a = Parts("a", "a.csv")
    a.add(np.full(6, NAN), shared, "train", "loss", np.linspace(1, 0, 6), "loss")
    a.add(np.full(6, NAN), shared, "val", "loss", np.linspace(2, 1, 6), "val_loss")
    b = Parts("b", "b.jsonl")
    b.add(np.array([10.0, 20.0, np.inf, 30.0]), np.full(4, NAN), "train", "loss", np.arange(4.0), "train_loss")
    b.add(np.array([20.0, 40.0]), np.full(2, NAN), "val", "loss", np.array([0.5, 0.4]), "eval_loss")
    b.add(np.array([60.0]), np.full(1, NAN), "val", "loss", np.array([0.3]), "val_loss")
    b.add(np.empty(0), np.empty(0), "val", "acc", np.empty(0), "val_acc")
    c = Parts("c", "c.csv")
    c.add(np.array([5.0, 5.0, 6.0]), np.array([1.0, 1.0, 2.0]), "val", "acc", np.array([0.1, 0.2, 0.3]), "val_acc")
    c.add(np.array([1.0, 2.0]), np.array([NAN, NAN]), "train", "loss", np.array([3.0, 2.0]), "loss")
    d = Parts("d", "d.csv")
    d.add(np.array([3.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]), "val", "loss", np.array([1.0, 2.0, 3.0]), "val_loss")
    a2 = Parts("a", "a.csv")
    a2.add(np.full(2, NAN), np.array([9.0, 10.0]), "val", "acc", np.array([0.7, 0.8]), "val_acc")
    return [a, b, c, d, a2]


@pytest.mark.parametrize("pick", [(0, 1, 2, 3, 4), (1, 2), (0, 3), (1,), (0, 4), (2, 1, 0)])
def test_resumed_runs_are_resolved_as_the_long_table_resolves_them(pick: tuple[int, ...]) -> None:
    parts = [_resumed_parts()[i] for i in pick]
    blocked = build(parts)
    # the long table of the same blocks and its resolution, as the build did before the block storage
    raw = History.from_columns(*_columns([(p.run, b) for p in parts for b in p.blocks]),
                               notes=[n for p in parts for n in p.notes], sources={p.run: p.source for p in parts})
    want = resolve_resumed(raw)
    assert blocked._blocks is not None and want._blocks is None  # noqa: SLF001
    assert_equivalent(blocked, want)


def test_series_of_one_block_is_a_view_and_of_several_blocks_a_copy() -> None:
    p = Parts("r", "r.csv")
    ep = np.arange(1.0, 5.0)
    p.add(np.full(4, NAN), ep, "train", "loss", np.ones(4), "loss")
    p.add(np.full(2, NAN), np.array([1.0, 2.0]), "val", "loss", np.ones(2), "val_loss")
    p.add(np.full(2, NAN), np.array([3.0, 4.0]), "val", "loss", np.zeros(2), "eval_loss")
    h = build([p], consume=True)
    blocks = h._blocks  # noqa: SLF001
    assert blocks is not None
    assert np.shares_memory(h.series("train", "loss").values, blocks[0].value)
    s = h.series("val", "loss")
    assert s.name == "val_loss" and s.values.tolist() == [1.0, 1.0, 0.0, 0.0]
    np.testing.assert_array_equal(h._index()["groups"][("r", "val", "loss")], np.arange(4, 8))  # noqa: SLF001
    assert list(h._index()["groups"]) == [("r", "train", "loss"), ("r", "val", "loss")]  # noqa: SLF001


def test_a_block_whose_arrays_differ_in_length_is_refused() -> None:
    from gapwatch.errors import InputError

    p = Parts("r", "r.csv")
    p.add(np.arange(3.0), np.arange(1.0), "val", "loss", np.ones(3), "val_loss")
    with pytest.raises(InputError, match="val_loss.*one length"):
        build([p])
