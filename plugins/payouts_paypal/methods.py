"""The payout method ``paypal``: withdrawals paid by PayPal Payouts, not by hand.

Members withdraw to a PayPal account given by its email (``{"email": ...}``); the
worker batches, sends and follows the withdrawals (:mod:`.service`), and PayPal's
webhooks (:mod:`.webhooks`) move them sooner.  Operators never complete or fail them by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from email_validator import EmailNotValidError, validate_email

from agorakit.errors import FieldError, ValidationFailed
from agorakit.money import format_amount
from agorakit.plugins.payouts_paypal.settings import PayoutsPayPalSettings
from agorakit.plugins.paypal.amounts import setting_to_minor
from agorakit.plugins.paypal.client import paypal_settings

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

#: The method's name: what sites bind in ``[money] payout_methods``, and the ledger
#: accounts ``payouts:paypal:clearing`` and ``external:paypal``.
METHOD = "paypal"
#: The plugin's name: its settings section ``[plugins.payouts_paypal]``.
PLUGIN = "payouts_paypal"


class PayPalPayout:
    """Withdraw to a PayPal account; PayPal Payouts pays it, the worker follows it."""

    name = METHOD
    label = "PayPal"
    manual = False
    destination_fields = ["email"]

    def __init__(self, settings: PayoutsPayPalSettings | None = None, *, configured: bool = True) -> None:
        self.settings = settings or PayoutsPayPalSettings()
        self.configured = configured

    def bind(self, runtime: Runtime) -> PayPalPayout:
        """This method with the site's settings; stops start-up without the paypal plugin."""
        account = paypal_settings(runtime)  # ConfigError when "paypal" is not enabled
        return PayPalPayout(runtime.plugin_settings(PLUGIN), configured=account.configured)

    def minimum(self, currency: str) -> int:
        return setting_to_minor(self.settings.payout_minimum, currency, round_up=True)

    def fee(self, amount: int, currency: str) -> int:
        return setting_to_minor(self.settings.payout_fee, currency)

    def fee_description(self, currency: str) -> str:
        fee = self.fee(0, currency)
        return f"{format_amount(fee, currency)} {currency} per withdrawal" if fee else "no fee"

    def unavailable_reason(self) -> str | None:
        """Why withdrawals cannot use PayPal now: the site has no PayPal credentials yet."""
        if not self.configured:
            return "PayPal payouts are not available yet: the site has not set up its PayPal account"
        return None

    def validate_destination(self, destination: dict[str, Any]) -> dict[str, Any]:
        """``{"email": "..."}``: the PayPal account's email, normalised (lower-case domain)."""
        if not isinstance(destination, dict):
            raise ValidationFailed(
                [FieldError("destination", 'must be an object: {"email": "you@example.com"}')]
            )
        errors = [
            FieldError(f"destination.{str(key)[:40]}", "unknown field; a PayPal destination has only email")
            for key in destination
            if key != "email"
        ]
        email = destination.get("email")
        normalised = ""
        if not isinstance(email, str) or not email.strip():
            errors.append(FieldError("destination.email", "give the email address of your PayPal account"))
        else:
            try:
                normalised = validate_email(email.strip(), check_deliverability=False).normalized
            except EmailNotValidError as exc:
                errors.append(FieldError("destination.email", f"is not an email address: {exc}"))
            else:
                if len(normalised) > 127:  # PayPal's receiver is at most 127 characters
                    errors.append(
                        FieldError("destination.email", "is too long for PayPal (at most 127 characters)")
                    )
        if errors:
            raise ValidationFailed(errors)
        return {"email": normalised}

    async def sync(self, runtime: Runtime) -> dict[str, Any]:
        """The worker's step: batch, send and follow PayPal withdrawals."""
        from agorakit.plugins.payouts_paypal import service

        return await service.run(runtime)

    async def handle_paypal_event(self, runtime: Runtime, event: Any) -> str | None:
        """Payout webhooks (``PAYMENT.PAYOUTSBATCH.*``, ``PAYMENT.PAYOUTS-ITEM.*``)."""
        from agorakit.plugins.payouts_paypal import webhooks

        return await webhooks.handle_event(runtime, event)
