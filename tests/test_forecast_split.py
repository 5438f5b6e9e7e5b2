"""The forecast benchmarks' dev/test halves are fixed per curve (issue 14's measurements, issue 12's rule).

A curve of the real-log corpus is in its manifest entry's ``split``; any other curve in the half given by the
SHA-1 of its name (``bench/bench_forecast.py``: :func:`name_split`). Adding curves (the corpus grows batch by
batch) must never move another curve from one half to the other, and the corpus's test split is never fitted on,
not even for the mirror fit that scores the dev half (``bench/bench_forecast_degradation.py``: :func:`fit_pools`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import bench_forecast  # noqa: E402  (the benchmark's own split rule)
import bench_forecast_degradation  # noqa: E402
import bench_wild  # noqa: E402

#: names of curves of the benchmarks (CPU-trained runs, Crowded Valley / DeepOBS runs, LCDB curves) and their
#: half: the parity of the first byte of sha1(name) (even: dev). Pinned: a change moves curves between halves
#: and makes the shipped constants in-sample on the test half.
NAMES = {
    "digits-mlp-00": "test",
    "digits-mlp-01": "dev",
    "digits-mlp-02": "test",
    "digits-mlp-11": "dev",
    "fmnist-mlp-05": "dev",
    "real01:mnist_vae:AdamOptimizer": "dev",
    "real04:mnist_vae:AdamOptimizer": "test",
    "lcdb:6:SVC_sigmoid": "dev",
    "lcdb:6:sklearn.naive_bayes.BernoulliNB": "test",
    "a": "dev",
    "b": "test",
}


def test_name_split_table() -> None:
    assert {n: bench_forecast.name_split(n) for n in NAMES} == NAMES


def test_adding_curves_never_moves_one_outside_the_corpus() -> None:
    cpu = bench_forecast_degradation.load_cpu()
    real = bench_forecast.load_real()[0]
    assert len(cpu) >= 30 and len(real) >= 50
    for c in cpu + real:
        assert c["split"] == bench_forecast.name_split(c["name"])
    # both halves hold curves of each set (the split is not degenerate)
    for curves in (cpu, real):
        assert {c["split"] for c in curves} == set(bench_forecast.SPLITS)
    alone = {c["name"]: c["split"] for c in cpu[:10]}
    with_more = {c["name"]: c["split"] for c in cpu + real}
    assert all(with_more[n] == s for n, s in alone.items())


def _committed_log_entries() -> list[dict[str, Any]]:
    """Manifest entries of the real-log corpus whose files are committed and that have a held-out series."""
    entries = json.loads(bench_wild.MANIFEST.read_text())["entries"]
    return [e for e in entries if e["committed"] and e["judgement"].get("kind") == "log"
            and e["judgement"].get("heldout")]


def _load(entries: list[dict[str, Any]], tmp: Path) -> dict[str, tuple[str, bytes]]:
    """``load_wild`` on a manifest holding ``entries``: curve (entry id, name without its running index) → its
    split and its values rounded as load_wild compares them (bytes)."""
    manifest = tmp / f"manifest_{len(entries)}.json"
    manifest.write_text(json.dumps({"entries": entries}))
    curves, missing = bench_forecast.load_wild(tmp / "no_cache", manifest)
    assert missing == 0
    by_entry = {e["id"]: e["split"] for e in entries}
    for c in curves:
        assert c["split"] == by_entry[c["entry"]]  # the corpus's own split, never recomputed
    return {f"{c['entry']}|{c['name'].split(':', 1)[1]}": (c["split"], np.round(c["y"], 6).tobytes()) for c in curves}


def test_real_log_curves_keep_their_manifest_split_when_the_corpus_grows(tmp_path: Path) -> None:
    entries = _committed_log_entries()[:24]
    small = _load(entries[1::2], tmp_path)
    grown = _load(entries, tmp_path)  # an entry added before each of the small corpus's
    assert {split for split, _ in small.values()} == set(bench_forecast.SPLITS)
    assert len(grown) > len(small)
    for key, (split, values) in small.items():
        if key in grown:
            assert grown[key][0] == split
        else:  # only an exact duplicate of a curve of an added entry is dropped (load_wild's rule), never moved
            assert any(v == values for _, v in grown.values())
    assert sum(key in grown for key in small) >= len(small) - 1


def test_a_manifest_entry_without_a_valid_split_is_refused(tmp_path: Path) -> None:
    entry = dict(_committed_log_entries()[0], split="train")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"entries": [entry]}))
    with pytest.raises(SystemExit, match=f"{entry['id']}.*split 'train'"):
        bench_forecast.load_wild(tmp_path, manifest)


def _row(name: str, set_: str, split: str) -> dict[str, Any]:
    return {"name": name, "set": set_, "split": split}


def test_the_corpus_test_split_is_never_fitted_on() -> None:
    rows = [_row("c0", "cpu", "dev"), _row("w0", "wild", "dev"), _row("c1", "cpu", "test"),
            _row("r1", "real", "test"), _row("w1", "wild", "test"), _row("w2", "wild", "test")]
    halves = {h: [r for r in rows if r["split"] == h] for h in bench_forecast.SPLITS}
    pools = bench_forecast_degradation.fit_pools(halves)
    # the test half is scored with the dev half's fit (the shipped constants), real-log dev curves included
    assert [r["name"] for r in pools["test"]] == ["c0", "w0"]
    # the dev half with the fit on the test half's curves outside the real-log corpus
    assert [r["name"] for r in pools["dev"]] == ["c1", "r1"]
    assert not any(r["set"] == "wild" and r["split"] == "test" for pool in pools.values() for r in pool)


def test_fit_pools_refuses_a_test_half_of_real_log_curves_only() -> None:
    halves = {"dev": [_row("w0", "wild", "dev")], "test": [_row("w1", "wild", "test")]}
    with pytest.raises(SystemExit, match="never fitted on"):
        bench_forecast_degradation.fit_pools(halves)
