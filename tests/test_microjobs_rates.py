"""A worker's success rate and the withdrawal gate (min_withdrawal, min_success_rate)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from microjobs_helpers import (
    fund,
    live_campaign,
    market,
    microjobs_config,
    rate,
    submit,
    taken_and_submitted,
)

from agorakit.money import ledger
from agorakit.plugins.microjobs.rates import reaches, success_rate
from agorakit.plugins.microjobs.tables import Task
from agorakit.testing import TEST_EPOCH

__all__ = ["market"]

US_ACCOUNT = {"account_holder": "Grace Hopper", "account_number": "0001234567", "routing_number": "111000025"}
_ORDER_IDS = itertools.count(900_000)


@pytest.fixture
def site_config(tmp_path):
    config = microjobs_config(tmp_path)
    config["plugins"] = {"bank_transfer": {"payout_minimum": "1.00"}}
    return config


async def rated_tasks(worker_id: int, *, satisfied=0, unsatisfied=0, refunded=0, ptc_paid=0, taken=0) -> None:
    """Give a worker tasks directly (rows as the plugin keeps them; one per campaign)."""
    statuses = (
        [("satisfied", False)] * satisfied
        + [("unsatisfied", False)] * unsatisfied
        + [("refunded", False)] * refunded
        + [("paid", True)] * ptc_paid
        + [("taken", False)] * taken
    )
    if statuses:
        await Task.insert(
            *[
                Task(
                    campaign_id=(order_id := next(_ORDER_IDS)),
                    worker_id=worker_id,
                    order_id=order_id,
                    ptc=ptc,
                    status=status,
                    created_at=TEST_EPOCH,
                    updated_at=TEST_EPOCH,
                )
                for status, ptc in statuses
            ]
        )


async def withdraw(client, member, amount: str):
    body = {
        "method": "bank_transfer",
        "amount": {"amount": amount, "currency": "USD"},
        "destination": US_ACCOUNT,
    }
    return await client.post("/withdrawals", json=body, headers=member.headers)


async def stats(client, caller, member_id: int):
    return await client.get(f"/microjobs/workers/{member_id}/stats", headers=caller.headers)


def test_the_rate_is_rounded_down_and_compared_on_integers():
    assert success_rate(37, 50) == "74.0"
    assert success_rate(2, 3) == "66.6"
    assert success_rate(749, 1000) == "74.9"
    assert success_rate(3, 3) == "100.0"
    assert success_rate(0, 0) is None
    assert not reaches(749, 1000, 75)  # 74.9% is below 75
    assert reaches(3, 4, 75)
    assert not reaches(0, 0, 75) and reaches(0, 0, 0)


async def test_stats_count_rated_tasks_and_leave_paid_to_click_out(client, runtime, market, problem):
    campaign = await live_campaign(client, market, positions=3)
    good = await taken_and_submitted(client, market, campaign["id"], market.us)
    assert (await rate(client, market.employer, good, True)).status_code == 200
    bad = await taken_and_submitted(client, market, campaign["id"], market.gb)
    await rate(client, market.employer, bad, False, reason="The username does not exist")
    await submit(client, market.gb, bad)
    await rate(client, market.employer, bad, False, reason="Still not following us")
    await rated_tasks(market.us.id, ptc_paid=4, taken=1)

    mine = await stats(client, market.us, market.us.id)
    assert mine.status_code == 200, mine.text
    assert mine.json() == {
        "member_id": market.us.id,
        "rated": 1,
        "satisfied": 1,
        "success_rate": "100.0",
        "in_progress": 1,
        "clicks": 4,
    }
    # the employer they worked for sees it, and operators; another member gets a 404
    by_employer = (await stats(client, market.employer, market.gb.id)).json()
    assert (by_employer["rated"], by_employer["satisfied"], by_employer["success_rate"]) == (1, 0, "0.0")
    assert (await stats(client, market.operator, market.gb.id)).json()["rated"] == 1
    problem(await stats(client, market.fr, market.us.id), 404, "not_found")
    problem(await stats(client, market.us, market.gb.id), 404, "not_found")
    problem(await stats(client, market.operator, 999_999), 404, "not_found")
    # no rated task: no rate
    assert (await stats(client, market.fr, market.fr.id)).json()["success_rate"] is None


async def test_74_percent_is_refused_at_75_and_75_passes(client, runtime, market, problem):
    worker = market.fr
    await fund(runtime, ledger.available(worker.id), 2000)
    await rated_tasks(worker.id, satisfied=37, unsatisfied=10, refunded=3, ptc_paid=30)
    body = problem(await withdraw(client, worker, "15.00"), 403, "withdrawal_not_allowed")
    assert body["detail"] == "your success rate is 74.0% (37 of 50 rated tasks); withdrawals need 75%"
    assert await ledger.balance_of(ledger.available(worker.id), "USD") == 2000

    await rated_tasks(worker.id, satisfied=1)  # 38 of 51 = 74.5%: still refused
    body = problem(await withdraw(client, worker, "15.00"), 403, "withdrawal_not_allowed")
    assert "74.5% (38 of 51 rated tasks)" in body["detail"]

    await rated_tasks(worker.id, satisfied=1)  # 39 of 52 = 75% exactly
    allowed = await withdraw(client, worker, "15.00")
    assert allowed.status_code == 201, allowed.text
    assert await ledger.balance_of(ledger.available(worker.id), "USD") == 500


async def test_a_balance_below_the_minimum_is_refused(client, runtime, market, problem):
    worker = market.gb
    await rated_tasks(worker.id, satisfied=4)
    await fund(runtime, ledger.available(worker.id), 999)
    await fund(runtime, ledger.credit(worker.id), 5000)  # credit does not count
    body = problem(await withdraw(client, worker, "5.00"), 403, "withdrawal_not_allowed")
    assert body["detail"] == (
        "your available balance is 9.99 USD; withdrawals need at least 10.00 USD (wallet credit does not count)"
    )
    await fund(runtime, ledger.available(worker.id), 1)
    allowed = await withdraw(client, worker, "5.00")
    assert allowed.status_code == 201, allowed.text


async def test_wallet_credit_is_never_withdrawable(client, runtime, market, problem):
    worker = market.us
    await rated_tasks(worker.id, satisfied=4)
    await fund(runtime, ledger.available(worker.id), 1000)
    await fund(runtime, ledger.credit(worker.id), 10000)
    problem(await withdraw(client, worker, "50.00"), 409, "insufficient_funds")
    assert (await withdraw(client, worker, "10.00")).status_code == 201
    assert await ledger.balance_of(ledger.credit(worker.id), "USD") == 10000


async def test_no_rated_task_is_refused_at_75(client, runtime, market, problem):
    worker = market.fr
    await fund(runtime, ledger.available(worker.id), 2000)
    await rated_tasks(worker.id, ptc_paid=20)  # paid-to-click tasks are never rated
    body = problem(await withdraw(client, worker, "10.00"), 403, "withdrawal_not_allowed")
    assert body["detail"] == (
        "you have no rated task yet, so no success rate; withdrawals need a success rate of 75%"
    )


class TestNoMinimumRate:
    @pytest.fixture
    def site_config(self, tmp_path):
        config = microjobs_config(tmp_path, min_success_rate=0)
        config["plugins"]["bank_transfer"] = {"payout_minimum": "1.00"}
        return config

    async def test_no_rated_task_passes_at_0_and_the_withdrawal_is_due_in_payout_days(
        self, client, runtime, market, clock
    ):
        worker = market.fr
        await fund(runtime, ledger.available(worker.id), 2000)
        made = await withdraw(client, worker, "12.00")
        assert made.status_code == 201, made.text
        withdrawal = made.json()
        due = clock.now() + timedelta(days=runtime.settings.money.payout_days)
        assert withdrawal["status"] == "requested"
        assert withdrawal["due_at"] == due.isoformat().replace("+00:00", "Z")
        assert withdrawal["overdue"] is False
        listed = (await client.get("/withdrawals", headers=worker.headers)).json()["items"]
        assert [(w["id"], w["due_at"]) for w in listed] == [(withdrawal["id"], withdrawal["due_at"])]


async def test_a_member_who_never_took_a_task_withdraws_without_a_rate(client, runtime, market, problem):
    """By default the rate holds workers only: a seller of offers (or gigs) who never took
    a task withdraws with the balance rule alone; a worker with tasks is held to it."""
    seller = market.gb
    await fund(runtime, ledger.available(seller.id), 6000)
    assert (await withdraw(client, seller, "50.00")).status_code == 201
    worker = market.fr
    await fund(runtime, ledger.available(worker.id), 6000)
    await rated_tasks(worker.id, satisfied=2, unsatisfied=2)
    body = problem(await withdraw(client, worker, "50.00"), 403, "withdrawal_not_allowed")
    assert body["detail"] == "your success rate is 50.0% (2 of 4 rated tasks); withdrawals need 75%"


class TestRateForEveryone:
    @pytest.fixture
    def site_config(self, tmp_path):
        config = microjobs_config(tmp_path, success_rate_applies_to="everyone")
        config["plugins"]["bank_transfer"] = {"payout_minimum": "1.00"}
        return config

    async def test_a_member_who_never_took_a_task_has_no_rate_and_is_refused(
        self, client, runtime, market, problem
    ):
        seller = market.gb
        await fund(runtime, ledger.available(seller.id), 2000)
        body = problem(await withdraw(client, seller, "12.00"), 403, "withdrawal_not_allowed")
        assert body["detail"] == (
            "you have no rated task yet, so no success rate; withdrawals need a success rate of 75%"
        )
