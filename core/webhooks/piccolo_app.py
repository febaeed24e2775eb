"""Piccolo app of the webhooks area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.webhooks.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookFeed

APP_CONFIG = AppConfig(
    app_name="core_webhooks",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[WebhookEndpoint, WebhookDelivery, WebhookAttempt, WebhookFeed],
    migration_dependencies=["agorakit.events.piccolo_app"],
)
