"""The areas' declared plugin API: every exported name resolves to what it names."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

AREAS = [
    "accounts",
    "attachments",
    "catalog",
    "disputes",
    "events",
    "http",
    "integrations",
    "messaging",
    "money",
    "notifications",
    "orders",
    "reports",
    "reviews",
    "support",
    "web",
    "webhooks",
]


@pytest.mark.parametrize("area", AREAS)
def test_every_exported_name_resolves_and_no_module_shadows_it(area):
    package = importlib.import_module(f"agorakit.{area}")
    exported = list(package.__all__)
    assert exported == sorted(set(exported), key=exported.index), "names listed twice"
    modules = {info.name for info in pkgutil.iter_modules(package.__path__)}
    # a submodule named like an exported name replaces it on the package once imported
    assert not (set(exported) & modules), f"exported names that are also modules: {set(exported) & modules}"
    for info in modules:
        if info != "piccolo_migrations":
            importlib.import_module(f"agorakit.{area}.{info}")
    for name in exported:
        value = getattr(package, name)
        assert not isinstance(value, types.ModuleType), f"agorakit.{area}.{name} is a module"
    with pytest.raises(AttributeError):
        _ = package.no_such_name
