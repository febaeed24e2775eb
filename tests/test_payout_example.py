"""The automatic payout method of ``docs/money.md`` (``tests/examples/acmepay_payouts.py``),
registered as a site registers any plugin and driven by the worker sweep, on SQLite and
PostgreSQL: withdrawals sent in a batch, completed or failed as the provider reports,
and an operator settling one the provider never reported on.
"""

from __future__ import annotations

import pytest
from examples import acmepay_payouts

from agorakit.money import ledger, withdrawal_status
from agorakit.worker import sweep


@pytest.fixture
def extra_plugins(monkeypatch):
    monkeypatch.setattr(acmepay_payouts, "CLIENT", acmepay_payouts.AcmePayClient())
    return [("acmepay_payouts", acmepay_payouts)]


@pytest.fixture
def site_config():
    return {"money": {"payout_methods": ["acmepay"]}}


@pytest.fixture
def provider(runtime):
    return runtime.payout_methods["acmepay"].client


async def member_with_money(runtime, make_member, cents: int = 100_00):
    member = await make_member()
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{member.id}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), ledger.available(member.id), cents, "USD"),
        )
    return member


async def withdraw(client, member, amount: str, email: str = "Ada@Example.com") -> int:
    response = await client.post(
        "/withdrawals",
        json={
            "method": "acmepay",
            "amount": {"amount": amount, "currency": "USD"},
            "destination": {"email": email},
        },
        headers=member.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "requested"
    return response.json()["id"]


async def balances(member_id: int) -> tuple[int, int, int, int]:
    """The member's available, the method's clearing and external, the platform's fees."""
    return (
        await ledger.balance_of(ledger.available(member_id), "USD"),
        await ledger.balance_of(ledger.clearing("acmepay"), "USD"),
        await ledger.balance_of(ledger.external("acmepay"), "USD"),
        await ledger.balance_of(ledger.PLATFORM_FEES, "USD"),
    )


async def test_the_sweep_sends_waiting_withdrawals_and_applies_what_the_provider_reports(
    client, runtime, make_member, provider
):
    ada = await member_with_money(runtime, make_member)
    paid, refused = await withdraw(client, ada, "20.00"), await withdraw(client, ada, "30.00")
    assert await balances(ada.id) == (5000, 5000, 0, 0)

    report = await sweep(runtime)
    assert report.method_syncs == {"payout:acmepay": {"sent": [paid, refused], "settled": {}}}
    assert [await withdrawal_status(i) for i in (paid, refused)] == ["processing", "processing"]
    item = provider.items[f"WD-{paid}"]
    assert (item["email"], item["amount"], item["currency"]) == ("ada@example.com", 1975, "USD")
    assert item["batch_ref"] == provider.items[f"WD-{refused}"]["batch_ref"]
    # Nothing new: the sweep reports nothing for the method.
    assert (await sweep(runtime)).method_syncs == {}

    provider.decide(f"WD-{paid}", "paid", "ACME-PAY-1")
    provider.decide(f"WD-{refused}", "failed", "the Acme Pay account is closed")
    report = await sweep(runtime)
    assert report.method_syncs == {
        "payout:acmepay": {"sent": [], "settled": {paid: "completed", refused: "failed"}}
    }
    # 20.00 paid out: 19.75 to the provider, 0.25 fee; 30.00 back to Ada.
    assert await balances(ada.id) == (8000, 0, 1975, 25)
    mine = (await client.get("/withdrawals", headers=ada.headers)).json()["items"]
    by_id = {w["id"]: w for w in mine}
    assert (by_id[paid]["status"], by_id[paid]["provider_ref"]) == ("completed", "ACME-PAY-1")
    assert (by_id[refused]["status"], by_id[refused]["failure_reason"]) == (
        "failed",
        "the Acme Pay account is closed",
    )

    # The provider reporting the same outcome again moves no money.
    provider.decide(f"WD-{paid}", "paid", "ACME-PAY-1")
    await sweep(runtime)
    assert await balances(ada.id) == (8000, 0, 1975, 25)


async def test_a_batch_the_provider_did_not_take_is_sent_again_and_paid_once(
    client, runtime, make_member, provider, monkeypatch
):
    ada = await member_with_money(runtime, make_member)
    first = await withdraw(client, ada, "20.00")
    method = runtime.payout_methods["acmepay"]

    real, calls = provider.send_batch, []

    async def unreachable_once(batch_ref, items):
        calls.append(batch_ref)
        if len(calls) == 1:
            raise ConnectionError("Acme Pay is unreachable")
        await real(batch_ref, items)

    monkeypatch.setattr(provider, "send_batch", unreachable_once)
    with pytest.raises(ConnectionError):
        await method.send_waiting(runtime)
    assert await withdrawal_status(first) == "requested"  # nothing was attached

    assert await method.send_waiting(runtime) == [first]
    assert list(provider.items) == [f"WD-{first}"]
    assert await method.send_waiting(runtime) == []


async def test_an_operator_settles_a_withdrawal_the_provider_never_reported(
    client, runtime, make_member, provider
):
    operator = await make_member(role="operator")
    ada = await member_with_money(runtime, make_member)
    stuck, lost = await withdraw(client, ada, "20.00"), await withdraw(client, ada, "10.00")
    await sweep(runtime)
    batch_ref = provider.items[f"WD-{stuck}"]["batch_ref"]
    settle = f"/acmepay/batches/{batch_ref}/settle"

    # Only operators; the core's manual routes refuse a method its provider settles.
    refused = await client.post(
        settle, json={"withdrawal_id": stuck, "outcome": "failed", "reason": "lost"}, headers=ada.headers
    )
    assert refused.status_code == 403
    by_hand = await client.post(
        f"/operator/withdrawals/{stuck}/fail", json={"reason": "lost"}, headers=operator.headers
    )
    assert by_hand.status_code == 403
    assert by_hand.json()["detail"] == "acmepay payouts are settled by the payout provider, not by hand"
    # A withdrawal of another batch, a reason missing: nothing moves.
    wrong = await client.post(
        "/acmepay/batches/acme-other/settle",
        json={"withdrawal_id": stuck, "outcome": "failed", "reason": "lost"},
        headers=operator.headers,
    )
    assert wrong.status_code == 404
    unexplained = await client.post(
        settle, json={"withdrawal_id": stuck, "outcome": "failed"}, headers=operator.headers
    )
    assert unexplained.status_code == 422
    assert unexplained.json()["errors"][0]["field"] == "reason"
    assert await balances(ada.id) == (7000, 3000, 0, 0)

    failed = await client.post(
        settle,
        json={"withdrawal_id": stuck, "outcome": "failed", "reason": "Acme Pay lost the payment"},
        headers=operator.headers,
    )
    assert failed.status_code == 200, failed.text
    assert failed.json() == {"withdrawal_id": stuck, "status": "failed"}
    completed = await client.post(
        settle,
        json={"withdrawal_id": lost, "outcome": "paid", "provider_ref": "ACME-PAY-9"},
        headers=operator.headers,
    )
    assert completed.json() == {"withdrawal_id": lost, "status": "completed"}
    # 20.00 back to Ada; 10.00 paid out (9.75 and the 0.25 fee).
    assert await balances(ada.id) == (9000, 0, 975, 25)

    # Settling it again, either way, moves nothing and says what it is.
    again = await client.post(
        settle,
        json={"withdrawal_id": stuck, "outcome": "paid", "provider_ref": "ACME-PAY-10"},
        headers=operator.headers,
    )
    assert again.json() == {"withdrawal_id": stuck, "status": "failed"}
    assert await balances(ada.id) == (9000, 0, 975, 25)
