"""Packaging: core/ is the package `agorakit`, plugins/ is `agorakit.plugins`, the site
template cookiecutter-site/ is the data folder `agorakit/site_template`, nothing else."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import agorakit

ROOT = Path(__file__).resolve().parent.parent


def _package_dirs() -> set[str]:
    found = set()
    for top, package in (("core", "agorakit"), ("plugins", "agorakit.plugins")):
        for init in (ROOT / top).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / top)
            found.add(".".join([package, *relative.parts]) if relative.parts else package)
    # the site template: data, mapped as one package (its Python files are the template's)
    return found | {"agorakit.site_template"}


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    assert listed == _package_dirs()


def test_wheel_contains_only_the_agorakit_package(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("agorakit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"agorakit", f"agorakit-{agorakit.__version__}.dist-info"}
    assert "agorakit/hookspecs.py" in names
    assert "agorakit/plugins/__init__.py" in names
    assert any(n.startswith("agorakit/accounts/piccolo_migrations/core_accounts_") for n in names)
    entry_points_txt = zipfile.ZipFile(wheel).read(
        f"agorakit-{agorakit.__version__}.dist-info/entry_points.txt"
    )
    # The fixtures are opted into (``pytest_plugins``), never loaded into every pytest run.
    assert b"[pytest11]" not in entry_points_txt
    assert b"agorakit = agorakit.cli:main" in entry_points_txt
    # `agorakit new` renders the template the wheel ships: every file of it, hidden ones too
    template = ROOT / "cookiecutter-site"
    shipped = {
        n.removeprefix("agorakit/site_template/") for n in names if n.startswith("agorakit/site_template/")
    }
    on_disk = {
        path.relative_to(template).as_posix()
        for path in template.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert shipped == on_disk
    assert {"cookiecutter.json", "{{cookiecutter.project_slug}}/.env.example"} <= shipped
    assert "{{cookiecutter.project_slug}}/.github/workflows/test.yml" in shipped


def test_installed_package_maps_to_the_source_folders():
    import agorakit.plugins

    assert Path(agorakit.__file__).resolve() == ROOT / "core" / "__init__.py"
    assert Path(agorakit.plugins.__file__).resolve() == ROOT / "plugins" / "__init__.py"
    assert not [ep for ep in entry_points(group="pytest11") if ep.value.startswith("agorakit")]
    # No generic top-level names leak from the project.
    for generic in ("core", "plugins"):
        assert generic not in sys.modules or "agorakit" not in str(
            getattr(sys.modules[generic], "__file__", "")
        )


def test_hookimpl_is_importable_from_the_package_root():
    from agorakit import hookimpl, hookspec

    assert hookimpl.project_name == hookspec.project_name == "agorakit"


def test_the_fixtures_are_opted_into_by_the_conftest(pytestconfig):
    """This repository's tests get the fixtures the way a site's or a plugin's do: its
    conftest.py names ``agorakit.testing`` in ``pytest_plugins``."""
    assert pytestconfig.pluginmanager.get_plugin("agorakit.testing") is not None
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    assert 'pytest_plugins = ["agorakit.testing"]' in conftest


def test_a_project_without_the_opt_in_gets_no_agorakit_fixtures(tmp_path):
    """pytest in another project, agorakit installed: no ``client``/``clock`` fixture
    appears until the project's conftest opts in."""
    (tmp_path / "test_other.py").write_text("def test_nothing():\n    pass\n")
    args = [sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", str(tmp_path)]
    without = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "make_member" not in without.stdout
    assert "site_config" not in without.stdout
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["agorakit.testing"]\n')
    opted_in = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "make_member" in opted_in.stdout
    assert "fund_member" in opted_in.stdout
