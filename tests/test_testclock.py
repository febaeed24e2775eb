"""Test clocks ([dev] test_clock): the site's time kept in the database, moved by operators.

The ``clock`` fixture is the real time here (the test clock runs on from it); the site's
time is ``runtime.clock``, a clock stored in the database.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

import agorakit
from agorakit import orders
from agorakit.money import ledger
from agorakit.orders import ItemIn, Process, Timer, Transition
from agorakit.orders.tables import OrderEvent, OrderTimer
from agorakit.settings import ConfigError, settings_from_dict
from agorakit.testclock.service import DatabaseClock, parse_duration
from agorakit.testing import TEST_DEFAULTS, TEST_EPOCH, deep_merge
from tests.test_gigs import fund, gig_body

DAY = timedelta(days=1)


def chain_process() -> Process:
    """Two system timers one after the other: 3 days after the order is placed, then 4 days
    after that (day 7).  An order may also skip the first step at once."""
    return Process(
        name="clockchain",
        version=1,
        states=("waiting", "halfway", "done"),
        initial="waiting",
        final=("done",),
        transitions=(
            Transition(name="first", sources=("waiting",), target="halfway", actors=("system",)),
            Transition(name="skip", sources=("waiting",), target="halfway", actors=("buyer",)),
            Transition(name="second", sources=("halfway",), target="done", actors=("system",)),
        ),
        timers=(
            Timer(state="waiting", after=timedelta(days=3), transition="first"),
            Timer(state="halfway", after=timedelta(days=4), transition="second"),
        ),
    )


class ChainPlugin:
    @agorakit.hookimpl
    def agorakit_processes(self, runtime):
        return [chain_process()]


@pytest.fixture
def extra_plugins():
    return [("clockchain", ChainPlugin())]


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["gigs"], "environment": "development"},
        "dev": {"test_clock": True},
        "attachments": {"path": str(tmp_path / "files")},
    }


@pytest.fixture
async def people(make_member):
    operator = await make_member(role="operator")
    return operator, await make_member(), await make_member()


async def advance(client, operator, **body):
    response = await client.post("/operator/clock/advance", json=body, headers=operator.headers)
    assert response.status_code == 200, response.text
    return response.json()


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# --------------------------------------------------------------------------------------
# The setting
# --------------------------------------------------------------------------------------


def test_a_test_clock_is_refused_in_production():
    data = deep_merge(TEST_DEFAULTS, {"dev": {"test_clock": True}})
    with pytest.raises(ConfigError, match=r"dev\.test_clock: .*refused in production") as refused:
        settings_from_dict(data, source="site.toml", environ={})
    assert 'environment = "development" or "staging"' in str(refused.value)
    for environment in ("development", "staging"):
        ok = deep_merge(data, {"site": {"environment": environment}})
        assert settings_from_dict(ok, source="site.toml", environ={}).dev.test_clock is True
    assert settings_from_dict(TEST_DEFAULTS, source="site.toml", environ={}).site.environment == "production"


def test_the_commands_refuse_to_start_on_a_production_site_with_a_test_clock(tmp_path):
    from agorakit.cli import build_cli

    config = tmp_path / "site.toml"
    config.write_text(
        '[auth]\njwt_secret = "0123456789abcdef0123456789abcdef0123"\n[dev]\ntest_clock = true\n',
        encoding="utf-8",
    )
    for command in (["run"], ["worker"], ["clock", "show"]):
        result = CliRunner().invoke(build_cli([]), ["--config", str(config), *command])
        assert result.exit_code == 1, result.output
        assert "dev.test_clock: a test clock moves the whole site's time and is refused in production" in (
            result.output
        )


def test_every_start_logs_a_warning(site_settings, plugin_manager, caplog):
    from agorakit.runtime import Runtime

    with caplog.at_level(logging.WARNING, logger="agorakit.testclock"):
        Runtime(site_settings, pm=plugin_manager)
        Runtime(site_settings, pm=plugin_manager)
    warnings = [r for r in caplog.records if "runs on a test clock" in r.getMessage()]
    assert len(warnings) == 2 and all(r.levelno == logging.WARNING for r in warnings)


def test_durations():
    assert parse_duration("3d") == 3 * DAY
    assert parse_duration("1w 2d") == 9 * DAY
    assert parse_duration("2d12h") == timedelta(days=2, hours=12)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("45s") == timedelta(seconds=45)
    for bad in ("", "3", "d", "3 days", "-3d", "3d!", "9" * 30 + "d"):
        with pytest.raises(ValueError, match=r"is not a duration|is longer than any clock goes"):
            parse_duration(bad)


# --------------------------------------------------------------------------------------
# The clock: running, frozen, shared
# --------------------------------------------------------------------------------------


async def test_the_clock_starts_at_the_real_time_and_runs_on_with_it(runtime, clock, client, people):
    operator, member, _ = people
    assert isinstance(runtime.clock, DatabaseClock)
    shown = await client.get("/operator/clock", headers=operator.headers)
    assert shown.json() == {"now": "2026-01-05T09:00:00Z", "frozen": False, "set_at": "2026-01-05T09:00:00Z"}
    clock.advance(seconds=90)  # the real time moves: so does a running test clock
    assert runtime.clock.now() == TEST_EPOCH + timedelta(seconds=90)

    frozen = (await client.post("/operator/clock/freeze", headers=operator.headers)).json()
    assert (frozen["now"], frozen["frozen"]) == ("2026-01-05T09:01:30Z", True)
    clock.advance(hours=5)
    assert runtime.clock.now() == TEST_EPOCH + timedelta(seconds=90)
    moved = await advance(client, operator, by="1d")
    assert (at(moved["started"]), at(moved["reached"]), moved["frozen"]) == (
        TEST_EPOCH + timedelta(seconds=90),
        TEST_EPOCH + timedelta(days=1, seconds=90),
        True,
    )
    clock.advance(hours=1)
    assert runtime.clock.now() == TEST_EPOCH + timedelta(days=1, seconds=90)  # still frozen

    running = (await client.post("/operator/clock/unfreeze", headers=operator.headers)).json()
    assert (running["now"], running["frozen"]) == ("2026-01-06T09:01:30Z", False)
    clock.advance(minutes=10)  # it runs on from where it was frozen
    assert runtime.clock.now() == TEST_EPOCH + timedelta(days=1, minutes=11, seconds=30)
    assert (await client.get("/operator/clock", headers=member.headers)).status_code == 403


async def test_a_request_reads_what_another_process_set(runtime, client, people):
    """Another process's advance is a changed row: the next request (and sweep) reads it."""
    from agorakit.testclock.tables import SiteClock
    from agorakit.worker import sweep

    assert (await client.get("/health")).json()["test_clock"] == "2026-01-05T09:00:00Z"
    await SiteClock.update({SiteClock.instant: TEST_EPOCH + 10 * DAY}).where(SiteClock.id == 1)
    assert runtime.clock.now() == TEST_EPOCH  # this process has not read it yet
    after = await client.get("/health")
    assert after.json()["test_clock"] == "2026-01-15T09:00:00Z"
    assert after.headers["x-agorakit-test-clock"] == "2026-01-15T09:00:00Z"
    await SiteClock.update({SiteClock.instant: TEST_EPOCH + 12 * DAY}).where(SiteClock.id == 1)
    await sweep(runtime)
    assert runtime.clock.now() == TEST_EPOCH + 12 * DAY


async def test_every_response_says_the_site_runs_on_a_test_clock(client, people):
    operator = people[0]
    await client.post("/operator/clock/freeze", headers=operator.headers)
    for response in (
        await client.get("/health"),
        await client.get("/"),
        await client.get("/no/such/route"),
        await client.get("/operator/clock", headers=people[1].headers),
    ):
        assert response.headers["x-agorakit-test-clock"] == "2026-01-05T09:00:00Z", response.url
    assert (await client.get("/health")).json() == {
        "status": "ok",
        "database": (await client.get("/health")).json()["database"],
        "version": agorakit.__version__,
        "test_clock": "2026-01-05T09:00:00Z",
    }


async def test_advancing_never_goes_backwards_and_checks_its_input(client, people, problem):
    operator = people[0]
    path = "/operator/clock/advance"
    body = problem(
        await client.post(path, json={"to": "2026-01-04T09:00:00Z"}, headers=operator.headers),
        409,
        "clock_backwards",
    )
    assert "2026-01-05T09:00:00" in body["detail"]
    for bad, field in (
        ({"by": "3 days"}, "by"),
        ({"by": "0d"}, "by"),
        ({}, "by"),
        ({"by": "1d", "to": "2026-02-01T00:00:00Z"}, "by"),
        ({"to": "2026-02-01T00:00:00"}, "to"),
        ({"by": "4000d"}, "by"),
        ({"by": "9" * 30 + "d"}, "by"),
        ({"to": "2099-01-01T00:00:00Z"}, "to"),
    ):
        problem(
            await client.post(path, json=bad, headers=operator.headers),
            422,
            "validation_error",
            fields={field},
        )
    problem(await client.post(path, json={"by": "1d"}, headers=people[1].headers), 403, "forbidden")
    moved = await advance(client, operator, to="2026-01-05T21:00:00+02:00")
    assert at(moved["reached"]) == at("2026-01-05T19:00:00Z")


# --------------------------------------------------------------------------------------
# Advancing fires what became due, in due order, each once
# --------------------------------------------------------------------------------------


async def test_a_31_day_advance_fires_the_day_3_timer_before_the_day_7_one_each_once(runtime, client, people):
    operator, buyer, seller = people
    a = await orders.create_order(
        runtime,
        process="clockchain",
        buyer_id=buyer.id,
        seller_id=seller.id,
        currency="USD",
        items=[ItemIn(description="Chain", unit_price=100)],
    )
    b = await orders.create_order(
        runtime,
        process="clockchain",
        buyer_id=buyer.id,
        seller_id=seller.id,
        currency="USD",
        items=[ItemIn(description="Skipped", unit_price=100)],
    )
    await orders.fire(runtime, b.id, "skip", caller=buyer.member)  # its "second" is due on day 4

    moved = await advance(client, operator, by="31d")

    assert at(moved["reached"]) == TEST_EPOCH + 31 * DAY
    fired = [
        (at(s["at"]), s["report"]["timers_fired"]) for s in moved["steps"] if s["report"]["timers_fired"]
    ]
    timers = {
        (row["order"], row["transition"]): row["id"]
        for row in await OrderTimer.select(OrderTimer.id, OrderTimer.order, OrderTimer.transition)
    }
    assert fired == [
        (TEST_EPOCH + 3 * DAY, [timers[(a.id, "first")]]),
        (TEST_EPOCH + 4 * DAY, [timers[(b.id, "second")]]),
        (TEST_EPOCH + 7 * DAY, [timers[(a.id, "second")]]),
    ]
    history = await (
        OrderEvent.select(OrderEvent.order, OrderEvent.transition, OrderEvent.at)
        .where(OrderEvent.actor_role == "system")
        .order_by(OrderEvent.at)
    )
    assert [(row["order"], row["transition"], row["at"]) for row in history] == [
        (a.id, "first", TEST_EPOCH + 3 * DAY),
        (b.id, "second", TEST_EPOCH + 4 * DAY),
        (a.id, "second", TEST_EPOCH + 7 * DAY),
    ]
    rows = await OrderTimer.select(
        OrderTimer.order, OrderTimer.transition, OrderTimer.status, OrderTimer.fired_at
    )
    assert {(r["order"], r["transition"]): (r["status"], r["fired_at"]) for r in rows} == {
        (a.id, "first"): ("fired", TEST_EPOCH + 3 * DAY),
        (b.id, "first"): ("cancelled", None),  # b left "waiting" at once
        (b.id, "second"): ("fired", TEST_EPOCH + 4 * DAY),
        (a.id, "second"): ("fired", TEST_EPOCH + 7 * DAY),
    }
    again = await advance(client, operator, by="31d")  # nothing fires twice
    assert [s for s in again["steps"] if s["report"]["timers_fired"]] == [] and again[
        "sweeps"
    ] == 2  # where it was and where it went


async def test_an_unpaid_gig_order_expires_on_its_due_instant(runtime, client, people):
    operator, buyer, seller = people
    await client.post(
        "/operator/categories",
        json={"slug": "logo-design", "name": "Logos", "parent": None},
        headers=operator.headers,
    )
    created = (await client.post("/listings", json=gig_body(), headers=seller.headers)).json()
    await client.post(f"/listings/{created['id']}/submit", headers=seller.headers)
    await client.post(f"/operator/listings/{created['id']}/approve", headers=operator.headers)
    placed = (await client.post(f"/gigs/{created['id']}/orders", json={}, headers=buyer.headers)).json()
    moved = await advance(client, operator, by="5d")
    expired = [step for step in moved["steps"] if step["report"]["timers_fired"]]
    assert [at(step["at"]) for step in expired] == [TEST_EPOCH + timedelta(hours=72)]
    order = (await client.get(f"/orders/{placed['id']}", headers=buyer.headers)).json()
    assert order["state"] == "cancelled"


# --------------------------------------------------------------------------------------
# The walkthrough of docs/test-clock.md, step by step
# --------------------------------------------------------------------------------------


async def test_the_documented_walkthrough(runtime, client, people, problem):
    """Order a gig, pay, advance past the deadline, cancel late, see the refund; then
    advance 3 days after a delivery and see the order complete."""
    operator, buyer, seller = people
    await fund(runtime, ledger.credit(buyer.id), 10000)
    await client.post(
        "/operator/categories",
        json={"slug": "logo-design", "name": "Logos", "parent": None},
        headers=operator.headers,
    )
    gig = (await client.post("/listings", json=gig_body(), headers=seller.headers)).json()
    await client.post(f"/listings/{gig['id']}/submit", headers=seller.headers)
    assert (
        await client.post(f"/operator/listings/{gig['id']}/approve", headers=operator.headers)
    ).status_code == 200

    # 1. Order and pay (25.00 from site credit); the seller has 3 days to deliver.
    placed = (await client.post(f"/gigs/{gig['id']}/orders", json={}, headers=buyer.headers)).json()
    paid = await client.post(
        f"/orders/{placed['id']}/payments", json={"method": "balance"}, headers=buyer.headers
    )
    assert paid.status_code == 201, paid.text
    order = (await client.get(f"/orders/{placed['id']}", headers=buyer.headers)).json()
    assert (order["state"], order["data"]["deadline"]) == ("in_progress", "2026-01-08T09:00:00+00:00")
    balance = (await client.get("/me/balance", headers=buyer.headers)).json()["balances"][0]
    assert balance["credit"] == "75.00"

    # 2. Cancelling late before the deadline is refused by the site's time.
    cancel = f"/gigs/orders/{placed['id']}/cancel"
    refused = problem(await client.post(cancel, headers=buyer.headers), 409, "guard_failed")
    assert "2026-01-08T09:00:00+00:00" in refused["detail"]

    # 3. Advance past the deadline; now the late cancellation goes through, refunded.
    await advance(client, operator, by="3d1h")
    cancelled = await client.post(cancel, headers=buyer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    balance = (await client.get("/me/balance", headers=buyer.headers)).json()["balances"][0]
    assert balance["credit"] == "100.00"
    assert await ledger.balance_of(ledger.escrow(f"order:{placed['id']}"), "USD") == 0

    # 4. A second order, delivered; 3 days later it completes by itself, the seller paid.
    second = (await client.post(f"/gigs/{gig['id']}/orders", json={}, headers=buyer.headers)).json()
    await client.post(f"/orders/{second['id']}/payments", json={"method": "balance"}, headers=buyer.headers)
    delivered = await client.post(
        f"/gigs/orders/{second['id']}/delivery",
        json={"message": "Three concepts.", "attachments": []},
        headers=seller.headers,
    )
    assert delivered.status_code in (200, 201), delivered.text
    assert (await client.get(f"/orders/{second['id']}", headers=buyer.headers)).json()["state"] == "delivered"
    await advance(client, operator, by="2d")
    assert (await client.get(f"/orders/{second['id']}", headers=buyer.headers)).json()["state"] == "delivered"
    moved = await advance(client, operator, by="1d")
    assert [step["report"]["timers_fired"] != [] for step in moved["steps"]] == [True]
    assert (await client.get(f"/orders/{second['id']}", headers=buyer.headers)).json()["state"] == "completed"
    seller_balance = (await client.get("/me/balance", headers=seller.headers)).json()["balances"][0]
    assert seller_balance["available"] == "20.00"  # 25.00 less the 20% commission


# --------------------------------------------------------------------------------------
# Without the setting
# --------------------------------------------------------------------------------------


class TestWithoutATestClock:
    @pytest.fixture
    def site_config(self):
        return {}

    async def test_the_routes_answer_404_and_nothing_says_test_clock(
        self, runtime, client, make_member, problem
    ):
        operator = await make_member(role="operator")
        assert not isinstance(runtime.clock, DatabaseClock)
        for method, path in (
            ("GET", "/operator/clock"),
            ("POST", "/operator/clock/freeze"),
            ("POST", "/operator/clock/unfreeze"),
        ):
            response = await client.request(method, path, headers=operator.headers)
            problem(response, 404, "not_found")
            assert "x-agorakit-test-clock" not in response.headers
        problem(
            await client.post("/operator/clock/advance", json={"by": "1d"}, headers=operator.headers),
            404,
            "not_found",
        )
        health = await client.get("/health")
        assert "test_clock" not in health.json() and "x-agorakit-test-clock" not in health.headers

    def test_clock_commands_say_the_site_has_no_test_clock(self, site_settings, tmp_path):
        from agorakit.cli import build_cli

        config = tmp_path / "site.toml"
        config.write_text(
            f'[database]\nurl = "{site_settings.database.url}"\n'
            '[auth]\njwt_secret = "0123456789abcdef0123456789abcdef0123"\n',
            encoding="utf-8",
        )
        result = CliRunner().invoke(build_cli([]), ["--config", str(config), "clock", "show"])
        assert result.exit_code == 1
        assert "this site has no test clock" in result.output


def test_tick_at_is_refused_on_a_test_clock(tmp_path):
    from agorakit.cli import build_cli

    config = tmp_path / "site.toml"
    config.write_text(
        '[site]\nenvironment = "staging"\n[dev]\ntest_clock = true\n'
        '[auth]\njwt_secret = "0123456789abcdef0123456789abcdef0123"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        build_cli([]), ["--config", str(config), "tick", "--at", "2026-05-01T12:00:00Z"]
    )
    assert result.exit_code == 2
    assert "runs on a test clock: move it with `agorakit clock advance`" in result.output
