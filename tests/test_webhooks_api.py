"""The webhooks API: who may use it, what it refuses (and why), secrets and their
rotation, private addresses, redirects and the response bodies kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook
from test_orders import TestGigPlugin, new_order
from webhook_receiver import Receiver, Reply

from agorakit.clock import FrozenClock
from agorakit.webhooks import addresses
from agorakit.worker import sweep


@pytest.fixture
def clock():
    # the real time: receivers check webhook-timestamp against their own clock
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def extra_plugins():
    return [("testgig", TestGigPlugin())]


@pytest.fixture
def site_config():
    return {"webhooks": {"allow_private_addresses": True, "max_response_bytes": 100, "max_replay_events": 3}}


@pytest.fixture
def receiver():
    started = Receiver()
    yield started
    started.close()


@pytest.fixture
async def operator(make_member):
    return await make_member(role="operator")


async def create(client, operator, **body):
    return await client.post(
        "/operator/webhooks", json={"event_types": ["order.*"], **body}, headers=operator.headers
    )


async def one_order(runtime, make_member):
    return await new_order(runtime, await make_member(), await make_member())


async def attempts(client, operator, endpoint_id):
    [delivery] = (
        await client.get(f"/operator/webhooks/{endpoint_id}/deliveries", headers=operator.headers)
    ).json()["items"]
    detail = await client.get(
        f"/operator/webhooks/{endpoint_id}/deliveries/{delivery['id']}", headers=operator.headers
    )
    return detail.json()["attempts"]


async def test_only_operators_use_the_webhooks_api(client, make_member, operator, receiver, problem):
    member = await make_member()
    endpoint = (await create(client, operator, url=receiver.url)).json()
    base = f"/operator/webhooks/{endpoint['id']}"
    for method, path, body in [
        ("POST", "/operator/webhooks", {"url": receiver.url, "event_types": ["*"]}),
        ("GET", "/operator/webhooks", None),
        ("GET", base, None),
        ("PATCH", base, {"description": "mine now"}),
        ("DELETE", base, None),
        ("POST", f"{base}/rotate-secret", None),
        ("POST", f"{base}/resume", None),
        ("GET", f"{base}/deliveries", None),
        ("GET", f"{base}/deliveries/1", None),
        ("POST", f"{base}/deliveries/1/replay", None),
        ("POST", f"{base}/replay", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}),
    ]:
        response = await client.request(method, path, json=body, headers=member.headers)
        problem(response, 403, "forbidden")
        assert (await client.request(method, path, json=body)).status_code == 401
    shown = (await client.get(base, headers=operator.headers)).json()
    assert shown["description"] == "" and "secret" not in shown


async def test_an_endpoint_is_registered_changed_and_deleted(
    client, runtime, make_member, operator, receiver
):
    created = await create(client, operator, url=receiver.url, description="CRM")
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert set(endpoint) == {
        "id", "url", "description", "event_types", "enabled", "status", "failing_since", "created_at", "secret",
    }  # fmt: skip
    assert (endpoint["url"], endpoint["description"], endpoint["event_types"]) == (
        receiver.url,
        "CRM",
        ["order.*"],
    )
    assert len(addresses_secret := endpoint["secret"]) > 40 and addresses_secret.startswith("whsec_")
    base = f"/operator/webhooks/{endpoint['id']}"
    changed = await client.patch(
        base, json={"event_types": ["order.created"], "description": "ERP"}, headers=operator.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["event_types"], changed.json()["description"]) == (["order.created"], "ERP")
    listed = (await client.get("/operator/webhooks", headers=operator.headers)).json()
    assert [e["id"] for e in listed["items"]] == [endpoint["id"]] and listed["next_cursor"] is None

    await one_order(runtime, make_member)
    from agorakit.webhooks.fanout import fan_out

    await fan_out(runtime)
    shown = (await client.get(base, headers=operator.headers)).json()
    assert (shown["pending"], shown["failed"], shown["last_delivered_at"]) == (1, 0, None)
    deleted = await client.delete(base, headers=operator.headers)
    assert deleted.status_code == 204
    assert (await client.get(base, headers=operator.headers)).status_code == 404
    from agorakit.webhooks.tables import WebhookDelivery

    assert await WebhookDelivery.select(WebhookDelivery.status).output(as_list=True) == ["cancelled"]
    await sweep(runtime)
    assert receiver.requests == []


async def test_bad_requests_get_a_problem_and_change_nothing(
    client, runtime, make_member, operator, receiver, problem
):
    for url, reason in [
        ("ftp://example.com/hooks", "use a http:// or https:// URL"),
        ("https://user:secret@example.com/hooks", "must not carry credentials"),
        ("https:///hooks", "no host"),
        ("https://example.com/hooks#part", "#fragment"),
    ]:
        body = problem(await create(client, operator, url=url), 422, "validation_error", fields={"url"})
        assert reason in body["errors"][0]["message"]
    body = problem(
        await create(client, operator, url=receiver.url, event_types=["order.*", "ordr.*", ""]),
        422,
        "validation_error",
        fields={"event_types"},
    )
    assert [e["message"] for e in body["errors"]] == [
        "'ordr.*' matches no event type (see GET /events/types)",
        "'' is not an event type pattern",
    ]
    problem(
        await create(client, operator, url=receiver.url, event_types=[]),
        422,
        "validation_error",
        fields={"event_types"},
    )
    problem(
        await client.post(
            "/operator/webhooks",
            json={"url": receiver.url, "event_types": ["*"], "secret": "x"},
            headers=operator.headers,
        ),
        422,
        "validation_error",
        fields={"secret"},
    )
    assert (await client.get("/operator/webhooks", headers=operator.headers)).json()["items"] == []

    endpoint = (await create(client, operator, url=receiver.url)).json()
    other = (await create(client, operator, url=receiver.url)).json()
    base = f"/operator/webhooks/{endpoint['id']}"
    problem(
        await client.patch(base, json={"url": "gopher://x"}, headers=operator.headers),
        422,
        "validation_error",
        fields={"url"},
    )
    assert (await client.get(base, headers=operator.headers)).json()["url"] == receiver.url
    for method, path in [
        ("GET", "/operator/webhooks/999"),
        ("PATCH", "/operator/webhooks/999"),
        ("DELETE", "/operator/webhooks/999"),
        ("POST", "/operator/webhooks/999/rotate-secret"),
        ("POST", "/operator/webhooks/999/resume"),
        ("GET", "/operator/webhooks/999/deliveries"),
        ("GET", f"{base}/deliveries/999"),
        ("POST", f"{base}/deliveries/999/replay"),
    ]:
        body = {"description": "x"} if method == "PATCH" else None
        problem(await client.request(method, path, json=body, headers=operator.headers), 404, "not_found")

    await one_order(runtime, make_member)
    await sweep(runtime)
    [delivery] = (await client.get(f"{base}/deliveries", headers=operator.headers)).json()["items"]
    # another endpoint's delivery is not this one's to replay or show
    problem(
        await client.post(
            f"/operator/webhooks/{other['id']}/deliveries/{delivery['id']}/replay", headers=operator.headers
        ),
        404,
        "not_found",
    )
    problem(
        await client.get(
            f"/operator/webhooks/{other['id']}/deliveries/{delivery['id']}", headers=operator.headers
        ),
        404,
        "not_found",
    )

    replay = f"{base}/replay"
    for payload, field in [
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, {"to"}),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, {"to"}),
        ({"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00Z"}, {"from"}),
    ]:
        problem(
            await client.post(replay, json=payload, headers=operator.headers),
            422,
            "validation_error",
            fields=field,
        )
    problem(
        await client.post(replay, json={"from": "yesterday", "to": "today"}, headers=operator.headers),
        422,
        "validation_error",
    )
    # more events than [webhooks] max_replay_events (3) in the range
    wide = {"from": "2000-01-01T00:00:00Z", "to": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    body = problem(
        await client.post(replay, json=wide, headers=operator.headers), 422, "validation_error", fields={"to"}
    )
    assert "more than 3 events" in body["detail"]
    assert len((await client.get(f"{base}/deliveries", headers=operator.headers)).json()["items"]) == 1
    problem(
        await client.get(f"{base}/deliveries", params={"status": "lost"}, headers=operator.headers),
        422,
        "validation_error",
    )


async def test_a_rotated_secret_signs_alongside_the_new_one_for_a_day(
    client, runtime, make_member, operator, receiver, clock
):
    endpoint = (await create(client, operator, url=receiver.url)).json()
    rotated = await client.post(
        f"/operator/webhooks/{endpoint['id']}/rotate-secret", headers=operator.headers
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["secret"] != endpoint["secret"] and new["secret"].startswith("whsec_")
    assert new["previous_secret_expires_at"] == (clock.now() + timedelta(hours=24)).isoformat().replace(
        "+00:00", "Z"
    )
    await one_order(runtime, make_member)
    await sweep(runtime)
    [request] = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint["secret"], new["secret"]):
        assert Webhook(secret).verify(request.body, request.headers)["type"] == "order.created"
    clock.advance(hours=24)
    await one_order(runtime, make_member)
    await sweep(runtime)
    assert len(receiver.requests[1].headers["webhook-signature"].split(" ")) == 1


async def test_redirects_are_not_followed_and_kept_bodies_are_capped(client, runtime, make_member, operator):
    redirecting = Receiver(Reply(302, b"", {"Location": "https://elsewhere.example/"}))
    talkative = Receiver(Reply(500, b"x" * 5000))
    try:
        moved = (await create(client, operator, url=redirecting.url)).json()
        loud = (await create(client, operator, url=talkative.url)).json()
        await one_order(runtime, make_member)
        await sweep(runtime)
        [attempt] = await attempts(client, operator, moved["id"])
        assert (attempt["status_code"], attempt["error"]) == (
            302,
            "redirect not followed (302 to https://elsewhere.example/)",
        )
        assert len(redirecting.requests) == 1
        [attempt] = await attempts(client, operator, loud["id"])
        assert (attempt["status_code"], attempt["response_body"]) == (500, "x" * 100)
    finally:
        redirecting.close()
        talkative.close()


async def test_a_named_host_is_sent_to_at_the_address_checked(
    client, runtime, make_member, operator, receiver, monkeypatch
):
    port = receiver.server.server_address[1]
    asked = []

    async def resolve(host, port):
        asked.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(addresses, "resolve", resolve)
    await create(client, operator, url=f"http://hooks.example.test:{port}/in")
    await one_order(runtime, make_member)
    await sweep(runtime)
    [request] = receiver.requests
    assert asked == ["hooks.example.test"]
    assert (request.headers["host"], request.path) == (f"hooks.example.test:{port}", "/in")


class TestPrivateAddresses:
    @pytest.fixture
    def site_config(self):
        return {}

    async def test_private_addresses_are_refused_when_registered(self, client, operator, problem):
        for url, reason in [
            ("http://hooks.example.com/in", "use an https:// URL"),
            ("https://127.0.0.1/in", "127.0.0.1 is a private, loopback or reserved address"),
            ("https://10.1.2.3/in", "10.1.2.3 is a private"),
            ("https://169.254.169.254/latest", "169.254.169.254 is a private"),
            ("https://[::1]:8443/in", "::1 is a private"),
            ("https://0.0.0.0/in", "0.0.0.0 is a private"),
            ("https://localhost/in", "localhost is this machine"),
            ("https://api.localhost/in", "api.localhost is this machine"),
        ]:
            body = problem(await create(client, operator, url=url), 422, "validation_error", fields={"url"})
            assert reason in body["errors"][0]["message"], body
        assert (await create(client, operator, url="https://93.184.215.14/in")).status_code == 201

    async def test_a_name_resolving_to_a_private_address_is_not_sent_to(
        self, client, runtime, make_member, operator, monkeypatch
    ):
        async def resolve(host, port):
            return ["93.184.215.14", "127.0.0.1"] if host == "hooks.example.com" else []

        monkeypatch.setattr(addresses, "resolve", resolve)
        endpoint = (await create(client, operator, url="https://hooks.example.com/in")).json()
        await one_order(runtime, make_member)
        await sweep(runtime)
        [attempt] = await attempts(client, operator, endpoint["id"])
        assert attempt["status_code"] is None
        assert attempt["error"] == (
            "hooks.example.com resolves to 127.0.0.1, a private, loopback or reserved address; not sent"
        )


async def test_https_goes_to_the_checked_address_with_the_hosts_name_in_tls(
    client, runtime, make_member, operator, monkeypatch, tmp_path
):
    import ssl
    from functools import partial

    import httpx
    from webhook_receiver import self_signed

    cert, key = self_signed("hooks.example.test", tmp_path)
    receiver = Receiver(tls=(cert, key))
    trusting = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(httpx, "AsyncClient", partial(httpx.AsyncClient, verify=trusting))

    async def resolve(host, port):
        return ["127.0.0.1"] if host == "hooks.example.test" else []

    monkeypatch.setattr(addresses, "resolve", resolve)
    try:
        # the certificate names hooks.example.test: TLS checks it against that name, not 127.0.0.1
        named = (await create(client, operator, url=f"https://hooks.example.test:{receiver.port}/in")).json()
        by_address = (await create(client, operator, url=receiver.url)).json()
        await one_order(runtime, make_member)
        await sweep(runtime)
        [request] = receiver.requests
        assert request.headers["host"] == f"hooks.example.test:{receiver.port}"
        assert (await attempts(client, operator, named["id"]))[0]["status_code"] == 200
        [refused] = await attempts(client, operator, by_address["id"])
        assert refused["status_code"] is None and "certificate" in refused["error"].lower()
    finally:
        receiver.close()


async def test_an_integration_token_reads_the_endpoints_with_webhooks_read_only(client, operator, receiver):
    endpoint = (await create(client, operator, url=receiver.url)).json()

    async def token(*scopes):
        body = {"name": "crm", "scopes": list(scopes)}
        made = await client.post("/operator/integration-tokens", json=body, headers=operator.headers)
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['token']}"}

    reader = await token("webhooks:read")
    listed = await client.get("/operator/webhooks", headers=reader)
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [endpoint["id"]]
    assert "secret" not in listed.json()["items"][0]
    one = await client.get(f"/operator/webhooks/{endpoint['id']}/deliveries", headers=reader)
    assert one.status_code == 200, one.text
    # reading only: changing an endpoint with the token is refused, and nothing changes
    patched = await client.patch(
        f"/operator/webhooks/{endpoint['id']}", json={"enabled": False}, headers=reader
    )
    assert patched.status_code == 401
    again = await client.get(f"/operator/webhooks/{endpoint['id']}", headers=operator.headers)
    assert again.json()["enabled"] is True
    # a token without the scope
    other = await client.get("/operator/webhooks", headers=await token("events:read"))
    assert (other.status_code, other.json()["code"], other.json()["extra"]) == (
        403,
        "scope_missing",
        {"scope": "webhooks:read"},
    )
