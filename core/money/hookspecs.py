"""The hooks the money area defines: a listing kind's default commission, and the
checks of the escrows a plugin funds by reference.

Payments, withdrawals and fees have their hooks in :mod:`agorakit.hookspecs`; this
module holds the ones about the money a plugin declares and holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.money.fees import CommissionDefault
    from agorakit.runtime import Runtime


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


@hookspec
def agorakit_escrow_checks(runtime: Runtime) -> list[str] | None:
    """Check the escrows a plugin funds and moves by reference (``fund_escrow``,
    ``move_escrow``, ...), for ``agorakit check-ledger``.

    The core checks that every posting balances, every balance matches its entries and
    every order's escrow holds what its state says; what a plugin's own escrow must hold
    (a campaign's: its free positions' money) only the plugin knows.  Return one line per
    escrow that does not hold what it must, naming it and both amounts, in words an
    operator can act on (``check-ledger`` prints them and exits 1).  May be ``async``.

    :param runtime: the site's runtime.
    :return: a list of problem lines (empty or None when sound).
    """
