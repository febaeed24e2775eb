"""Tables of the catalog area: categories, qualifications and listings.

Rules SQLite cannot add to an existing table (the one-open-application index) and the
full-text search structures (an FTS5 table on SQLite, a ``tsvector`` column on
PostgreSQL) are created in raw SQL by the area's second migration; the index of
applications by status (the operators' lists) by a later one; the triggers that count
the category tree's changes (:class:`CategoryVersion`) by the migration that adds it.
"""

from piccolo.columns import JSON, BigInt, Boolean, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


class Category(Table, tablename="core_category"):
    """A node of the category tree (e.g. Design > Logos)."""

    slug = Varchar(length=60, unique=True, index=True, help_text="URL-safe unique name, e.g. 'logo-design'.")
    name = Varchar(length=80, help_text="Name shown to members.")
    parent_id = Integer(null=True, default=None, index=True, help_text="Parent category; null at the top.")
    position = Integer(default=0, help_text="Order among siblings, smallest first.")
    created_at = Timestamptz()


class CategoryVersion(Table, tablename="core_category_version"):
    """How many times the category tree changed: at most one row (id 1), written by
    triggers on ``core_category`` in the transaction of every insert, update or delete,
    whoever makes it.  Browsing keeps the tree in each process's memory and reads this
    number in the page's own statement: a process whose copy is older reloads it (see
    :func:`agorakit.catalog.service.load_category_tree`).  No row counts as 0."""

    version = BigInt(default=0, help_text="Changes of core_category so far (grows by one per change).")


class Qualification(Table, tablename="core_qualification"):
    """A member's application to sell in a category, the operator's decision, and a later
    revocation of the access it gave."""

    member_id = Integer(index=True, help_text="The applying member.")
    category_id = Integer(index=True, help_text="The category applied for.")
    note = Text(default="", help_text="What the member told the operators.")
    status = Varchar(length=16, default="pending", help_text="pending | approved | rejected | revoked")
    reason = Text(null=True, default=None, help_text="Why an operator rejected or revoked it.")
    decided_by = Integer(null=True, default=None, help_text="The operator who decided.")
    created_at = Timestamptz()
    decided_at = Timestamptz(null=True, default=None)
    attachments = JSON(
        default=[], help_text="Ids of the member's files it refers to (attachments of scope member:<id>)."
    )
    notify = Boolean(default=True, help_text="The member wants to hear of new work in the category.")
    revoked_by = Integer(null=True, default=None, help_text="The operator who revoked the access.")
    revoked_at = Timestamptz(null=True, default=None)


class Listing(Table, tablename="core_listing"):
    """Something a member offers or asks for: a gig, a campaign, an offer, a request ..."""

    kind = Varchar(length=40, index=True, help_text="Listing kind name (agorakit_listing_kinds).")
    owner_id = Integer(index=True, help_text="The member who owns it.")
    category_id = Integer(index=True, help_text="Its category.")
    title = Varchar(length=200)
    description = Text()
    price = BigInt(help_text="Price in minor units of currency.")
    currency = Varchar(length=3, help_text="ISO 4217 code.")
    attributes = JSON(default={}, help_text="Kind-specific attributes, validated by the kind's Struct.")
    countries = Varchar(
        length=1000, default="", help_text="',US,GB,' from attributes.countries; '' = every country."
    )
    status = Varchar(
        length=16,
        default="draft",
        index=True,
        help_text="draft|pending_review|published|rejected|paused|closed",
    )
    rejection_reason = Text(null=True, default=None, help_text="Why a moderator rejected it.")
    screening_flags = JSON(default=[], help_text="[{field, reason, match}] found by text screening.")
    created_at = Timestamptz()
    updated_at = Timestamptz()
    submitted_at = Timestamptz(null=True, default=None, help_text="Last submission for review.")
    published_at = Timestamptz(null=True, default=None, help_text="Last publication.")
    published_us = BigInt(
        null=True, default=None, help_text="published_at in microseconds since the epoch (sort key)."
    )
    seller_rating = BigInt(
        default=-1,
        help_text="The owner's rating as a seller as one integer, the key of sort=rating; kept by the "
        "reviews area (agorakit.reviews.service.store_seller_rating).",
    )
    # The rating summaries a listing shows, kept on its row by the reviews area in the
    # transaction that changes them, so that a page of listings is one read.
    seller_rating_count = Integer(
        default=0,
        help_text="How many visible ratings buyers gave the owner as a seller (seller.rating.count).",
    )
    seller_rating_sum = BigInt(
        default=0, help_text="Those ratings' stars added up (seller.rating.average = sum / count)."
    )
    rating_count = Integer(
        default=0, help_text="How many visible ratings buyers of this listing gave it (rating.count)."
    )
    rating_sum = BigInt(default=0, help_text="Those ratings' stars added up (rating.average = sum / count).")
