"""CatBoost's training log: ``catboost_info/catboost_training.json``, written by every ``fit`` by default.

CatBoost writes, beside its TSV files, one JSON document per training::

    {"meta": {"learn_sets": ["learn"], "test_sets": ["test"],
              "learn_metrics": [{"best_value": "Min", "name": "RMSE"}],
              "test_metrics": [{"best_value": "Min", "name": "RMSE"}], "iteration_count": 2267, …},
     "iterations": [{"learn": [0.1049], "iteration": 0, "passed_time": 0.04, "remaining_time": 92.3,
                     "test": [0.1054]}, …]}

Each boosting iteration is a step (``iteration``, 0-based, as CatBoost counts); each entry of ``learn`` (and of
every evaluation set named in ``test_sets``) is the metric of ``learn_metrics`` (``test_metrics``) at the same
position. The learning set is the training split; the first evaluation set (the ``eval_set`` CatBoost selects
its best iteration on, ``use_best_model``) is the validation split, any further ones test splits. Series are
named ``<split>_<metric>`` (``val_RMSE``); a metric's direction comes from its name, as for every reader
(CatBoost's own names: ``Logloss``, ``RMSE`` smaller-is-better, ``AUC``, ``Accuracy`` larger-is-better;
``MultiClass``, the multi-class log-loss, is read as ``<split>_MultiClass_loss``).

Recognised by a JSON document whose first 64 KiB hold ``"learn_metrics"`` (or ``"test_metrics"``) and
``"iterations"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._parts import Parts, records_parts
from .base import FunctionReader

NAME = "catboost-json"
#: CatBoost's multi-class log-losses, whose names say no "loss": read as ``<split>_<name>_loss``.
MULTICLASS_LOSSES = frozenset({"MultiClass", "MultiClassOneVsAll"})


def sniff(path: Path, head: str) -> bool:
    if not path.is_file() or not head.lstrip().startswith("{"):
        return False
    return ('"learn_metrics"' in head or '"test_metrics"' in head) and '"iterations"' in head


def _sets(meta: dict[str, Any], path: Path) -> list[tuple[str, str, list[str]]]:
    """``(key, split, metric names)`` of the learning set and the evaluation sets."""
    out = []
    for kind, split_of in (("learn", lambda k: "train"), ("test", lambda k: "val" if k == 0 else "test")):
        names = meta.get(f"{kind}_sets") or []
        metrics = meta.get(f"{kind}_metrics") or []
        if not isinstance(names, list) or not isinstance(metrics, list) \
                or not all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in metrics):
            raise InputError(f"'meta.{kind}_sets' / 'meta.{kind}_metrics' are not lists of set names and "
                             "{'name': …} metrics (a catboost_training.json file)", path=path)
        for k, key in enumerate(names):
            out.append((str(key), split_of(k), [m["name"] for m in metrics]))
    return out


def read_parts(path: Path, run: str) -> list[Parts]:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg}), expected a catboost_training.json document", path=path,
                         line=exc.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("meta"), dict) \
            or not isinstance(doc.get("iterations"), list):
        raise InputError("expected a JSON object with 'meta' and an 'iterations' list (catboost_training.json)",
                         path=path)
    sets = _sets(doc["meta"], path)
    records: list[tuple[int, dict[str, Any]]] = []
    for n, it in enumerate(doc["iterations"], start=1):
        if not isinstance(it, dict) or not isinstance(it.get("iteration"), (int, float)):
            raise InputError(f"iterations[{n - 1}] has no number 'iteration' (a catboost_training.json file)",
                             path=path)
        rec: dict[str, Any] = {"step": float(it["iteration"])}
        for key, split, names in sets:
            values = it.get(key)
            if values is None:
                continue
            if not isinstance(values, list) or len(values) != len(names):
                raise InputError(f"iterations[{n - 1}].{key} should be a list of {len(names)} number(s), one per "
                                 f"metric {names}", path=path)
            for name, v in zip(names, values, strict=True):
                rec[f"{split}_{name}_loss" if name in MULTICLASS_LOSSES else f"{split}_{name}"] = v
        records.append((n, rec))
    return [records_parts(records, run, str(path), place="iterations entry #")]


READER = FunctionReader(NAME, sniff, read_parts, "CatBoost's catboost_info/catboost_training.json")
