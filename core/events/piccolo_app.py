"""Piccolo app of the domain event outbox."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.events.tables import ServerProcess, StoredEvent

APP_CONFIG = AppConfig(
    app_name="core_events",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[StoredEvent, ServerProcess],
    migration_dependencies=[],
)
