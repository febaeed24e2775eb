"""The hooks the money area defines: the fees of a sale, pay-in and payout methods,
checks of payments and withdrawals, a listing kind's default commission, and the checks
of the escrows a plugin funds by reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.accounts import MemberOut
    from agorakit.money import FeeLine, PaymentMethod, PaymentOut, PayoutMethod, Quote
    from agorakit.money.fees import CommissionDefault
    from agorakit.money.withdrawals import WithdrawalRequest
    from agorakit.runtime import Runtime, UnitOfWork


@hookspec
def agorakit_compute_fees(runtime: Runtime | None, quote: Quote) -> list[FeeLine] | None:
    """Price the fees of a sale.

    Called whenever an order is quoted (a quote shown before ordering, and the one
    agreed when the order is placed, which its escrow release pays out).  Every fee
    plugin returns its own lines; the core adds them up (no plugin sees another's
    result).  A seller fee is taken from what the seller receives; a buyer fee is added
    to what the buyer pays.  Amounts are integer minor units, never negative; round
    percentages half up (:func:`agorakit.money.percent_of`).  The core's default
    percentage commission is registered ``trylast``; set ``[fees] commission = false``
    when yours replaces it.  Must not be async: it runs on the order's hot path, with
    what it needs in ``quote``.

    :param runtime: the site's runtime; read your plugin's settings with
        ``runtime.plugin_settings("<name>")`` (None only when fees are priced without a
        site, e.g. by a plugin manager alone in a unit test).
    :param quote: :class:`agorakit.money.Quote`: ``amount`` (minor units, every line
        item times its quantity), ``currency``, ``kind`` (the fee kind: the listing
        kind, or the process name for an order without one), ``buyer_id`` (None for a
        visitor's quote), ``seller_id`` and ``context``, a
        :class:`agorakit.money.QuoteContext`: ``listing_id``, ``listing_kind``,
        ``category`` (the category's slug), ``seller_country``, ``buyer_country``
        (ISO 3166-1 alpha-2) and ``quantity``; a field is None when the sale has no
        such thing.
    :return: a list of :class:`agorakit.money.FeeLine` (``payer``, ``amount``,
        ``label``, ``code``), or None for no fee.
    """


@hookspec
def agorakit_payment_starting(
    uow: UnitOfWork,
    payer_id: int,
    method: str,
    amount: int,
    currency: str,
    purpose: str,
    escrow_ref: str | None,
) -> None:
    """Check a payment before it starts, inside its transaction; raise to refuse it.

    Called by :func:`agorakit.money.payments.start_payment` for every payment, whatever
    its method, before the payment is stored and its method starts.  The owner of what
    an escrow pays for locks it here and refuses what it cannot take, so that the check
    and the debit are one transaction (the order engine locks the order and refuses a
    second payment while one is open or completed: ``409 order_already_paid``).  An
    exception (an :class:`agorakit.errors.AgorakitError` for a problem response) stops
    the payment and changes nothing.  May be ``async``.

    :param uow: the unit of work of the new payment.
    :param payer_id: who pays.
    :param method: the payment method's name.
    :param amount: the amount, in minor units of ``currency``.
    :param currency: ISO 4217 code.
    :param purpose: ``"deposit"`` (to the payer's credit) or ``"escrow"``.
    :param escrow_ref: for ``purpose="escrow"``, what the escrow holds money for
        (``"order:12"``); None for a deposit.
    """


@hookspec
def agorakit_payment_settled(uow: UnitOfWork, payment: PaymentOut) -> None:
    """React to a payment being settled, inside the same transaction.

    Called by :func:`agorakit.money.payments.settle` right after the money moved into the
    payment's target, so that what the payment was for changes state atomically with
    it (the order engine fires the order's ``on_payment`` transition here).  An
    exception rolls the payment back too.  May be ``async``.

    :param uow: the unit of work of the settlement.
    :param payment: the settled payment (:class:`agorakit.money.schemas.PaymentOut`).
    """


@hookspec
def agorakit_payment_methods() -> list[PaymentMethod] | None:
    """Offer pay-in methods.

    Called once at start-up.  Each method has a ``name`` (what ``[money]
    payment_methods`` binds), a ``label``, and ``async start(runtime, uow, payment)``
    returning a :class:`agorakit.money.methods.PaymentStep`.  A method that settles at
    once calls :func:`agorakit.money.payments.settle` in the given unit of work.  See
    :class:`agorakit.money.methods.PaymentMethod`.  A method that needs the site's
    settings may define ``bind(runtime)`` (:class:`agorakit.money.BindsToSite`): it is
    called once if the site binds the method, and what it returns is the method used.  A
    method that follows an outside provider may define ``async sync(runtime)``
    (:class:`agorakit.money.SyncsWithProvider`), which every worker sweep calls.  A method
    that cannot be used at times may define ``unavailable_reason()``
    (:class:`agorakit.money.ReportsAvailability`): None while it can be used, else why not,
    for members to read; ``GET /payment-methods`` shows it and a payment with the method
    is refused with ``503 service_unavailable`` and that reason.

    :return: a list of payment method objects, or None.
    """


@hookspec
def agorakit_payout_methods() -> list[PayoutMethod] | None:
    """Offer payout (withdrawal) methods.

    Called once at start-up.  Each method has a ``name`` (bound by ``[money]
    payout_methods``; it also names the ledger accounts ``payouts:<name>:clearing`` and
    ``external:<name>``), a ``label``, ``manual`` (operators settle by hand), the
    ``destination_fields`` it needs, ``minimum(currency)``, ``fee(amount, currency)``,
    ``fee_description(currency)`` and ``validate_destination(destination)``.  See
    :class:`agorakit.money.methods.PayoutMethod`.  A method that needs the site's
    settings (its minimum, its fee, credentials) may define ``bind(runtime)``
    (:class:`agorakit.money.BindsToSite`): it is called once if the site binds the
    method, and what it returns is the method used (e.g. a copy configured from
    ``runtime.plugin_settings(...)``).  ``async sync(runtime)``
    (:class:`agorakit.money.SyncsWithProvider`) and ``unavailable_reason()``
    (:class:`agorakit.money.ReportsAvailability`, shown by ``GET /payout-methods``; a
    withdrawal with an unavailable method is a 503 with the reason) are optional too, as
    for pay-in methods.

    :return: a list of payout method objects, or None.
    """


@hookspec
def agorakit_can_withdraw(member: MemberOut, request: WithdrawalRequest, runtime: Runtime) -> str | None:
    """Veto a withdrawal.  Any veto denies it.

    Called before a withdrawal is accepted, after its amount, minimum and destination
    were checked.  May be ``async``.

    :param member: the member asking (:class:`agorakit.accounts.schemas.MemberOut`).
    :param request: :class:`agorakit.money.withdrawals.WithdrawalRequest`: ``method``,
        ``amount`` (minor units) and ``currency``.
    :param runtime: the site's :class:`agorakit.runtime.Runtime` (its settings, e.g. a
        plugin's minimums).
    :return: None to allow, or a sentence shown to the member saying why not and what
        they can do (e.g. "your success rate is 62%; withdrawals need 75%").
    """


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
