"""One dispute per party per order, and at most one open dispute per order."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T06:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dispute uniqueness"

STATEMENTS = [
    "CREATE UNIQUE INDEX core_dispute_order_opener ON core_dispute (order_id, opened_by)",
    "CREATE UNIQUE INDEX core_dispute_one_open ON core_dispute (order_id) WHERE status = 'open'",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_disputes", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
