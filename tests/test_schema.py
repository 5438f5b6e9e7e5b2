"""Published JSON Schemas: they are valid schemas, every emitted document validates, and the built-in validator
agrees with jsonschema."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

import jsonschema
import pytest

from gapwatch.errors import MissingDependencyError, UsageError
from gapwatch.findings import FindingKind, Severity
from gapwatch.report import sample
from gapwatch.report.schemas import SCHEMA_FILES, SchemaError, load_schema, validate


def _docs() -> dict[str, dict[str, Any]]:
    single = sample.single_analysis().to_dict()
    return {
        "analysis-single": single,
        "analysis-every-kind": sample.every_kind_analysis().to_dict(),
        "analysis-xss": sample.single_analysis(xss=True).to_dict(),
        "replay": {"schema": "gapwatch.replay/1", "runs": [
            {"name": "a", "stop": {"step": 1200, "epoch": 12.0}, "restore": {"step": 900, "epoch": 9.0},
             "evaluations_seen": 12},
            {"name": "b", "stop": None, "restore": None, "evaluations_seen": 40}]},
        "forecast": {"schema": "gapwatch.forecast/1", "runs": [
            {"name": "a", "monitor": {"split": "val", "metric": "loss", "mode": "min"}, "observed": 60,
             **{k: v for k, v in sample.sample_forecast().items() if k != "observed"}}]},
        "examples": {k: v for k, v in sample.sample_examples(n=30).items()
                     if k not in ("label", "suggested_label", "thumbnails")},
    }


DOCS = _docs()


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_schema_files_are_valid_draft_2020_12(name: str) -> None:
    sch = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(sch)
    assert sch["properties"]["schema"] == {"const": name}


def test_finding_kind_and_severity_enums_match_the_code() -> None:
    fin = load_schema("gapwatch.analysis/1")["$defs"]["finding"]["properties"]
    assert set(fin["kind"]["enum"]) == {k.value for k in FindingKind}
    assert set(fin["severity"]["enum"]) == {s.value for s in Severity}


@pytest.mark.parametrize("key", sorted(DOCS))
@pytest.mark.parametrize("engine", ["jsonschema", "builtin"])
def test_emitted_documents_validate(key: str, engine: str) -> None:
    doc = json.loads(json.dumps(DOCS[key], allow_nan=False))  # what --json prints
    validate(doc, engine=engine)


def test_sweep_analysis_document_validates() -> None:
    doc = json.loads(json.dumps(sample.sweep_analysis(50).to_dict(), allow_nan=False))
    validate(doc, engine="jsonschema")
    validate(doc, engine="builtin")


BROKEN: list[tuple[str, str, Any]] = [
    # (document, JSON path as keys, replacement value); "DEL" removes the key
    ("analysis-single", "schema", "gapwatch.analysis/2"),
    ("analysis-single", "runs.0.x", "time"),
    ("analysis-single", "runs.0.monitor.mode", "up"),
    ("analysis-single", "runs.0.findings.0.severity", "fatal"),
    ("analysis-single", "runs.0.findings.0.kind", "something_new"),
    ("analysis-single", "runs.0.findings.0.actions", "restore"),
    ("analysis-single", "runs.0.findings.0.message", "DEL"),
    ("analysis-single", "runs.0.best.value", "0.5"),
    ("analysis-single", "runs.0.name", None),
    ("analysis-single", "runs.0.forecast.p_best_behind", 1.5),
    ("analysis-single", "runs.0.forecast.quantiles.0.5", "DEL"),
    ("replay", "runs.0.evaluations_seen", -1),
    ("replay", "runs.1.stop", {"step": 1}),
    ("forecast", "runs.0.x.0", "one"),
    ("examples", "likely_mislabeled.0", -3),
    ("examples", "scores.aum.0", "high"),
    ("examples", "n", "DEL"),
]


def _mutate(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    d = copy.deepcopy(doc)
    parts = path.split(".")
    # keys such as "0.5" contain a dot: rejoin the tail for the quantiles case
    if "quantiles" in parts:
        i = parts.index("quantiles")
        parts = parts[: i + 1] + [".".join(parts[i + 1:])]
    node: Any = d
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value == "DEL":
        del node[last]
    else:
        node[last] = value
    return d


@pytest.mark.parametrize("key,path,value", BROKEN)
@pytest.mark.parametrize("engine", ["jsonschema", "builtin"])
def test_broken_documents_are_rejected_by_both_engines(key: str, path: str, value: Any, engine: str) -> None:
    bad = _mutate(DOCS[key], path, value)
    with pytest.raises((SchemaError, UsageError)):
        validate(bad, engine=engine)


def test_error_names_the_place() -> None:
    bad = _mutate(DOCS["analysis-single"], "runs.0.findings.0.severity", "fatal")
    with pytest.raises(SchemaError, match=r"\$\['runs'\]\[0\]\['findings'\]\[0\]\['severity'\]"):
        validate(bad, engine="builtin")
    with pytest.raises(SchemaError, match="severity"):
        validate(bad, engine="jsonschema")


def test_documents_without_schema_or_unknown_schema() -> None:
    with pytest.raises(SchemaError, match="no 'schema' key"):
        validate({"runs": []})
    with pytest.raises(UsageError, match="unknown document schema"):
        validate({"schema": "gapwatch.nope/1"})
    with pytest.raises(SchemaError, match="JSON object"):
        validate([1, 2])  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="engine"):
        validate(DOCS["replay"], engine="fast")


def test_works_without_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the jsonschema package, 'auto' falls back to the built-in validator and 'jsonschema' raises a
    MissingDependencyError with the install hint."""
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # makes `import jsonschema` raise ImportError
    validate(DOCS["analysis-single"])
    with pytest.raises(SchemaError):
        validate(_mutate(DOCS["replay"], "runs.0.evaluations_seen", -1))
    with pytest.raises(MissingDependencyError, match="pip install"):
        validate(DOCS["replay"], engine="jsonschema")


def _cli_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    from gapwatch.cli import main

    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.mark.parametrize("command", ["replay", "forecast", "examples"])
def test_other_commands_emit_documents_matching_their_schema(command: str, tmp_path: Any,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The documents printed by `gapwatch replay|forecast|examples --json` validate against the published
    schemas (skipped while a command is not registered)."""
    import numpy as np

    from gapwatch.cli import app

    names = {c.name for c in app.registered_commands}
    if command not in names:
        pytest.skip(f"`gapwatch {command}` is not available")
    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in sample.overfitting_records(epochs=40)), encoding="utf-8")
    if command == "replay":
        doc = _cli_json(["replay", str(log), "--json"], capsys)
    elif command == "forecast":
        doc = _cli_json(["forecast", str(log), "--observed", "0.5", "--json"], capsys)
    else:
        rng = np.random.default_rng(0)
        table = tmp_path / "examples.npz"
        np.savez(table, loss=rng.random((8, 120)), margin=rng.normal(size=(8, 120)), label=rng.integers(0, 10, 120))
        doc = _cli_json(["examples", str(table), "--json"], capsys)
    validate(doc, engine="jsonschema")
    validate(doc, engine="builtin")
