"""The load suite's layout: product and harness code never import it (docs/load.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "python" / "codeperf"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.name}: {name}" for path in files for name in sorted(_imports(path))
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_product_never_imports_the_load_suite():
    """experts/ and the bundled MCP servers classify errors without the load generator."""
    product = sorted((PKG / "experts").glob("*.py")) + sorted((PKG / "mcp").glob("*.py")) \
        + sorted((PKG / "engine").glob("*.py"))
    assert product, "product sources not found"
    assert _offenders(product, ("codeperf.load",)) == []


def test_harness_imports_no_suite_and_no_product():
    harness = sorted((PKG / "harness").glob("*.py"))
    assert _offenders(harness, ("codeperf.load", "codeperf.experts", "codeperf.mcp",
                                "codeperf.memory", "codeperf.bench_rust")) == []


def test_the_checker_sees_an_offending_import(tmp_path: Path):
    """The two tests above can fail: both import forms are found, a look-alike name is not."""
    bad = tmp_path / "bad.py"
    bad.write_text("from codeperf.load import loadgen\nimport codeperf.experts.config\n"
                   "import codeperf.loader\n")
    assert _offenders([bad], ("codeperf.load", "codeperf.experts")) == [
        "bad.py: codeperf.experts.config", "bad.py: codeperf.load", "bad.py: codeperf.load.loadgen"]


def test_scenario_modules_are_imported_by_name_in_run_order():
    from codeperf.load import catalog, registry

    assert catalog.import_scenarios() == []
    names = list(registry.registered())
    assert names[:2] == ["calibration", "single-query"]
    assert names.index("sustained") < names.index("sweep") < names.index("mcp-calls")
