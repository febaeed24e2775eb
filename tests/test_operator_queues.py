"""The operators' work queues (``GET /operator/queues``), on SQLite and PostgreSQL.

Every area and enabled plugin reports its queues through ``agorakit_operator_queues``:
how many items wait, since when the oldest one waits (by the site's clock) and how many
are past the area's due rule; the answer puts overdue queues first, then the others
with items by age, then the empty ones by key.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_world import all_plugins_config, build_world

from agorakit import hookimpl
from agorakit.catalog.moderation import working_seconds, working_since
from agorakit.events.tables import StoredEvent
from agorakit.http import OperatorQueue
from agorakit.notifications.tables import EmailOutbox
from agorakit.testing import TEST_EPOCH

IBAN_ACCOUNT = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}

#: the queues of the core's areas, and of the two plugins the site below enables
CORE_KEYS = {
    "listings.review",
    "qualifications.pending",
    "disputes.open",
    "reports.open",
    "withdrawals.requested",
    "withdrawals.stuck",
    "support.waiting",
    "messages.flagged",
    "timers.failed",
    "emails.failed",
    "events.failed",
    "webhooks.failing",
}


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["gigs", "bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "attachments": {"path": str(tmp_path / "files")},
    }


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


async def queues(client, operator, **params) -> dict:
    response = await client.get("/operator/queues", params=params, headers=operator.headers)
    assert response.status_code == 200, response.text
    return response.json()


def by_key(answer: dict) -> dict[str, dict]:
    return {q["key"]: q for q in answer["queues"]}


async def pending_gig(client, seller) -> int:
    created = await client.post(
        "/listings",
        json={
            "kind": "gig",
            "title": "I will design a minimalist logo",
            "description": "Three concepts, vector files and two rounds of changes.",
            "price": usd("25.00"),
            "category": "logo-design",
            "attributes": {"delivery_days": 3},
        },
        headers=seller.headers,
    )
    assert created.status_code == 201, created.text
    submitted = await client.post(f"/listings/{created.json()['id']}/submit", headers=seller.headers)
    assert submitted.json()["status"] == "pending_review", submitted.text
    return created.json()["id"]


async def test_every_queue_is_reported_empty_sorted_by_key_and_a_disabled_plugin_has_none(
    client, make_operator
):
    operator = await make_operator()
    answer = await queues(client, operator)
    keys = [q["key"] for q in answer["queues"]]
    assert set(keys) == CORE_KEYS | {"bank_transfer.payments"}  # no prepaid, leads or paypal queue
    assert keys == sorted(keys)
    assert answer["generated_at"] == "2026-01-05T09:00:00Z"
    disputes = by_key(answer)["disputes.open"]
    assert disputes == {
        "key": "disputes.open",
        "title": "Disputes to resolve",
        "area": "disputes",
        "count": 0,
        "oldest_at": None,
        "oldest_age_seconds": None,
        "overdue": 0,
        "due_hours": 48,
        "list_path": "/operator/disputes?status=open",
    }
    assert (await queues(client, operator, nonempty="true"))["queues"] == []


async def test_counts_oldest_items_and_overdue_ones_by_each_areas_rule(
    client, runtime, clock, make_operator, make_member, make_order, fund_member
):
    operator = await make_operator()
    seller = await make_member()
    buyer = await make_member()
    category = {"slug": "logo-design", "name": "Logo design", "parent": None}
    assert (
        await client.post("/operator/categories", json=category, headers=operator.headers)
    ).status_code == 201

    listed_at = clock.now()  # Monday 09:00
    await pending_gig(client, seller)
    clock.advance(hours=1)
    await pending_gig(client, seller)

    clock.advance(hours=1)
    deposit_at = clock.now()
    deposit = await client.post(
        "/payments", json={"method": "bank_transfer", "amount": usd("20.00")}, headers=buyer.headers
    )
    assert deposit.json()["status"] == "awaiting_funds", deposit.text

    clock.advance(hours=1)
    withdrawn_at = clock.now()
    await fund_member(seller, 6000)
    withdrawal = await client.post(
        "/withdrawals",
        json={"method": "bank_transfer", "amount": usd("60.00"), "destination": IBAN_ACCOUNT},
        headers=seller.headers,
    )
    assert withdrawal.status_code == 201, withdrawal.text

    clock.advance(hours=1)
    asked_at = clock.now()
    ticket = await client.post("/support", json={"category": "other", "body": "Help!"}, headers=buyer.headers)
    assert ticket.status_code == 201, ticket.text

    clock.advance(hours=1)
    reported = await make_order(kind="gig", state="reported", buyer=buyer)
    disputed_at = clock.now()
    assert reported["state"] == "reported"

    async with runtime.unit_of_work():
        await EmailOutbox.insert(
            EmailOutbox(
                to_address="ada@example.com",
                subject="Welcome",
                text_body="Hello",
                message_id="<1@test>",
                status="failed",
                attempts=5,
                created_at=listed_at,
            ),
            EmailOutbox(
                to_address="bob@example.com",
                subject="Welcome",
                text_body="Hello",
                message_id="<2@test>",
                status="sent",
                created_at=listed_at - timedelta(days=1),
            ),
        )
        await StoredEvent.insert(
            StoredEvent(name="thing.happened", subject="thing:1", at=asked_at, status="failed", attempts=5)
        )

    now = clock.now()
    found = by_key(await queues(client, operator))
    assert {k: (q["count"], q["overdue"]) for k, q in found.items() if q["count"]} == {
        "listings.review": (2, 0),
        "bank_transfer.payments": (1, 0),
        "withdrawals.requested": (1, 0),
        "support.waiting": (1, 0),
        "disputes.open": (1, 0),
        "emails.failed": (1, 0),
        "events.failed": (1, 0),
    }
    listings = found["listings.review"]
    assert listings["oldest_at"] == "2026-01-05T09:00:00Z"
    assert listings["oldest_age_seconds"] == int((now - listed_at).total_seconds())
    assert listings["due_hours"] == 24
    assert listings["list_path"] == "/operator/listings/pending"
    assert found["bank_transfer.payments"]["oldest_at"] == deposit_at.isoformat().replace("+00:00", "Z")
    assert found["bank_transfer.payments"]["list_path"] == (
        "/operator/payments?method=bank_transfer&status=awaiting_funds"
    )
    assert found["withdrawals.requested"]["oldest_at"] == withdrawn_at.isoformat().replace("+00:00", "Z")
    assert found["withdrawals.requested"]["due_hours"] == 7 * 24
    assert found["support.waiting"]["oldest_at"] == asked_at.isoformat().replace("+00:00", "Z")
    assert found["disputes.open"]["oldest_at"] == disputed_at.isoformat().replace("+00:00", "Z")
    assert found["emails.failed"]["oldest_at"] == "2026-01-05T09:00:00Z"
    assert found["withdrawals.stuck"]["count"] == 0

    # Non-empty ones first, the longest waiting first; the empty ones after, by key.
    order = [q["key"] for q in (await queues(client, operator))["queues"]]
    assert order[:7] == [
        "emails.failed",
        "listings.review",
        "bank_transfer.payments",
        "withdrawals.requested",
        "events.failed",
        "support.waiting",
        "disputes.open",
    ]
    assert order[7:] == sorted(order[7:])

    # Tuesday 10:30: the first listing has waited 25 working hours, the second 24.5
    # (each over the 24-hour target); the dispute is 48 hours old only on Wednesday.
    clock.set(datetime(2026, 1, 6, 10, 30, tzinfo=UTC))
    found = by_key(await queues(client, operator))
    assert found["listings.review"]["overdue"] == 2
    assert found["disputes.open"]["overdue"] == 0
    clock.set(datetime(2026, 1, 6, 9, 30, tzinfo=UTC))
    assert by_key(await queues(client, operator))["listings.review"]["overdue"] == 1

    # Past the dispute's 48 hours and the withdrawal's 7 days.
    clock.set(TEST_EPOCH + timedelta(days=8))
    answer = await queues(client, operator, nonempty="true")
    found = by_key(answer)
    assert found["disputes.open"]["overdue"] == 1
    assert found["withdrawals.requested"]["overdue"] == 1
    assert found["withdrawals.stuck"]["count"] == 1
    assert found["withdrawals.stuck"]["overdue"] == 1
    assert found["withdrawals.stuck"]["list_path"] == "/operator/withdrawals?overdue=true"
    assert [q["key"] for q in answer["queues"]] == [
        "listings.review",  # two overdue
        "withdrawals.requested",  # one overdue each, the longest waiting first
        "disputes.open",
        "withdrawals.stuck",  # waiting since its due date, a day ago
        "emails.failed",
        "bank_transfer.payments",
        "events.failed",
        "support.waiting",
    ]
    assert all(q["count"] for q in answer["queues"])

    # The operators' own list routes agree.
    listed = await client.get("/operator/withdrawals", params={"overdue": "true"}, headers=operator.headers)
    assert len(listed.json()["items"]) == found["withdrawals.stuck"]["count"]
    pending = await client.get("/operator/listings/pending", headers=operator.headers)
    assert sum(item["overdue"] for item in pending.json()["items"]) == found["listings.review"]["overdue"]


async def test_members_may_not_read_the_queues(client, make_member):
    member = await make_member()
    response = await client.get("/operator/queues", headers=member.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert (await client.get("/operator/queues")).status_code == 401


async def test_a_bad_filter_is_a_422_problem(client, make_operator):
    operator = await make_operator()
    response = await client.get("/operator/queues", params={"nonempty": "maybe"}, headers=operator.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert response.json()["errors"][0]["field"] == "nonempty"


class TestEveryShippedPlugin:
    @pytest.fixture
    def site_config(self, tmp_path):
        return all_plugins_config(tmp_path)

    async def test_the_plugins_queues(self, client, runtime, clock, make_member):
        world = await build_world(client, runtime, make_member)
        found = by_key(await queues(client, world.operator))
        assert set(found) == CORE_KEYS | {
            "bank_transfer.payments",
            "prepaid.offers_flagged",
            "prepaid.locks_stuck",
            "leads.pending",
            "paypal.webhooks_failed",
        }
        counts = {key: q["count"] for key, q in found.items()}
        assert counts["prepaid.offers_flagged"] == 1
        assert counts["leads.pending"] == 1  # the buyer's job waiting for review
        assert counts["listings.review"] >= counts["leads.pending"]
        assert counts["prepaid.locks_stuck"] == 0
        assert counts["paypal.webhooks_failed"] == 0
        assert counts["bank_transfer.payments"] == 1
        assert counts["reports.open"] == 1
        leads = found["leads.pending"]
        assert (leads["area"], leads["due_hours"], leads["list_path"]) == (
            "leads",
            24,
            "/operator/listings/pending?kind=lead",
        )
        pending = await client.get(
            "/operator/listings/pending", params={"kind": "lead"}, headers=world.operator.headers
        )
        assert [item["listing"]["submitted_at"] for item in pending.json()["items"]] == [leads["oldest_at"]]

        # A locked request whose timeframe ended is stuck: counted in the plugin's queue.
        clock.advance(days=30)
        found = by_key(await queues(client, world.operator))
        stuck = await client.get("/operator/prepaid/locks/stuck", headers=world.operator.headers)
        assert found["prepaid.locks_stuck"]["count"] == len(stuck.json()["items"]) == 1
        assert found["prepaid.locks_stuck"]["overdue"] == found["prepaid.locks_stuck"]["count"]
        assert found["leads.pending"]["overdue"] == 1


class AuditPlugin:
    """A plugin with a queue of its own: two items, one of them overdue."""

    def __init__(self) -> None:
        self.runtimes: list[object] = []

    @hookimpl
    async def agorakit_operator_queues(self, runtime):
        self.runtimes.append(runtime)
        return [
            OperatorQueue(
                key="audit.pending",
                title="Audits to sign off",
                count=2,
                oldest_at=runtime.clock.now() - timedelta(hours=30),
                overdue=1,
                due_hours=24,
                list_path="/audit/pending",
                area="audit",
            )
        ]


@pytest.fixture
def audit():
    return AuditPlugin()


@pytest.fixture
def extra_plugins(audit, request):
    return [("audit", audit)] if request.node.name.startswith("test_hook_") else []


async def test_hook_agorakit_operator_queues(client, runtime, audit, make_operator):
    operator = await make_operator()
    answer = await queues(client, operator)
    assert audit.runtimes == [runtime]
    first = answer["queues"][0]
    assert first == {
        "key": "audit.pending",
        "title": "Audits to sign off",
        "area": "audit",
        "count": 2,
        "oldest_at": "2026-01-04T03:00:00Z",
        "oldest_age_seconds": 30 * 3600,
        "overdue": 1,
        "due_hours": 24,
        "list_path": "/audit/pending",
    }
    assert [q["key"] for q in answer["queues"]] == [
        "audit.pending",
        *sorted(CORE_KEYS | {"bank_transfer.payments"}),
    ]


def test_working_since_is_where_listings_become_overdue():
    """``working_since(end, s)``: what started before it has more than ``s`` working
    seconds behind it at ``end``; what started at or after it, at most ``s``."""
    ends = [
        datetime(2026, 1, 5, 0, 0, tzinfo=UTC) + timedelta(hours=h * 7 + 0.5 * (h % 3)) for h in range(40)
    ]
    for end in ends:
        for hours in (1, 8, 24, 40, 72, 130):
            cutoff = working_since(end, hours * 3600)
            assert working_seconds(cutoff, end) == hours * 3600, (end, hours)
            assert working_seconds(cutoff - timedelta(seconds=1), end) > hours * 3600, (end, hours)
    # Monday 10:00, 24 working hours back: over the weekend to Friday 10:00
    assert working_since(datetime(2026, 1, 12, 10, 0, tzinfo=UTC), 24 * 3600) == datetime(
        2026, 1, 9, 10, 0, tzinfo=UTC
    )
    # Monday 00:00, exactly Friday's 24 hours back: the start of Friday
    assert working_since(datetime(2026, 1, 12, 0, 0, tzinfo=UTC), 24 * 3600) == datetime(
        2026, 1, 9, 0, 0, tzinfo=UTC
    )
