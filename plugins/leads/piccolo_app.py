"""Piccolo app of the leads plugin."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.plugins.leads.tables import Lead, Profile, ProfileArea, ProfileCategory, Unlock

APP_CONFIG = AppConfig(
    app_name="leads",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Lead, Profile, ProfileCategory, ProfileArea, Unlock],
    migration_dependencies=["agorakit.orders.piccolo_app"],
)
