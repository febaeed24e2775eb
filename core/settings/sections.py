"""The core's sections of ``site.toml`` (``[site]``, ``[database]``, ``[money]``, ...) and
:class:`Settings`, the whole validated config."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from agorakit.settings.base import (
    AmountSetting,
    CurrencyCode,
    Percent,
    PositiveInt,
    Secret,
    SettingsStruct,
)


class SiteSection(SettingsStruct, frozen=True):
    #: the marketplace's name, shown in the API docs and emails
    name: str = "agorakit marketplace"
    #: public URL of the site, used in links; no trailing slash
    base_url: str = "http://127.0.0.1:8000"
    #: ISO 4217 code of the site's default currency
    currency: CurrencyCode = "USD"
    #: names of the installed plugins this site enables (entry points of group "agorakit")
    plugins: list[str] = []
    #: where to report a vulnerability in this site: an email address or an https URL,
    #: published at /.well-known/security.txt; empty (the default): not published
    security_contact: str = ""
    #: what this deployment is: "development", "staging" or "production"; only
    #: development and staging sites may run on a test clock (``[dev] test_clock``)
    environment: Literal["development", "staging", "production"] = "production"
    #: the site's terms of service: their URL and current version (e.g. "2026-12"); with a
    #: version set, registering needs ``accept_terms: true`` and records the version and
    #: the time on the member; empty (the default): no terms to accept
    terms_url: str = ""
    terms_version: Annotated[str, msgspec.Meta(max_length=40)] = ""

    def __post_init__(self) -> None:
        if self.terms_version and not self.terms_url.startswith(("https://", "http://", "/")):
            message = (
                "terms_url: terms_version is set, so give the terms' URL (https://... or a path on the site)"
            )
            raise ValueError(message)
        contact = self.security_contact
        if contact and not (
            contact.startswith("https://") or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", contact)
        ):
            message = f"security_contact: {contact!r} is neither an email address nor an https:// URL"
            raise ValueError(message)


class DatabaseSection(SettingsStruct, frozen=True):
    #: ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``postgresql://user@host/db``
    url: str = "sqlite:///agorakit.sqlite3"
    #: PostgreSQL connection pool size, minimum and maximum connections per process
    pool_min_size: PositiveInt = 1
    pool_max_size: PositiveInt = 10
    #: PostgreSQL: parallel workers one query may start (``max_parallel_workers_per_gather``
    #: on the app's connections); 0, the default, runs every query in its own backend
    postgres_parallel_workers: Annotated[int, msgspec.Meta(ge=0, le=64)] = 0
    #: SQLite: seconds a writer waits for the database lock before failing
    sqlite_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    #: SQLite: persistent connections for the long reads (outside a transaction) that
    #: outgrow the event loop's budget and run in threads; short reads run on the loop
    sqlite_read_connections: Annotated[int, msgspec.Meta(ge=1, le=64)] = 4
    #: SQLite: "full" syncs every commit to disk; "normal" (WAL) may lose the last commits
    #: on a power cut but never corrupts the file
    sqlite_synchronous: Literal["full", "normal"] = "full"
    #: SQLite: commit the units of work that finish together with one ``COMMIT`` (one
    #: disk sync), each still answered only after it is on disk
    sqlite_group_commit: bool = True
    #: PostgreSQL: a read replica (``postgresql://reader@replica-host/db``) the public
    #: browse and search routes read from; empty (the default): everything reads the primary
    read_url: str = ""
    #: with ``read_url``: seconds a client that wrote keeps reading from the primary
    #: (a signed cookie), so it sees what it just wrote; 0 turns this off
    read_after_write_seconds: Annotated[int, msgspec.Meta(ge=0, le=3600)] = 5

    def __post_init__(self) -> None:
        scheme = urlsplit(self.url).scheme
        if scheme == "sqlite" and not self.url.removeprefix("sqlite://").removeprefix("/"):
            raise ValueError("url: give a file, e.g. sqlite:///site.sqlite3")
        if scheme not in {"sqlite", "postgres", "postgresql"}:
            message = (
                f"url: unsupported scheme {scheme or '(none)'!r}; use "
                "sqlite:///file.sqlite3 or postgresql://user@host:5432/dbname"
            )
            raise ValueError(message)
        if self.read_url:
            if scheme == "sqlite":
                message = (
                    "read_url: a read replica needs PostgreSQL, and url is SQLite; "
                    "remove read_url or move the site to PostgreSQL"
                )
                raise ValueError(message)
            read_scheme = urlsplit(self.read_url).scheme
            if read_scheme not in {"postgres", "postgresql"}:
                message = (
                    f"read_url: unsupported scheme {read_scheme or '(none)'!r}; a read replica is "
                    "PostgreSQL: postgresql://reader@replica-host:5432/dbname"
                )
                raise ValueError(message)


class AuthSection(SettingsStruct, frozen=True):
    #: HMAC key signing bearer tokens (HS256); at least 32 characters; keep it secret
    jwt_secret: Annotated[str, msgspec.Meta(min_length=32, extra={"secret": True})]
    #: minutes a bearer token stays valid (default 1440 = one day)
    token_ttl_minutes: PositiveInt = 1440
    #: minimum password length, in characters (default 10)
    password_min_length: Annotated[int, msgspec.Meta(ge=8, le=128)] = 10
    #: minimum zxcvbn strength score 0-4 a new password must reach (default 2)
    password_min_score: Annotated[int, msgspec.Meta(ge=0, le=4)] = 2
    #: login attempts allowed per client address per minute, whatever the account (default 20)
    login_attempts_per_minute: PositiveInt = 20
    #: consecutive failed logins on one account from one client address before that
    #: address must wait for that account (default 5); other addresses are not affected
    login_max_failures: PositiveInt = 5
    #: the first wait after ``login_max_failures``, in seconds (default 30); each further
    #: failure doubles it ...
    login_delay_seconds: PositiveInt = 30
    #: ... up to this many seconds (default 900 = 15 minutes)
    login_delay_max_seconds: PositiveInt = 900
    #: minutes without a failure after which an account and address start again from zero
    #: (default 60); a successful login also starts again
    login_failures_forgotten_minutes: PositiveInt = 60
    #: registrations allowed per client address per hour (default 10)
    registrations_per_hour: PositiveInt = 10
    #: password reset and verification emails asked per client address per hour (default 10)
    account_emails_per_hour: PositiveInt = 10
    #: password reset and verification emails sent to one address per hour (default 3)
    account_emails_per_address_per_hour: PositiveInt = 3
    #: hours an email verification link stays valid (default 48)
    email_verification_hours: PositiveInt = 48
    #: minutes a password reset link stays valid (default 60)
    password_reset_minutes: PositiveInt = 60
    #: the link in a verification email: ``{base_url}`` is ``[site] base_url``, ``{token}``
    #: the secret (a page of the site's front end posts it to /auth/email-verification/confirm)
    verify_email_url: str = "{base_url}/verify-email?token={token}"
    #: the link in a password reset email (posted with the new password to
    #: /auth/password-reset/confirm)
    password_reset_url: str = "{base_url}/reset-password?token={token}"
    #: whether a member must verify their email address before they can log in; false
    #: (the default) lets them log in at once and shows ``email_verified`` on ``/me``
    require_verified_email: bool = False
    #: argon2id cost: iterations (default 3), memory in KiB (default 65536), lanes (4)
    argon2_time_cost: PositiveInt = 3
    argon2_memory_kib: Annotated[int, msgspec.Meta(ge=8)] = 65536
    argon2_parallelism: PositiveInt = 4

    def __post_init__(self) -> None:
        for name in ("verify_email_url", "password_reset_url"):
            pattern = getattr(self, name)
            try:
                pattern.format(base_url="", token="")
            except (KeyError, IndexError, ValueError):
                message = f"{name}: use only {{base_url}} and {{token}} in {pattern!r}"
                raise ValueError(message) from None
            if "{token}" not in pattern:
                raise ValueError(f"{name}: {pattern!r} must contain {{token}}")


class HttpSection(SettingsStruct, frozen=True):
    #: origins allowed by CORS (e.g. ["https://app.example.com"]); empty = CORS off
    cors_origins: list[str] = []
    #: largest request body accepted, in bytes (default 1 MiB); larger gets 413
    max_body_bytes: PositiveInt = 1_048_576
    #: where the OpenAPI docs UI is served; the schema is at ``<docs_path>/openapi.json``
    docs_path: str = "/docs"
    #: addresses or networks of the reverse proxies in front of the site (e.g.
    #: ["127.0.0.1", "10.0.0.0/8"]); only a request from one of them may name its client
    #: with ``X-Forwarded-For``. Empty (the default): the header is ignored
    trusted_proxies: list[str] = []

    def __post_init__(self) -> None:
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                message = f"trusted_proxies: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)"
                raise ValueError(message) from None


class MoneySection(SettingsStruct, frozen=True):
    #: currencies accepted besides site.currency (ISO 4217 codes)
    currencies: list[CurrencyCode] = []
    #: largest amount one payment or withdrawal may have, in each currency's units
    max_amount: AmountSetting = "10000.00"
    #: pay-in methods offered to buyers, by name (from agorakit_payment_methods)
    payment_methods: list[str] = msgspec.field(default_factory=lambda: ["balance"])
    #: payout methods members may withdraw with, by name (from agorakit_payout_methods)
    payout_methods: list[str] = []
    #: days within which the site promises to pay a withdrawal (its due date; shown to members)
    payout_days: PositiveInt = 7


class FeesSection(SettingsStruct, frozen=True):
    #: apply the core's seller-side percentage commission; false when a fee plugin replaces it
    commission: bool = True
    #: the commission, percent of the amount released to the seller (default 20)
    commission_percent: Percent = "20"
    #: per listing kind overrides, e.g. {offer = "0"}
    commission_by_kind: dict[str, Percent] = {}


class VouchersSection(SettingsStruct, frozen=True):
    #: members may issue and redeem vouchers; false: those two routes answer 404
    enabled: bool = True
    #: days a voucher is valid after its issue; then its value returns to the issuer's credit
    valid_days: PositiveInt = 365
    #: smallest voucher, in each currency's units (the largest is [money] max_amount)
    min_amount: AmountSetting = "1.00"
    redeem_attempts: PositiveInt = 10  #: failed redemptions per window before a 429
    redeem_window_minutes: PositiveInt = 60


class ListingsSection(SettingsStruct, frozen=True):
    #: what a screening flag (e-mail, phone number, URL in a listing) does: "block" refuses
    #: the text with a 422; "flag" saves it, sends it to review and shows the flags to moderators
    screening: Literal["block", "flag"] = "block"
    #: review target in working hours (Monday-Friday, UTC); older pending listings are overdue
    review_target_hours: PositiveInt = 24
    #: words and phrases a site refuses in every screened text (listing titles and
    #: descriptions, plugin texts such as jobs, requests and offers); matched whole-word,
    #: case-insensitively, and handled like the other flags (reason "banned word")
    banned_words: list[Annotated[str, msgspec.Meta(min_length=2, max_length=80)]] = []
    #: longest listing title, in characters (default 120, at most 200)
    max_title_length: Annotated[int, msgspec.Meta(ge=10, le=200)] = 120
    #: longest listing description, in characters (default 10000, at most 50000)
    max_description_length: Annotated[int, msgspec.Meta(ge=100, le=50000)] = 10000


class AttachmentsSection(SettingsStruct, frozen=True):
    #: where files are kept, by storage name (from agorakit_storages); "local" = a folder on disk
    storage: str = "local"
    #: folder of the "local" storage; relative paths are relative to the working directory
    path: str = "attachments"
    #: largest file accepted, in bytes (default 10 MiB); larger gets 413
    max_bytes: PositiveInt = 10 * 1024 * 1024
    #: media types accepted; the type is read from the file's content, not trusted from the client
    allowed_types: list[str] = msgspec.field(default_factory=lambda: [
        "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "application/zip", "text/plain"
    ])  # fmt: skip


class MessagingSection(SettingsStruct, frozen=True):
    #: what a screening flag (e-mail, phone number, URL) in a message does: "block" refuses
    #: the message with a 422, "flag" delivers it and lists it for operators, "off" skips screening
    screening: Literal["block", "flag", "off"] = "flag"
    #: longest message body, in characters (default 5000)
    max_message_length: Annotated[int, msgspec.Meta(ge=100, le=100_000)] = 5000
    #: attachments one message may carry (default 10)
    max_attachments: Annotated[int, msgspec.Meta(ge=0, le=50)] = 10
    #: minutes after posting during which the sender may edit or delete a message (default
    #: 15; 0: never)
    edit_minutes: Annotated[int, msgspec.Meta(ge=0, le=10_080)] = 15


class EmailSection(SettingsStruct, frozen=True):
    #: how email leaves, by mailer name (from agorakit_mailers): "smtp", or "log" (development:
    #: the message is written to the log and counted as sent); empty (the default): "smtp"
    #: when ``smtp_host`` names a server, else "log"
    mailer: str = ""
    #: the From address of every email
    from_address: str = "marketplace@example.com"
    #: SMTP server host and port; an empty host with ``mailer = "smtp"`` is 127.0.0.1
    smtp_host: str = ""
    smtp_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 25
    #: SMTP login; leave empty for a server without authentication
    smtp_username: str = ""
    smtp_password: Secret = ""
    #: "none", "starttls" (upgrade after connecting, usually port 587) or "tls" (port 465)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    #: seconds to wait for the SMTP server before the attempt counts as failed
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    #: delivery attempts before an email is marked failed (default 8)
    max_attempts: PositiveInt = 8
    #: wait before the first retry, in seconds; doubled after each failure (default 60) ...
    retry_base_seconds: PositiveInt = 60
    #: ... up to this many seconds (default 3600)
    retry_max_seconds: PositiveInt = 3600
    #: a folder of templates that override the shipped ones (same relative names); empty = none
    templates_dir: str = ""

    @property
    def chosen_mailer(self) -> str:
        """The mailer the site uses: ``mailer`` when set, else "smtp" when ``smtp_host``
        names a server, else "log" (a site with no server sends nothing and logs the emails)."""
        if self.mailer:
            return self.mailer
        return "smtp" if self.smtp_host else "log"


class ReviewsSection(SettingsStruct, frozen=True):
    #: days after an order completes during which its parties may review each other (default 30)
    window_days: PositiveInt = 30
    #: longest review text, in characters (default 2000)
    max_text_length: Annotated[int, msgspec.Meta(ge=10, le=20_000)] = 2000


class ReportsSection(SettingsStruct, frozen=True):
    #: operators' target for deciding a member's report, in hours; older open ones are overdue
    review_hours: PositiveInt = 48


class LoggingSection(SettingsStruct, frozen=True):
    #: log level of the ``agorakit`` loggers
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: "text" for people, "json" (one object per line) for log collectors
    format: Literal["text", "json"] = "text"


class EventsSection(SettingsStruct, frozen=True):
    #: "background": a served site delivers committed events from a background task, after
    #: the response; "inline": before the response (the CLI, the worker and tests always do)
    delivery: Literal["background", "inline"] = "background"
    #: units of work waiting for the background task before requests deliver their own
    max_pending: PositiveInt = 1000
    #: true: the handlers that ask to (``event_handler(in_transaction=True)``: the core's
    #: notifications, order system messages) run inside the transaction that records the
    #: events; false: after the commit with the others, batched across requests by the
    #: background delivery
    in_transaction: bool = True
    #: seconds between the heartbeats of a running app or worker process (its row in
    #: ``core_process``, which its stored events point to); default 5
    heartbeat_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    #: seconds without a heartbeat after which a process counts as gone: the worker then
    #: publishes its pending events at once instead of waiting 30 s after each event;
    #: at least twice ``heartbeat_seconds``; default 15
    process_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 15.0

    def __post_init__(self) -> None:
        if self.process_timeout_seconds < 2 * self.heartbeat_seconds:
            message = (
                f"process_timeout_seconds ({self.process_timeout_seconds:g}) must be at least twice "
                f"heartbeat_seconds ({self.heartbeat_seconds:g}), or a live process would count as gone"
            )
            raise ValueError(message)


class WorkerSection(SettingsStruct, frozen=True):
    #: due order timers fired in one transaction (each in its own savepoint); one commit,
    #: one claim and one delivery of their events per batch instead of per timer
    timer_batch: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    #: a batch takes no more timers once it has run this long: it holds its orders' rows,
    #: the ledger accounts it moved (the platform's fee account, say) and, on SQLite, the
    #: write lock until it commits, so this bounds what a request can wait for it
    batch_seconds: Annotated[float, msgspec.Meta(gt=0, le=10)] = 0.05
    #: PostgreSQL: batches one worker process fires at once, on connections of their own
    #: (one waits for the database while another runs); SQLite always fires one at a time
    timer_concurrency: Annotated[int, msgspec.Meta(ge=1, le=16)] = 2
    #: fire a batch's timers of one transition together (the orders moved in one
    #: statement, the postings in one call) when its guards and effects have set forms;
    #: false: one order at a time, as a request fires them
    fire_in_sets: bool = True
    #: minutes between two checks of every running order's escrow by a worker process
    #: (each violation is logged as an error and listed in the sweep's report); 0: never
    escrow_check_minutes: Annotated[int, msgspec.Meta(ge=0, le=10080)] = 60


class MetricsSection(SettingsStruct, frozen=True):
    #: serve Prometheus metrics (request rate and latency by route, the database pool,
    #: the outboxes, timers and withdrawals waiting) at ``path``; off by default
    enabled: bool = False
    #: where the metrics are served; outside the API (not in the OpenAPI document)
    path: str = "/metrics"
    #: a scraper must send ``Authorization: Bearer <token>``; without one, anyone who
    #: reaches the path reads the metrics, so only let the internal network reach it
    token: Secret | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", self.path):
            message = f"path: {self.path!r} is not a path such as /metrics"
            raise ValueError(message)
        if self.token is not None and len(self.token) < 16:
            raise ValueError("token: use at least 16 characters (a random string)")


class CacheSection(SettingsStruct, frozen=True):
    #: where the throttles (logins, registrations, account emails, voucher redemptions)
    #: count, shared by every process and host of the site: empty (the default), the
    #: site's database; ``redis://host:6379/0`` (or ``rediss://`` for TLS), that Redis
    url: str = ""
    #: prefix of every key this site writes to Redis (several sites may share one)
    key_prefix: Annotated[str, msgspec.Meta(max_length=60)] = "agorakit:"

    def __post_init__(self) -> None:
        scheme = urlsplit(self.url).scheme
        if self.url and scheme not in {"redis", "rediss", "unix"}:
            message = (
                f"url: unsupported scheme {scheme or '(none)'!r}; use redis://host:6379/0, "
                "rediss://host:6380/0 or leave it empty for the database"
            )
            raise ValueError(message)


class TracingSection(SettingsStruct, frozen=True):
    #: trace every request with OpenTelemetry (a server span named by route), exported as
    #: the process's OpenTelemetry environment says (``OTEL_EXPORTER_OTLP_ENDPOINT``, ...);
    #: off by default; needs the ``tracing`` extra (``pip install 'agorakit[tracing]'``)
    enabled: bool = False
    #: the ``service.name`` of the spans; empty (the default): the site's name
    service_name: Annotated[str, msgspec.Meta(max_length=200)] = ""


class WebhooksSection(SettingsStruct, frozen=True):
    #: sends at once across endpoints, each its own task (one endpoint has at most one
    #: delivery in flight); default 8
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8
    #: seconds to open the connection to an endpoint; default 5
    connect_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 5.0
    #: seconds one attempt may take in all (connect, send, response); default 10
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    #: seconds to wait after each failed attempt before the next (after the first, the
    #: second, ...); once they are used up the delivery has failed and its endpoint is
    #: failing.  The default waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h:
    #: about 3 days in all
    retry_schedule_seconds: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1, le=604_800)]], msgspec.Meta(min_length=1, max_length=30)
    ] = msgspec.field(default_factory=lambda: [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400])
    #: bytes of an endpoint's response body kept with each attempt (read up to there,
    #: never the whole body); default 2048
    max_response_bytes: Annotated[int, msgspec.Meta(ge=0, le=65_536)] = 2048
    #: true: endpoints may be http:// and on private, loopback or link-local addresses
    #: (development, tests); false (the default): https only, and an endpoint whose host
    #: is or resolves to such an address is refused
    allow_private_addresses: bool = False
    #: seconds between two looks for new events and due deliveries, in a long-running
    #: worker (``agorakit worker`` sends webhooks beside its sweeps); default 1
    poll_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 1.0
    #: events read from the feed and fanned out to the endpoints in one transaction
    fanout_batch: Annotated[int, msgspec.Meta(ge=1, le=5000)] = 500
    #: the most events one range replay queues (a wider range is refused)
    max_replay_events: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 10_000


class DevSection(SettingsStruct, frozen=True):
    #: the site's time comes from a clock kept in the database, shared by every process,
    #: that operators move on (``agorakit clock``); development and staging only
    test_clock: bool = False


class Settings(SettingsStruct, frozen=True):
    """The whole site config.  ``plugins`` maps a plugin name to its validated Struct."""

    auth: AuthSection
    site: SiteSection = msgspec.field(default_factory=SiteSection)
    database: DatabaseSection = msgspec.field(default_factory=DatabaseSection)
    http: HttpSection = msgspec.field(default_factory=HttpSection)
    logging: LoggingSection = msgspec.field(default_factory=LoggingSection)
    money: MoneySection = msgspec.field(default_factory=MoneySection)
    fees: FeesSection = msgspec.field(default_factory=FeesSection)
    vouchers: VouchersSection = msgspec.field(default_factory=VouchersSection)
    listings: ListingsSection = msgspec.field(default_factory=ListingsSection)
    attachments: AttachmentsSection = msgspec.field(default_factory=AttachmentsSection)
    messaging: MessagingSection = msgspec.field(default_factory=MessagingSection)
    email: EmailSection = msgspec.field(default_factory=EmailSection)
    reviews: ReviewsSection = msgspec.field(default_factory=ReviewsSection)
    reports: ReportsSection = msgspec.field(default_factory=ReportsSection)
    events: EventsSection = msgspec.field(default_factory=EventsSection)
    cache: CacheSection = msgspec.field(default_factory=CacheSection)
    worker: WorkerSection = msgspec.field(default_factory=WorkerSection)
    metrics: MetricsSection = msgspec.field(default_factory=MetricsSection)
    tracing: TracingSection = msgspec.field(default_factory=TracingSection)
    webhooks: WebhooksSection = msgspec.field(default_factory=WebhooksSection)
    dev: DevSection = msgspec.field(default_factory=DevSection)
    plugins: dict[str, Any] = {}
    #: where this config came from, for messages (set by the loader)
    source: str = "<settings>"

    def plugin(self, name: str) -> Any:
        """The validated settings Struct of plugin ``name``."""
        try:
            return self.plugins[name]
        except KeyError:
            message = f"plugin {name!r} is not enabled or declares no settings"
            raise LookupError(message) from None
