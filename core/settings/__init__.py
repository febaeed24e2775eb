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
``AGORAKIT_PLUGINS__GIGS__AUTO_COMPLETE_DAYS``).  Loading reports every problem of the
file at once (:mod:`agorakit.settings.checks`), one line each naming the file, the key and
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
from agorakit.settings.checks import UNRESOLVED, Problems, check_struct, unknown_key
from agorakit.settings.docs import field_docs
from agorakit.settings.sections import (
    AttachmentsSection,
    AuthSection,
    CacheSection,
    DatabaseSection,
    DevSection,
    EmailSection,
    EventsSection,
    FeesSection,
    HttpSection,
    ListingsSection,
    LoggingSection,
    MessagingSection,
    MetricsSection,
    MoneySection,
    ReportsSection,
    ReviewsSection,
    Settings,
    SiteSection,
    TracingSection,
    VouchersSection,
    WebhooksSection,
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
    """Validate config data (as parsed from TOML).  Builds the plugin manager if not given.

    Every problem is reported at once, one line each (:class:`ConfigError`): unresolved
    env references, unknown sections and keys, wrong types and out-of-range values in every
    section (the plugins' included), and the cross-field checks of whatever is valid."""
    env = os.environ if environ is None else environ
    problems = Problems(source)
    resolved = _resolve_env_refs(dict(data), env, problems, path="")
    _apply_env_overrides(resolved, env)
    sections = _check_sections(resolved, problems)
    site, dev = sections.get("site"), sections.get("dev")
    if site is not None and len(set(site.plugins)) != len(site.plugins):
        problems.add("site.plugins", f"a plugin is listed twice: {site.plugins}")
    if site is not None and dev is not None and dev.test_clock and site.environment == "production":
        message = (
            "a test clock moves the whole site's time and is refused in production; "
            'set [site] environment = "development" or "staging" to use it'
        )
        problems.add("dev.test_clock", message)
    raw_plugins = resolved.get("plugins", {})
    if not isinstance(raw_plugins, Mapping):
        problems.add("plugins", "expected tables of plugin settings ([plugins.<name>])")
        raw_plugins = {}
    plugins: dict[str, Any] = {}
    if site is not None:
        if pm is None:
            pm = _plugin_manager(site.plugins, source, problems)
        if pm is not None:
            plugins = _check_plugin_sections(raw_plugins, site.plugins, pm, problems)
    problems.raise_if_any()
    return Settings(**sections, plugins=plugins, source=source)


#: the core's sections of ``site.toml``, by name, and their Structs
_SECTIONS: dict[str, type[SettingsStruct]] = {
    f.encode_name: f.type
    for f in msgspec.structs.fields(Settings)
    if isinstance(f.type, type) and issubclass(f.type, SettingsStruct)
}


def _check_sections(data: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """Each core section decoded (None: it has problems, added to ``problems``)."""
    for key in data:
        if key not in _SECTIONS and key != "plugins":
            problems.add(key, unknown_key(key, [*_SECTIONS, "plugins"], "section"))
    return {
        name: check_struct(data.get(name, {}), type_, name, problems) for name, type_ in _SECTIONS.items()
    }


def _plugin_manager(enabled: list[str], source: str, problems: Problems) -> pluggy.PluginManager | None:
    """The plugin manager of the enabled plugins that are installed; each one that is not
    is a problem (the others' sections are still checked)."""
    from agorakit.hooks import get_plugin_manager, installed_plugins

    installed = installed_plugins()
    for name in dict.fromkeys(enabled):
        if name not in installed:
            message = (
                f"plugin {name!r} is enabled but not installed; "
                f"installed plugins: {', '.join(sorted(installed)) or 'none'}"
            )
            problems.add("site.plugins", message)
    try:
        return get_plugin_manager([n for n in dict.fromkeys(enabled) if n in installed], source=source)
    except ConfigError as exc:
        problems.extend(exc)
        return None


def validate_plugin_settings(settings: Settings, pm: pluggy.PluginManager) -> Settings:
    """Check each ``[plugins.<name>]`` section against the Struct its plugin declares
    (every problem at once)."""
    problems = Problems(settings.source)
    validated = _check_plugin_sections(settings.plugins, settings.site.plugins, pm, problems)
    problems.raise_if_any()
    return msgspec.structs.replace(settings, plugins=validated)


def _check_plugin_sections(
    raw: Mapping[str, Any], enabled: list[str], pm: pluggy.PluginManager, problems: Problems
) -> dict[str, Any]:
    from agorakit.hooks import Hooks  # the hooks module imports this one

    specs: dict[str, SettingsSpec] = {}
    try:
        declared = Hooks(pm).collect_sync("agorakit_settings")
    except ConfigError as exc:
        problems.extend(exc)
        return {}
    for spec in declared:
        if spec is None:
            continue
        if spec.name in specs:
            problems.add(f"plugins.{spec.name}", f"two plugins declare settings named {spec.name!r}")
            continue
        specs[spec.name] = spec
    loaded = set(_plugin_names(pm))
    for name in raw:
        if name in specs:
            continue
        if name not in enabled:
            message = (
                f"configures a plugin that is not enabled; add {name!r} to site.plugins "
                f"(enabled: {sorted(enabled) or 'none'})"
            )
            problems.add(f"plugins.{name}", message)
        elif name in loaded:
            problems.add(f"plugins.{name}", f"plugin {name!r} has no settings")
        # else: enabled but not loaded, which is reported already
    validated: dict[str, Any] = {}
    for name, spec in specs.items():
        value = check_struct(raw.get(name, {}), spec.type, f"plugins.{name}", problems)
        if value is not None:
            validated[name] = value
    return validated


def _plugin_names(pm: pluggy.PluginManager) -> list[str]:
    """The names the plugin manager's plugins are registered under."""
    return [name for name, _plugin in pm.list_name_plugin()]


def _resolve_env_refs(value: Any, env: Mapping[str, str], problems: Problems, path: str) -> Any:
    """Replace ``{"$env" = "NAME"}`` tables with the environment variable's value (a bad
    reference is a problem, and its key is not checked further)."""
    if isinstance(value, dict):
        if "$env" in value:
            name = value["$env"]
            unknown = set(value) - {"$env", "default"}
            if not isinstance(name, str) or unknown:
                problems.add(path, 'write an env reference as { "$env" = "NAME" }')
                return UNRESOLVED
            if name in env:
                return env[name]
            if "default" in value:
                return value["default"]
            problems.add(path, f"environment variable {name} is not set")
            return UNRESOLVED
        return {
            k: _resolve_env_refs(v, env, problems, f"{path}.{k}" if path else k) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve_env_refs(v, env, problems, f"{path}[{i}]") for i, v in enumerate(value)]
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
    "CacheSection",
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
    "MetricsSection",
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
    "TracingSection",
    "VouchersSection",
    "WebhooksSection",
    "WorkerSection",
    "field_docs",
    "load_settings",
    "masked",
    "settings_from_dict",
    "validate_plugin_settings",
]
