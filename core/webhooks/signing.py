"""Secrets and signatures, as the Standard Webhooks specification says.

A secret is ``whsec_`` and the base64 of 32 random bytes; a request's signature is
``v1,`` and the base64 of the HMAC-SHA256, keyed with the secret's decoded bytes, of
``{webhook-id}.{webhook-timestamp}.{body}``.  While a rotated-out secret is still valid,
a request carries one signature per valid secret, space-separated, so a receiver that
has either one verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

#: the prefix of a secret
SECRET_PREFIX = "whsec_"
#: random bytes of a new secret
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one request with ``secret``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signature_header(secrets_in_use: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one signature per secret, space-separated."""
    return " ".join(signature(secret, msg_id, timestamp, body) for secret in secrets_in_use)
