"""Conversations: their keys, creating them (idempotent, safe under concurrency), who takes
part, and who may read and write.

Every conversation has a unique ``key``: ``order:<id>`` (the order's conversation),
``listing:<id>:member:<id>`` (one per listing and asking member), ``members:<low>:<high>``
(direct messages), or a subject another module chooses (:func:`ensure_conversation`).
Who takes part is kept in ``core_conversation_participant``; for an order's conversation
it is derived from the order's parties whenever the conversation is used, so a seller
who locks an open request joins it.  When a seller leaves an order (a ``clears_seller``
transition hands it back to the pool) their conversation with the buyer ends: it is
renamed ``order:<id>:former:<conversation id>`` and stays theirs and the buyer's to read,
closed to new messages, and the order's conversation starts anew, so the next seller
never sees what the buyer and the previous one wrote.  Operators may read every
conversation but do not take part; they write, as Support, in orders' conversations and
in support conversations (``support:<ticket id>``), never in direct messages or listing
questions.  Anyone else gets a 404.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from agorakit.accounts import is_operator
from agorakit.attachments.service import move_to_scope
from agorakit.db.prepared import Prepared, PreparedInsert, PreparedRaw, any_of_sql, none_of
from agorakit.errors import Conflict, Forbidden, NotFound
from agorakit.messaging.tables import Conversation, Message
from agorakit.messaging.tables import ConversationParticipant as Participant
from agorakit.orders import order_by_id
from agorakit.orders.tables import Order

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork

ORDER_KEY = re.compile(r"^order:([1-9]\d*)$")
#: an order's conversation that ended when its seller left the order
FORMER_ORDER_KEY = re.compile(r"^order:([1-9]\d*):former:[1-9]\d*$")
#: longest conversation key / subject
MAX_KEY = 120


# --------------------------------------------------------------------------------------
# Keys, kinds and scopes
# --------------------------------------------------------------------------------------


def kind_of(key: str) -> str:
    if ORDER_KEY.fullmatch(key):
        return "order"
    if key.startswith("listing:"):
        return "listing"
    if key.startswith("members:"):
        return "direct"
    return key.split(":", 1)[0][:40]


def order_id_of(conversation: dict[str, Any]) -> int | None:
    match = ORDER_KEY.fullmatch(conversation["key"])
    return int(match.group(1)) if match else None


def is_closed(conversation: dict[str, Any]) -> bool:
    """Whether a conversation takes no new messages: an order's conversation that ended
    when its seller left the order."""
    return FORMER_ORDER_KEY.fullmatch(conversation["key"]) is not None


def check_open(conversation: dict[str, Any]) -> None:
    """A 409 for writing in a closed conversation (:func:`is_closed`)."""
    match = FORMER_ORDER_KEY.fullmatch(conversation["key"])
    if match:
        message = (
            f"conversation {conversation['id']} ended when its seller left order {match.group(1)}; "
            "it is kept to read, not to write in"
        )
        raise Conflict(message)


def scope_of(conversation: dict[str, Any]) -> str:
    """The attachment scope of a conversation: its order's, or its own."""
    return conversation["key"] if order_id_of(conversation) else f"conversation:{conversation['id']}"


# --------------------------------------------------------------------------------------
# Creating conversations (idempotent, safe under concurrency)
# --------------------------------------------------------------------------------------


async def ensure(uow: UnitOfWork, *, key: str, subject: str | None, participant_ids: list[int]) -> int:
    return (await ensured(uow, key=key, subject=subject, participant_ids=participant_ids))[0]


async def ensured(
    uow: UnitOfWork, *, key: str, subject: str | None, participant_ids: list[int]
) -> tuple[int, bool]:
    """The conversation's id, and whether this call created it."""
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"a conversation key has 1 to {MAX_KEY} characters, not {key!r}")
    row = await CONVERSATION_BY_KEY.run(key)
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
        row = inserted[0] if inserted else await CONVERSATION_BY_KEY.run(key)
    await _add_participants(uow, row["id"], participant_ids)
    return row["id"], created


_INSERT_CONVERSATION = PreparedInsert(Conversation, conflict_target=("key",))
CONVERSATION_BY_KEY = Prepared(
    lambda key: Conversation.select(Conversation.id).where(Conversation.key == key).first()
)
_INSERT_PARTICIPANTS = PreparedInsert(
    Participant, returning=(), conflict_target=("conversation", "member_id")
)


async def _add_participants(uow: UnitOfWork, conversation_id: int, member_ids: list[int]) -> None:
    await _INSERT_PARTICIPANTS.run(
        *[
            {"conversation": conversation_id, "member_id": m, "last_read_message_id": 0, "joined_at": uow.now}
            for m in dict.fromkeys(member_ids)
        ]
    )


async def ensure_conversation(uow: UnitOfWork, *, subject: str, participant_ids: list[int]) -> int:
    """The id of the conversation about ``subject``, created if needed; adds participants.

    ``subject`` is the conversation's unique key: pick one that names exactly one
    conversation (``"order:12"``, ``"lead_charge:8"``).  Participants are only added,
    never removed.  Runs inside the caller's unit of work; safe when two transactions
    ensure the same subject at once (exactly one conversation results).  An order's
    conversation (``order:<id>``) always has the order's parties as participants:
    ``participant_ids`` is ignored for it.
    """
    match = ORDER_KEY.fullmatch(subject)
    if match:
        return await sync_order_conversation(uow, int(match.group(1)))
    return await ensure(uow, key=subject, subject=subject, participant_ids=participant_ids)


async def order_parties(runtime: Runtime, order_id: int) -> list[int]:
    """The buyer and (once there is one) the seller of an order; 404 if there is no order."""

    order = await order_by_id(order_id)
    if order is None:
        raise NotFound(f"there is no order {order_id}")
    return [p for p in (order["buyer_id"], order["seller_id"]) if p is not None]


@functools.cache
def _orders_conversations() -> PreparedRaw:
    """Orders' parties, their conversations and those ones' participants (one value: the
    orders' ids): a row per participant, one with NULLs for an order without a
    conversation or participants, none for an order that does not exist."""

    return PreparedRaw(
        Order,
        lambda engine: (
            "SELECT o.id, o.buyer_id, o.seller_id, c.id AS conversation, p.member_id FROM core_order o "
            "LEFT JOIN core_conversation c ON c.\"key\" = 'order:' || o.id "
            "LEFT JOIN core_conversation_participant p ON p.conversation = c.id WHERE "
            + any_of_sql(engine, "o.id")
        ),
    )


async def _order_threads(order_ids: list[int]) -> dict[int, tuple[list[int], int | None, set[int]]]:
    """Each existing order's parties (buyer, then seller), the id of its conversation
    (None: none yet) and that one's participants."""
    found: dict[int, tuple[list[int], int | None, set[int]]] = {}
    for row in await _orders_conversations().run(sorted(set(order_ids))):
        parties = [p for p in (row["buyer_id"], row["seller_id"]) if p is not None]
        members = found.setdefault(row["id"], (parties, row["conversation"], set()))[2]
        if row["member_id"] is not None:
            members.add(row["member_id"])
    return found


async def order_conversations(order_ids: list[int]) -> dict[int, tuple[list[int], int | None]]:
    """Each existing order's parties (buyer, then seller) and the id of its conversation
    when that one has exactly these participants (None: missing, or to be synced)."""
    return {
        order_id: (parties, conversation if conversation is not None and members == set(parties) else None)
        for order_id, (parties, conversation, members) in (await _order_threads(order_ids)).items()
    }


async def order_threads(order_ids: list[int]) -> dict[int, tuple[list[int], int | None, set[int]]]:
    """Each existing order's parties (buyer, then seller), the id of its conversation
    (None: none yet) and that one's participants, in one statement."""
    return await _order_threads(order_ids)


async def open_order_conversation(
    uow: UnitOfWork, order_id: int, thread: tuple[list[int], int | None, set[int]]
) -> int:
    """The order's conversation, as :func:`sync_order_conversation` leaves it, given what
    :func:`order_threads` read of it (``thread``): nothing more to do when it has the
    order's parties; an order without one yet gets it with two inserts (the conversation
    and its participants), nothing read again."""
    parties, conversation, members = thread
    if conversation is not None and members == set(parties):
        return conversation
    if conversation is None:
        key = f"order:{order_id}"
        inserted = await _INSERT_CONVERSATION.run(
            {"key": key, "kind": "order", "subject": key, "last_message_id": 0, "created_at": uow.now}
        )
        if inserted:
            await _add_participants(uow, inserted[0]["id"], parties)
            return inserted[0]["id"]
    return await sync_order_conversation(uow, order_id)  # to sync, or opened meanwhile


async def sync_order_conversation(uow: UnitOfWork, order_id: int) -> int:
    """Ensure the order's conversation, its participants being the order's parties now.

    A conversation with a seller who is no longer the order's ends (:func:`_close`) and
    a new one starts: a new seller never reads the previous one's messages."""
    found = await _order_threads([order_id])
    if order_id not in found:
        raise NotFound(f"there is no order {order_id}")
    parties, conversation, members = found[order_id]
    if conversation is not None:
        if members == set(parties):  # most often: there already, with these participants
            return conversation
        if members - set(parties):  # a seller who left the order takes part
            await _close(conversation, order_id)
    key = f"order:{order_id}"
    conversation_id, created = await ensured(uow, key=key, subject=key, participant_ids=parties)
    if not created:  # a new conversation has only the parties just added
        await _REMOVE_OTHERS.run(conversation_id, parties)
    return conversation_id


#: an order's conversation renamed, unless someone else did it first (its key changed)
_RENAME = Prepared(
    lambda new_key, id, key: (
        Conversation.update({Conversation.key: new_key})
        .where((Conversation.id == id) & (Conversation.key == key))
        .returning(Conversation.id)
    )
)
_ATTACHED = Prepared(
    lambda conversation: (
        Message.select(Message.attachments).where(Message.conversation == conversation).output(load_json=True)
    )
)


async def _close(conversation_id: int, order_id: int) -> None:
    """End an order's conversation with a seller who left the order: it keeps its
    participants (the buyer and that seller, who may still read it) under the key
    ``order:<id>:former:<conversation id>``, and frees ``order:<id>`` for a new one.  The
    files its messages carry move from the order's scope to the conversation's, so that
    they stay its participants' too.  Of concurrent closings one renames it (the others
    wait for its row and find the key changed)."""
    key = f"order:{order_id}"
    if await _RENAME.run(f"{key}:former:{conversation_id}", conversation_id, key):
        ids = [i for row in await _ATTACHED.run(conversation_id) for i in row["attachments"] or []]
        await move_to_scope(ids, old=key, new=f"conversation:{conversation_id}")


#: participants of a conversation who are not among the members given
_REMOVE_OTHERS = Prepared(
    lambda conversation, members: Participant.delete().where(
        (Participant.conversation == conversation) & none_of(Participant.member_id, members)
    )
)


# --------------------------------------------------------------------------------------
# Who may read and write
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# Who takes part, who may read and write
# --------------------------------------------------------------------------------------


_CONVERSATION = Prepared(lambda id: Conversation.select().where(Conversation.id == id).first())


async def conversation_access(
    runtime: Runtime, conversation_id: int, member: MemberOut, *, write: bool
) -> dict[str, Any]:
    """The conversation if ``member`` takes part, or is an operator reading it (or writing,
    as Support, in an order's or a support conversation: else a 403); else 404."""
    row = await _CONVERSATION.run(conversation_id)
    if row is not None:
        taking_part, row = await _takes_part(runtime, row, member.id)
        if taking_part:
            return row
        if is_operator(member):
            if write and kind_of(row["key"]) not in SUPPORT_WRITES:
                raise Forbidden(
                    "operators write (as Support) only in orders' and support conversations; "
                    "they read the others"
                )
            return row
    raise NotFound(f"there is no conversation {conversation_id}")


#: the kinds of conversation an operator may write in, as Support (without taking part)
SUPPORT_WRITES = frozenset({"order", "support"})
#: the sender name members see on an operator's message (``kind`` "support")
SUPPORT_NAME = "Support"


async def is_participant(conversation_id: int, member_id: int) -> bool:
    return await Participant.exists().where(
        (Participant.conversation == conversation_id) & (Participant.member_id == member_id)
    )


async def _takes_part(
    runtime: Runtime, conversation: dict[str, Any], member_id: int
) -> tuple[bool, dict[str, Any]]:
    """Whether ``member_id`` takes part in the conversation, and its row as it is now.

    In an order's conversation whose participants are not the order's parties any more
    (a seller took the order, or left it), the conversation is synced first: a new seller
    joins, unless the conversation was another seller's, which ends and stays theirs."""
    order_id = order_id_of(conversation)
    participant = await is_participant(conversation["id"], member_id)
    if order_id is None:
        return participant, conversation
    party = member_id in await order_parties(runtime, order_id)
    if party == participant:
        return party, conversation
    async with runtime.unit_of_work() as uow:
        current = await sync_order_conversation(uow, order_id)
    if current == conversation["id"]:
        return party, conversation  # a new seller joined
    row = await _CONVERSATION.run(conversation["id"])  # it ended: renamed
    return participant, row or conversation


async def participant_ids(conversation_id: int) -> list[int]:
    rows = (
        await Participant.select(Participant.member_id)
        .where(Participant.conversation == conversation_id)
        .order_by(Participant.id)
    )
    return [r["member_id"] for r in rows]


async def mark_read_up_to(conversation_id: int, member_id: int, message_id: int) -> None:
    await Participant.update({Participant.last_read_message_id: message_id}).where(
        (Participant.conversation == conversation_id)
        & (Participant.member_id == member_id)
        & (Participant.last_read_message_id < message_id)
    )
