"""Opaque cursors for keyset pagination (``?cursor=...&limit=...``).

A cursor encodes the integer keys of the last item of a page; anything else is refused.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import msgspec

from agorakit.errors import FieldError, ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The position a cursor points after; a malformed or foreign cursor is a 422."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = msgspec.json.decode(raw)
    except (ValueError, msgspec.DecodeError, RecursionError):  # a cursor of [[[[... is just malformed
        position = None
    # The keys are database integers: one beyond 64 bits fits no column (an overflow, a 500).
    if (
        not isinstance(position, dict)
        or set(position) != set(keys)
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63
            for v in position.values()
        )
    ):
        error = FieldError("cursor", "not a cursor from this list; start without one", "query")
        raise ValidationFailed([error])
    return position


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        error = FieldError("limit", f"must be between 1 and {MAX_LIMIT}", "query")
        raise ValidationFailed([error])
    return limit


def page(rows: Sequence[T], limit: int, key: Callable[[T], dict[str, Any]]) -> tuple[list[T], str | None]:
    """One page of a keyset query that fetched ``limit + 1`` rows, and the cursor to the
    next page (None on the last): ``key`` gives the position of a row, e.g.
    ``lambda row: {"id": row["id"]}``."""
    items = list(rows[:limit])
    return items, encode_cursor(key(items[-1])) if len(rows) > limit else None
