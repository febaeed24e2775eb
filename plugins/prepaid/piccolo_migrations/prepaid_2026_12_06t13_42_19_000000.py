"""The feed's index (open requests by category, newest first); one request per buyer and Idempotency-Key."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T13:42:19:000000"
VERSION = "1.38.0"
DESCRIPTION = "the feed's index and the uniqueness of request keys"

STATEMENTS = [
    "CREATE INDEX prepaid_request_feed ON prepaid_request (status, category_id, id)",
    "CREATE UNIQUE INDEX prepaid_request_key ON prepaid_request (buyer_id, idempotency_key)",
    "CREATE INDEX prepaid_offer_request ON prepaid_offer (request_id, status)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="prepaid", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
