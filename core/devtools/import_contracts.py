"""An import-linter contract: plugins use only the declared plugin API.

Code under a plugin package (``agorakit.plugins.<name>``, or any package named in
``plugins``) may import, of agorakit, only:

- the modules listed in ``allowed`` (``agorakit``, ``agorakit.settings``, ...) and the
  core areas' packages themselves (``agorakit.orders``: the names its ``__init__``
  declares), never a module inside an area (``agorakit.orders.tables``);
- its own modules, and the packages listed in ``shared`` with their modules (the shared
  PayPal client).

Configured in ``pyproject.toml`` under ``[tool.importlinter]`` and run by ``lint-imports``
(``make lint``)::

    [[tool.importlinter.contracts]]
    name = "Plugins use only the declared plugin API"
    type = "agorakit.devtools.import_contracts:DeclaredApiContract"
    plugins = ["agorakit.plugins.*"]
    allowed = ["agorakit", "agorakit.settings", ...]
    areas = ["agorakit.orders", ...]
    shared = ["agorakit.plugins.paypal"]
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import grimp
from importlinter import Contract, ContractCheck, fields, output


class DeclaredApiContract(Contract):
    type_name = "declared_api"

    #: the plugin packages; ``agorakit.plugins.*`` is every package inside ``agorakit.plugins``
    plugins = fields.ListField(subfield=fields.StringField())
    #: modules a plugin may import, themselves only (not their submodules)
    allowed = fields.ListField(subfield=fields.StringField())
    #: the core areas: a plugin may import the package, not its modules
    areas = fields.ListField(subfield=fields.StringField())
    #: packages every plugin may import, with their modules
    shared = fields.ListField(subfield=fields.StringField(), required=False)
    #: the root of what is checked: imports of other top-level packages are not looked at
    root = fields.StringField(required=False, default="agorakit")

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        # The plugins live outside the root package's folder (a package-dir mapping), where
        # the import graph does not reach: their imports are read from their files here.
        permitted = set(self.allowed) | set(self.areas)  # type: ignore[arg-type]
        shared: list[str] = list(self.shared or [])  # type: ignore[arg-type]
        root: str = self.root  # type: ignore[assignment]
        broken: list[dict[str, object]] = []
        for package in _packages(self.plugins):  # type: ignore[arg-type]
            modules = _modules_of(package)
            known = set(graph.modules) | {m for p in shared for m in _modules_of(p)} | set(modules)
            for importer, path in sorted(modules.items()):
                for imported, line in _imports(importer, path, known):
                    if not _within(imported, root) or imported in permitted:
                        continue
                    if _within(imported, package) or any(_within(imported, s) for s in shared):
                        continue  # its own modules, the shared packages
                    broken.append({"importer": importer, "imported": imported, "lines": [line]})
        return ContractCheck(kept=not broken, metadata={"broken": broken})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for item in check.metadata["broken"]:
            lines = ", ".join(f"l.{n}" for n in item["lines"])
            output.print_error(
                f"{item['importer']} -> {item['imported']} ({lines}): not part of the declared plugin API",
                bold=False,
            )
            output.new_line()
        output.print(
            "Import the name from its area's package (from agorakit.orders import get_order); "
            "if it is not declared there, it is not for plugins.",
        )


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _packages(expressions: list[str]) -> list[str]:
    """The packages named, ``x.*`` expanded to the packages directly inside ``x``."""
    found = []
    for expression in expressions:
        if not expression.endswith(".*"):
            found.append(expression)
            continue
        parent = expression[:-2]
        spec = importlib.util.find_spec(parent)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for init in sorted(Path(folder).glob("*/__init__.py")):
                found.append(f"{parent}.{init.parent.name}")
    return found


def _modules_of(package: str) -> dict[str, Path]:
    """Every module of ``package`` (by dotted name) and its file."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return {}
    modules = {}
    for folder in spec.submodule_search_locations:
        for path in sorted(Path(folder).rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


def _imports(module: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """``(imported module, line)`` of every import in ``path`` at run time (imports under
    ``if TYPE_CHECKING:`` left out); ``from a import b`` is ``a.b`` when that is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in known else base, node.lineno))
    return found
