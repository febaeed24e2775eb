"""The pytest fixtures of ``agorakit.testing``: tests of one site configuration share an
app, and every test is served its own runtime (database state, clock) by it."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pytest

from agorakit.accounts.tables import Member
from agorakit.events.processes import ServerProcess
from agorakit.money import ledger
from agorakit.money.tables import LedgerEntry, LedgerTransaction
from agorakit.testing import empty_tables

pytest_plugins = ["pytester"]

TEST_CLOCK = "x-agorakit-test-clock"


@pytest.fixture
def site_config():
    return {"dev": {"test_clock": True}, "site": {"environment": "development"}}


async def test_the_app_serves_the_runtime_in_its_state(app, runtime, client, clock):
    assert app.state.runtime is runtime
    clock.advance(timedelta(hours=2))
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.headers[TEST_CLOCK] == "2026-01-05T11:00:00Z"


async def test_the_lifespan_starts_and_stops_the_runtime_in_its_state(app, runtime):
    async with app.lifespan():
        assert runtime.process is not None
        [row] = await ServerProcess.select(ServerProcess.id, ServerProcess.kind)
        assert row == {"id": runtime.process.id, "kind": "app"}
    assert runtime.process is None
    await runtime.db.start()  # the lifespan closed it; the fixture empties the tables
    assert await ServerProcess.count() == 0


async def fund(runtime, member_id: int, cents: int) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test-credit:{member_id}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), ledger.credit(member_id), cents, "USD"),
        )


async def test_emptied_tables_hold_nothing_and_count_ids_from_one(runtime, make_member):
    """Also the append-only ledger, which refuses to delete a row."""
    for _ in range(3):
        await fund(runtime, (await make_member()).id, 500)
    assert await LedgerEntry.count() == 6
    await empty_tables(runtime)
    assert [await table.count() for table in (Member, LedgerTransaction, LedgerEntry)] == [0, 0, 0]
    member = await make_member()
    await fund(runtime, member.id, 700)
    assert member.id == 1
    assert await LedgerTransaction.select(LedgerTransaction.id) == [{"id": 1}]
    assert [row["id"] for row in await LedgerEntry.select(LedgerEntry.id)] == [1, 2]
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 700


INNER = """
import pytest
from datetime import timedelta

APPS = []


@pytest.fixture
def site_config():
    return {"dev": {"test_clock": True}, "site": {"environment": "development"}}


async def test_first(app, runtime, client, clock, make_member):
    APPS.append(app)
    await make_member()
    clock.advance(timedelta(days=1))
    response = await client.get("/me", headers=(await make_member()).headers)
    assert response.json()["id"] == 2
    assert response.headers["x-agorakit-test-clock"] == "2026-01-06T09:00:00Z"


async def test_second(app, runtime, client, make_member):
    assert app is APPS[0] and app.state.runtime is runtime
    member = await make_member()
    response = await client.get("/me", headers=member.headers)
    assert response.json()["id"] == 1  # the first test's members are gone
    assert response.headers["x-agorakit-test-clock"] == "2026-01-05T09:00:00Z"


@pytest.mark.parametrize("site_config", [{"dev": {"test_clock": True}, "site": {"environment": "development", "name": "other"}}])
async def test_another_configuration_gets_another_app(app, runtime, client):
    assert app is not APPS[0] and app.state.runtime is runtime
    assert (await client.get("/")).json()["name"] == "other"
"""


def test_tests_of_one_configuration_share_the_app_and_not_the_runtime(pytester):
    """Two tests in a row (a site's own test session, on SQLite): the second gets the
    first one's app, serving its own runtime (its own members from id 1, its own clock);
    another configuration, another app."""
    pytester.makeini(
        textwrap.dedent(
            """
            [pytest]
            asyncio_mode = auto
            asyncio_default_fixture_loop_scope = session
            asyncio_default_test_loop_scope = session
            """
        )
    )
    pytester.makeconftest('pytest_plugins = ["agorakit.testing"]')
    pytester.makepyfile(test_inner=INNER)
    # a process of its own: an in-process run would take the modules it imported out of
    # sys.modules when it ends, under the apps this process builds next
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:cacheprovider", "-k", "sqlite", "-q")
    result.assert_outcomes(passed=3)
