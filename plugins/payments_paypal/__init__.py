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
from agorakit.settings import SettingsSpec


@hookimpl
def agorakit_settings():
    from agorakit.plugins.payments_paypal.settings import PaymentsPayPalSettings

    return SettingsSpec(name="payments_paypal", type=PaymentsPayPalSettings)


@hookimpl
def agorakit_tables():
    from agorakit.plugins.payments_paypal.piccolo_app import APP_CONFIG

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():
    from agorakit.plugins.payments_paypal.controllers import PayPalCheckoutController

    return [PayPalCheckoutController]


@hookimpl
def agorakit_payment_methods():
    from agorakit.plugins.payments_paypal.methods import PayPalCheckout

    return [PayPalCheckout()]


@hookimpl
def agorakit_event_types():
    from agorakit.plugins.payments_paypal.events import EVENTS

    return EVENTS
