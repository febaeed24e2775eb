"""Uniqueness rules of messaging: one conversation per key, one participation per member
and conversation, one system message per domain event; the message paging index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T06:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "conversation, participant and event uniqueness; message paging index"

STATEMENTS = [
    'CREATE UNIQUE INDEX core_conversation_key_unique ON core_conversation ("key")',
    "CREATE UNIQUE INDEX core_conversation_participant_unique "
    'ON core_conversation_participant ("conversation", member_id)',
    "CREATE UNIQUE INDEX core_message_event_unique ON core_message (event_id)",
    'CREATE INDEX core_message_conversation_id ON core_message ("conversation", id)',
    "CREATE INDEX core_conversation_activity ON core_conversation (last_message_id, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_messaging", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
