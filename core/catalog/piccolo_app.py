"""Piccolo app of the catalog area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.catalog.tables import Category, CategoryVersion, Listing, Qualification

APP_CONFIG = AppConfig(
    app_name="core_catalog",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Category, CategoryVersion, Qualification, Listing],
    migration_dependencies=["agorakit.accounts.piccolo_app"],
)
