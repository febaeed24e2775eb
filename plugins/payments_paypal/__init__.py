"""payments_paypal: buyers pay with PayPal Checkout (Orders v2, intent CAPTURE).

Enable it with the ``paypal`` plugin (the account, client and webhooks) and bind the
method::

    [site]
    plugins = ["paypal", "payments_paypal"]

    [money]
    payment_methods = ["balance", "paypal"]

See ``docs/plugins/payments_paypal.md``.
"""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.plugins.payments_paypal.controllers import PayPalCheckoutController
from agorakit.plugins.payments_paypal.events import EVENTS
from agorakit.plugins.payments_paypal.methods import PayPalCheckout
from agorakit.plugins.payments_paypal.piccolo_app import APP_CONFIG
from agorakit.plugins.payments_paypal.settings import PaymentsPayPalSettings
from agorakit.settings import SettingsSpec


@hookimpl
def agorakit_settings():

    return SettingsSpec(name="payments_paypal", type=PaymentsPayPalSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [PayPalCheckoutController]


@hookimpl
def agorakit_payment_methods():

    return [PayPalCheckout()]


@hookimpl
def agorakit_event_types():

    return EVENTS
