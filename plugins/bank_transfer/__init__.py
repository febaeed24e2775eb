"""bank_transfer: pay in by bank transfer (an operator confirms receipt) and manual bank payouts.

Enable it with ``plugins = ["bank_transfer"]`` and bind its methods in ``[money]``
(``payment_methods = ["balance", "bank_transfer"]``, ``payout_methods = ["bank_transfer"]``).
See ``docs/plugins/bank_transfer.md``.
"""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.settings import SettingsSpec


@hookimpl
def agorakit_settings():
    from agorakit.plugins.bank_transfer.settings import BankTransferSettings

    return SettingsSpec(name="bank_transfer", type=BankTransferSettings)


@hookimpl
def agorakit_tables():
    from agorakit.plugins.bank_transfer.piccolo_app import APP_CONFIG

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():
    from agorakit.plugins.bank_transfer.controllers import BankTransferController

    return [BankTransferController]


@hookimpl
def agorakit_payment_methods():
    from agorakit.plugins.bank_transfer.methods import BankTransferPayIn

    return [BankTransferPayIn()]


@hookimpl
def agorakit_payout_methods():
    from agorakit.plugins.bank_transfer.methods import BankTransferPayout

    return [BankTransferPayout()]


@hookimpl
def agorakit_event_types():
    from agorakit.plugins.bank_transfer.events import EVENTS

    return EVENTS
