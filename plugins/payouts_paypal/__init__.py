"""payouts_paypal: members withdraw to PayPal, paid by PayPal Payouts (not by hand).

Enable it with the ``paypal`` plugin (the account, client and webhooks) and bind the
method::

    [site]
    plugins = ["paypal", "payouts_paypal"]

    [money]
    payout_methods = ["paypal"]

The worker sweep batches requested PayPal withdrawals, sends each batch once and follows
it to the end; PayPal's webhooks move items sooner.  See ``docs/plugins/payouts_paypal.md``.
"""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.plugins.payouts_paypal.controllers import PayPalPayoutsController
from agorakit.plugins.payouts_paypal.events import EVENTS
from agorakit.plugins.payouts_paypal.methods import PayPalPayout
from agorakit.plugins.payouts_paypal.piccolo_app import APP_CONFIG
from agorakit.plugins.payouts_paypal.settings import PayoutsPayPalSettings
from agorakit.settings import SettingsSpec


@hookimpl
def agorakit_settings():

    return SettingsSpec(name="payouts_paypal", type=PayoutsPayPalSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [PayPalPayoutsController]


@hookimpl
def agorakit_payout_methods():

    return [PayPalPayout()]


@hookimpl
def agorakit_event_types():

    return EVENTS
