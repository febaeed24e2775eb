"""Integrations: read-only API tokens with scopes for outside systems, and the events feed
they read (``GET /events``).

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.integrations.schemas import CreateIntegrationToken as CreateIntegrationToken
    from agorakit.integrations.service import create_token as create_token
    from agorakit.integrations.service import get_token as get_token
    from agorakit.integrations.service import integration_scopes as integration_scopes
    from agorakit.integrations.service import revoke_token as revoke_token

EXPORTS: dict[str, str] = {
    "create_token": "agorakit.integrations.service",
    "CreateIntegrationToken": "agorakit.integrations.schemas",
    "get_token": "agorakit.integrations.service",
    "integration_scopes": "agorakit.integrations.service",
    "revoke_token": "agorakit.integrations.service",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
