from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-30T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the owner's seller rating on each listing (the key of sort=rating)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_catalog", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Listing",
        tablename="core_listing",
        column_name="seller_rating",
        db_column_name="seller_rating",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": -1,
            "null": False,
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
