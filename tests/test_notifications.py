"""Notifications: events → inbox notifications → emails through the outbox and a real SMTP
server (aiosmtpd), retries with backoff, preferences, templates, the hooks, operator views,
and the event outbox behind them."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from event_helpers import make_event
from test_orders import TestGigPlugin as GigPlugin
from test_orders import fire_path, fund_credit, new_order

from agorakit import hookimpl
from agorakit.events import outbox as event_outbox
from agorakit.events.tables import StoredEvent
from agorakit.notifications import CATEGORIES, Notice
from agorakit.notifications.mailers import EmailMessage, mailer_for
from agorakit.notifications.outbox import deliver_emails
from agorakit.notifications.tables import EmailOutbox, Notification
from agorakit.settings import ConfigError
from agorakit.testing import TEST_EPOCH
from agorakit.worker import sweep

# --------------------------------------------------------------------------------------
# A real SMTP server
# --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages() if m["To"] == address]


class SmtpServer:
    """An aiosmtpd server on a free port that a test can stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


SITE = {"name": "Test Market", "base_url": "https://market.example"}


@pytest.fixture
def site_config(smtp):
    return {
        "site": SITE,
        "email": {
            "mailer": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp.port,
            "from_address": "hello@market.example",
            "timeout_seconds": 5.0,
        },
    }


@pytest.fixture
def extra_plugins():
    return [("testgig", GigPlugin())]


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


async def inbox(client, member, **params) -> list[dict]:
    response = await client.get("/notifications", params=params, headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def templates(items: list[dict]) -> list[str]:
    return [item["template"] for item in items]


async def paid_order(client, runtime, buyer, seller):
    """An order the buyer created and paid: the seller hears of both."""
    await fund_credit(runtime, buyer.id)
    order = await new_order(runtime, buyer, seller)
    paid = await client.post(fire_path(order.id, "pay"), headers=buyer.headers)
    assert paid.status_code == 200, paid.text
    return order


async def outbox_rows(**where) -> list[dict]:
    rows = await EmailOutbox.select().order_by(EmailOutbox.id)
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


# --------------------------------------------------------------------------------------
# From an order transition to an email received by an SMTP server
# --------------------------------------------------------------------------------------


async def test_order_transition_notifies_the_other_party_and_emails_them(client, runtime, make_member, smtp):
    buyer, seller = await make_member(), await make_member(display_name="Sam <Seller>")
    order = await paid_order(client, runtime, buyer, seller)

    seller_items = await inbox(client, seller)
    assert templates(seller_items) == ["order_transitioned", "order_created", "member_welcome"]
    moved = seller_items[0]
    assert moved["title"] == f"Order #{order.id} is now in progress"
    assert moved["category"] == "orders"
    assert moved["link"] == f"/orders/{order.id}"
    assert moved["read"] is False and moved["read_at"] is None
    assert "it was awaiting payment" in moved["body"]
    assert "What happened: pay (by the buyer)." in moved["body"]
    assert f"https://market.example/orders/{order.id}" in moved["body"]
    # The buyer caused both events: only their welcome.
    assert templates(await inbox(client, buyer)) == ["member_welcome"]

    assert smtp.mailbox.envelopes == []  # nothing is sent before the worker runs
    report = await sweep(runtime)
    assert len(report.emails_sent) == 4 and report.emails_retried == report.emails_failed == []
    assert {r["status"] for r in await outbox_rows()} == {"sent"}

    received = smtp.mailbox.to(seller.member.email)
    assert [m["Subject"] for m in received] == [
        "Welcome to Test Market",
        f"New order #{order.id} from {buyer.member.display_name}",
        f"Order #{order.id} is now in progress",
    ]
    message = received[-1]
    envelope = smtp.mailbox.envelopes[-1]
    assert envelope.rcpt_tos == [seller.member.email]
    assert envelope.mail_from == "hello@market.example"
    assert message["From"] == "Test Market <hello@market.example>"
    row = (await outbox_rows(to_address=seller.member.email))[-1]
    assert message["Message-ID"] == row["message_id"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    text = plain(message)
    assert text.startswith("Hello Sam <Seller>,")
    assert f"See the order: https://market.example/orders/{order.id}" in text
    assert "You can turn these emails off" in text
    body = html(message)
    assert "<p>Hello Sam &lt;Seller&gt;,</p>" in body  # escaped in HTML only
    assert f'<a href="https://market.example/orders/{order.id}"' in body

    assert (await sweep(runtime)).emails_sent == []  # each email once


async def test_email_opt_out_keeps_the_inbox_notification(client, runtime, make_member, smtp):
    buyer, seller = await make_member(), await make_member()
    settings = await client.get("/me/notification-settings", headers=seller.headers)
    assert settings.json() == {"email": dict.fromkeys(CATEGORIES, True)}
    changed = await client.put(
        "/me/notification-settings", json={"email": {"orders": False}}, headers=seller.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == {**dict.fromkeys(CATEGORIES, True), "orders": False}
    # Setting again (an upsert) and another category keep the first choice.
    again = await client.put(
        "/me/notification-settings", json={"email": {"money": False, "orders": False}}, headers=seller.headers
    )
    assert again.json()["email"] == {**dict.fromkeys(CATEGORIES, True), "orders": False, "money": False}

    order = await paid_order(client, runtime, buyer, seller)
    assert templates(await inbox(client, seller)) == ["order_transitioned", "order_created", "member_welcome"]
    await sweep(runtime)
    assert [m["Subject"] for m in smtp.mailbox.to(seller.member.email)] == ["Welcome to Test Market"]
    assert await EmailOutbox.count().where(EmailOutbox.member_id == seller.id) == 1

    on_again = await client.put(
        "/me/notification-settings", json={"email": {"orders": True}}, headers=seller.headers
    )
    assert on_again.json()["email"]["orders"] is True
    await client.post(f"/orders/{order.id}/proofs", json={"text": "done"}, headers=seller.headers)
    await client.post(fire_path(order.id, "accept"), headers=buyer.headers)
    await sweep(runtime)
    assert smtp.mailbox.to(seller.member.email)[-1]["Subject"] == f"Order #{order.id} is now completed"


async def test_bad_notification_settings_get_422_and_change_nothing(client, make_member, problem):
    member = await make_member()
    url = "/me/notification-settings"
    problem(
        await client.put(url, json={"email": {"telepathy": False, "orders": False}}, headers=member.headers),
        422,
        "validation_error",
        fields={"email.telepathy"},
    )
    problem(
        await client.put(url, json={"email": {"orders": "no"}}, headers=member.headers),
        422,
        "validation_error",
    )
    problem(await client.put(url, json={}, headers=member.headers), 422, "validation_error")
    problem(
        await client.put(url, json={"email": {}, "sms": {}}, headers=member.headers), 422, "validation_error"
    )
    assert (await client.get(url, headers=member.headers)).json()["email"] == dict.fromkeys(CATEGORIES, True)


# --------------------------------------------------------------------------------------
# Retries: SMTP down, backoff, giving up, operators
# --------------------------------------------------------------------------------------


async def test_smtp_down_retries_with_backoff_and_delivers_once_when_back(
    client, runtime, make_member, smtp, clock
):
    member = await make_member()
    smtp.stop()
    [row] = await outbox_rows()
    assert (row["status"], row["attempts"], row["next_attempt_at"]) == ("pending", 0, TEST_EPOCH)

    first = await sweep(runtime)
    assert (first.emails_sent, first.emails_retried) == ([], [row["id"]])
    [row] = await outbox_rows()
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["next_attempt_at"] == TEST_EPOCH + timedelta(seconds=60)  # retry_base_seconds
    assert row["last_error"]

    assert (await sweep(runtime)).emails_retried == []  # not due yet
    clock.advance(seconds=60)
    assert (await sweep(runtime)).emails_retried == [row["id"]]
    [row] = await outbox_rows()
    assert row["attempts"] == 2
    assert row["next_attempt_at"] == TEST_EPOCH + timedelta(seconds=60 + 120)  # doubled
    clock.advance(seconds=120)
    await sweep(runtime)
    [row] = await outbox_rows()
    assert row["next_attempt_at"] == TEST_EPOCH + timedelta(seconds=60 + 120 + 240)

    smtp.start()
    clock.advance(seconds=239)
    assert (await sweep(runtime)).emails_sent == []  # one second early
    clock.advance(seconds=1)
    assert (await sweep(runtime)).emails_sent == [row["id"]]
    [row] = await outbox_rows()
    assert (row["status"], row["attempts"], row["sent_at"]) == ("sent", 3, clock.now())
    assert [m["Subject"] for m in smtp.mailbox.to(member.member.email)] == ["Welcome to Test Market"]
    clock.advance(hours=2)
    assert (await sweep(runtime)).emails_sent == []


class TestGivingUp:
    @pytest.fixture
    def site_config(self, smtp):
        return {
            "site": SITE,
            "email": {
                "mailer": "smtp",
                "smtp_port": smtp.port,
                "max_attempts": 3,
                "retry_base_seconds": 600,
                "retry_max_seconds": 900,
            },
        }

    async def test_email_failing_every_attempt_is_failed_and_an_operator_retries_it(
        self, client, runtime, make_member, smtp, clock, problem
    ):
        member = await make_member()
        operator = await make_member(role="operator")
        smtp.stop()
        ids = [r["id"] for r in await outbox_rows(member_id=member.id)]
        assert (await sweep(runtime)).emails_retried == [r["id"] for r in await outbox_rows()]
        clock.advance(seconds=600)
        await sweep(runtime)
        assert (await outbox_rows(member_id=member.id))[0]["next_attempt_at"] == clock.now() + timedelta(
            seconds=900
        )  # 1200 capped at retry_max_seconds
        clock.advance(seconds=900)
        last = await sweep(runtime)
        assert ids[0] in last.emails_failed and last.emails_retried == []
        clock.advance(days=1)
        assert (await sweep(runtime)).emails_failed == []  # given up: not tried again

        listed = await client.get("/operator/emails", params={"status": "failed"}, headers=operator.headers)
        assert listed.status_code == 200, listed.text
        failed = {item["id"]: item for item in listed.json()["items"]}
        assert set(failed) == {r["id"] for r in await outbox_rows()}
        item = failed[ids[0]]
        assert (item["status"], item["attempts"], item["to_address"]) == ("failed", 3, member.member.email)
        assert item["last_error"] and item["sent_at"] is None
        assert (
            await client.get("/operator/emails", params={"status": "sent"}, headers=operator.headers)
        ).json()["items"] == []
        problem(await client.get("/operator/emails", headers=member.headers), 403, "forbidden")
        problem(
            await client.get("/operator/emails", params={"status": "lost"}, headers=operator.headers),
            422,
            "validation_error",
        )

        retried = await client.post(f"/operator/emails/{ids[0]}/retry", headers=operator.headers)
        assert retried.status_code == 200, retried.text
        assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
        assert retried.json()["next_attempt_at"] == clock.now().isoformat().replace("+00:00", "Z")
        problem(
            await client.post(f"/operator/emails/{ids[0]}/retry", headers=operator.headers), 409, "conflict"
        )
        problem(
            await client.post("/operator/emails/999999/retry", headers=operator.headers), 404, "not_found"
        )
        problem(
            await client.post(f"/operator/emails/{ids[0]}/retry", headers=member.headers), 403, "forbidden"
        )

        smtp.start()
        assert (await sweep(runtime)).emails_sent == [ids[0]]
        assert [m["Subject"] for m in smtp.mailbox.to(member.member.email)] == ["Welcome to Test Market"]
        problem(
            await client.post(f"/operator/emails/{ids[0]}/retry", headers=operator.headers), 409, "conflict"
        )

    async def test_email_left_sending_by_a_dead_worker_is_taken_again(
        self, runtime, make_member, smtp, clock
    ):
        member = await make_member()
        [row] = await outbox_rows(member_id=member.id)
        await EmailOutbox.update({EmailOutbox.status: "sending", EmailOutbox.claimed_at: clock.now()}).where(
            EmailOutbox.id == row["id"]
        )
        assert (await deliver_emails(runtime)).sent == []
        clock.advance(minutes=10)
        assert (await deliver_emails(runtime)).sent == [row["id"]]
        assert len(smtp.mailbox.to(member.member.email)) == 1


# --------------------------------------------------------------------------------------
# At least once, never twice
# --------------------------------------------------------------------------------------


async def test_event_delivered_twice_notifies_once(client, runtime, make_member, smtp):
    buyer, seller = await make_member(), await make_member()
    await paid_order(client, runtime, buyer, seller)
    [stored] = await StoredEvent.select().where(StoredEvent.name == "order.transitioned")
    event = event_outbox._to_event(runtime, stored)
    before = (await Notification.count(), await EmailOutbox.count())
    assert await event_outbox.deliver(runtime, event) == []
    assert await event_outbox.deliver(runtime, event) == []
    assert (await Notification.count(), await EmailOutbox.count()) == before
    await sweep(runtime)
    assert [m["Subject"] for m in smtp.mailbox.to(seller.member.email)].count(
        f"Order #{stored['subject'].split(':')[1]} is now in progress"
    ) == 1


@pytest.mark.postgres_only("proves FOR UPDATE SKIP LOCKED under concurrency on PostgreSQL")
async def test_concurrent_deliveries_send_each_email_once(runtime, make_member, smtp):
    members = [await make_member() for _ in range(12)]
    reports = await asyncio.gather(*(deliver_emails(runtime, limit=5) for _ in range(4)))
    reports += await asyncio.gather(*(deliver_emails(runtime) for _ in range(2)))
    sent = [email_id for report in reports for email_id in report.sent]
    assert len(sent) == len(set(sent)) == 12
    assert sorted(e.rcpt_tos[0] for e in smtp.mailbox.envelopes) == sorted(m.member.email for m in members)


# --------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------


def write_template(folder: Path, name: str, body: str) -> Path:
    path = folder / "notifications" / f"{name}.jinja2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return folder


class TestSiteTemplates:
    @pytest.fixture
    def site_config(self, smtp, tmp_path):
        folder = write_template(
            tmp_path / "site-templates",
            "order_transitioned",
            '{% extends "notifications/_base.jinja2" %}\n'
            "{% block subject %}[{{ site.name }}] #{{ order_id }} → {{ to_state_label }}{% endblock %}\n"
            "{% block text %}Dear {{ member.display_name }}: {{ what }}.{% endblock %}\n"
            "{% block html %}<h1>{{ member.display_name }}</h1>{% endblock %}\n",
        )
        return {
            "site": SITE,
            "email": {"mailer": "smtp", "smtp_port": smtp.port, "templates_dir": str(folder)},
        }

    async def test_site_template_overrides_the_shipped_one(self, client, runtime, make_member, smtp):
        buyer, seller = await make_member(), await make_member(display_name="Ann & Co")
        order = await paid_order(client, runtime, buyer, seller)
        [item] = [i for i in await inbox(client, seller) if i["template"] == "order_transitioned"]
        assert (item["title"], item["body"]) == (
            f"[Test Market] #{order.id} → in progress",
            "Dear Ann & Co: pay.",
        )
        await sweep(runtime)
        message = smtp.mailbox.to(seller.member.email)[-1]
        assert message["Subject"] == f"[Test Market] #{order.id} → in progress"
        assert plain(message).startswith("Dear Ann & Co: pay.")
        assert html(message).strip() == "<h1>Ann &amp; Co</h1>"  # the site's own html block
        # Templates the site did not override still come from the core.
        assert smtp.mailbox.to(seller.member.email)[0]["Subject"] == "Welcome to Test Market"


class MissingTemplatePlugin:
    @hookimpl
    def agorakit_notify(self, event):
        if event.name == "sample.parcel_lost":
            return [Notice(member_id=event.data["recipient"], category="orders", template="sample_no_such")]
        if event.name == "sample.parcel_gossip":
            return [Notice(member_id=event.data["recipient"], category="gossip", template="member_welcome")]
        return None


class TestMissingTemplate:
    @pytest.fixture
    def extra_plugins(self):
        return [("missing", MissingTemplatePlugin())]

    async def test_missing_template_is_logged_and_the_event_retried(
        self, client, runtime, make_member, caplog
    ):
        member = await make_member()
        with caplog.at_level(logging.ERROR, logger="agorakit"):
            async with runtime.unit_of_work() as uow:
                uow.record(make_event("sample.parcel_lost", recipient=member.id), subject="parcel:9")
        assert "'notifications/sample_no_such.jinja2' not found" in caplog.text
        [event] = await StoredEvent.select().where(StoredEvent.name == "sample.parcel_lost")
        assert (event["status"], event["attempts"]) == ("pending", 1)
        assert "template sample_no_such" in event["last_error"]
        assert templates(await inbox(client, member)) == ["member_welcome"]

    async def test_notice_with_an_unknown_category_is_an_error_of_its_plugin(
        self, client, runtime, make_member, caplog
    ):
        member = await make_member()
        with caplog.at_level(logging.ERROR, logger="agorakit"):
            async with runtime.unit_of_work() as uow:
                uow.record(make_event("sample.parcel_gossip", recipient=member.id), subject="parcel:10")
        assert "plugin missing failed in agorakit_notify" in caplog.text
        [event] = await StoredEvent.select().where(StoredEvent.name == "sample.parcel_gossip")
        assert (event["status"], event["attempts"]) == ("pending", 1)
        assert "missing: ValueError: notice category 'gossip' is not one of" in event["last_error"]
        assert templates(await inbox(client, member)) == ["member_welcome"]


# --------------------------------------------------------------------------------------
# The hooks
# --------------------------------------------------------------------------------------


class ParcelPlugin:
    """Notifies about its own event, ships a template, and words one core event its own way."""

    def __init__(self, folder: Path) -> None:
        self.folder = write_template(
            folder,
            "sample_parcel_shipped",
            '{% extends "notifications/_base.jinja2" %}\n'
            "{% block subject %}Parcel {{ parcel }} is on its way{% endblock %}\n"
            "{% block text %}Hi {{ member.display_name }}, parcel {{ parcel }} left. Track it: {{ link }}"
            "{% endblock %}\n",
        )
        write_template(
            folder,
            "sample_order_paid",
            '{% extends "notifications/_base.jinja2" %}\n'
            "{% block subject %}Start working on order {{ order }}{% endblock %}\n"
            "{% block text %}The buyer paid.{% endblock %}\n",
        )

    @hookimpl
    def agorakit_template_dirs(self):
        return [self.folder]

    @hookimpl
    async def agorakit_notify(self, event, runtime):
        if event.name == "sample.parcel_shipped":
            return [
                Notice(
                    member_id=event.data["recipient"],
                    category="orders",
                    template="sample_parcel_shipped",
                    context={"parcel": event.data["parcel"]},
                    link=f"/parcels/{event.data['parcel']}",
                )
            ]
        if event.name == "order.transitioned" and event.data["transition"] == "pay":
            from agorakit.orders.tables import Order

            order = await Order.select().where(Order.id == int(event.subject.split(":")[1])).first()
            return [
                Notice(
                    member_id=order["seller_id"],
                    category="orders",
                    template="sample_order_paid",
                    context={"order": order["id"]},
                )
            ]
        return None


class TestNotifyHooks:
    @pytest.fixture
    def extra_plugins(self, tmp_path):
        return [("testgig", GigPlugin()), ("parcels", ParcelPlugin(tmp_path / "parcel-templates"))]

    async def test_hook_agorakit_notify(self, client, runtime, make_member, smtp):
        member = await make_member(display_name="Pat")
        async with runtime.unit_of_work() as uow:
            uow.record(
                make_event("sample.parcel_shipped", recipient=member.id, parcel="PX-7"), subject="parcel:7"
            )
        [item, _welcome] = await inbox(client, member)
        assert (item["template"], item["category"], item["title"], item["link"]) == (
            "sample_parcel_shipped",
            "orders",
            "Parcel PX-7 is on its way",
            "/parcels/PX-7",
        )
        assert item["body"] == "Hi Pat, parcel PX-7 left. Track it: https://market.example/parcels/PX-7"
        await sweep(runtime)
        assert smtp.mailbox.to(member.member.email)[-1]["Subject"] == "Parcel PX-7 is on its way"

    async def test_plugin_notice_replaces_the_core_generic_one_for_that_member(
        self, client, runtime, make_member
    ):
        buyer, seller = await make_member(), await make_member()
        order = await paid_order(client, runtime, buyer, seller)
        assert templates(await inbox(client, seller)) == [
            "sample_order_paid",
            "order_created",
            "member_welcome",
        ]
        assert (await inbox(client, seller))[0]["title"] == f"Start working on order {order.id}"

    async def test_hook_agorakit_template_dirs(self, client, runtime, make_member, tmp_path):
        # The plugin's folder serves its own templates (above) and can override a core one.
        write_template(
            tmp_path / "parcel-templates",
            "member_welcome",
            '{% extends "notifications/_base.jinja2" %}{% block subject %}Hello from the parcels plugin'
            "{% endblock %}{% block text %}Hi.{% endblock %}",
        )
        member = await make_member()
        [item] = await inbox(client, member)
        assert (item["template"], item["title"]) == ("member_welcome", "Hello from the parcels plugin")


class TestSiteBeatsPluginTemplates:
    @pytest.fixture
    def extra_plugins(self, tmp_path):
        return [("parcels", ParcelPlugin(tmp_path / "parcel-templates"))]

    @pytest.fixture
    def site_config(self, smtp, tmp_path):
        folder = write_template(
            tmp_path / "site",
            "sample_parcel_shipped",
            '{% extends "notifications/_base.jinja2" %}{% block subject %}Site: {{ parcel }}{% endblock %}'
            "{% block text %}Shipped.{% endblock %}",
        )
        return {
            "site": SITE,
            "email": {"mailer": "smtp", "smtp_port": smtp.port, "templates_dir": str(folder)},
        }

    async def test_site_folder_comes_before_plugin_folders(self, client, runtime, make_member):
        member = await make_member()
        async with runtime.unit_of_work() as uow:
            uow.record(
                make_event("sample.parcel_shipped", recipient=member.id, parcel="PX-8"), subject="parcel:8"
            )
        assert (await inbox(client, member))[0]["title"] == "Site: PX-8"


class MemoryMailer:
    """Keeps what it is asked to send; bound to the site like a real transport would be."""

    name = "memory"

    def __init__(self, sent: list | None = None, site: str | None = None) -> None:
        self.sent: list[EmailMessage] = [] if sent is None else sent
        self.site = site

    def bind(self, runtime):
        return MemoryMailer(self.sent, runtime.settings.site.name)

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


class MailerPlugin:
    def __init__(self) -> None:
        self.mailer = MemoryMailer()

    @hookimpl
    def agorakit_mailers(self):
        return [self.mailer]


class TestMailers:
    @pytest.fixture
    def extra_plugins(self):
        return [("memory-mail", MailerPlugin())]

    @pytest.fixture
    def site_config(self):
        return {"site": SITE, "email": {"mailer": "memory"}}

    async def test_hook_agorakit_mailers(self, runtime, make_member, extra_plugins):
        member = await make_member(display_name="Mo")
        bound = mailer_for(runtime)
        assert (bound.name, bound.site) == ("memory", "Test Market")
        report = await sweep(runtime)
        [message] = extra_plugins[0][1].mailer.sent
        assert report.emails_sent == [(await outbox_rows())[0]["id"]]
        assert (message.to, message.subject) == (member.member.email, "Welcome to Test Market")
        assert message.from_address == "Test Market <marketplace@example.com>"
        assert message.text.startswith("Hello Mo,") and "<p>Hello Mo,</p>" in message.html
        assert message.headers["Date"] == "Mon, 05 Jan 2026 09:00:00 +0000"


class TestUnknownMailer:
    @pytest.fixture
    def site_config(self):
        return {"email": {"mailer": "pigeon"}}

    async def test_unknown_mailer_stops_start_up_naming_the_available_ones(
        self, site_settings, plugin_manager
    ):
        from agorakit.runtime import Runtime

        with pytest.raises(ConfigError, match=r"email\.mailer: .*'pigeon'; available: log, smtp"):
            Runtime(site_settings, pm=plugin_manager)


class TestLogMailer:
    @pytest.fixture
    def site_config(self):
        return {"email": {"mailer": "log"}}

    async def test_log_mailer_writes_the_email_to_the_log_and_counts_it_sent(
        self, runtime, make_member, caplog
    ):
        member = await make_member()
        with caplog.at_level(logging.INFO, logger="agorakit.email"):
            report = await sweep(runtime)
        assert len(report.emails_sent) == 1
        assert f"to {member.member.email}: Welcome to test market" in caplog.text


# --------------------------------------------------------------------------------------
# Core events the core describes
# --------------------------------------------------------------------------------------


async def test_proof_review_tells_the_seller_the_reason(client, runtime, make_member):
    buyer, seller = await make_member(), await make_member()
    order = await paid_order(client, runtime, buyer, seller)
    proof = await client.post(
        f"/orders/{order.id}/proofs", json={"text": "Logo attached"}, headers=seller.headers
    )
    assert proof.status_code == 201, proof.text
    # The proof moved the order (deliver): the buyer hears of the proof, once.
    assert templates(await inbox(client, buyer)) == ["proof_submitted", "member_welcome"]
    reviewed = await client.post(
        f"/orders/{order.id}/proofs/{proof.json()['id']}/review",
        json={"decision": "reject", "reason": "Wrong colours"},
        headers=buyer.headers,
    )
    assert reviewed.status_code == 200, reviewed.text
    [item] = [i for i in await inbox(client, seller) if i["template"] == "proof_reviewed"]
    assert item["title"] == f"Order #{order.id}: your proof was rejected"
    assert "Reason given: Wrong colours" in item["body"]


class TestListingsAndMoney:
    @pytest.fixture
    def extra_plugins(self):
        from catalog_helpers import CatalogTestPlugin

        return [("catalog", CatalogTestPlugin())]

    @pytest.fixture
    def site_config(self, smtp):
        return {
            "site": {**SITE, "plugins": ["bank_transfer"]},
            "email": {"mailer": "smtp", "smtp_port": smtp.port},
            "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        }

    async def test_listing_rejection_tells_the_owner_why(self, client, runtime, make_member):
        from catalog_helpers import gig, make_categories

        owner, operator = await make_member(), await make_member(role="operator")
        await make_categories(client, operator)
        listing = (await client.post("/listings", json=gig(), headers=owner.headers)).json()
        await client.post(f"/listings/{listing['id']}/submit", headers=owner.headers)
        rejected = await client.post(
            f"/operator/listings/{listing['id']}/reject",
            json={"reason": "Show real samples"},
            headers=operator.headers,
        )
        assert rejected.status_code == 200, rejected.text
        [item, _welcome] = await inbox(client, owner)
        assert (item["template"], item["category"], item["link"]) == (
            "listing_rejected",
            "listings",
            f"/listings/{listing['id']}",
        )
        assert item["title"] == 'Your listing "I will design a minimalist logo" needs changes'
        assert "Reason: Show real samples" in item["body"]

    async def test_listing_approval_tells_the_owner(self, client, runtime, make_member):
        from catalog_helpers import gig, make_categories

        owner, operator = await make_member(), await make_member(role="operator")
        await make_categories(client, operator)
        listing = (await client.post("/listings", json=gig(), headers=owner.headers)).json()
        await client.post(f"/listings/{listing['id']}/submit", headers=owner.headers)
        approved = await client.post(f"/operator/listings/{listing['id']}/approve", headers=operator.headers)
        assert approved.status_code == 200, approved.text
        [item, _welcome] = await inbox(client, owner)
        assert (item["template"], item["category"], item["link"]) == (
            "listing_approved",
            "listings",
            f"/listings/{listing['id']}",
        )
        assert item["title"] == 'Your listing "I will design a minimalist logo" is published'
        assert "listing_approved" not in templates(await inbox(client, operator))

    async def test_qualification_decisions_tell_the_applicant(self, client, runtime, make_member):
        from catalog_helpers import make_categories

        member, operator = await make_member(), await make_member(role="operator")
        await make_categories(client, operator)
        decided = []
        for slug, decision in (("logo-design", {"approve": True}), ("writing", {"reason": "Show samples"})):
            applied = await client.post("/qualifications", json={"category": slug}, headers=member.headers)
            assert applied.status_code == 201, applied.text
            action = "approve" if decision.get("approve") else "reject"
            body = {} if action == "approve" else {"reason": decision["reason"]}
            response = await client.post(
                f"/operator/qualifications/{applied.json()['id']}/{action}",
                json=body or None,
                headers=operator.headers,
            )
            assert response.status_code == 200, response.text
            decided.append(response.json()["status"])
        assert decided == ["approved", "rejected"]
        [rejected, approved, _welcome] = await inbox(client, member)
        assert (approved["template"], approved["category"], approved["link"]) == (
            "qualification_decided",
            "listings",
            "/me/qualifications",
        )
        assert approved["title"] == "You may now sell in Logo design"
        assert rejected["title"] == "Your application for Writing was declined"
        assert "Reason: Show samples" in rejected["body"]

    async def test_confirmed_bank_transfer_and_failed_withdrawal_tell_the_member(
        self, client, runtime, make_member
    ):
        member, operator = await make_member(), await make_member(role="operator")
        payment = await client.post(
            "/payments",
            json={"method": "bank_transfer", "amount": {"amount": "80.00", "currency": "USD"}},
            headers=member.headers,
        )
        assert payment.status_code == 201, payment.text
        payment = payment.json()
        confirmed = await client.post(
            f"/bank-transfer/payments/{payment['id']}/confirm",
            json={"amount": {"amount": "80.00", "currency": "USD"}, "reference": "STMT-1"},
            headers=operator.headers,
        )
        assert confirmed.status_code == 200, confirmed.text
        [item, _welcome] = await inbox(client, member)
        assert (item["template"], item["category"]) == ("payment_settled", "money")
        assert item["title"] == f"Payment {payment['reference']} received"
        assert "80.00 USD" in item["body"]

        # Earned money to withdraw; the operator's failure comes back with its reason.
        from agorakit.money import ledger

        async with runtime.unit_of_work() as uow:
            await ledger.post(
                uow,
                key="test-earned",
                kind="test_funding",
                description="test",
                lines=ledger.move(ledger.external("test"), ledger.available(member.id), 6000, "USD"),
            )
        withdrawal = await client.post(
            "/withdrawals",
            json={
                "method": "bank_transfer",
                "amount": {"amount": "60.00", "currency": "USD"},
                "destination": {
                    "account_holder": "Ada Lovelace",
                    "iban": "DE89370400440532013000",
                    "bic": "DEUTDEFF",
                },
            },
            headers=member.headers,
        )
        assert withdrawal.status_code == 201, withdrawal.text
        withdrawal_id = withdrawal.json()["id"]
        failed = await client.post(
            f"/operator/withdrawals/{withdrawal_id}/fail",
            json={"reason": "IBAN closed"},
            headers=operator.headers,
        )
        assert failed.status_code == 200, failed.text
        item = (await inbox(client, member))[0]
        assert (item["template"], item["title"], item["link"]) == (
            "withdrawal_failed",
            f"Withdrawal #{withdrawal_id} failed",
            f"/withdrawals/{withdrawal_id}",
        )
        assert "Reason: IBAN closed" in item["body"] and "60.00 USD" in item["body"]


async def test_suspended_member_is_not_notified(client, runtime, make_member):
    from agorakit.accounts import service as accounts

    buyer, seller = await make_member(), await make_member()
    operator = await make_member(role="operator")
    await accounts.suspend(runtime, operator_id=operator.id, member_id=seller.id, reason="Spam")
    await paid_order(client, runtime, buyer, seller)
    rows = await Notification.select(Notification.template).where(Notification.member_id == seller.id)
    assert [r["template"] for r in rows] == ["member_welcome"]


# --------------------------------------------------------------------------------------
# The inbox
# --------------------------------------------------------------------------------------


async def test_read_and_read_all_update_the_unread_count(client, runtime, make_member, problem):
    buyer, seller = await make_member(), await make_member()
    await paid_order(client, runtime, buyer, seller)
    count = await client.get("/notifications/unread-count", headers=seller.headers)
    assert count.json() == {"unread": 3}

    newest, middle, oldest = await inbox(client, seller)
    read = await client.post(f"/notifications/{middle['id']}/read", headers=seller.headers)
    assert read.status_code == 200, read.text
    assert read.json()["read"] is True and read.json()["read_at"] is not None
    again = await client.post(f"/notifications/{middle['id']}/read", headers=seller.headers)
    assert again.json()["read_at"] == read.json()["read_at"]  # reading twice keeps the first time
    assert (await client.get("/notifications/unread-count", headers=seller.headers)).json() == {"unread": 2}
    assert [i["id"] for i in await inbox(client, seller, unread="true")] == [newest["id"], oldest["id"]]

    first_page = (await client.get("/notifications", params={"limit": 2}, headers=seller.headers)).json()
    assert [i["id"] for i in first_page["items"]] == [newest["id"], middle["id"]]
    rest = await inbox(client, seller, limit=2, cursor=first_page["next_cursor"])
    assert [i["id"] for i in rest] == [oldest["id"]]

    all_read = await client.post("/notifications/read-all", headers=seller.headers)
    assert all_read.status_code == 200 and all_read.json() == {"marked": 2, "unread": 0}
    assert await inbox(client, seller, unread="true") == []
    assert (await client.post("/notifications/read-all", headers=seller.headers)).json() == {
        "marked": 0,
        "unread": 0,
    }
    # The buyer's notification is untouched.
    assert (await client.get("/notifications/unread-count", headers=buyer.headers)).json() == {"unread": 1}
    problem(
        await client.get("/notifications", params={"cursor": "bogus"}, headers=seller.headers),
        422,
        "validation_error",
    )
    problem(await client.get("/notifications/unread-count"), 401, "unauthenticated")


async def test_another_members_notification_is_not_found(client, runtime, make_member, problem):
    owner, stranger = await make_member(), await make_member()
    operator = await make_member(role="operator")
    [item] = await inbox(client, owner)
    for caller in (stranger, operator):
        problem(
            await client.post(f"/notifications/{item['id']}/read", headers=caller.headers), 404, "not_found"
        )
    problem(await client.post("/notifications/999999/read", headers=owner.headers), 404, "not_found")
    assert (await inbox(client, owner))[0]["read"] is False


# --------------------------------------------------------------------------------------
# The event outbox behind notifications
# --------------------------------------------------------------------------------------


class FlakyWebhook:
    """An ``agorakit_on_event`` plugin whose endpoint is down until fixed."""

    def __init__(self) -> None:
        self.failing = True
        self.seen: list[int] = []

    @hookimpl
    def agorakit_on_event(self, event):
        if event.name.startswith("sample."):
            self.seen.append(event.id)
            if self.failing:
                raise RuntimeError("webhook endpoint down")


class TestEventOutbox:
    @pytest.fixture
    def extra_plugins(self, tmp_path):
        return [("webhook", FlakyWebhook()), ("parcels", ParcelPlugin(tmp_path / "parcel-templates"))]

    async def record(self, runtime, member, parcel: str) -> int:
        async with runtime.unit_of_work() as uow:
            uow.record(
                make_event("sample.parcel_shipped", recipient=member.id, parcel=parcel),
                subject=f"parcel:{parcel}",
            )
        [row] = await StoredEvent.select(StoredEvent.id).where(StoredEvent.subject == f"parcel:{parcel}")
        return row["id"]

    async def event(self, event_id: int) -> dict:
        return await StoredEvent.select().where(StoredEvent.id == event_id).first()

    async def test_failing_handler_leaves_the_event_pending_and_the_worker_republishes_it(
        self, client, runtime, make_member, clock, extra_plugins
    ):
        webhook = extra_plugins[0][1]
        member = await make_member()
        event_id = await self.record(runtime, member, "A1")
        row = await self.event(event_id)
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert "webhook endpoint down" in row["last_error"]
        assert templates(await inbox(client, member)) == ["sample_parcel_shipped", "member_welcome"]

        assert (await sweep(runtime)).events_republished == []  # too recent: its request may still publish it
        clock.advance(seconds=30)
        assert (await sweep(runtime)).events_republished == [event_id]
        assert (await self.event(event_id))["attempts"] == 2

        webhook.failing = False
        clock.advance(seconds=30)
        assert (await sweep(runtime)).events_republished == [event_id]
        row = await self.event(event_id)
        assert (row["status"], row["published_at"], row["last_error"]) == ("published", clock.now(), None)
        assert webhook.seen == [event_id] * 3
        clock.advance(minutes=5)
        assert (await sweep(runtime)).events_republished == []
        # Every delivery reached the notification plugin too: still one notification.
        assert templates(await inbox(client, member)) == ["sample_parcel_shipped", "member_welcome"]

    async def test_event_failing_every_attempt_is_listed_for_operators_and_can_be_retried(
        self, client, runtime, make_member, clock, extra_plugins, problem
    ):
        webhook = extra_plugins[0][1]
        member = await make_member()
        operator = await make_member(role="operator")
        event_id = await self.record(runtime, member, "B2")
        for _ in range(4):
            clock.advance(seconds=30)
            await sweep(runtime)
        row = await self.event(event_id)
        assert (row["status"], row["attempts"]) == ("failed", 5)
        clock.advance(minutes=5)
        assert (await sweep(runtime)).events_republished == []

        listed = await client.get("/operator/events", params={"status": "failed"}, headers=operator.headers)
        assert listed.status_code == 200, listed.text
        [item] = listed.json()["items"]
        assert (item["id"], item["name"], item["subject"], item["attempts"]) == (
            event_id,
            "sample.parcel_shipped",
            "parcel:B2",
            5,
        )
        assert item["data"] == {"recipient": member.id, "parcel": "B2"}
        assert "webhook: RuntimeError('webhook endpoint down')" in item["last_error"]
        everything = (await client.get("/operator/events", headers=operator.headers)).json()["items"]
        assert {e["status"] for e in everything} == {"published", "failed"}
        problem(await client.get("/operator/events", headers=member.headers), 403, "forbidden")

        webhook.failing = False
        retried = await client.post(f"/operator/events/{event_id}/retry", headers=operator.headers)
        assert retried.status_code == 200, retried.text
        assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
        problem(
            await client.post(f"/operator/events/{event_id}/retry", headers=operator.headers), 409, "conflict"
        )
        problem(
            await client.post("/operator/events/999999/retry", headers=operator.headers), 404, "not_found"
        )
        assert (await sweep(runtime)).events_republished == [event_id]
        assert (await self.event(event_id))["status"] == "published"
        assert templates(await inbox(client, member)) == ["sample_parcel_shipped", "member_welcome"]


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Order 12: <done> & paid", "<p>Order 12: &lt;done&gt; &amp; paid</p>"),
        (
            "See https://example.com/o/1 now",
            '<p>See <a href="https://example.com/o/1" rel="noopener">https://example.com/o/1</a> now</p>',
        ),
        ("Mail ada@example.org", '<p>Mail <a href="mailto:ada@example.org">ada@example.org</a></p>'),
        (
            "Visit www.example.net\n\nBye",
            '<p>Visit <a href="https://www.example.net" rel="noopener">www.example.net</a></p>\n<p>Bye</p>',
        ),
        ("one\ntwo", "<p>one<br>\ntwo</p>"),
        ("a <i>\r\n\r\n\r\nb", "<p>a &lt;i&gt;</p>\n<p>b</p>"),
        ("  \n\n  ", ""),
    ],
)
def test_paragraphs_escape_text_and_link_what_looks_like_an_address(text, html):
    from agorakit.notifications.rendering import paragraphs

    assert str(paragraphs(text)) == html


NOTICE_VARIABLES = {
    "site": {"name": "Test <Market>", "base_url": "http://market.test"},
    "member": {"id": 7, "display_name": "Ann & Co", "email": "ann@example.com"},
    "event": {"name": "order.transitioned", "subject": "order:12", "data": {}, "at": None},
    "link": "http://market.test/orders/12",
    "category": "orders",
    "order_id": 12,
    "to_state_label": "completed",
    "from_state_label": "delivered",
    "what": "auto-complete",
    "actor": "the site",
    "reason": "late <again>",
    # what the other shipped templates use
    "amount": "12.50 USD",
    "approved": True,
    "attachments": 2,
    "author": "Bob",
    "author_role": "buyer",
    "buyer_name": "Bob",
    "category_name": "Design",
    "conversation_subject": "About order 12",
    "currency": "USD",
    "excerpt": "Hi <b>there</b>, see www.example.org",
    "fee": "1.00 USD",
    "method": "paypal",
    "note": "Thanks",
    "order": 12,
    "outcome": "refund",
    "rating": 4,
    "reference": "AK-12",
    "refunded": "2.00 USD",
    "released": "10.50 USD",
    "sender_name": "Bob",
    "text": "Great work",
    "title": "Logo <design>",
    "withdrawal_id": 3,
}


def render_by_root(folders, template, variables):
    """What rendering did before the static chain: each template's root rendered in full."""
    from agorakit.notifications import rendering

    renderer = rendering.Renderer(folders)
    renderer._chains = KeepsNothing()
    return renderer.render(template, variables)


class KeepsNothing(dict):
    """A chain cache that always finds "not static": every render goes through the root."""

    def __getitem__(self, key):
        return None


def test_every_shipped_template_renders_the_same_without_rendering_its_root():
    from agorakit.notifications.rendering import CORE_TEMPLATES, Renderer, _static_blocks

    renderer = Renderer([CORE_TEMPLATES])
    names = sorted(p.stem for p in (CORE_TEMPLATES / "notifications").glob("*.jinja2") if p.stem != "_base")
    assert len(names) >= 18
    for name in names:
        template = renderer.text_env.get_template(f"notifications/{name}.jinja2")
        assert _static_blocks(template) is not None, name  # the fast path is taken
        fast = renderer.render(name, NOTICE_VARIABLES)
        assert fast == render_by_root([CORE_TEMPLATES], name, NOTICE_VARIABLES), name
        assert fast.subject and fast.html.startswith("<!DOCTYPE html>"), name
    order = renderer.render("order_transitioned", NOTICE_VARIABLES)
    assert order.subject == "Order #12 is now completed"
    assert "Reason given: late <again>" in order.text  # plain text: not escaped
    assert "late &lt;again&gt;" in order.html and "<title>Order #12 is now completed</title>" in order.html
    assert order.footer.startswith("You receive this email from Test <Market> (http://market.test)")


@pytest.mark.parametrize(
    ("top", "static"),
    [
        ("", True),
        ('{% set greeting = "Howdy" %}', False),  # a variable set outside the blocks
        ('{% import "notifications/_macros.jinja2" as m %}', False),
        ("{% if true %}{% endif %}", False),
        ("{{ member.display_name }}", False),  # an expression outside the blocks
    ],
)
def test_a_template_whose_top_level_does_more_than_blocks_is_rendered_through_its_root(tmp_path, top, static):
    from agorakit.notifications.rendering import CORE_TEMPLATES, Renderer, _static_blocks

    folder = write_template(
        tmp_path / "site",
        "parcel",
        f'{top}{{% extends "notifications/_layout.jinja2" %}}\n'
        "{% block subject %}{{ greeting | default('Hello') }} {{ member.display_name }}{% endblock %}\n"
        "{% block text %}{{ super() }}Your parcel.{% endblock %}\n",
    )
    (folder / "notifications" / "_layout.jinja2").write_text(
        '{% extends "notifications/_base.jinja2" %}{% block text %}Layout says: {% endblock %}',
        encoding="utf-8",
    )
    (folder / "notifications" / "_macros.jinja2").write_text(
        "{% macro m() %}{% endmacro %}", encoding="utf-8"
    )
    renderer = Renderer([folder, CORE_TEMPLATES])
    template = renderer.text_env.get_template("notifications/parcel.jinja2")
    assert (_static_blocks(template) is not None) is static
    rendered = renderer.render("parcel", NOTICE_VARIABLES)
    assert rendered == render_by_root([folder, CORE_TEMPLATES], "parcel", NOTICE_VARIABLES)
    greeting = "Hello" if "set" not in top else "Howdy"
    assert rendered.subject == f"{greeting} Ann & Co"
    assert rendered.text == "Layout says: Your parcel."  # super() reaches the middle template
    assert "<p>Layout says: Your parcel.</p>" in rendered.html
    assert "about your orders" in rendered.footer  # the base's block, two levels up
