"""Tables of the reviews area: what the parties of a completed order say about each other."""

from piccolo.columns import Boolean, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


class Review(Table, tablename="core_review"):
    """One party's rating (1-5) and feedback on the other party of an order.

    One review per order and author: a unique index (order_id, author_id) created by the
    area's raw migration refuses a second one, even from concurrent requests.
    """

    order_id = Integer(help_text="The reviewed order.")
    author_id = Integer(index=True, help_text="The member who wrote it (a party of the order).")
    subject_id = Integer(index=True, help_text="The member it is about (the order's other party).")
    author_role = Varchar(length=8, help_text="buyer | seller: the author's role in the order.")
    listing_id = Integer(null=True, default=None, index=True, help_text="The order's listing, if it had one.")
    rating = Integer(help_text="Stars from 1 (worst) to 5 (best).")
    text = Text(help_text="The author's feedback.")
    hidden = Boolean(default=False, help_text="Hidden by an operator: out of public lists and summaries.")
    hidden_reason = Text(null=True, default=None, help_text="Why an operator hid it.")
    hidden_by = Integer(null=True, default=None, help_text="The operator who hid it.")
    hidden_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()
