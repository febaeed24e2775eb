"""The hooks the money area defines: a listing kind's default commission.

Payments, withdrawals and fees have their hooks in :mod:`agorakit.hookspecs`; this
module holds the ones that only the money area calls at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.money.fees import CommissionDefault


@hookspec
def agorakit_commission_defaults() -> list[CommissionDefault] | None:
    """Declare the default commission of the listing kinds a plugin owns.

    Called once at start-up (must not be async).  Return
    :class:`agorakit.money.CommissionDefault` items (``kind``, ``percent``, ``payer``):
    the core's commission then charges, for a quote of that kind, ``percent`` to
    ``payer`` ("seller": taken from what the seller receives; "buyer": paid on top)
    instead of ``[fees] commission_percent`` paid by the seller.  A site that sets the
    kind in ``[fees] commission_by_kind`` overrides the percent (the payer stays the
    plugin's).  Two plugins declaring one kind, or a percent that is not "0" to "100"
    with at most two decimals, stop start-up with a ``ConfigError``.

    :return: a list of :class:`agorakit.money.CommissionDefault`, or None.
    """
