"""An index of qualification applications by status, in the order operators page them.

``GET /operator/qualifications?status=...`` lists one status oldest first (keyset on the
id); without it each page read the applications of every status.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-06T13:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index of qualifications by status"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_catalog", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl("CREATE INDEX core_qualification_status ON core_qualification (status, id)")

    manager.add_raw(run)
    return manager
