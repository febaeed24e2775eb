"""Notifications: a member's inbox on the site, and the emails that go with it.

A domain event (``order.transitioned``, ``listing.rejected``, ...) is turned into
notices by every ``agorakit_notify`` implementation: who should be told, in which
category, with which template.  The core renders each notice from its Jinja2 template
into a site notification (the member's inbox) and, unless the member turned email off
for that category, an email in the outbox that the worker delivers over SMTP with
retries (:mod:`agorakit.notifications.outbox`).

Plugins return :class:`Notice` objects, telling events apart by their typed payload::

    from agorakit import hookimpl
    from agorakit.notifications import Notice

    from .events import GigExtended

    @hookimpl
    def agorakit_notify(event, runtime):
        payload = event.payload
        if isinstance(payload, GigExtended):
            return [Notice(member_id=payload.buyer_id, category="orders",
                           template="gigs_extended", context={"days": payload.days},
                           link=f"/orders/{payload.order_id}")]
        return None

The helpers :data:`ACTOR_LABELS`, :func:`humanize` and :func:`display_name` word the
context of a notice the way the core's own notices do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.notifications.mailers import BindableMailer as BindableMailer
    from agorakit.notifications.mailers import EmailMessage as EmailMessage
    from agorakit.notifications.mailers import Mailer as Mailer
    from agorakit.notifications.naming import ACTOR_LABELS as ACTOR_LABELS
    from agorakit.notifications.naming import display_name as display_name
    from agorakit.notifications.naming import humanize as humanize

#: What a notice is about; members turn email on or off per category.
CATEGORIES: tuple[str, ...] = ("orders", "messages", "reviews", "disputes", "listings", "money", "account")


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    """One member to tell about one event (what ``agorakit_notify`` returns)."""

    #: the member to notify (suspended and unknown members are skipped)
    member_id: int
    #: one of :data:`CATEGORIES`; decides whether an email goes out too
    category: str
    #: template name: ``notifications/<template>.jinja2`` (prefix a plugin's own with its name)
    template: str
    #: extra variables for the template (JSON-serialisable)
    context: dict[str, Any] = {}
    #: API path the notification points to, e.g. ``/orders/12`` (made absolute in emails)
    link: str | None = None


#: helpers for writing notices and the mailer protocols, defined in this area's modules
EXPORTS: dict[str, str] = {
    "BindableMailer": "agorakit.notifications.mailers",
    "EmailMessage": "agorakit.notifications.mailers",
    "Mailer": "agorakit.notifications.mailers",
    "ACTOR_LABELS": "agorakit.notifications.naming",
    "display_name": "agorakit.notifications.naming",
    "humanize": "agorakit.notifications.naming",
}
__all__ = sorted(["CATEGORIES", "Notice", *EXPORTS])
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
