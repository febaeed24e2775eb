from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import JSON
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-06T16:23:24:971999"
VERSION = "1.38.0"
DESCRIPTION = "dispute member action"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="core_disputes", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Dispute",
        tablename="core_dispute",
        column_name="member_action",
        db_column_name="member_action",
        column_class_name="JSON",
        column_class=JSON,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
