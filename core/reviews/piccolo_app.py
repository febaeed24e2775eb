"""Piccolo app of the reviews area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.reviews.tables import Review

APP_CONFIG = AppConfig(
    app_name="core_reviews",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Review],
    migration_dependencies=["agorakit.orders.piccolo_app", "agorakit.catalog.piccolo_app"],
)
