"""Piccolo app of the microjobs plugin."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.plugins.microjobs.tables import Campaign, Funding, GroupMember, Skill, Task, WorkerGroup

APP_CONFIG = AppConfig(
    app_name="microjobs",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Campaign, Funding, Task, WorkerGroup, GroupMember, Skill],
    migration_dependencies=["agorakit.orders.piccolo_app"],
)
