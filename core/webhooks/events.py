"""The webhooks events.

Each class is one domain event of this area (``docs/events.md``); ``subject``
(``webhook:<endpoint id>``) travels on the envelope (:class:`agorakit.events.DomainEvent`).
Like every ``webhook.*`` event, it is sent only to endpoints that name it in their
patterns (``webhook.*`` or the event's own name; ``*`` is not enough), and never to the
endpoint it is about.
"""

from __future__ import annotations

from agorakit.events import Event


class WebhookEndpointFailing(Event, frozen=True, kw_only=True):
    """A webhook endpoint failed one delivery through the whole retry schedule: it is
    ``failing``, its later deliveries wait until an operator resumes it."""

    name = "webhook.endpoint_failing"
    endpoint_id: int
    url: str
    #: the delivery that failed, and the stored event it carried
    delivery_id: int
    event_id: int
    attempts: int
    last_error: str | None = None


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [WebhookEndpointFailing]
