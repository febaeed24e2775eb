"""Conversations, messages, read state, screening and system messages.

Every conversation has a unique ``key``: ``order:<id>`` (one per order), ``listing:<id>:
member:<id>`` (one per listing and asking member), ``members:<low>:<high>`` (direct
messages), or a subject another module chooses (:func:`ensure_conversation`).  Who takes
part is kept in ``core_conversation_participant``; for an order's conversation it is
derived from the order's parties whenever the conversation is used, so a seller who
locks an open request joins it, and one who lets it go leaves it.  Operators may read
every conversation but do not take part.  Anyone else gets a 404.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from agorakit.accounts.roles import is_operator
from agorakit.accounts.tables import Member
from agorakit.attachments.service import attachments_by_ids, check_attachments
from agorakit.db.prepared import Prepared, PreparedInsert, PreparedRaw, any_of_sql, none_of
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.hooks import collect, maybe_await
from agorakit.messaging.schemas import (
    ConversationOut,
    MessageOut,
    ParticipantOut,
    PostMessage,
    ScreenFlagOut,
    StartConversation,
    UnreadOut,
)
from agorakit.messaging.tables import Conversation, Message
from agorakit.messaging.tables import ConversationParticipant as Participant
from agorakit.pagination import decode_cursor, encode_cursor

_ORDER = re.compile(r"^order:([1-9]\d*)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: longest conversation key / subject
MAX_KEY = 120
#: characters of a message quoted in notifications
EXCERPT_LENGTH = 200


# --------------------------------------------------------------------------------------
# Keys, kinds and scopes
# --------------------------------------------------------------------------------------


def kind_of(key: str) -> str:
    if _ORDER.fullmatch(key):
        return "order"
    if key.startswith("listing:"):
        return "listing"
    if key.startswith("members:"):
        return "direct"
    return key.split(":", 1)[0][:40]


def order_id_of(conversation: dict[str, Any]) -> int | None:
    match = _ORDER.fullmatch(conversation["key"])
    return int(match.group(1)) if match else None


def scope_of(conversation: dict[str, Any]) -> str:
    """The attachment scope of a conversation: its order's, or its own."""
    return conversation["key"] if order_id_of(conversation) else f"conversation:{conversation['id']}"


def excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_LENGTH else flat[: EXCERPT_LENGTH - 1] + "…"


# --------------------------------------------------------------------------------------
# Creating conversations (idempotent, safe under concurrency)
# --------------------------------------------------------------------------------------


_LAST_MESSAGE = Prepared(
    lambda message, at, conversation, same_message: Conversation.update(
        {Conversation.last_message_id: message, Conversation.last_message_at: at}
    ).where((Conversation.id == conversation) & (Conversation.last_message_id < same_message))
)


async def _ensure(uow: Any, *, key: str, subject: str | None, participant_ids: list[int]) -> int:
    return (await _ensured(uow, key=key, subject=subject, participant_ids=participant_ids))[0]


async def _ensured(
    uow: Any, *, key: str, subject: str | None, participant_ids: list[int]
) -> tuple[int, bool]:
    """The conversation's id, and whether this call created it."""
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"a conversation key has 1 to {MAX_KEY} characters, not {key!r}")
    row = await _CONVERSATION_BY_KEY.run(key)
    created = False
    if row is None:
        # ON CONFLICT: of two concurrent creations one inserts, the other waits and finds it.
        inserted = await _INSERT_CONVERSATION.run(
            {
                "key": key,
                "kind": kind_of(key),
                "subject": subject,
                "last_message_id": 0,
                "created_at": uow.now,
            }
        )
        created = bool(inserted)
        row = inserted[0] if inserted else await _CONVERSATION_BY_KEY.run(key)
    await _add_participants(uow, row["id"], participant_ids)
    return row["id"], created


_INSERT_CONVERSATION = PreparedInsert(Conversation, conflict_target=("key",))
_CONVERSATION_BY_KEY = Prepared(
    lambda key: Conversation.select(Conversation.id).where(Conversation.key == key).first()
)
_INSERT_PARTICIPANTS = PreparedInsert(
    Participant, returning=(), conflict_target=("conversation", "member_id")
)


async def _add_participants(uow: Any, conversation_id: int, member_ids: list[int]) -> None:
    await _INSERT_PARTICIPANTS.run(
        *[
            {"conversation": conversation_id, "member_id": m, "last_read_message_id": 0, "joined_at": uow.now}
            for m in dict.fromkeys(member_ids)
        ]
    )


async def ensure_conversation(uow: Any, *, subject: str, participant_ids: list[int]) -> int:
    """The id of the conversation about ``subject``, created if needed; adds participants.

    ``subject`` is the conversation's unique key: pick one that names exactly one
    conversation (``"order:12"``, ``"lead_charge:8"``).  Participants are only added,
    never removed.  Runs inside the caller's unit of work; safe when two transactions
    ensure the same subject at once (exactly one conversation results).  An order's
    conversation (``order:<id>``) always has the order's parties as participants:
    ``participant_ids`` is ignored for it.
    """
    match = _ORDER.fullmatch(subject)
    if match:
        return await sync_order_conversation(uow, int(match.group(1)))
    return await _ensure(uow, key=subject, subject=subject, participant_ids=participant_ids)


@functools.cache
def _order_parties() -> Prepared:
    from agorakit.orders.tables import Order

    return Prepared(lambda id: Order.select(Order.buyer_id, Order.seller_id).where(Order.id == id).first())


async def order_parties(runtime: Any, order_id: int) -> list[int]:
    """The buyer and (once there is one) the seller of an order; 404 if there is no order."""
    order = await _order_parties().run(order_id)
    if order is None:
        raise NotFound(f"there is no order {order_id}")
    return [p for p in (order["buyer_id"], order["seller_id"]) if p is not None]


@functools.cache
def _orders_conversations() -> PreparedRaw:
    """Orders' parties, their conversations and those ones' participants (one value: the
    orders' ids): a row per participant, one with NULLs for an order without a
    conversation or participants, none for an order that does not exist."""
    from agorakit.orders.tables import Order

    return PreparedRaw(
        Order,
        lambda engine: (
            "SELECT o.id, o.buyer_id, o.seller_id, c.id AS conversation, p.member_id FROM core_order o "
            "LEFT JOIN core_conversation c ON c.\"key\" = 'order:' || o.id "
            "LEFT JOIN core_conversation_participant p ON p.conversation = c.id WHERE "
            + any_of_sql(engine, "o.id")
        ),
    )


async def _order_conversations(order_ids: list[int]) -> dict[int, tuple[list[int], int | None]]:
    """Each existing order's parties (buyer, then seller) and the id of its conversation
    when that one has exactly these participants (None: missing, or to be synced)."""
    found: dict[int, tuple[list[int], int | None, set[int | None]]] = {}
    for row in await _orders_conversations().run(sorted(set(order_ids))):
        parties = [p for p in (row["buyer_id"], row["seller_id"]) if p is not None]
        found.setdefault(row["id"], (parties, row["conversation"], set()))[2].add(row["member_id"])
    return {
        order_id: (parties, conversation if conversation is not None and members == set(parties) else None)
        for order_id, (parties, conversation, members) in found.items()
    }


async def sync_order_conversation(uow: Any, order_id: int) -> int:
    """Ensure the order's conversation, its participants being the order's parties now."""
    found = await _order_conversations([order_id])
    if order_id not in found:
        raise NotFound(f"there is no order {order_id}")
    parties, conversation = found[order_id]
    if conversation is not None:  # most often: there already, with these participants
        return conversation
    key = f"order:{order_id}"
    conversation_id, created = await _ensured(uow, key=key, subject=key, participant_ids=parties)
    if not created:  # a new conversation has only the parties just added
        await _REMOVE_OTHERS.run(conversation_id, parties)
    return conversation_id


#: participants of a conversation who are not among the members given
_REMOVE_OTHERS = Prepared(
    lambda conversation, members: Participant.delete().where(
        (Participant.conversation == conversation) & none_of(Participant.member_id, members)
    )
)


# --------------------------------------------------------------------------------------
# Who may read and write
# --------------------------------------------------------------------------------------


async def conversation_access(
    runtime: Any, conversation_id: int, member: Any, *, write: bool
) -> dict[str, Any]:
    """The conversation if ``member`` takes part (or, to read, is an operator); else 404."""
    row = await Conversation.select().where(Conversation.id == conversation_id).first()
    if row is not None:
        if await _takes_part(runtime, row, member.id):
            return row
        if is_operator(member):
            if write:
                raise Forbidden("operators read conversations but do not write in them")
            return row
    raise NotFound(f"there is no conversation {conversation_id}")


async def _is_participant(conversation_id: int, member_id: int) -> bool:
    return await Participant.exists().where(
        (Participant.conversation == conversation_id) & (Participant.member_id == member_id)
    )


async def _takes_part(runtime: Any, conversation: dict[str, Any], member_id: int) -> bool:
    order_id = order_id_of(conversation)
    if order_id is None:
        return await _is_participant(conversation["id"], member_id)
    if member_id not in await order_parties(runtime, order_id):
        return False
    if not await _is_participant(conversation["id"], member_id):
        async with runtime.unit_of_work() as uow:
            await sync_order_conversation(uow, order_id)
    return True


# --------------------------------------------------------------------------------------
# Checking a message
# --------------------------------------------------------------------------------------


def clean_body(runtime: Any, body: str, attachment_ids: list[int]) -> str:
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


async def screen_body(runtime: Any, text: str) -> list[dict[str, str]]:
    """``agorakit_screen_text`` flags for a message; 422 if the site blocks them."""
    mode = runtime.settings.messaging.screening
    if mode == "off" or not text:
        return []
    results = [
        await maybe_await(r) for r in runtime.pm.hook.agorakit_screen_text(text=text, context="message.body")
    ]
    flags: list[dict[str, str]] = []
    for flag in collect(results):
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
# Posting
# --------------------------------------------------------------------------------------


_INSERT_MESSAGE = PreparedInsert(Message)
#: one system message per event: a second delivery of the event adds nothing
_INSERT_SYSTEM_MESSAGE = PreparedInsert(Message, conflict_target=("event_id",))


async def _insert_message(
    uow: Any,
    conversation_id: int,
    *,
    sender_id: int | None,
    kind: str,
    body: str,
    attachment_ids: list[int] = (),  # type: ignore[assignment]
    flags: list[dict[str, str]] = (),  # type: ignore[assignment]
    event_id: int | None = None,
) -> int | None:
    """Insert a message and move the conversation's activity; None if ``event_id`` is taken."""
    message = {
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
    rows = await (_INSERT_MESSAGE if event_id is None else _INSERT_SYSTEM_MESSAGE).run(message)
    if not rows:
        return None
    message_id = rows[0]["id"]
    await _LAST_MESSAGE.run(message_id, uow.now, conversation_id, message_id)
    if sender_id is not None:
        await _mark_read(conversation_id, sender_id, message_id)
    return message_id


async def _post(uow: Any, conversation: dict[str, Any], sender: Any, text: str, ids: list[int], flags) -> int:
    conversation_id = conversation["id"]
    message_id = await _insert_message(
        uow, conversation_id, sender_id=sender.id, kind="member", body=text, attachment_ids=ids, flags=flags
    )
    assert message_id is not None
    recipients = [m for m in await _participant_ids(conversation_id) if m != sender.id]
    uow.record(
        "message.posted",
        subject=f"conversation:{conversation_id}",
        actor_id=sender.id,
        conversation=conversation_id,
        message=message_id,
        recipients=recipients,
        conversation_subject=conversation["subject"],
        sender_name=sender.display_name,
        excerpt=excerpt(text),
        attachments=len(ids),
        flagged=bool(flags),
    )
    return message_id


async def post_message(runtime: Any, conversation_id: int, cmd: PostMessage, *, sender: Any) -> MessageOut:
    """A participant writes in a conversation (checked, screened, with their own files)."""
    conversation = await conversation_access(runtime, conversation_id, sender, write=True)
    text = clean_body(runtime, cmd.body, cmd.attachments)
    flags = await screen_body(runtime, text)
    ids = await _checked_attachments(cmd.attachments, scope_of(conversation), sender.id)
    async with runtime.unit_of_work() as uow:
        message_id = await _post(uow, conversation, sender, text, ids, flags)
    return await get_message(message_id, viewer=sender)


async def start_conversation(runtime: Any, cmd: StartConversation, *, caller: Any) -> ConversationOut:
    """Find or create the conversation about an order, a listing or with a member; post in it."""
    key, subject, parties = await _target(runtime, cmd, caller)
    text = clean_body(runtime, cmd.body, cmd.attachments)
    flags = await screen_body(runtime, text)
    existing = await Conversation.select(Conversation.id).where(Conversation.key == key).first()
    scope = key if _ORDER.fullmatch(key) else (f"conversation:{existing['id']}" if existing else None)
    ids = await _checked_attachments(cmd.attachments, scope, caller.id)
    async with runtime.unit_of_work() as uow:
        if _ORDER.fullmatch(key):
            conversation_id = await sync_order_conversation(uow, cmd.order_id)
        else:
            conversation_id = await _ensure(uow, key=key, subject=subject, participant_ids=parties)
        conversation = await Conversation.select().where(Conversation.id == conversation_id).first()
        await _post(uow, conversation, caller, text, ids, flags)
    return await get_conversation(runtime, conversation_id, viewer=caller)


async def _target(runtime: Any, cmd: StartConversation, caller: Any) -> tuple[str, str | None, list[int]]:
    """``(key, subject, participants)`` of the conversation ``cmd`` asks for."""
    given = [name for name in ("order_id", "listing_id", "member_id") if getattr(cmd, name) is not None]
    if len(given) != 1:
        message = "give exactly one of order_id, listing_id and member_id"
        raise ValidationFailed([FieldError(name, message) for name in given or ["order_id"]])
    if cmd.order_id is not None:
        from agorakit.orders import get_order

        order = await get_order(runtime, cmd.order_id, caller=caller)
        if caller.id not in (order.buyer_id, order.seller_id):
            raise NotFound(f"there is no order {cmd.order_id}")
        return f"order:{order.id}", f"order:{order.id}", []
    if cmd.listing_id is not None:
        return await _listing_target(cmd.listing_id, caller)
    return await _direct_target(cmd.member_id, caller)


async def _listing_target(listing_id: int, caller: Any) -> tuple[str, str, list[int]]:
    from agorakit.catalog.listings import get_listing

    listing = await get_listing(listing_id, viewer=caller)
    if listing.seller.id == caller.id:
        message = "this is your own listing; members who are interested write to you"
        raise ValidationFailed([FieldError("listing_id", message)])
    if listing.status != "published":
        raise Conflict(f"listing {listing_id} is {listing.status}; questions are open while it is published")
    return f"listing:{listing_id}:member:{caller.id}", f"listing:{listing_id}", [caller.id, listing.seller.id]


async def _direct_target(member_id: int, caller: Any) -> tuple[str, None, list[int]]:
    if member_id == caller.id:
        raise ValidationFailed([FieldError("member_id", "you cannot write to yourself")])
    if not await Member.exists().where((Member.id == member_id) & (Member.status == "active")):
        raise NotFound(f"there is no member {member_id}")
    low, high = sorted((caller.id, member_id))
    return f"members:{low}:{high}", None, [caller.id, member_id]


async def order_conversation(runtime: Any, order_id: int, *, caller: Any) -> ConversationOut:
    """The order's conversation for its parties and operators (created on first use)."""
    from agorakit.orders import get_order

    order = await get_order(runtime, order_id, caller=caller)
    if caller.id not in (order.buyer_id, order.seller_id) and not is_operator(caller):
        raise NotFound(f"there is no order {order_id}")
    async with runtime.unit_of_work() as uow:
        conversation_id = await sync_order_conversation(uow, order_id)
    return await get_conversation(runtime, conversation_id, viewer=caller)


# --------------------------------------------------------------------------------------
# System messages (events)
# --------------------------------------------------------------------------------------


async def post_system_message(
    uow: Any, *, subject: str, body: str, event_id: int | None = None
) -> int | None:
    """Post a system message in the conversation about ``subject``; its id, or None.

    An order's conversation (``order:<id>``) is created if needed; for other subjects
    None is returned when there is no conversation.  With ``event_id`` (the domain
    event the message is about) the message is posted at most once per event, so a
    redelivered event changes nothing (None).
    """
    # A second delivery of the event inserts nothing (event_id is unique): no pre-check.
    match = _ORDER.fullmatch(subject)
    if match:
        conversation_id = await sync_order_conversation(uow, int(match.group(1)))
    else:
        row = await _CONVERSATION_BY_KEY.run(subject)
        if row is None:
            return None
        conversation_id = row["id"]
    return await _insert_message(
        uow, conversation_id, sender_id=None, kind="system", body=body, event_id=event_id
    )


async def post_event_message(
    runtime: Any, event: Any, body: str, *, subject: str | None = None
) -> int | None:
    """From an ``agorakit_on_event`` handler: a system message about ``event``, once.

    Posts in the conversation about ``subject`` (default ``event.subject``) in its own
    unit of work; see :func:`post_system_message`.
    """
    async with runtime.unit_of_work() as uow:
        return await post_system_message(uow, subject=subject or event.subject, body=body, event_id=event.id)


_ROLE_WORDS = {"candidate": "seller"}


def transition_text(order_id: int, data: dict[str, Any]) -> str:
    """``Order 12: delivered → completed (accept by the buyer)``."""

    def words(value: Any) -> str:
        return str(value or "?").replace("_", " ")

    role = data.get("actor_role")
    who = "automatically" if role == "system" else f"by the {_ROLE_WORDS.get(role, words(role))}"
    return (
        f"Order {order_id}: {words(data.get('from_state'))} → {words(data.get('to_state'))} "
        f"({words(data.get('transition'))} {who})"
    )


#: each conversation's last message, from the messages given (one value: their ids)
_TOUCH_CONVERSATIONS = PreparedRaw(
    Conversation,
    lambda engine: (
        "UPDATE core_conversation SET last_message_id = m.id, last_message_at = m.at FROM ("
        "SELECT conversation, MAX(id) AS id, MAX(created_at) AS at FROM core_message WHERE "
        + any_of_sql(engine, "id")
        + " GROUP BY conversation) AS m "
        "WHERE core_conversation.id = m.conversation AND core_conversation.last_message_id < m.id"
    ),
)
#: rows per INSERT statement
CHUNK = 50


async def record_order_transitions(runtime: Any, events: list[Any]) -> list[int]:
    """The system messages for a batch of ``order.transitioned`` events, set-wise: one
    read of the orders' conversations, one statement for the messages and one for the
    conversations' activity, in one unit of work; returns the new messages' ids.

    An event already recorded (a second delivery) adds nothing.  A conversation missing
    or whose participants are no longer the order's parties is synced first, as
    :func:`sync_order_conversation` does.  Raises :class:`~agorakit.events.EventsFailed`
    for events whose order does not exist (after recording the others).
    """
    from agorakit.events import EventsFailed

    wanted = [(event, int(event.subject.split(":", 1)[1])) for event in events]
    if not wanted:
        return []
    inserted: list[int] = []
    async with runtime.unit_of_work() as uow:
        orders = await _order_conversations([order_id for _, order_id in wanted])
        conversations = {
            order_id: conversation
            if conversation is not None
            else await sync_order_conversation(uow, order_id)
            for order_id, (_, conversation) in orders.items()
        }
        rows = [
            {
                "conversation": conversations[order_id],
                "sender_id": None,
                "kind": "system",
                "body": transition_text(order_id, event.data),
                "attachments": [],
                "flags": [],
                "flagged": False,
                "event_id": event.id,
                "created_at": uow.now,
            }
            for event, order_id in wanted
            if order_id in conversations
        ]
        for start in range(0, len(rows), CHUNK):
            inserted += [row["id"] for row in await _INSERT_SYSTEM_MESSAGE.run(*rows[start : start + CHUNK])]
        if inserted:
            await _TOUCH_CONVERSATIONS.run(inserted)
    missing = {
        event.id: f"there is no order {order_id}" for event, order_id in wanted if order_id not in orders
    }
    if missing:
        raise EventsFailed(missing)
    return inserted


async def record_moderation(runtime: Any, event: Any) -> int | None:
    """Tell a listing's owner in site messaging that an operator approved or rejected it."""
    from agorakit.catalog.tables import Listing

    listing_id = int(event.subject.split(":", 1)[1])
    row = await Listing.select(Listing.title, Listing.owner_id).where(Listing.id == listing_id).first()
    if row is None:
        return None
    if event.name == "listing.rejected":
        body = (
            f'Your listing "{row["title"]}" was not approved. The moderator\'s reason: '
            f"{event.data.get('reason') or 'none given'}. Edit it and submit it again."
        )
    else:
        body = f'Your listing "{row["title"]}" was approved and is published.'
    subject = f"moderation:listing:{listing_id}"
    async with runtime.unit_of_work() as uow:
        await ensure_conversation(uow, subject=subject, participant_ids=[row["owner_id"]])
        return await post_system_message(uow, subject=subject, body=body, event_id=event.id)


async def transcript(subject: str) -> list[dict[str, Any]]:
    """Every message of the conversation about ``subject``, oldest first (dispute evidence)."""
    conversation = await Conversation.select(Conversation.id).where(Conversation.key == subject).first()
    if conversation is None:
        return []
    rows = (
        await Message.select(
            Message.id,
            Message.sender_id,
            Message.kind,
            Message.body,
            Message.attachments,
            Message.flags,
            Message.created_at,
        )
        .where(Message.conversation == conversation["id"])
        .order_by(Message.id)
        .output(load_json=True)
    )
    return [dict(r) for r in rows]


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


async def _names(member_ids: set[int]) -> dict[int, str]:
    if not member_ids:
        return {}
    rows = await Member.select(Member.id, Member.display_name).where(Member.id.is_in(list(member_ids)))
    return {r["id"]: r["display_name"] for r in rows}


async def _participant_ids(conversation_id: int) -> list[int]:
    rows = (
        await Participant.select(Participant.member_id)
        .where(Participant.conversation == conversation_id)
        .order_by(Participant.id)
    )
    return [r["member_id"] for r in rows]


async def _messages_out(rows: list[dict[str, Any]], viewer: Any) -> list[MessageOut]:
    names = await _names({r["sender_id"] for r in rows if r["sender_id"] is not None})
    files = {
        a.id: a for a in await attachments_by_ids(sorted({i for r in rows for i in r["attachments"] or []}))
    }
    operator = is_operator(viewer)
    return [
        MessageOut(
            id=r["id"],
            conversation_id=r["conversation"],
            kind=r["kind"],
            sender_id=r["sender_id"],
            sender_name=names.get(r["sender_id"]) if r["sender_id"] is not None else None,
            body=r["body"],
            attachments=[files[i] for i in r["attachments"] or [] if i in files],
            created_at=r["created_at"],
            flags=[ScreenFlagOut(**f) for f in r["flags"] or []] if operator else [],
        )
        for r in rows
    ]


async def get_message(message_id: int, *, viewer: Any) -> MessageOut:
    row = await Message.select().where(Message.id == message_id).first().output(load_json=True)
    return (await _messages_out([row], viewer))[0]


_UNREAD_SQL = """
SELECT p.conversation AS conversation, COUNT(m.id) AS unread
FROM core_conversation_participant p
JOIN core_message m ON m.conversation = p.conversation AND m.id > p.last_read_message_id
WHERE p.member_id = {} AND (m.sender_id IS NULL OR m.sender_id <> p.member_id)
GROUP BY p.conversation
"""


async def _unread_counts(member_id: int) -> dict[int, int]:
    """Unread messages per conversation of ``member_id`` (only those with any)."""
    rows = await Message.raw(_UNREAD_SQL, member_id)
    return {r["conversation"]: r["unread"] for r in rows}


async def _conversations_out(rows: list[dict[str, Any]], viewer: Any) -> list[ConversationOut]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    members = (
        await Participant.select(Participant.conversation, Participant.member_id)
        .where(Participant.conversation.is_in(ids))
        .order_by(Participant.id)
    )
    names = await _names({p["member_id"] for p in members})
    last_ids = [r["last_message_id"] for r in rows if r["last_message_id"]]
    last_rows = (
        await Message.select().where(Message.id.is_in(last_ids)).output(load_json=True) if last_ids else []
    )
    last = {m.id: m for m in await _messages_out(last_rows, viewer)}
    unread = await _unread_counts(viewer.id)
    return [
        ConversationOut(
            id=r["id"],
            kind=r["kind"],
            subject=r["subject"],
            participants=[
                ParticipantOut(id=p["member_id"], display_name=names.get(p["member_id"], ""))
                for p in members
                if p["conversation"] == r["id"]
            ],
            created_at=r["created_at"],
            last_message_at=r["last_message_at"],
            last_message=last.get(r["last_message_id"]),
            unread_count=unread.get(r["id"], 0),
        )
        for r in rows
    ]


async def get_conversation(runtime: Any, conversation_id: int, *, viewer: Any) -> ConversationOut:
    row = await conversation_access(runtime, conversation_id, viewer, write=False)
    return (await _conversations_out([row], viewer))[0]


async def list_conversations(
    *, viewer: Any, cursor: str | None, limit: int
) -> tuple[list[ConversationOut], str | None]:
    """The viewer's conversations, the most recently active first."""
    mine = Participant.select(Participant.conversation).where(Participant.member_id == viewer.id)
    query = (
        Conversation.select()
        .where(Conversation.id.is_in(mine))
        .order_by(Conversation.last_message_id, Conversation.id, ascending=False)
        .limit(limit + 1)
    )
    position = decode_cursor(cursor, keys=("activity", "id"))
    if position is not None:
        activity, last_id = position["activity"], position["id"]
        query = query.where(
            (Conversation.last_message_id < activity)
            | ((Conversation.last_message_id == activity) & (Conversation.id < last_id))
        )
    rows = await query
    items = await _conversations_out(rows[:limit], viewer)
    if len(rows) <= limit:
        return items, None
    tail = rows[limit - 1]
    return items, encode_cursor({"activity": tail["last_message_id"], "id": tail["id"]})


async def list_messages(
    runtime: Any,
    conversation_id: int,
    *,
    viewer: Any,
    cursor: str | None,
    limit: int,
    after: int | None = None,
) -> tuple[list[MessageOut], str | None]:
    """Messages newest first (``cursor`` pages back); with ``after``, newer ones oldest first."""
    await conversation_access(runtime, conversation_id, viewer, write=False)
    query = Message.select().where(Message.conversation == conversation_id).limit(limit + 1)
    if after is not None:
        rows = await query.where(Message.id > after).order_by(Message.id).output(load_json=True)
        return await _messages_out(rows[:limit], viewer), None
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Message.id < position["id"])
    rows = await query.order_by(Message.id, ascending=False).output(load_json=True)
    items = await _messages_out(rows[:limit], viewer)
    return items, encode_cursor({"id": items[-1].id}) if len(rows) > limit else None


async def _mark_read(conversation_id: int, member_id: int, message_id: int) -> None:
    await Participant.update({Participant.last_read_message_id: message_id}).where(
        (Participant.conversation == conversation_id)
        & (Participant.member_id == member_id)
        & (Participant.last_read_message_id < message_id)
    )


async def mark_read(runtime: Any, conversation_id: int, *, viewer: Any, up_to: int | None) -> ConversationOut:
    """Mark the conversation read up to a message (default: all of it); never backwards."""
    conversation = await conversation_access(runtime, conversation_id, viewer, write=True)
    target = conversation["last_message_id"]
    if up_to is not None:
        if not await Message.exists().where(
            (Message.id == up_to) & (Message.conversation == conversation_id)
        ):
            raise ValidationFailed([FieldError("up_to", f"message {up_to} is not in this conversation")])
        target = up_to
    if target:
        async with runtime.unit_of_work():
            await _mark_read(conversation_id, viewer.id, target)
    return await get_conversation(runtime, conversation_id, viewer=viewer)


async def unread_summary(member_id: int) -> UnreadOut:
    counts = await _unread_counts(member_id)
    return UnreadOut(conversations=len(counts), messages=sum(counts.values()))


async def operator_messages(
    *, viewer: Any, flagged: bool, cursor: str | None, limit: int
) -> tuple[list[MessageOut], str | None]:
    """Messages for moderators, newest first; by default only those screening flagged."""
    query = Message.select().order_by(Message.id, ascending=False).limit(limit + 1)
    if flagged:
        query = query.where(Message.flagged == True)  # noqa: E712 (a Piccolo expression)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Message.id < position["id"])
    rows = await query.output(load_json=True)
    items = await _messages_out(rows[:limit], viewer)
    return items, encode_cursor({"id": items[-1].id}) if len(rows) > limit else None


# --------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------


def message_notices(event: Any) -> list[Any]:
    """One notice per recipient of a ``message.posted`` event."""
    from agorakit.notifications import Notice

    data = event.data
    conversation_id = data["conversation"]
    context = {
        "sender_name": data.get("sender_name") or "A member",
        "excerpt": data.get("excerpt", ""),
        "conversation_id": conversation_id,
        "conversation_subject": data.get("conversation_subject"),
        "attachments": data.get("attachments", 0),
    }
    return [
        Notice(
            member_id=recipient,
            category="messages",
            template="message_received",
            context=context,
            link=f"/conversations/{conversation_id}",
        )
        for recipient in data.get("recipients", [])
        if recipient != event.actor_id
    ]
