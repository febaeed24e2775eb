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

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import msgspec
import msgspec.inspect as mi

from agorakit.settings.base import (
    MASK,
    AmountSetting,
    ConfigError,
    CurrencyCode,
    Percent,
    PositiveInt,
    Secret,
    SettingsSpec,
    SettingsStruct,
)
from agorakit.settings.sections import (
    AttachmentsSection,
    AuthSection,
    DatabaseSection,
    DevSection,
    EmailSection,
    EventsSection,
    FeesSection,
    HttpSection,
    ListingsSection,
    LoggingSection,
    MessagingSection,
    MoneySection,
    ReportsSection,
    ReviewsSection,
    Settings,
    SiteSection,
    VouchersSection,
    WorkerSection,
)

if TYPE_CHECKING:  # pragma: no cover
    import pluggy

ENV_PREFIX = "AGORAKIT_"

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


__all__ = [
    "ENV_PREFIX",
    "MASK",
    "AmountSetting",
    "AttachmentsSection",
    "AuthSection",
    "ConfigError",
    "CurrencyCode",
    "DatabaseSection",
    "DevSection",
    "EmailSection",
    "EventsSection",
    "FeesSection",
    "HttpSection",
    "ListingsSection",
    "LoggingSection",
    "MessagingSection",
    "MoneySection",
    "Percent",
    "PositiveInt",
    "ReportsSection",
    "ReviewsSection",
    "Secret",
    "Settings",
    "SettingsSpec",
    "SettingsStruct",
    "SiteSection",
    "VouchersSection",
    "WorkerSection",
    "load_settings",
    "masked",
    "settings_from_dict",
    "validate_plugin_settings",
]
