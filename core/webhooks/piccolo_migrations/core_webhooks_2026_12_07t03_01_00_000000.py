"""One first delivery per endpoint and event (the fan-out's insert-or-ignore), and the
index the sender finds each endpoint's next pending delivery by."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T03:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "webhook delivery uniqueness"

STATEMENTS = [
    "CREATE UNIQUE INDEX core_webhook_delivery_first ON core_webhook_delivery (endpoint_id, event_id) "
    "WHERE NOT replay",
    "CREATE INDEX core_webhook_delivery_queue ON core_webhook_delivery (endpoint_id, status, id)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_webhooks", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
