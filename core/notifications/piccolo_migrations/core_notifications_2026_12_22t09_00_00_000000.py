"""SQLite: a notification and its email written by one insert, into the view ``core_notice``.

A notice is a notification and, unless its member turned email off for its category, an
email that names the notification.  PostgreSQL writes the two in one statement (a
data-modifying ``WITH``); SQLite has none, so it inserts the notices into the view
``core_notice`` (a notification with its email's columns) and the view's ``INSTEAD OF``
trigger writes each row: the notification (nothing when the event already told the member
through that template: the notification is unique per event, member and template) and,
when the notification is new and the row has an address, its email, pending.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-22T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "SQLite: notices written through the view core_notice (a trigger)"

SQLITE = [
    "CREATE VIEW core_notice AS SELECT n.member_id, n.event_id, n.category, n.template, n.title, n.body, "
    "n.link, n.created_at, e.to_address, e.subject, e.text_body, e.html_body, e.message_id, e.next_attempt_at "
    "FROM core_notification n LEFT JOIN core_email_outbox e ON e.notification_id = n.id",
    "CREATE TRIGGER core_notice_insert INSTEAD OF INSERT ON core_notice BEGIN "
    "INSERT INTO core_notification (member_id, event_id, category, template, title, body, link, read_at, "
    "created_at) VALUES (NEW.member_id, NEW.event_id, NEW.category, NEW.template, NEW.title, NEW.body, NEW.link, "
    "NULL, NEW.created_at) ON CONFLICT DO NOTHING; "
    "INSERT INTO core_email_outbox (member_id, notification_id, to_address, subject, text_body, html_body, "
    "message_id, status, attempts, next_attempt_at, created_at) SELECT NEW.member_id, last_insert_rowid(), "
    "NEW.to_address, NEW.subject, NEW.text_body, NEW.html_body, NEW.message_id, 'pending', 0, "
    "NEW.next_attempt_at, NEW.created_at WHERE NEW.to_address IS NOT NULL AND changes() = 1; END",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_notifications", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if engine.engine_type == "sqlite":
            for statement in SQLITE:
                await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
