"""At most one open report per reporter, conversation and reported member (or none)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T16:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one open report per reporter and target"

STATEMENTS = [
    "CREATE UNIQUE INDEX core_report_one_open ON core_report "
    "(reporter_id, conversation_id, COALESCE(member_id, 0)) WHERE status = 'open'",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_reports", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
