"""Vouchers: issued from a member's balance, redeemed once by someone else into their
credit, cancelled or expired back to the issuer; every step one balanced posting."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter
from datetime import timedelta

import pytest
from money_helpers import ManualPayoutPlugin

from agorakit.events.tables import StoredEvent
from agorakit.money import VoucherCancelled, VoucherExpired, VoucherIssued, VoucherRedeemed, ledger
from agorakit.money.tables import LedgerTransaction, Voucher
from agorakit.testing import TEST_EPOCH
from agorakit.worker import sweep

CODE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{4}-){6}[0-9A-HJKMNP-TV-Z]{4}$")


@pytest.fixture
def extra_plugins():
    return [("testpay", ManualPayoutPlugin())]


@pytest.fixture
def site_config():
    return {
        "database": {"pool_max_size": 20},
        "money": {"payout_methods": ["testpay"], "currencies": ["EUR"]},
    }


async def fund(runtime, member_id: int, cents: int, account: str = "available", currency: str = "USD"):
    target = ledger.available(member_id) if account == "available" else ledger.credit(member_id)
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test-funding:{member_id}:{account}:{cents}:{currency}",
            kind="test_funding",
            description="test funding",
            lines=ledger.move(ledger.external("test"), target, cents, currency),
        )


def issue(client, member, amount: str = "10.00", currency: str = "USD", **headers: str):
    body = {"amount": {"amount": amount, "currency": currency}}
    return client.post("/me/vouchers", json=body, headers={**member.headers, **headers})


def redeem(client, member, code: str):
    return client.post("/vouchers/redeem", json={"code": code}, headers=member.headers)


async def balance(client, member, currency: str = "USD") -> tuple[str, str]:
    """(credit, available) as the member sees them."""
    response = await client.get("/me/balance", headers=member.headers)
    assert response.status_code == 200, response.text
    (row,) = [b for b in response.json()["balances"] if b["currency"] == currency]
    return row["credit"], row["available"]


async def outstanding(currency: str = "USD") -> int:
    return await ledger.balance_of(ledger.VOUCHERS_OUTSTANDING, currency)


async def issued_voucher(client, runtime, issuer, amount: str = "10.00") -> dict:
    await fund(runtime, issuer.id, 5000)
    response = await issue(client, issuer, amount)
    assert response.status_code == 201, response.text
    return response.json()


async def inbox(client, member) -> list[str]:
    response = await client.get("/notifications", headers=member.headers)
    assert response.status_code == 200, response.text
    return [item["template"] for item in response.json()["items"]]


# --------------------------------------------------------------------------------------
# Issuing
# --------------------------------------------------------------------------------------


async def test_issue_takes_credit_first_then_available(client, runtime, make_member):
    issuer = await make_member()
    await fund(runtime, issuer.id, 300, "credit")
    await fund(runtime, issuer.id, 1000, "available")

    response = await issue(client, issuer, "10.00")
    assert response.status_code == 201, response.text
    body = response.json()
    assert CODE.match(body["code"]), body["code"]
    assert body["hint"] == body["code"][-4:]
    assert body["amount"] == {"amount": "10.00", "currency": "USD"}
    assert body["from_credit"] == {"amount": "3.00", "currency": "USD"}
    assert body["from_available"] == {"amount": "7.00", "currency": "USD"}
    assert body["status"] == "issued"
    assert body["expires_at"] == (TEST_EPOCH + timedelta(days=365)).isoformat().replace("+00:00", "Z")
    assert (body["redeemed_at"], body["redeemed_by"]) == (None, None)

    assert await balance(client, issuer) == ("0.00", "3.00")
    assert await outstanding() == 1000
    posting = await LedgerTransaction.select().where(
        LedgerTransaction.idempotency_key == f"voucher:{body['id']}:issue"
    )
    assert [p["kind"] for p in posting] == ["voucher_issued"]
    assert await ledger.check_ledger() == []

    # Only a hash of the code is kept, never the code itself.
    row = await Voucher.select().where(Voucher.id == body["id"]).first()
    normalised = body["code"].replace("-", "")
    assert row["code_hash"] == hashlib.sha256(normalised.encode()).hexdigest()
    assert not any(normalised in str(value) or body["code"] in str(value) for value in row.values())

    (listed,) = (await client.get("/me/vouchers", headers=issuer.headers)).json()["items"]
    assert listed == {**body, "code": None}


async def test_a_replayed_issue_returns_the_voucher_without_its_code(client, runtime, make_member, problem):
    issuer = await make_member()
    await fund(runtime, issuer.id, 2500)
    first = await issue(client, issuer, "10.00", **{"Idempotency-Key": "gift-1"})
    assert first.status_code == 201 and first.json()["code"]

    again = await issue(client, issuer, "10.00", **{"Idempotency-Key": "gift-1"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["code"] is None  # shown once: only its hash is stored
    assert again.json()["hint"] == first.json()["hint"]
    assert await balance(client, issuer) == ("0.00", "15.00")
    assert await Voucher.count() == 1

    other = await issue(client, issuer, "11.00", **{"Idempotency-Key": "gift-1"})
    problem(other, 422, "idempotency_key_reused")
    assert await balance(client, issuer) == ("0.00", "15.00")
    assert await ledger.check_ledger() == []


async def test_issuing_more_than_the_balance_is_refused_with_the_figures(
    client, runtime, make_member, problem
):
    issuer = await make_member()
    await fund(runtime, issuer.id, 300, "credit")
    await fund(runtime, issuer.id, 200, "available")
    before = await LedgerTransaction.count()

    body = problem(await issue(client, issuer, "5.01"), 409, "insufficient_funds")
    assert body["detail"] == (
        "your balance is 5.00 USD (credit 3.00, available 2.00); this voucher needs 5.01 USD"
    )
    assert body["extra"] == {"credit": "3.00", "available": "2.00", "needed": "5.01", "currency": "USD"}
    assert await Voucher.count() == 0
    assert await LedgerTransaction.count() == before
    assert await balance(client, issuer) == ("3.00", "2.00")

    assert (await issue(client, issuer, "5.00")).status_code == 201  # exactly all of it
    assert await balance(client, issuer) == ("0.00", "0.00")
    assert await ledger.check_ledger() == []


@pytest.mark.parametrize(
    ("amount", "currency", "field"),
    [
        ("-1.00", "USD", "amount.amount"),
        ("0.00", "USD", "amount.amount"),
        ("0.99", "USD", "amount.amount"),  # under [vouchers] min_amount
        ("10000.01", "USD", "amount.amount"),  # over [money] max_amount
        ("1.005", "USD", "amount.amount"),
        ("5.00", "GBP", "amount.currency"),  # not accepted by the site
    ],
)
async def test_bad_amounts_are_refused_and_move_nothing(
    client, runtime, make_member, problem, amount, currency, field
):
    issuer = await make_member()
    await fund(runtime, issuer.id, 5000)
    before = await LedgerTransaction.count()
    problem(await issue(client, issuer, amount, currency), 422, "validation_error", fields={field})
    assert await Voucher.count() == 0
    assert await LedgerTransaction.count() == before
    assert await balance(client, issuer) == ("0.00", "50.00")


async def test_a_voucher_in_another_accepted_currency_uses_that_balance(
    client, runtime, make_member, problem
):
    issuer, friend = await make_member(), await make_member()
    await fund(runtime, issuer.id, 5000)  # USD only
    problem(await issue(client, issuer, "5.00", "EUR"), 409, "insufficient_funds")
    await fund(runtime, issuer.id, 800, "credit", currency="EUR")
    response = await issue(client, issuer, "5.00", "EUR")
    assert response.status_code == 201, response.text
    assert (await redeem(client, friend, response.json()["code"])).status_code == 200
    assert await balance(client, friend, "EUR") == ("5.00", "0.00")
    assert await balance(client, issuer, "EUR") == ("3.00", "0.00")
    assert await ledger.check_ledger() == []


# --------------------------------------------------------------------------------------
# Redeeming
# --------------------------------------------------------------------------------------


async def test_redeeming_puts_the_amount_in_credit_which_cannot_be_withdrawn(
    client, runtime, make_member, problem
):
    issuer, friend = await make_member(), await make_member()
    voucher = await issued_voucher(client, runtime, issuer, "12.34")

    # Case, spaces and dashes do not matter.
    typed = " " + voucher["code"].lower().replace("-", " ") + " "
    response = await redeem(client, friend, typed)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "voucher_id": voucher["id"],
        "amount": {"amount": "12.34", "currency": "USD"},
        "redeemed_at": TEST_EPOCH.isoformat().replace("+00:00", "Z"),
    }
    assert await balance(client, friend) == ("12.34", "0.00")
    assert await outstanding() == 0

    withdrawal = {
        "method": "testpay",
        "amount": {"amount": "5.00", "currency": "USD"},
        "destination": {"email": "friend@example.com"},
    }
    refused = await client.post("/withdrawals", json=withdrawal, headers=friend.headers)
    problem(refused, 409, "insufficient_funds")
    assert await balance(client, friend) == ("12.34", "0.00")

    mine = (await client.get("/me/vouchers", headers=issuer.headers)).json()["items"]
    assert [(v["status"], v["redeemed_at"], v["redeemed_by"]) for v in mine] == [
        ("redeemed", TEST_EPOCH.isoformat().replace("+00:00", "Z"), None)
    ]
    assert "voucher_redeemed" in await inbox(client, issuer)
    assert "voucher_credited" in await inbox(client, friend)
    assert await ledger.check_ledger() == []


async def test_the_issuer_cannot_redeem_their_own_voucher(client, runtime, make_member, problem):
    issuer = await make_member()
    voucher = await issued_voucher(client, runtime, issuer)
    before = await LedgerTransaction.count()
    problem(await redeem(client, issuer, voucher["code"]), 403, "own_voucher")
    assert await LedgerTransaction.count() == before
    assert (await Voucher.select(Voucher.status).first())["status"] == "issued"
    assert await balance(client, issuer) == ("0.00", "40.00")


async def test_a_voucher_redeemed_twice_pays_once(client, runtime, make_member, problem):
    issuer, first, second = await make_member(), await make_member(), await make_member()
    voucher = await issued_voucher(client, runtime, issuer)
    assert (await redeem(client, first, voucher["code"])).status_code == 200
    problem(await redeem(client, second, voucher["code"]), 409, "voucher_redeemed")
    problem(await redeem(client, first, voucher["code"]), 409, "voucher_redeemed")
    assert await balance(client, first) == ("10.00", "0.00")
    assert await balance(client, second) == ("0.00", "0.00")
    assert await outstanding() == 0
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_redemptions_of_one_voucher_pay_once(client, runtime, make_member, problem):
    issuer = await make_member()
    voucher = await issued_voucher(client, runtime, issuer)
    friends = [await make_member() for _ in range(8)]
    responses = await asyncio.gather(
        *(redeem(client, friend, voucher["code"]) for friend in friends for _ in range(2))
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 15}, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "voucher_redeemed")
    credits = Counter([(await balance(client, friend))[0] for friend in friends])
    assert credits == {"10.00": 1, "0.00": 7}
    assert await outstanding() == 0
    redeemed = LedgerTransaction.kind == "voucher_redeemed"
    assert await LedgerTransaction.count().where(redeemed) == 1
    assert await ledger.check_ledger() == []


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_issues_cannot_overdraw(client, runtime, make_member, problem):
    issuer = await make_member()
    await fund(runtime, issuer.id, 500, "credit")
    await fund(runtime, issuer.id, 500, "available")
    responses = await asyncio.gather(*(issue(client, issuer, "4.00") for _ in range(10)))
    assert Counter(r.status_code for r in responses) == {201: 2, 409: 8}
    assert await balance(client, issuer) == ("0.00", "2.00")
    assert await outstanding() == 800
    assert await ledger.check_ledger() == []


async def test_malformed_codes_are_422_and_do_not_count_as_attempts(client, runtime, make_member, problem):
    issuer, friend = await make_member(), await make_member()
    voucher = await issued_voucher(client, runtime, issuer)
    for code in ["", "short", voucher["code"] + "X", "ÀBCD-" * 7, "!" * 28]:
        response = await redeem(client, friend, code)
        assert response.status_code in (400, 422), response.text
    for _ in range(12):
        problem(await redeem(client, friend, "nope-nope"), 422, "validation_error", fields={"code"})
    assert (await redeem(client, friend, voucher["code"])).status_code == 200


async def test_failed_redemptions_are_rate_limited_per_member(client, runtime, make_member, problem, clock):
    issuer, guesser, other = await make_member(), await make_member(), await make_member()
    voucher = await issued_voucher(client, runtime, issuer)
    wrong = "0000-0000-0000-0000-0000-0000-0000"
    for _ in range(10):
        problem(await redeem(client, guesser, wrong), 404, "voucher_not_found")

    limited = await redeem(client, guesser, voucher["code"])  # even the right code waits
    problem(limited, 429, "too_many_requests")
    assert limited.headers["Retry-After"] == "3600"
    assert (await Voucher.select(Voucher.status).first())["status"] == "issued"

    clock.advance(timedelta(minutes=59))
    assert (await redeem(client, guesser, voucher["code"])).headers["Retry-After"] == "60"
    problem(await redeem(client, other, wrong), 404, "voucher_not_found")  # others are not held up

    clock.advance(timedelta(minutes=1))
    assert (await redeem(client, guesser, voucher["code"])).status_code == 200
    assert await balance(client, guesser) == ("10.00", "0.00")
    assert await ledger.check_ledger() == []


# --------------------------------------------------------------------------------------
# Expiry and cancelling
# --------------------------------------------------------------------------------------


async def test_an_unredeemed_voucher_returns_to_the_issuers_credit_at_expiry(
    client, runtime, make_member, problem, clock
):
    issuer, friend = await make_member(), await make_member()
    await fund(runtime, issuer.id, 300, "credit")
    await fund(runtime, issuer.id, 1700, "available")
    kept = (await issue(client, issuer, "10.00")).json()  # 3.00 credit + 7.00 available
    used = (await issue(client, issuer, "10.00")).json()  # 10.00 available
    assert await balance(client, issuer) == ("0.00", "0.00")

    clock.advance(timedelta(days=365) - timedelta(seconds=1))
    assert (await sweep(runtime)).expired_vouchers == []
    assert (await redeem(client, friend, used["code"])).status_code == 200  # still valid

    clock.advance(timedelta(seconds=1))
    problem(await redeem(client, friend, kept["code"]), 409, "voucher_expired")
    problem(
        await client.post(f"/me/vouchers/{kept['id']}/cancel", headers=issuer.headers), 409, "voucher_expired"
    )
    assert await balance(client, issuer) == ("0.00", "0.00")

    assert (await sweep(runtime)).expired_vouchers == [kept["id"]]
    assert await balance(client, issuer) == ("10.00", "0.00")  # all of it to the wallet
    assert await balance(client, friend) == ("10.00", "0.00")
    assert await outstanding() == 0
    statuses = {
        v["id"]: v["status"]
        for v in (await client.get("/me/vouchers", headers=issuer.headers)).json()["items"]
    }
    assert statuses == {kept["id"]: "expired", used["id"]: "redeemed"}
    assert "voucher_expired" in await inbox(client, issuer)
    assert (await sweep(runtime)).expired_vouchers == []  # once
    assert await balance(client, issuer) == ("10.00", "0.00")
    assert await ledger.check_ledger() == []


async def test_cancelling_returns_each_part_where_it_came_from(client, runtime, make_member, problem):
    issuer, friend, stranger = await make_member(), await make_member(), await make_member()
    await fund(runtime, issuer.id, 300, "credit")
    await fund(runtime, issuer.id, 1000, "available")
    voucher = (await issue(client, issuer, "10.00")).json()
    assert await balance(client, issuer) == ("0.00", "3.00")

    problem(
        await client.post(f"/me/vouchers/{voucher['id']}/cancel", headers=stranger.headers), 404, "not_found"
    )
    response = await client.post(f"/me/vouchers/{voucher['id']}/cancel", headers=issuer.headers)
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert {k: cancelled[k] for k in ("id", "hint", "expires_at", "created_at", "from_credit")} == {
        k: voucher[k] for k in ("id", "hint", "expires_at", "created_at", "from_credit")
    }
    assert cancelled["code"] is None
    assert await balance(client, issuer) == ("3.00", "10.00")
    assert await outstanding() == 0

    problem(
        await client.post(f"/me/vouchers/{voucher['id']}/cancel", headers=issuer.headers), 409, "conflict"
    )
    problem(await redeem(client, friend, voucher["code"]), 409, "voucher_cancelled")
    assert await balance(client, issuer) == ("3.00", "10.00")
    assert await balance(client, friend) == ("0.00", "0.00")
    assert await ledger.check_ledger() == []


async def test_a_redeemed_voucher_cannot_be_cancelled(client, runtime, make_member, problem):
    issuer, friend = await make_member(), await make_member()
    voucher = await issued_voucher(client, runtime, issuer)
    assert (await redeem(client, friend, voucher["code"])).status_code == 200
    body = problem(
        await client.post(f"/me/vouchers/{voucher['id']}/cancel", headers=issuer.headers), 409, "conflict"
    )
    assert body["extra"] == {"status": "redeemed"}
    assert await balance(client, issuer) == ("0.00", "40.00")
    assert await ledger.check_ledger() == []


# --------------------------------------------------------------------------------------
# Lists, operators, settings, the ledger check
# --------------------------------------------------------------------------------------


async def test_lists_are_paged_and_operators_filter_by_status(client, runtime, make_member, problem):
    issuer, friend, operator = await make_member(), await make_member(), await make_member(role="operator")
    ids = [(await issued_voucher(client, runtime, issuer, "1.00"))["id"] for _ in range(3)]
    codes_redeemed = await issue(client, issuer, "2.00")
    assert (await redeem(client, friend, codes_redeemed.json()["code"])).status_code == 200

    first = (await client.get("/me/vouchers", params={"limit": 2}, headers=issuer.headers)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = await client.get(
        "/me/vouchers", params={"limit": 2, "cursor": first["next_cursor"]}, headers=issuer.headers
    )
    assert [v["id"] for v in first["items"] + rest.json()["items"]] == [
        codes_redeemed.json()["id"],
        *ids[::-1],
    ]
    assert (await client.get("/me/vouchers", headers=friend.headers)).json()["items"] == []

    problem(await client.get("/operator/vouchers", headers=issuer.headers), 403, "forbidden")
    redeemed = await client.get("/operator/vouchers", params={"status": "redeemed"}, headers=operator.headers)
    assert [(v["status"], v["redeemed_by"], v["code"]) for v in redeemed.json()["items"]] == [
        ("redeemed", friend.id, None)
    ]
    issued = await client.get("/operator/vouchers", params={"status": "issued"}, headers=operator.headers)
    assert sorted(v["id"] for v in issued.json()["items"]) == ids


@pytest.mark.parametrize("site_config", [{"vouchers": {"enabled": False}}])
async def test_a_site_without_vouchers_refuses_issuing_and_redeeming(client, runtime, make_member, problem):
    issuer, friend = await make_member(), await make_member()
    await fund(runtime, issuer.id, 5000)
    problem(await issue(client, issuer, "10.00"), 404, "vouchers_disabled")
    problem(await redeem(client, friend, "0000-0000-0000-0000-0000-0000-0000"), 404, "vouchers_disabled")
    assert (await client.get("/me/vouchers", headers=issuer.headers)).json()["items"] == []
    assert await balance(client, issuer) == ("0.00", "50.00")


@pytest.mark.parametrize("site_config", [{"vouchers": {"min_amount": "5.00", "valid_days": 30}}])
async def test_the_minimum_and_validity_come_from_the_settings(client, runtime, make_member, problem, clock):
    issuer = await make_member()
    await fund(runtime, issuer.id, 5000)
    body = problem(await issue(client, issuer, "4.99"), 422, "validation_error", fields={"amount.amount"})
    assert "5.00 to 10000.00 USD" in body["detail"]
    voucher = (await issue(client, issuer, "5.00")).json()
    clock.advance(timedelta(days=30))
    assert (await sweep(runtime)).expired_vouchers == [voucher["id"]]
    assert await balance(client, issuer) == ("5.00", "45.00")


async def test_check_ledger_finds_vouchers_the_outstanding_account_does_not_hold(
    client, runtime, make_member
):
    issuer = await make_member()
    voucher = await issued_voucher(client, runtime, issuer)
    assert await ledger.check_ledger() == []
    await Voucher.update({Voucher.status: "cancelled"}).where(Voucher.id == voucher["id"])  # no posting
    assert await ledger.check_ledger() == [
        "vouchers:outstanding USD: holds 1000 but the issued vouchers add up to 0"
    ]


async def test_each_step_records_its_event(client, runtime, make_member, clock):
    issuer, friend = await make_member(), await make_member()
    await fund(runtime, issuer.id, 5000)
    given, taken_back, left = [(await issue(client, issuer, "2.00")).json() for _ in range(3)]
    assert (await redeem(client, friend, given["code"])).status_code == 200
    assert (
        await client.post(f"/me/vouchers/{taken_back['id']}/cancel", headers=issuer.headers)
    ).status_code == 200
    clock.advance(timedelta(days=365))
    assert (await sweep(runtime)).expired_vouchers == [left["id"]]

    rows = (
        await StoredEvent.select()
        .where(StoredEvent.name.like("voucher.%"))
        .order_by(StoredEvent.id)
        .output(load_json=True)
    )
    recorded = [
        (r["subject"], r["actor_id"], runtime.event_types.payload(r["name"], r["data"])) for r in rows
    ]
    issued = [
        (
            f"voucher:{v['id']}",
            issuer.id,
            VoucherIssued(voucher_id=v["id"], issuer_id=issuer.id, amount=200, currency="USD"),
        )
        for v in (given, taken_back, left)
    ]
    assert recorded == [
        *issued,
        (
            f"voucher:{given['id']}",
            friend.id,
            VoucherRedeemed(
                voucher_id=given["id"], issuer_id=issuer.id, redeemer_id=friend.id, amount=200, currency="USD"
            ),
        ),
        (
            f"voucher:{taken_back['id']}",
            issuer.id,
            VoucherCancelled(voucher_id=taken_back["id"], issuer_id=issuer.id),
        ),
        (
            f"voucher:{left['id']}",
            None,
            VoucherExpired(voucher_id=left["id"], issuer_id=issuer.id, amount=200, currency="USD"),
        ),
    ]
    assert await ledger.check_ledger() == []
