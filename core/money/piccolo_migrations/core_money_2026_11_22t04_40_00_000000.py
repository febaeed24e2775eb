"""Ledger integrity rules in raw SQL, per engine.

SQLite cannot add CHECK constraints to an existing table, so there they are triggers.
PostgreSQL also gets a deferred constraint trigger that refuses a ledger transaction
whose entries do not sum to zero per currency, and refuses UPDATE/DELETE of entries and
transactions (append-only).  On SQLite, UPDATE is refused; DELETE stays possible so that
test suites can empty a database.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T04:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger integrity constraints and triggers"

UNIQUE_INDEXES = [
    "CREATE UNIQUE INDEX core_ledger_account_name_currency ON core_ledger_account (name, currency)",
    "CREATE UNIQUE INDEX core_payment_payer_key ON core_payment (payer_id, idempotency_key)",
    "CREATE UNIQUE INDEX core_withdrawal_member_key ON core_withdrawal (member_id, idempotency_key)",
    "CREATE INDEX core_ledger_entry_account_id ON core_ledger_entry (account, id)",
]

POSTGRES = [
    "ALTER TABLE core_ledger_account ADD CONSTRAINT core_ledger_account_not_negative "
    "CHECK (allow_negative OR balance >= 0)",
    "ALTER TABLE core_ledger_entry ADD CONSTRAINT core_ledger_entry_not_zero CHECK (amount <> 0)",
    "ALTER TABLE core_payment ADD CONSTRAINT core_payment_positive CHECK (amount > 0)",
    "ALTER TABLE core_withdrawal ADD CONSTRAINT core_withdrawal_amounts "
    "CHECK (amount > 0 AND fee >= 0 AND fee < amount)",
    """
    CREATE FUNCTION core_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
    END $$
    """,
    "CREATE TRIGGER core_ledger_entry_append_only BEFORE UPDATE OR DELETE ON core_ledger_entry "
    "FOR EACH ROW EXECUTE FUNCTION core_ledger_append_only()",
    "CREATE TRIGGER core_ledger_transaction_append_only BEFORE UPDATE OR DELETE ON core_ledger_transaction "
    "FOR EACH ROW EXECUTE FUNCTION core_ledger_append_only()",
    """
    CREATE FUNCTION core_ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (
            SELECT 1 FROM core_ledger_entry WHERE "transaction" = NEW."transaction"
            GROUP BY currency HAVING SUM(amount) <> 0
        ) THEN
            RAISE EXCEPTION 'ledger transaction % is not balanced', NEW."transaction"
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE CONSTRAINT TRIGGER core_ledger_entry_balanced AFTER INSERT ON core_ledger_entry "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION core_ledger_check_balanced()",
]


def _sqlite_refuse(name: str, event: str, table: str, when: str, message: str) -> str:
    condition = f" WHEN {when}" if when else ""
    return (
        f"CREATE TRIGGER {name} BEFORE {event} ON {table}{condition} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


SQLITE = [
    _sqlite_refuse(
        "core_ledger_account_not_negative_insert", "INSERT", "core_ledger_account",
        "NOT NEW.allow_negative AND NEW.balance < 0", "CHECK constraint failed: core_ledger_account_not_negative",
    ),
    _sqlite_refuse(
        "core_ledger_account_not_negative_update", "UPDATE OF balance", "core_ledger_account",
        "NOT NEW.allow_negative AND NEW.balance < 0", "CHECK constraint failed: core_ledger_account_not_negative",
    ),
    _sqlite_refuse(
        "core_ledger_entry_not_zero", "INSERT", "core_ledger_entry", "NEW.amount = 0",
        "CHECK constraint failed: core_ledger_entry_not_zero",
    ),
    _sqlite_refuse(
        "core_payment_positive", "INSERT", "core_payment", "NEW.amount <= 0",
        "CHECK constraint failed: core_payment_positive",
    ),
    _sqlite_refuse(
        "core_withdrawal_amounts", "INSERT", "core_withdrawal",
        "NOT (NEW.amount > 0 AND NEW.fee >= 0 AND NEW.fee < NEW.amount)",
        "CHECK constraint failed: core_withdrawal_amounts",
    ),
    _sqlite_refuse(
        "core_ledger_entry_append_only", "UPDATE", "core_ledger_entry", "",
        "the ledger is append-only: UPDATE on core_ledger_entry refused",
    ),
    _sqlite_refuse(
        "core_ledger_transaction_append_only", "UPDATE", "core_ledger_transaction", "",
        "the ledger is append-only: UPDATE on core_ledger_transaction refused",
    ),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_money", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        statements = UNIQUE_INDEXES + (SQLITE if engine.engine_type == "sqlite" else POSTGRES)
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
