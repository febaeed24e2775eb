"""Migrations on both engines, and the guard against a table changed without one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from piccolo.columns import Varchar
from piccolo.conf.apps import AppConfig
from piccolo.table import TABLE_REGISTRY, Table

from agorakit.accounts.piccolo_app import APP_CONFIG as ACCOUNTS
from agorakit.db.migrate import MigrationFailed, pending_changes, sort_apps
from agorakit.hooks import collect, get_plugin_manager, installed_plugins
from agorakit.testing import create_postgres_database, drop_postgres_database, postgres_admin_dsn


@pytest.fixture
async def fresh_database_url(db_kind, database_url, tmp_path):
    """An empty database of the session's kind, never migrated."""
    if db_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    name = f"agorakit_fresh_{uuid.uuid4().hex[:10]}"
    url = await create_postgres_database(postgres_admin_dsn(), name)
    yield url
    await drop_postgres_database(postgres_admin_dsn(), name)


def config_file(tmp_path, url: str, plugins: str = ""):
    path = tmp_path / "site.toml"
    path.write_text(
        f'[site]\nplugins = [{plugins}]\n[auth]\njwt_secret = "{"k" * 40}"\n[database]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return path


def test_migrate_command_builds_the_schema_once(fresh_database_url, tmp_path, sample_plugin):
    from agorakit.cli import build_cli

    config = config_file(tmp_path, fresh_database_url, plugins='"sample"')
    cli = build_cli(["--config", str(config)])
    first = CliRunner().invoke(cli, ["--config", str(config), "migrate"])
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    applied = [line.split(":")[0].removeprefix("applied ") for line in lines]
    assert applied[0] == "core_accounts"  # the others depend on it
    # Every migration file of every core area, and the sample plugin's one.
    pm = get_plugin_manager(["sample"])
    expected = [
        app.app_name
        for app in collect(pm.hook.agorakit_tables())
        for path in Path(app.migrations_folder_path).glob("*.py")
        if path.name != "__init__.py"
    ]
    assert {"core_accounts", "core_money", "core_catalog", "sample"} <= set(expected)
    assert sorted(applied) == sorted(expected)
    second = CliRunner().invoke(cli, ["--config", str(config), "migrate"])
    assert second.exit_code == 0 and second.output == "no migrations to apply\n"

    # The schema works: an operator can be created against the migrated database.
    created = CliRunner().invoke(
        cli,
        [
            "--config",
            str(config),
            "users",
            "create-operator",
            "--email",
            "ops@example.com",
            "--country",
            "DE",
            "--password-stdin",
        ],
        input="operator-passphrase-99\n",
    )
    assert created.exit_code == 0, created.output
    assert created.output.startswith("operator ops@example.com created")


def test_every_app_has_migrations_for_its_tables(sample_plugin):
    import asyncio

    pm = get_plugin_manager(sorted(installed_plugins()))
    apps = collect(pm.hook.agorakit_tables())
    assert "core_accounts" in {app.app_name for app in apps}
    for app in apps:
        changes = asyncio.run(pending_changes(app))
        assert changes == [], f"{app.app_name}: tables changed without a migration: {changes}"


def test_changed_table_without_migration_is_detected():
    import asyncio

    class Member(Table, tablename="core_member"):
        email = Varchar(length=254)
        nickname = Varchar(length=40)  # a column no migration creates

    try:
        changed = AppConfig(
            app_name="core_accounts",
            migrations_folder_path=ACCOUNTS.migrations_folder_path,
            table_classes=[Member],
        )
        changes = asyncio.run(pending_changes(changed))
        assert any("nickname" in change for change in changes)
    finally:
        TABLE_REGISTRY.remove(Member)


def test_apps_are_migrated_after_their_dependencies():
    plugin_app = AppConfig(
        app_name="later",
        migrations_folder_path="/nonexistent",
        migration_dependencies=["agorakit.accounts.piccolo_app"],
    )
    assert [a.app_name for a in sort_apps([plugin_app, ACCOUNTS])] == ["core_accounts", "later"]
    twin = AppConfig(app_name="core_accounts", migrations_folder_path="/elsewhere")
    with pytest.raises(MigrationFailed, match="share a name"):
        sort_apps([ACCOUNTS, twin])
