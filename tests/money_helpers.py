"""A manual payout method for money tests that need one without a shipped plugin."""

from __future__ import annotations

from typing import Any

import agorakit
from agorakit.errors import FieldError, ValidationFailed
from agorakit.money.amounts import format_amount


class ManualPayout:
    """An operator pays by hand to an email address; flat fee, fixed minimum."""

    manual = True
    destination_fields = ["email"]

    def __init__(
        self, name: str = "testpay", *, minimum: int = 100, fee: int = 0, label: str = "Test payout"
    ):
        self.name, self.label, self._minimum, self._fee = name, label, minimum, fee

    def minimum(self, currency: str) -> int:
        return self._minimum

    def fee(self, amount: int, currency: str) -> int:
        return self._fee

    def fee_description(self, currency: str) -> str:
        return f"{format_amount(self._fee, currency)} {currency} per withdrawal" if self._fee else "no fee"

    def validate_destination(self, destination: dict[str, Any]) -> dict[str, Any]:
        email = str(destination.get("email", "")).strip().lower()
        if "@" not in email:
            raise ValidationFailed([FieldError("destination.email", "give the email to pay to")])
        return {"email": email}


class ManualPayoutPlugin:
    def __init__(self, *methods: ManualPayout) -> None:
        self.methods = list(methods) or [ManualPayout()]

    @agorakit.hookimpl
    def agorakit_payout_methods(self):
        return self.methods
