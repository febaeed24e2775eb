"""The conversations and plugins' additions a dispute's evidence holds.

When a dispute is opened the order's own conversation (when there is one) and the
conversation the report was made from (``conversation_id``, one the opener takes part
in) are captured with :func:`agorakit.messaging.conversation_evidence`, and every
``agorakit_dispute_evidence`` implementation adds its part under ``plugins``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.accounts.roles import is_operator
from agorakit.catalog.tables import Listing
from agorakit.errors import NotFound
from agorakit.hooks import maybe_await
from agorakit.messaging.conversations import CONVERSATION_BY_KEY, conversation_access, participant_ids
from agorakit.messaging.evidence import conversation_evidence
from agorakit.messaging.reading import transcript
from agorakit.money.amounts import format_amount
from agorakit.orders.tables import OrderEvent, Proof

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime


async def check_conversation(runtime: Runtime, conversation_id: int, caller: MemberOut) -> None:
    """404 unless ``caller`` takes part in the conversation (reading it as an operator
    does not count)."""
    row = await conversation_access(runtime, conversation_id, caller, write=False)
    if is_operator(caller) and caller.id not in await participant_ids(row["id"]):
        raise NotFound(f"there is no conversation {conversation_id}")


async def captured(runtime: Runtime, order: dict[str, Any], conversation_id: int | None) -> dict[str, Any]:
    """``{"conversations": [...], "plugins": {...}}`` to add to a dispute's evidence."""
    ids: list[int] = []
    own = await CONVERSATION_BY_KEY.run(f"order:{order['id']}")
    if own is not None:
        ids.append(own["id"])
    if conversation_id is not None and conversation_id not in ids:
        ids.append(conversation_id)
    plugins: dict[str, Any] = {}
    caller = runtime.hooks
    for impl in caller.implementations("agorakit_dispute_evidence"):
        args = {"order": order, "runtime": runtime}
        result = await maybe_await(impl.function(**{k: args[k] for k in impl.argnames if k in args}))
        if result is not None:
            plugins[impl.plugin_name] = msgspec.json.decode(msgspec.json.encode(result))
    return {
        "conversations": [await conversation_evidence(i) for i in ids],
        "plugins": plugins,
    }


async def order_evidence(
    runtime: Runtime, order: dict[str, Any], conversation_id: int | None
) -> dict[str, Any]:
    """What the operator needs to decide, captured as it was when the dispute was opened:
    the listing, the order, its history and proofs, the order's messages
    (``messages``), the captured conversations and the plugins' additions."""

    order_id = order["id"]
    history = await OrderEvent.select().where(OrderEvent.order == order_id).order_by(OrderEvent.seq)
    proofs = await Proof.select().where(Proof.order == order_id).order_by(Proof.id).output(load_json=True)
    messages = await transcript(f"order:{order_id}")
    listing = None
    if order["listing_id"] is not None:
        listing = await (
            Listing.select(Listing.id, Listing.kind, Listing.title, Listing.description, Listing.attributes)
            .where(Listing.id == order["listing_id"])
            .first()
            .output(load_json=True)
        )
    return _jsonable(
        {
            # what was sold or asked for (a gig's text, a request's details), as it was
            "listing": listing,
            "order": {
                "id": order_id,
                "process": order["process"],
                "state": order["state"],
                "buyer_id": order["buyer_id"],
                "seller_id": order["seller_id"],
                "amount": format_amount(order["amount"], order["currency"]),
                "currency": order["currency"],
                "quote": (order["data"] or {}).get("quote"),
                # what the process keeps on the order (e.g. a task's instructions and
                # the proof it asks for): what the parties agreed on
                "data": {k: v for k, v in (order["data"] or {}).items() if k != "quote"},
            },
            "history": [
                {
                    k: h[k]
                    for k in ("seq", "transition", "from_state", "to_state", "actor_role", "actor_id", "at")
                }
                for h in history
            ],
            "proofs": [
                {
                    k: p[k]
                    for k in (
                        "id",
                        "submitted_by",
                        "text",
                        "urls",
                        "attachments",
                        "status",
                        "review_reason",
                        "created_at",
                    )
                }
                for p in proofs
            ],
            "messages": messages,
            **await captured(runtime, order, conversation_id),
        }
    )


def _jsonable(value: Any) -> Any:

    return msgspec.json.decode(msgspec.json.encode(value))


def involved_members(evidence: dict[str, Any], order: dict[str, Any]) -> set[int]:
    """Members a resolution may act on: the order's parties, and whoever took part in or
    wrote in a conversation the evidence holds."""
    found = {m for m in (order["buyer_id"], order["seller_id"]) if m is not None}
    for conversation in evidence.get("conversations") or []:
        found.update(p["id"] for p in conversation.get("participants") or [])
        found.update(m["sender_id"] for m in conversation.get("messages") or [] if m.get("sender_id"))
    return found
