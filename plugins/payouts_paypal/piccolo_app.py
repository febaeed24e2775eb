"""Piccolo app of the payouts_paypal plugin."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.plugins.payouts_paypal.tables import PayPalPayoutBatch, PayPalPayoutItem

APP_CONFIG = AppConfig(
    app_name="payouts_paypal",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[PayPalPayoutBatch, PayPalPayoutItem],
    migration_dependencies=["agorakit.money.piccolo_app"],
)
