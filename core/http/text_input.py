"""Refuse NUL characters in text input, on every route, before anything reads it.

PostgreSQL cannot store U+0000 in a text column (SQLite can), so a JSON string with
``\\u0000``, a query value with ``%00`` or such a path segment reached the database and
came back as a 500 on PostgreSQL only.  No field of the API has a use for NUL, so it is
a 422 naming the field on both databases, and nothing is changed.

Cheap on the normal path: the body is only parsed a second time when its bytes contain
the escape ``\\u0000`` at all.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request

from agorakit.errors import FieldError, ValidationFailed

NUL = "\x00"
MESSAGE = "must not contain NUL (\\u0000) characters"


def _nul_fields(value: Any) -> list[str]:
    """Paths of the strings (and object keys) holding NUL, walked without recursion: a
    body may nest as deep as the decoder allows."""
    found: list[str] = []
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                found.append(path or "body")
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{path}.{key}" if path else str(key)
                if NUL in str(key):
                    found.append(name)
                pending.append((child, name))
        elif isinstance(item, list):
            pending.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
    return sorted(set(found))


async def refuse_nul_characters(request: Request) -> None:
    """``before_request`` of the app: a 422 for NUL in the path, the query or a JSON body."""
    errors: list[FieldError] = []
    if NUL in request.scope["path"]:
        errors.append(FieldError("path", MESSAGE, "path"))
    query = request.scope.get("query_string", b"")
    if b"%00" in query:
        names = {
            name for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True) if NUL in value
        }
        errors.extend(FieldError(name, MESSAGE, "query") for name in sorted(names))
    if request.content_type[0].endswith("json"):
        body = await request.body()
        if b"\\u0000" in body:
            try:
                decoded = msgspec.json.decode(body)
            except (msgspec.DecodeError, RecursionError):
                # not JSON, or nested too deep to read: the route's own decoding answers it
                decoded = None
            errors.extend(FieldError(name, MESSAGE, "body") for name in _nul_fields(decoded))
    if errors:
        raise ValidationFailed(errors)


__all__ = ["refuse_nul_characters"]
