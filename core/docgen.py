"""Generates ``docs/hooks.md`` from the hookspec docstrings (``agorakit docs hooks``)."""

from __future__ import annotations

import inspect

from agorakit import hookspecs

HEADER = """# Hook reference

Generated from `core/hookspecs.py` by `agorakit docs hooks`; do not edit by hand.
Implement a hook with `@agorakit.hookimpl` on a function of the same name; see
[writing a plugin](plugins.md).  Hooks are called with keyword arguments, and an
implementation may accept any subset of the parameters.

"""


def hookspec_functions() -> list:
    return [
        fn
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("agorakit_") and fn.__module__ == hookspecs.__name__
    ]


def hook_reference() -> str:
    parts = [HEADER, "| hook | kind |\n|---|---|\n"]
    specs = sorted(hookspec_functions(), key=lambda fn: fn.__code__.co_firstlineno)
    for fn in specs:
        parts.append(f"| [`{fn.__name__}`](#{fn.__name__}) | {_kind(fn)} |\n")
    for fn in specs:
        signature = str(inspect.signature(fn)).replace("'", "")
        parts.append(f"\n## {fn.__name__}\n\n```python\n{fn.__name__}{signature}\n```\n\n")
        parts.append(f"*{_kind(fn)}*\n\n{inspect.cleandoc(fn.__doc__ or '')}\n")
    return "".join(parts)


def _kind(fn) -> str:
    opts = getattr(fn, "agorakit_spec", {}) or {}
    if opts.get("firstresult"):
        return "first result wins (stops at the first non-None result)"
    if opts.get("historic"):
        return "historic (registration)"
    return "collect: every plugin's result is used"
