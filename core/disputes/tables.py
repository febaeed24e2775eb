"""Tables of the disputes area: a party's report on an order (or a charge) and its outcome."""

from piccolo.columns import JSON, BigInt, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


class Dispute(Table, tablename="core_dispute"):
    """A dispute (report) a party opened on an order; operators resolve it."""

    order_id = Integer(index=True)
    opened_by = Integer(help_text="The member who opened it.")
    opener_role = Varchar(length=8, help_text="buyer | seller")
    reason = Varchar(length=60, help_text="A reason code from the process's dispute policy.")
    text = Text(help_text="The opener's account of what went wrong.")
    status = Varchar(length=10, index=True, help_text="open | resolved")
    #: refund | release | reject, once resolved
    outcome = Varchar(length=10, null=True, default=None)
    from_state = Varchar(length=40, help_text="The order's state when the dispute was opened.")
    refund_from = Varchar(length=8, help_text="escrow | fees: where a refund comes from.")
    currency = Varchar(length=3)
    refunded = BigInt(default=0, help_text="Minor units refunded to the buyer's credit.")
    released = BigInt(default=0, help_text="Minor units released from escrow (seller net + fees).")
    evidence = JSON(default={}, help_text="Conversation, proofs and history captured when opened.")
    resolution_note = Text(null=True, default=None, help_text="The operator's reason, shown to both parties.")
    resolved_by = Integer(null=True, default=None)
    resolution_key = Varchar(
        length=200, null=True, default=None, help_text="Idempotency-Key of the resolution."
    )
    opened_at = Timestamptz()
    due_at = Timestamptz(index=True, help_text="Operators' target: opened_at + the policy's review time.")
    resolved_at = Timestamptz(null=True, default=None)
    member_action = JSON(
        null=True, default=None, help_text="{member_id, action, note}: what the resolution did to a member."
    )
