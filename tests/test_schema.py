"""Published JSON Schemas: they are valid schemas, every emitted document validates (jsonschema), broken
documents are rejected with the place named."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

import jsonschema
import pytest

from gapwatch.documents import SchemaError, load_schema, published, validate
from gapwatch.errors import MissingDependencyError, UsageError
from gapwatch.findings import FindingKind, Severity
from gapwatch.testing import samples as sample


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
            {**sample.sample_forecast().to_run_dict(), "name": "a",
             "monitor": {"split": "val", "metric": "loss", "mode": "min"}}]},
        "examples": _examples_doc(),
    }


def _examples_doc() -> dict[str, Any]:
    """A real ``gapwatch.examples/1`` document of a small generated table (what `gapwatch examples --json` prints)."""
    import numpy as np

    from gapwatch.examples.derive import analyze_examples
    from gapwatch.examples.table import ExampleTable

    rng = np.random.default_rng(0)
    n, epochs = 30, 6
    label = rng.integers(0, 3, n)
    margin = rng.normal(1.0, 1.0, (epochs, n)) + np.linspace(0, 1, epochs)[:, None]
    margin[:, :4] -= 3.0
    loss = np.log1p(np.exp(-margin))
    t = ExampleTable(index=np.arange(n), epochs=np.arange(epochs), loss=loss, margin=margin, label=label)
    return analyze_examples([t]).to_dict()


DOCS = _docs()


@pytest.mark.parametrize("name", sorted(published()))
def test_schema_files_are_valid_draft_2020_12(name: str) -> None:
    sch = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(sch)
    assert sch["properties"]["schema"] == {"const": name}


def test_finding_kind_and_severity_enums_match_the_code() -> None:
    fin = load_schema("gapwatch.analysis/1")["$defs"]["finding"]["properties"]
    assert set(fin["kind"]["enum"]) == {k.value for k in FindingKind}
    assert set(fin["severity"]["enum"]) == {s.value for s in Severity}


@pytest.mark.parametrize("key", sorted(DOCS))
def test_emitted_documents_validate(key: str) -> None:
    doc = json.loads(json.dumps(DOCS[key], allow_nan=False))  # what --json prints
    validate(doc)


def test_sweep_analysis_document_validates() -> None:
    doc = json.loads(json.dumps(sample.sweep_analysis(50).to_dict(), allow_nan=False))
    validate(doc)


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
def test_broken_documents_are_rejected(key: str, path: str, value: Any) -> None:
    bad = _mutate(DOCS[key], path, value)
    with pytest.raises((SchemaError, UsageError)):
        validate(bad)


def test_error_names_the_place() -> None:
    bad = _mutate(DOCS["analysis-single"], "runs.0.findings.0.severity", "fatal")
    with pytest.raises(SchemaError, match=r"\$\['runs'\]\[0\]\['findings'\]\[0\]\['severity'\]"):
        validate(bad)


def test_documents_without_schema_or_unknown_schema() -> None:
    with pytest.raises(SchemaError, match="no 'schema' key"):
        validate({"runs": []})
    with pytest.raises(UsageError, match="unknown document schema"):
        validate({"schema": "gapwatch.nope/1"})
    with pytest.raises(SchemaError, match="JSON object"):
        validate([1, 2])  # type: ignore[arg-type]


def test_without_jsonschema_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """gapwatch ships no validator of its own: without the jsonschema package, validate() raises a
    MissingDependencyError with the install hint."""
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # makes `import jsonschema` raise ImportError
    with pytest.raises(MissingDependencyError, match="pip install"):
        validate(DOCS["replay"])


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
    validate(doc)
