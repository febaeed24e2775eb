"""Count the category tree's changes in ``core_category_version``, by triggers.

Browsing keeps the category tree in each process's memory and reads this count in the
page's own statement; a process whose copy was loaded at another count loads it again.
Triggers rather than the service's own code count every change, whoever makes it (the
API, a console form, a migration, a seed script, another host), in the transaction that
makes it: a statement sees the change and the new count together, or neither.

The count's row is created by the first change (an upsert), so that emptying the table
leaves nothing broken: no row counts as 0.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T09:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "count the category tree's changes (triggers)"

BUMP = (
    "INSERT INTO core_category_version (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = core_category_version.version + 1"
)

POSTGRES = [
    "CREATE FUNCTION core_category_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN {BUMP}; RETURN NULL; END $$",
    # once per statement, whatever the number of rows (TRUNCATE included)
    "CREATE TRIGGER core_category_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON core_category "
    "FOR EACH STATEMENT EXECUTE FUNCTION core_category_changed()",
]

# SQLite has row triggers only: a statement changing n categories counts n changes.
SQLITE = [
    f"CREATE TRIGGER core_category_{event.lower()} AFTER {event} ON core_category BEGIN {BUMP}; END"
    for event in ("INSERT", "UPDATE", "DELETE")
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_catalog", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in SQLITE if engine.engine_type == "sqlite" else POSTGRES:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
