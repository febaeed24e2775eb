"""Piccolo app of the test clock."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.testclock.tables import SiteClock

APP_CONFIG = AppConfig(
    app_name="core_testclock",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[SiteClock],
    migration_dependencies=[],
)
