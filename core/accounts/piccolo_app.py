"""Piccolo app of the accounts area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.accounts.tables import AccountToken, Member, MemberFlag, MemberWarning, ThrottleCount

APP_CONFIG = AppConfig(
    app_name="core_accounts",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Member, AccountToken, MemberWarning, MemberFlag, ThrottleCount],
    migration_dependencies=[],
)
