"""The microjobs pages of the operator console, over HTTP: every campaign with its
budget, a campaign's tasks with their proofs, pausing, resuming and stopping with a
reason (a stop refunds the free positions to the employer, to the cent), the API's
refusals shown and changing nothing, and a worker's success rate on their page and
panel."""

from __future__ import annotations

import pytest
from console_helpers import MemberPanels, balance_of, signed_in, text_of
from microjobs_helpers import live_campaign, market, microjobs_config, rate, taken_and_submitted

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    config = microjobs_config(tmp_path)
    config["site"]["plugins"] = ["console", "microjobs", "bank_transfer"]
    return config


async def campaign_of(client, market, campaign_id: int) -> dict:
    got = await client.get(f"/microjobs/campaigns/{campaign_id}", headers=market.employer.headers)
    assert got.status_code == 200, got.text
    return got.json()


async def test_the_campaigns_list_shows_budgets_positions_and_states(client, market):
    live = await live_campaign(client, market, positions=5, title="Review our bakery app in the store")
    await taken_and_submitted(client, market, live["id"], market.us)
    assert (await client.get("/console/microjobs/campaigns")).status_code == 303  # operators only
    async with await signed_in(client, market.operator) as browser:
        page = await browser.get("/console/microjobs/campaigns")
        assert page.status_code == 200
        text = text_of(page)
        row = f"#{live['id']} Review our bakery app in the store international · follow"
        assert row in text
        # reward 0.50, 0.55 a position with the site's fee, 5 positions, 1 taken, 0 done,
        # 4 free: 2.20 in escrow
        assert "active 0.50 USD 0.55 USD 5 1 0 4 2.20 USD" in text
        assert f'href="/console/members/{market.employer.id}"' in page.text
        paused = text_of(await browser.get("/console/microjobs/campaigns", state="paused"))
        assert "No campaign is paused." in paused and "Review our bakery app" not in paused
        wrong = await browser.get("/console/microjobs/campaigns", state="sleeping")
        assert wrong.status_code == 422
        assert "unknown state 'sleeping'" in text_of(wrong)


async def test_a_campaign_page_shows_its_instructions_and_tasks_with_proofs(client, market):
    campaign = await live_campaign(client, market, positions=3)
    done = await taken_and_submitted(client, market, campaign["id"], market.us)
    await rate(client, market.employer, done, False, reason="The profile link is broken")
    waiting = await taken_and_submitted(client, market, campaign["id"], market.gb)
    async with await signed_in(client, market.operator) as browser:
        page = await browser.get(f"/console/microjobs/campaigns/{campaign['id']}")
        assert page.status_code == 200
        text = text_of(page)
        assert f"Campaign #{campaign['id']} Follow our page and like the pinned post" in text
        assert "Open our page Follow it Like the pinned post" in text
        assert "Proof asked: Your username (text); Link to your profile (url)" in text
        assert "One position costs the employer 0.55 USD" in text
        assert "In escrow (free positions) 0.55 USD" in text  # 1 free of 3
        assert "Positions 3 funded: 2 taken, 0 done, 1 free" in text
        assert "submitted username ada_bakes profile https://social.example/ada" in text
        assert "Not satisfied: The profile link is broken" in text
        tasks = await client.get(
            f"/microjobs/campaigns/{campaign['id']}/tasks", headers=market.employer.headers
        )
        ids = [task["id"] for task in tasks.json()["items"]]
        assert f"#{ids[0]} order #{waiting}" in text and f"#{ids[1]} order #{done}" in text
        correcting = text_of(
            await browser.get(f"/console/microjobs/campaigns/{campaign['id']}", status="correcting")
        )
        assert f"order #{done}" in correcting and f"order #{waiting}" not in correcting
        missing = await browser.get("/console/microjobs/campaigns/999999")
        assert missing.status_code == 404


async def test_an_operator_pauses_resumes_and_stops_a_campaign_with_the_refund(client, runtime, market):
    campaign = await live_campaign(client, market, positions=5)
    await taken_and_submitted(client, market, campaign["id"], market.us)
    before = await balance_of(client, market.employer)
    assert (before["available"], before["credit"]) == ("50.00", "97.25")  # 5 x 0.55 paid from credit
    base = f"/console/microjobs/campaigns/{campaign['id']}"
    async with await signed_in(client, market.operator) as browser:
        page = await browser.get(base)
        assert "Pause" in text_of(page) and "Resume" not in text_of(page)
        paused = await browser.post(f"{base}/pause", {"reason": "Reported by several workers"})
        assert paused.status_code == 303 and paused.headers["location"] == base
        assert (await campaign_of(client, market, campaign["id"]))["state"] == "paused"
        page = await browser.get(base)
        assert f"Campaign #{campaign['id']} paused; its employer is told why." in text_of(page)
        assert "Resume" in text_of(page)

        resumed = await browser.post(f"{base}/resume", {"reason": "The workers' reports were wrong"})
        assert resumed.headers["location"] == base
        assert (await campaign_of(client, market, campaign["id"]))["state"] == "active"

        stopped = await browser.post(f"{base}/stop", {"reason": "Buying reviews breaks the rules"})
        assert stopped.headers["location"] == base
        page = await browser.get(base)
        assert f"Campaign #{campaign['id']} stopped" in text_of(page)
        assert "Nothing to do: the campaign is stopped." in text_of(page)
    got = await campaign_of(client, market, campaign["id"])
    assert (got["state"], got["free"], got["budget"]["escrow"]) == (
        "stopped",
        0,
        {"amount": "0.00", "currency": "USD"},
    )
    after = await balance_of(client, market.employer)
    # the 4 free positions x 0.55 = 2.20 back to the wallet credit, not to earnings
    assert (after["available"], after["credit"]) == ("50.00", "99.45")
    notices = (await client.get("/notifications?limit=100", headers=market.employer.headers)).json()["items"]
    assert any("Reason: Reported by several workers" in n["body"] for n in notices)


async def test_refused_actions_show_the_api_reason_and_change_nothing(client, market):
    campaign = await live_campaign(client, market, positions=2)
    base = f"/console/microjobs/campaigns/{campaign['id']}"
    async with await signed_in(client, market.operator) as browser:
        await browser.get(base)
        short = await browser.post(f"{base}/pause", {"reason": " no "})
        assert short.headers["location"] == base
        page = text_of(await browser.get(base))
        assert "say why (the employer reads it)" in page
        assert (await campaign_of(client, market, campaign["id"]))["state"] == "active"

        assert (await browser.post(f"{base}/stop", {"reason": "Spam campaign"})).status_code == 303
        again = await browser.post(f"{base}/pause", {"reason": "Reported by several workers"})
        assert again.headers["location"] == base
        assert f"campaign {campaign['id']} is stopped" in text_of(await browser.get(base))

        unknown = await browser.post(f"{base}/explode", {"reason": "Reported by several workers"})
        assert unknown.headers["location"] == base
        assert "There is no action 'explode' on a campaign." in text_of(await browser.get(base))

        forged = await browser.post(f"{base}/resume", {"reason": "Reported by several workers"}, csrf=False)
        assert forged.status_code == 403
    got = await campaign_of(client, market, campaign["id"])
    assert (got["state"], got["budget"]["escrow"]["amount"]) == ("stopped", "0.00")


class TestWorkerPanel:
    @pytest.fixture
    def extra_plugins(self):
        return [("member_panels", MemberPanels)]

    async def test_a_workers_success_rate_on_their_page_and_panel(self, client, market):
        first = await live_campaign(client, market, positions=2)
        second = await live_campaign(client, market, positions=2, title="Review our bakery app in the store")
        done = await taken_and_submitted(client, market, first["id"], market.fr)
        await rate(client, market.employer, done, True, feedback="Quick and right")
        await taken_and_submitted(client, market, second["id"], market.fr)
        async with await signed_in(client, market.operator) as browser:
            panels = text_of(await browser.get(f"/console/panels/{market.fr.id}"))
            assert (
                "Microjobs Success rate: 100.0 % Tasks rated: 1 satisfied of 1 "
                "Tasks in progress: 1 Paid-to-click visits: 0"
            ) in panels
            nobody = text_of(await browser.get(f"/console/panels/{market.gb.id}"))
            assert "Panels" in nobody and "Success rate" not in nobody  # no task: no panel
            page = await browser.get(f"/console/microjobs/workers/{market.fr.id}")
            assert page.status_code == 200
            text = text_of(page)
            assert "Success rate 100.0 %" in text and "Tasks rated 1 satisfied of 1" in text
            assert f"#{second['id']} Review our bakery app in the store" in text
            assert "Feedback: Quick and right" in text
            assert (await browser.get("/console/microjobs/workers/999999")).status_code == 404
