"""Settings of the paypal plugin (``[plugins.paypal]`` in ``site.toml``): the account both
PayPal methods use, how webhooks are verified, and how patient the REST client is."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from agorakit.settings import Secret, SettingsStruct

LIVE_URL = "https://api-m.paypal.com"
SANDBOX_URL = "https://api-m.sandbox.paypal.com"

#: Hosts PayPal serves its webhook signing certificates from (``PAYPAL-CERT-URL``).
DEFAULT_CERT_HOSTS = ["api.paypal.com", "api.sandbox.paypal.com", "*.paypal.com"]


class PayPalSettings(SettingsStruct, frozen=True):
    #: the REST app's client id (PayPal developer dashboard → Apps & Credentials); empty =
    #: PayPal not configured: the site starts, the PayPal methods answer 503 until it is set
    client_id: Annotated[str, msgspec.Meta(max_length=200)] = ""
    #: the REST app's secret; give it from the environment
    #: (``client_secret = { "$env" = "PAYPAL_CLIENT_SECRET" }``); never logged, masked in /-/plugins
    client_secret: Secret = ""
    #: "sandbox" (https://api-m.sandbox.paypal.com, test money) or "live" (https://api-m.paypal.com)
    mode: Literal["sandbox", "live"] = "sandbox"
    #: another API root instead of the mode's (a proxy, or a local PayPal stand-in); empty = the mode's
    base_url: Annotated[str, msgspec.Meta(pattern=r"^(https?://[^\s/]+)?$")] = ""
    #: the id PayPal gave the webhook you registered for https://<site>/webhooks/paypal;
    #: empty = webhooks are refused (503) and the worker's polling alone moves payments
    webhook_id: Annotated[str, msgspec.Meta(max_length=50, pattern=r"^[A-Za-z0-9-]*$")] = ""
    #: "offline": check the RSA signature against PayPal's certificate (cached);
    #: "online": ask PayPal (POST /v1/notifications/verify-webhook-signature) for each delivery
    webhook_verification: Literal["offline", "online"] = "offline"
    #: hosts a webhook's PAYPAL-CERT-URL may point to, over https only (``*.`` matches
    #: subdomains); the certificate is never fetched from anywhere else
    cert_hosts: list[Annotated[str, msgspec.Meta(min_length=1, max_length=200)]] = msgspec.field(
        default_factory=lambda: list(DEFAULT_CERT_HOSTS)
    )
    #: deliveries signed longer ago than this many minutes are refused as replays (default
    #: 4380 ≈ 3 days: PayPal retries a failed delivery for up to 3 days); 0 = no age limit
    webhook_max_age_minutes: Annotated[int, msgspec.Meta(ge=0, le=60 * 24 * 30)] = 4380
    #: seconds to wait for PayPal's answer to one request (default 30)
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 30.0
    #: seconds to wait for a connection to PayPal (default 10)
    connect_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    #: retries after a 5xx, a 429 or a network error (never after another 4xx); each retry
    #: sends the same idempotency id (default 3)
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3
    #: seconds before the first retry, doubled for each next one (default 1.0)
    retry_backoff_seconds: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0

    @property
    def api_url(self) -> str:
        """The API root requests go to."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return LIVE_URL if self.mode == "live" else SANDBOX_URL

    @property
    def configured(self) -> bool:
        """True when credentials are set (the methods can talk to PayPal)."""
        return bool(self.client_id and self.client_secret)
