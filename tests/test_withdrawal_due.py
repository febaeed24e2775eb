"""Withdrawals have a due date: the site promises to pay within ``[money] payout_days``
(7 by default) of the request.  Members see it; operators list the overdue ones (still
requested or processing after it)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from money_helpers import ManualPayoutPlugin

from agorakit.money import attach_to_batch, ledger
from agorakit.testing import TEST_EPOCH


@pytest.fixture
def extra_plugins():
    return [("testpay", ManualPayoutPlugin())]


@pytest.fixture
def site_config():
    return {"money": {"payout_methods": ["testpay"]}}


async def withdraw(client, runtime, member, amount: str = "20.00") -> dict:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{member.id}:{amount}",
            kind="test_funding",
            description="test funding",
            lines=ledger.move(ledger.external("test"), ledger.available(member.id), 100_00, "USD"),
        )
    response = await client.post(
        "/withdrawals",
        json={
            "method": "testpay",
            "amount": {"amount": amount, "currency": "USD"},
            "destination": {"email": "payee@example.com"},
        },
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def overdue_ids(client, operator, **params) -> list[int]:
    response = await client.get(
        "/operator/withdrawals", params={"overdue": "true", **params}, headers=operator.headers
    )
    assert response.status_code == 200, response.text
    return [w["id"] for w in response.json()["items"]]


async def test_a_withdrawal_is_due_seven_days_after_it_was_requested(client, runtime, make_member, clock):
    member, operator = await make_member(), await make_member(role="operator")
    withdrawal = await withdraw(client, runtime, member)
    assert at(withdrawal["created_at"]) == TEST_EPOCH
    assert at(withdrawal["due_at"]) == TEST_EPOCH + timedelta(days=7)
    assert withdrawal["overdue"] is False

    # At the due date exactly: not overdue yet.
    clock.set(TEST_EPOCH + timedelta(days=7))
    mine = await client.get(f"/withdrawals/{withdrawal['id']}", headers=member.headers)
    assert (mine.json()["overdue"], at(mine.json()["due_at"])) == (False, TEST_EPOCH + timedelta(days=7))
    assert await overdue_ids(client, operator) == []

    # One second later it is.
    clock.advance(seconds=1)
    listed = await client.get("/withdrawals", headers=member.headers)
    [item] = listed.json()["items"]
    assert (item["id"], item["overdue"], at(item["due_at"])) == (
        withdrawal["id"],
        True,
        TEST_EPOCH + timedelta(days=7),
    )
    assert await overdue_ids(client, operator) == [withdrawal["id"]]
    assert await overdue_ids(client, operator, overdue="false") == []


async def test_operators_list_only_the_overdue_oldest_first(client, runtime, make_member, clock):
    operator = await make_member(role="operator")
    first = await withdraw(client, runtime, await make_member())
    clock.advance(days=2)
    second = await withdraw(client, runtime, await make_member())
    clock.advance(days=2)
    third = await withdraw(client, runtime, await make_member())
    # Sent in a batch: processing is still unpaid, so it can be overdue too.
    async with runtime.unit_of_work() as uow:
        await attach_to_batch(uow, [second["id"]], batch_ref="batch-1")

    clock.set(TEST_EPOCH + timedelta(days=9, seconds=1))  # the first two are late
    assert await overdue_ids(client, operator) == [first["id"], second["id"]]
    assert await overdue_ids(client, operator, status="processing") == [second["id"]]
    assert await overdue_ids(client, operator, overdue="false") == [third["id"]]
    everyone = await client.get("/operator/withdrawals", headers=operator.headers)
    assert [(w["id"], w["overdue"]) for w in everyone.json()["items"]] == [
        (first["id"], True),
        (second["id"], True),
        (third["id"], False),
    ]


async def test_paid_failed_or_cancelled_withdrawals_are_never_overdue(client, runtime, make_member, clock):
    operator = await make_member(role="operator")
    paid_by = await make_member()
    paid = await withdraw(client, runtime, paid_by)
    failed = await withdraw(client, runtime, await make_member())
    cancelling = await make_member()
    cancelled = await withdraw(client, runtime, cancelling)
    clock.advance(days=30)
    async with runtime.unit_of_work() as uow:
        await attach_to_batch(uow, [paid["id"]], batch_ref="late-batch")
    assert await overdue_ids(client, operator) == [paid["id"], failed["id"], cancelled["id"]]

    completed = await client.post(
        f"/operator/withdrawals/{paid['id']}/complete", json={}, headers=operator.headers
    )
    assert completed.status_code == 200, completed.text
    assert (completed.json()["status"], completed.json()["overdue"]) == ("completed", False)
    failing = await client.post(
        f"/operator/withdrawals/{failed['id']}/fail",
        json={"reason": "account closed"},
        headers=operator.headers,
    )
    assert (failing.json()["status"], failing.json()["overdue"]) == ("failed", False)
    cancel = await client.post(f"/withdrawals/{cancelled['id']}/cancel", headers=cancelling.headers)
    assert (cancel.json()["status"], cancel.json()["overdue"]) == ("cancelled", False)

    assert await overdue_ids(client, operator) == []
    mine = await client.get(f"/withdrawals/{paid['id']}", headers=paid_by.headers)
    assert mine.json()["overdue"] is False
    assert at(mine.json()["due_at"]) == TEST_EPOCH + timedelta(days=7)


async def test_an_overdue_filter_that_is_not_a_boolean_is_a_422_on_it(client, make_member, problem):
    operator = await make_member(role="operator")
    response = await client.get("/operator/withdrawals", params={"overdue": "soon"}, headers=operator.headers)
    problem(response, 422, "validation_error", fields={"overdue"})


class TestPayoutDays:
    @pytest.fixture
    def site_config(self):
        return {"money": {"payout_methods": ["testpay"], "payout_days": 3}}

    async def test_the_site_sets_the_days_within_which_it_pays(self, client, runtime, make_member, clock):
        member, operator = await make_member(), await make_member(role="operator")
        clock.advance(hours=5)
        withdrawal = await withdraw(client, runtime, member)
        assert at(withdrawal["due_at"]) == TEST_EPOCH + timedelta(days=3, hours=5)
        clock.set(TEST_EPOCH + timedelta(days=3, hours=5, seconds=1))
        assert await overdue_ids(client, operator) == [withdrawal["id"]]


async def test_withdrawals_from_before_due_dates_are_due_seven_days_after_their_request(
    client, runtime, make_member, clock
):
    """The migration that brought due dates gives the withdrawals already there one."""
    import importlib

    from agorakit.money.tables import Withdrawal

    member, operator = await make_member(), await make_member(role="operator")
    withdrawal = await withdraw(client, runtime, member)
    clock.advance(days=1)
    later = await withdraw(client, runtime, member, amount="30.00")
    await Withdrawal.update({Withdrawal.due_at: None}).where(
        Withdrawal.id.is_in([withdrawal["id"], later["id"]])
    )
    backfill = importlib.import_module(
        "agorakit.money.piccolo_migrations.core_money_2026_12_20t09_00_01_000000"
    )
    await (await backfill.forwards()).run()
    rows = await Withdrawal.select(Withdrawal.id, Withdrawal.due_at).order_by(Withdrawal.id)
    assert [(r["id"], r["due_at"]) for r in rows] == [
        (withdrawal["id"], TEST_EPOCH + timedelta(days=7)),
        (later["id"], TEST_EPOCH + timedelta(days=8)),
    ]
    clock.set(TEST_EPOCH + timedelta(days=7, seconds=1))
    assert await overdue_ids(client, operator) == [withdrawal["id"]]
