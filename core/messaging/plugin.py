"""The core's own plugin for messaging: tables, routes, system messages, notifications."""

from __future__ import annotations

from agorakit import hookimpl


@hookimpl
def agorakit_tables():
    from agorakit.messaging.piccolo_app import APP_CONFIG

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():
    from agorakit.messaging.controllers import (
        ConversationController,
        OperatorMessageController,
        OrderConversationController,
        UnreadController,
    )

    return [ConversationController, OrderConversationController, UnreadController, OperatorMessageController]


@hookimpl
async def agorakit_on_event(event, runtime):
    """System messages (once per event): order transitions in the order's conversation,
    moderation decisions in the listing owner's ``moderation:listing:<id>`` conversation."""
    if event.name == "order.transitioned":
        from agorakit.messaging.service import record_order_transition

        await record_order_transition(runtime, event)
    elif event.name in ("listing.approved", "listing.rejected"):
        from agorakit.messaging.service import record_moderation

        await record_moderation(runtime, event)


@hookimpl
def agorakit_notify(event, runtime):
    """Tell every recipient of a message (category ``messages``)."""
    if event.name != "message.posted":
        return None
    from agorakit.messaging.service import message_notices

    return message_notices(event)
