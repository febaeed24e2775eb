"""An index of the orders without a seller, for ``GET /orders/open``.

The open orders a member may take are read newest first from the orders without a seller
(``agorakit.orders.open``).  Without this index PostgreSQL walked the primary key
backwards past every order with a seller (most orders have one): 55 to 190 ms a page at
100k open orders among 500k, against 1 to 4 ms when the newest open orders fill the
page.  Partial: only the orders without a seller are in it; ``state`` is in it so that
the states a candidate takes orders from are tested in the index.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-21T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "partial index of the orders without a seller (open orders)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_orders", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl("CREATE INDEX core_order_open ON core_order (id, state) WHERE seller_id IS NULL")
        await engine.run_ddl("ANALYZE core_order")

    manager.add_raw(run)
    return manager
