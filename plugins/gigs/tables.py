"""Tables of the gigs plugin: mutual cancellation proposals."""

from piccolo.columns import Integer, Text, Timestamptz, Varchar

from agorakit.db import Table


class GigCancellation(Table, tablename="gigs_cancellation"):
    """A party's proposal to cancel a gig order; the other party accepts or declines it."""

    order_id = Integer(index=True)
    proposed_by = Integer(help_text="The member (buyer or seller) who proposed it.")
    reason = Text(help_text="Why, in the proposer's words.")
    status = Varchar(length=10, help_text="open | accepted | declined | withdrawn | lapsed")
    answer = Text(null=True, default=None, help_text="The other party's reason for declining.")
    decided_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    decided_at = Timestamptz(null=True, default=None)
