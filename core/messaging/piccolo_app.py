"""Piccolo app of the messaging area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.messaging.tables import Conversation, ConversationParticipant, Message

APP_CONFIG = AppConfig(
    app_name="core_messaging",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Conversation, ConversationParticipant, Message],
    migration_dependencies=["agorakit.accounts.piccolo_app"],
)
