"""The import contracts of ``pyproject.toml`` (``lint-imports``): the core is layered and
plugins use only the declared plugin API.  The plugin contract is shown to catch a plugin
that reaches into an area's module."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(config: Path, cwd: Path, pythonpath: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "300"} | ({"PYTHONPATH": pythonpath} if pythonpath else {})
    return subprocess.run(
        [str(LINT_IMPORTS), str(config), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_repository_keeps_its_contracts():
    result = lint_imports(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_a_plugin_importing_an_area_module_breaks_the_declared_api(tmp_path):
    plugin = tmp_path / "throwaway_plugin"
    plugin.mkdir()
    (plugin / "__init__.py").write_text(
        "from agorakit import hookimpl\nfrom agorakit.orders import get_order\n\nfrom . import helpers\n"
    )
    (plugin / "helpers.py").write_text(
        "from typing import TYPE_CHECKING\n\n"
        "from agorakit.orders.tables import Order\n\n"
        "if TYPE_CHECKING:\n    from agorakit.money.tables import Payment\n"
    )
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [contract] = [c for c in declared["contracts"] if c["type"] == "declared_api"]
    config = tmp_path / "contracts.toml"
    lines = [
        "[tool.importlinter]",
        'root_packages = ["agorakit", "throwaway_plugin"]',
        f"contract_types = {declared['contract_types']!r}".replace("'", '"'),
        "[[tool.importlinter.contracts]]",
        'name = "Plugins use only the declared plugin API"',
        'type = "declared_api"',
        'plugins = ["throwaway_plugin"]',
        f"allowed = {contract['allowed']!r}".replace("'", '"'),
        f"areas = {contract['areas']!r}".replace("'", '"'),
    ]
    config.write_text("\n".join(lines) + "\n")
    result = lint_imports(config, tmp_path, pythonpath=str(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Contracts: 0 kept, 1 broken." in result.stdout
    assert (
        "throwaway_plugin.helpers -> agorakit.orders.tables (l.3): not part of the declared plugin API"
        in result.stdout
    )
    # the package-level name, its own module and a type-checking import are fine
    assert result.stdout.count("not part of the declared plugin API") == 1
