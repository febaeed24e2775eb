"""Registration, login, profiles, suspension and tokens, through the HTTP API."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

import jwt
import pytest

from agorakit.accounts.tables import Member

VALID = {
    "email": "Ada.Lovelace@Example.com",
    "password": "analytical-engine-1843",
    "display_name": "Ada  Lovelace",
    "country": "gb",
    "skills": ["Data Entry", "data entry", "C++"],
}


async def register(client, **changes):
    return await client.post("/auth/register", json={**VALID, **changes})


async def test_register_creates_member_and_emails_a_verification_link(client, clock):
    response = await register(client)
    assert response.status_code == 202, response.text
    assert response.json() == {
        "email": "Ada.Lovelace@example.com",  # domain lower-cased, local part kept
        "detail": "we sent an email to Ada.Lovelace@example.com: follow its link to verify the address. "
        "If it does not arrive, check the address and your spam folder",
    }
    assert "password" not in response.text and "argon2" not in response.text
    stored = await Member.select().where(Member.email_key == "ada.lovelace@example.com").first()
    assert stored["password_hash"].startswith("$argon2id$")
    assert stored["email_verified_at"] is None

    login = await client.post("/auth/login", json={"email": VALID["email"], "password": VALID["password"]})
    assert login.status_code == 200, login.text
    body = login.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 24 * 60 * 60
    member = body["member"]
    assert member["display_name"] == "Ada Lovelace"
    assert member["country"] == "GB"
    assert member["skills"] == ["data entry", "c++"]
    assert member["role"] == "member" and member["status"] == "active"
    assert member["email_verified"] is False
    assert member["created_at"].startswith(clock.now().strftime("%Y-%m-%dT%H:%M:%S"))
    me = await client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == stored["id"]


async def test_register_same_email_any_case_creates_nothing_more(client):
    first = await register(client)
    again = await register(client, email="ADA.LOVELACE@EXAMPLE.COM")
    assert first.status_code == again.status_code == 202
    assert await Member.count() == 1


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"email": "not-an-email"}, {"email"}),
        ({"email": "ada@"}, {"email"}),
        ({"password": "short"}, {"password"}),
        ({"password": "passwordpassword"}, {"password"}),
        ({"password": "ada.lovelace1"}, {"password"}),  # guessable from the email
        ({"country": "XX"}, {"country"}),
        ({"country": "USA"}, {"country"}),
        ({"display_name": "   "}, {"display_name"}),
        ({"skills": ["<script>"]}, {"skills[0]"}),
        ({"email": "nope", "country": "ZZ", "password": "x"}, {"email", "country", "password"}),
    ],
)
async def test_register_bad_input_is_rejected_with_field_errors(client, problem, changes, fields):
    response = await register(client, **changes)
    problem(response, 422, "validation_error", fields=fields)
    assert await Member.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VALID, "email": 5}, "email"),
        ({k: v for k, v in VALID.items() if k != "country"}, "country"),
        ({**VALID, "role": "operator"}, "role"),  # cannot make yourself an operator
        ({**VALID, "display_name": "x" * 81}, "display_name"),
        ({**VALID, "skills": "python"}, "skills"),
    ],
)
async def test_register_schema_errors_name_the_field(client, problem, body, field):
    response = await client.post("/auth/register", json=body)
    problem(response, 422, "validation_error", fields={field})
    assert await Member.count() == 0


async def test_register_malformed_json_is_bad_request(client, problem):
    response = await client.post(
        "/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    problem(response, 400, "bad_request")


async def test_login_returns_token_for_right_password_any_email_case(client):
    await register(client)
    response = await client.post(
        "/auth/login", json={"email": "ada.lovelace@EXAMPLE.com", "password": VALID["password"]}
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == "Ada.Lovelace@example.com"


@pytest.mark.parametrize("email", ["Ada.Lovelace@example.com", "nobody@example.com"])
async def test_login_wrong_password_or_unknown_email_is_401(client, problem, email):
    await register(client)
    response = await client.post("/auth/login", json={"email": email, "password": "wrong-password-1"})
    body = problem(response, 401, "invalid_credentials")
    assert body["detail"] == "the email or password is wrong"  # same for both: no enumeration


async def test_login_throttles_an_account_after_repeated_failures(client, clock, problem, site_settings):
    await register(client)
    auth = site_settings.auth
    for _ in range(auth.login_max_failures):
        bad = await client.post("/auth/login", json={"email": VALID["email"], "password": "wrong-password-1"})
        assert bad.status_code == 401
    # Even the right password is refused from this address while it waits.
    response = await client.post("/auth/login", json={"email": VALID["email"], "password": VALID["password"]})
    problem(response, 429, "too_many_requests")
    assert int(response.headers["retry-after"]) == auth.login_delay_seconds

    clock.advance(seconds=auth.login_delay_seconds)
    ok = await client.post("/auth/login", json={"email": VALID["email"], "password": VALID["password"]})
    assert ok.status_code == 200


class TestAddressThrottle:
    @pytest.fixture
    def site_config(self):
        return {"auth": {"login_attempts_per_minute": 3, "login_max_failures": 10}}

    async def test_login_throttles_a_client_address(self, client, clock, problem):
        await register(client)
        for n in range(3):
            response = await client.post(
                "/auth/login", json={"email": f"x{n}@example.com", "password": "whatever-123"}
            )
            assert response.status_code == 401
        good = {"email": VALID["email"], "password": VALID["password"]}
        response = await client.post("/auth/login", json=good)
        problem(response, 429, "too_many_requests")
        assert 1 <= int(response.headers["retry-after"]) <= 60
        clock.advance(seconds=61)
        response = await client.post("/auth/login", json=good)
        assert response.status_code == 200


async def test_me_without_token_is_401(client, problem):
    problem(await client.get("/me"), 401, "unauthenticated")


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(int(claims["sub"]) + 1)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


async def test_tampered_forged_and_expired_tokens_are_401(client, make_member, problem, site_settings):
    alice = await make_member()
    await make_member()  # the member a tampered "sub" would point at
    claims = jwt.decode(alice.token, site_settings.auth.jwt_secret, algorithms=["HS256"])
    other_key = jwt.encode(claims, "another-secret-another-secret-0000", algorithm="HS256")
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    expired = jwt.encode(
        {**claims, "exp": claims["iat"] - 10}, site_settings.auth.jwt_secret, algorithm="HS256"
    )
    for token in [_tamper(alice.token), other_key, unsigned, expired, "garbage", alice.token[:-2]]:
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        problem(response, 401, "unauthenticated")


async def test_update_profile_changes_only_given_fields(client, make_member, problem):
    bob = await make_member(country="US", skills=["writing"])
    response = await client.patch(
        "/me", json={"display_name": " Bob  B. ", "skills": ["SEO"]}, headers=bob.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["display_name"], body["country"], body["skills"]) == ("Bob B.", "US", ["seo"])

    bad = await client.patch("/me", json={"country": "ZZ", "display_name": ""}, headers=bob.headers)
    problem(bad, 422, "validation_error", fields={"country", "display_name"})
    again = await client.get("/me", headers=bob.headers)
    assert again.json()["display_name"] == "Bob B."  # nothing changed by the bad request

    problem(
        await client.patch("/me", json={"role": "operator"}, headers=bob.headers), 422, "validation_error"
    )


async def test_change_password_revokes_older_tokens(client, make_member, problem):
    carol = await make_member()
    wrong = await client.post(
        "/me/password",
        json={"current_password": "not-it-at-all", "new_password": "a-brand-new-secret-77"},
        headers=carol.headers,
    )
    problem(wrong, 422, "validation_error", fields={"current_password"})
    weak = await client.post(
        "/me/password",
        json={"current_password": carol.password, "new_password": "12345678"},
        headers=carol.headers,
    )
    problem(weak, 422, "validation_error", fields={"new_password"})

    response = await client.post(
        "/me/password",
        json={"current_password": carol.password, "new_password": "a-brand-new-secret-77"},
        headers=carol.headers,
    )
    assert response.status_code == 200, response.text
    new_token = response.json()["access_token"]
    problem(await client.get("/me", headers=carol.headers), 401, "unauthenticated")
    assert (await client.get("/me", headers={"Authorization": f"Bearer {new_token}"})).status_code == 200
    login_old = await client.post(
        "/auth/login", json={"email": carol.member.email, "password": carol.password}
    )
    assert login_old.status_code == 401


async def test_operator_suspends_member_who_is_then_refused(client, make_member, problem):
    operator = await make_member(role="operator")
    dave = await make_member()
    response = await client.post(
        f"/operator/members/{dave.id}/suspend", json={"reason": "spam in listings"}, headers=operator.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "suspended"

    # The existing token stops working at once, and logging in again is refused with the reason.
    body = problem(await client.get("/me", headers=dave.headers), 403, "account_suspended")
    assert "spam in listings" in body["detail"]
    login = await client.post("/auth/login", json={"email": dave.member.email, "password": dave.password})
    body = problem(login, 403, "account_suspended")
    assert "spam in listings" in body["detail"]

    problem(
        await client.post(
            f"/operator/members/{dave.id}/suspend", json={"reason": "again"}, headers=operator.headers
        ),
        409,
        "conflict",
    )
    back = await client.post(f"/operator/members/{dave.id}/reactivate", headers=operator.headers)
    assert back.json()["status"] == "active"
    login = await client.post("/auth/login", json={"email": dave.member.email, "password": dave.password})
    assert login.status_code == 200
    # A token from before the suspension stays dead after it is lifted.
    problem(await client.get("/me", headers=dave.headers), 401, "unauthenticated")


async def test_suspended_member_with_fresh_token_gets_403(client, make_member, problem, runtime):
    from agorakit.accounts import service

    operator = await make_member(role="operator")
    erin = await make_member()
    await service.suspend(runtime, operator_id=operator.id, member_id=erin.id, reason="chargebacks")
    # A token minted with the current stamp (e.g. by a session started just now) is still refused.
    from agorakit.accounts.auth import issue_token

    fresh = await issue_token(runtime, runtime_jwt(client), await service.get_member(runtime, erin.id))
    response = await client.get("/me", headers={"Authorization": f"Bearer {fresh.access_token}"})
    problem(response, 403, "account_suspended")


def runtime_jwt(client):
    return client.app.state.jwt_auth


async def test_operator_routes_are_forbidden_to_members(client, make_member, problem):
    member = await make_member()
    other = await make_member()
    for method, path in [
        ("GET", "/operator/members"),
        ("GET", f"/operator/members/{other.id}"),
        ("POST", f"/operator/members/{other.id}/reactivate"),
        ("GET", "/-/plugins"),
    ]:
        problem(await client.request(method, path, headers=member.headers), 403, "forbidden")
    response = await client.post(
        f"/operator/members/{other.id}/suspend", json={"reason": "x"}, headers=member.headers
    )
    problem(response, 403, "forbidden")


async def test_operator_cannot_suspend_self_or_unknown_member(client, make_member, problem):
    operator = await make_member(role="operator")
    problem(
        await client.post(
            f"/operator/members/{operator.id}/suspend", json={"reason": "x"}, headers=operator.headers
        ),
        403,
        "forbidden",
    )
    problem(
        await client.post("/operator/members/999999/suspend", json={"reason": "x"}, headers=operator.headers),
        404,
        "not_found",
    )
    problem(
        await client.post(
            f"/operator/members/{operator.id}/suspend", json={"reason": ""}, headers=operator.headers
        ),
        422,
        "validation_error",
        fields={"reason"},
    )


async def test_operator_lists_members_with_cursor_and_filters(client, make_member, problem):
    operator = await make_member(role="operator")
    members = [await make_member() for _ in range(4)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/operator/members", params=params, headers=operator.headers)).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [operator.id] + [m.id for m in members]

    only_ops = await client.get("/operator/members", params={"role": "operator"}, headers=operator.headers)
    assert [m["id"] for m in only_ops.json()["items"]] == [operator.id]
    by_email = await client.get(
        "/operator/members", params={"email": members[2].member.email.upper()}, headers=operator.headers
    )
    assert [m["id"] for m in by_email.json()["items"]] == [members[2].id]

    problem(
        await client.get("/operator/members", params={"cursor": "!!bad"}, headers=operator.headers),
        422,
        "validation_error",
        fields={"cursor"},
    )
    problem(
        await client.get("/operator/members", params={"limit": 0}, headers=operator.headers),
        422,
        "validation_error",
    )
    problem(
        await client.get("/operator/members", params={"status": "zombie"}, headers=operator.headers),
        422,
        "validation_error",
    )


async def test_concurrent_registrations_of_one_email_create_one_member(client, db_kind, site_settings):
    n = site_settings.auth.account_emails_per_address_per_hour  # more get 429 for this address
    results = await asyncio.gather(*(register(client) for _ in range(n)))
    assert [r.status_code for r in results] == [202] * n
    assert len({r.text for r in results}) == 1
    assert await Member.count() == 1


async def test_token_lifetime_follows_settings(client, make_member, site_settings):
    member = await make_member()
    claims = jwt.decode(member.token, site_settings.auth.jwt_secret, algorithms=["HS256"])
    assert timedelta(seconds=claims["exp"] - claims["iat"]) == timedelta(
        minutes=site_settings.auth.token_ttl_minutes
    )


def test_verified_tokens_are_remembered_until_they_expire(monkeypatch):
    """The same token on every request is decoded once; a remembered token that expired
    is refused as before and forgotten; a forged one is never remembered; the memory is
    bounded."""
    from datetime import UTC, datetime

    from litestar.exceptions import NotAuthorizedException
    from litestar.security.jwt import Token

    from agorakit.accounts.auth import CachedToken

    monkeypatch.setattr(CachedToken, "_verified", type(CachedToken._verified)())
    monkeypatch.setattr(CachedToken, "SIZE", 2)
    secret = "s" * 40
    decoded = []
    original = Token.decode.__func__

    def counting(cls, *args, **kwargs):
        decoded.append(args[0])
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(Token, "decode", classmethod(counting))

    def signed(sub: str, exp: datetime) -> str:
        return jwt.encode(
            {"sub": sub, "exp": int(exp.timestamp()), "iat": int(datetime.now(UTC).timestamp())},
            secret,
            "HS256",
        )

    soon = datetime.now(UTC) + timedelta(minutes=5)
    first = signed("1", soon)
    assert CachedToken.decode(first, secret, "HS256").sub == "1"
    assert CachedToken.decode(first, secret, "HS256").sub == "1"
    assert decoded == [first]  # decoded once
    # A forged signature: refused every time, never remembered.
    forged = jwt.encode({"sub": "1", "exp": int(soon.timestamp())}, "x" * 40, "HS256")
    for _ in range(2):
        with pytest.raises(NotAuthorizedException):
            CachedToken.decode(forged, secret, "HS256")
    assert decoded.count(forged) == 2
    # A token remembered while valid, met again after its expiry: refused and forgotten.
    past = datetime.now(UTC) - timedelta(minutes=1)
    stale = signed("2", past)
    CachedToken._verified[(stale, secret, "HS256", True, True)] = CachedToken(sub="2", exp=soon)
    CachedToken._verified[(stale, secret, "HS256", True, True)].exp = past
    with pytest.raises(NotAuthorizedException):
        CachedToken.decode(stale, secret, "HS256")
    assert all(key[0] != stale for key in CachedToken._verified)
    # At most SIZE tokens: the least recently used go first.
    tokens = [signed(str(n), soon) for n in range(3)]
    for encoded in tokens:
        CachedToken.decode(encoded, secret, "HS256")
    assert [key[0] for key in CachedToken._verified] == tokens[1:]
