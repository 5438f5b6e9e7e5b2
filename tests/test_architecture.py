"""Layer contracts, checked on the source (AST) and in fresh interpreters.

docs/architecture.md draws the layers: sources → readers → History → analysis (detectors, forecasts, examples,
policy) → outputs (report, CLI). These tests keep the arrows pointing one way:

* the analysis layers never import the output layers (``report``, ``cli``) or ``rich``, at any depth (a
  function-level import counts too: it is still a dependency);
* nothing imports torch at module level outside the modules that exist for torch;
* the package has no import cycles at module level;
* the command line starts without pandas, scipy or the analysis (``gapwatch --help`` stays fast) and
  ``import gapwatch`` imports nothing heavy until a name is used.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gapwatch"

#: Packages/modules of the analysis layers (everything below the outputs).
ANALYSIS_LAYERS = ("detectors", "forecast", "examples", "readers", "trackers", "history", "policy", "analysis",
                   "summary", "monitor", "names", "stats", "params", "documents", "replay", "findings", "errors",
                   "guardlog", "averaging", "policy_forecast")
#: What they must not import.
OUTPUT_LAYERS = ("gapwatch.report", "gapwatch.cli", "rich")
#: Modules that exist for torch (they may import it at module level).
TORCH_MODULES = ("integrations/", "examples/grand.py", "examples/record.py", "examples/distributed.py",
                 "forecast/pfn.py", "forecast/train_pfn.py", "forecast/prior.py", "demo.py", "keeper.py")


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(SRC.rglob("*.py")):
        rel = p.relative_to(SRC).with_suffix("")
        parts = ["gapwatch", *rel.parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _imports(path: Path, name: str, *, top_level_only: bool = False) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved against ``name``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:
            test = node.test
            if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
                continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = base[: len(base) - node.level + 1]
                mod = ".".join(pkg + ([node.module] if node.module else []))
                out.add(mod)
                if node.module is None:
                    out.update(f"{mod}.{a.name}" for a in node.names)
                else:
                    out.update(f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES)
            elif node.module:
                out.add(node.module)
    return out


def _in_analysis_layer(name: str) -> bool:
    rest = name.split(".", 1)[1] if "." in name else ""
    return rest.split(".")[0] in ANALYSIS_LAYERS


@pytest.mark.parametrize("name", [n for n in MODULES if _in_analysis_layer(n)])
def test_analysis_layers_never_import_outputs(name: str) -> None:
    bad = sorted(m for m in _imports(MODULES[name], name)
                 if any(m == o or m.startswith(o + ".") for o in OUTPUT_LAYERS))
    assert not bad, f"{name} imports {bad}: the analysis layers must not depend on the outputs"


def test_torch_only_at_module_level_in_torch_modules() -> None:
    offenders = []
    for name, path in MODULES.items():
        rel = path.relative_to(SRC).as_posix()
        if any(rel.startswith(t) for t in TORCH_MODULES):
            continue
        if any(m == "torch" or m.startswith("torch.") for m in _imports(path, name, top_level_only=True)):
            offenders.append(rel)
    assert not offenders, f"module-level torch imports outside the torch modules: {offenders}"


def test_no_import_cycles_at_module_level() -> None:
    graph = {n: {m for m in _imports(p, n, top_level_only=True) if m in MODULES and m != n}
             for n, p in MODULES.items()}
    # a package's __init__ importing its own submodules is not a cycle of concern; drop parent→child edges
    graph = {n: {m for m in deps if not m.startswith(n + ".")} for n, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return [*stack[stack.index(m):], m]
            if m not in state and (cyc := visit(m)):
                return cyc
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (cyc := visit(n)):
            pytest.fail("import cycle: " + " → ".join(cyc))


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=120).stdout


def test_cli_starts_without_the_heavy_modules() -> None:
    out = _fresh("import sys, gapwatch.cli; print(' '.join(sorted(m for m in ('pandas', 'scipy', 'torch', "
                 "'gapwatch.analysis', 'gapwatch.history', 'matplotlib') if m in sys.modules)))")
    assert out.strip() == "", f"`gapwatch --help` imports {out.strip()}"


def test_import_gapwatch_is_lazy() -> None:
    out = _fresh("import sys, gapwatch; a = 'gapwatch.history' in sys.modules; gapwatch.History; "
                 "print(a, 'gapwatch.history' in sys.modules, 'pandas' in sys.modules, 'torch' in sys.modules)")
    assert out.split() == ["False", "True", "False", "False"]  # (the History stores numpy columns: no pandas)
