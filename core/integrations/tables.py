"""Tables of the integrations area: the read-only API tokens operators make for machines."""

from piccolo.columns import JSON, Integer, Timestamptz, Varchar

from agorakit.db.table import Table


class IntegrationToken(Table, tablename="core_integration_token"):
    """A read-only API token with scopes, for an outside system (a CRM, an accounting tool).

    The secret itself is shown once, when the token is made, and never stored: a request's
    token is found by the SHA-256 of its secret.
    """

    name = Varchar(length=100, help_text="What the operator calls it, e.g. the system that uses it.")
    scopes = JSON(default=[], help_text='JSON list of scopes, e.g. ["events:read"].')
    prefix = Varchar(length=12, help_text="The secret's first characters, to tell tokens apart.")
    secret_sha256 = Varchar(length=64, unique=True, help_text="SHA-256 of the secret, hex.")
    created_by = Integer(help_text="The operator who made it.")
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None, help_text="When it stops working; none: never.")
    last_used_at = Timestamptz(
        null=True, default=None, help_text="When a request last used it (noted at most once a minute)."
    )
    revoked_at = Timestamptz(null=True, default=None, help_text="When an operator revoked it.")
    revoked_by = Integer(null=True, default=None, help_text="The operator who revoked it.")
