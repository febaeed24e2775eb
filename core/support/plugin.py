"""The core's own plugin for support: its table, routes, events, notifications, and the
queue state that follows the messages written in support conversations."""

from __future__ import annotations

from pathlib import Path

from agorakit import hookimpl
from agorakit.events import event_handler
from agorakit.messaging import MessagePosted
from agorakit.support.controllers import OperatorSupportController, SupportController
from agorakit.support.events import EVENTS
from agorakit.support.notices import support_notices
from agorakit.support.piccolo_app import APP_CONFIG
from agorakit.support.service import note_message, ticket_id_of, waiting_queue


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [SupportController, OperatorSupportController]


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
def agorakit_template_dirs():

    return [Path(__file__).parent / "templates"]


@hookimpl
async def agorakit_notify(event, runtime):
    """Operators hear of new requests; the member of one an operator closed."""

    return await support_notices(event)


@hookimpl
@event_handler("message.posted")
async def agorakit_on_events(events, runtime):
    """Messages written in support conversations through the messaging routes move their
    tickets on: a member's waits for an answer (and opens a closed one again), Support's
    answers it (once per message)."""

    for event in events:
        posted = event.payload
        if not isinstance(posted, MessagePosted):
            continue
        ticket_id = ticket_id_of(posted.conversation_subject)
        if ticket_id is None:
            continue
        await note_message(
            runtime,
            ticket_id,
            message_id=posted.message_id,
            at=event.at,
            sender_id=event.actor_id,
            support=posted.sender_role == "support",
        )


@hookimpl
async def agorakit_operator_queues():
    """Support requests waiting for an answer (no due rule: the longest waiting first)."""

    return [await waiting_queue()]
