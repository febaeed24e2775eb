"""System messages: posted by the site about domain events (an order's transitions in
its conversation, a listing's moderation in its owner's), at most once per event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.catalog import ListingRejected, listing_texts
from agorakit.events import EventsFailed
from agorakit.messaging.conversations import (
    CONVERSATION_BY_KEY,
    ORDER_KEY,
    ensure_conversation,
    open_order_conversation,
    order_threads,
    sync_order_conversation,
)
from agorakit.messaging.posting import insert_message, insert_messages, message_row
from agorakit.orders import registry

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime, UnitOfWork


async def post_system_message(
    uow: UnitOfWork, *, subject: str, body: str, event_id: int | None = None
) -> int | None:
    """Post a system message in the conversation about ``subject``; its id, or None.

    An order's conversation (``order:<id>``) is created if needed; for other subjects
    None is returned when there is no conversation.  With ``event_id`` (the domain
    event the message is about) the message is posted at most once per event, so a
    redelivered event changes nothing (None).
    """
    # A second delivery of the event inserts nothing (event_id is unique): no pre-check.
    match = ORDER_KEY.fullmatch(subject)
    if match:
        conversation_id = await sync_order_conversation(uow, int(match.group(1)))
    else:
        row = await CONVERSATION_BY_KEY.run(subject)
        if row is None:
            return None
        conversation_id = row["id"]
    return await insert_message(
        uow, conversation_id, sender_id=None, kind="system", body=body, event_id=event_id
    )


async def post_event_message(
    runtime: Runtime, event: Any, body: str, *, subject: str | None = None
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
    who = "automatically" if role == "system" else f"by the {_ROLE_WORDS.get(str(role), words(role))}"
    return (
        f"Order {order_id}: {words(data.get('from_state'))} → {words(data.get('to_state'))} "
        f"({words(data.get('transition'))} {who})"
    )


async def record_order_transitions(runtime: Runtime, events: list[Any]) -> list[int]:
    """The system messages for a batch of ``order.transitioned`` events, set-wise: one
    read of the orders' conversations, one statement for the messages and one for the
    conversations' activity, in one unit of work (the events', when they are delivered
    in their transaction); returns the new messages' ids.  An order's first message opens
    its conversation: two inserts more.

    An event already recorded (a second delivery) adds nothing.  A conversation missing
    or whose participants are no longer the order's parties is synced first, as
    :func:`sync_order_conversation` does.  Raises :class:`~agorakit.events.EventsFailed`
    for events whose order does not exist (after recording the others).
    """

    processes = registry(runtime)
    wanted = [
        (event, event.payload.order_id)
        for event in events
        if _has_conversation(processes, event.payload.process)
    ]
    if not wanted:
        return []
    async with runtime.unit_of_work() as uow:
        ids = [order_id for _, order_id in wanted]
        orders = _held_threads(uow, ids) or await order_threads(ids)
        conversations = {}
        for order_id, thread in orders.items():
            conversations[order_id] = await open_order_conversation(uow, order_id, thread)
            if uow.held("order_conversation", order_id) is not None:  # as it is now
                uow.hold("order_conversation", order_id, (conversations[order_id], set(thread[0])))
        rows = [
            message_row(
                uow,
                conversations[order_id],
                sender_id=None,
                kind="system",
                body=transition_text(order_id, event.data),
                event_id=event.id,
            )
            for event, order_id in wanted
            if order_id in conversations
        ]
        inserted = await insert_messages(rows)
    missing = {
        event.id: f"there is no order {order_id}" for event, order_id in wanted if order_id not in orders
    }
    if missing:
        raise EventsFailed(missing)
    return inserted


def _held_threads(uow: UnitOfWork, order_ids: list[int]) -> dict[int, tuple[list[int], int | None, set[int]]]:
    """What :func:`order_threads` reads, from the orders and conversations the transaction
    holds (an order read with its lock: :func:`agorakit.orders.order_with_items`), when it
    holds every one; else nothing."""
    threads = {}
    for order_id in order_ids:
        order, held = uow.held("order", order_id), uow.held("order_conversation", order_id)
        if order is None or held is None:
            return {}
        parties = [p for p in (order["buyer_id"], order["seller_id"]) if p is not None]
        threads[order_id] = (parties, held[0], set(held[1]))
    return threads


def _has_conversation(processes: Any, name: str) -> bool:
    """Whether orders of the process ``name`` keep a conversation (an unknown process: yes)."""
    try:
        return processes.latest(name).order_conversation
    except LookupError:  # a process no plugin registers any more
        return True


async def record_moderation(runtime: Runtime, event: Any) -> int | None:
    """Tell a listing's owner in site messaging that an operator approved or rejected it
    (``event.payload``: a :class:`~agorakit.catalog.ListingApproved` or
    :class:`~agorakit.catalog.ListingRejected`)."""

    decision = event.payload
    listing_id = decision.listing_id
    rows = await listing_texts(runtime, [listing_id])
    if not rows:
        return None
    title = rows[0]["title"]
    if isinstance(decision, ListingRejected):
        body = (
            f'Your listing "{title}" was not approved. The moderator\'s reason: '
            f"{decision.reason or 'none given'}. Edit it and submit it again."
        )
    else:
        body = f'Your listing "{title}" was approved and is published.'
    subject = f"moderation:listing:{listing_id}"
    async with runtime.unit_of_work() as uow:
        await ensure_conversation(uow, subject=subject, participant_ids=[decision.owner_id])
        return await post_system_message(uow, subject=subject, body=body, event_id=event.id)
