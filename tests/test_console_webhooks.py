"""The console's webhooks and integration tokens pages, over HTTP (both databases).

An operator adds a webhook endpoint through the page and reads its secret once, edits,
disables, rotates and deletes it; a URL or patterns the API refuses show the API's
reason and make nothing; an event's delivery to a local receiver is listed with its
attempts, and the replay buttons queue new deliveries of the same event; a failing
endpoint is reached from the home page's queue and resumed; integration tokens are made
(the token shown once) and revoked; members are refused.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from console_helpers import CONSOLE_SITE, Console, error_of, ok, signed_in, text_of
from webhook_receiver import Receiver, Reply

SECRET = re.compile(r"<code class=\"secret-value\" data-secret>(whsec_[A-Za-z0-9+/=]+)</code>")
TOKEN = re.compile(r"<code class=\"secret-value\" data-secret>(agk_[A-Za-z0-9_\-]+)</code>")
HOOK = "https://crm.example.com/hooks/agorakit"


@pytest.fixture
def site_config():
    return CONSOLE_SITE


@pytest.fixture
def receivers():
    """Start local receivers (``tests/webhook_receiver.py``); closed after the test."""
    started: list[Receiver] = []

    def start(*script: Reply, default: Reply | None = None) -> Receiver:
        started.append(Receiver(*script, default=default))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


async def add_endpoint(browser: Console, **fields: str) -> tuple[int, str]:
    """An endpoint added through the page: its id and the secret the page showed."""
    await browser.get("/console/webhooks")
    form = {"url": HOOK, "event_types": "member.*", "description": "", "enabled": "on", **fields}
    page = await browser.post("/console/webhooks", form)
    assert page.status_code == 200, error_of(page) or page.text
    (secret,) = SECRET.findall(page.text)
    found = re.search(r'href="/console/webhooks/(\d+)">Go to the endpoint', page.text)
    assert found, page.text
    return int(found.group(1)), secret


# -- endpoints -----------------------------------------------------------------------------


async def test_an_endpoint_is_added_with_its_secret_shown_once(client, make_operator):
    operator = await make_operator()
    browser = await signed_in(client, operator)
    async with browser:
        assert "No webhook endpoint matches." in text_of(await browser.get("/console/webhooks"))
        await browser.get("/console/webhooks")
        made = await browser.post(
            "/console/webhooks",
            {
                "url": HOOK,
                "event_types": "member.*,\nlisting.published",
                "description": "The CRM",
                "enabled": "on",
            },
        )
        assert made.status_code == 200
        (secret,) = SECRET.findall(made.text)
        assert "Copy the secret now: it is shown only this once." in text_of(made)
        endpoint_id = int(re.search(r'href="/console/webhooks/(\d+)">Go to the endpoint', made.text).group(1))
        api = await ok(await client.get(f"/operator/webhooks/{endpoint_id}", headers=operator.headers))
        assert (api["url"], api["event_types"], api["description"]) == (
            HOOK,
            ["member.*", "listing.published"],
            "The CRM",
        )
        assert (api["enabled"], api["status"]) == (True, "active")
        assert "secret" not in api
        # never again: not on the list, not on the endpoint's page
        listed = await browser.get("/console/webhooks")
        assert secret not in listed.text
        assert f"#{endpoint_id} {HOOK} The CRM member.* , listing.published active yes 0 0 never" in text_of(
            listed
        )
        page = await browser.get(f"/console/webhooks/{endpoint_id}")
        assert secret not in page.text
        assert "No delivery matches." in text_of(page)


async def test_an_endpoint_is_edited_disabled_rotated_and_deleted(client, make_operator):
    operator = await make_operator()
    async with await signed_in(client, operator) as browser:
        endpoint_id, secret = await add_endpoint(browser)
        base = f"/console/webhooks/{endpoint_id}"
        await browser.get(base)
        saved = await browser.post(
            f"{base}/edit",
            {"url": "https://erp.example.com/in", "event_types": "member.registered", "description": "ERP"},
        )
        assert saved.headers["location"] == base
        assert f"Endpoint #{endpoint_id} saved." in text_of(await browser.get(base))
        api = await ok(await client.get(f"/operator/webhooks/{endpoint_id}", headers=operator.headers))
        assert (api["url"], api["event_types"], api["description"], api["enabled"], api["status"]) == (
            "https://erp.example.com/in",
            ["member.registered"],
            "ERP",
            False,
            "disabled",
        )
        assert "disabled" in text_of(await browser.get("/console/webhooks", status="disabled"))

        # a refused edit shows the API's reason and changes nothing
        refused = await browser.post(
            f"{base}/edit",
            {"url": "ftp://erp.example.com/in", "event_types": "member.registered", "enabled": "on"},
        )
        assert refused.headers["location"] == base
        assert error_of(await browser.get(base)) == "url: use a https:// URL"
        api = await ok(await client.get(f"/operator/webhooks/{endpoint_id}", headers=operator.headers))
        assert (api["url"], api["enabled"]) == ("https://erp.example.com/in", False)

        rotated = await browser.post(f"{base}/rotate-secret", {})
        assert rotated.status_code == 200
        (new_secret,) = SECRET.findall(rotated.text)
        assert new_secret != secret
        assert "The previous secret still signs each request" in text_of(rotated)

        confirm = await browser.get(f"{base}/delete")
        assert f"Delete webhook endpoint #{endpoint_id}?" in text_of(confirm)
        deleted = await browser.post(f"{base}/delete", {})
        assert deleted.headers["location"] == "/console/webhooks"
        assert f"Endpoint #{endpoint_id} deleted" in text_of(await browser.get("/console/webhooks"))
        gone = await client.get(f"/operator/webhooks/{endpoint_id}", headers=operator.headers)
        assert gone.status_code == 404
        missing = await browser.get(base)
        assert missing.status_code == 404 and "Not found" in text_of(missing)


async def test_a_refused_endpoint_shows_the_api_reason_and_is_not_made(client, make_operator):
    operator = await make_operator()
    async with await signed_in(client, operator) as browser:
        await browser.get("/console/webhooks")
        private = await browser.post(
            "/console/webhooks", {"url": "https://10.0.0.7/hook", "event_types": "member.*", "enabled": "on"}
        )
        assert private.status_code == 303 and private.headers["location"] == "/console/webhooks"
        assert "10.0.0.7 is a private, loopback or reserved address" in error_of(
            await browser.get("/console/webhooks")
        )
        nothing = await browser.post(
            "/console/webhooks", {"url": HOOK, "event_types": "nothing.like.this", "enabled": "on"}
        )
        assert nothing.status_code == 303
        assert "event_types" in error_of(await browser.get("/console/webhooks"))
        listed = await ok(await client.get("/operator/webhooks", headers=operator.headers))
        assert listed["items"] == []


# -- deliveries (a local receiver: private addresses allowed) -------------------------------


class TestDeliveries:
    @pytest.fixture
    def site_config(self):
        #: one retry a minute after the first attempt, then the endpoint is failing
        webhooks = {"allow_private_addresses": True, "retry_schedule_seconds": [60]}
        return {**CONSOLE_SITE, "webhooks": webhooks}

    async def test_deliveries_are_listed_with_their_attempts_and_replayed(
        self, client, clock, make_operator, make_member, run_worker, receivers
    ):
        operator = await make_operator()
        receiver = receivers(Reply(500, b"down for maintenance"), default=Reply(200, b"thanks"))
        async with await signed_in(client, operator) as browser:
            endpoint_id, _ = await add_endpoint(browser, url=receiver.url, event_types="member.registered")
            base = f"/console/webhooks/{endpoint_id}"
            started = clock.now()
            ada = await make_member()
            await run_worker()
            assert len(receiver.requests) == 1
            pending = text_of(await browser.get(base))
            assert "Pending deliveries 1 Failed deliveries 0 Last delivery never" in pending
            (first,) = (
                await ok(
                    await client.get(f"/operator/webhooks/{endpoint_id}/deliveries", headers=operator.headers)
                )
            )["items"]
            retry_at = started + timedelta(seconds=60)
            assert (first["status"], first["attempts"], first["last_status_code"]) == ("pending", 1, 500)
            assert f"#{first['id']}" in pending and "member.registered" in pending
            assert "pending 1 HTTP 500" in pending
            await run_worker(at=retry_at)
            assert len(receiver.requests) == 2
            assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
            shown = text_of(await browser.get(base))
            assert "Pending deliveries 0 Failed deliveries 0" in shown
            assert f"#{first['id']}" in shown and "delivered" in shown and "HTTP 200" in shown
            assert "No delivery matches." in text_of(await browser.get(base, status="failed"))
            # a status the API does not know: its reason, no rows
            for path in (base, "/console/webhooks"):
                bogus = await browser.get(path, status="lost")
                assert bogus.status_code == 200
                assert error_of(bogus) == "status: Invalid enum value &#39;lost&#39;"

            # its attempts: status codes, errors and the start of what came back
            page = text_of(await browser.get(f"{base}/deliveries/{first['id']}"))
            assert f"Delivery #{first['id']}: member.registered" in page
            assert "500" in page and "down for maintenance" in page
            assert "200" in page and "thanks" in page
            assert page.index("down for maintenance") < page.index("thanks")  # oldest first

            # replay: a new delivery of the same event, with the same webhook-id
            await browser.get(f"{base}/deliveries/{first['id']}")
            replayed = await browser.post(f"{base}/deliveries/{first['id']}/replay", {})
            again = int(replayed.headers["location"].rsplit("/", 1)[1])
            assert again != first["id"]
            assert f"queued again as delivery #{again}" in text_of(
                await browser.get(replayed.headers["location"])
            )
            await run_worker()
            assert len(receiver.requests) == 3
            assert receiver.requests[2].headers["webhook-id"] == receiver.requests[0].headers["webhook-id"]
            assert receiver.requests[2].json()["data"]["member_id"] == ada.id

            # a range replay: the events from a time to another, counted
            await browser.get(base)
            window = {
                "from": (started - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                "to": (started + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            }
            ranged = await browser.post(f"{base}/replay", window)
            assert ranged.headers["location"] == base
            # the operator's registration and Ada's (the range's events, older ones included)
            shown = text_of(await browser.get(base))
            assert f"2 deliveries queued again for endpoint #{endpoint_id}." in shown
            backwards = await browser.post(f"{base}/replay", {"from": window["to"], "to": window["from"]})
            assert backwards.headers["location"] == base
            assert error_of(await browser.get(base))
            await run_worker()
            assert len(receiver.requests) == 5
            assert receiver.requests[3].json()["data"]["member_id"] == operator.id
            listed = await ok(
                await client.get(f"/operator/webhooks/{endpoint_id}/deliveries", headers=operator.headers)
            )
            assert [d["status"] for d in listed["items"]] == ["delivered"] * 4

            # a delivery of another endpoint is not this one's
            other_id, _ = await add_endpoint(browser, url=receiver.url)
            missing = await browser.get(f"/console/webhooks/{other_id}/deliveries/{first['id']}")
            assert missing.status_code == 404

    async def test_a_failing_endpoint_is_found_from_the_home_page_and_resumed(
        self, client, clock, make_operator, make_member, run_worker, receivers
    ):
        operator = await make_operator()
        receiver = receivers(default=Reply(503, b"gone fishing"))
        async with await signed_in(client, operator) as browser:
            endpoint_id, _ = await add_endpoint(browser, url=receiver.url, event_types="member.registered")
            base = f"/console/webhooks/{endpoint_id}"
            await make_member()
            await run_worker()
            await run_worker(at=clock.now() + timedelta(seconds=61))
            assert len(receiver.requests) == 2
            home = await browser.get("/console")
            assert 'href="/console/webhooks?status=failing">Webhook endpoints failing</a>' in home.text
            failing = text_of(await browser.get("/console/webhooks", status="failing"))
            assert f"#{endpoint_id} {receiver.url}" in failing and "failing" in failing
            page = text_of(await browser.get(base))
            assert "Resume sending" in page and "Failed deliveries 1" in page
            # a later event waits while it is failing
            await make_member()
            await run_worker(at=clock.now() + timedelta(minutes=5))
            assert len(receiver.requests) == 2
            receiver.default = Reply(200, b"back")
            resumed = await browser.post(f"{base}/resume", {})
            assert resumed.headers["location"] == base
            page = text_of(await browser.get(base))
            assert f"Endpoint #{endpoint_id} is active again" in page and "Resume sending" not in page
            await run_worker()
            assert len(receiver.requests) == 3
            api = await ok(await client.get(f"/operator/webhooks/{endpoint_id}", headers=operator.headers))
            assert (api["status"], api["pending"], api["failed"]) == ("active", 0, 1)


# -- integration tokens ----------------------------------------------------------------------


async def test_a_token_is_made_shown_once_and_revoked(client, make_operator):
    operator = await make_operator()
    async with await signed_in(client, operator) as browser:
        page = await browser.get("/console/integration-tokens")
        assert "No integration token yet." in text_of(page)
        assert 'name="scopes" type="checkbox" value="events:read"' in page.text
        assert 'name="scopes" type="checkbox" value="webhooks:read"' in page.text
        made = await browser.post(
            "/console/integration-tokens",
            {"name": "CRM sync", "scopes": ["events:read", "webhooks:read"], "expires_at": ""},
        )
        assert made.status_code == 200, error_of(made)
        (token,) = TOKEN.findall(made.text)
        assert "Copy the token now: it is shown only this once" in text_of(made)
        token_id = int(re.search(r"Integration token #(\d+)", text_of(made)).group(1))
        # it works for what its scopes allow
        feed = await client.get("/events", headers={"authorization": f"Bearer {token}"})
        assert feed.status_code == 200, feed.text
        listed = await browser.get("/console/integration-tokens")
        assert token not in listed.text
        assert f"#{token_id} CRM sync {token[:8]}" in text_of(listed)
        assert "events:read , webhooks:read" in text_of(listed)

        confirm = await browser.get(f"/console/integration-tokens/{token_id}/revoke")
        assert f"Revoke integration token #{token_id} “CRM sync”?" in text_of(confirm)
        revoked = await browser.post(f"/console/integration-tokens/{token_id}/revoke", {})
        assert revoked.headers["location"] == "/console/integration-tokens"
        after = text_of(await browser.get("/console/integration-tokens"))
        assert f"Integration token #{token_id} revoked" in after and "revoked" in after
        refused = await client.get("/events", headers={"authorization": f"Bearer {token}"})
        assert refused.status_code == 401


async def test_a_refused_token_shows_the_api_reason_and_is_not_made(client, make_operator):
    operator = await make_operator()
    async with await signed_in(client, operator) as browser:
        await browser.get("/console/integration-tokens")
        no_scope = await browser.post("/console/integration-tokens", {"name": "CRM sync"})
        assert no_scope.headers["location"] == "/console/integration-tokens"
        assert "scopes" in error_of(await browser.get("/console/integration-tokens"))
        past = await browser.post(
            "/console/integration-tokens",
            {"name": "CRM sync", "scopes": "events:read", "expires_at": "2001-01-01T00:00"},
        )
        assert past.status_code == 303
        assert "expires_at" in error_of(await browser.get("/console/integration-tokens"))
        listed = await ok(await client.get("/operator/integration-tokens", headers=operator.headers))
        assert listed["items"] == []


# -- access ---------------------------------------------------------------------------------


async def test_members_are_refused(client, make_member):
    member = await make_member()
    async with Console(client) as browser:
        answer = await browser.sign_in(member.member.email, member.password)
        assert answer.status_code == 403
        for path in ("/console/webhooks", "/console/webhooks/1", "/console/integration-tokens"):
            page = await browser.get(path)
            assert page.status_code == 303 and page.headers["location"].startswith("/console/sign-in")
        posted = await browser.post("/console/webhooks", {"url": HOOK, "event_types": "*"})
        assert posted.status_code == 303 and posted.headers["location"] == "/console/sign-in"
    listed = await client.get("/operator/webhooks", headers=member.headers)
    assert listed.status_code == 403
