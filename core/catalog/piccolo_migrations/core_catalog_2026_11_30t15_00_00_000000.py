"""An index on the listing's currency.

A browse whose filters few of the newest listings pass looks its matches up by their
filters' indexes (see ``agorakit.catalog.search.WALK``); without this one a currency
that almost no listing has (``currency=EUR`` on a dollar site) was a scan of the whole
table (1.0 s on PostgreSQL at 1M listings).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index on the listing currency"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_catalog", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl("CREATE INDEX core_listing_currency ON core_listing (currency)")
        await engine.run_ddl("ANALYZE core_listing")

    manager.add_raw(run)
    return manager
