"""bank_transfer: pay in by bank transfer (an operator confirms receipt) and manual bank payouts.

Enable it with ``plugins = ["bank_transfer"]`` and bind its methods in ``[money]``
(``payment_methods = ["balance", "bank_transfer"]``, ``payout_methods = ["bank_transfer"]``).
See ``docs/plugins/bank_transfer.md``.
"""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.http import OperatorQueue
from agorakit.money import count_payments
from agorakit.plugins.bank_transfer.controllers import BankTransferController
from agorakit.plugins.bank_transfer.events import EVENTS
from agorakit.plugins.bank_transfer.methods import METHOD, PLUGIN, BankTransferPayIn, BankTransferPayout
from agorakit.plugins.bank_transfer.piccolo_app import APP_CONFIG
from agorakit.plugins.bank_transfer.settings import BankTransferSettings
from agorakit.settings import SettingsSpec


@hookimpl
def agorakit_settings():

    return SettingsSpec(name="bank_transfer", type=BankTransferSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [BankTransferController]


@hookimpl
def agorakit_payment_methods():

    return [BankTransferPayIn()]


@hookimpl
def agorakit_payout_methods():

    return [BankTransferPayout()]


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
async def agorakit_operator_queues():
    """Bank-transfer payments waiting for an operator to confirm the money arrived (they
    expire by themselves, so no due rule)."""

    waiting = await count_payments(METHOD, "awaiting_funds")
    return [
        OperatorQueue(
            key="bank_transfer.payments",
            title="Bank transfers to confirm",
            count=waiting.count,
            oldest_at=waiting.oldest_at,
            list_path=f"/operator/payments?method={METHOD}&status=awaiting_funds",
            area=PLUGIN,
        )
    ]
