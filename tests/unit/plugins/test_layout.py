"""The rules of plugins/module_utils' layout that a reviewer should not have to check by hand:
one package per capability, no file over 600 lines, no import cycle, and optional packages imported
only through ``_shared/dependencies.declare``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parents[3] / "plugins"
MODULE_UTILS = PLUGINS / "module_utils"
PACKAGE = "ansible_collections.skillforge.dataops.plugins.module_utils"
CAPABILITIES = {"_shared", "_compliance", "_migrations", "_reference_data", "_queue"}
OPTIONAL_PACKAGES = {"psycopg", "redis", "bullmq", "jsonschema"}
MAX_LINES = 600


def module_utils_files() -> list:
    return sorted(MODULE_UTILS.rglob("*.py"))


def dotted(path: Path) -> str:
    return ".".join((PACKAGE,) + path.relative_to(MODULE_UTILS).with_suffix("").parts)


def collection_imports(path: Path) -> set:
    """The module_utils modules ``path`` imports (``from X import y`` names module X.y when that is a file)."""
    known = {dotted(other) for other in module_utils_files()}
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            for alias in node.names:
                target = node.module + "." + alias.name
                found.add(target if target in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith(PACKAGE))
    return found & known


def test_module_utils_is_one_private_package_per_capability():
    top = {entry.name for entry in MODULE_UTILS.iterdir() if entry.name != "__pycache__"}
    assert top == CAPABILITIES
    for capability in CAPABILITIES:
        assert (MODULE_UTILS / capability / "__init__.py").read_text(encoding="utf-8") == ""


@pytest.mark.parametrize("path", module_utils_files(), ids=lambda path: str(path.relative_to(MODULE_UTILS)))
def test_no_module_utils_file_is_over_600_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_no_import_cycle():
    graph = {dotted(path): collection_imports(path) for path in module_utils_files()}
    state = {}  # name -> "visiting" | "done"

    def visit(name, trail):
        if state.get(name) == "done":
            return
        assert state.get(name) != "visiting", "import cycle: " + " -> ".join(trail + [name])
        state[name] = "visiting"
        for imported in sorted(graph[name]):
            visit(imported, trail + [name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])


def optional_imports_outside_declare(path: Path) -> list:
    """Lines that import an optional package other than inside ``with declare(...)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    declared = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With) and any(
                isinstance(item.context_expr, ast.Call) and getattr(item.context_expr.func, "id", "") == "declare"
                for item in node.items):
            declared.update(id(inner) for inner in ast.walk(node))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name.split(".")[0] in OPTIONAL_PACKAGES for name in names) and id(node) not in declared:
            bad.append(node.lineno)
    return bad


@pytest.mark.parametrize("path", module_utils_files() + sorted((PLUGINS / "modules").glob("*.py")),
                         ids=lambda path: str(path.relative_to(PLUGINS)))
def test_optional_packages_are_imported_only_through_declare(path):
    assert optional_imports_outside_declare(path) == []


def test_the_layout_checks_can_fail(tmp_path):
    """The checks above see what they look for: an undeclared import, a cycle's edge."""
    sample = tmp_path / "sample.py"
    sample.write_text("import psycopg\nwith declare('redis'):\n    import redis\n", encoding="utf-8")
    assert optional_imports_outside_declare(sample) == [1]
    job = MODULE_UTILS / "_compliance" / "job.py"
    assert PACKAGE + "._shared.errors" in collection_imports(job)


def test_test_file_names_are_unique():
    """pytest imports test files by their base name (rootdir-relative, no packages): two files of one name
    anywhere under tests/ fail the whole run's collection."""
    names = {}
    for path in sorted((PLUGINS.parent / "tests").rglob("test_*.py")):
        if "output" not in path.parts:
            names.setdefault(path.name, []).append(str(path.relative_to(PLUGINS.parent)))
    assert {name: paths for name, paths in names.items() if len(paths) > 1} == {}
