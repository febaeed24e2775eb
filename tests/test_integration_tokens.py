"""Integration tokens: read-only API tokens with scopes that operators make for outside
systems; where they are accepted (GET routes that name their scope) and where not.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import pytest
from litestar import Request, get

from agorakit import hookimpl
from agorakit.accounts import INTEGRATION_SCOPE, IntegrationCaller, operator_only
from agorakit.integrations import integration_scopes
from agorakit.integrations.tables import IntegrationToken

TOKENS = "/operator/integration-tokens"


class Partner:
    """A plugin with a scope of its own and a route that reads with it."""

    @hookimpl
    def agorakit_integration_scopes(self):
        return {"partner:read": "Read the partner report (GET /partner/report)."}

    @hookimpl
    def agorakit_routes(self):
        @get(
            "/partner/report",
            operation_id="partnerReport",
            summary="A partner report",
            guards=[operator_only],
            opt={INTEGRATION_SCOPE: "partner:read"},
        )
        async def report(request: Request) -> dict:
            user = request.user
            return {"caller": getattr(user, "label", None), "member_id": user.id}

        return [report]


#: one object for every test: the tests share its app (made once per plugin object)
PARTNER = Partner()


@pytest.fixture
def extra_plugins():
    return [("partner", PARTNER)]


async def make_token(client, operator, **body):
    body = {"name": "CRM sync", "scopes": ["events:read"], **body}
    response = await client.post(TOKENS, json=body, headers=operator.headers)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_an_operator_makes_a_token_whose_secret_is_shown_once(client, make_operator, clock):
    operator = await make_operator()
    made = await make_token(client, operator, name="  CRM   sync ", scopes=["events:read", "webhooks:read"])
    secret = made["token"]
    assert secret.startswith("agk_") and len(secret) == 4 + 43
    token = made["integration_token"]
    assert token == {
        "id": token["id"],
        "name": "CRM sync",
        "scopes": ["events:read", "webhooks:read"],
        "prefix": secret[:12],
        "created_by": operator.id,
        "created_at": clock.now().isoformat().replace("+00:00", "Z"),
        "expires_at": None,
        "last_used_at": None,
        "revoked_at": None,
        "revoked": False,
    }
    # only the hash is kept, never the secret
    row = await IntegrationToken.select().where(IntegrationToken.id == token["id"]).first()
    assert row["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(row.values())
    listed = (await client.get(TOKENS, headers=operator.headers)).json()
    assert listed == {"items": [token], "next_cursor": None}
    one = (await client.get(f"{TOKENS}/{token['id']}", headers=operator.headers)).json()
    assert one == token and "token" not in one


async def test_bad_token_requests_are_refused_and_make_nothing(client, make_operator, clock, problem):
    operator = await make_operator()
    cases = [
        ({"name": "x", "scopes": []}, {"scopes"}),
        ({"name": "x", "scopes": ["events:write"]}, {"scopes[0]"}),
        ({"name": "x", "scopes": ["events:read"], "expires_at": "2020-01-01T00:00:00Z"}, {"expires_at"}),
        ({"name": "   ", "scopes": ["events:read"]}, {"name"}),
    ]
    for body, fields in cases:
        response = await client.post(TOKENS, json=body, headers=operator.headers)
        problem(response, 422, "validation_error", fields=fields)
    unknown = await client.post(TOKENS, json={"name": "x", "scopes": ["nope"]}, headers=operator.headers)
    assert "events:read" in problem(unknown, 422, "validation_error")["detail"]
    now = clock.now().isoformat()
    at_now = await client.post(
        TOKENS, json={"name": "x", "scopes": ["events:read"], "expires_at": now}, headers=operator.headers
    )
    problem(at_now, 422, "validation_error", fields={"expires_at"})
    assert await IntegrationToken.count() == 0


async def test_only_operators_manage_tokens(client, make_member, make_operator, problem):
    member = await make_member()
    response = await client.post(
        TOKENS, json={"name": "x", "scopes": ["events:read"]}, headers=member.headers
    )
    problem(response, 403, "forbidden")
    problem(await client.get(TOKENS, headers=member.headers), 403, "forbidden")
    problem(await client.get(TOKENS), 401, "unauthenticated")
    operator = await make_operator()
    problem(await client.get(f"{TOKENS}/99", headers=operator.headers), 404, "not_found")
    problem(await client.delete(f"{TOKENS}/99", headers=operator.headers), 404, "not_found")


async def test_a_token_reads_the_routes_of_its_scopes_only(client, make_operator, problem):
    operator = await make_operator()
    events_only = (await make_token(client, operator))["token"]
    assert (await client.get("/events", headers=bearer(events_only))).status_code == 200
    assert (await client.get("/events/types", headers=bearer(events_only))).status_code == 200
    # a route that takes tokens of another scope: 403, naming the scope
    missing = await client.get("/partner/report", headers=bearer(events_only))
    body = problem(missing, 403, "scope_missing")
    assert "partner:read" in body["detail"] and body["extra"] == {"scope": "partner:read"}
    partner = (await make_token(client, operator, scopes=["partner:read"]))["token"]
    problem(await client.get("/events", headers=bearer(partner)), 403, "scope_missing")
    # the handler sees an integration, not a member
    report = await client.get("/partner/report", headers=bearer(partner))
    assert report.status_code == 200, report.text
    token_id = (await client.get(TOKENS, headers=operator.headers)).json()["items"][0]["id"]
    assert report.json() == {"caller": f"integration:{token_id}", "member_id": None}


async def test_a_token_is_a_401_on_routes_that_do_not_take_it_and_for_changes(client, make_operator, problem):
    operator = await make_operator()
    secret = (await make_token(client, operator, scopes=["events:read", "webhooks:read"]))["token"]
    for path in ("/me", "/operator/orders", "/operator/members", TOKENS):
        problem(await client.get(path, headers=bearer(secret)), 401, "unauthenticated")
    # never a change, even on a route it may read
    post = await client.post(TOKENS, json={"name": "x", "scopes": ["events:read"]}, headers=bearer(secret))
    problem(post, 401, "unauthenticated")
    problem(await client.post("/events", headers=bearer(secret)), 405, "method_not_allowed")
    assert await IntegrationToken.count() == 1


async def test_a_member_token_on_the_feed_is_a_403_and_an_operator_reads_it(
    client, make_member, make_operator, problem
):
    member = await make_member()
    problem(await client.get("/events", headers=member.headers), 403, "forbidden")
    problem(await client.get("/events/types", headers=member.headers), 403, "forbidden")
    problem(await client.get("/events"), 401, "unauthenticated")
    operator = await make_operator()
    assert (await client.get("/events", headers=operator.headers)).status_code == 200


async def test_a_revoked_token_stops_at_the_next_request(client, make_operator, runtime, problem):
    operator = await make_operator()
    made = await make_token(client, operator)
    secret, token_id = made["token"], made["integration_token"]["id"]
    assert (await client.get("/events", headers=bearer(secret))).status_code == 200
    revoked = await client.delete(f"{TOKENS}/{token_id}", headers=operator.headers)
    assert revoked.status_code == 204
    problem(await client.get("/events", headers=bearer(secret)), 401, "unauthenticated")
    shown = (await client.get(f"{TOKENS}/{token_id}", headers=operator.headers)).json()
    assert shown["revoked"] is True and shown["revoked_at"] == runtime.clock.now().isoformat().replace(
        "+00:00", "Z"
    )
    # revoking again changes nothing
    assert (await client.delete(f"{TOKENS}/{token_id}", headers=operator.headers)).status_code == 204
    again = (await client.get(f"{TOKENS}/{token_id}", headers=operator.headers)).json()
    assert again == shown


async def test_an_expired_token_is_a_401_by_the_sites_clock(client, make_operator, clock, problem):
    operator = await make_operator()
    expires = clock.now() + timedelta(hours=1)
    secret = (await make_token(client, operator, expires_at=expires.isoformat()))["token"]
    assert (await client.get("/events", headers=bearer(secret))).status_code == 200
    clock.advance(timedelta(minutes=59, seconds=59))
    assert (await client.get("/events", headers=bearer(secret))).status_code == 200
    clock.advance(timedelta(seconds=1))
    problem(await client.get("/events", headers=bearer(secret)), 401, "unauthenticated")


async def test_unknown_and_malformed_tokens_are_401(client, make_operator, problem):
    operator = await make_operator()
    secret = (await make_token(client, operator))["token"]
    for sent in (
        secret[:-1] + ("A" if secret[-1] != "A" else "B"),
        "agk_",
        "not-a-token",
        "agk_" + "x" * 500,
    ):
        problem(await client.get("/events", headers=bearer(sent)), 401, "unauthenticated")


async def test_last_use_is_written_at_most_once_a_minute(client, make_operator, clock):
    operator = await make_operator()
    made = await make_token(client, operator)
    secret, token_id = made["token"], made["integration_token"]["id"]

    async def last_used():
        row = await IntegrationToken.select(IntegrationToken.last_used_at).where(
            IntegrationToken.id == token_id
        )
        return row[0]["last_used_at"]

    first = clock.now()
    await client.get("/events", headers=bearer(secret))
    assert await last_used() == first
    clock.advance(timedelta(seconds=59))
    await client.get("/events", headers=bearer(secret))
    assert await last_used() == first
    clock.advance(timedelta(seconds=1))
    await client.get("/events/types", headers=bearer(secret))
    assert await last_used() == clock.now()


async def test_the_access_log_names_the_integration(client, make_operator, caplog):
    operator = await make_operator()
    made = await make_token(client, operator)
    caplog.set_level(logging.INFO, logger="agorakit.http.access")
    caplog.clear()
    await client.get("/events", headers=bearer(made["token"]))
    [record] = [r for r in caplog.records if r.name == "agorakit.http.access"]
    assert record.http["member_id"] is None
    assert record.http["integration_id"] == made["integration_token"]["id"]


async def test_hook_agorakit_integration_scopes(client, runtime, make_operator):
    scopes = integration_scopes(runtime)
    assert list(scopes) == ["events:read", "partner:read", "webhooks:read"]
    assert scopes["partner:read"] == "Read the partner report (GET /partner/report)."
    operator = await make_operator()
    listed = (await client.get("/operator/integration-scopes", headers=operator.headers)).json()
    assert [item["scope"] for item in listed["items"]] == list(scopes)
    await make_token(client, operator, scopes=["partner:read"])


class OtherKeys:
    """A plugin that answers for API keys of its own."""

    @hookimpl
    def agorakit_api_token_caller(self, token, runtime):
        if token == "partner-key-1":
            return IntegrationCaller(integration_id=0, name="partner", scopes=frozenset({"events:read"}))
        return None


@pytest.mark.parametrize("extra_plugins", [[("other-keys", OtherKeys())]])
async def test_hook_agorakit_api_token_caller(client, problem, extra_plugins):
    assert (await client.get("/events", headers=bearer("partner-key-1"))).status_code == 200
    problem(await client.get("/events", headers=bearer("partner-key-2")), 401, "unauthenticated")
    problem(await client.get("/me", headers=bearer("partner-key-1")), 401, "unauthenticated")


async def test_the_api_document_says_which_routes_take_integration_tokens(client):
    document = (await client.get("/docs/openapi.json")).json()
    feed = document["paths"]["/events"]["get"]
    assert feed["security"] == [{"BearerToken": []}]
    assert "Integration tokens with the scope `events:read` may call it too." in feed["description"]
    assert "scope_missing" in feed["responses"]["403"]["description"]
    assert "integration token" in document["components"]["securitySchemes"]["BearerToken"]["description"]
    assert "description" not in document["paths"]["/operator/integration-tokens"]["get"]
