"""The operators' queue: open (or closed) tickets, those waiting first, the oldest first."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T16:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "support queue index"

STATEMENTS = [
    "CREATE INDEX core_support_ticket_queue ON core_support_ticket (status, waiting DESC, queue_key, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_support", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
