"""A conversation's activity (its last message and when) kept by the database: a trigger
after each message inserted moves it to the newest message, in the statement that
inserts the message."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "a conversation's last message kept by a trigger"

_TOUCH = (
    "UPDATE core_conversation SET last_message_id = NEW.id, last_message_at = NEW.created_at "
    "WHERE id = NEW.conversation AND last_message_id < NEW.id;"
)

POSTGRES = [
    "CREATE FUNCTION core_message_touch_conversation() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN {_TOUCH} RETURN NULL; END $$",
    "CREATE TRIGGER core_message_touch_conversation AFTER INSERT ON core_message "
    "FOR EACH ROW EXECUTE FUNCTION core_message_touch_conversation()",
]
SQLITE = [
    f"CREATE TRIGGER core_message_touch_conversation AFTER INSERT ON core_message BEGIN {_TOUCH} END",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_messaging", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in SQLITE if engine.engine_type == "sqlite" else POSTGRES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
