"""The domain event outbox: events stored with the change they describe, and the
registry of the processes that deliver them."""

from piccolo.columns import JSON, BigInt, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


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
    process_id = BigInt(
        null=True,
        default=None,
        help_text="The registered process (core_process.id) that delivers it; none: unknown.",
    )
    claimed_at = Timestamptz(
        null=True, default=None, help_text="When a worker took it over to publish it again."
    )


class ServerProcess(Table, tablename="core_process"):
    """A running app or worker process; its row goes when it stops (or is found gone)."""

    #: random, never a serial: SQLite would give a new process the id of a deleted row,
    #: and that process would then own the events the gone one left pending
    id = BigInt(primary_key=True)
    kind = Varchar(length=20, help_text="app | worker | tick")
    host = Varchar(
        length=200, help_text="Host name, boot id and PID namespace: where ``pid`` means this process."
    )
    pid = Integer(help_text="The operating system's process id.")
    pid_started = BigInt(
        default=0, help_text="When the pid's process started (clock ticks since boot); 0: unknown."
    )
    started_at = Timestamptz()
    heartbeat_at = Timestamptz(help_text="Refreshed every [events] heartbeat_seconds while it runs.")
