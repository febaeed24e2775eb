"""Voucher rules in raw SQL, per engine.

One voucher per issuer and Idempotency-Key; the sweep finds due vouchers by (status,
expires_at); a voucher's amount is positive and is exactly its credit and available
parts (a CHECK on PostgreSQL, a trigger on SQLite, which cannot add CHECKs to a table).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T10:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "voucher constraints"

INDEXES = [
    "CREATE UNIQUE INDEX core_voucher_issuer_key ON core_voucher (issuer_id, idempotency_key)",
    "CREATE INDEX core_voucher_status_expires ON core_voucher (status, expires_at)",
]


def _amounts(row: str = "") -> str:
    return (
        f"{row}amount > 0 AND {row}from_credit >= 0 AND {row}from_available >= 0 "
        f"AND {row}from_credit + {row}from_available = {row}amount"
    )


POSTGRES = [f"ALTER TABLE core_voucher ADD CONSTRAINT core_voucher_amounts CHECK ({_amounts()})"]

SQLITE = [
    f"CREATE TRIGGER core_voucher_amounts BEFORE INSERT ON core_voucher WHEN NOT ({_amounts('NEW.')}) "
    "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: core_voucher_amounts'); END"
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_money", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in INDEXES + (SQLITE if engine.engine_type == "sqlite" else POSTGRES):
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
