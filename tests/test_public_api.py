"""The public API plugins build on: ``core`` (and ``core.testing`` for tests).

Plugins import nothing below ``core``, so core can rearrange its sub-packages
without breaking them; the plugin guide lists exactly what ``core`` exports;
and core's module names say what they hold without shadowing the standard
library or each other.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

import core

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"core", "core.testing"}
PLUGIN_TREES = [
    ROOT / "plugins",
    ROOT / "examples" / "kontor-plugin-datenexport",
    ROOT / "tests" / "fixtures" / "kontor-plugin-notizen",
]


def _core_imports(path: Path) -> list[tuple[int, str]]:
    """Every module of core that ``path`` imports, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[0] == "core"]
    return found


@pytest.mark.parametrize("tree", PLUGIN_TREES, ids=lambda p: p.name)
def test_plugins_import_only_the_public_api(tree):
    files = sorted(tree.rglob("*.py"))
    assert files
    stray = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in files
        for line, module in _core_imports(path)
        if module not in PUBLIC
    ]
    assert stray == []


def test_core_itself_never_imports_the_facade():
    """Inside core, modules import from the sub-packages: importing one part of
    core never needs ``core/__init__`` to have finished first."""
    facade_users = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted((ROOT / "core").rglob("*.py"))
        if path.name != "__init__.py" or path.parent != ROOT / "core"
        for line, module in _core_imports(path)
        if module == "core"
    ]
    assert facade_users == []


def test_every_exported_name_exists():
    missing = [name for name in core.__all__ if not hasattr(core, name)]
    assert missing == []
    assert len(set(core.__all__)) == len(core.__all__)


def _guide_table() -> dict[str, set[str]]:
    """The names in the guide's "Importing from core" table; for a namespace
    such as ``outbox`` the names listed in parentheses after it."""
    guide = (ROOT / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    section = guide.split("## Importing from core", 1)[1].split("\n## ", 1)[0]
    listed: dict[str, set[str]] = {}
    for row in section.splitlines():
        if not row.startswith("| ") or row.startswith(("| for ", "| ---")):
            continue
        cell = row.split("|")[2]
        for name, inner in re.findall(r"`(\w+)`(?: \(([^)]*)\))?", cell):
            listed[name] = set(re.findall(r"`(\w+)`", inner or ""))
    return listed


def test_the_guide_lists_exactly_the_public_api():
    listed = _guide_table()
    assert sorted(listed) == sorted(core.__all__)
    for namespace, members in listed.items():
        assert all(hasattr(getattr(core, namespace), m) for m in members), namespace


def test_core_module_names_are_distinct():
    """No module of core is named like a standard-library module, and no two
    modules of core share a name."""
    modules = [
        p
        for p in (ROOT / "core").rglob("*.py")
        if p.name != "__init__.py" and p.parent.name != "history"
    ]
    names = [p.stem for p in modules]
    assert sorted(n for n in names if n in sys.stdlib_module_names) == []
    assert sorted(n for n in set(names) if names.count(n) > 1) == []
