"""The integrations events.

Each class is one domain event of this area (``docs/events.md``); ``subject`` and
``actor_id`` (the operator) travel on the envelope (:class:`agorakit.events.DomainEvent`).
"""

from __future__ import annotations

from agorakit.events import Event


class IntegrationTokenCreated(Event, frozen=True, kw_only=True):
    """An operator made an integration token (its secret is never in the event)."""

    name = "integration_token.created"
    token_id: int
    #: what the operator called it
    token_name: str
    scopes: list[str]


class IntegrationTokenRevoked(Event, frozen=True, kw_only=True):
    """An operator revoked an integration token: it stopped working at once."""

    name = "integration_token.revoked"
    token_id: int
    token_name: str


#: this area's events, registered through ``agorakit_event_types``
EVENTS: list[type[Event]] = [IntegrationTokenCreated, IntegrationTokenRevoked]
