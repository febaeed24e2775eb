"""At most one open cancellation proposal per gig order."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T07:02:07:000000"
VERSION = "1.38.0"
DESCRIPTION = "one open cancellation proposal per order"

STATEMENTS = [
    "CREATE UNIQUE INDEX gigs_cancellation_one_open ON gigs_cancellation (order_id) WHERE status = 'open'",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="gigs", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
