"""Lazy public names for a core area's package: its declared plugin API.

An area's ``__init__.py`` lists what plugins may use as a mapping of name to the module
that defines it::

    from typing import TYPE_CHECKING

    from agorakit.exports import lazy_exports

    if TYPE_CHECKING:
        from agorakit.orders.engine import fire as fire

    EXPORTS = {"fire": "agorakit.orders.engine"}
    __all__ = sorted(EXPORTS)
    __getattr__, __dir__ = lazy_exports(__name__, EXPORTS)

A name is imported from its module on first use, so importing one module of an area
(``agorakit.orders.tables``) does not import the whole area and the areas' packages do
not import each other when they load.  The ``TYPE_CHECKING`` imports (``x as x``: an explicit
re-export) give type checkers, linters and editors the same names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` serving ``exports`` lazily."""
    module = importlib.import_module(package)

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(module, name, value)  # the next access is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(module)) | set(exports))

    return __getattr__, __dir__
