"""Indexes of the attachments area (one row per stored file)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T06:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "attachment storage key index"

STATEMENTS = [
    "CREATE UNIQUE INDEX core_attachment_storage_key ON core_attachment (storage, storage_key)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_attachments", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
