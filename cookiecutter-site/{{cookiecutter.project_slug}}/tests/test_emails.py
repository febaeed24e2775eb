"""templates/notifications/: this site's emails are the ones members get."""

from __future__ import annotations

import pytest
from agorakit import hookimpl
from agorakit.testing import deep_merge
from markupsafe import escape


class Outbox:
    """A mailer that keeps what it is given (``[email] mailer = "outbox"``)."""

    name = "outbox"

    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, message) -> None:
        self.sent.append(message)

    @hookimpl
    def agorakit_mailers(self):
        return [self]


@pytest.fixture
def outbox():
    return Outbox()


@pytest.fixture
def extra_plugins(outbox):
    return [("outbox", outbox)]


@pytest.fixture
def site_config(site_config):
    return deep_merge(site_config, {"email": {"mailer": "outbox"}})


async def test_a_new_member_gets_the_site_s_welcome_email(client, site_config, outbox, run_worker):
    site = site_config["site"]["name"]
    body = {
        "email": "ada@example.com",
        "password": "correct-horse-battery-staple-42",
        "display_name": "Ada",
        "country": "GB",
    }
    registered = await client.post("/auth/register", json=body)
    assert registered.status_code == 202, registered.text
    login = await client.post("/auth/login", json={"email": body["email"], "password": body["password"]})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    (welcome,) = (await client.get("/notifications", headers=headers)).json()["items"]
    assert welcome["template"] == "member_welcome"
    assert welcome["title"] == f"Welcome to {site}, Ada!"
    assert welcome["body"].startswith(f"Hello Ada,\n\nYour {site} account is ready.")

    await run_worker()
    (email,) = [m for m in outbox.sent if m.subject == f"Welcome to {site}, Ada!"]
    assert email.to == "ada@example.com"
    assert f"Your {site} account is ready." in email.text
    assert "You can turn these emails off in your notification settings." in email.text
    assert '<div style="background: #0f766e;' in email.html
    assert f">Visit {escape(site)}</a>" in email.html
