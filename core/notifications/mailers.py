"""Mailers: how an email leaves the site (the outbox's transport).

The core ships ``smtp`` (aiosmtplib, the ``[email]`` SMTP settings) and ``log``
(development: the message goes to the log and counts as sent); plugins add more through
``agorakit_mailers``.  The site picks one with ``[email] mailer``; without it a site that
names an SMTP server (``smtp_host``) uses ``smtp`` and any other ``log``.  :func:`mailer_for`
binds it at start-up and logs which one it is.  ``send`` raising means "not sent": the outbox retries with backoff.
"""

from __future__ import annotations

import email.message
import email.utils
import logging
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import msgspec

from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime
    from agorakit.settings import EmailSection

log = logging.getLogger("agorakit.email")

#: where ``mailer = "smtp"`` sends when ``smtp_host`` is empty
DEFAULT_SMTP_HOST = "127.0.0.1"


class EmailMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One email as the outbox hands it to a mailer."""

    #: the recipient's address
    to: str
    #: the From header: ``"Site name <marketplace@example.com>"``
    from_address: str
    subject: str
    #: the plain-text part
    text: str
    #: the HTML part (None: text only)
    html: str | None = None
    #: the Message-ID header, the same on every attempt (receivers drop duplicates)
    message_id: str
    #: further headers (``Date``, ``Auto-Submitted``, ...)
    headers: dict[str, str] = {}


@runtime_checkable
class Mailer(Protocol):
    """What ``agorakit_mailers`` returns.  ``bind(runtime)`` is optional: when present it is
    called once, with the site's runtime, and what it returns is the mailer used."""

    #: the name a site picks with ``[email] mailer``
    name: str

    async def send(self, message: EmailMessage) -> None:
        """Deliver the message, or raise (it is retried later)."""
        ...


@runtime_checkable
class BindableMailer(Mailer, Protocol):
    """A :class:`Mailer` with the optional ``bind(runtime)``: called once with the site's
    runtime; what it returns is the mailer the site uses."""

    def bind(self, runtime: Runtime) -> Mailer: ...


def to_mime(message: EmailMessage) -> email.message.EmailMessage:
    """A standard library message: multipart/alternative with the text and HTML parts."""
    mime = email.message.EmailMessage()
    mime["From"] = message.from_address
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Message-ID"] = message.message_id
    headers = dict(message.headers)
    mime["Date"] = headers.pop("Date", None) or email.utils.formatdate(localtime=False, usegmt=True)
    for name, value in headers.items():
        mime[name] = value
    mime.set_content(message.text)
    if message.html:
        mime.add_alternative(message.html, subtype="html")
    return mime


class SmtpMailer:
    """Sends through an SMTP server with aiosmtplib (``[email] smtp_*`` settings)."""

    name = "smtp"

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings

    def bind(self, runtime: Runtime) -> SmtpMailer:
        return SmtpMailer(runtime.settings.email)

    async def send(self, message: EmailMessage) -> None:
        import aiosmtplib

        settings = self.settings
        if settings is None:
            raise RuntimeError("the smtp mailer is not bound to a site; use mailer_for(runtime)")
        await aiosmtplib.send(
            to_mime(message),
            hostname=settings.smtp_host or DEFAULT_SMTP_HOST,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_security == "tls",
            # "none" must not upgrade on its own (aiosmtplib's None means "if offered")
            start_tls=settings.smtp_security == "starttls",
            timeout=settings.timeout_seconds,
        )


class LogMailer:
    """Development: writes the email to the log and counts it as sent."""

    name = "log"

    async def send(self, message: EmailMessage) -> None:
        log.info(
            "email (not sent: the log mailer) to %s: %s\n%s",
            message.to,
            message.subject,
            message.text,
        )


def available_mailers(runtime: Runtime) -> dict[str, Any]:
    """Every mailer the enabled plugins offer, by name."""
    out: dict[str, Any] = {}
    for mailer in runtime.hooks.collect_sync("agorakit_mailers"):
        if mailer.name in out:
            message = f"{runtime.settings.source}: two plugins provide a mailer named {mailer.name!r}"
            raise ConfigError(message)
        out[mailer.name] = mailer
    return out


def mailer_for(runtime: Runtime) -> Any:
    """The mailer ``[email] mailer`` names, bound to the site (built once per runtime)."""
    found = getattr(runtime, "_notifications_mailer", None)
    if found is not None:
        return found
    offered = available_mailers(runtime)
    settings = runtime.settings.email
    wanted = settings.chosen_mailer
    mailer = offered.get(wanted)
    if mailer is None:
        message = (
            f"{runtime.settings.source}: email.mailer: no enabled plugin provides a mailer named "
            f"{wanted!r}; available: {', '.join(sorted(offered)) or 'none'}"
        )
        raise ConfigError(message)
    found = runtime._notifications_mailer = (
        mailer.bind(runtime) if isinstance(mailer, BindableMailer) else mailer
    )
    log.info("email: %s", describe_mailer(settings))
    return found


def describe_mailer(settings: EmailSection) -> str:
    """Which mailer ``[email]`` picks and why, in words (logged at start-up)."""
    chosen = settings.chosen_mailer
    if chosen == "smtp":
        server = f"{settings.smtp_host or DEFAULT_SMTP_HOST}:{settings.smtp_port}"
        return f"sent by SMTP to {server} (smtp_security {settings.smtp_security})"
    if chosen == "log":
        why = "[email] mailer = log" if settings.mailer else "[email] names no SMTP server (smtp_host)"
        return f"written to the log, not sent ({why})"
    return f"sent by the {chosen!r} mailer"
