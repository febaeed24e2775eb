"""Shared test helpers.  The fixtures themselves come from ``agorakit.testing``."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agorakit.errors import AgorakitError

#: agorakit's fixtures, opted into as a site's or a plugin's own conftest.py does (docs/testing.md)
pytest_plugins = ["agorakit.testing"]


def assert_problem(response, status: int, code: str, *, fields: set[str] | None = None) -> dict:
    """Assert an RFC 9457 problem-details response; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:agorakit:problem:{code}"
    assert body["title"] and body["detail"]
    if fields is not None:
        assert {e["field"] for e in body.get("errors", [])} == fields, body
    return body


@pytest.fixture
def problem():
    return assert_problem


@pytest.hookimpl(trylast=True)  # after pytest has grouped the tests by database
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests without a test database first (the benchmarks, the subprocess sites,
    the property tests: most of the long ones), then those on SQLite and on PostgreSQL in
    pytest's order: with ``-n`` the long ones run while the other worker goes through the
    database tests, and the run ends on short tests that spread over both workers."""
    items.sort(key=lambda item: "db_kind" in getattr(item, "fixturenames", ()))


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: also without xdist (-p no:xdist)
def pytest_xdist_make_scheduler(config, log):
    """``-n``: work stealing rather than xdist's one-test-at-a-time default.

    Each worker starts on one contiguous half of the suite (the SQLite runs, then the
    PostgreSQL runs and the tests without a database), so it goes through one site
    configuration after another and builds each one's app once; a worker that runs out
    takes over half of what another has left.  ``--dist loadfile`` and the other named
    modes keep theirs."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import WorkStealingScheduling

    return WorkStealingScheduling(config, log)


__all__ = ["AgorakitError", "assert_problem"]


SAMPLE_PLUGIN_SOURCE = Path(__file__).parent / "sample_plugin"


@pytest.fixture(scope="session")
def sample_plugin(tmp_path_factory) -> Path:
    """Install tests/sample_plugin with pip into a throwaway folder put on sys.path.

    Nothing else makes it importable, so finding it proves entry-point discovery.
    """
    source = tmp_path_factory.mktemp("sample-src") / "sample_plugin"
    shutil.copytree(
        SAMPLE_PLUGIN_SOURCE, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    target = tmp_path_factory.mktemp("sample-site-packages")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m == "agorakit_sample" or m.startswith("agorakit_sample.")]:
        del sys.modules[name]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A running S3-compatible server (SeaweedFS) with a bucket and an identity, for this
    test session: a :class:`s3_server.S3Server` (``endpoint``, ``bucket``, ``access_key``,
    ``secret_key``, ``site_config()``, ``site_toml()``, ``keys()``).  Without SeaweedFS's
    ``weed`` the test is skipped with the reason, except in CI, where it fails."""
    from s3_server import S3Unavailable, start_s3_server

    try:
        server = start_s3_server(tmp_path_factory.mktemp("s3-server"))
    except S3Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI runs the S3 storage tests: {exc}", pytrace=False)
        pytest.skip(str(exc))
    yield server
    server.stop()
