"""Piccolo app of the gigs plugin."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.plugins.gigs.tables import GigCancellation

APP_CONFIG = AppConfig(
    app_name="gigs",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[GigCancellation],
    migration_dependencies=["agorakit.orders.piccolo_app"],
)
