"""The hook the integrations area defines: the scopes integration tokens may hold.  An
area or plugin whose routes machines may read names its scope there and marks those
routes with ``opt={"integration_scope": "<scope>"}``."""

from __future__ import annotations

from agorakit import hookspec


@hookspec
def agorakit_integration_scopes() -> dict[str, str] | None:
    """Declare scopes an integration token may hold.

    Called when an operator makes a token (``POST /operator/integration-tokens``: a
    scope nobody declares is a 422) and for ``GET /operator/integration-scopes``.  The
    core declares ``events:read`` (``GET /events``, ``GET /events/types``) and
    ``webhooks:read`` (the webhooks' ``GET`` routes).  A scope is ``<area>:read``: a
    token only ever reads (GET and HEAD).  A scope two plugins declare keeps the first
    description.  Must not be async.

    :return: scope → a sentence saying what it lets a token read.
    """
