"""Piccolo app of the attachments area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.attachments.tables import Attachment

APP_CONFIG = AppConfig(
    app_name="core_attachments",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Attachment],
    migration_dependencies=["agorakit.accounts.piccolo_app"],
)
