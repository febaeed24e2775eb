"""The docs stay true: every setting is documented, every README command exists."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec.inspect as mi

from agorakit.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_core_setting_is_in_the_configuration_reference():
    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    info = mi.type_info(Settings)
    for section in info.fields:
        section_type = section.type.cls if isinstance(section.type, mi.StructType) else None
        if section_type is None:
            continue
        assert f"## `[{section.name}]`" in reference, f"section [{section.name}] is not documented"
        for field in mi.type_info(section_type).fields:
            assert f"| `{field.name}` |" in reference, f"{section.name}.{field.name} is not documented"


def test_readme_commands_exist():
    from agorakit.cli import build_cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    cli = build_cli([])
    for command in re.findall(r"^\| `agorakit ([a-z-]+)", readme, flags=re.MULTILINE):
        assert command in cli.commands, f"README documents `agorakit {command}` which does not exist"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in re.findall(r"`make ([a-z]+)`", readme):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), f"README mentions make {target}"


def test_relative_links_in_the_docs_point_to_files_that_exist():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            path = target.split("#", 1)[0]
            if path and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []
