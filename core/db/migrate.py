"""Migrations: the core's areas and every enabled plugin are Piccolo apps.

``agorakit migrate`` applies each app's ``piccolo_migrations/`` in dependency order on
the site's engine (SQLite or PostgreSQL).  :func:`pending_changes` tells whether an app's
tables differ from what its migrations build; a test runs it for every app so that a
changed table without a migration fails the suite.  New migrations are written with
``agorakit makemigrations APP`` (generate them against PostgreSQL).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import sys
from collections.abc import Iterable, Sequence

from piccolo.apps.migrations.commands.forwards import ForwardsMigrationManager
from piccolo.apps.migrations.commands.new import (
    AutoMigrationManager,
    NoChanges,
    _create_new_migration,
)
from piccolo.conf.apps import AppConfig

from agorakit.db import Database

log = logging.getLogger("agorakit.db")


class MigrationFailed(Exception):
    pass


def sort_apps(apps: Iterable[AppConfig]) -> list[AppConfig]:
    """Order apps so that each comes after the apps named in its migration_dependencies."""
    apps = list(apps)
    by_name = {app.app_name: app for app in apps}
    if len(by_name) != len(apps):
        names = [app.app_name for app in apps]
        message = f"two Piccolo apps share a name: {names}"
        raise MigrationFailed(message)
    ordered: list[AppConfig] = []
    visiting: set[str] = set()

    def visit(app: AppConfig) -> None:
        if app in ordered:
            return
        if app.app_name in visiting:
            message = f"migration dependencies form a cycle at {app.app_name!r}"
            raise MigrationFailed(message)
        visiting.add(app.app_name)
        for dependency in app.migration_dependencies:
            dep_config = _load_app_config(dependency)
            if dep_config.app_name in by_name:
                visit(by_name[dep_config.app_name])
        visiting.discard(app.app_name)
        ordered.append(app)

    for app in apps:
        visit(app)
    return ordered


def _load_app_config(module_path: str) -> AppConfig:
    return importlib.import_module(module_path).APP_CONFIG


async def migrate(db: Database, apps: Sequence[AppConfig], *, verbose: bool = False) -> list[str]:
    """Apply every app's pending migrations; returns ``app:migration_id`` for each applied.

    Safe to run again: migrations already recorded are skipped.
    """
    db.bind(apps)
    applied: list[str] = []
    out = sys.stdout if verbose else io.StringIO()
    for app in sort_apps(apps):
        manager = ForwardsMigrationManager(app_name=app.app_name)
        with contextlib.redirect_stdout(out):
            await manager.create_migration_table()
            before = set(await _ran(app))
            result = await manager.run_migrations(app)
        if not result.success:
            message = f"migrating {app.app_name!r} failed: {result.message}"
            raise MigrationFailed(message)
        applied += [f"{app.app_name}:{m}" for m in sorted(set(await _ran(app)) - before)]
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return applied


async def _ran(app: AppConfig) -> list[str]:
    from piccolo.apps.migrations.tables import Migration

    return await Migration.get_migrations_which_ran(app_name=app.app_name)


async def unapplied_migrations(apps: Sequence[AppConfig]) -> list[str]:
    """The migrations of ``apps`` the database has not recorded as run, as
    ``app:migration_id`` (what ``agorakit migrate`` would apply), read with one query.

    The migrations each app ships are read from its folder once per process."""
    from piccolo.apps.migrations.tables import Migration

    rows = await Migration.select(Migration.app_name, Migration.name)
    ran = {(row["app_name"], row["name"]) for row in rows}
    return [
        f"{app.app_name}:{migration_id}"
        for app in apps
        for migration_id in _shipped(app)
        if (app.app_name, migration_id) not in ran
    ]


def _shipped(app: AppConfig) -> list[str]:
    """The migration ids in an app's ``piccolo_migrations/`` folder (cached per app)."""
    found = _SHIPPED.get(app.app_name)
    if found is None:
        manager = ForwardsMigrationManager(app_name=app.app_name)
        modules = manager.get_migration_modules(app.resolved_migrations_folder_path)
        found = _SHIPPED[app.app_name] = manager.get_migration_ids(modules)
    return found


_SHIPPED: dict[str, list[str]] = {}


async def pending_changes(app: AppConfig) -> list[str]:
    """The schema changes an app's tables have that its migrations do not make."""
    with contextlib.redirect_stdout(io.StringIO()):
        statements = await AutoMigrationManager(auto_input="y").get_alter_statements(app)
    return [s for group in statements for s in group.statements]


async def make_migration(app: AppConfig, description: str) -> str | None:
    """Write a new auto migration for ``app``; returns its path, or None if nothing changed."""
    try:
        meta = await _create_new_migration(app, auto=True, description=description, auto_input="y")
    except NoChanges:
        return None
    return meta.migration_path
