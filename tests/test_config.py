"""site.toml loading: defaults, env references and overrides, and error messages."""

from __future__ import annotations

import pytest

from agorakit.settings import MASK, ConfigError, load_settings, masked, settings_from_dict

SECRET = "s" * 40


def write(tmp_path, text: str):
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_config_gets_documented_defaults(tmp_path):
    settings = load_settings(write(tmp_path, f'[auth]\njwt_secret = "{SECRET}"\n'), environ={})
    assert settings.site.currency == "USD"
    assert settings.site.plugins == []
    assert settings.database.url == "sqlite:///agorakit.sqlite3"
    assert settings.auth.token_ttl_minutes == 1440
    assert settings.auth.password_min_length == 10
    assert settings.http.max_body_bytes == 1_048_576
    assert settings.source == str(tmp_path / "site.toml")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            f'[auth]\njwt_secret = "{SECRET}"\ntoken_ttl_minutes = "soon"\n',
            "auth.token_ttl_minutes: Expected `int`, got `str`",
        ),
        (
            f'[auth]\njwt_secret = "{SECRET}"\ntoken_ttl_minutes = 0\n',
            "auth.token_ttl_minutes: Expected `int` >= 1",
        ),
        ('[auth]\njwt_secret = "short"\n', "auth.jwt_secret: Expected `str` of length >= 32"),
        ("[site]\nname = 'x'\n", "auth.jwt_secret: missing; this key has no default"),
        (
            f'[auth]\njwt_secret = "{SECRET}"\n[site]\ncurrency = "usd"\n',
            "site.currency: Expected `str` matching regex",
        ),
        (
            f'[auth]\njwt_secret = "{SECRET}"\n[sight]\nname = "typo"\n',
            "sight: unknown section; did you mean `site`?",
        ),
        (
            f'[auth]\njwt_secret = "{SECRET}"\n[database]\nurll = "x"\n',
            "database.urll: unknown key; did you mean `url`?",
        ),
        (
            f'[auth]\njwt_secret = "{SECRET}"\n[database]\npostgres_parallel_workers = -1\n',
            "database.postgres_parallel_workers: Expected `int` >= 0",
        ),
        (
            f'[auth]\njwt_secret = "{SECRET}"\n[logging]\nformat = "xml"\n',
            "logging.format: Invalid enum value 'xml'; expected one of: json, text",
        ),
        (
            f'[auth]\njwt_secret = "{SECRET}"\n[site]\nplugins = ["gigs", "gigs"]\n',
            "site.plugins: a plugin is listed twice",
        ),
        ("[auth\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_key_and_expectation(tmp_path, toml, message):
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    text = str(info.value)
    assert text.startswith(f"{path}: ")
    assert message in text


def test_missing_config_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_env_reference_reads_secret_from_environment(tmp_path):
    path = write(
        tmp_path,
        '[auth]\njwt_secret = { "$env" = "SITE_JWT" }\n[site]\nname = { "$env" = "SITE_NAME", default = "Fallback" }\n',
    )
    settings = load_settings(path, environ={"SITE_JWT": SECRET})
    assert settings.auth.jwt_secret == SECRET
    assert settings.site.name == "Fallback"


def test_env_reference_to_unset_variable_is_an_error(tmp_path):
    path = write(tmp_path, '[auth]\njwt_secret = { "$env" = "SITE_JWT" }\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert str(info.value) == f"{path}: auth.jwt_secret: environment variable SITE_JWT is not set"


def test_agorakit_env_overrides_any_key_with_type_conversion(tmp_path):
    path = write(tmp_path, '[auth]\njwt_secret = "will-be-overridden-will-be-overridden"\n')
    environ = {
        "AGORAKIT_AUTH__JWT_SECRET": SECRET,
        "AGORAKIT_AUTH__TOKEN_TTL_MINUTES": "30",
        "AGORAKIT_DATABASE__URL": "postgresql://app:pw@db/site",
        "AGORAKIT_HTTP__CORS_ORIGINS": '["https://app.example.com"]',
        "AGORAKIT_CONFIG": "ignored-not-a-key",
    }
    settings = load_settings(path, environ=environ)
    assert settings.auth.jwt_secret == SECRET
    assert settings.auth.token_ttl_minutes == 30
    assert settings.database.url == "postgresql://app:pw@db/site"
    assert settings.http.cors_origins == ["https://app.example.com"]


def test_env_override_with_wrong_type_is_reported(tmp_path):
    path = write(tmp_path, f'[auth]\njwt_secret = "{SECRET}"\n')
    with pytest.raises(ConfigError, match=r"auth.token_ttl_minutes: Expected `int`, got `str`"):
        load_settings(path, environ={"AGORAKIT_AUTH__TOKEN_TTL_MINUTES": "thirty"})


def test_masked_hides_secrets_and_url_passwords():
    settings = settings_from_dict(
        {"auth": {"jwt_secret": SECRET}, "database": {"url": "postgresql://app:hunter2@db:5432/site"}},
        environ={},
    )
    shown = masked(settings)
    assert shown["auth"]["jwt_secret"] == MASK
    assert shown["database"]["url"] == f"postgresql://app:{MASK}@db:5432/site"
    assert SECRET not in str(shown) and "hunter2" not in str(shown)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "database.url: unsupported scheme 'mysql'"),
        ("sqlite://", "database.url: give a file"),
        ("just-a-file.db", "database.url: unsupported scheme '(none)'"),
    ],
)
def test_bad_database_url_is_a_config_error(url, message):
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"auth": {"jwt_secret": SECRET}, "database": {"url": url}}, environ={})
    assert str(info.value).startswith(f"<settings>: {message}")


def documented_overrides() -> list[tuple[str, str, str | None]]:
    """Every ``AGORAKIT_<SECTION>__<KEY>`` example in the README and the configuration
    reference: (document, variable, the value written next to it or None)."""
    import re
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"\b(AGORAKIT_[A-Z0-9_]+?__[A-Z0-9_]+)(?:='([^']*)'|=(\S+?)[`\s])?")
    found = []
    for name in ("README.md", "docs/configuration.md"):
        for match in pattern.finditer((repo / name).read_text(encoding="utf-8")):
            found.append((name, match.group(1), match.group(2) or match.group(3)))
    return found


def plausible(default, variable: str) -> str:
    """A value of the key's type, different from its default where that is easy."""
    if isinstance(default, bool):
        return "false" if default else "true"
    if isinstance(default, int):
        return str(default + 1)
    if variable == "AGORAKIT_AUTH__JWT_SECRET":
        return "e" * 40
    if isinstance(default, str):
        return default
    raise AssertionError(f"no plausible value for {variable} (default {default!r}): write one in the docs")


def test_docs_name_at_least_one_env_override_of_a_plugin_key():
    variables = {variable for _, variable, _ in documented_overrides()}
    assert "AGORAKIT_PLUGINS__GIGS__AUTO_COMPLETE_DAYS" in variables
    assert "AGORAKIT_DATABASE__URL" in variables


@pytest.mark.parametrize(("document", "variable", "written"), documented_overrides())
def test_documented_env_override_is_accepted(tmp_path, document, variable, written):
    """Following the docs' example must not stop start-up: the variable names a real key."""
    path = write(tmp_path, f'[auth]\njwt_secret = "{SECRET}"\n[site]\nplugins = ["gigs"]\n')
    keys = [part.lower() for part in variable.removeprefix("AGORAKIT_").split("__")]
    default = key_of(load_settings(path, environ={}), keys)
    value = written if written is not None else plausible(default, variable)
    loaded = key_of(load_settings(path, environ={variable: value}), keys)
    assert loaded == typed(value, default), f"{document}: {variable}={value!r} loaded as {loaded!r}"


def key_of(settings, keys: list[str]):
    node = settings
    for key in keys:
        fields = node if isinstance(node, dict) else node.__struct_fields__
        assert key in fields, f"{'.'.join(keys)} is not a settings key (no {key!r} among {sorted(fields)})"
        node = node[key] if isinstance(node, dict) else getattr(node, key)
    return node


def typed(text: str, default):
    """``text`` as the settings loader converts it for a key of ``default``'s type."""
    import json

    if isinstance(default, bool):
        return text == "true"
    if isinstance(default, int):
        return int(text)
    if isinstance(default, list | dict):
        return json.loads(text)
    return text
