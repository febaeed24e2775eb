"""SQLite: a posting's accounts and entries written by one insert, into the view
``core_ledger_leg`` (a posting's legs: an entry with its account's name).

PostgreSQL writes a posting's transaction, accounts and entries in one statement (a
data-modifying ``WITH``).  SQLite has none: the application inserts the transaction, then
the posting's legs into this view, whose ``INSTEAD OF`` trigger takes each leg in turn:
it refuses the whole statement at a debit that would take an account that may not go
negative below zero (one that does not exist yet holds nothing), moves the account
addressed by name, or opens it with the leg as its first balance (an escrow with its
parties), and writes the leg's entry with the account's balance after it.  An account's
balance is thus kept by the database with its entries, in the statement that writes them.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2027-01-11T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "SQLite: a posting's legs written through the view core_ledger_leg (a trigger)"

_ACCOUNT = "a.name = NEW.name AND a.currency = NEW.currency"

SQLITE = [
    'CREATE VIEW core_ledger_leg AS SELECT e."transaction", a.name, a.currency, a.kind, e.amount, '
    "a.allow_negative, a.member_id, a.buyer_id, a.seller_id, e.created_at "
    "FROM core_ledger_entry e JOIN core_ledger_account a ON a.id = e.account",
    "CREATE TRIGGER core_ledger_leg_insert INSTEAD OF INSERT ON core_ledger_leg BEGIN "
    "SELECT RAISE(ABORT, 'agorakit: a debit the account cannot take') WHERE NEW.amount < 0 "
    "AND NOT NEW.allow_negative AND NOT COALESCE((SELECT a.allow_negative OR a.balance + NEW.amount >= 0 "
    f"FROM core_ledger_account a WHERE {_ACCOUNT}), FALSE); "
    "UPDATE core_ledger_account SET balance = balance + NEW.amount, buyer_id = COALESCE(NEW.buyer_id, buyer_id), "
    "seller_id = COALESCE(NEW.seller_id, seller_id) WHERE name = NEW.name AND currency = NEW.currency; "
    "INSERT INTO core_ledger_account (name, currency, kind, balance, allow_negative, member_id, buyer_id, "
    "seller_id, created_at) SELECT NEW.name, NEW.currency, NEW.kind, NEW.amount, NEW.allow_negative, "
    "NEW.member_id, NEW.buyer_id, NEW.seller_id, NEW.created_at WHERE changes() = 0; "
    'INSERT INTO core_ledger_entry ("transaction", account, amount, currency, balance_after, created_at) '
    f'SELECT NEW."transaction", a.id, NEW.amount, NEW.currency, a.balance, NEW.created_at FROM core_ledger_account a WHERE {_ACCOUNT}; '
    "END",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_money", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if engine.engine_type == "sqlite":
            for statement in SQLITE:
                await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
