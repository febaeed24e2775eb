"""Tables of the leads plugin.

A customer's job is a catalog listing of kind ``lead`` (title, text, category; only
matching businesses see it) plus a :class:`Lead` row with what matching and the feed read.
A business keeps a service profile (:class:`Profile`, its :class:`ProfileCategory` rows
and :class:`ProfileArea` rows).  Each business's contact with one lead is an
:class:`Unlock`: unique per (lead, business), so a business is charged at most once; its
charge is an order of the process ``lead_unlock`` (the business is the buyer).
"""

from piccolo.columns import JSON, BigInt, Boolean, Integer, Text, Timestamptz, Varchar

from agorakit.db import Table


class Lead(Table, tablename="leads_lead"):
    """A customer's job; the feed reads this table alone."""

    listing_id = Integer(unique=True)
    customer_id = Integer(index=True)
    category_id = Integer(help_text="The listing's category (the feed filters on it).")
    category = Varchar(length=120, help_text="Slug of the listing's category.")
    title = Varchar(length=200)
    country = Varchar(length=2, help_text="ISO 3166 alpha-2, upper case.")
    postal_code = Varchar(
        length=12, default="", help_text="Upper case, no spaces; empty when a city is given."
    )
    city = Varchar(length=80, default="", help_text="Lower case, trimmed; empty when a postal code is given.")
    details = JSON(default={}, help_text="The category's form, validated.")
    text = Text(default="", help_text="The customer's own words.")
    status = Varchar(length=16, index=True, help_text="pending_review | open | rejected | closed | expired")
    price = BigInt(help_text="What a business pays to unlock it, minor units (fixed when posted).")
    currency = Varchar(length=3)
    unlocks = Integer(
        default=0, help_text="Places taken: businesses charged, paying or contacted by the customer."
    )
    max_unlocks = Integer(help_text="Places it has (the setting when it was posted).")
    reason = Text(null=True, default=None, help_text="Why it was rejected or closed.")
    created_at = Timestamptz()
    opened_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None, index=True)
    closed_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()


class Profile(Table, tablename="leads_profile"):
    """A business's service profile."""

    member_id = Integer(unique=True)
    headline = Varchar(length=120, default="")
    description = Text(default="")
    active = Boolean(default=True, help_text="Inactive profiles get no leads and no notices.")
    notify = Boolean(default=True, help_text="Tell the business of new matching leads.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ProfileCategory(Table, tablename="leads_profile_category"):
    """A category a business serves (the categories below it count too)."""

    member_id = Integer(index=True)
    category_id = Integer(index=True)


class ProfileArea(Table, tablename="leads_profile_area"):
    """Where a business works: a country, narrowed to a postal-code prefix or a city
    (neither: the whole country)."""

    member_id = Integer(index=True)
    country = Varchar(length=2)
    postal_prefix = Varchar(length=12, default="")
    city = Varchar(length=80, default="")


class Unlock(Table, tablename="leads_unlock"):
    """One business's contact with one lead (unique per pair)."""

    lead_id = Integer()
    business_id = Integer(index=True)
    customer_id = Integer(index=True)
    origin = Varchar(length=10, help_text="business (it unlocked) | customer (the customer wrote first)")
    status = Varchar(length=16, help_text="contacted | awaiting_payment | charged | cancelled")
    order_id = Integer(
        null=True, default=None, unique=True, help_text="The charge's order, once there is one."
    )
    conversation_id = Integer(null=True, default=None)
    price = BigInt()
    currency = Varchar(length=3)
    snapshot = JSON(default={}, help_text="The lead as it was when the business was charged.")
    idempotency_key = Varchar(length=200, null=True, default=None)
    created_at = Timestamptz()
    charged_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz()
