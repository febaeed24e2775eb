"""Reading the ``#:`` comments above settings fields, the way Sphinx does.

Settings structs document each field with a ``#:`` comment (its unit, default and
meaning); the generated docs, the site template's ``site.toml`` and the operator
console's site page show those comments next to the values.
"""

from __future__ import annotations

import ast
import inspect
import textwrap


def field_docs(cls: type) -> dict[str, str]:
    """The ``#:`` comment above each field of ``cls``'s class body, by field name (lines
    joined by spaces; fields without one are left out)."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):  # no source (a class built at run time)
        return {}
    tree = ast.parse(textwrap.dedent("".join(lines)))
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    source = "".join(lines).splitlines()
    out: dict[str, str] = {}
    for node in body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            comment: list[str] = []
            index = node.lineno - 2
            while index >= 0 and source[index].strip().startswith("#:"):
                comment.insert(0, source[index].strip()[2:].strip())
                index -= 1
            if comment:
                out[node.target.id] = " ".join(comment)
    return out
