"""The published JSON Schemas of gapwatch's documents, and a validator.

Files (package data, ``gapwatch/schemas/*.json``, JSON Schema draft 2020-12):

=========================  ===========================  =============================
document ``schema`` value  file                         produced by
=========================  ===========================  =============================
``gapwatch.analysis/1``    ``analysis.schema.json``     ``gapwatch analyze --json``
``gapwatch.replay/1``      ``replay.schema.json``       ``gapwatch replay --json``
``gapwatch.forecast/1``    ``forecast.schema.json``     ``gapwatch forecast --json``
``gapwatch.examples/1``    ``examples.schema.json``     ``gapwatch examples --json``
=========================  ===========================  =============================

:func:`validate` uses the ``jsonschema`` package when it is installed (a test dependency) and otherwise a small
built-in validator that understands exactly the keywords these schema files use (``type``, ``enum``,
``const``, ``required``, ``properties``, ``additionalProperties``, ``items``, ``minimum``, ``maximum``,
``anyOf`` and local ``$ref``). ``validate(doc, engine="jsonschema")`` insists on the package and raises
:class:`~gapwatch.errors.MissingDependencyError` without it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from ..errors import InputError, MissingDependencyError, UsageError

SCHEMA_FILES: dict[str, str] = {
    "gapwatch.analysis/1": "analysis.schema.json",
    "gapwatch.replay/1": "replay.schema.json",
    "gapwatch.forecast/1": "forecast.schema.json",
    "gapwatch.examples/1": "examples.schema.json",
}

#: Keywords the built-in validator implements; a schema using any other validation keyword is refused by it.
BUILTIN_KEYWORDS = frozenset({"type", "enum", "const", "required", "properties", "additionalProperties", "items",
                              "minimum", "maximum", "anyOf", "$ref"})
_ANNOTATIONS = frozenset({"$schema", "$id", "title", "description", "$defs", "default", "examples", "$comment"})


class SchemaError(InputError):
    """A document does not match its schema; the message names the JSON path and what was expected."""


@cache
def _load(name: str) -> str:
    return resources.files("gapwatch").joinpath("schemas").joinpath(name).read_text(encoding="utf-8")


def load_schema(schema: str) -> dict[str, Any]:
    """The JSON Schema (as a dict) of document type ``schema`` (e.g. ``"gapwatch.analysis/1"``)."""
    if schema not in SCHEMA_FILES:
        raise UsageError(f"unknown document schema {schema!r}; known: {', '.join(SCHEMA_FILES)}")
    return json.loads(_load(SCHEMA_FILES[schema]))  # type: ignore[no-any-return]


def validate(doc: Mapping[str, Any], schema: str | None = None, *, engine: str = "auto") -> None:
    """Check ``doc`` against its published schema (``schema`` defaults to ``doc["schema"]``).

    Args:
        engine: ``"auto"`` (jsonschema when installed, else built-in), ``"jsonschema"`` or ``"builtin"``.
    Raises:
        SchemaError: the document does not match; the message gives the JSON path of the first problem.
        MissingDependencyError: ``engine="jsonschema"`` without the jsonschema package.
        UsageError: unknown schema name or engine.
    """
    if engine not in ("auto", "jsonschema", "builtin"):
        raise UsageError(f"engine must be 'auto', 'jsonschema' or 'builtin', got {engine!r}")
    if not isinstance(doc, Mapping):
        raise SchemaError(f"a gapwatch document is a JSON object, got {type(doc).__name__}")
    name = schema or doc.get("schema")
    if not isinstance(name, str):
        raise SchemaError("document has no 'schema' key naming its type (e.g. 'gapwatch.analysis/1')")
    sch = load_schema(name)
    js: Any = None
    if engine in ("auto", "jsonschema"):
        try:
            import jsonschema

            js = jsonschema
        except ImportError:
            if engine == "jsonschema":
                raise MissingDependencyError("jsonschema", "test") from None
    if js is not None:
        cls = js.validators.validator_for(sch)
        err = js.exceptions.best_match(cls(sch).iter_errors(doc))
        if err is not None:
            path = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in err.absolute_path)
            raise SchemaError(f"{name}: at {path}: {err.message}")
        return
    problem = _check(doc, sch, sch, "$")
    if problem is not None:
        raise SchemaError(f"{name}: {problem}")


_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, Mapping),
    "array": lambda v: isinstance(v, (list, tuple)),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    if not ref.startswith("#/"):
        raise UsageError(f"built-in validator: only local $ref are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node  # type: ignore[no-any-return]


def _check(v: Any, s: Mapping[str, Any], root: Mapping[str, Any], path: str) -> str | None:
    """First problem of value ``v`` against schema node ``s``, or None (the built-in validator)."""
    unknown = set(s) - BUILTIN_KEYWORDS - _ANNOTATIONS
    if unknown:
        raise UsageError(f"built-in validator does not implement {sorted(unknown)} (at {path}); install jsonschema")
    if "$ref" in s:
        p = _check(v, _resolve(s["$ref"], root), root, path)
        if p:
            return p
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_TYPES[t](v) for t in types):
            return f"at {path}: {v!r:.60} is not of type {' or '.join(types)}"
    if "const" in s and v != s["const"]:
        return f"at {path}: expected {s['const']!r}, got {v!r:.60}"
    if "enum" in s and v not in s["enum"]:
        return f"at {path}: {v!r:.60} is not one of {s['enum']}"
    if "minimum" in s and _TYPES["number"](v) and v < s["minimum"]:
        return f"at {path}: {v} is less than the minimum of {s['minimum']}"
    if "maximum" in s and _TYPES["number"](v) and v > s["maximum"]:
        return f"at {path}: {v} is greater than the maximum of {s['maximum']}"
    if "anyOf" in s:
        probs = [_check(v, sub, root, path) for sub in s["anyOf"]]
        if all(probs):
            return next(p for p in probs if p)
    if isinstance(v, Mapping):
        for k in s.get("required", ()):
            if k not in v:
                return f"at {path}: {k!r} is a required property"
        props = s.get("properties", {})
        for k, x in v.items():
            sub = props.get(k)
            if sub is None:
                ap = s.get("additionalProperties", True)
                if ap is False:
                    return f"at {path}: additional property {k!r} is not allowed"
                if isinstance(ap, Mapping):
                    sub = ap
            if sub is not None:
                p = _check(x, sub, root, f"{path}[{k!r}]")
                if p:
                    return p
    if isinstance(v, (list, tuple)) and "items" in s:
        for i, x in enumerate(v):
            p = _check(x, s["items"], root, f"{path}[{i}]")
            if p:
                return p
    return None
