"""Tables of the notifications area: the inbox, the email outbox and email preferences."""

from piccolo.columns import Boolean, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


class Notification(Table, tablename="core_notification"):
    """One notice in a member's inbox.  Unique per (event, member, template)."""

    member_id = Integer(index=True, help_text="The member told.")
    event_id = Integer(
        null=True, default=None, help_text="The domain event it comes from (core_domain_event.id)."
    )
    category = Varchar(
        length=20, help_text="orders | messages | reviews | disputes | listings | money | account"
    )
    template = Varchar(length=100, help_text="Template name: notifications/<template>.jinja2.")
    title = Varchar(length=255, help_text="The rendered subject line.")
    body = Text(help_text="The rendered plain text.")
    link = Varchar(length=500, null=True, default=None, help_text="API path it points to, e.g. /orders/12.")
    read_at = Timestamptz(null=True, default=None, help_text="When the member read it; null = unread.")
    created_at = Timestamptz()


class EmailOutbox(Table, tablename="core_email_outbox"):
    """An email waiting to be sent, being sent, sent, or given up on (the transactional outbox)."""

    member_id = Integer(null=True, default=None, index=True, help_text="The recipient member, if any.")
    notification_id = Integer(null=True, default=None, help_text="The notification it tells about.")
    to_address = Varchar(length=254)
    subject = Varchar(length=255)
    text_body = Text()
    html_body = Text(null=True, default=None)
    message_id = Varchar(length=255, help_text="Message-ID header, the same on every attempt.")
    status = Varchar(length=12, help_text="pending | sending | sent | failed")
    attempts = Integer(default=0, help_text="Failed delivery attempts so far.")
    next_attempt_at = Timestamptz(null=True, default=None, help_text="Due for (another) attempt from then.")
    last_error = Text(null=True, default=None)
    claimed_at = Timestamptz(null=True, default=None, help_text="When a worker took it (status sending).")
    sent_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class NotificationPreference(Table, tablename="core_notification_preference"):
    """A member's choice for one category; no row = email on."""

    member_id = Integer(help_text="The member.")
    category = Varchar(length=20)
    email = Boolean(default=True, help_text="Whether notices of this category are also emailed.")
