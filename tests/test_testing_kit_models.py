"""The testing kit's factories of the shipped models other than gigs: microjobs
campaigns, prepaid requests and leads, each driven through its plugin's real routes
(``agorakit_test_factories``), on SQLite and PostgreSQL, with exact amounts in cents.
"""

from __future__ import annotations

import pytest

from agorakit.money import ledger
from agorakit.orders import escrow_problem_lines


async def books_are_sound(runtime) -> None:
    assert await ledger.check_ledger() == []
    assert await escrow_problem_lines(runtime) == []


async def balance_of(client, login) -> dict:
    response = await client.get("/me/balance", headers=login.headers)
    assert response.status_code == 200, response.text
    (usd,) = response.json()["balances"]
    return {key: value for key, value in usd.items() if value != "0.00" and key != "currency"}


class TestMicrojobs:
    @pytest.fixture
    def site_config(self):
        return {"site": {"plugins": ["microjobs"]}}

    async def test_a_campaign_is_funded_exactly_reviewed_and_active(
        self, client, runtime, make_listing, make_member
    ):
        employer = await make_member()
        listing = await make_listing(kind="campaign", seller=employer, reward=100, positions=3)
        assert listing["kind"] == "campaign"
        assert listing["status"] == "published"
        campaign = listing["campaign"]
        assert campaign["state"] == "active"
        assert (campaign["positions"], campaign["free"]) == (3, 3)
        # 3 positions x (1.00 reward + 0.10 fee): funded onto the employer's credit and paid
        assert campaign["budget"]["escrow"] == {"amount": "3.30", "currency": "USD"}
        assert await balance_of(client, employer) == {"in_escrow": "3.30"}
        await books_are_sound(runtime)

    async def test_a_satisfied_task_pays_the_worker(self, client, runtime, make_order, make_member):
        employer, worker = await make_member(), await make_member()
        order = await make_order(kind="campaign", state="satisfied", buyer=employer, seller=worker)
        assert order["state"] == "satisfied"
        assert (order["buyer_id"], order["seller_id"]) == (employer.id, worker.id)
        assert await balance_of(client, worker) == {"available": "0.50"}
        assert await balance_of(client, employer) == {"in_escrow": "0.55"}  # the other position
        await books_are_sound(runtime)

    async def test_paid_is_a_taken_task(self, client, make_order, make_member):
        worker = await make_member()
        order = await make_order(kind="campaign", seller=worker)
        assert order["state"] == "taken"
        assert await balance_of(client, worker) == {}

    @pytest.mark.parametrize(
        ("state", "worker_gets"), [("unsatisfied", {"available": "0.50"}), ("given_up", {}), ("refunded", {})]
    )
    async def test_a_task_in_each_end_state(
        self, client, runtime, make_order, make_member, state, worker_gets
    ):
        worker = await make_member()
        order = await make_order(kind="campaign", state=state, seller=worker)
        assert order["state"] == state
        assert await balance_of(client, worker) == worker_gets
        await books_are_sound(runtime)

    async def test_correcting_and_disputed_hold_the_position(self, make_order):
        assert (await make_order(kind="campaign", state="correcting"))["state"] == "correcting"
        assert (await make_order(kind="campaign", state="disputed"))["state"] == "disputed"


class TestPrepaid:
    @pytest.fixture
    def site_config(self):
        return {"site": {"plugins": ["prepaid"]}}

    async def test_a_request_is_paid_and_open_to_qualified_sellers(
        self, client, runtime, make_listing, make_member
    ):
        buyer = await make_member()
        listing = await make_listing(kind="request", seller=buyer, price=3000)
        assert listing["kind"] == "request"
        assert listing["status"] == "published"
        assert listing["request"]["status"] == "open"
        assert listing["request"]["service_type"] == "custom"
        assert await balance_of(client, buyer) == {"in_escrow": "30.00"}
        await books_are_sound(runtime)

    async def test_awaiting_payment_charges_nobody(self, client, make_order, make_member):
        buyer = await make_member()
        order = await make_order(kind="request", state="awaiting_payment", buyer=buyer)
        assert order["state"] == "awaiting_payment"
        assert order["amount"] == {"amount": "40.00", "currency": "USD"}
        assert await balance_of(client, buyer) == {}

    async def test_paid_is_open(self, make_order):
        order = await make_order(kind="request")
        assert (order["state"], order["seller_id"]) == ("open", None)

    async def test_a_completed_request_pays_its_seller(self, client, runtime, make_order, make_member):
        buyer, seller = await make_member(), await make_member()
        order = await make_order(kind="request", state="completed", buyer=buyer, seller=seller)
        assert order["state"] == "completed"
        assert order["seller_id"] == seller.id
        assert await balance_of(client, seller) == {"available": "32.00"}  # 40.00 less 20%
        assert await balance_of(client, buyer) == {}
        await books_are_sound(runtime)

    @pytest.mark.parametrize("state", ["cancelled", "refunded"])
    async def test_cancelled_and_refunded_give_the_buyer_credit(
        self, client, runtime, make_order, make_member, state
    ):
        buyer = await make_member()
        order = await make_order(kind="request", state=state, buyer=buyer)
        assert order["state"] == state
        assert await balance_of(client, buyer) == {"credit": "40.00"}
        await books_are_sound(runtime)

    async def test_a_listing_already_paid_cannot_wait_for_its_payment(self, make_listing, make_order):
        listing = await make_listing(kind="request")
        with pytest.raises(ValueError, match="cannot wait for its payment again"):
            await make_order(kind="request", state="awaiting_payment", listing=listing)


class TestLeads:
    @pytest.fixture
    def site_config(self):
        return {
            "site": {"plugins": ["leads", "bank_transfer"]},
            "money": {"payment_methods": ["balance", "bank_transfer"]},
        }

    async def test_a_job_is_reviewed_and_open(self, client, make_listing, make_member):
        customer = await make_member()
        listing = await make_listing(kind="lead", seller=customer)
        assert listing["kind"] == "lead"
        assert listing["status"] == "published"
        assert listing["lead"]["status"] == "open"
        assert listing["lead"]["price"] == {"amount": "15.00", "currency": "USD"}

    async def test_a_charged_unlock_pays_the_site_the_lead_price(
        self, client, runtime, make_order, make_member
    ):
        business = await make_member()
        order = await make_order(kind="lead", state="charged", buyer=business)
        assert order["state"] == "charged"
        assert (order["buyer_id"], order["seller_id"]) == (business.id, None)
        assert await balance_of(client, business) == {}
        assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 1500
        await books_are_sound(runtime)

    @pytest.mark.parametrize("state", ["awaiting_payment", "cancelled"])
    async def test_an_unlock_paid_by_bank_transfer_waits_or_is_dropped(
        self, client, make_order, make_member, state
    ):
        business = await make_member()
        order = await make_order(kind="lead", state=state, buyer=business)
        assert order["state"] == state
        assert await balance_of(client, business) == {}
        assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 0


class TestLeadsPaidOnlyFromTheBalance:
    @pytest.fixture
    def site_config(self):
        return {"site": {"plugins": ["leads"]}}

    async def test_an_unlock_cannot_wait_for_a_payment(self, make_order):
        with pytest.raises(ValueError, match="other than the balance"):
            await make_order(kind="lead", state="awaiting_payment")
