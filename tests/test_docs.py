"""The docs stay true: every setting is documented, every README command exists."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import msgspec.inspect as mi
from test_plugin_api import AREAS

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


def test_the_event_reference_is_current():
    from agorakit.docgen import event_reference

    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert text == event_reference(text), "docs/events.md is out of date; run `agorakit docs events`"


def test_the_event_reference_lists_every_event_of_the_core_and_the_shipped_plugins():
    from agorakit.disputes.events import DisputeResolved
    from agorakit.docgen import event_classes, event_reference
    from agorakit.hooks import shipped_plugins

    assert {"gigs", "bank_transfer", "payments_paypal", "payouts_paypal"} <= set(shipped_plugins())
    groups = dict(event_classes())
    assert DisputeResolved in groups["disputes"]
    text = event_reference()
    assert "### `dispute.resolved`\n\n`agorakit.disputes.events.DisputeResolved`\n\n" in text
    assert "| `seller_id` | `int \\| None` | None while the order has no seller (an open request) |" in text
    assert "| [`dispute.resolved`](#disputeresolved) |" in text


def _literal_strings(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return bool(node.elts) and all(_literal_strings(element) for element in node.elts)
    return False


def _is_event_name(node: ast.AST) -> bool:
    """``event.name`` (or ``e.name``, ``stored_event.name``, ...)."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "name"
        and isinstance(node.value, ast.Name)
        and (node.value.id in {"e", "ev"} or node.value.id.endswith("event"))
    )


def event_name_comparisons(source: str) -> list[int]:
    """Lines of ``source`` that compare an event's name to string literals."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for (left, right), op in zip(itertools.pairwise(operands), node.ops, strict=True):
            if not isinstance(op, ast.Eq | ast.NotEq | ast.In | ast.NotIn):
                continue
            if (_is_event_name(left) and _literal_strings(right)) or (
                _is_event_name(right) and _literal_strings(left)
            ):
                lines.append(node.lineno)
    return sorted(lines)


def test_the_event_name_check_finds_comparisons_with_literals():
    source = (
        'if event.name == "order.created": pass\n'
        'if "dispute.opened" != event.name: pass\n'
        'if event.name in ("a.b", "c.d"): pass\n'
        "if isinstance(event.payload, OrderCreated): pass\n"
        "if event.name == other.name: pass\n"
        'if mailer.name == "smtp": pass\n'
    )
    assert event_name_comparisons(source) == [1, 2, 3]


def test_no_handler_compares_an_event_name_to_a_string_literal():
    """Handlers test the typed payload, ``isinstance(event.payload, X)``: a renamed or
    misspelt name is then an import error, not a handler that silently never runs."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for folder in ("core", "plugins")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line in event_name_comparisons(path.read_text(encoding="utf-8"))
    ]
    assert found == []


PLUGIN_API_AREAS = AREAS  # the areas whose packages declare a plugin API


def _plugin_api_sections() -> dict[str, list[str]]:
    """Area -> the names ``docs/plugin-api.md`` lists in its section's table."""
    text = (ROOT / "docs" / "plugin-api.md").read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    for match in re.finditer(
        r"^## `agorakit\.([a-z_]+)`\n(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL
    ):
        cells = re.findall(r"^\| (`[^|]*`) \|", match.group(2), re.MULTILINE)  # a row's first cell
        sections[match.group(1)] = [name for cell in cells for name in re.findall(r"`([A-Za-z_]\w*)`", cell)]
    return sections


def test_the_plugin_api_page_lists_exactly_what_each_area_exports():
    import importlib

    sections = _plugin_api_sections()
    assert sorted(sections) == PLUGIN_API_AREAS
    for area, listed in sections.items():
        package = importlib.import_module(f"agorakit.{area}")
        exported = set(package.__all__)
        assert len(listed) == len(set(listed)), f"agorakit.{area}: a name is listed twice"
        assert set(listed) - exported == set(), (
            f"docs/plugin-api.md lists names agorakit.{area} does not export"
        )
        assert exported - set(listed) == set(), (
            f"agorakit.{area} exports names docs/plugin-api.md does not list"
        )
        for name in listed:
            assert getattr(package, name) is not None


def test_the_worked_examples_in_the_money_page_are_the_tested_modules():
    page = (ROOT / "docs" / "money.md").read_text(encoding="utf-8")
    for example in ("category_fees.py", "acmepay_payouts.py"):
        source = (ROOT / "tests" / "examples" / example).read_text(encoding="utf-8")
        assert f"```python\n{source}```" in page, (
            f"docs/money.md does not show tests/examples/{example} as it is"
        )


def public_fixtures() -> set[str]:
    """The fixtures ``agorakit.testing`` gives a project that opts in: its own and those
    of the modules it loads (its ``pytest_plugins``), except ``_private`` ones."""
    import importlib

    import agorakit.testing

    modules = [agorakit.testing, *map(importlib.import_module, agorakit.testing.pytest_plugins)]
    found = set()
    for module in modules:
        for attribute, value in vars(module).items():
            # pytest >= 8.4 wraps a fixture function; older ones mark the function itself
            marker = getattr(value, "_fixture_function_marker", None) or getattr(
                value, "_pytestfixturefunction", None
            )
            if marker is not None and not (marker.name or attribute).startswith("_"):
                found.add(marker.name or attribute)
    return found


def test_every_fixture_of_agorakit_testing_is_documented_in_the_testing_page():
    fixtures = public_fixtures()
    assert {"client", "make_member", "fund_member", "make_order"} <= fixtures  # the search finds them
    page = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `(\w+)`$", page, flags=re.MULTILINE))
    assert fixtures - documented == set(), "fixtures docs/testing.md does not document"
    assert documented - fixtures == set(), "docs/testing.md documents fixtures that do not exist"
    table = set(re.findall(r"^\| \[`(\w+)`\]\(#\w+\) \|", page, flags=re.MULTILINE))
    assert table == fixtures, "the fixture table of docs/testing.md is not the list of fixtures"


def test_the_worked_example_of_the_testing_page_is_the_tested_module():
    page = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    source = (ROOT / "tests" / "test_fee_plugin_example.py").read_text(encoding="utf-8")
    assert f"```python\n{source}```" in page, (
        "docs/testing.md does not show tests/test_fee_plugin_example.py as it is"
    )
