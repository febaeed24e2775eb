"""Pay-in and payout methods: what the hooks return and how a site binds them.

A plugin offers methods through ``agorakit_payment_methods()`` / ``agorakit_payout_methods()``;
the site decides which are used with ``[money] payment_methods`` / ``payout_methods``.
A method named in the config but provided by no enabled plugin stops start-up.

A method that needs the site's settings (a minimum, a fee, credentials) may define
``bind(runtime)``: it is called once for each method the site binds, and what it returns
is the method the site uses (e.g. a copy configured from ``runtime.plugin_settings``).

A method that follows an outside provider (PayPal Payouts batches, PayPal Checkout
captures) may define ``async sync(runtime)``: every worker sweep calls it for each bound
method that has it, outside any transaction, and reports what it returns under
``method_syncs`` (``"payout:paypal": {...}``) when it did something.  It must be safe to
run from several workers at once.

A method that cannot be used at times (a provider whose credentials the site has not set)
may define ``unavailable_reason()``: None while it can be used, else why not, in words a
member can read.  ``GET /payment-methods`` and ``GET /payout-methods`` show it, and a
payment or withdrawal asked with the method is refused with ``503 service_unavailable``
and the same reason.  A method without it is always available.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from agorakit.errors import ServiceUnavailable
from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.money.schemas import PaymentOut
    from agorakit.runtime import Runtime, UnitOfWork


class PaymentStep(msgspec.Struct, kw_only=True):
    """What a pay-in method did when a payment started.

    ``status`` is ``completed`` when the method already settled the payment in the unit
    of work (see :func:`agorakit.money.payments.settle`), ``awaiting_funds`` when money
    must still arrive (bank transfer), or ``pending`` while an external provider works.
    """

    status: str
    details: dict[str, Any] = {}
    expires_at: datetime | None = None
    provider_ref: str | None = None


@runtime_checkable
class PaymentMethod(Protocol):
    #: the name sites bind in ``[money] payment_methods``
    name: str
    #: what buyers see
    label: str

    async def start(self, *, runtime: Runtime, uow: UnitOfWork, payment: PaymentOut) -> PaymentStep:
        """Start collecting ``payment`` (inside the unit of work that created it)."""
        ...


@runtime_checkable
class PayoutMethod(Protocol):
    #: the name sites bind in ``[money] payout_methods``; also names its ledger accounts
    name: str
    label: str
    #: True when operators pay by hand and mark withdrawals completed/failed
    manual: bool
    #: the fields a destination needs, for clients
    destination_fields: list[str]

    def minimum(self, currency: str) -> int:
        """Smallest withdrawal in ``currency``, minor units."""
        ...

    def fee(self, amount: int, currency: str) -> int:
        """The fee kept for withdrawing ``amount`` (0 ≤ fee < amount)."""
        ...

    def fee_description(self, currency: str) -> str: ...

    def validate_destination(self, destination: dict[str, Any]) -> dict[str, Any]:
        """The normalised destination, or raise ``ValidationFailed`` with field errors
        named ``destination.<field>``."""
        ...


@runtime_checkable
class BindsToSite(Protocol):
    """The optional ``bind(runtime)`` of a payment or payout method: called once when the
    site binds the method; what it returns is the method the site uses."""

    def bind(self, runtime: Runtime) -> Any: ...


@runtime_checkable
class SyncsWithProvider(Protocol):
    """The optional ``async sync(runtime)`` of a payment or payout method that follows an
    outside provider: each worker sweep calls it outside any transaction; a truthy result
    (a dict with a truthy value) is reported under ``method_syncs``."""

    async def sync(self, runtime: Runtime) -> Any: ...


@runtime_checkable
class ReportsAvailability(Protocol):
    """The optional ``unavailable_reason()`` of a payment or payout method: None while the
    method can be used, else why not, for members to read (never a secret or a setting's
    value).  A method without it is always available."""

    def unavailable_reason(self) -> str | None: ...


def unavailable_reason(method: Any) -> str | None:
    """Why ``method`` cannot be used now (None: it can)."""
    return method.unavailable_reason() if isinstance(method, ReportsAvailability) else None


def refuse_if_unavailable(method: Any) -> None:
    """``503 service_unavailable`` with the method's reason when it cannot be used now."""
    reason = unavailable_reason(method)
    if reason:
        raise ServiceUnavailable(reason, extra={"method": method.name})


def bind_methods(runtime: Runtime) -> tuple[dict[str, PaymentMethod], dict[str, PayoutMethod]]:
    """The methods the site config binds, checked against what the plugins provide."""
    source = runtime.settings.source
    offered_in = _by_name(runtime.hooks.collect_sync("agorakit_payment_methods"), "payment", source)
    offered_out = _by_name(runtime.hooks.collect_sync("agorakit_payout_methods"), "payout", source)
    money = runtime.settings.money
    problems: list[str] = []
    picked = []
    for offered, wanted, key in (
        (offered_in, money.payment_methods, "money.payment_methods"),
        (offered_out, money.payout_methods, "money.payout_methods"),
    ):
        try:
            picked.append(_pick(offered, wanted, key, source))
        except ConfigError as exc:
            problems.extend(exc.messages)
    if problems:
        raise ConfigError(*problems)
    return _bound(picked[0], runtime), _bound(picked[1], runtime)


def _by_name(methods: list[Any], what: str, source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in methods:
        if method.name in out:
            message = f"{source}: two plugins provide a {what} method named {method.name!r}"
            raise ConfigError(message)
        out[method.name] = method
    return out


def _pick(offered: dict[str, Any], wanted: list[str], key: str, source: str) -> dict[str, Any]:
    missing = [name for name in wanted if name not in offered]
    if missing:
        message = (
            f"{source}: {key}: no enabled plugin provides {', '.join(map(repr, missing))}; "
            f"available: {', '.join(sorted(offered)) or 'none'}"
        )
        raise ConfigError(message)
    return {name: offered[name] for name in wanted}


def _bound(methods: dict[str, Any], runtime: Runtime) -> dict[str, Any]:
    """Let each method configure itself for this site (optional ``bind(runtime)``)."""
    out = {}
    for name, method in methods.items():
        out[name] = method.bind(runtime) if isinstance(method, BindsToSite) else method
    return out
