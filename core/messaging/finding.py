"""Finding conversations: the filters of ``GET /conversations``.

Each filter narrows the caller's own conversations (those they take part in), so a
search never reaches another member's.  The filters combine (all must hold) and keep the
list's keyset pagination.  Bad input is a 422 naming the query parameter.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from piccolo.columns.combination import WhereRaw

from agorakit.errors import FieldError, ValidationFailed
from agorakit.messaging.conversations import MAX_KEY
from agorakit.messaging.tables import Conversation
from agorakit.messaging.tables import ConversationParticipant as Participant

#: a row id in a query: a positive integer that fits the id columns
_ID = re.compile(r"^[1-9]\d{0,9}$")
_MAX_ID = 2_147_483_647
#: a conversation kind: ``order``, ``listing``, ``direct`` or a module's subject prefix
_KIND = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
#: shortest and longest text searched for with ``q``
Q_MIN, Q_MAX = 2, 200
#: the escape character of the ``q`` LIKE pattern
_ESCAPE = "!"


class ConversationFilters(msgspec.Struct, frozen=True, kw_only=True):
    """The filters of a conversation list, checked (:func:`parse_filters`)."""

    #: conversations in which this member takes part too
    counterpart: int | None = None
    #: conversations whose subject is exactly each of these (``listing``, ``order`` and
    #: ``subject`` together: two different ones match nothing) ...
    subjects: tuple[str, ...] = ()
    #: ... or starts with this (a subject given ending with ``:``)
    subject_prefix: str | None = None
    kind: str | None = None
    #: True: only those with messages the caller has not read; False: only those without
    unread: bool | None = None
    #: text in the messages' bodies (case-insensitive; deleted messages are left out)
    q: str | None = None


def _bad(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed(errors)


def _row_id(name: str, value: str, what: str, errors: list[FieldError]) -> int | None:
    text = value.strip()
    if not _ID.fullmatch(text) or int(text) > _MAX_ID:
        errors.append(FieldError(name, f"must be {what}: a whole number from 1 to {_MAX_ID}", "query"))
        return None
    return int(text)


def parse_filters(
    *,
    viewer_id: int,
    counterpart: str | None = None,
    listing: str | None = None,
    order: str | None = None,
    subject: str | None = None,
    kind: str | None = None,
    unread: str | None = None,
    q: str | None = None,
) -> ConversationFilters:
    """The filters from the query's text values; a 422 naming every bad one."""
    errors: list[FieldError] = []
    member = None if counterpart is None else _row_id("counterpart", counterpart, "a member id", errors)
    if member is not None and member == viewer_id:
        errors.append(FieldError("counterpart", "is another participant's member id, not yours", "query"))
    subjects: list[str] = []
    if listing is not None:
        listing_id = _row_id("listing", listing, "a listing id", errors)
        subjects += [f"listing:{listing_id}"] if listing_id else []
    if order is not None:
        order_id = _row_id("order", order, "an order id", errors)
        subjects += [f"order:{order_id}"] if order_id else []
    prefix = None
    if subject is not None:
        if not subject or len(subject) > MAX_KEY or _CONTROL.search(subject) or subject != subject.strip():
            message = f"must be 1 to {MAX_KEY} characters, without control characters or outer spaces"
            errors.append(FieldError("subject", message, "query"))
        elif subject.endswith(":"):
            prefix = subject
        else:
            subjects.append(subject)
    if kind is not None and not _KIND.fullmatch(kind):
        message = "must be order, listing, direct or a module's kind (letters, digits, _ . -; at most 40)"
        errors.append(FieldError("kind", message, "query"))
    flag = None
    if unread is not None:
        flag = _BOOLEANS.get(unread.strip().lower())
        if flag is None:
            errors.append(FieldError("unread", "must be true or false", "query"))
    text = None
    if q is not None:
        text = " ".join(q.split())
        if len(text) < Q_MIN or len(text) > Q_MAX or _CONTROL.search(text):
            message = f"must be {Q_MIN} to {Q_MAX} characters (spaces aside), without control characters"
            errors.append(FieldError("q", message, "query"))
    if errors:
        raise _bad(errors)
    return ConversationFilters(
        counterpart=member,
        subjects=tuple(subjects),
        subject_prefix=prefix,
        kind=kind,
        unread=flag,
        q=text,
    )


#: conversations with a message the member has not read (written by someone else, not deleted)
_UNREAD = (
    "EXISTS (SELECT 1 FROM core_conversation_participant p JOIN core_message m "
    "ON m.conversation = p.conversation AND m.id > p.last_read_message_id "
    "WHERE p.conversation = core_conversation.id AND p.member_id = {} "
    "AND (m.sender_id IS NULL OR m.sender_id <> {}) AND m.deleted_at IS NULL)"
)
#: conversations with a message (not deleted) whose body holds the text
_TEXT = (
    "EXISTS (SELECT 1 FROM core_message m WHERE m.conversation = core_conversation.id "
    f"AND m.deleted_at IS NULL AND LOWER(m.body) LIKE LOWER({{}}) ESCAPE '{_ESCAPE}')"
)


def _like_pattern(text: str) -> str:
    escaped = "".join(_ESCAPE + c if c in (_ESCAPE, "%", "_") else c for c in text)
    return f"%{escaped}%"


def filter_clauses(filters: ConversationFilters, viewer_id: int) -> list[Any]:
    """Piccolo where-clauses on ``core_conversation`` for the filters given."""
    clauses: list[Any] = []
    if filters.counterpart is not None:
        theirs = Participant.select(Participant.conversation).where(
            Participant.member_id == filters.counterpart
        )
        clauses.append(Conversation.id.is_in(theirs))
    clauses += [Conversation.subject == subject for subject in filters.subjects]
    if filters.subject_prefix is not None:
        prefix = filters.subject_prefix
        clauses.append(WhereRaw("SUBSTR(core_conversation.subject, 1, {}) = {}", len(prefix), prefix))
    if filters.kind is not None:
        clauses.append(Conversation.kind == filters.kind)
    if filters.unread is not None:
        sql = _UNREAD if filters.unread else f"NOT {_UNREAD}"
        clauses.append(WhereRaw(sql, viewer_id, viewer_id))
    if filters.q is not None:
        clauses.append(WhereRaw(_TEXT, _like_pattern(filters.q)))
    return clauses
