"""Plugins: discovery through entry points, enabling, settings, and every hook."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from event_helpers import make_event

from agorakit import hookimpl
from agorakit.docgen import hook_reference, hookspec_functions
from agorakit.hooks import get_plugin_manager, installed_plugins
from agorakit.settings import ConfigError, settings_from_dict
from agorakit.testing import TEST_DEFAULTS, deep_merge

ROOT = Path(__file__).resolve().parent.parent
ENABLED = {"site": {"plugins": ["sample"]}, "plugins": {"sample": {"greeting": "hi", "repeat": 2}}}


def settings(data: dict, **kwargs):
    return settings_from_dict(deep_merge(TEST_DEFAULTS, data), source="site.toml", environ={}, **kwargs)


def test_installed_plugin_is_found_through_its_entry_point(sample_plugin):
    ep = installed_plugins()["sample"]
    assert ep.value == "agorakit_sample"
    assert ep.dist.version == "1.2.3"


def test_enabled_but_not_installed_plugin_stops_startup():
    with pytest.raises(ConfigError) as info:
        settings({"site": {"plugins": ["no_such_plugin"]}})
    assert "site.toml: site.plugins: plugin 'no_such_plugin' is enabled but not installed" in str(info.value)


def test_every_plugin_that_cannot_be_loaded_is_named_at_once():
    with pytest.raises(ConfigError) as info:
        get_plugin_manager(["nope_one", "gigs", "nope_two"], source="site.toml")
    assert [m.split(";")[0] for m in info.value.messages] == [
        "site.toml: site.plugins: plugin 'nope_one' is enabled but not installed",
        "site.toml: site.plugins: plugin 'nope_two' is enabled but not installed",
    ]


def test_settings_for_a_plugin_that_is_not_enabled_are_refused(sample_plugin):
    with pytest.raises(ConfigError) as info:
        settings({"plugins": {"sample": {"greeting": "hi"}}})
    assert str(info.value) == (
        "site.toml: plugins.sample: configures a plugin that is not enabled; "
        "add 'sample' to site.plugins (enabled: none)"
    )


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"repeat": "many"}, "site.toml: plugins.sample.repeat: Expected `int`, got `str`"),
        ({"repeat": 9}, "site.toml: plugins.sample.repeat: Expected `int` <= 5"),
        ({"greting": "typo"}, "site.toml: plugins.sample.greting: unknown key; did you mean `greeting`?"),
    ],
)
def test_misconfigured_plugin_names_plugin_and_field(sample_plugin, section, expected):
    with pytest.raises(ConfigError) as info:
        settings({"site": {"plugins": ["sample"]}, "plugins": {"sample": section}})
    assert str(info.value) == expected


def test_plugin_implementing_an_unknown_hook_is_refused():
    class Stray:
        @hookimpl
        def agorakit_no_such_hook(self):
            return None

    with pytest.raises(ConfigError) as info:
        get_plugin_manager([], extra=[("stray", Stray())])
    assert "agorakit_no_such_hook" in str(info.value)


def test_disabled_plugin_contributes_nothing(sample_plugin):
    pm = get_plugin_manager([])
    assert pm.get_plugin("sample") is None
    assert "sample" not in {app.app_name for group in pm.hook.agorakit_tables() for app in group}


class TestEnabledPlugin:
    @pytest.fixture
    def site_config(self, sample_plugin):
        return ENABLED

    async def test_hook_agorakit_settings(self, client, runtime):
        settings = runtime.plugin_settings("sample")
        assert (settings.greeting, settings.repeat, settings.api_key) == ("hi", 2, "sample-default-key")
        response = await client.get("/sample/hello")
        assert response.json()["message"] == "hi hi"

    async def test_hook_agorakit_tables(self, runtime):
        from agorakit_sample import SampleNote

        await SampleNote.insert(SampleNote(body="kept", stars=3))
        rows = await SampleNote.select(SampleNote.body, SampleNote.stars)
        assert rows == [{"body": "kept", "stars": 3}]
        names = [app.app_name for app in runtime.apps]
        assert {"core_accounts", "core_money", "core_catalog"} <= set(names)
        assert [n for n in names if not n.startswith("core_")] == ["sample"]
        assert names.index("sample") > names.index("core_accounts")  # after its dependency

    async def test_hook_agorakit_routes(self, client):
        response = await client.get("/sample/hello")
        assert response.status_code == 200
        assert response.json() == {"message": "hi hi", "notes": 0}
        schema = (await client.get("/docs/openapi.json")).json()
        assert "sampleHello" in {
            op["operationId"] for path in schema["paths"].values() for op in path.values()
        }

    async def test_plugins_listing_shows_versions_hooks_and_masks_secrets(self, client, make_member):
        operator = await make_member(role="operator")
        response = await client.get("/-/plugins", headers=operator.headers)
        assert response.status_code == 200
        plugins = {p["name"]: p for p in response.json()["plugins"]}
        sample = plugins["sample"]
        assert sample["builtin"] is False
        assert (sample["package"], sample["version"]) == ("agorakit-sample-plugin", "1.2.3")
        assert sample["settings"] == {"greeting": "hi", "repeat": 2, "api_key": "********"}
        assert "agorakit_routes" in sample["hooks"] and "agorakit_settings" in sample["hooks"]
        assert "sample-default-key" not in response.text
        assert plugins["agorakit.accounts.plugin"]["builtin"] is True

    async def test_unexpected_error_is_a_500_problem_that_reveals_nothing(self, client, problem, caplog):
        response = await client.get("/sample/boom")
        body = problem(response, 500, "internal_error")
        assert "secret internal detail" not in response.text
        assert body["instance"] == "/sample/boom"
        assert any("secret internal detail" in str(r.exc_info) for r in caplog.records if r.exc_info)

    async def test_hook_agorakit_on_event(self, client, runtime):
        from agorakit_sample import SEEN_EVENTS

        SEEN_EVENTS.clear()
        response = await client.post(
            "/auth/register",
            json={
                "email": "eve@example.com",
                "password": "a-long-good-passphrase",
                "display_name": "Eve",
                "country": "FR",
            },
        )
        assert response.status_code == 202, response.text
        from agorakit.accounts.tables import Member

        member_id = (await Member.select(Member.id).where(Member.email_key == "eve@example.com").first())[
            "id"
        ]
        assert [(e.name, e.subject, e.actor_id) for e in SEEN_EVENTS] == [
            ("member.registered", f"member:{member_id}", member_id)
        ]
        assert SEEN_EVENTS[0].at == runtime.clock.now()

        # A registration of a taken address creates nothing and publishes nothing.
        SEEN_EVENTS.clear()
        again = await client.post(
            "/auth/register",
            json={
                "email": "EVE@example.com",
                "password": "a-long-good-passphrase",
                "display_name": "Eve",
                "country": "FR",
            },
        )
        assert again.status_code == 202
        assert SEEN_EVENTS == []

    async def test_hook_agorakit_demo_data(self, runtime):
        from agorakit.demo import load_demo_data
        from agorakit_sample import SampleNote

        members = await load_demo_data(runtime)
        assert set(members) == {"operator", "seller", "buyer"}
        assert members["operator"].role == "owner"
        assert await SampleNote.select(SampleNote.body) == [{"body": "welcome, Bea Buyer"}]
        from agorakit.money import ledger

        assert await ledger.balance_of(ledger.available(members["seller"].id), "USD") == 12000
        assert await ledger.balance_of(ledger.credit(members["buyer"].id), "USD") == 30000
        assert await load_demo_data(runtime) == {}  # a second run loads nothing again


def test_hook_agorakit_demo_settings(sample_plugin, tmp_path):
    """``agorakit demo`` writes each plugin's demo settings into its site.toml, where they
    are validated like any site's: the demo site then runs with them."""
    import tomllib

    from agorakit.demo import write_demo_config
    from agorakit.settings import load_settings

    path = write_demo_config(tmp_path / "demo", ["gigs", "sample"])
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    assert written["site"]["plugins"] == ["gigs", "sample"]
    assert written["plugins"]["sample"] == {"greeting": 'hello from the "demo"', "repeat": 3}
    sample = load_settings(path).plugin("sample")
    assert (sample.greeting, sample.repeat) == ('hello from the "demo"', 3)
    assert sample.api_key == "sample-default-key"  # what the hook left out keeps its default


def test_the_demo_writes_nested_settings_as_toml_that_reads_back_the_same():
    import tomllib

    from agorakit.demo import toml_table

    values = {
        "title": 'Say "hi"\n\tthen ünïcode 🎲 and \x7f',
        "on": False,
        "limit": 3,
        "ratio": 0.5,
        "tags": ["a", "b c"],
        "empty": [],
        "nothing": {},
        "odd key.with dots": "kept",
        "types": {
            "games": [
                {"name": "boost", "fields": [{"name": "rank", "choices": ["Iron"]}, {"name": "notes"}]},
                {"name": "coaching", "fields": []},
            ],
            "music": [{"name": "lesson", "limits": {"min": 1, "max": 2}}],
        },
        "inner": {"depth": {"deeper": 1}},
    }
    text = toml_table(["plugins", "sample"], values)
    assert tomllib.loads(text) == {"plugins": {"sample": values}}
    assert text.startswith("[plugins.sample]\n")
    assert "[[plugins.sample.types.games.fields]]" in text
    with pytest.raises(TypeError, match="a demo setting cannot be set"):
        toml_table(["plugins", "sample"], {"bad": {1, 2}})


async def test_event_handler_failure_does_not_stop_other_plugins(runtime):
    seen = []

    class Broken:
        @hookimpl
        def agorakit_on_event(self, event):
            raise RuntimeError("broken plugin")

    class Listening:
        @hookimpl
        async def agorakit_on_event(self, event, runtime):
            seen.append((event.name, runtime is not None))

    from agorakit.runtime import Runtime

    pm = get_plugin_manager([], extra=[("broken", Broken()), ("listening", Listening())])
    rt = Runtime(runtime.settings, pm=pm, clock=runtime.clock)
    async with rt.unit_of_work() as uow:
        uow.record(make_event("thing.happened"), subject="thing:1")
    assert seen == [("thing.happened", True)]

    seen.clear()
    with pytest.raises(ValueError):
        async with rt.unit_of_work() as uow:
            uow.record(make_event("thing.happened"), subject="thing:2")
            raise ValueError("rolled back")
    assert seen == []


def test_hook_agorakit_cli(sample_plugin, tmp_path):
    from agorakit.cli import build_cli

    config = tmp_path / "site.toml"
    config.write_text(
        '[site]\nplugins = ["sample"]\n[auth]\njwt_secret = "x-secret-x-secret-x-secret-x-secret"\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/db.sqlite3"\n'
    )
    cli = build_cli(["--config", str(config), "sample-hello"])
    result = CliRunner().invoke(cli, ["--config", str(config), "sample-hello"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello from the sample plugin\n"


def test_every_hookspec_is_documented_and_tested():
    reference = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    tests = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    specs = hookspec_functions()  # agorakit.hookspecs and the hooks core areas define
    assert specs, "no hookspecs found"
    for fn in specs:
        name = fn.__name__
        assert f"\n## {name}\n" in reference, f"{name} has no entry in docs/hooks.md"
        assert re.search(rf"def test_hook_{name}\b", tests), f"{name} has no test named test_hook_{name}"
        assert inspect.getdoc(fn), f"{name} has no docstring"


def test_hook_reference_is_up_to_date():
    assert (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8") == hook_reference(), (
        "docs/hooks.md is out of date: run `make docs`"
    )
