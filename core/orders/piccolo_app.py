"""Piccolo app of the orders area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.orders.tables import Order, OrderEvent, OrderItem, OrderTimer, Proof

APP_CONFIG = AppConfig(
    app_name="core_orders",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Order, OrderItem, OrderEvent, OrderTimer, Proof],
    migration_dependencies=["agorakit.accounts.piccolo_app", "agorakit.money.piccolo_app"],
)
