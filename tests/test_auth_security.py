"""Login and registration throttles, the client address behind proxies, the uniform
registration answer, and suspended tokens."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from agorakit.accounts.tables import Member
from agorakit.accounts.throttle import Backoff, MemoryStore, Window
from agorakit.clock import FrozenClock
from agorakit.http.client import client_address
from agorakit.notifications.tables import EmailOutbox

ADA = {
    "email": "ada@example.com",
    "password": "analytical-engine-1843",
    "display_name": "Ada",
    "country": "GB",
}


def client_at(app, host: str) -> httpx.AsyncClient:
    """A client calling ``app`` from another address (the test client is 127.0.0.1)."""
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def login(client, password: str, email: str = ADA["email"], **kwargs):
    return await client.post("/auth/login", json={"email": email, "password": password}, **kwargs)


async def outbox() -> list[dict]:
    return await EmailOutbox.select().order_by(EmailOutbox.id)


# --------------------------------------------------------------------------------------
# Login throttle: per account and address, progressive; per address
# --------------------------------------------------------------------------------------


async def test_a_strangers_failed_logins_do_not_lock_the_owner_out(
    client, make_member, problem, site_settings
):
    ada = await make_member(email=ADA["email"], password=ADA["password"])
    auth = site_settings.auth
    async with client_at(client.app, "203.0.113.66") as stranger:
        for _ in range(auth.login_max_failures):
            problem(await login(stranger, "guess-guess-guess"), 401, "invalid_credentials")
        refused = await login(stranger, ADA["password"])  # even the right one, from there
        problem(refused, 429, "too_many_requests")
        assert refused.headers["retry-after"] == str(auth.login_delay_seconds)
    async with client_at(client.app, "198.51.100.7") as owner:
        response = await login(owner, ADA["password"])
    assert response.status_code == 200, response.text
    assert response.json()["member"]["id"] == ada.id


class TestProgressiveDelay:
    @pytest.fixture
    def site_config(self):
        return {"auth": {"login_max_failures": 3, "login_delay_seconds": 10, "login_delay_max_seconds": 25}}

    async def test_each_further_failure_doubles_the_wait_up_to_the_cap(
        self, client, make_member, clock, problem
    ):
        await make_member(email=ADA["email"], password=ADA["password"])
        for _ in range(3):
            problem(await login(client, "wrong-password-1"), 401, "invalid_credentials")
        waits = []
        for _ in range(3):
            refused = await login(client, "wrong-password-1")
            problem(refused, 429, "too_many_requests")
            waits.append(int(refused.headers["retry-after"]))
            clock.advance(seconds=waits[-1])
            problem(await login(client, "wrong-password-1"), 401, "invalid_credentials")
        assert waits == [10, 20, 25]  # 10 s, doubled, then capped at 25 s
        assert int((await login(client, ADA["password"])).headers["retry-after"]) == 25

        # After the wait the right password gets in, and the count starts again.
        clock.advance(seconds=25)
        assert (await login(client, ADA["password"])).status_code == 200
        problem(await login(client, "wrong-password-1"), 401, "invalid_credentials")
        assert (await login(client, ADA["password"])).status_code == 200

    async def test_failures_are_forgotten_after_a_quiet_hour(self, client, make_member, clock, problem):
        await make_member(email=ADA["email"], password=ADA["password"])
        for _ in range(2):
            problem(await login(client, "wrong-password-1"), 401, "invalid_credentials")
        clock.advance(minutes=60)
        for _ in range(2):  # two more, not the third and fourth in a row
            problem(await login(client, "wrong-password-1"), 401, "invalid_credentials")
        assert (await login(client, ADA["password"])).status_code == 200


async def test_backoff_waits_double_from_the_threshold():
    clock = FrozenClock()
    backoff = Backoff(
        MemoryStore(),
        "login_failures",
        clock,
        threshold=2,
        delay=timedelta(seconds=5),
        max_delay=timedelta(seconds=12),
        forget_after=timedelta(minutes=1),
    )
    assert [backoff.wait(n) for n in range(5)] == [timedelta(0), timedelta(0)] + [
        timedelta(seconds=s) for s in (5, 10, 12)
    ]
    await backoff.hit("k")
    assert await backoff.retry_after("k") is None
    await backoff.hit("k")
    assert await backoff.retry_after("k") == 5
    assert await backoff.retry_after("other") is None
    clock.advance(seconds=5)
    assert await backoff.retry_after("k") is None
    await backoff.reset("k")
    await backoff.hit("k")
    assert await backoff.retry_after("k") is None


async def test_window_allows_limit_hits_per_period():
    clock = FrozenClock()
    window = Window(MemoryStore(), "login", clock, 2, timedelta(minutes=1))
    await window.hit("a")
    await window.hit("a")
    assert await window.retry_after("a") == 60
    clock.advance(seconds=59)
    assert await window.retry_after("a") == 1
    clock.advance(seconds=1)
    assert await window.retry_after("a") is None


# --------------------------------------------------------------------------------------
# The client address: X-Forwarded-For only from trusted proxies
# --------------------------------------------------------------------------------------


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"type": "http", "client": (peer, 1234), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("127.0.0.1", "203.0.113.5", [], "127.0.0.1"),  # nobody trusted: the header is ignored
        ("198.51.100.9", "203.0.113.5", ["127.0.0.1"], "198.51.100.9"),  # not from a proxy
        ("127.0.0.1", "203.0.113.5", ["127.0.0.1"], "203.0.113.5"),
        ("10.1.2.3", "203.0.113.5, 10.0.0.2", ["10.0.0.0/8"], "203.0.113.5"),  # two proxies
        ("127.0.0.1", "6.6.6.6, 203.0.113.5", ["127.0.0.1"], "203.0.113.5"),  # a made-up first entry
        ("127.0.0.1", "not-an-ip", ["127.0.0.1"], "127.0.0.1"),
        ("127.0.0.1", "", ["127.0.0.1"], "127.0.0.1"),
        ("::1", "2001:db8::7", ["::1"], "2001:db8::7"),
    ],
)
def test_client_address_believes_forwarded_for_only_from_trusted_proxies(peer, forwarded, trusted, expected):
    assert client_address(scope(peer, forwarded), trusted) == expected


async def test_forwarded_for_is_ignored_by_default(client, make_member, problem, site_settings):
    """By default a client cannot dodge the throttle by naming a new address each time."""
    await make_member(email=ADA["email"], password=ADA["password"])
    for n in range(site_settings.auth.login_max_failures):
        headers = {"X-Forwarded-For": f"203.0.113.{n}"}
        problem(await login(client, "wrong-password-1", headers=headers), 401, "invalid_credentials")
    refused = await login(client, ADA["password"], headers={"X-Forwarded-For": "198.51.100.1"})
    problem(refused, 429, "too_many_requests")


class TestBehindAProxy:
    @pytest.fixture
    def site_config(self):
        return {"http": {"trusted_proxies": ["127.0.0.1"]}}

    async def test_the_throttle_counts_the_client_the_proxy_names(
        self, client, make_member, problem, site_settings
    ):
        await make_member(email=ADA["email"], password=ADA["password"])
        attacker = {"X-Forwarded-For": "6.6.6.6, 203.0.113.66"}  # the proxy appended the last one
        for _ in range(site_settings.auth.login_max_failures):
            problem(await login(client, "wrong-password-1", headers=attacker), 401, "invalid_credentials")
        problem(await login(client, ADA["password"], headers=attacker), 429, "too_many_requests")
        owner = await login(client, ADA["password"], headers={"X-Forwarded-For": "198.51.100.7"})
        assert owner.status_code == 200, owner.text


def test_trusted_proxies_must_be_addresses_or_networks():
    from agorakit.settings import ConfigError, settings_from_dict

    data = {"auth": {"jwt_secret": "k" * 40}, "http": {"trusted_proxies": ["10.0.0.0/8", "proxy.local"]}}
    with pytest.raises(ConfigError, match=r"proxy\.local"):
        settings_from_dict(data, source="site.toml", environ={})


@pytest.mark.parametrize(("trusted", "headers"), [([], False), (["10.0.0.0/8"], True)])
def test_run_gives_uvicorn_the_trusted_proxies(monkeypatch, trusted, headers):
    import uvicorn

    from agorakit.cli import serve
    from agorakit.settings import settings_from_dict

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setenv("AGORAKIT_CONFIG", "unused")
    settings = settings_from_dict(
        {"auth": {"jwt_secret": "k" * 40}, "http": {"trusted_proxies": trusted}}, source="t", environ={}
    )
    serve(settings, config_path="site.toml", host="127.0.0.1", port=8000)
    assert seen["proxy_headers"] is headers
    assert seen["forwarded_allow_ips"] == trusted  # never uvicorn's default of 127.0.0.1


# --------------------------------------------------------------------------------------
# Registration: throttled, and the same answer for a taken address
# --------------------------------------------------------------------------------------


async def test_registering_a_taken_email_answers_like_a_new_one_and_tells_the_owner(client, make_member):
    owner = await make_member(email="taken@example.com", display_name="Tess")
    new = await client.post("/auth/register", json={**ADA, "email": "fresh@example.com"})
    taken = await client.post("/auth/register", json={**ADA, "email": "taken@EXAMPLE.com"})
    assert new.status_code == taken.status_code == 202
    assert new.headers["content-type"] == taken.headers["content-type"]
    assert taken.json()["detail"] == new.json()["detail"].replace("fresh@", "taken@")
    assert set(new.json()) == set(taken.json()) == {"email", "detail"}

    assert await Member.count().where(Member.email_key == "taken@example.com") == 1
    still = await login(client, owner.password, email="taken@example.com")
    assert still.status_code == 200  # the owner's password is untouched
    emails = await outbox()
    fresh = [row["subject"] for row in emails if row["to_address"] == "fresh@example.com"]
    assert "Verify your email address for test market" in fresh
    to_owner = [row for row in emails if row["to_address"] == "taken@example.com"]
    assert [row["subject"] for row in to_owner] == [
        "Welcome to test market",  # when the owner registered
        "Someone tried to register on test market with your address",
    ]
    attempt = to_owner[1]
    assert attempt["member_id"] == owner.id
    assert "password reset" in attempt["text_body"]


class TestRegistrationThrottle:
    @pytest.fixture
    def site_config(self):
        return {"auth": {"registrations_per_hour": 2}}

    async def test_registrations_are_limited_per_address(self, client, clock, problem):
        for n in range(2):
            body = {**ADA, "email": f"r{n}@example.com"}
            assert (await client.post("/auth/register", json=body)).status_code == 202
        refused = await client.post("/auth/register", json={**ADA, "email": "r2@example.com"})
        problem(refused, 429, "too_many_requests")
        assert refused.headers["retry-after"] == "3600"
        async with client_at(client.app, "198.51.100.7") as elsewhere:
            other = await elsewhere.post("/auth/register", json={**ADA, "email": "r3@example.com"})
        assert other.status_code == 202
        clock.advance(hours=1)
        assert (
            await client.post("/auth/register", json={**ADA, "email": "r2@example.com"})
        ).status_code == 202
        assert await Member.count() == 4

    async def test_invalid_registrations_do_not_use_the_allowance(self, client, problem):
        for _ in range(3):
            problem(
                await client.post("/auth/register", json={**ADA, "country": "ZZ"}), 422, "validation_error"
            )
        assert (await client.post("/auth/register", json=ADA)).status_code == 202


# --------------------------------------------------------------------------------------
# Suspended members' tokens
# --------------------------------------------------------------------------------------


async def test_a_remembered_token_of_a_suspended_member_gets_403_with_the_reason(
    client, make_member, problem
):
    operator, erin = await make_member(role="operator"), await make_member()
    assert (await client.get("/me", headers=erin.headers)).status_code == 200  # now remembered
    suspended = await client.post(
        f"/operator/members/{erin.id}/suspend", json={"reason": "chargebacks"}, headers=operator.headers
    )
    assert suspended.status_code == 200
    for _ in range(2):
        body = problem(await client.get("/me", headers=erin.headers), 403, "account_suspended")
        assert body["detail"] == "this account is suspended: chargebacks. Contact the site's operators."


# --------------------------------------------------------------------------------------
# Where to report a vulnerability
# --------------------------------------------------------------------------------------


async def test_security_txt_is_absent_without_a_contact(client, problem):
    problem(await client.get("/.well-known/security.txt"), 404, "not_found")


class TestSecurityContact:
    @pytest.fixture
    def site_config(self):
        return {"site": {"security_contact": "security@market.example", "base_url": "https://market.example"}}

    async def test_security_txt_names_the_contact(self, client, clock):
        response = await client.get("/.well-known/security.txt")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        expires = (clock.now() + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert response.text == (
            "Contact: mailto:security@market.example\n"
            f"Expires: {expires}\n"
            "Canonical: https://market.example/.well-known/security.txt\n"
            "Preferred-Languages: en\n"
        )


def test_a_security_contact_must_be_an_email_or_https_url():
    from agorakit.settings import ConfigError, settings_from_dict

    data = {"auth": {"jwt_secret": "k" * 40}, "site": {"security_contact": "call us"}}
    with pytest.raises(ConfigError, match="security_contact"):
        settings_from_dict(data, source="site.toml", environ={})
