"""The core's own plugin for notifications: its tables and routes, the shipped mailers
(``smtp``, ``log``), the core's notices for its own events, and the ``agorakit_on_events``
handler that turns every committed event into notifications and emails."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.events import event_handler, fans_out
from agorakit.notifications import controllers as c
from agorakit.notifications.account_emails import queue_account_email
from agorakit.notifications.account_notices import account_notices
from agorakit.notifications.mailers import LogMailer, SmtpMailer, mailer_for
from agorakit.notifications.piccolo_app import APP_CONFIG
from agorakit.notifications.queues import failed_queues
from agorakit.notifications.service import notify_events


@hookimpl(tryfirst=True)
def agorakit_startup(runtime):
    """Bind the ``[email] mailer``: an unknown one stops start-up, not the first email."""
    mailer_for(runtime)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [
        c.NotificationController,
        c.NotificationSettingsController,
        c.OperatorEmailController,
        c.OperatorEventController,
    ]


@hookimpl(trylast=True)
def agorakit_mailers():

    return [SmtpMailer(), LogMailer()]


@hookimpl
@event_handler(where=lambda event: not fans_out(event), in_transaction=True)
async def agorakit_on_events(events, runtime):
    """Notifications and their emails, in the transaction that records the events."""
    await notify_events(runtime, events)


@hookimpl(specname="agorakit_on_events")
@event_handler(where=fans_out)
async def notify_many(events, runtime):
    """The notices of events told to many members (``Event.fan_out``), after the commit:
    telling every seller of a category never holds up the request that opened it."""
    await notify_events(runtime, events)


@hookimpl(trylast=True)
async def agorakit_account_email(runtime, uow, member, template, context):

    return await queue_account_email(runtime, uow, member, template, context)


@hookimpl
def agorakit_notify(event):
    """Receipts of account changes to the member (welcome, password changed, reactivated)."""
    return account_notices(event)


@hookimpl
async def agorakit_operator_queues():
    """Emails and domain events given up on after every attempt."""

    return await failed_queues()
