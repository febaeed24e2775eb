"""The core's own plugin for money: tables, routes, the balance method, CLI commands,
its events and their notifications."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.hooks import PluginInfo, plugin_info
from agorakit.money import controllers as c
from agorakit.money import voucher_controllers as v
from agorakit.money.commission import Commission, commission_defaults
from agorakit.money.events import EVENTS
from agorakit.money.methods import bind_methods
from agorakit.money.notices import money_notices
from agorakit.money.payments import BalanceMethod
from agorakit.money.piccolo_app import APP_CONFIG
from agorakit.money.withdrawals import withdrawal_queues

#: the name the default commission is registered under
COMMISSION = "agorakit.money.commission"


@hookimpl(tryfirst=True)
def agorakit_startup(runtime):
    """Register the default commission (unless ``[fees] commission = false``) with the
    kinds' defaults the plugins declare, and bind the payment and payout methods the
    site config names."""
    defaults = commission_defaults(runtime)  # checked even when the commission is off
    if runtime.settings.fees.commission and runtime.pm.get_plugin(COMMISSION) is None:
        runtime.pm.register(Commission(runtime.settings.fees, defaults), name=COMMISSION)
        plugin_info(runtime.pm)[COMMISSION] = PluginInfo(name=COMMISSION, builtin=True)
    runtime.payment_methods, runtime.payout_methods = bind_methods(runtime)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [
        c.BalanceController,
        c.MethodsController,
        c.PaymentController,
        c.WithdrawalController,
        c.OperatorMoneyController,
        v.MyVouchersController,
        v.RedeemVoucherController,
        v.OperatorVoucherController,
    ]


@hookimpl
def agorakit_payment_methods():

    return [BalanceMethod()]


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
async def agorakit_notify(event, runtime):
    """Tell payers about payments others settled, expired or refunded payments,
    members about their finished withdrawals, and issuers and redeemers about vouchers."""

    return await money_notices(event, runtime)


@hookimpl
async def agorakit_operator_queues(runtime):
    """Withdrawals waiting to be paid out, and those past their payout date."""

    return await withdrawal_queues(runtime)
