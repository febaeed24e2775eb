"""Payments looked up by the escrow they fund.

Starting a payment into an order's escrow looks for the order's open or completed
payments (one payment funds an order, once); an index on (escrow_ref, status) keeps
that one lookup cheap however many payments the site has.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index payments by escrow"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_money", description=DESCRIPTION)

    async def run() -> None:
        await engine_finder().run_ddl(
            "CREATE INDEX core_payment_escrow_ref_status ON core_payment (escrow_ref, status)"
        )

    manager.add_raw(run)
    return manager
