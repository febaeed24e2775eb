"""Webhooks: the site's events POSTed to outside systems (a CRM, an accounting tool, a
chat bot), signed as the Standard Webhooks specification says.

Operators register endpoints (a URL and the event types it gets); the worker queues a
delivery of every matching event for each endpoint and sends them, in event order per
endpoint, retried with back-off for about three days; an endpoint that still fails is
``failing`` until an operator resumes it.  ``docs/webhooks.md`` tells the whole story.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.webhooks.events import WebhookEndpointFailing as WebhookEndpointFailing

EXPORTS: dict[str, str] = {
    "WebhookEndpointFailing": "agorakit.webhooks.events",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
