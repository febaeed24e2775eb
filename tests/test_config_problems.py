"""A config with many mistakes reports all of them at once, one line each with its file
and key: unknown sections and keys, wrong types, out-of-range values, unresolved env
references, the plugins' sections and the cross-field checks; then start-up reports every
binding it cannot make (methods, mailer, storage) together."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from agorakit.cli import build_cli
from agorakit.runtime import Runtime
from agorakit.settings import ConfigError, load_settings

SECRET = "s" * 40

MANY_MISTAKES = """\
[site]
plugins = ["gigs", "not_a_plugin"]

[auth]
jwt_secret = "short"
token_ttl_minutes = "soon"

[database]
url = "mysql://root@localhost/site"

[email]
smtp_prot = 587
smtp_password = { "$env" = "SITE_SMTP_PASSWORD" }

[money]
payout_methods = "paypal"

[logging]
format = "xml"

[events]
heartbeat_seconds = 10.0
process_timeout_seconds = 15.0

[dev]
test_clock = true

[emial]
from_address = "hi@market.example"

[plugins.gigs]
auto_complete_days = 0
max_extras = "ten"
min_prise = "5.00"

[plugins.prepaid]
max_open_locks = 3
"""


def expected(path) -> list[str]:
    return [
        f"{path}: email.smtp_password: environment variable SITE_SMTP_PASSWORD is not set",
        f"{path}: emial: unknown section; did you mean `email`?",
        f"{path}: auth.jwt_secret: Expected `str` of length >= 32",
        f"{path}: auth.token_ttl_minutes: Expected `int`, got `str`",
        f"{path}: database.url: unsupported scheme 'mysql'; use sqlite:///file.sqlite3 or "
        "postgresql://user@host:5432/dbname",
        f"{path}: logging.format: Invalid enum value 'xml'; expected one of: json, text",
        f"{path}: money.payout_methods: Expected `array`, got `str`",
        f"{path}: email.smtp_prot: unknown key; did you mean `smtp_port`?",
        f"{path}: events: process_timeout_seconds (15) must be at least twice "
        "heartbeat_seconds (10), or a live process would count as gone",
        f"{path}: dev.test_clock: a test clock moves the whole site's time and is refused in production; "
        'set [site] environment = "development" or "staging" to use it',
        f"{path}: site.plugins: plugin 'not_a_plugin' is enabled but not installed; installed plugins: "
        + ", ".join(sorted(installed())),
        f"{path}: plugins.prepaid: configures a plugin that is not enabled; add 'prepaid' to site.plugins "
        "(enabled: ['gigs', 'not_a_plugin'])",
        f"{path}: plugins.gigs.min_prise: unknown key; did you mean `min_price`?",
        f"{path}: plugins.gigs.max_extras: Expected `int`, got `str`",
        f"{path}: plugins.gigs.auto_complete_days: Expected `int` >= 1",
    ]


def installed() -> list[str]:
    from agorakit.hooks import installed_plugins

    return list(installed_plugins())


def test_every_problem_of_the_file_is_reported_at_once_one_per_line(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(MANY_MISTAKES, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert info.value.messages == expected(path)
    assert str(info.value) == "15 problems in the site config:\n" + "\n".join(expected(path))


def test_the_commands_print_every_problem_and_exit_1(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(MANY_MISTAKES, encoding="utf-8")
    result = CliRunner().invoke(build_cli([]), ["--config", str(path), "migrate"])
    assert result.exit_code == 1
    assert result.output == "Error: 15 problems in the site config:\n" + "\n".join(expected(path)) + "\n"


def test_a_section_with_bad_keys_is_not_also_blamed_for_its_cross_field_check(tmp_path):
    """The cross-field check of a section runs once its keys are valid: a bad heartbeat is
    not also reported as "twice the default heartbeat"."""
    path = tmp_path / "site.toml"
    path.write_text(
        f'[auth]\njwt_secret = "{SECRET}"\n[events]\nheartbeat_seconds = -1\nprocess_timeout_seconds = 5\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert info.value.messages == [f"{path}: events.heartbeat_seconds: Expected `float` > 0.0"]


STARTUP_MISTAKES = f"""\
[site]
plugins = ["bank_transfer"]

[auth]
jwt_secret = "{SECRET}"

[money]
payment_methods = ["balance", "cheque"]
payout_methods = ["bank_transfer", "carrier_pigeon"]

[email]
mailer = "fax"

[attachments]
storage = "s3"
"""


def test_start_up_reports_every_binding_it_cannot_make(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(STARTUP_MISTAKES + f'\n[database]\nurl = "sqlite:///{tmp_path}/site.sqlite3"\n')
    settings = load_settings(path, environ={})  # each key is well-formed
    with pytest.raises(ConfigError) as info:
        Runtime(settings)
    assert sorted(info.value.messages) == sorted(
        [
            f"{path}: email.mailer: no enabled plugin provides a mailer named 'fax'; available: log, smtp",
            f"{path}: money.payment_methods: no enabled plugin provides 'cheque'; "
            "available: balance, bank_transfer",
            f"{path}: money.payout_methods: no enabled plugin provides 'carrier_pigeon'; "
            "available: bank_transfer",
            f"{path}: attachments.storage: no storage named 's3'; storages available: local",
        ]
    )
    result = CliRunner().invoke(build_cli([]), ["--config", str(path), "migrate"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: 4 problems in the site config:\n")
    assert sorted(result.output.splitlines()[1:]) == sorted(info.value.messages)
