"""The shape of the code: no source file over 600 lines, no two core areas importing each
other, and a core that never imports a plugin (``make test`` checks what ``make lint``'s
``lint-imports`` does, for the part that matters most)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 600
#: the core areas: the packages of ``agorakit`` that are a layer of their own
AREAS = (
    "accounts", "attachments", "catalog", "db", "disputes", "events", "http", "integrations",
    "messaging", "money", "notifications", "orders", "reports", "reviews", "support",
    "webhooks",
)  # fmt: skip


def sources() -> list[Path]:
    return sorted(
        path
        for folder in ("core", "plugins")
        for path in (ROOT / folder).rglob("*.py")
        if "piccolo_migrations" not in path.parts
    )


def test_no_source_file_is_over_600_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in sources()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these files (at most {MAX_LINES} lines each): {long}"


def area_dependencies() -> dict[tuple[str, str], list[str]]:
    """``(importer area, imported area)`` → the imports, run-time imports only."""
    graph = grimp.build_graph("agorakit", exclude_type_checking_imports=True, cache_dir=None)
    found: dict[tuple[str, str], list[str]] = {}
    for module in graph.modules:
        parts = module.split(".")
        if len(parts) < 2 or parts[1] not in AREAS:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            other = imported.split(".")
            if len(other) >= 2 and other[1] in AREAS and other[1] != parts[1]:
                found.setdefault((parts[1], other[1]), []).append(f"{module} -> {imported}")
    return found


def test_no_two_areas_import_each_other():
    deps = area_dependencies()
    both = {
        f"{a} <-> {b}": sorted(deps[a, b] + deps[b, a]) for a, b in sorted(deps) if a < b and (b, a) in deps
    }
    assert both == {}


def test_the_runtime_imports_no_area():
    graph = grimp.build_graph("agorakit", exclude_type_checking_imports=True, cache_dir=None)
    imported = graph.find_modules_directly_imported_by("agorakit.runtime")
    areas = sorted(
        m for m in imported if m.split(".")[1] in AREAS and m.split(".")[1] not in ("db", "events")
    )
    assert areas == []


def test_the_core_imports_no_plugin():
    found = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("agorakit.plugins")]
    assert found == []
