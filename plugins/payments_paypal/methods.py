"""The pay-in method ``paypal``: PayPal Checkout (Orders v2, intent CAPTURE).

Starting a payment only records it (``pending``, expiring after ``approval_hours``):
nothing is sent to PayPal inside the transaction that creates the payment.
The buyer's client then asks for the PayPal order and its approval link
(``POST /paypal/payments/{id}/checkout``), the buyer approves at PayPal, and the payment
is captured and settled by ``POST /paypal/payments/{id}/capture``, by PayPal's
``CHECKOUT.ORDER.APPROVED`` / ``PAYMENT.CAPTURE.COMPLETED`` webhooks or by the worker,
whichever comes first, exactly once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit.money import PaymentStep
from agorakit.plugins.payments_paypal.settings import PaymentsPayPalSettings
from agorakit.plugins.paypal.client import paypal_settings

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.money import PaymentOut
    from agorakit.runtime import Runtime, UnitOfWork

#: The method's name: what sites bind in ``[money] payment_methods``, and the ledger
#: account ``external:paypal`` money comes from.
METHOD = "paypal"
#: The plugin's name: its settings section ``[plugins.payments_paypal]``.
PLUGIN = "payments_paypal"


class PayPalCheckout:
    """Pay with PayPal: the buyer approves at PayPal, the site captures."""

    name = METHOD
    label = "PayPal"

    def __init__(self, settings: PaymentsPayPalSettings | None = None, *, configured: bool = True) -> None:
        self.settings = settings or PaymentsPayPalSettings()
        self.configured = configured

    def bind(self, runtime: Runtime) -> PayPalCheckout:
        """This method with the site's settings; stops start-up without the paypal plugin."""
        account = paypal_settings(runtime)  # ConfigError when "paypal" is not enabled
        return PayPalCheckout(runtime.plugin_settings(PLUGIN), configured=account.configured)

    def unavailable_reason(self) -> str | None:
        """Why payments cannot use PayPal now: the site has no PayPal credentials yet."""
        if not self.configured:
            return "PayPal payments are not available yet: the site has not set up its PayPal account"
        return None

    async def start(self, *, runtime: Runtime, uow: UnitOfWork, payment: PaymentOut) -> PaymentStep:
        """Record the payment as pending; the core refuses it first when PayPal is not set up."""
        checkout = f"/paypal/payments/{payment.id}/checkout"
        return PaymentStep(
            status="pending",
            details={
                "checkout": checkout,
                "next": (
                    f"POST {checkout} for the PayPal approval link; after the buyer approves, "
                    f"POST /paypal/payments/{payment.id}/capture"
                ),
            },
            expires_at=uow.now + timedelta(hours=self.settings.approval_hours),
        )

    async def sync(self, runtime: Runtime) -> dict[str, Any]:
        """The worker's step: finish PayPal payments whose webhook did not come."""
        from agorakit.plugins.payments_paypal import service

        return await service.sync_open_orders(runtime)

    async def handle_paypal_event(self, runtime: Runtime, event: Any) -> str | None:
        """Checkout webhooks (``CHECKOUT.ORDER.APPROVED``, ``PAYMENT.CAPTURE.*``)."""
        from agorakit.plugins.payments_paypal import service

        return await service.handle_event(runtime, event)
