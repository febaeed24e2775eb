"""Tables of the accounts area."""

from piccolo.columns import JSON, BigInt, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


class Member(Table, tablename="core_member"):
    """A person on the site: buyer, seller, worker, employer, operator or owner."""

    email = Varchar(length=254, help_text="Email address as the member typed it (normalised).")
    email_key = Varchar(length=254, unique=True, index=True, help_text="Lower-cased email: unique per site.")
    password_hash = Text(help_text="argon2id hash of the password.")
    display_name = Varchar(length=80, help_text="Name shown to other members.")
    country = Varchar(length=2, help_text="ISO 3166-1 alpha-2 country code, upper case.")
    skills = JSON(default=[], help_text="JSON list of lower-cased skill tags.")
    role = Varchar(length=16, default="member", help_text="member | operator | owner")
    status = Varchar(length=16, default="active", help_text="active | suspended")
    suspended_reason = Text(null=True, default=None, help_text="Why an operator suspended it.")
    security_stamp = Varchar(
        length=32, help_text="Changes on password change, reset or suspension: old tokens stop working."
    )
    email_verified_at = Timestamptz(
        null=True,
        default=None,
        help_text="When the member proved they read the email address; null = not yet.",
    )
    terms_version = Varchar(
        length=40, null=True, default=None, help_text="The version of the site's terms the member accepted."
    )
    terms_accepted_at = Timestamptz(null=True, default=None, help_text="When they accepted it.")
    created_at = Timestamptz(help_text="Registration instant (from the runtime clock).")
    updated_at = Timestamptz(help_text="Last profile change.")


class AccountToken(Table, tablename="core_account_token"):
    """A single-use secret sent by email (verify the address, reset the password).

    Only a SHA-256 hash of the secret is kept: a copy of the database cannot be used to
    take over an account.
    """

    member_id = Integer(index=True, help_text="The member it was sent to.")
    purpose = Varchar(length=16, help_text="verify_email | reset_password")
    token_hash = Varchar(length=64, unique=True, help_text="Hex SHA-256 of the secret (never the secret).")
    email = Varchar(length=254, help_text="The address it was sent to (what a verification proves).")
    created_at = Timestamptz(help_text="When it was sent.")
    expires_at = Timestamptz(help_text="Refused from this instant on.")
    used_at = Timestamptz(null=True, default=None, help_text="When it was used; a used token is refused.")


class MemberWarning(Table, tablename="core_member_warning"):
    """A warning an operator gave a member (the member was told, with the reason)."""

    member_id = Integer(index=True, help_text="The member warned.")
    operator_id = Integer(help_text="The operator who warned them.")
    reason = Text(help_text="Why, as the member was told.")
    source = Varchar(
        length=60,
        null=True,
        default=None,
        help_text="What it came from: dispute:<id>, report:<id>; null = none.",
    )
    created_at = Timestamptz()


class MemberFlag(Table, tablename="core_member_flag"):
    """A member marked for operators' attention (at most one flag per member)."""

    member_id = Integer(unique=True, index=True, help_text="The member flagged.")
    reason = Text(help_text="What operators should look at.")
    flagged_by = Integer(help_text="The operator who flagged them.")
    source = Varchar(
        length=60,
        null=True,
        default=None,
        help_text="What it came from: dispute:<id>, report:<id>; null = none.",
    )
    flagged_at = Timestamptz()


class ThrottleCount(Table, tablename="core_throttle"):
    """One throttle's count for one key, shared by every process of the site (see
    :mod:`agorakit.accounts.throttle`); a row past ``expires_us`` counts as absent and is
    deleted now and then."""

    key = Varchar(length=100, unique=True, help_text="The throttle's name and a SHA-256 of what it counts.")
    started_us = BigInt(help_text="Start of the window or the last failure, in µs since the epoch.")
    hits = Integer(help_text="Attempts (or consecutive failures) counted since.")
    expires_us = BigInt(
        index=True, help_text="From this instant (µs since the epoch) the count is forgotten."
    )
