"""Piccolo app of the support area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.support.tables import SupportTicket

APP_CONFIG = AppConfig(
    app_name="core_support",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[SupportTicket],
    migration_dependencies=["agorakit.messaging.piccolo_app"],
)
