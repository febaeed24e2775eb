"""Piccolo app of the money area."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from agorakit.money.tables import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    Voucher,
    Withdrawal,
)

APP_CONFIG = AppConfig(
    app_name="core_money",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[LedgerAccount, LedgerTransaction, LedgerEntry, Payment, Withdrawal, Voucher],
    migration_dependencies=["agorakit.accounts.piccolo_app"],
)
