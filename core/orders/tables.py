"""Tables of the orders area: orders, their items, history, timers and proofs."""

from piccolo.columns import JSON, BigInt, ForeignKey, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


class Order(Table, tablename="core_order"):
    """One order of any model: a gig order, a microjob task, a prepaid request, a lead."""

    process = Varchar(length=60, help_text="Name of the process the order follows.")
    process_version = Integer(help_text="Version of that process it started with.")
    state = Varchar(length=40, index=True)
    version = Integer(default=1, help_text="Bumped by every transition (optimistic lock).")
    buyer_id = Integer(index=True)
    seller_id = Integer(
        null=True, default=None, index=True, help_text="Unset until a prepaid request is locked."
    )
    listing_id = Integer(null=True, default=None, index=True)
    currency = Varchar(length=3)
    amount = BigInt(help_text="Sum of the items, minor units (before buyer fees).")
    data = JSON(default={}, help_text="Model-specific facts (deadline, requirements, ...).")
    state_entered_at = Timestamptz()
    created_at = Timestamptz()
    updated_at = Timestamptz()


class OrderItem(Table, tablename="core_order_item"):
    order = ForeignKey(Order, index=True)
    position = Integer()
    kind = Varchar(length=20, help_text="base | extra | ...")
    description = Varchar(length=200)
    unit_price = BigInt()
    quantity = Integer(default=1)
    amount = BigInt(help_text="unit_price * quantity")


class OrderEvent(Table, tablename="core_order_event"):
    """The order's history: one row per transition (and its creation)."""

    order = ForeignKey(Order, index=True)
    seq = Integer(help_text="1 for creation, then the order's version after each transition.")
    transition = Varchar(length=60)
    from_state = Varchar(length=40, null=True, default=None)
    to_state = Varchar(length=40)
    actor_role = Varchar(length=16, help_text="buyer | seller | operator | system")
    actor_id = Integer(null=True, default=None)
    data = JSON(default={})
    at = Timestamptz()


class OrderTimer(Table, tablename="core_order_timer"):
    """A transition to fire as system when due, unless the order left ``state`` first."""

    order = ForeignKey(Order, index=True)
    state = Varchar(length=40)
    transition = Varchar(length=60)
    due_at = Timestamptz(index=True)
    status = Varchar(length=12, index=True, help_text="pending | fired | cancelled | failed")
    attempts = Integer(default=0)
    last_error = Text(null=True, default=None)
    fired_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class Proof(Table, tablename="core_proof"):
    """Evidence of work (a delivery, a microjob proof), reviewed by the other party."""

    order = ForeignKey(Order, index=True)
    submitted_by = Integer()
    text = Text(default="")
    urls = JSON(default=[])
    attachments = JSON(default=[], help_text="Attachment references (ids of stored files).")
    status = Varchar(length=24, help_text="submitted | accepted | rejected | correction_requested")
    review_reason = Text(null=True, default=None)
    reviewed_by = Integer(null=True, default=None)
    reviewed_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
