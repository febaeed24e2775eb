"""Tables of the support area: a member's support request (a ticket) and its queue state."""

from piccolo.columns import Boolean, Integer, Timestamptz, Varchar

from agorakit.db.table import Table


class SupportTicket(Table, tablename="core_support_ticket"):
    """A member's request to the site's support; its messages are the conversation
    ``support:<id>``."""

    member_id = Integer(index=True, help_text="The member who opened it.")
    category = Varchar(length=12, help_text="order | payment | withdrawal | account | other")
    subject = Varchar(length=200, null=True, default=None)
    link_kind = Varchar(length=12, null=True, default=None, help_text="order | listing | withdrawal | lead")
    link_id = Integer(null=True, default=None)
    status = Varchar(length=8, index=True, help_text="open | closed")
    assignee_id = Integer(null=True, default=None, index=True, help_text="The operator working on it.")
    conversation_id = Integer(default=0, help_text="Its conversation (support:<id>).")
    waiting = Boolean(default=True, help_text="A member message waits for Support's answer.")
    waiting_since = Timestamptz(
        null=True, default=None, help_text="When the oldest unanswered member message was written."
    )
    queue_key = Integer(
        default=0,
        help_text="The queue's order: the oldest unanswered member message (else the last one).",
    )
    last_member_message_id = Integer(default=0)
    last_member_message_at = Timestamptz()
    last_reply_message_id = Integer(default=0, help_text="Support's last message.")
    last_reply_at = Timestamptz(null=True, default=None)
    closed_message_id = Integer(
        default=0,
        help_text="The conversation's last message when it was closed: newer member ones reopen it.",
    )
    created_at = Timestamptz()
    closed_at = Timestamptz(null=True, default=None)
    closed_by = Integer(null=True, default=None)
