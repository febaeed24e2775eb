"""The operators' list of members: by id, filtered by status, role, email, a part of
the name or email, and whether operators flagged them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from piccolo.columns.combination import WhereRaw

from agorakit.accounts.schemas import MemberOut
from agorakit.accounts.service import _PUBLIC, to_member
from agorakit.accounts.tables import Member, MemberFlag
from agorakit.errors import FieldError, ValidationFailed
from agorakit.pagination import decode_cursor, page

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


async def list_members(
    runtime: Runtime,
    *,
    cursor: str | None,
    limit: int,
    status: str | None = None,
    role: str | None = None,
    email: str | None = None,
    q: str | None = None,
    flagged: bool | None = None,
) -> tuple[list[MemberOut], str | None]:
    """Members by id (oldest first), filtered: ``q`` is a case-insensitive part of the
    display name or email (trimmed, 1-100 characters, else a 422), ``flagged`` keeps
    only the members with (True) or without (False) a flag."""
    query = Member.select(*_PUBLIC).order_by(Member.id).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Member.id > int(position["id"]))
    if status:
        query = query.where(Member.status == status)
    if role:
        query = query.where(Member.role == role)
    if email:
        query = query.where(Member.email_key == email.strip().lower())
    if q is not None:
        pattern = _contains(_search_text(q))
        query = query.where(
            WhereRaw(
                "(LOWER(display_name) LIKE {} ESCAPE '!' OR email_key LIKE {} ESCAPE '!')", pattern, pattern
            )
        )
    if flagged is not None:
        with_flag = MemberFlag.select(MemberFlag.member_id)
        query = query.where(Member.id.is_in(with_flag) if flagged else Member.id.not_in(with_flag))
    rows, next_cursor = page(await query.output(load_json=True), limit, lambda row: {"id": row["id"]})
    return [to_member(row) for row in rows], next_cursor


#: longest ``q`` of :func:`list_members`, in characters
MAX_SEARCH = 100


def _search_text(q: str) -> str:
    text = q.strip()
    if not 1 <= len(text) <= MAX_SEARCH:
        error = FieldError("q", f"give 1 to {MAX_SEARCH} characters to search for", "query")
        raise ValidationFailed([error])
    return text.lower()


def _contains(text: str) -> str:
    """A LIKE pattern (escape character ``!``) matching ``text`` anywhere, its ``%`` and
    ``_`` taken literally."""
    return "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
