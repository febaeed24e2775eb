"""Who the prepaid plugin tells, in their inbox and by email, and with which words: new
requests to the sellers who may take them (set-wise, after the commit), locks, releases
and returns, offers made, accepted, declined and withdrawn, expired requests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, timedelta
from unittest import mock

import pytest
from prepaid_helpers import (
    books_are_sound,
    lock,
    market,
    open_request,
    post_request,
    prepaid_config,
    usd,
)

from agorakit import hookimpl
from agorakit.accounts.tables import Member
from agorakit.catalog import category_slugs
from agorakit.catalog.tables import Qualification
from agorakit.events import outbox as event_outbox
from agorakit.events.tables import StoredEvent
from agorakit.notifications.tables import EmailOutbox, Notification
from agorakit.worker import sweep

__all__ = ["market"]

OPENED = "prepaid_request_opened"


@pytest.fixture
def site_config(tmp_path, request):
    """The plugin's settings of a test come from an indirect ``site_config`` parameter."""
    return prepaid_config(tmp_path, **getattr(request, "param", {}))


class Gate:
    """Holds the delivery of ``prepaid.request_opened`` events while closed (open by default)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.opened.set()

    @hookimpl(tryfirst=True)
    async def agorakit_on_event(self, event):
        if event.name == "prepaid.request_opened":
            await self.opened.wait()


@pytest.fixture
def gate():
    return Gate()


@pytest.fixture
def extra_plugins(gate):
    return [("gate", gate)]


async def told(client, member) -> list[dict]:
    """The member's prepaid and order notifications, oldest first."""
    response = await client.get("/notifications?limit=100", headers=member.headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    return [
        n for n in reversed(items) if n["category"] != "account" and n["template"] != "qualification_decided"
    ]


async def templates(client, member) -> list[str]:
    return [n["template"] for n in await told(client, member)]


async def emails_to(member) -> list[str]:
    """Subjects of the member's emails of prepaid and order notices, oldest first."""
    notices = await Notification.select(Notification.id).where(
        (Notification.member_id == member.id)
        & (Notification.category != "account")
        & (Notification.template != "qualification_decided")
    )
    rows = (
        await EmailOutbox.select(EmailOutbox.subject)
        .where(EmailOutbox.notification_id.is_in([n["id"] for n in notices] or [0]))
        .order_by(EmailOutbox.id)
    )
    return [row["subject"] for row in rows]


def display(member) -> str:
    return member.member.display_name


def when(at) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def classic_request(client, market, **changes) -> dict:
    body = {
        "mode": "classic",
        "method": None,
        "service_type": "coaching",
        "details": {"hours": 3, "task": "Aim and crosshair placement"},
        "price": usd("30.00"),
        **changes,
    }
    created = await post_request(client, market.buyer, **body)
    assert created.status_code == 201, created.text
    return created.json()


async def offer(
    client, seller, request_id: int, price: str = "30.00", message: str = "Radiant coach"
) -> dict:
    made = await client.post(
        f"/prepaid/requests/{request_id}/offers",
        json={"price": usd(price), "timeframe_hours": 24, "message": message},
        headers=seller.headers,
    )
    assert made.status_code == 201, made.text
    return made.json()


async def add_sellers(runtime, count: int, category: str) -> list[int]:
    """``count`` members with approved access to ``category`` who want its notices, written
    straight to the tables (the API's way costs two requests and a password hash each)."""
    if not count:
        return []
    now = runtime.clock.now()
    start = await Member.count()
    members = [
        Member(
            email=f"bulk{start + n}@example.com",
            email_key=f"bulk{start + n}@example.com",
            password_hash="!",
            display_name=f"Bulk seller {start + n}",
            country="US",
            security_stamp=f"{start + n:032d}",
            email_verified_at=now,
            created_at=now,
            updated_at=now,
        )
        for n in range(count)
    ]
    ids = [row["id"] for row in await Member.insert(*members).returning(Member.id)]
    category_id = next(i for i, slug in (await category_slugs()).items() if slug == category)
    await Qualification.insert(
        *[
            Qualification(
                member_id=member_id,
                category_id=category_id,
                status="approved",
                notify=True,
                created_at=now,
                decided_at=now,
            )
            for member_id in ids
        ]
    )
    return ids


async def opened_notices(request_id: int) -> list[int]:
    """The members told of the request's latest opening, one entry per notification."""
    [event] = (
        await StoredEvent.select(StoredEvent.id)
        .where(
            (StoredEvent.name == "prepaid.request_opened") & (StoredEvent.subject == f"request:{request_id}")
        )
        .order_by(StoredEvent.id, ascending=False)
        .limit(1)
    )
    rows = await Notification.select(Notification.member_id).where(Notification.event_id == event["id"])
    return sorted(r["member_id"] for r in rows)


@contextlib.contextmanager
def statements_of_this_task() -> Iterator[list[str]]:
    """The SQL this task runs inside the block (not a background task's)."""
    engine = Notification._meta.db
    seen: list[str] = []
    run = type(engine).run_querystring
    task = asyncio.current_task()

    async def recording(self, querystring, in_pool=True):
        if asyncio.current_task() is task:
            seen.append(querystring.compile_string(engine_type=self.engine_type)[0])
        return await run(self, querystring, in_pool=in_pool)

    with mock.patch.object(type(engine), "run_querystring", recording):
        yield seen


# --------------------------------------------------------------------------------------
# New requests
# --------------------------------------------------------------------------------------


async def test_a_new_request_tells_the_sellers_who_may_take_it(client, runtime, market, clock):
    from prepaid_helpers import grant_access

    await grant_access(client, market.operator, market.buyer, "valorant")  # the buyer may sell there too
    quiet = market.sellers[2]
    [qualification] = (await client.get("/me/qualifications", headers=quiet.headers)).json()["items"]
    muted = await client.patch(
        f"/me/qualifications/{qualification['id']}", json={"notify": False}, headers=quiet.headers
    )
    assert muted.status_code == 200, muted.text
    no_email = await client.put(
        "/me/notification-settings", json={"email": {"listings": False}}, headers=market.sellers[1].headers
    )
    assert no_email.status_code == 200, no_email.text

    request = await open_request(client, market)
    title = "New request in Valorant: Rank boost, 40.00 USD"
    for seller in (market.sellers[0], market.sellers[1], market.games_seller):
        [notice] = await told(client, seller)
        assert (notice["template"], notice["category"], notice["title"]) == (OPENED, "listings", title)
        assert notice["link"].endswith(f"/prepaid/requests/{request['id']}")
        assert '"Rank boost: valorant": Rank boost, 40.00 USD.' in notice["body"]
        assert "the first seller to lock it gets it); you then have 72 hours to deliver" in notice["body"]
    for member in (quiet, market.buyer, market.outsider):
        assert await told(client, member) == []
    assert await emails_to(market.sellers[0]) == [title]
    assert await emails_to(market.games_seller) == [title]
    assert await emails_to(market.sellers[1]) == []  # turned email off for listings

    classic = await classic_request(client, market)
    notice = (await told(client, market.sellers[0]))[-1]
    assert notice["title"] == "New request in Valorant: Coaching, 30.00 USD"
    expires = when(clock.now() + timedelta(days=14))
    assert f"Send an offer with your price, timeframe and a message before {expires}" in notice["body"]
    assert notice["link"].endswith(f"/prepaid/requests/{classic['id']}")
    assert await told(client, market.buyer) == []


async def test_a_thousand_sellers_hear_of_one_request_once_each(client, runtime, market):
    sellers = await add_sellers(runtime, 1000, "league")
    request = await open_request(client, market, category="league")
    told_once = await opened_notices(request["id"])
    assert told_once == sorted([*sellers, market.games_seller.id])  # the games seller: access above
    notifications = await Notification.select(Notification.id).where(Notification.template == OPENED)
    assert len(notifications) == 1001
    assert (
        await EmailOutbox.count().where(EmailOutbox.notification_id.is_in([n["id"] for n in notifications]))
        == 1001
    )
    # Delivered again (at least once): nobody is told twice.
    rows = await StoredEvent.select().where(
        (StoredEvent.name == "prepaid.request_opened") & (StoredEvent.subject == f"request:{request['id']}")
    )
    await event_outbox.publish(runtime, [event_outbox._to_event(runtime, r) for r in rows])
    assert await Notification.count().where(Notification.template == OPENED) == 1001
    assert (
        await EmailOutbox.count().where(EmailOutbox.notification_id.is_in([n["id"] for n in notifications]))
        == 1001
    )


async def test_posting_a_request_does_not_wait_for_its_sellers_notices(client, runtime, market, gate):
    """Events are delivered after the commit (here by the background dispatcher): the
    POST runs as many statements for 200 sellers to tell as for one, and answers before
    any of them is told."""
    await open_request(client, market)  # the buyer's first request: accounts made once
    await runtime.dispatcher.start()
    try:
        counts, requests = [], []
        for more in (0, 199):
            await add_sellers(runtime, more, "league")
            gate.opened.clear()
            with statements_of_this_task() as seen:
                created = await post_request(client, market.buyer, category="league")
            assert created.status_code == 201, created.text
            counts.append(len(seen))
            requests.append(created.json()["id"])
            assert await opened_notices(requests[-1]) == []  # answered before anyone was told
            gate.opened.set()
            await runtime.dispatcher.drain()
        assert [len(await opened_notices(r)) for r in requests] == [1, 200]
        assert counts[0] == counts[1], counts
    finally:
        gate.opened.set()
        await runtime.dispatcher.stop(timeout=5)


# --------------------------------------------------------------------------------------
# Locks
# --------------------------------------------------------------------------------------


async def test_lock_release_and_return_tell_the_other_side(client, runtime, market, clock):
    first, second = market.sellers[0], market.sellers[1]
    request = await open_request(client, market)
    locked = await lock(client, first, request["id"])
    assert locked.status_code == 200, locked.text
    [notice] = await told(client, market.buyer)  # instead of the core's order_transitioned
    assert notice["template"] == "prepaid_request_locked"
    assert notice["title"] == f'{display(first)} locked your request "Rank boost: valorant"'
    deadline = when(clock.now() + timedelta(hours=72))
    assert f"the timeframe of 72 hours runs until {deadline}" in notice["body"]
    assert notice["link"].endswith(f"/prepaid/requests/{request['id']}")
    assert await templates(client, first) == [OPENED]  # nothing for their own lock

    released = await client.post(
        f"/prepaid/requests/{request['id']}/release",
        json={"reason": "My account got banned"},
        headers=first.headers,
    )
    assert released.status_code == 200, released.text
    notice = (await told(client, market.buyer))[-1]
    assert notice["template"] == "prepaid_request_released"
    assert notice["title"] == f'{display(first)} gave up your request "Rank boost: valorant"'
    assert "Their reason: My account got banned" in notice["body"]
    assert await templates(client, market.buyer) == ["prepaid_request_locked", "prepaid_request_released"]
    assert await templates(client, first) == [OPENED]  # not told it is back: they released it
    back = (await told(client, second))[-1]
    assert (back["template"], back["title"]) == (
        OPENED,
        "Back in the feed in Valorant: Rank boost, 40.00 USD",
    )
    assert "the seller who locked it gave it up" in back["body"]

    assert (await lock(client, second, request["id"])).status_code == 200
    clock.advance(timedelta(hours=73))
    returned = await client.post(f"/prepaid/requests/{request['id']}/return", headers=market.buyer.headers)
    assert returned.status_code == 200, returned.text
    assert await templates(client, second) == [OPENED, OPENED, "prepaid_request_returned"]
    notice = (await told(client, second))[-1]
    assert notice["title"] == 'The buyer sent "Rank boost: valorant" back to the feed'
    assert "The timeframe of 72 hours" in notice["body"]
    assert await templates(client, first) == [OPENED, OPENED]  # now it is back for them too
    assert await templates(client, market.buyer) == [
        "prepaid_request_locked",
        "prepaid_request_released",
        "prepaid_request_locked",
    ]  # nothing for their own return
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Offers
# --------------------------------------------------------------------------------------


async def test_offers_made_withdrawn_accepted_and_declined(client, runtime, market):
    quiet = await client.put(
        "/me/notification-settings", json={"email": {"orders": False}}, headers=market.buyer.headers
    )
    assert quiet.status_code == 200, quiet.text
    request = await classic_request(client, market)
    offers = [
        await offer(client, seller, request["id"], price=price, message=f"Offer {n}")
        for n, (seller, price) in enumerate(zip(market.sellers, ("28.00", "35.00", "31.00"), strict=True))
    ]
    made = await told(client, market.buyer)
    assert [n["template"] for n in made] == ["prepaid_offer_made"] * 3
    assert made[0]["title"] == 'New offer on "Coaching: valorant": 28.00 USD in 24 hours'
    assert f"{display(market.sellers[0])} offers to do your request" in made[0]["body"]
    assert "Their message: Offer 0" in made[0]["body"]
    assert made[0]["link"].endswith(f"/prepaid/requests/{request['id']}/offers")
    assert await emails_to(market.buyer) == []  # they turned email off for orders

    withdrawn = await client.post(
        f"/prepaid/offers/{offers[2]['id']}/withdraw", headers=market.sellers[2].headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    notice = (await told(client, market.buyer))[-1]
    assert notice["template"] == "prepaid_offer_withdrawn"
    assert notice["title"] == f'{display(market.sellers[2])} withdrew their offer on "Coaching: valorant"'

    before = len(await told(client, market.buyer))
    accepted = await client.post(
        f"/prepaid/offers/{offers[1]['id']}/accept", json={"method": "balance"}, headers=market.buyer.headers
    )
    assert accepted.status_code == 200, accepted.text
    order_id = accepted.json()["order_id"]
    assert len(await told(client, market.buyer)) == before  # they did it
    winner = {n["template"]: n for n in await told(client, market.sellers[1])}
    # Accepted (instead of the core's order_created), and the core's word on the payment.
    assert sorted(winner) == sorted([OPENED, "prepaid_offer_accepted", "order_transitioned"])
    notice = winner["prepaid_offer_accepted"]
    assert notice["title"] == 'Your offer on "Coaching: valorant" was accepted'
    assert f"{display(market.buyer)} accepted your offer on" in notice["body"]
    assert f"It is order #{order_id}" in notice["body"]
    assert notice["link"].endswith(f"/orders/{order_id}")
    assert notice["title"] in await emails_to(market.sellers[1])
    assert winner["order_transitioned"]["title"] == f"Order #{order_id} is now in progress"
    [loser] = (await told(client, market.sellers[0]))[1:]
    assert loser["template"] == "prepaid_offer_declined"
    assert loser["title"] == 'Your offer on "Coaching: valorant" was declined'
    assert "Reason: the buyer accepted another offer" in loser["body"]
    assert await templates(client, market.sellers[2]) == [OPENED]  # withdrawn: nothing to decline
    await books_are_sound(runtime)


@pytest.mark.parametrize("site_config", [{"offer_screening": "flag"}], indirect=True)
async def test_a_held_offer_is_told_when_let_through(client, runtime, market):
    request = await classic_request(client, market)
    held = [
        await offer(client, seller, request["id"], message="Text me on +1 555 010 9999")
        for seller in market.sellers
    ]
    assert [o["status"] for o in held] == ["flagged"] * 3
    assert await told(client, market.buyer) == []
    approved = await client.post(
        f"/operator/prepaid/offers/{held[0]['id']}/approve", headers=market.operator.headers
    )
    assert approved.status_code == 200, approved.text
    assert await templates(client, market.buyer) == ["prepaid_offer_made"]
    assert (
        await client.post(f"/prepaid/offers/{held[1]['id']}/withdraw", headers=market.sellers[1].headers)
    ).status_code == 200
    assert await templates(client, market.buyer) == ["prepaid_offer_made"]  # never saw it
    rejected = await client.post(
        f"/operator/prepaid/offers/{held[2]['id']}/reject",
        json={"reason": "No phone numbers, please"},
        headers=market.operator.headers,
    )
    assert rejected.status_code == 200, rejected.text
    [notice] = (await told(client, market.sellers[2]))[1:]
    assert notice["template"] == "prepaid_offer_declined"
    assert notice["title"] == 'Your offer on "Coaching: valorant" was rejected by our operators'
    assert "the buyer never saw it" in notice["body"]
    assert "Reason: No phone numbers, please" in notice["body"]
    assert await templates(client, market.buyer) == ["prepaid_offer_made"]


# --------------------------------------------------------------------------------------
# Requests that end without a sale
# --------------------------------------------------------------------------------------


async def test_an_expired_request_tells_its_buyer_and_declines_the_offers(client, runtime, market, clock):
    request = await classic_request(client, market)
    for seller in market.sellers[:2]:
        await offer(client, seller, request["id"])
    before = await templates(client, market.buyer)
    clock.advance(timedelta(days=14))
    await sweep(runtime)
    [notice] = (await told(client, market.buyer))[len(before) :]
    assert notice["template"] == "prepaid_request_expired"
    assert notice["title"] == 'Your request "Coaching: valorant" expired'
    assert (
        "no offer was accepted within 14 days. It is closed and its 2 offers were declined" in notice["body"]
    )
    assert notice["title"] in await emails_to(market.buyer)
    for seller in market.sellers[:2]:
        declined = (await told(client, seller))[-1]
        assert declined["template"] == "prepaid_offer_declined"
        assert "Reason: the request expired" in declined["body"]
    assert await templates(client, market.sellers[2]) == [OPENED]


async def test_a_cancelled_request_tells_the_sellers_who_offered(client, runtime, market):
    request = await classic_request(client, market)
    await offer(client, market.seller, request["id"])
    before = await templates(client, market.buyer)
    cancelled = await client.post(f"/prepaid/requests/{request['id']}/cancel", headers=market.buyer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert await templates(client, market.buyer) == before  # they did it
    declined = (await told(client, market.seller))[-1]
    assert declined["template"] == "prepaid_offer_declined"
    assert "Reason: the buyer cancelled the request" in declined["body"]
    assert await templates(client, market.sellers[1]) == [OPENED]


async def test_an_order_left_unpaid_expiring_keeps_the_core_notice(client, runtime, market, clock):
    request = (await post_request(client, market.buyer, method=None)).json()
    assert request["status"] == "awaiting_payment"
    classic = await classic_request(client, market)
    made = await offer(client, market.sellers[1], classic["id"])
    accepted = await client.post(
        f"/prepaid/offers/{made['id']}/accept", json={}, headers=market.buyer.headers
    )
    assert accepted.json()["status"] == "awaiting_payment"
    before = await templates(client, market.buyer)
    clock.advance(timedelta(hours=72))
    await sweep(runtime)
    # Told once each, by the core (not again as an expired request).
    assert (await templates(client, market.buyer))[len(before) :] == ["order_transitioned"] * 2
    assert await templates(client, market.sellers[1]) == [
        OPENED,
        "prepaid_offer_accepted",
        "order_transitioned",
    ]
    assert await templates(client, market.seller) == [OPENED]  # the prepaid one never reached the feed


async def test_a_report_keeps_the_core_notices_and_reaches_the_request(client, runtime, market):
    from prepaid_helpers import balances, deliver

    request = await classic_request(client, market)
    made = await offer(client, market.seller, request["id"], price="25.00")
    accepted = await client.post(
        f"/prepaid/offers/{made['id']}/accept", json={"method": "balance"}, headers=market.buyer.headers
    )
    order_id = accepted.json()["order_id"]
    assert (await deliver(client, market.seller, order_id)).status_code == 200
    delivered = (await told(client, market.buyer))[-1]
    assert delivered["template"] == "proof_submitted"  # deliveries are the core's to tell
    opened = await client.post(
        f"/orders/{order_id}/disputes",
        json={"reason": "not_as_requested", "text": "I asked for aim coaching, got a replay review"},
        headers=market.buyer.headers,
    )
    assert opened.status_code == 201, opened.text
    assert (await told(client, market.seller))[-1]["template"] == "dispute_opened"
    got = await client.get(f"/prepaid/requests/{request['id']}", headers=market.buyer.headers)
    assert got.json()["status"] == "reported"
    resolved = await client.post(
        f"/operator/disputes/{opened.json()['id']}/resolve",
        json={"outcome": "refund", "note": "The delivery does not match the request"},
        headers=market.operator.headers,
    )
    assert resolved.status_code == 200, resolved.text
    for member in (market.buyer, market.seller):
        assert (await told(client, member))[-1]["template"] == "dispute_resolved"
    from agorakit.plugins.prepaid.tables import Request

    [row] = await Request.select(Request.status).where(Request.id == request["id"])
    assert row["status"] == "refunded"  # the dispute's move reached the request row
    assert await balances(market.buyer.id) == (0, 20000)
    await books_are_sound(runtime)


async def test_a_request_withdrawn_by_an_operator_tells_its_buyer_once_with_the_reason(
    client, runtime, market
):
    classic = await classic_request(client, market)
    await offer(client, market.seller, classic["id"])
    prepaid = await open_request(client, market)
    before = await templates(client, market.buyer)
    for request in (classic, prepaid):
        withdrawn = await client.post(
            f"/operator/prepaid/requests/{request['id']}/cancel",
            json={"reason": "Account sharing is not allowed"},
            headers=market.operator.headers,
        )
        assert withdrawn.status_code == 200, withdrawn.text
    [closed, refunded] = (await told(client, market.buyer))[len(before) :]
    assert closed["template"] == "prepaid_request_withdrawn"
    assert closed["title"] == 'Our operators withdrew your request "Coaching: valorant"'
    assert "it is closed and its 1 offer was declined; nothing was charged" in closed["body"]
    assert "Reason: Account sharing is not allowed" in closed["body"]
    assert refunded["template"] == "order_transitioned"  # the paid one: the core's, with the refund
    assert "full refund to credit" in refunded["body"]
    assert "Reason given: Account sharing is not allowed" in refunded["body"]
    declined = (await told(client, market.seller))[-1]
    assert declined["template"] == "prepaid_offer_declined"
    assert "Reason: an operator withdrew the request" in declined["body"]
