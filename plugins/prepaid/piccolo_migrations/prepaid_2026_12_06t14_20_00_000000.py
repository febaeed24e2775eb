"""The feed's index for a page of one service type (open requests by category and type, newest first)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T14:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the feed's index by service type"

STATEMENTS = [
    "CREATE INDEX prepaid_request_feed_type ON prepaid_request (status, category_id, service_type, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="prepaid", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
