"""The core's own plugin for messaging: tables, routes, system messages, notifications."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.catalog import ListingApproved, ListingRejected
from agorakit.errors import FieldError, ValidationFailed
from agorakit.events import event_handler
from agorakit.messaging.controllers import (
    ConversationController,
    OperatorMessageController,
    OrderConversationController,
    UnreadController,
)
from agorakit.messaging.conversations import check_open, conversation_access, scope_of
from agorakit.messaging.events import EVENTS
from agorakit.messaging.notices import message_notices
from agorakit.messaging.piccolo_app import APP_CONFIG
from agorakit.messaging.reading import flagged_queue
from agorakit.messaging.system import record_moderation, record_order_transitions
from agorakit.orders.events import OrderTransitioned


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [ConversationController, OrderConversationController, UnreadController, OperatorMessageController]


@hookimpl
@event_handler("order.transitioned", "listing.approved", "listing.rejected", in_transaction=True)
async def agorakit_on_events(events, runtime):
    """System messages (once per event), in the transaction that records the events:
    order transitions in the order's conversation (set-wise, the batch's at once),
    moderation decisions in the listing owner's ``moderation:listing:<id>`` conversation."""

    await record_order_transitions(runtime, [e for e in events if isinstance(e.payload, OrderTransitioned)])
    for event in events:
        if isinstance(event.payload, ListingApproved | ListingRejected):
            await record_moderation(runtime, event)


@hookimpl
def agorakit_notify(event, runtime):
    """Tell every recipient of a message (category ``messages``)."""

    return message_notices(event)


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
async def agorakit_scope_access(scope, member, write, runtime):
    """Files of ``conversation:<id>``: its participants (and operators, to read); a
    conversation about an order keeps its files under the order's scope."""
    kind, _, ident = scope.partition(":")
    if kind != "conversation":
        return None
    conversation = await conversation_access(runtime, int(ident), member, write=write)
    if write:
        check_open(conversation)
    if write and scope_of(conversation) != scope:
        message = f"files for this conversation belong to its order: use scope {scope_of(conversation)}"
        raise ValidationFailed([FieldError("scope", message)])
    return True


@hookimpl
async def agorakit_operator_queues():
    """Messages the screening flagged (no due rule)."""

    return [await flagged_queue()]
