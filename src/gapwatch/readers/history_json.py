"""A Keras ``History`` saved as JSON: ``json.dump(history.history, f)``.

The object maps each metric name to its per-epoch list, first epoch first::

    {"loss": [0.74, 0.39, 0.27], "accuracy": [0.71, 0.86, 0.91],
     "val_loss": [0.52, 0.41, 0.44], "val_accuracy": [0.80, 0.85, 0.84]}

(also written by hand-made training loops: ``{"train_loss": [...], "val_loss": [...]}``), or the same history as
a pandas frame saved with ``pd.DataFrame(history.history).to_json(f)`` — each metric an object keyed by the
frame's row index, ``{"loss": {"0": 0.74, "1": 0.39}, ...}`` (row *i* is epoch *i + 1*). Element *i* is epoch
*i + 1*, the 1-based epoch every gapwatch reader reports, as for the pandas history CSV
(:mod:`gapwatch.readers.history_csv`). Lists may differ in length (a metric logged only from some epoch on is
not told apart from one logged until then, so a shorter list is read from epoch 1 and the note says so);
``null`` is a missing value; learning rates (``lr``) are kept aside as the schedule, as in the other readers.

A JSON array of per-epoch records, ``[{"epoch": 1, "loss": 1.45, "val_accuracy": 0.60}, …]`` (a hand-written loop's
``json.dump(history, f)``), is read record by record: the k-th record (counting from 1) is epoch k unless the
records carry an ``epoch`` or ``step``; it is recognised by a first record that names a measure.

Recognised by its first bytes: a JSON object whose first key is a metric name a reader knows as a measure
(``loss``, ``accuracy``, ``val_loss``… see :mod:`gapwatch.names`) and whose value is a list (or an object whose
first key is a row index). Anything else in the object (another nested object, a list of non-numbers, an index
that is not a whole number) is refused with the key named; a single number beside the lists (a final
``test_accuracy`` saved with the history) is left out with a note.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from .. import schedule
from ..errors import InputError
from ..history import HistoryNote
from ..names import METRIC_ALIASES, SPLIT_ALIASES, normalize, normalize_columns, role
from ..names import per_example as is_per_example
from ._parts import Parts, read_json_document, records_parts
from .base import FunctionReader

NAME = "history-json"

#: Largest history JSON read, in bytes (32 MiB: millions of values; a Keras history is kilobytes). The whole
#: document is decoded at once (Python objects, ~30 bytes a value), so this bounds the reader's memory.
MAX_BYTES = 1 << 25

#: A JSON array of per-epoch records: ``[{"epoch": 1, "loss": 1.45, "val_accuracy": 0.60}, …]`` (its first key).
_RECORDS_HEAD = re.compile(r'\A\s*\[\s*\{\s*"((?:[^"\\]|\\.){1,200})"\s*:')
_OBJECT_KEY = re.compile(r'"((?:[^"\\]|\\.){1,200})"\s*:')
_FIRST_KEY = re.compile(r'\A\s*\{\s*"((?:[^"\\]|\\.){1,200})"\s*:\s*(?:\[|\{\s*"\d+"\s*:)')
#: A measure's object of per-split lists opening the document: ``{"loc_loss": {"train": [...], "validation": [...]}``.
_SPLITS_FIRST = re.compile(r'\A\s*\{\s*"((?:[^"\\]|\\.){1,200})"\s*:\s*\{\s*"([A-Za-z_]{1,20})"\s*:\s*\[')
_MEASURES = frozenset(METRIC_ALIASES.values())
#: A numeric string (``"0.93"``, ``" 1e-3"``): such a list is values, not labels.
_NUMERIC = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$|^\s*$")
#: First keys that are an axis, not a measure (a hand-written history that lists its epochs first).
_AXIS_KEYS = frozenset({"epoch", "epochs", "step", "steps", "iteration", "iterations"})
_LIST_KEY = re.compile(r'"((?:[^"\\]|\\.){1,200})"\s*:\s*\[')
#: A document that opens with an object of settings (``{"config": {"batch_size": …``), not pandas' row index.
_SETTINGS_FIRST = re.compile(r'\A\s*\{\s*"(?:[^"\\]|\\.){1,200}"\s*:\s*\{\s*"(?!\d+")')
#: A key whose value is a list of numbers (``"val_wer": [0.98, …``), not of records or names.
_NUMBER_LIST_KEY = re.compile(r'"((?:[^"\\]|\\.){1,200})"\s*:\s*\[\s*(?:[-+]?[\d.]|null\b|NaN\b)')
#: A key whose value is a list of objects (records: another format's).
_RECORD_LIST = re.compile(r'"(?:[^"\\]|\\.){1,200}"\s*:\s*\[\s*\{')
#: An object of per-epoch lists nested under a key: ``"history": {"train_loss": [0.39`` (its first list's name).
_NESTED_LISTS = re.compile(r'"(?:[^"\\]|\\.){1,200}"\s*:\s*\{\s*"((?:[^"\\]|\\.){1,200})"\s*:\s*\[\s*'
                           r'(?:[-+]?[\d.]|null\b|NaN\b)')
#: A list of records nested under a key of the document: ``"history": [{"epoch": 1, "train_loss": 2.02, …}`` (the
#: first record's body, up to its first nested bracket).
_NESTED_RECORDS = re.compile(r'"(?:[^"\\]|\\.){1,200}"\s*:\s*\[\s*\{([^{}\[\]]{0,1000})\}')
#: Keys that place a record on the run's axis.
_RECORD_AXES = frozenset({"epoch", "step", "global_step", "iteration"})
#: Keys that name another JSON format (CatBoost's, the Trainer's): never read here by the nested rule.
_OTHER_FORMATS = ('"learn_metrics"', '"test_metrics"', '"iterations"', '"log_history"')
#: A list of text labels opening the document (a ``stage`` or ``phase`` per epoch), seen after the first key.
_TEXT_LIST = re.compile(r'\s*"')


def _measure(name: str) -> bool:
    """``name`` is a metric name and a known measure (a loss, an accuracy…)."""
    return role(name) == "metric" and ("loss" in name.lower() or normalize(name)[1] in _MEASURES)


#: Largest ``.json`` file whose whole document the sniffer decodes when its first 64 KiB decide nothing (a run's
#: summary whose per-epoch records follow a long per-step list: ``{"config": …, "steps": [9,500 losses], "epochs":
#: [{"epoch": 1, "valid_loss": …}, …]}``): 8 MiB.
DEEP_SNIFF_MAX_BYTES = 8 << 20


def sniff(path: Path, head: str) -> bool:
    if not path.is_file() or '"log_history"' in head:
        return False
    if _head_sniff(head):
        return True
    return (path.suffix.lower() == ".json" and head.lstrip()[:1] in ("{", "[")
            and len(head.encode("utf-8")) < path.stat().st_size <= DEEP_SNIFF_MAX_BYTES and _deep_sniff(path))


def _deep_sniff(path: Path) -> bool:
    """Whether the whole JSON document holds a history this reader reads (:func:`_readable`), for a file too long
    for its first 64 KiB to show it; never a document that names another JSON format (:data:`_OTHER_FORMATS`)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return False
    if any(k in text for k in _OTHER_FORMATS):
        return False
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return _readable(doc)


def _readable(doc: Any) -> bool:
    """A decoded document in a shape :func:`read_parts` reads: per-epoch records whose first names a measure, or an
    object with records nested under a key, several models' histories, or a measure's list of numbers (at the top,
    under a split's records or one level down)."""
    if isinstance(doc, list):
        return bool(doc) and isinstance(doc[0], dict) and any(_measure(str(k)) for k in doc[0])
    if not isinstance(doc, dict) or not doc:
        return False
    if _nested_records(doc) is not None or _model_histories(doc) is not None:
        return True
    flat = _lift_histories(_split_objects(_split_records(doc)))
    return any(isinstance(v, list) and v and all(_scalar(x) for x in v[:100]) and _measure(str(k))
               for k, v in flat.items())


def _head_sniff(head: str) -> bool:
    r = _RECORDS_HEAD.match(head)
    if r is not None:  # ``[{"epoch": 1, "loss": …}, …]``: the first record names a measure
        keys = _OBJECT_KEY.findall(head[r.start(1) - 1: head.find("}", r.end()) + 1 or len(head)])
        return any(_measure(k) for k in keys)
    if head.lstrip().startswith("{") and not any(k in head for k in _OTHER_FORMATS):
        records = _NESTED_RECORDS.search(head)  # ``{"config": {…}, "history": [{"epoch": 1, "train_loss": …}, …]``
        if records is not None and _axis_and_measure(_decoded(_OBJECT_KEY.findall(records.group(1)))):
            return True
        nested = _NESTED_LISTS.search(head)  # ``{"model": "bert", …, "history": {"train_loss": [0.39, …``
        if nested is not None:
            try:
                inner = json.loads(f'"{nested.group(1)}"')
            except ValueError:
                inner = ""
            if _measure(inner):
                return True
    m = _FIRST_KEY.match(head)
    by_split = _SPLITS_FIRST.match(head)
    if m is None and by_split is not None:  # ``{"loc_loss": {"train": [...], "validation": [...]}, …}``
        try:
            key, split = json.loads(f'"{by_split.group(1)}"'), by_split.group(2).lower()
        except ValueError:
            return False
        return split in SPLIT_ALIASES and _measure(key)
    if m is None:
        # ``{"config": {"batch_size": 128, …}, "epochs": [...], "train_loss": [...], …}``: the run's settings first,
        # then the per-epoch lists; a measure's list must follow
        # (not CatBoost's ``{"meta": {…}, "iterations": [{"learn": [0.63], …}, …]}``: lists of records)
        return (_SETTINGS_FIRST.match(head) is not None and _RECORD_LIST.search(head) is None
                and any(_measure(k) for k in _NUMBER_LIST_KEY.findall(head)))
    try:
        key = json.loads(f'"{m.group(1)}"')
    except ValueError:
        return False
    if key.lower() in _AXIS_KEYS or _TEXT_LIST.match(head, m.end()):
        # ``{"epochs": [1, 2, …], "loss": [...], …}`` or ``{"stage": ["warm-up", …], "loss": [...]}``: a measure's
        # list must follow
        return any(_measure(k) for k in _LIST_KEY.findall(head[m.end():]))
    return _measure(key)


def _axis_and_measure(names: list[str]) -> bool:
    """Whether a record's key names hold an axis (``epoch``, ``step``…) and a measure."""
    return any(n.lower() in _RECORD_AXES for n in names) and any(_measure(n) for n in names)


def _decoded(keys: list[str]) -> list[str]:
    """Keys as written in JSON (escapes and all) as their names; a key that does not decode is left out."""
    out = []
    for k in keys:
        try:
            out.append(json.loads(f'"{k}"'))
        except ValueError:
            continue
    return out


def _nested_records(doc: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The per-epoch records a run's summary keeps under one of its keys (``{"student_id": …, "config": {…},
    "history": [{"epoch": 1, "train_loss": 2.02, "val_accuracy": 0.28}, …], "final_val_accuracy": 0.45}``): the
    first list of objects whose first object names an axis (``epoch``, ``step``…) and a measure; None when there is
    none, or when the document also holds a measure's own list of numbers at the top (a history of its own)."""
    if any(_measure(str(k)) and isinstance(v, list) and v and not isinstance(v[0], (dict, list))
           for k, v in doc.items()):
        return None
    for v in doc.values():
        if isinstance(v, list) and v and all(isinstance(r, dict) for r in v) and _axis_and_measure(
                [str(k) for k in v[0]]):
            return v
    return None


def _load(path: Path) -> dict[str, Any] | list[Any]:
    doc = read_json_document(path, max_bytes=MAX_BYTES, limit="MAX_BYTES", what="a Keras history")
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        return doc
    if not isinstance(doc, dict) or not doc:
        raise InputError("expected a JSON object of per-epoch lists (a Keras history.history) or a JSON array of "
                         "per-epoch records", path=path)
    return doc


def _records_parts(records: list[dict[str, Any]], path: Path, run: str) -> list[Parts]:
    """A JSON array of per-epoch records (``json.dump(history, f)`` of a list of dicts): the k-th record (counting
    from 1) is epoch k unless the records name their own ``epoch`` or ``step``."""
    numbered = not any("epoch" in r or "step" in r or "global_step" in r for r in records)
    records = [{k: _unwrap(v) for k, v in r.items()} for r in records]
    if _global_iterations(records):  # (Chainer's LogReport: reports every N iterations, several an epoch)
        records = [{**r, "step": r["iteration"]} for r in records]
    rows = [(i, {"epoch": float(i), **r} if numbered else r) for i, r in enumerate(records, start=1)]
    parts = records_parts(rows, run, str(path), place="record #")
    schedule.keep_records(parts.meta, rows)  # (learning rates aside, as every reader keeps them)
    return [parts]


def _global_iterations(records: list[dict[str, Any]]) -> bool:
    """Whether the records count their place by a global ``iteration`` and name no ``step``: every record has a
    numeric ``iteration``, strictly increasing (Chainer's ``LogReport``, ``result/log``: ``{"epoch": 0,
    "iteration": 150, …}`` reported every 150 iterations, several records per epoch). Such a log's step is its
    iteration, so the records that share an epoch stay points of the curve instead of being deduplicated to the
    epoch's last one. An ``iteration`` that starts again with each epoch (the batch within the epoch) is not one."""
    if len(records) < 2 or any("step" in r or "global_step" in r for r in records):
        return False
    its: list[float] = []
    for r in records:
        x = r.get("iteration")
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            return False
        its.append(float(x))
    return all(b > a for a, b in zip(its, its[1:]))


def _unwrap(value: Any) -> Any:
    """A one-element list of a number is that number: a loop that calls Keras ``fit`` one epoch at a time and
    appends each ``history.history`` (``[{"loss": [0.34], "val_loss": [0.22]}, …]``)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], (int, float)) \
            and not isinstance(value[0], bool):
        return value[0]
    return value


def _is_history(val: Any) -> bool:
    """Whether ``val`` is a history object: a non-empty object of lists, one of them a measure's."""
    return (isinstance(val, dict) and bool(val) and all(isinstance(v, list) for v in val.values())
            and any(_measure(str(k)) for k in val))


def _lift_histories(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with an object of per-epoch lists nested under a key lifted to the top (``{"model": "bert",
    "hyperparams": {…}, "history": {"train_loss": [...], "val_loss": [...]}}``: a run's metadata file that keeps
    its history inside); under a split's name (``{"train": {"loss": [...]}, "val": {"loss": [...]}}``) each name
    takes the split. Names already at the top are not replaced."""
    out: dict[str, Any] = {}
    for key, val in doc.items():
        if _is_history(val):
            split = str(key).lower() in SPLIT_ALIASES
            for k, v in val.items():
                out.setdefault(f"{key}_{k}" if split else str(k), v)
        else:
            out.setdefault(str(key), val)
    return out


def _split_records(doc: dict[str, Any]) -> dict[str, Any]:
    """``{"train": [{"total": 3.9, "bbox": 0.02}, …], "val": [{…}, …]}`` (a loop that appends each epoch's losses
    to a list per split and dumps the dict; also under ``val_metrics``, ``eval_results``: :func:`_records_split`) →
    ``{"train_total": [3.9, …], "train_bbox": […], "val_total": […]}``:
    the records of a split's list are its epochs, in order; a name an epoch lacks is not logged there (``null``).
    Only a split's list of flat objects (numbers or ``null`` for values) is read so; other keys as they are."""
    out: dict[str, Any] = {}
    for key, val in doc.items():
        split = _records_split(str(key))
        if (split is not None and isinstance(val, list) and val
                and all(isinstance(r, dict) and r and all(_scalar(x) for x in r.values()) for r in val)):
            names = list(dict.fromkeys(str(k) for r in val for k in r))
            for name in names:
                out.setdefault(f"{split}_{name}", [r.get(name) for r in val])
        else:
            out.setdefault(str(key), val)
    return out


#: Words after a split's name that say its list holds that split's measurements (``val_metrics``, ``eval_results``).
_RECORDS_WORDS = frozenset({"metrics", "results", "scores", "stats", "history", "logs", "log"})


def _records_split(key: str) -> str | None:
    """The split a key of per-epoch records names: ``val``, ``train``, ``val_metrics``, ``eval_results`` → the
    split's own word (``val``, ``eval``); None for any other key."""
    toks = [t for t in re.split(r"[_/\-\s]+", key) if t]
    if toks and toks[0].lower() in SPLIT_ALIASES and all(t.lower() in _RECORDS_WORDS for t in toks[1:]):
        return toks[0]
    return None


def _scalar(x: Any) -> bool:
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))


def _column(key: str, val: list[Any], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One list → ``(values, logged)``, float and bool arrays of its length: ``null`` is not logged, numbers
    (and numeric strings) are values, anything else is refused with the key and the epoch."""
    kinds = set(map(type, val))
    if kinds <= {int, float, type(None)}:  # the usual list: numbers, perhaps nulls (one numpy conversion)
        logged = np.fromiter((x is not None for x in val), dtype=bool, count=len(val))
        try:
            return np.array(val, dtype=float), logged
        except OverflowError:  # an integer beyond float range: the element-wise path says ±inf
            pass
    out = np.empty(len(val))
    logged = np.ones(len(val), dtype=bool)
    for i, x in enumerate(val):
        if x is None:
            out[i], logged[i] = np.nan, False
            continue
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            try:
                out[i] = float(x)
            except OverflowError:  # an integer beyond float range
                out[i] = np.inf if x > 0 else -np.inf
            continue
        try:
            if not isinstance(x, str):
                raise TypeError
            t = x.strip()
            out[i] = float(t) if t else np.nan  # (a numeric string; a blank one is not logged)
            logged[i] = bool(t)
        except (TypeError, ValueError):
            shown = repr(x) if isinstance(x, str) else json.dumps(x)
            raise InputError(f"key {key!r}, epoch {i + 1}: expected a number, got {shown[:40]}",
                             path=path) from None
    return out, logged


def _by_row_index(key: str, val: dict[str, Any], path: Path) -> tuple[list[Any], np.ndarray]:
    """A pandas ``to_json`` column ``{"0": v0, "1": v1, …}`` → its values in row order and their 1-based epochs."""
    try:
        rows = np.array([int(k) for k in val], dtype=float)
    except ValueError:
        bad = next(k for k in val if not k.strip().lstrip("-").isdigit())
        raise InputError(f"key {key!r}: expected a list of per-epoch values, or an object keyed by row index "
                         f"(0, 1, 2…, pandas to_json), got the key {bad[:40]!r}", path=path) from None
    order = np.argsort(rows, kind="stable")
    values = list(val.values())
    return [values[i] for i in order], rows[order] + 1.0


def _split_objects(doc: dict[str, Any]) -> dict[str, Any]:
    """``{"loc_loss": {"train": [...], "validation": [...]}}`` (a measure's lists under the split names) →
    ``{"train_loc_loss": [...], "validation_loc_loss": [...]}``; other keys as they are, in order."""
    out: dict[str, Any] = {}
    for key, val in doc.items():
        if (isinstance(val, dict) and val and all(str(k).lower() in SPLIT_ALIASES for k in val)
                and all(isinstance(v, list) for v in val.values())):
            for split, values in val.items():
                out[f"{split}_{key}"] = values
        else:
            out[key] = val
    return out


def read_parts(path: Path, run: str) -> list[Parts]:
    doc = _load(Path(path))
    if isinstance(doc, list):
        return _records_parts(doc, Path(path), run)
    records = _nested_records(doc)
    if records is not None:
        return _records_parts(records, Path(path), run)
    models = _model_histories(doc)
    if models is not None:
        return [p for key, sub in models.items() for p in _doc_parts(dict(sub), Path(path), f"{run}/{key}")]
    return _doc_parts(doc, Path(path), run)


def _model_histories(doc: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
    """``{"LSTM": {"loss": [...], "val_loss": [...]}, "GRU": {…}, "Transformer": {…}}`` (the histories of several
    models compared in one script, saved together): each model's history under its key, a run each
    (``<run>/<key>``); ``None`` unless two or more keys hold such a history, none of them a split's name, and no
    per-epoch list sits at the top beside them."""
    models = {str(k): v for k, v in doc.items() if _is_history(v)}
    if len(models) < 2 or any(k.lower() in SPLIT_ALIASES for k in models) \
            or any(isinstance(v, list) for v in doc.values()):
        return None
    return models


def _doc_parts(doc: dict[str, Any], path: Path, run: str) -> list[Parts]:
    """The run of one history object (its per-epoch lists, possibly nested one level: :func:`_lift_histories`)."""
    doc = _lift_histories(_split_objects(_split_records(doc)))
    nested = [str(k) for k, v in doc.items() if isinstance(v, list) and v and all(isinstance(x, (dict, list))
                                                                                  for x in v)]
    for k in nested:
        del doc[k]  # (``"metrics": [{"AR": {"f1": [...]}}, …]``: per-epoch objects of their own, not one measure)
    if not doc:
        raise InputError(f"no per-epoch list of values: the key(s) {', '.join(repr(k[:40]) for k in nested[:5])} "
                         "hold lists of nested objects, which are not read", path=path)
    epochs: dict[str, np.ndarray] = {}
    single: list[str] = []
    facts: list[str] = []
    settings: list[str] = []
    for key, val in list(doc.items()):
        if isinstance(val, dict) and val and not _measure(str(key)) and not all(
                str(k).strip().lstrip("-").isdigit() for k in val):
            settings.append(str(key))  # the run's settings (``"config": {"batch_size": 128, …}``), not a curve
            del doc[key]
        elif isinstance(val, dict):  # pandas DataFrame.to_json(): {"loss": {"0": …, "1": …}}
            doc[key], epochs[str(key)] = _by_row_index(str(key), val, Path(path))
        elif isinstance(val, (int, float)) and not isinstance(val, bool) and any(
                isinstance(v, (list, dict)) for v in doc.values()):
            single.append(str(key))  # a final score saved beside the history ("test_accuracy": 0.92)
            del doc[key]
        elif (isinstance(val, (bool, str)) or val is None) and any(isinstance(v, list) for v in doc.values()):
            facts.append(str(key))  # a fact about the run beside the history ("training_complete": true)
            del doc[key]
        elif not isinstance(val, list):
            raise InputError(f"key {key!r}: expected a list of per-epoch values, got {type(val).__name__}",
                             path=path)
    lengths = {str(k): len(v) for k, v in doc.items()}
    if max(lengths.values()) == 0:
        raise InputError("every list is empty: no epochs", path=path)
    read = normalize_columns([str(k) for k, v in doc.items() if v], "train")
    per_example = sorted(k for k in lengths if is_per_example(k))
    kept = [m for k, m in lengths.items() if k not in per_example]
    n = max(kept) if kept else 0  # (the epochs: per-example lists, ``predictions`` of 10,000 images, are not)
    parts = Parts(run, str(path))
    labels: list[str] = []
    for key in list(doc):
        val = doc.pop(key)  # (each decoded list goes as soon as its column exists)
        k = str(key)
        if not val:
            continue
        if all(isinstance(x, str) for x in val) and not any(_NUMERIC.match(x) for x in val):
            labels.append(k)  # (``"stage": ["warm-up", "fine-tune", …]``: a label per epoch, not a measure)
            continue
        values, logged = _column(k, val, Path(path))
        del val
        epoch = epochs.pop(k, None)
        if epoch is None:
            epoch = np.arange(1.0, values.shape[0] + 1.0)
        if not logged.all():
            values, epoch = values[logged], epoch[logged]
        step = np.full(values.shape[0], np.nan)
        if k in read:
            split, metric = read[k]
            parts.add(step, epoch, split, metric, values, k)
        elif role(k) == "schedule":  # learning rates: kept aside, never judged
            schedule.keep(parts.meta, k, step, epoch, values)
    if nested:
        parts.notes.append(HistoryNote(
            run, f"{', '.join(nested)}: lists of nested objects, not per-epoch numbers; not read", str(path)))
    if settings:
        parts.notes.append(HistoryNote(
            run, f"{', '.join(settings)}: an object of settings, not per-epoch values; not read", str(path)))
    if labels:
        parts.notes.append(HistoryNote(
            run, f"{', '.join(labels)}: text labels, one per epoch (a stage or phase?), not a curve; not read",
            str(path)))
    if facts:
        parts.notes.append(HistoryNote(
            run, f"{', '.join(facts)}: a text, a true/false or a null beside the per-epoch lists (a fact about the "
            "run), not a curve; not read", str(path)))
    if single:
        parts.notes.append(HistoryNote(
            run, f"{', '.join(single)}: a single value, not one per epoch (a final score saved beside the history?); "
            "not read as a curve", str(path)))
    if per_example:
        parts.notes.append(HistoryNote(
            run, f"{', '.join(per_example)}: one value per example (predictions, targets…), not per epoch; not read",
            str(path)))
    short = sorted(k for k, m in lengths.items() if 0 < m < n and k not in per_example)
    if short:
        parts.notes.append(HistoryNote(
            run, f"{', '.join(short)} {'has' if len(short) == 1 else 'have'} fewer values than the {n} epochs of "
            "the longest list; read from epoch 1 on", str(path)))
    return [parts]


READER = FunctionReader(NAME, sniff, read_parts, "Keras history saved as JSON (json.dump(history.history))")
