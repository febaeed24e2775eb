"""Piccolo app of the prepaid plugin."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.plugins.prepaid.tables import Offer, Release, Request, SellerLocks

APP_CONFIG = AppConfig(
    app_name="prepaid",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Request, Offer, Release, SellerLocks],
    migration_dependencies=["agorakit.orders.piccolo_app"],
)
