"""Tables of the prepaid plugin.

A request is a catalog listing of kind ``request`` (the title, the task text, the
category, the price; only sellers with access to its category see it) plus a
:class:`Request` row with what the plugin keeps for its feed and its rules.  A prepaid
request is an order from the start (process ``prepaid_request``: paid at once, then in
the pool until a seller locks it); a classic request becomes an order (process
``prepaid_offer``) when the buyer accepts an :class:`Offer`.
"""

from piccolo.columns import JSON, BigInt, Integer, Text, Timestamptz, Varchar

from agorakit.db import Table


class Request(Table, tablename="prepaid_request"):
    """A buyer's request: the feed reads this table alone (status, category, type, price)."""

    listing_id = Integer(unique=True)
    buyer_id = Integer(index=True)
    category_id = Integer(help_text="The listing's category (the feed filters on it).")
    category = Varchar(length=120, help_text="Slug of the listing's category.")
    service_type = Varchar(length=40)
    service_label = Varchar(length=80, help_text="The service type's label when the request was posted.")
    title = Varchar(length=200, help_text="The listing's title (kept here for the feed).")
    mode = Varchar(length=8, help_text="prepaid | classic")
    status = Varchar(
        length=16,
        index=True,
        help_text="awaiting_payment | open | locked | delivered | reported | completed | cancelled | expired",
    )
    price = BigInt(help_text="What the buyer pays (prepaid) or proposes (classic), minor units.")
    currency = Varchar(length=3)
    timeframe_hours = Integer(help_text="Delivery time asked for (prepaid) or accepted (classic).")
    details = JSON(default={}, help_text="The service type's fields, validated.")
    order_id = Integer(null=True, default=None, unique=True, help_text="Its order, once there is one.")
    seller_id = Integer(null=True, default=None, index=True, help_text="The seller who locked it or won it.")
    offer_id = Integer(null=True, default=None, help_text="The accepted offer (classic).")
    expires_at = Timestamptz(null=True, default=None, help_text="When an open classic request expires.")
    due_at = Timestamptz(
        null=True,
        default=None,
        index=True,
        help_text="The delivery deadline while in progress (stuck locks).",
    )
    opened_at = Timestamptz(null=True, default=None, help_text="When it last entered the feed.")
    idempotency_key = Varchar(length=200, null=True, default=None, help_text="The creating request's key.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Offer(Table, tablename="prepaid_offer"):
    """A qualified seller's offer on a classic request."""

    request_id = Integer(index=True)
    seller_id = Integer(index=True)
    price = BigInt(help_text="Minor units, in the request's currency.")
    timeframe_hours = Integer()
    message = Text(default="")
    status = Varchar(
        length=12,
        help_text="pending | flagged | accepted | declined | withdrawn | rejected",
    )
    screening_flags = JSON(default=[], help_text="[{field, reason, match}] when offers are only flagged.")
    created_at = Timestamptz()
    decided_at = Timestamptz(null=True, default=None)


class Release(Table, tablename="prepaid_release"):
    """A lock that ended without a delivery: the seller gave it up, or the buyer sent the
    request back to the pool after the timeframe.  Part of the seller's history."""

    request_id = Integer(index=True)
    order_id = Integer()
    seller_id = Integer(index=True)
    by = Varchar(length=8, help_text="seller | buyer")
    reason = Text(default="")
    locked_at = Timestamptz(null=True, default=None)
    at = Timestamptz()


class SellerLocks(Table, tablename="prepaid_seller_locks"):
    """How many undelivered locks a seller holds (the ``max_open_locks`` rule)."""

    member_id = Integer(unique=True)
    open_locks = Integer(default=0)
    updated_at = Timestamptz()
