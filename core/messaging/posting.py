"""Posting: checking and screening a message, writing it (one or a set at a time), and
starting a conversation about an order, a listing or with a member."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from agorakit.accounts import is_operator
from agorakit.accounts.tables import Member
from agorakit.attachments import check_attachments
from agorakit.catalog import get_listing
from agorakit.db.prepared import PreparedInsert
from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.messaging.conversations import (
    ORDER_KEY,
    SUPPORT_NAME,
    check_open,
    conversation_access,
    ensure,
    is_participant,
    mark_read_up_to,
    participant_ids,
    scope_of,
    sync_order_conversation,
)
from agorakit.messaging.events import MessagePosted
from agorakit.messaging.reading import get_conversation, get_message
from agorakit.messaging.schemas import ConversationOut, MessageOut, PostMessage, StartConversation
from agorakit.messaging.tables import Conversation, Message
from agorakit.orders import get_order

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: characters of a message quoted in notifications
EXCERPT_LENGTH = 200


# --------------------------------------------------------------------------------------
# Checking a message
# --------------------------------------------------------------------------------------


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[: EXCERPT_LENGTH - 1] + "…"


def clean_body(runtime: Runtime, body: str, attachment_ids: list[int]) -> str:
    """The body, trimmed; 422 when empty without files, too long, or with too many files."""
    limits = runtime.settings.messaging
    text = body.replace("\r\n", "\n").strip()
    errors = []
    if _CONTROL.search(text):
        errors.append(FieldError("body", "must not contain control characters"))
    elif len(text) > limits.max_message_length:
        errors.append(FieldError("body", f"must be at most {limits.max_message_length} characters"))
    elif not text and not attachment_ids:
        errors.append(FieldError("body", "write something or attach a file"))
    if len(attachment_ids) > limits.max_attachments:
        errors.append(FieldError("attachments", f"at most {limits.max_attachments} files per message"))
    if errors:
        raise ValidationFailed(errors)
    return text


async def screen_body(runtime: Runtime, text: str) -> list[dict[str, str]]:
    """``agorakit_screen_text`` flags for a message; 422 if the site blocks them."""
    mode = runtime.settings.messaging.screening
    if mode == "off" or not text:
        return []
    flags: list[dict[str, str]] = []
    for flag in await runtime.hooks.collect("agorakit_screen_text", text=text, context="message.body"):
        item = {"reason": flag.reason, "match": flag.match}
        if item not in flags:
            flags.append(item)
    if flags and mode == "block":
        raise ValidationFailed([FieldError("body", _blocked(f)) for f in flags])
    return flags


def _blocked(flag: dict[str, str]) -> str:
    reason = flag["reason"]
    article = "an" if reason[:1].lower() in "aeiou" else "a"
    return (
        f"contains {article} {reason} ({flag['match']!r}); contact details and links to other sites "
        "are not allowed, keep the conversation on this site"
    )


async def _checked_attachments(ids: list[int], scope: str | None, member_id: int) -> list[int]:
    if not ids:
        return []
    if scope is None:
        message = (
            "a new conversation has no files yet: send the first message without attachments, "
            "then upload files for conversation:<id>"
        )
        raise ValidationFailed([FieldError("attachments", message)])
    return [a.id for a in await check_attachments(ids, scope=scope, member_id=member_id)]


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


_INSERT_MESSAGES = PreparedInsert(Message)
#: one system message per event: a second delivery of the event adds nothing (a message
#: without an event never conflicts: NULLs are distinct)
_INSERT_ONCE_PER_EVENT = PreparedInsert(Message, conflict_target=("event_id",))
#: rows per INSERT statement
CHUNK = 50


def message_row(
    uow: UnitOfWork,
    conversation_id: int,
    *,
    sender_id: int | None,
    kind: str,
    body: str,
    attachment_ids: list[int] = (),  # type: ignore[assignment]
    flags: list[dict[str, str]] = (),  # type: ignore[assignment]
    event_id: int | None = None,
) -> dict[str, Any]:
    """A ``core_message`` row for :func:`insert_messages`."""
    return {
        "conversation": conversation_id,
        "sender_id": sender_id,
        "kind": kind,
        "body": body,
        "attachments": list(attachment_ids),
        "flags": list(flags),
        "flagged": bool(flags),
        "event_id": event_id,
        "created_at": uow.now,
    }


async def insert_messages(rows: list[dict[str, Any]]) -> list[int]:
    """Insert messages (:func:`message_row`) set-wise: one INSERT per :data:`CHUNK` rows,
    which also moves their conversations' activity to the newest (a trigger of the
    table).  Returns the ids inserted; a message about an event that already has one is
    left out."""
    once = any(row["event_id"] is not None for row in rows)
    statement = _INSERT_ONCE_PER_EVENT if once else _INSERT_MESSAGES
    inserted: list[int] = []
    for start in range(0, len(rows), CHUNK):
        inserted += [row["id"] for row in await statement.run(*rows[start : start + CHUNK])]
    return inserted


async def insert_message(uow: UnitOfWork, conversation_id: int, **message: Any) -> int | None:
    """:func:`insert_messages` for one message (the arguments of :func:`message_row`),
    read by its sender up to it; its id, or None if its ``event_id`` is taken."""
    inserted = await insert_messages([message_row(uow, conversation_id, **message)])
    if not inserted:
        return None
    sender_id = message.get("sender_id")
    if sender_id is not None:
        await mark_read_up_to(conversation_id, sender_id, inserted[0])
    return inserted[0]


async def _post(
    uow: UnitOfWork,
    conversation: dict[str, Any],
    sender: MemberOut,
    text: str,
    ids: list[int],
    flags,
    *,
    kind: str = "member",
) -> int:
    conversation_id = conversation["id"]
    # plugins check or charge for the message in its transaction (refusing: nothing is written)
    await uow.runtime.hooks.collect(
        "agorakit_message_posting", uow=uow, conversation=conversation, sender=sender, runtime=uow.runtime
    )
    message_id = await insert_message(
        uow, conversation_id, sender_id=sender.id, kind=kind, body=text, attachment_ids=ids, flags=flags
    )
    assert message_id is not None
    recipients = [m for m in await participant_ids(conversation_id) if m != sender.id]
    posted = MessagePosted(
        conversation_id=conversation_id,
        message_id=message_id,
        recipients=recipients,
        conversation_subject=conversation["subject"],
        sender_name=SUPPORT_NAME if kind == "support" else sender.display_name,
        sender_role="support" if kind == "support" else "member",
        excerpt=excerpt(text),
        attachments=len(ids),
        flagged=bool(flags),
    )
    uow.record(posted, subject=f"conversation:{conversation_id}", actor_id=sender.id)
    return message_id


async def post_message(
    runtime: Runtime, conversation_id: int, cmd: PostMessage, *, sender: MemberOut
) -> MessageOut:
    """A participant writes in a conversation (checked, screened, with their own files);
    an operator who does not take part writes as Support (a ``support`` message) in an
    order's or a support conversation.  Joins the caller's unit of work if one is open."""
    conversation = await conversation_access(runtime, conversation_id, sender, write=True)
    check_open(conversation)
    text = clean_body(runtime, cmd.body, cmd.attachments)
    flags = await screen_body(runtime, text)
    ids = await _checked_attachments(cmd.attachments, scope_of(conversation), sender.id)
    support = is_operator(sender) and not await is_participant(conversation_id, sender.id)
    async with runtime.unit_of_work() as uow:
        message_id = await _post(
            uow, conversation, sender, text, ids, flags, kind="support" if support else "member"
        )
    return await get_message(message_id, viewer=sender)


# --------------------------------------------------------------------------------------
# Starting a conversation
# --------------------------------------------------------------------------------------


async def start_conversation(
    runtime: Runtime, cmd: StartConversation, *, caller: MemberOut
) -> ConversationOut:
    """Find or create the conversation about an order, a listing or with a member; post in it."""
    key, subject, parties = await _target(runtime, cmd, caller)
    text = clean_body(runtime, cmd.body, cmd.attachments)
    flags = await screen_body(runtime, text)
    existing = await Conversation.select(Conversation.id).where(Conversation.key == key).first()
    scope = key if ORDER_KEY.fullmatch(key) else (f"conversation:{existing['id']}" if existing else None)
    ids = await _checked_attachments(cmd.attachments, scope, caller.id)
    async with runtime.unit_of_work() as uow:
        if cmd.order_id is not None and ORDER_KEY.fullmatch(key):
            conversation_id = await sync_order_conversation(uow, cmd.order_id)
        else:
            conversation_id = await ensure(uow, key=key, subject=subject, participant_ids=parties)
        conversation = await Conversation.select().where(Conversation.id == conversation_id).first()
        assert conversation is not None  # made or found just above, in this unit of work
        await _post(uow, conversation, caller, text, ids, flags)
    return await get_conversation(runtime, conversation_id, viewer=caller)


async def _target(
    runtime: Runtime, cmd: StartConversation, caller: MemberOut
) -> tuple[str, str | None, list[int]]:
    """``(key, subject, participants)`` of the conversation ``cmd`` asks for."""
    given = [name for name in ("order_id", "listing_id", "member_id") if getattr(cmd, name) is not None]
    if len(given) != 1:
        message = "give exactly one of order_id, listing_id and member_id"
        raise ValidationFailed([FieldError(name, message) for name in given or ["order_id"]])
    if cmd.order_id is not None:
        order = await get_order(runtime, cmd.order_id, caller=caller)
        if caller.id not in (order.buyer_id, order.seller_id):
            raise NotFound(f"there is no order {cmd.order_id}")
        return f"order:{order.id}", f"order:{order.id}", []
    if cmd.listing_id is not None:
        return await _listing_target(runtime, cmd.listing_id, caller)
    assert cmd.member_id is not None  # exactly one of the three is given
    return await _direct_target(cmd.member_id, caller)


async def _listing_target(runtime: Runtime, listing_id: int, caller: MemberOut) -> tuple[str, str, list[int]]:
    # a listing only eligible members see: only they may ask about it
    listing = await get_listing(listing_id, viewer=caller, runtime=runtime)
    if listing.seller.id == caller.id:
        message = "this is your own listing; members who are interested write to you"
        raise ValidationFailed([FieldError("listing_id", message)])
    if listing.status != "published":
        raise Conflict(f"listing {listing_id} is {listing.status}; questions are open while it is published")
    return f"listing:{listing_id}:member:{caller.id}", f"listing:{listing_id}", [caller.id, listing.seller.id]


async def _direct_target(member_id: int, caller: MemberOut) -> tuple[str, None, list[int]]:
    if member_id == caller.id:
        raise ValidationFailed([FieldError("member_id", "you cannot write to yourself")])
    if not await Member.exists().where((Member.id == member_id) & (Member.status == "active")):
        raise NotFound(f"there is no member {member_id}")
    low, high = sorted((caller.id, member_id))
    return f"members:{low}:{high}", None, [caller.id, member_id]


async def order_conversation(runtime: Runtime, order_id: int, *, caller: MemberOut) -> ConversationOut:
    """The order's conversation for its parties and operators (created on first use)."""

    order = await get_order(runtime, order_id, caller=caller)
    if caller.id not in (order.buyer_id, order.seller_id) and not is_operator(caller):
        raise NotFound(f"there is no order {order_id}")
    async with runtime.unit_of_work() as uow:
        conversation_id = await sync_order_conversation(uow, order_id)
    return await get_conversation(runtime, conversation_id, viewer=caller)
