"""What several queue pages show: members' names, a conversation, an attachment's file."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agorakit.web import ApiError, PageContext


async def member_names(page: PageContext, ids: Iterable[int | None]) -> dict[int, str]:
    """Member id → display name (``GET /operator/members/{id}``; unknown ids are left out)."""
    names: dict[int, str] = {}
    for member_id in sorted({i for i in ids if i}):
        try:
            names[member_id] = (await page.api.get(f"/operator/members/{member_id}"))["display_name"]
        except ApiError as error:
            if error.status != 404:
                raise
    return names


async def conversation(page: PageContext, conversation_id: int, limit: int = 100) -> dict[str, Any]:
    """A conversation (``GET /conversations/{id}``) with its latest messages, oldest first."""
    found = await page.api.get(f"/conversations/{conversation_id}")
    answer = await page.api.get(f"/conversations/{conversation_id}/messages", limit=limit)
    return {**found, "messages": list(reversed(answer["items"])), "more": bool(answer["next_cursor"])}


async def optional(page: PageContext, path: str, **params: Any) -> Any:
    """``GET path``, or None when the API answers 404 (an order without a conversation)."""
    try:
        return await page.api.get(path, **params)
    except ApiError as error:
        if error.status == 404:
            return None
        raise
