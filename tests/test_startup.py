"""The start-up hook: the core's areas bind what they need through ``agorakit_startup``,
before any plugin's implementation runs, and a failing check stops start-up."""

from __future__ import annotations

import pytest

from agorakit import hookimpl
from agorakit.runtime import Runtime
from agorakit.settings import ConfigError


class StartupPlugin:
    def __init__(self) -> None:
        self.seen: list[tuple[list[str], list[str], bool]] = []

    @hookimpl
    def agorakit_startup(self, runtime):
        # the core's areas ran first: methods bound, default commission registered
        self.seen.append(
            (
                sorted(runtime.payment_methods),
                sorted(runtime.payout_methods),
                runtime.pm.get_plugin("agorakit.money.commission") is not None,
            )
        )


class Refuses:
    @hookimpl
    def agorakit_startup(self, runtime):
        raise ConfigError(f"{runtime.settings.source}: refuses: no licence key")


class TestStartup:
    @pytest.fixture
    def extra_plugins(self):
        return [("startup", StartupPlugin())]

    def test_hook_agorakit_startup(self, site_settings, plugin_manager):
        runtime = Runtime(site_settings, pm=plugin_manager)
        [plugin] = [p for name, p in plugin_manager.list_name_plugin() if name == "startup"]
        assert plugin.seen == [(["balance"], [], True)]
        assert sorted(runtime.payment_methods) == ["balance"]

    def test_runtime_is_built_once_per_start(self, site_settings, plugin_manager):
        Runtime(site_settings, pm=plugin_manager)
        Runtime(site_settings, pm=plugin_manager)
        [plugin] = [p for name, p in plugin_manager.list_name_plugin() if name == "startup"]
        assert len(plugin.seen) == 2
        names = [name for name, _ in plugin_manager.list_name_plugin()]
        assert names.count("agorakit.money.commission") == 1


class TestCommissionOff:
    @pytest.fixture
    def site_config(self):
        return {"fees": {"commission": False}}

    def test_no_default_commission(self, site_settings, plugin_manager):
        Runtime(site_settings, pm=plugin_manager)
        assert plugin_manager.get_plugin("agorakit.money.commission") is None


class TestRefusingPlugin:
    @pytest.fixture
    def extra_plugins(self):
        return [("refuses", Refuses())]

    def test_config_error_stops_start_up(self, site_settings, plugin_manager):
        with pytest.raises(ConfigError, match=r"^test settings: refuses: no licence key$"):
            Runtime(site_settings, pm=plugin_manager)
