"""The hook the disputes area defines: what a plugin adds to a dispute's evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.runtime import Runtime


@hookspec
def agorakit_dispute_evidence(order: dict[str, Any], runtime: Runtime) -> dict[str, Any] | None:
    """Add what a plugin knows about a disputed order to the dispute's evidence.

    Called when a dispute is opened, inside its unit of work, after the core captured the
    order, its history, proofs and conversations.  The result is kept (a copy, in JSON's
    types) under ``evidence["plugins"][<plugin name>]``; later changes to the plugin's
    rows never change it.  Example: the leads plugin adds the lead as it was when it was
    unlocked and as it is now.  An exception rolls the opening back.  May be ``async``.

    :param order: the order's row (``id``, ``process``, ``state``, ``buyer_id``,
        ``seller_id``, ``listing_id``, ``amount``, ``currency``, ``data`` ...).
    :return: a JSON-able dict, or None to add nothing.
    """
