"""Running a Hypothesis state machine against a real runtime, on SQLite or PostgreSQL.

Hypothesis state machines are synchronous, so such a test builds its own runtime on its
own fresh database and event loop instead of using the (async) fixtures; the database
is created (PostgreSQL) and dropped by the test.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as Settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from agorakit.clock import FrozenClock
from agorakit.testing import (
    TEST_DEFAULTS,
    TEST_EPOCH,
    create_postgres_database,
    deep_merge,
    drop_postgres_database,
    postgres_admin_dsn,
    postgres_unreachable_reason,
)


class World:
    """A runtime with ``plugins`` and ``config`` on its own database, driven by its own
    event loop, with a frozen clock."""

    def __init__(self, database_url: str, *, plugins: list[tuple[str, Any]], config: dict[str, Any]) -> None:
        from agorakit.db.migrate import migrate
        from agorakit.hooks import get_plugin_manager
        from agorakit.runtime import Runtime
        from agorakit.settings import settings_from_dict

        pm = get_plugin_manager([], extra=plugins, source="property test")
        data = deep_merge(TEST_DEFAULTS, {**config, "database": {"url": database_url}})
        site = settings_from_dict(data, source="property test", environ={}, pm=pm)
        self.loop = asyncio.new_event_loop()
        self.clock = FrozenClock(TEST_EPOCH)
        self.runtime = Runtime(site, pm=pm, clock=self.clock)
        self.run(self.runtime.db.start())
        self.run(migrate(self.runtime.db, self.runtime.apps))

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        try:
            self.run(self.runtime.db.close())
            self.run(self.loop.shutdown_asyncgens())
        finally:
            self.loop.close()


def _run_once(coroutine: Any) -> Any:
    """Run one coroutine on a loop of its own (leaving the thread's event loop alone)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def run_machine(
    kind: str,
    tmp_path: Path,
    machine: Callable[[World], RuleBasedStateMachine],
    *,
    plugins: list[tuple[str, Any]],
    config: dict[str, Any],
    settings: Settings,
) -> None:
    """Run ``machine(world)`` as a test on a fresh ``kind`` ("sqlite" or "postgres")
    database; PostgreSQL is skipped when unreachable (a failure on CI)."""
    admin, name = postgres_admin_dsn(), f"agorakit_props_{uuid.uuid4().hex[:12]}"
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'properties.sqlite3'}"
    else:
        reason = _run_once(postgres_unreachable_reason(admin))
        if reason:
            if os.environ.get("CI"):
                pytest.fail(f"CI requires PostgreSQL: {reason}", pytrace=False)
            pytest.skip(reason)
        url = _run_once(create_postgres_database(admin, name))
    try:
        world = World(url, plugins=plugins, config=config)
        try:
            run_state_machine_as_test(lambda: machine(world), settings=settings)
        finally:
            world.close()
    finally:
        if kind == "postgres":
            _run_once(drop_postgres_database(admin, name))
