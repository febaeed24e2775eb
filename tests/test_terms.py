"""The site's terms: accepted at registration when the site has a version, recorded on
the member, accepted again when the version changes."""

from __future__ import annotations

import pytest

from agorakit.accounts.tables import Member
from agorakit.settings import ConfigError, settings_from_dict

BODY = {
    "email": "grace@example.com",
    "password": "compiler-pioneer-1952",
    "display_name": "Grace",
    "country": "US",
}


@pytest.fixture
def site_config():
    return {"site": {"terms_url": "https://market.example/terms", "terms_version": "2026-12"}}


async def test_terms_are_public(client):
    response = await client.get("/terms")
    assert response.status_code == 200, response.text
    assert response.json() == {"url": "https://market.example/terms", "version": "2026-12"}


async def test_registering_without_accepting_the_terms_is_refused_and_creates_nothing(client, problem):
    response = await client.post("/auth/register", json=BODY)
    body = problem(response, 422, "validation_error", fields={"accept_terms"})
    assert "2026-12" in body["errors"][0]["message"]
    refused = await client.post("/auth/register", json={**BODY, "accept_terms": False, "country": "ZZ"})
    problem(refused, 422, "validation_error", fields={"accept_terms", "country"})
    assert not await Member.exists().where(Member.email_key == "grace@example.com")


async def test_accepting_the_terms_records_version_and_time(client, clock):
    response = await client.post("/auth/register", json={**BODY, "accept_terms": True})
    assert response.status_code == 202, response.text
    row = await Member.select().where(Member.email_key == "grace@example.com").first()
    assert row["terms_version"] == "2026-12"
    assert row["terms_accepted_at"] == clock.now()
    login = await client.post("/auth/login", json={"email": BODY["email"], "password": BODY["password"]})
    member = login.json()["member"]
    assert member["terms_version"] == "2026-12"
    assert member["terms_accepted_at"] is not None


async def test_a_member_accepts_the_current_version_only(client, make_member, problem, clock):
    member = await make_member()
    me = await client.get("/me", headers=member.headers)
    assert me.json()["terms_version"] is None
    old = await client.post("/me/terms", json={"version": "2025-01"}, headers=member.headers)
    body = problem(old, 409, "terms_changed")
    assert "version 2026-12" in body["detail"]
    accepted = await client.post("/me/terms", json={"version": "2026-12"}, headers=member.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["terms_version"] == "2026-12"
    anonymous = await client.post("/me/terms", json={"version": "2026-12"})
    assert anonymous.status_code == 401


def test_a_terms_version_needs_a_terms_url():
    with pytest.raises(ConfigError, match="terms_url"):
        settings_from_dict(
            {
                "site": {"terms_version": "1"},
                "database": {"url": "sqlite:///x.db"},
                "auth": {"jwt_secret": "x" * 32},
            }
        )


class TestWithoutTerms:
    @pytest.fixture
    def site_config(self):
        return {}

    async def test_no_terms_no_check(self, client, problem, make_member):
        assert (await client.get("/terms")).json() == {"url": None, "version": None}
        response = await client.post("/auth/register", json=BODY)
        assert response.status_code == 202, response.text
        row = await Member.select().where(Member.email_key == "grace@example.com").first()
        assert row["terms_version"] is None and row["terms_accepted_at"] is None
        member = await make_member()
        problem(
            await client.post("/me/terms", json={"version": "1"}, headers=member.headers), 409, "conflict"
        )
