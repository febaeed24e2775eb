"""One test clock, many processes: two ``agorakit run`` servers, an ``agorakit worker``
and the ``agorakit clock`` command, as real processes on one SQLite file or PostgreSQL
database, all see one advance at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest

from tests.test_faults import AGORAKIT, OPERATOR_EMAIL, OPERATOR_PASSWORD, Server, Site, site  # noqa: F401


@pytest.fixture
def clock_site(site: Site) -> Site:  # noqa: F811
    site.env["AGORAKIT_SITE__ENVIRONMENT"] = "development"
    site.env["AGORAKIT_DEV__TEST_CLOCK"] = "true"
    return site


@contextlib.contextmanager
def running(clock_site: Site) -> Iterator[tuple[Server, Server, subprocess.Popen]]:
    servers = [Server(clock_site), Server(clock_site)]
    log = (clock_site.directory / "worker.log").open("ab")
    worker = subprocess.Popen(
        [str(AGORAKIT), "worker", "--interval", "0.2"],
        env=clock_site.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        for server in servers:  # both start at once
            server.launch()
        for server in servers:
            server.wait_ready()
        yield servers[0], servers[1], worker
    finally:
        for server in servers:
            server.stop()
        worker.terminate()
        worker.wait(timeout=20)
        log.close()


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def sent_at(clock_site: Site, email: str) -> datetime | None:
    """When the worker sent the welcome email to ``email`` (its clock), None: not yet."""
    from agorakit.notifications.tables import EmailOutbox
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(clock_site.config, environ={}))
    await runtime.db.start()
    try:
        row = await EmailOutbox.select(EmailOutbox.sent_at).where(EmailOutbox.to_address == email).first()
        return row["sent_at"] if row else None
    finally:
        await runtime.db.close()


async def wait_for_sent(clock_site: Site, email: str) -> datetime:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = await sent_at(clock_site, email)
        if sent is not None:
            return sent
        await asyncio.sleep(0.2)
    log = (clock_site.directory / "worker.log").read_text()
    pytest.fail(f"the worker did not send the email to {email}:\n{log}")


async def test_two_app_processes_and_a_worker_see_one_advance(clock_site):
    with running(clock_site) as (a, b, worker):
        frozen = clock_site.cli("clock", "freeze")
        assert frozen.returncode == 0, frozen.stderr
        assert "runs on a test clock" in frozen.stderr  # the warning of every start
        start = instant(frozen.stdout.split()[0])

        # One advance by the command line (a process of its own) ...
        advanced = clock_site.cli("clock", "advance", "10d")
        assert advanced.returncode == 0, advanced.stderr
        assert advanced.stdout.startswith(
            f"advanced from {start.isoformat()} to {(start + timedelta(days=10)).isoformat()}"
        )
        assert (
            clock_site.cli("clock", "show").stdout.strip()
            == f"{(start + timedelta(days=10)).isoformat()}  (frozen)"
        )
        async with (
            httpx.AsyncClient(base_url=a.base_url) as first,
            httpx.AsyncClient(base_url=b.base_url) as second,
        ):
            for client in (first, second):  # ... is seen by both app processes at once
                health = await client.get("/health")
                assert instant(health.json()["test_clock"]) == start + timedelta(days=10)
                assert instant(health.headers["x-agorakit-test-clock"]) == start + timedelta(days=10)

            # ... and by the worker: it sends the welcome email of a member registered on
            # the second process, stamped with the site's time it sees.
            email = "late-joiner@example.com"
            registered = await second.post(
                "/auth/register",
                json={
                    "email": email,
                    "password": "a-long-good-passphrase",
                    "display_name": "Late Joiner",
                    "country": "US",
                },
            )
            assert registered.status_code == 202, registered.text
            assert await wait_for_sent(clock_site, email) == start + timedelta(days=10)

            # An advance through the API of the first process is seen by the second and the worker.
            login = await first.post(
                "/auth/login", json={"email": OPERATOR_EMAIL, "password": OPERATOR_PASSWORD}
            )
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            moved = await first.post("/operator/clock/advance", json={"by": "3d"}, headers=headers)
            assert moved.status_code == 200, moved.text
            assert instant(moved.json()["reached"]) == start + timedelta(days=13)
            assert instant((await second.get("/health")).json()["test_clock"]) == start + timedelta(days=13)
            other = "later-joiner@example.com"
            registered = await first.post(
                "/auth/register",
                json={
                    "email": other,
                    "password": "a-long-good-passphrase",
                    "display_name": "Later",
                    "country": "US",
                },
            )
            assert registered.status_code == 202, registered.text
            assert await wait_for_sent(clock_site, other) == start + timedelta(days=13)
        assert worker.poll() is None
