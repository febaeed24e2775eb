from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-22T04:21:49:788072"
VERSION = "1.38.0"
DESCRIPTION = "sample notes"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="sample", description=DESCRIPTION
    )

    manager.add_table(
        class_name="SampleNote",
        tablename="sample_note",
        schema=None,
        columns=None,
    )

    manager.add_column(
        table_class_name="SampleNote",
        tablename="sample_note",
        column_name="body",
        db_column_name="body",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 200,
            "default": "",
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

    manager.add_column(
        table_class_name="SampleNote",
        tablename="sample_note",
        column_name="stars",
        db_column_name="stars",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
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
