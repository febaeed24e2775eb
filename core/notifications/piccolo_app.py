"""Piccolo app of the notifications area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.notifications.tables import EmailOutbox, Notification, NotificationPreference

APP_CONFIG = AppConfig(
    app_name="core_notifications",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Notification, EmailOutbox, NotificationPreference],
    migration_dependencies=["agorakit.accounts.piccolo_app"],
)
