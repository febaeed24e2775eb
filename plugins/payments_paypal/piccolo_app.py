"""Piccolo app of the payments_paypal plugin."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.plugins.payments_paypal.tables import PayPalOrder

APP_CONFIG = AppConfig(
    app_name="payments_paypal",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[PayPalOrder],
    migration_dependencies=["agorakit.money.piccolo_app"],
)
