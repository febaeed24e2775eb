"""The site's tests run on agorakit's pytest fixtures (agorakit's docs/testing.md).

Each test that uses the database (``client``, ``runtime``, ``make_member``, ...) runs
twice: on SQLite and on PostgreSQL at ``AGORAKIT_TEST_POSTGRES_DSN`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``; a throwaway database is created and
dropped). Without a reachable server the PostgreSQL half is skipped, with ``CI`` set it fails.

``site_config`` is this site's own ``site.toml`` (its plugins, methods and settings) with
a test database and test secrets: a test overrides it to try other settings.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["agorakit.testing"]

PROJECT = Path(__file__).resolve().parent.parent


def site_toml() -> dict[str, Any]:
    """site.toml as the tests run it: agorakit's test database and token secret instead of
    its own, and the email templates folder found from anywhere."""
    data = tomllib.loads((PROJECT / "site.toml").read_text(encoding="utf-8"))
    data.pop("database", None)
    data.get("auth", {}).pop("jwt_secret", None)
    email = data.get("email", {})
    if email.get("templates_dir"):
        email["templates_dir"] = str(PROJECT / email["templates_dir"])
    return data


@pytest.fixture(scope="session")
def attachments_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attachments")


@pytest.fixture
def site_config(attachments_dir: Path) -> dict[str, Any]:
    data = site_toml()
    data.setdefault("attachments", {})["path"] = str(attachments_dir)
    return data
