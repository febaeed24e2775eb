"""Piccolo app of the paypal plugin."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.plugins.paypal.tables import WebhookEvent

APP_CONFIG = AppConfig(
    app_name="paypal",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[WebhookEvent],
    migration_dependencies=["agorakit.money.piccolo_app"],
)
