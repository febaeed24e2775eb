"""Tables of the accounts area."""

from piccolo.columns import JSON, Text, Timestamptz, Varchar
from piccolo.table import Table


class Member(Table, tablename="core_member"):
    """A person on the site: buyer, seller, worker, employer or operator."""

    email = Varchar(length=254, help_text="Email address as the member typed it (normalised).")
    email_key = Varchar(length=254, unique=True, index=True, help_text="Lower-cased email: unique per site.")
    password_hash = Text(help_text="argon2id hash of the password.")
    display_name = Varchar(length=80, help_text="Name shown to other members.")
    country = Varchar(length=2, help_text="ISO 3166-1 alpha-2 country code, upper case.")
    skills = JSON(default=[], help_text="JSON list of lower-cased skill tags.")
    role = Varchar(length=16, default="member", help_text="member | operator")
    status = Varchar(length=16, default="active", help_text="active | suspended")
    suspended_reason = Text(null=True, default=None, help_text="Why an operator suspended it.")
    security_stamp = Varchar(
        length=32, help_text="Changes on password change or suspension: old tokens stop working."
    )
    created_at = Timestamptz(help_text="Registration instant (from the runtime clock).")
    updated_at = Timestamptz(help_text="Last profile change.")
