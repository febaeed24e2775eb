"""Indexes the order engine's queries need (unique history sequence, due timers)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T05:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "order history and timer indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX core_order_event_order_seq ON core_order_event ("order", seq)',
    "CREATE INDEX core_order_timer_due ON core_order_timer (status, due_at)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_orders", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
