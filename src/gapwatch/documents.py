"""gapwatch's JSON documents: schema ids, JSON-safe conversion, encoding and validation — the one owner.

Every machine-readable output is a document ``{"schema": "<id>", ...}`` whose id is registered in
:data:`SCHEMAS` (published JSON Schema draft 2020-12 files in ``gapwatch/schemas/``):

=========================  ===========================  ==========================================
document ``schema`` value  file                         produced by
=========================  ===========================  ==========================================
``gapwatch.analysis/1``    ``analysis.schema.json``     ``gapwatch.analyze(...).to_dict()``,
                                                        ``gapwatch analyze --json``
``gapwatch.replay/1``      ``replay.schema.json``       ``gapwatch.replay``, ``gapwatch replay --json``
``gapwatch.forecast/1``    ``forecast.schema.json``     ``gapwatch forecast --json``
``gapwatch.examples/1``    ``examples.schema.json``     ``gapwatch examples --json``
``gapwatch.watch/1``       ``watch.schema.json``        one event (line) of ``gapwatch watch --json``,
                                                        :mod:`gapwatch.watch.events`
=========================  ===========================  ==========================================

Other ids name embedded or on-disk formats without a published schema file (the examples summary inside an
analysis, the keeper's checkpoint, the example table, the live guard's log).

A schema may refer to another by its file name (``"$ref": "analysis.schema.json#/$defs/finding"``: a watch
event's finding is the analysis document's finding); :func:`validate` resolves such references among the
published files, and so does any tool that loads the files from one directory.

Two conversions, one for each kind of consumer:

* :func:`clean` (strict JSON for documents people and tools parse): numpy scalars and arrays become Python
  numbers and lists, NaN/±inf become ``null``, tuples become lists, dict keys become strings.
* :func:`clean_keep_nan` / :func:`restore_nan` (state and logs that must round-trip): non-finite floats are
  written as the strings ``"nan"``, ``"inf"``, ``"-inf"`` and turned back on reading.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any

from .errors import InputError, UsageError

#: Document id → published schema file (``None``: an internal format without a published schema).
SCHEMAS: dict[str, str | None] = {
    "gapwatch.analysis/1": "analysis.schema.json",
    "gapwatch.replay/1": "replay.schema.json",
    "gapwatch.forecast/1": "forecast.schema.json",
    "gapwatch.examples/1": "examples.schema.json",
    "gapwatch.examples.summary/1": None,
    "gapwatch.examples.table/1": None,
    "gapwatch.keeper/1": None,
    "gapwatch.guard-log/1": None,
    "gapwatch.watch/1": "watch.schema.json",
}

ANALYSIS = "gapwatch.analysis/1"
REPLAY = "gapwatch.replay/1"
FORECAST = "gapwatch.forecast/1"
EXAMPLES = "gapwatch.examples/1"
EXAMPLES_SUMMARY = "gapwatch.examples.summary/1"
WATCH = "gapwatch.watch/1"


def _scalar(obj: Any) -> Any:
    """numpy scalars/arrays → Python objects (without importing numpy here: duck-typed on ``item``/``tolist``)."""
    tolist = getattr(obj, "tolist", None)
    if callable(tolist) and hasattr(obj, "dtype"):
        return tolist()
    return obj


def _convert(obj: Any, nonfinite: Callable[[float], Any]) -> Any:
    """The one walk behind :func:`clean` and :func:`clean_keep_nan`: numpy → Python, tuples → lists, keys →
    str, and each non-finite float replaced by ``nonfinite(value)``."""
    obj = _scalar(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return nonfinite(obj)
    if isinstance(obj, Mapping):
        return {str(k): _convert(v, nonfinite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_convert(v, nonfinite) for v in obj]
    return obj


def _null(value: float) -> None:
    return None


def clean(obj: Any) -> Any:
    """A strict-JSON copy of ``obj``: numpy → Python, NaN/±inf → ``None``, tuples → lists, keys → str."""
    return _convert(obj, _null)


def clean_keep_nan(obj: Any) -> Any:
    """Like :func:`clean`, but non-finite floats become ``"nan"``/``"inf"``/``"-inf"`` (see :func:`restore_nan`)."""
    return _convert(obj, repr)


def restore_nan(obj: Any) -> Any:
    """Inverse of :func:`clean_keep_nan`: the strings ``"nan"``, ``"inf"``, ``"-inf"`` become floats again."""
    if isinstance(obj, str) and obj in ("nan", "inf", "-inf"):
        return float(obj)
    if isinstance(obj, Mapping):
        return {k: restore_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [restore_nan(v) for v in obj]
    return obj


def dumps(doc: Any, *, indent: int | None = 2) -> str:
    """``doc`` as strict JSON text (after :func:`clean`; never writes NaN)."""
    return json.dumps(clean(doc), indent=indent, allow_nan=False)


class SchemaError(InputError):
    """A document that does not match its published JSON Schema (the message names the place and the rule)."""


@cache
def load_schema(schema_id: str) -> dict[str, Any]:
    """The published JSON Schema of a document id (package data).

    Raises:
        UsageError: the id is not a published document schema.
    """
    name = SCHEMAS.get(schema_id)
    if name is None:
        published = ", ".join(k for k, v in SCHEMAS.items() if v)
        raise UsageError(f"unknown document schema {schema_id!r}; published: {published}")
    text = resources.files("gapwatch").joinpath("schemas").joinpath(name).read_text(encoding="utf-8")
    return dict(json.loads(text))


@cache
def _registry() -> Any:
    """The published schema files by file name, for ``$ref`` between them (``referencing`` comes with
    ``jsonschema``)."""
    from referencing import Registry, Resource

    return Registry().with_resources(
        (name, Resource.from_contents(load_schema(sid))) for sid, name in SCHEMAS.items() if name)


def published() -> list[str]:
    """Ids of the documents with a published JSON Schema."""
    return [k for k, v in SCHEMAS.items() if v]


def validate(doc: Mapping[str, Any]) -> None:
    """Validate a document against the published schema its ``"schema"`` key names.

    Needs the ``jsonschema`` package (``pip install 'gapwatch[test]'``): gapwatch does not ship a validator of
    its own.

    Raises:
        SchemaError: not a JSON object, no ``schema`` key, or it does not match (the message names the place as
            ``$['runs'][0]['findings'][0]['severity']`` and the rule).
        UsageError: an unknown document id.
        MissingDependencyError: ``jsonschema`` is not installed.
    """
    from .errors import require

    if not isinstance(doc, Mapping):
        raise SchemaError(f"a gapwatch document is a JSON object, got {type(doc).__name__}")
    sid = doc.get("schema")
    if not isinstance(sid, str):
        raise SchemaError("document has no 'schema' key naming its format")
    schema = load_schema(sid)
    jsonschema = require("jsonschema", extra="test")
    validator = jsonschema.Draft202012Validator(schema, registry=_registry())
    errors = sorted(validator.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        e = errors[0]
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f"[{p!r}]" for p in e.absolute_path)
        raise SchemaError(f"{sid} document invalid at {where}: {e.message}")
