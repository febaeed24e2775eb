"""The domain event outbox: events stored with the change they describe."""

from piccolo.columns import JSON, Integer, Text, Timestamptz, Varchar
from piccolo.table import Table


class StoredEvent(Table, tablename="core_domain_event"):
    """One domain event, written in the transaction that caused it."""

    name = Varchar(length=80, help_text="Past tense, <area>.<what happened>.")
    subject = Varchar(length=80, index=True, help_text="What it happened to, e.g. order:40.")
    actor_id = Integer(null=True, default=None)
    data = JSON(default={})
    at = Timestamptz()
    status = Varchar(length=12, index=True, help_text="pending | published | failed")
    attempts = Integer(default=0, help_text="Times it was handed to the plugins.")
    last_error = Text(null=True, default=None)
    published_at = Timestamptz(null=True, default=None)
