"""Indexes of the notifications area: one notification per (event, member, template) so a
re-delivered event never notifies twice, one email per notification, one preference per
(member, category), and the outbox's due-rows scan."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T07:13:30:000000"
VERSION = "1.38.0"
DESCRIPTION = "notification, email outbox and preference indexes"

STATEMENTS = [
    "CREATE UNIQUE INDEX core_notification_event_member_template "
    "ON core_notification (event_id, member_id, template)",
    "CREATE INDEX core_notification_member_unread ON core_notification (member_id, read_at)",
    "CREATE UNIQUE INDEX core_email_outbox_notification ON core_email_outbox (notification_id)",
    "CREATE INDEX core_email_outbox_due ON core_email_outbox (status, next_attempt_at)",
    "CREATE UNIQUE INDEX core_notification_preference_member_category "
    "ON core_notification_preference (member_id, category)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_notifications", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
