"""Piccolo app of the domain event outbox."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.events.tables import StoredEvent

APP_CONFIG = AppConfig(
    app_name="core_events",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[StoredEvent],
    migration_dependencies=[],
)
