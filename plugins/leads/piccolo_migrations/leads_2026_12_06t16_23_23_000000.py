"""The feed's indexes (open leads by category, newest first), matching
businesses by category and place, and one unlock per business and lead."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T16:23:23:000000"
VERSION = "1.38.0"
DESCRIPTION = "the feed's indexes, matching indexes and the uniqueness of unlocks"

STATEMENTS = [
    "CREATE INDEX leads_lead_feed ON leads_lead (status, category_id, id)",
    "CREATE UNIQUE INDEX leads_unlock_pair ON leads_unlock (lead_id, business_id)",
    "CREATE UNIQUE INDEX leads_unlock_key ON leads_unlock (business_id, idempotency_key)",
    "CREATE UNIQUE INDEX leads_profile_category_pair ON leads_profile_category (category_id, member_id)",
    "CREATE INDEX leads_profile_area_postal ON leads_profile_area (country, postal_prefix)",
    "CREATE INDEX leads_profile_area_city ON leads_profile_area (country, city)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="leads", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
