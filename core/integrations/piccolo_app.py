"""Piccolo app of the integrations area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.integrations.tables import IntegrationToken

APP_CONFIG = AppConfig(
    app_name="core_integrations",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[IntegrationToken],
    migration_dependencies=["agorakit.accounts.piccolo_app"],
)
