"""Which mailer a site uses: a site that names no SMTP server writes its emails to the log
(nothing fails, nothing is retried); naming a server (``smtp_host``) or ``mailer = "smtp"``
sends by SMTP; start-up logs the choice once."""

from __future__ import annotations

import logging
import socket

import pytest
from aiosmtpd.controller import Controller

from agorakit.notifications.mailers import mailer_for
from agorakit.notifications.tables import EmailOutbox
from agorakit.runtime import Runtime
from agorakit.settings import settings_from_dict
from agorakit.worker import sweep

SECRET = "s" * 40


def site_settings_with(tmp_path, email: dict | None):
    data = {"auth": {"jwt_secret": SECRET}, "database": {"url": f"sqlite:///{tmp_path}/site.sqlite3"}}
    if email is not None:
        data["email"] = email
    return settings_from_dict(data, source="site.toml", environ={})


@pytest.mark.parametrize(
    ("email", "chosen", "logged"),
    [
        (None, "log", "email: written to the log, not sent ([email] names no SMTP server (smtp_host))"),
        ({"from_address": "hi@market.example"}, "log", "email: written to the log, not sent ([email] names"),
        (
            {"smtp_host": "smtp.example.com", "smtp_port": 587, "smtp_security": "starttls"},
            "smtp",
            "email: sent by SMTP to smtp.example.com:587 (smtp_security starttls)",
        ),
        ({"mailer": "smtp"}, "smtp", "email: sent by SMTP to 127.0.0.1:25 (smtp_security none)"),
        (
            {"mailer": "log", "smtp_host": "smtp.example.com"},
            "log",
            "email: written to the log, not sent ([email] mailer = log)",
        ),
    ],
)
def test_the_mailer_is_smtp_only_when_the_config_names_a_server(tmp_path, caplog, email, chosen, logged):
    settings = site_settings_with(tmp_path, email)
    assert settings.email.chosen_mailer == chosen
    with caplog.at_level(logging.INFO, logger="agorakit.email"):
        runtime = Runtime(settings)
    assert mailer_for(runtime).name == chosen
    lines = [r.getMessage() for r in caplog.records if r.name == "agorakit.email"]
    assert len(lines) == 1 and lines[0].startswith(logged), lines  # once, at start-up


class TestNoServerNamed:
    @pytest.fixture
    def site_config(self):
        return {"email": {"mailer": ""}}  # what a site.toml without [email] mailer gets

    async def test_a_site_without_a_server_logs_its_emails_and_counts_them_sent(
        self, runtime, make_member, caplog
    ):
        member = await make_member()
        with caplog.at_level(logging.INFO, logger="agorakit.email"):
            report = await sweep(runtime)
        [row] = await EmailOutbox.select().order_by(EmailOutbox.id)
        assert report.emails_sent == [row["id"]] and report.emails_retried == []
        assert (row["status"], row["last_error"]) == ("sent", None)
        [logged] = [r.getMessage() for r in caplog.records if r.name == "agorakit.email"]
        assert logged.startswith(f"email (not sent: the log mailer) to {member.member.email}: Welcome to")
        assert not [r for r in caplog.records if "SMTP" in r.getMessage()]


class Mailbox:
    def __init__(self) -> None:
        self.recipients: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, mailbox
    controller.stop()


class TestServerNamed:
    @pytest.fixture
    def site_config(self, smtp_server):
        port, _ = smtp_server
        return {"email": {"mailer": "", "smtp_host": "127.0.0.1", "smtp_port": port}}

    async def test_naming_a_server_sends_by_smtp_without_naming_the_mailer(
        self, runtime, make_member, smtp_server
    ):
        _, mailbox = smtp_server
        member = await make_member()
        report = await sweep(runtime)
        [row] = await EmailOutbox.select().order_by(EmailOutbox.id)
        assert report.emails_sent == [row["id"]]
        assert mailbox.recipients == [member.member.email]
