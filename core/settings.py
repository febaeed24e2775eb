"""Site configuration: one ``site.toml`` per site, validated into msgspec Structs.

Layout of ``site.toml``::

    [site]
    name = "Acme market"
    plugins = ["gigs", "bank_transfer"]     # enabling a plugin is one line

    [database]
    url = "sqlite:///acme.sqlite3"          # or postgresql://user@host/db

    [auth]
    jwt_secret = { "$env" = "ACME_JWT_SECRET" }

    [plugins.gigs]                          # settings of an enabled plugin
    auto_complete_days = 3

Secrets come from the environment in two ways: a value written as
``{ "$env" = "NAME" }`` (optionally ``default = ...``) is read from ``$NAME``, and any key
can be overridden by ``AGORAKIT_<SECTION>__<KEY>`` (``AGORAKIT_DATABASE__URL``,
``AGORAKIT_PLUGINS__GIGS__AUTO_COMPLETE_DAYS``).  Every error names the file, the key and
what was expected.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import msgspec
import msgspec.inspect as mi

if TYPE_CHECKING:  # pragma: no cover
    import pluggy

#: A string setting that must never be shown: masked in ``GET /-/plugins`` and logs.
Secret = Annotated[str, msgspec.Meta(extra={"secret": True})]

MASK = "********"
ENV_PREFIX = "AGORAKIT_"


class ConfigError(Exception):
    """The site config is unusable; the message says where and why."""


class SettingsStruct(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base for settings Structs: unknown keys are errors (they are usually typos).

    Subclasses repeat ``frozen=True``: msgspec inherits it, type checkers do not.
    """


class SettingsSpec(msgspec.Struct, frozen=True):
    """What ``agorakit_settings()`` returns: the section name and its Struct type."""

    name: str
    type: type[SettingsStruct]


# --------------------------------------------------------------------------------------
# The core's sections
# --------------------------------------------------------------------------------------

CurrencyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


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

    def __post_init__(self) -> None:
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


Percent = Annotated[str, msgspec.Meta(pattern=r"^(100|\d{1,2}(\.\d{1,2})?)$", examples=["20", "12.5"])]
AmountSetting = Annotated[str, msgspec.Meta(pattern=r"^\d{1,12}(\.\d{1,3})?$", examples=["15.00"])]


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


class EmailSection(SettingsStruct, frozen=True):
    #: how email leaves, by mailer name (from agorakit_mailers): "smtp", or "log" (development:
    #: the message is written to the log and counted as sent)
    mailer: str = "smtp"
    #: the From address of every email
    from_address: str = "marketplace@example.com"
    #: SMTP server host and port
    smtp_host: str = "127.0.0.1"
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


class ReviewsSection(SettingsStruct, frozen=True):
    #: days after an order completes during which its parties may review each other (default 30)
    window_days: PositiveInt = 30
    #: longest review text, in characters (default 2000)
    max_text_length: Annotated[int, msgspec.Meta(ge=10, le=20_000)] = 2000


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
    events: EventsSection = msgspec.field(default_factory=EventsSection)
    worker: WorkerSection = msgspec.field(default_factory=WorkerSection)
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


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def load_settings(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    pm: pluggy.PluginManager | None = None,
) -> Settings:
    """Read, resolve and validate a ``site.toml`` (core sections and enabled plugins)."""
    source = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        message = f"{source}: config file not found (create one with `agorakit demo` or set AGORAKIT_CONFIG)"
        raise ConfigError(message) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return settings_from_dict(raw, source=source, environ=environ, pm=pm)


def settings_from_dict(
    data: Mapping[str, Any],
    *,
    source: str = "<settings>",
    environ: Mapping[str, str] | None = None,
    pm: pluggy.PluginManager | None = None,
) -> Settings:
    """Validate config data (as parsed from TOML).  Builds the plugin manager if not given."""
    env = os.environ if environ is None else environ
    resolved = _resolve_env_refs(dict(data), env, source, path="")
    _apply_env_overrides(resolved, env)
    try:
        settings = msgspec.convert(resolved, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(_describe(source, exc)) from None
    settings = msgspec.structs.replace(settings, source=source)
    if len(set(settings.site.plugins)) != len(settings.site.plugins):
        message = f"{source}: site.plugins: a plugin is listed twice: {settings.site.plugins}"
        raise ConfigError(message)
    if settings.dev.test_clock and settings.site.environment == "production":
        message = (
            f"{source}: dev.test_clock: a test clock moves the whole site's time and is refused "
            'in production; set [site] environment = "development" or "staging" to use it'
        )
        raise ConfigError(message)
    if pm is None:
        from agorakit.hooks import get_plugin_manager

        pm = get_plugin_manager(settings.site.plugins, source=source)
    return validate_plugin_settings(settings, pm)


def validate_plugin_settings(settings: Settings, pm: pluggy.PluginManager) -> Settings:
    """Check each ``[plugins.<name>]`` section against the Struct its plugin declares."""
    source = settings.source
    specs: dict[str, SettingsSpec] = {}
    from agorakit.hooks import Hooks  # the hooks module imports this one

    for spec in Hooks(pm).collect_sync("agorakit_settings"):
        if spec is None:
            continue
        if spec.name in specs:
            message = f"two plugins declare settings named {spec.name!r}"
            raise ConfigError(f"{source}: {message}")
        specs[spec.name] = spec
    enabled = set(settings.site.plugins)
    validated: dict[str, Any] = {}
    for name, section in settings.plugins.items():
        if name not in specs:
            if name not in enabled:
                message = (
                    f"{source}: [plugins.{name}] configures a plugin that is not enabled; "
                    f"add {name!r} to site.plugins (enabled: {sorted(enabled) or 'none'})"
                )
            else:
                message = f"{source}: [plugins.{name}]: plugin {name!r} has no settings"
            raise ConfigError(message)
        if not isinstance(section, Mapping):
            message = f"{source}: plugins.{name}: expected a table of settings"
            raise ConfigError(message)
    for name, spec in specs.items():
        section = settings.plugins.get(name, {})
        try:
            validated[name] = msgspec.convert(section, spec.type, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(_describe(source, exc, f"plugins.{name}", spec.type)) from None
    return msgspec.structs.replace(settings, plugins=validated)


_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _describe(
    source: str, exc: msgspec.ValidationError, prefix: str = "", struct_type: type | None = Settings
) -> str:
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches any string
    path = (match.group("path") or "").lstrip(".")
    key = ".".join(p for p in (prefix, path) if p) or "(top level)"
    message = match.group("message")
    if message.startswith("Invalid enum value") and struct_type is not None:
        choices = _literal_choices(struct_type, path)
        if choices:
            message += f"; expected one of: {', '.join(map(str, choices))}"
    return f"{source}: {key}: {message}"


def _literal_choices(struct_type: type, path: str) -> list[Any]:
    """The allowed values of the Literal field at ``path`` (dotted) of a Struct type."""
    info: Any = mi.type_info(struct_type)
    for part in path.split("."):
        while isinstance(info, mi.Metadata):
            info = info.type
        if not isinstance(info, mi.StructType):
            return []
        info = next((f.type for f in info.fields if f.encode_name == part), None)
    while isinstance(info, mi.Metadata):
        info = info.type
    return list(info.values) if isinstance(info, mi.LiteralType) else []


def _resolve_env_refs(value: Any, env: Mapping[str, str], source: str, path: str) -> Any:
    """Replace ``{"$env" = "NAME"}`` tables with the environment variable's value."""
    if isinstance(value, dict):
        if "$env" in value:
            name = value["$env"]
            unknown = set(value) - {"$env", "default"}
            if not isinstance(name, str) or unknown:
                message = f'{source}: {path}: write an env reference as {{ "$env" = "NAME" }}'
                raise ConfigError(message)
            if name in env:
                return env[name]
            if "default" in value:
                return value["default"]
            message = f"{source}: {path}: environment variable {name} is not set"
            raise ConfigError(message)
        return {k: _resolve_env_refs(v, env, source, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env_refs(v, env, source, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _apply_env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """``AGORAKIT_A__B__C=value`` sets ``data["a"]["b"]["c"]``; JSON lists/tables allowed."""
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__")]
        if not all(keys):
            continue
        parsed: Any = value
        if value[:1] in "[{":
            try:
                parsed = msgspec.json.decode(value)
            except msgspec.DecodeError:
                parsed = value
        target = data
        for key in keys[:-1]:
            nested = target.get(key)
            if not isinstance(nested, dict):
                nested = target[key] = {}
            target = nested
        target[keys[-1]] = parsed


# --------------------------------------------------------------------------------------
# Showing settings without their secrets
# --------------------------------------------------------------------------------------

_SECRET_NAMES = re.compile(r"(secret|password|token|api_key|private_key)", re.IGNORECASE)


def masked(settings: msgspec.Struct) -> dict[str, Any]:
    """Settings as plain data, with secrets replaced by ``********``."""
    out: dict[str, Any] = {}
    info = mi.type_info(type(settings))
    assert isinstance(info, mi.StructType)
    for field in info.fields:
        value = getattr(settings, field.name)
        if isinstance(value, msgspec.Struct):
            out[field.encode_name] = masked(value)
        elif value is not None and (_is_secret(field.type) or _SECRET_NAMES.search(field.name)):
            out[field.encode_name] = MASK
        else:
            out[field.encode_name] = _mask_url(msgspec.to_builtins(value))
    return out


def _is_secret(t: mi.Type) -> bool:
    if isinstance(t, mi.Metadata):
        return bool((t.extra or {}).get("secret")) or _is_secret(t.type)
    if isinstance(t, mi.UnionType):
        return any(_is_secret(x) for x in t.types)
    return False


def _mask_url(value: Any) -> Any:
    """Hide the password of a URL such as a database DSN."""
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", f":{MASK}@", 1)
            return urlunsplit(parts._replace(netloc=netloc))
    return value
