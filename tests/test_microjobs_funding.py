"""Funding a campaign: where the money comes from, bank transfers, review, replays, every
validation error, and the fee arithmetic in cents (site override and a fee plugin)."""

from __future__ import annotations

import pytest
from microjobs_helpers import (
    approve,
    balances,
    books_are_sound,
    campaign_body,
    create_campaign,
    live_campaign,
    market,
    microjobs_config,
    rate,
    taken_and_submitted,
    usd,
)

from agorakit import hookimpl
from agorakit.catalog.tables import Listing
from agorakit.money import FeeLine, ledger, percent_of
from agorakit.plugins.microjobs.tables import Campaign

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return microjobs_config(tmp_path)


async def campaign_count() -> tuple[int, int]:
    return await Campaign.count(), await Listing.count()


# --------------------------------------------------------------------------------------
# Where the money comes from
# --------------------------------------------------------------------------------------


async def test_credit_is_used_first_then_the_earned_balance(client, runtime, market):
    # leave 1.00 of credit: 100.00 - 99.00
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key="spend-credit",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.credit(market.employer.id), ledger.external("test"), 9900, "USD"),
        )
    assert await balances(market.employer.id) == (5000, 100)
    created = await create_campaign(client, market.employer, positions=10)  # 10 x 0.55 = 5.50
    assert created.status_code == 201, created.text
    # 1.00 from the credit, the other 4.50 from the 50.00 earned
    assert await balances(market.employer.id) == (5000 - 450, 0)
    assert created.json()["budget"]["escrow"] == usd("5.50")
    await books_are_sound(runtime)


async def test_not_enough_balance_creates_nothing(client, runtime, market, problem):
    # 150.00 of balance; 300 positions x 0.55 = 165.00
    refused = await create_campaign(client, market.employer, positions=300)
    problem(refused, 409, "insufficient_funds")
    assert await campaign_count() == (0, 0)
    assert await balances(market.employer.id) == (5000, 10000)
    await books_are_sound(runtime)


async def test_a_bank_transfer_waits_for_the_operator_then_goes_to_review(client, runtime, market):
    created = await create_campaign(client, market.employer, positions=10, method="bank_transfer")
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["state"] == "awaiting_funds"
    assert (campaign["positions"], campaign["requested"], campaign["free"]) == (0, 10, 0)
    assert campaign["budget"]["escrow"] == usd("0.00")
    payment_id = campaign["pending_payment_id"]
    assert payment_id is not None
    assert await balances(market.employer.id) == (5000, 10000)  # nothing taken from the balance
    # nobody can take an unpaid campaign
    taken = await client.post(f"/microjobs/jobs/{campaign['id']}/take", headers=market.us.headers)
    assert taken.status_code == 404
    confirmed = await client.post(
        f"/bank-transfer/payments/{payment_id}/confirm",
        json={"amount": usd("5.50"), "reference": "STMT-1"},
        headers=market.operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    got = (await client.get(f"/microjobs/campaigns/{campaign['id']}", headers=market.employer.headers)).json()
    assert got["state"] == "pending_review"
    assert (got["positions"], got["free"], got["pending_payment_id"]) == (10, 10, None)
    assert got["budget"]["escrow"] == usd("5.50")
    assert await balances(market.employer.id) == (5000, 10000)
    await approve(client, market.operator, got)
    got = (await client.get(f"/microjobs/campaigns/{campaign['id']}", headers=market.employer.headers)).json()
    assert got["state"] == "active"
    await books_are_sound(runtime)


async def test_an_idempotent_replay_returns_the_same_campaign_and_charges_once(client, runtime, market):
    headers = {**market.employer.headers, "Idempotency-Key": "campaign-one"}
    first = await client.post("/microjobs/campaigns", json=campaign_body(positions=4), headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/microjobs/campaigns", json=campaign_body(positions=4), headers=headers)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await campaign_count() == (1, 1)
    assert await balances(market.employer.id) == (5000, 10000 - 4 * 55)
    await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# Validation: every error at once, nothing created
# --------------------------------------------------------------------------------------

DUPLICATE_PROOF = [
    {"name": "username", "label": "Your username", "type": "text"},
    {"name": "username", "label": "Again", "type": "text"},
]
BAD_BODIES = {
    "reward below the minimum": ({"reward": usd("0.09")}, {"reward.amount"}),
    "limited without countries": ({"mode": "limited"}, {"countries"}),
    "hired group without a group": ({"mode": "hired_group"}, {"group_id"}),
    "ptc without url, with proof": ({"mode": "ptc"}, {"url", "proof"}),
    "proof names duplicated": ({"proof": DUPLICATE_PROOF}, {"proof[1].name"}),
    "positions over the maximum": ({"positions": 10_001}, {"positions"}),
    "a currency the site does not accept": (
        {"reward": {"amount": "0.50", "currency": "EUR"}},
        {"reward.currency"},
    ),
    "countries without limited": ({"countries": ["US"]}, {"countries"}),
    "no proof": ({"proof": []}, {"proof"}),
    "a url without ptc": ({"url": "https://example.com"}, {"url"}),
    "submit time too short": ({"submit_minutes": 4}, {"submit_minutes"}),
}


@pytest.mark.parametrize("changes, fields", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
async def test_a_bad_campaign_is_refused_and_creates_nothing(
    client, runtime, market, problem, changes, fields
):
    refused = await create_campaign(client, market.employer, **changes)
    problem(refused, 422, "validation_error", fields=fields)
    assert await campaign_count() == (0, 0)
    assert await balances(market.employer.id) == (5000, 10000)


async def test_every_validation_error_comes_at_once(client, runtime, market, problem):
    refused = await create_campaign(
        client,
        market.employer,
        reward=usd("0.05"),
        positions=20_000,
        proof=DUPLICATE_PROOF,
        countries=["FR"],
        submit_minutes=60 * 24 * 8,
    )
    problem(
        refused,
        422,
        "validation_error",
        fields={"reward.amount", "positions", "proof[1].name", "countries", "submit_minutes"},
    )
    assert await campaign_count() == (0, 0)


class TestModesOnOffer:
    @pytest.fixture
    def site_config(self, tmp_path):
        return microjobs_config(tmp_path, modes=["basic", "international"], max_positions=50)

    async def test_a_mode_the_site_does_not_offer_is_refused(self, client, runtime, market, problem):
        refused = await create_campaign(
            client, market.employer, mode="limited", countries=["US"], positions=51
        )
        body = problem(refused, 422, "validation_error", fields={"mode", "positions"})
        assert "basic, international" in str(body["errors"])
        assert await campaign_count() == (0, 0)


class TestAMethodTheSiteHasNotSetUp:
    @pytest.fixture
    def site_config(self, tmp_path):
        config = microjobs_config(tmp_path)
        config["site"]["plugins"] += ["paypal", "payments_paypal"]  # without credentials
        config["money"]["payment_methods"].append("paypal")
        return config

    async def test_paying_with_it_answers_a_documented_503_and_changes_nothing(
        self, client, runtime, market, problem
    ):
        campaign = await live_campaign(client, market, positions=2)
        before = await balances(market.employer.id)
        added = await client.post(
            f"/microjobs/campaigns/{campaign['id']}/positions",
            json={"positions": 3, "method": "paypal"},
            headers=market.employer.headers,
        )
        problem(added, 503, "service_unavailable")
        problem(await create_campaign(client, market.employer, method="paypal"), 503, "service_unavailable")
        got = (
            await client.get(f"/microjobs/campaigns/{campaign['id']}", headers=market.employer.headers)
        ).json()
        assert (got["positions"], got["free"], got["budget"]["escrow"]) == (2, 2, usd("1.10"))
        assert await balances(market.employer.id) == before
        assert await campaign_count() == (1, 1)
        document = (await client.get("/docs/openapi.json")).json()
        for path in ("/microjobs/campaigns", "/microjobs/campaigns/{campaign_id}/positions"):
            assert "503" in document["paths"][path]["post"]["responses"], path
        assert "503" in document["paths"]["/microjobs/campaigns/{campaign_id}/payments"]["post"]["responses"]
        await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# A site without review
# --------------------------------------------------------------------------------------


class TestWithoutReview:
    @pytest.fixture
    def site_config(self, tmp_path):
        return microjobs_config(tmp_path, review_required=False)

    async def test_a_campaign_is_published_at_once(self, client, runtime, market):
        created = await create_campaign(client, market.employer, positions=3)
        assert created.status_code == 201, created.text
        assert created.json()["state"] == "active"
        taken = await client.post(f"/microjobs/jobs/{created.json()['id']}/take", headers=market.fr.headers)
        assert taken.status_code == 201, taken.text
        await books_are_sound(runtime)


# --------------------------------------------------------------------------------------
# The fee arithmetic
# --------------------------------------------------------------------------------------


class TestSiteFeeOverride:
    @pytest.fixture
    def site_config(self, tmp_path):
        config = microjobs_config(tmp_path)
        config["fees"] = {"commission_by_kind": {"campaign": "7.5"}}
        return config

    async def test_the_fee_is_rounded_half_up_in_cents(self, client, runtime, market):
        # 0.33 x 7.5% = 0.02475 -> 2.475 cents -> 2 cents (half up at the cent)
        campaign = await live_campaign(client, market, reward=usd("0.33"), positions=3)
        budget = campaign["budget"]
        assert budget["fee_per_position"] == usd("0.02")
        assert budget["per_position"] == usd("0.35")
        assert budget["worker_earns"] == usd("0.33")
        assert budget["escrow"] == usd("1.05")
        assert await balances(market.employer.id) == (5000, 10000 - 105)
        order_id = await taken_and_submitted(client, market, campaign["id"], market.gb)
        rated = await rate(client, market.employer, order_id, True)
        assert rated.status_code == 200, rated.text
        assert await balances(market.gb.id) == (33, 0)
        assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 2
        await books_are_sound(runtime)


class WorkerFee:
    """A fee plugin that takes 10% of each campaign reward from the worker."""

    @hookimpl
    def agorakit_compute_fees(self, runtime, quote):
        if quote.kind != "campaign":
            return []
        amount = percent_of(quote.amount, "10")
        return [FeeLine(payer="seller", amount=amount, label="Worker fee (10%)", code="worker_fee")]


class TestAFeePluginChargesWorkers:
    @pytest.fixture
    def extra_plugins(self):
        return [("worker_fee", WorkerFee())]

    async def test_workers_earn_less_by_exact_cents(self, client, runtime, market):
        # reward 0.75: the employer pays 0.08 (10% of 0.75 = 7.5 cents -> 8), the worker
        # pays 0.08 too: earns 0.67; the site keeps 0.16 per task
        campaign = await live_campaign(client, market, reward=usd("0.75"), positions=2)
        budget = campaign["budget"]
        assert budget["fee_per_position"] == usd("0.08")
        assert budget["per_position"] == usd("0.83")
        assert budget["worker_earns"] == usd("0.67")
        assert budget["escrow"] == usd("1.66")
        order_id = await taken_and_submitted(client, market, campaign["id"], market.us)
        task = (await client.get(f"/microjobs/tasks/{order_id}", headers=market.us.headers)).json()
        assert task["earns"] == usd("0.67")
        rated = await rate(client, market.employer, order_id, True)
        assert rated.status_code == 200, rated.text
        assert await balances(market.us.id) == (67, 0)
        assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 16
        assert await balances(market.employer.id) == (5000, 10000 - 166)
        await books_are_sound(runtime)
