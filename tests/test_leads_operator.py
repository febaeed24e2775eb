"""``GET /operator/leads``: jobs by status and category (a category covers its subtree),
newest first, pending ones oldest first, in pages; operators only."""

from __future__ import annotations

import pytest
from leads_helpers import approve, leads_config, market, post_job

__all__ = ["market"]


@pytest.fixture
def site_config(tmp_path):
    return leads_config(tmp_path)


async def ids(client, operator, query: str = "") -> list[int]:
    response = await client.get(f"/operator/leads{query}", headers=operator.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def posted(client, market, **changes) -> dict:
    created = await post_job(client, market.customer, **changes)
    assert created.status_code == 201, created.text
    return created.json()


async def test_operators_list_jobs_by_status_and_category(client, market):
    plumbing = {"category": "plumbing", "details": {"when": "Within a week"}}
    a = await posted(client, market)
    b = await posted(client, market, **plumbing)
    c = await posted(client, market)
    d = await posted(client, market, **plumbing)
    await approve(client, market.operator, a["listing_id"])
    await approve(client, market.operator, b["listing_id"])
    rejected = await client.post(
        f"/operator/listings/{c['listing_id']}/reject",
        json={"reason": "Too vague"},
        headers=market.operator.headers,
    )
    assert rejected.status_code == 200, rejected.text
    closed = await client.post(f"/leads/{b['id']}/close", json={}, headers=market.customer.headers)
    assert closed.status_code == 200, closed.text

    operator = market.operator
    assert await ids(client, operator) == [d["id"], c["id"], b["id"], a["id"]]  # newest first
    assert await ids(client, operator, "?status=open") == [a["id"]]
    assert await ids(client, operator, "?status=rejected") == [c["id"]]
    assert await ids(client, operator, "?status=closed") == [b["id"]]
    assert await ids(client, operator, "?status=pending_review") == [d["id"]]
    assert await ids(client, operator, "?status=expired") == []
    assert await ids(client, operator, "?category=plumbing") == [d["id"], b["id"]]
    assert await ids(client, operator, "?category=cleaning") == [c["id"], a["id"]]
    assert await ids(client, operator, "?category=home") == [d["id"], c["id"], b["id"], a["id"]]  # subtree
    assert await ids(client, operator, "?category=lessons") == []
    assert await ids(client, operator, "?category=cleaning&status=open") == [a["id"]]

    listed = (await client.get("/operator/leads?status=open", headers=operator.headers)).json()["items"][0]
    assert listed["customer_id"] == market.customer.member.id  # operators see who posted it
    assert listed["price"] == {"amount": "12.00", "currency": "USD"}
    assert listed["status"] == "open"


async def test_pages_follow_the_cursor_both_ways(client, market):
    jobs = [await posted(client, market) for _ in range(5)]
    operator = market.operator
    seen: list[int] = []
    cursor = None
    for _ in range(4):
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/operator/leads{query}", headers=operator.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [job["id"] for job in reversed(jobs)]
    assert cursor is None

    # pending jobs come oldest first: the review order
    seen, cursor = [], None
    for _ in range(4):
        query = "?status=pending_review&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/operator/leads{query}", headers=operator.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [job["id"] for job in jobs]


async def test_members_may_not_list_jobs(client, market):
    await posted(client, market)
    for member in (market.customer, market.business, market.outsider):
        response = await client.get("/operator/leads", headers=member.headers)
        assert response.status_code == 403, response.text
    anonymous = await client.get("/operator/leads")
    assert anonymous.status_code == 401, anonymous.text


async def test_bad_filters_are_refused(client, market, problem):
    operator = market.operator
    unknown = await client.get("/operator/leads?category=gardening", headers=operator.headers)
    problem(unknown, 422, "validation_error", fields={"category"})
    status = await client.get("/operator/leads?status=lost", headers=operator.headers)
    problem(status, 422, "validation_error", fields={"status"})
    cursor = await client.get("/operator/leads?cursor=not-a-cursor", headers=operator.headers)
    assert cursor.status_code in (400, 422), cursor.text
    assert cursor.headers["content-type"].startswith("application/problem+json")
    limit = await client.get("/operator/leads?limit=0", headers=operator.headers)
    problem(limit, 422, "validation_error", fields={"limit"})
