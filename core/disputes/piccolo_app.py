"""Piccolo app of the disputes area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.disputes.tables import Dispute

APP_CONFIG = AppConfig(
    app_name="core_disputes",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Dispute],
    migration_dependencies=["agorakit.orders.piccolo_app"],
)
