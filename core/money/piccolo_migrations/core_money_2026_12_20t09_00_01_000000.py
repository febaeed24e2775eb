"""Withdrawals requested before they had a due date are due 7 days after their request
(the default of ``[money] payout_days``).

A migration of its own: Piccolo runs a migration's raw SQL before the columns it adds.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-20T09:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "due dates of the withdrawals requested before"

POSTGRES = "UPDATE core_withdrawal SET due_at = created_at + interval '7 days' WHERE due_at IS NULL"
#: timestamps are text in UTC there ("2026-12-20 09:00:00.123456+00:00")
SQLITE = "UPDATE core_withdrawal SET due_at = datetime(created_at, '+7 days') || '+00:00' WHERE due_at IS NULL"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_money", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl(POSTGRES if engine.engine_type == "postgres" else SQLITE)

    manager.add_raw(run)
    return manager
