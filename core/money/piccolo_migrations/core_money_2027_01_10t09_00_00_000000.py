"""A member's available balance may be below zero: what they owe after a refund of an
order they were already paid for (a clawback, see docs/money.md).

Only the clawback posting takes it there (the ledger refuses every other debit that would
leave it below zero, and ``agorakit check-ledger`` checks that no available balance owes
more than the clawbacks took); the database's own rule therefore leaves available
accounts out.  The other accounts that may not go negative keep it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2027-01-10T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "available balances may owe a clawback"

POSTGRES = [
    "ALTER TABLE core_ledger_account DROP CONSTRAINT core_ledger_account_not_negative",
    "ALTER TABLE core_ledger_account ADD CONSTRAINT core_ledger_account_not_negative "
    "CHECK (allow_negative OR balance >= 0 OR kind = 'available')",
]


def _sqlite_refuse(name: str, event: str) -> str:
    return (
        f"CREATE TRIGGER {name} BEFORE {event} ON core_ledger_account "
        "WHEN NOT NEW.allow_negative AND NEW.balance < 0 AND NEW.kind <> 'available' "
        "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: core_ledger_account_not_negative'); END"
    )


SQLITE = [
    "DROP TRIGGER core_ledger_account_not_negative_insert",
    "DROP TRIGGER core_ledger_account_not_negative_update",
    _sqlite_refuse("core_ledger_account_not_negative_insert", "INSERT"),
    _sqlite_refuse("core_ledger_account_not_negative_update", "UPDATE OF balance"),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_money", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in SQLITE if engine.engine_type == "sqlite" else POSTGRES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
