"""The leads pages of the operator console, over HTTP: jobs waiting for review oldest
first with the customer's text, approved or rejected through the catalog's review, open
jobs closed, the other statuses and categories by filter, the API's refusals shown and
changing nothing, and the link to the refund reports (the core's disputes)."""

from __future__ import annotations

import pytest
from console_helpers import signed_in, text_of
from leads_helpers import leads_config, market, open_job, post_job

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    config = leads_config(tmp_path)
    config["site"]["plugins"] = ["console", "leads", "bank_transfer"]
    return config


async def posted(client, market, **changes) -> dict:
    created = await post_job(client, market.customer, **changes)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending_review"
    return created.json()


async def lead_of(client, market, lead_id: int) -> dict:
    got = await client.get(f"/leads/{lead_id}", headers=market.customer.headers)
    assert got.status_code == 200, got.text
    return got.json()


async def test_pending_jobs_are_listed_oldest_first_with_their_text(client, market):
    first = await posted(client, market, text="Deep clean of a three-room flat before we move out, first.")
    second = await posted(
        client,
        market,
        category="plumbing",
        details={"when": "Within a week"},
        text="The kitchen sink leaks under the cabinet, since yesterday.",
    )
    live = await open_job(client, market, text="Weekly cleaning of a small office, open already.")
    assert (await client.get("/console/leads")).status_code == 303  # operators only
    async with await signed_in(client, market.operator) as browser:
        page = await browser.get("/console/leads")
        assert page.status_code == 200
        text = text_of(page)
        assert "Jobs: pending review Oldest first: the review order." in text
        assert text.index(f"Job #{first['id']}") < text.index(f"Job #{second['id']}")
        assert "The kitchen sink leaks under the cabinet, since yesterday." in text
        assert "plumbing · US 94110 · 20.00 USD a lead · 0 of" in text
        assert f'href="/console/members/{market.customer.member.id}"' in page.text
        assert f"Job #{live['id']}" not in text
        assert 'href="/console/disputes?process=lead_unlock"' in page.text  # the refund reports

        everything = text_of(await browser.get("/console/leads", status="any"))
        assert "Jobs Newest first." in everything
        newest = [everything.index(f"Job #{lead['id']}") for lead in (live, second, first)]
        assert newest == sorted(newest)
        plumbing = text_of(await browser.get("/console/leads", status="any", category="plumbing"))
        assert f"Job #{second['id']}" in plumbing and f"Job #{first['id']}" not in plumbing
        assert "No job is expired." in text_of(await browser.get("/console/leads", status="expired"))
        wrong = await browser.get("/console/leads", status="sleeping")
        assert wrong.status_code == 422 and "status" in text_of(wrong)


async def test_an_operator_approves_rejects_and_closes_jobs(client, market):
    good = await posted(client, market)
    vague = await posted(client, market, text="Need someone to clean, details later when we talk.")
    live = await open_job(client, market)
    async with await signed_in(client, market.operator) as browser:
        await browser.get("/console/leads")
        approved = await browser.post(f"/console/leads/{good['id']}/approve", {"back": "/console/leads"})
        assert approved.status_code == 303 and approved.headers["location"] == "/console/leads"
        page = text_of(await browser.get("/console/leads"))
        assert f"Job #{good['id']} approved: it is open to matching businesses." in page
        assert f"Job #{good['id']} " not in page.split("approved")[1]

        empty = await browser.post(f"/console/leads/{vague['id']}/reject", {"reason": " "})
        assert empty.headers["location"] == "/console/leads"
        page = text_of(await browser.get("/console/leads"))
        assert "reason" in page.lower() and f"Job #{vague['id']}" in page
        assert (await lead_of(client, market, vague["id"]))["status"] == "pending_review"

        rejected = await browser.post(
            f"/console/leads/{vague['id']}/reject", {"reason": "Say what needs cleaning and where"}
        )
        assert rejected.headers["location"] == "/console/leads"

        back = "/console/leads?status=open"
        closed = await browser.post(
            f"/console/leads/{live['id']}/close", {"reason": "The customer hired someone", "back": back}
        )
        assert closed.headers["location"] == back
        assert f"Job #{live['id']} closed" in text_of(await browser.get(back))
        again = await browser.post(f"/console/leads/{live['id']}/close", {"reason": "Twice", "back": back})
        assert again.headers["location"] == back
        assert f"job {live['id']} is already closed" in text_of(await browser.get(back))

        elsewhere = await browser.post(
            f"/console/leads/{good['id']}/close", {"reason": "Off-site", "back": "https://elsewhere.example/"}
        )
        assert elsewhere.headers["location"] == "/console/leads"  # never off the console
        missing = await browser.post("/console/leads/999999/approve")
        assert missing.headers["location"] == "/console/leads"
        assert "there is no job 999999" in text_of(await browser.get("/console/leads"))

        forged = await browser.post(f"/console/leads/{vague['id']}/approve", csrf=False)
        assert forged.status_code == 403
    assert (await lead_of(client, market, good["id"]))["status"] == "closed"
    rejected_job = await lead_of(client, market, vague["id"])
    assert (rejected_job["status"], rejected_job["reason"]) == (
        "rejected",
        "Say what needs cleaning and where",
    )
    closed_job = await lead_of(client, market, live["id"])
    assert (closed_job["status"], closed_job["reason"]) == ("closed", "The customer hired someone")
