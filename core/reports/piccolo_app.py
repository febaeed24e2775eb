"""Piccolo app of the reports area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.reports.tables import Report

APP_CONFIG = AppConfig(
    app_name="core_reports",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Report],
    migration_dependencies=["agorakit.messaging.piccolo_app", "agorakit.accounts.piccolo_app"],
)
