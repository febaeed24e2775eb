"""Piccolo app of the bank_transfer plugin."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.plugins.bank_transfer.tables import PayoutBatch

APP_CONFIG = AppConfig(
    app_name="bank_transfer",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[PayoutBatch],
    migration_dependencies=["agorakit.money.piccolo_app"],
)
