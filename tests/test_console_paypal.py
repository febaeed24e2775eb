"""The PayPal plugins' console pages, over HTTP, on SQLite and PostgreSQL.

Without PayPal credentials the pages still show, and PayPal's unavailability (the API's
503) is a message, not an error page; against the local PayPal stand-in an operator runs
the payouts, follows a batch, syncs it and cancels an unclaimed payout (the money comes
back).  The pages exist only when a PayPal method is enabled.
"""

from __future__ import annotations

import httpx
import pytest
from console_helpers import CONSOLE_SITE, Console, text_of, usd

from agorakit.plugins.paypal.client import use_transport
from agorakit.plugins.paypal.testing import FakePayPal
from agorakit.testing import deep_merge

WEBHOOK_ID = "8PT597110X687430LKGECATA"
PAYPAL_SITE = {
    "site": {"plugins": ["console", "paypal", "payouts_paypal", "payments_paypal"]},
    "money": {"payment_methods": ["balance", "paypal"], "payout_methods": ["paypal"]},
}
CONFIGURED = deep_merge(
    PAYPAL_SITE,
    {
        "plugins": {
            "paypal": {
                "client_id": "test-client-id",
                "client_secret": "test-client-secret",
                "webhook_id": WEBHOOK_ID,
            }
        }
    },
)


class TestWithoutPayPal:
    @pytest.fixture
    def site_config(self):
        return PAYPAL_SITE

    async def test_the_pages_show_paypal_is_not_configured(self, client, make_operator):
        operator = await make_operator()
        async with Console(client) as browser:
            await browser.sign_in(operator.member.email, operator.password)
            page = await browser.get("/console/paypal/batches")
            assert page.status_code == 200
            assert "No PayPal payout batch." in text_of(page)
            assert 'href="/console/paypal/webhook-events"' in page.text

            refused = await browser.post("/console/paypal/run", csrf=False)
            assert refused.status_code == 403
            # nothing to send: the run asks nothing of PayPal
            run = await browser.post("/console/paypal/run")
            assert run.status_code == 303 and run.headers["location"] == "/console/paypal/batches"
            page = await browser.get("/console/paypal/batches")
            assert "PayPal payouts run. Batches batched 0, submitted 0, synced 0, errors 0." in text_of(page)

            # PayPal is not configured: the API offers no PayPal withdrawal
            methods = await client.get("/payout-methods", headers=operator.headers)
            (paypal,) = [m for m in methods.json() if m["name"] == "paypal"]
            assert paypal["available"] is False
            sync = await browser.post("/console/paypal/batches/1/sync")
            assert sync.status_code == 303 and sync.headers["location"] == "/console/paypal/batches/1"
            shown = await browser.get("/console/paypal/batches")
            assert shown.status_code == 200
            assert "there is no PayPal payout batch 1" in text_of(shown)
            assert 'class="flash error" role="alert"' in shown.text

            events = await browser.get("/console/paypal/webhook-events", status="failed")
            assert events.status_code == 200
            assert "No PayPal webhook event." in text_of(events)


class TestWithoutPayPalMethods:
    @pytest.fixture
    def site_config(self):
        return CONSOLE_SITE

    async def test_no_paypal_pages(self, client, make_operator):
        operator = await make_operator()
        async with Console(client) as browser:
            await browser.sign_in(operator.member.email, operator.password)
            assert (await browser.get("/console/paypal/batches")).status_code == 404
            assert "/console/paypal" not in (await browser.get("/console/site")).text


class TestWithPayPal:
    @pytest.fixture
    def site_config(self):
        return CONFIGURED

    @pytest.fixture
    def paypal(self, runtime, clock):
        fake = FakePayPal(clock=clock, webhook_id=WEBHOOK_ID)

        async def no_sleep(seconds: float) -> None:
            return None

        use_transport(runtime, fake.transport(), sleep=no_sleep)
        return fake

    async def test_an_operator_runs_syncs_and_cancels_an_unclaimed_payout(
        self, client, paypal, make_operator, make_member, fund_member
    ):
        operator = await make_operator()
        member = await make_member()
        await fund_member(member, 5000)
        response = await client.post(
            "/withdrawals",
            json={"method": "paypal", "amount": usd("20.00"), "destination": {"email": "ada@example.com"}},
            headers=member.headers,
        )
        assert response.status_code == 201, response.text
        withdrawal = response.json()
        async with Console(client) as browser:
            await browser.sign_in(operator.member.email, operator.password)
            run = await browser.post("/console/paypal/run")
            assert run.headers["location"] == "/console/paypal/batches"
            page = await browser.get("/console/paypal/batches")
            text = text_of(page)
            assert "PayPal payouts run. Batches batched 1, submitted 1" in text
            batches = (await client.get("/paypal/payouts/batches", headers=operator.headers)).json()["items"]
            (batch,) = batches
            assert f"#{batch['id']} {batch['sender_batch_id']} submitted" in text
            assert "20.00 USD" in text

            location = f"/console/paypal/batches/{batch['id']}"
            page = text_of(await browser.get(location))
            assert (
                f"#{withdrawal['id']} · member #{member.id} ada@example.com 20.00 USD PENDING in flight"
                in page
            )
            assert "Cancel the unclaimed payout" not in page

            # not unclaimed yet: PayPal's rule, through the API, as a message
            cancel = f"/console/paypal/withdrawals/{withdrawal['id']}/cancel"
            early = await browser.post(cancel, {"batch": str(batch["id"])})
            assert early.headers["location"] == location
            assert "only UNCLAIMED ones can be cancelled" in text_of(await browser.get(location))

            # PayPal does not answer (every retry): the API's 503 reason, as a message
            paypal.fail_next("GET", r"^/v1/payments/payouts/", exception=httpx.ConnectError, times=4)
            down = await browser.post(f"{location}/sync")
            assert down.status_code == 303 and down.headers["location"] == location
            page = await browser.get(location)
            assert page.status_code == 200
            assert "PayPal did not answer; try again" in text_of(page)
            assert 'class="flash error" role="alert"' in page.text

            paypal.set_item_status(f"WD-{withdrawal['id']}", "UNCLAIMED")
            synced = await browser.post(f"{location}/sync")
            assert synced.headers["location"] == location
            page = await browser.get(location)
            assert f"Batch #{batch['id']} synced with PayPal." in text_of(page)
            assert "ada@example.com 20.00 USD UNCLAIMED in flight" in text_of(page)
            assert "Cancel the unclaimed payout" in text_of(page)

            cancelled = await browser.post(cancel, {"batch": str(batch["id"])})
            assert cancelled.headers["location"] == location
            page = text_of(await browser.get(location))
            assert f"Withdrawal #{withdrawal['id']}'s unclaimed payout cancelled" in page
            assert "ada@example.com 20.00 USD RETURNED failed" in page
        failed = (await client.get(f"/withdrawals/{withdrawal['id']}", headers=member.headers)).json()
        assert failed["status"] == "failed"
        balance = (await client.get("/me/balance", headers=member.headers)).json()["balances"][0]
        assert balance["available"] == "50.00"
