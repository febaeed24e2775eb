"""``agorakit demo``: a demo site on SQLite with the plugins shipped with agorakit enabled
(or the ones ``--plugins`` names)."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agorakit.hooks import Hooks, get_plugin_manager, installed_plugins, shipped_plugins
from agorakit.settings import ConfigError, Settings, load_settings

#: (role name, email, password, display name, country, skills, account role); the demo's
#: operator is the site's owner, so it can also manage operators
DEMO_MEMBERS = [
    ("operator", "operator@example.com", "demo-operator-pass-2026", "Olga Operator", "US", [], "owner"),
    (
        "seller",
        "seller@example.com",
        "demo-seller-pass-2026",
        "Sam Seller",
        "GB",
        ["logo design", "copywriting"],
        "member",
    ),
    ("buyer", "buyer@example.com", "demo-buyer-pass-2026", "Bea Buyer", "CA", [], "member"),
]


def demo_plugins(names: Sequence[str] | None = None) -> list[str]:
    """The plugins a demo site enables: ``names`` (each once, in their order), else every
    installed plugin shipped with agorakit.  A third-party plugin is enabled only when
    named: a site's own plugins (a fee plugin, say) change what the demo shows."""
    if names is None:
        return shipped_plugins()
    installed = installed_plugins()
    unknown = [name for name in names if name not in installed]
    if unknown:
        listed = ", ".join(sorted(installed)) or "none"
        message = f"not installed: {', '.join(unknown)}; installed plugins: {listed}"
        raise ValueError(message)
    return list(dict.fromkeys(names))


def write_demo_config(directory: Path, plugins: Sequence[str] | None = None) -> Path:
    """Write the demo's ``site.toml`` enabling ``plugins`` (default: those shipped with
    agorakit, see :func:`demo_plugins`); an existing one is kept as it is."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "site.toml"
    if path.exists():
        return path
    enabled = demo_plugins(plugins)
    plugins_line = ", ".join(f'"{name}"' for name in enabled)
    hooks = Hooks(get_plugin_manager(enabled))
    pay_in, pay_out = _offered_methods(hooks)
    sections = "".join(
        f"\n# {name}'s settings for the demo (its agorakit_demo_settings)\n{toml_table(['plugins', name], values)}"
        for name, values in demo_plugin_settings(hooks).items()
    )
    path.write_text(
        f"""# Demo site written by `agorakit demo`; edit freely, delete to start over.
[site]
name = "agorakit demo market"
base_url = "http://127.0.0.1:8000"
currency = "USD"
plugins = [{plugins_line}]
# a development site: it may run on a test clock
environment = "development"

[database]
url = "sqlite:///{(directory / "demo.sqlite3").as_posix()}"

[auth]
jwt_secret = "{secrets.token_urlsafe(48)}"

[money]
payment_methods = [{", ".join(f'"{m}"' for m in pay_in)}]
payout_methods = [{", ".join(f'"{m}"' for m in pay_out)}]

[email]
# the demo has no SMTP server: emails are written to the log (a site that sets
# smtp_host sends by SMTP)
mailer = "log"

[dev]
# the site's time is a clock kept in the database: move it with `agorakit clock advance 3d`
# (or POST /operator/clock/advance) to try what happens after days; see docs/test-clock.md
test_clock = true
{sections}""",
        encoding="utf-8",
    )
    return path


def demo_plugin_settings(hooks: Hooks) -> dict[str, dict[str, Any]]:
    """The settings each enabled plugin wants on the demo site (``agorakit_demo_settings``),
    by plugin name."""
    found = hooks.by_plugin_sync("agorakit_demo_settings")
    return {name: values for name, values in sorted(found, key=lambda pair: pair[0]) if values}


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):  # a JSON string is a TOML basic string, but for DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"a demo setting cannot be {type(value).__name__}: {value!r}")


def _is_tables(value: Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(v, dict) for v in value)


def toml_table(path: list[str], table: dict[str, Any], *, array: bool = False) -> str:
    """``table`` as TOML under the header ``path``: its plain keys, then its tables and
    arrays of tables, each under its own header (a table holding only tables gets none)."""
    header = ".".join(_toml_key(part) for part in path)
    plain = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if not _nested(v)]
    text = f"[[{header}]]\n" if array else (f"[{header}]\n" if plain or len(path) <= 2 else "")
    text += "".join(f"{line}\n" for line in plain)
    for key, value in table.items():
        if isinstance(value, dict) and _nested(value):
            sub = toml_table([*path, key], value)
            text += sub if sub.startswith("\n") else "\n" + sub  # a table without a header
        elif _is_tables(value):
            text += "".join("\n" + toml_table([*path, key], item, array=True) for item in value)
    return text


def _nested(value: Any) -> bool:
    return (isinstance(value, dict) and bool(value)) or _is_tables(value)


def _offered_methods(hooks: Hooks) -> tuple[list[str], list[str]]:
    """Every pay-in and payout method the enabled plugins offer (the demo binds them all)."""
    pay_in = [m.name for m in hooks.collect_sync("agorakit_payment_methods")]
    pay_out = [m.name for m in hooks.collect_sync("agorakit_payout_methods")]
    return sorted(pay_in, key=lambda name: name != "balance"), sorted(pay_out)


#: Opening balances so the demo's withdrawals and balance payments can be tried at once.
DEMO_OPENING = [("seller", "available", 12000), ("buyer", "credit", 30000)]


async def _opening_balances(runtime, members: dict) -> None:
    from agorakit.money import ledger

    currency = runtime.settings.site.currency
    async with runtime.unit_of_work() as uow:
        for name, account, cents in DEMO_OPENING:
            member_id = members[name].id
            target = ledger.available(member_id) if account == "available" else ledger.credit(member_id)
            await ledger.post(
                uow,
                key=f"demo:opening:{name}:{account}",
                kind="demo_opening_balance",
                description="Demo opening balance",
                lines=ledger.move(ledger.external("demo"), target, cents, currency),
            )


async def load_demo_data(runtime) -> dict:
    """Create the demo members and let plugins add their demo data, once."""
    from agorakit.accounts import service
    from agorakit.accounts.schemas import RegisterMember
    from agorakit.accounts.tables import Member

    if await Member.exists().where(Member.email_key == DEMO_MEMBERS[0][1]):
        return {}
    members = {}
    for name, email, password, display_name, country, skills, role in DEMO_MEMBERS:
        cmd = RegisterMember(
            email=email, password=password, display_name=display_name, country=country, skills=skills
        )
        members[name] = await service.register(runtime, cmd, role=role, email_verified=True)
    await _opening_balances(runtime, members)
    await runtime.hooks.each("agorakit_demo_data", runtime=runtime, members=members)
    return members


def _check_existing(path: Path, plugins: Sequence[str] | None) -> None:
    """An existing demo config keeps its plugins: asking for others is an error that says
    how to start over (the demo database holds the data of the plugins it was made with)."""
    if plugins is None or not path.exists():
        return
    try:
        enabled = tomllib.loads(path.read_text(encoding="utf-8")).get("site", {}).get("plugins", [])
    except tomllib.TOMLDecodeError:
        return  # loading it reports the problem
    if sorted(enabled) != sorted(set(plugins)):
        message = (
            f"{path} enables {', '.join(enabled) or 'no plugins'}, not {', '.join(plugins) or 'no plugins'}; "
            f"delete the folder {path.parent} to start a demo with these plugins"
        )
        raise ConfigError(message)


def prepare_demo(
    directory: Path, *, reset: bool = False, plugins: Sequence[str] | None = None
) -> tuple[Path, Settings, list[tuple[str, str, str]]]:
    """Write the demo config (once), migrate and load the demo data (once); ``plugins``:
    the plugins to enable (default: those shipped with agorakit)."""
    from agorakit.db.migrate import migrate
    from agorakit.runtime import Runtime

    _check_existing(directory / "site.toml", plugins)
    config_path = write_demo_config(directory, plugins)
    if reset:
        (directory / "demo.sqlite3").unlink(missing_ok=True)
    settings = load_settings(config_path)
    runtime = Runtime(settings)

    async def setup() -> None:
        await runtime.db.start()
        try:
            await migrate(runtime.db, runtime.apps)
            await load_demo_data(runtime)
        finally:
            await runtime.db.close()

    asyncio.run(setup())
    logins = [(email, password, role) for _, email, password, _, _, _, role in DEMO_MEMBERS]
    return config_path, settings, logins


def console_line(settings: Settings, base: str) -> str | None:
    """Where the demo's operator console is and who signs in to it (None when the demo
    does not enable the console)."""
    if "console" not in settings.site.plugins:
        return None
    _, email, password, *_ = DEMO_MEMBERS[0]
    return f"{base}/console  (sign in as {email}  /  {password})"
