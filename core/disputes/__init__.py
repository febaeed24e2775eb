"""Disputes: a party's claim on an order's escrow, the evidence, and an operator's resolution.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.disputes.schemas import DisputeOut as DisputeOut
    from agorakit.disputes.schemas import OpenDispute as OpenDispute
    from agorakit.disputes.schemas import ResolveDispute as ResolveDispute
    from agorakit.disputes.service import get_dispute as get_dispute
    from agorakit.disputes.service import open_dispute as open_dispute
    from agorakit.disputes.service import resolve_dispute as resolve_dispute

EXPORTS: dict[str, str] = {
    "DisputeOut": "agorakit.disputes.schemas",
    "get_dispute": "agorakit.disputes.service",
    "open_dispute": "agorakit.disputes.service",
    "OpenDispute": "agorakit.disputes.schemas",
    "resolve_dispute": "agorakit.disputes.service",
    "ResolveDispute": "agorakit.disputes.schemas",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
