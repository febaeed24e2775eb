"""The plugin manager factory and the helpers every hook caller uses.

``get_plugin_manager(enabled)`` is the only place plugins are loaded: it adds the hook
specs, registers the core's own default plugins (ordinary hookimpls, so a site can
replace them), loads the enabled plugins from the ``agorakit`` entry point group and
checks that every hookimpl matches a spec.  The core never imports a plugin by name.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import msgspec
import pluggy

from agorakit import hookspecs
from agorakit.settings import ConfigError

log = logging.getLogger("agorakit.plugins")

ENTRY_POINT_GROUP = "agorakit"
#: The package of the plugins shipped with agorakit (their entry points' modules).
SHIPPED_PACKAGE = "agorakit.plugins"

#: Modules of the core's own plugins, always registered (in this order).
CORE_PLUGINS: tuple[str, ...] = (
    "agorakit.events.plugin",
    "agorakit.accounts.plugin",
    "agorakit.money.plugin",
    "agorakit.catalog.plugin",
    "agorakit.orders.plugin",
    "agorakit.attachments.plugin",
    "agorakit.messaging.plugin",
    "agorakit.reviews.plugin",
    "agorakit.disputes.plugin",
    "agorakit.reports.plugin",
    "agorakit.support.plugin",
    "agorakit.integrations.plugin",
    "agorakit.webhooks.plugin",
    "agorakit.http.plugin",
    "agorakit.system",
    "agorakit.notifications.plugin",
    "agorakit.testclock.plugin",
)

#: Modules of the hooks core areas define for the layers above them (see
#: ``docs/plugin-api.md``), of the worker's hooks and of the testing kit's, added next to
#: :mod:`agorakit.hookspecs`.
AREA_HOOKSPECS: tuple[str, ...] = (
    "agorakit.accounts.hookspecs",
    "agorakit.catalog.hookspecs",
    "agorakit.attachments.hookspecs",
    "agorakit.money.hookspecs",
    "agorakit.disputes.hookspecs",
    "agorakit.messaging.hookspecs",
    "agorakit.support.hookspecs",
    "agorakit.integrations.hookspecs",
    "agorakit.worker_hookspecs",
    "agorakit.web.hookspecs",
    "agorakit.factories",
)


class PluginInfo(msgspec.Struct, frozen=True):
    """What is known about one registered plugin (shown by ``GET /-/plugins``)."""

    name: str
    builtin: bool
    package: str | None = None
    version: str | None = None


def installed_plugins() -> dict[str, EntryPoint]:
    """Plugins installed in this environment, by entry point name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def is_shipped(ep: EntryPoint) -> bool:
    """Whether an installed plugin ships with agorakit (its module is under ``agorakit.plugins``)."""
    return ep.module == SHIPPED_PACKAGE or ep.module.startswith(f"{SHIPPED_PACKAGE}.")


def shipped_plugins() -> list[str]:
    """The installed plugins that ship with agorakit, by name (third-party ones left out)."""
    return sorted(name for name, ep in installed_plugins().items() if is_shipped(ep))


def get_plugin_manager(
    enabled: Sequence[str] = (),
    *,
    extra: Iterable[tuple[str, object]] = (),
    source: str = "site config",
) -> pluggy.PluginManager:
    """Build the plugin manager for a site.

    :param enabled: names of installed plugins to enable (``site.plugins``).
    :param extra: ``(name, plugin)`` pairs registered after them; for tests and for
        embedding apps that register a plugin object directly.
    :param source: where ``enabled`` came from, for error messages.
    """
    pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
    pm.add_hookspecs(hookspecs)
    for module_name in AREA_HOOKSPECS:
        pm.add_hookspecs(importlib.import_module(module_name))
    infos: dict[str, PluginInfo] = {}
    for module_name in CORE_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        infos[module_name] = PluginInfo(name=module_name, builtin=True)

    available = installed_plugins()
    problems: list[str] = []  # every plugin that cannot be loaded, reported together
    for name in enabled:
        ep = available.get(name)
        if ep is None:
            problems.append(
                f"{source}: site.plugins: plugin {name!r} is enabled but not installed; "
                f"installed plugins: {', '.join(sorted(available)) or 'none'}"
            )
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            log.debug("plugin %s failed to load", name, exc_info=True)
            problems.append(f"{source}: site.plugins: plugin {name!r} failed to load: {exc!r}")
            continue
        try:
            _register(pm, plugin, name, source)
        except ConfigError as exc:
            problems.extend(exc.messages)
            continue
        dist = ep.dist
        infos[name] = PluginInfo(
            name=name,
            builtin=False,
            package=dist.metadata["Name"] if dist else None,
            version=dist.version if dist else None,
        )
    if problems:
        raise ConfigError(*problems)
    for name, plugin in extra:
        _register(pm, plugin, name, source)
        infos[name] = PluginInfo(name=name, builtin=False)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        message = f"{source}: plugin {exc.plugin!r} implements an unknown hook: {exc}"
        raise ConfigError(message) from exc
    pm.agorakit_plugin_info = infos  # type: ignore[attr-defined]
    return pm


def _register(pm: pluggy.PluginManager, plugin: object, name: str, source: str) -> None:
    try:
        pm.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as exc:
        message = f"{source}: plugin {name!r} cannot be registered: {exc}"
        raise ConfigError(message) from exc


def plugin_info(pm: pluggy.PluginManager) -> dict[str, PluginInfo]:
    return getattr(pm, "agorakit_plugin_info", {})


def hooks_of(pm: pluggy.PluginManager, name: str) -> list[str]:
    """Names of the hooks plugin ``name`` implements."""
    plugin = pm.get_plugin(name)
    if plugin is None:
        return []
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])


async def maybe_await(value: Any) -> Any:
    """Await ``value`` if a hookimpl returned an awaitable (hooks may be async)."""
    if inspect.isawaitable(value):
        return await value
    return value


async def call_each(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[Any]:
    """Call every implementation of a hook on its own, awaiting async ones.

    An exception in one plugin is logged with the plugin's name and does not stop the
    others: used for after-commit hooks whose callers cannot undo anything.
    """
    return await Hooks(pm).each(hook_name, **kwargs)


class Hooks:
    """How the core and plugins call hooks: one place for awaiting, flattening, the
    first-result rule and the error policy (``runtime.hooks``).

    Implementations run in pluggy's order (last registered first, ``tryfirst``/
    ``trylast`` honoured) with the keyword arguments each one accepts.  Any of them may be
    async: each result is awaited before the next implementation runs, so ``first``
    returns the first result that is not None also when implementations are coroutines
    (pluggy's own ``firstresult`` would stop at the first coroutine object).
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm

    def implementations(self, name: str) -> list[Any]:
        """The hook's implementations in call order (wrappers are not supported)."""
        caller = getattr(self.pm.hook, name)
        return [impl for impl in reversed(caller.get_hookimpls()) if not (impl.hookwrapper or impl.wrapper)]

    def _calls(self, name: str, kwargs: dict[str, Any]) -> Iterable[tuple[Any, Any]]:
        for impl in self.implementations(name):
            yield impl, impl.function(**{k: kwargs[k] for k in impl.argnames if k in kwargs})

    async def collect(self, name: str, /, **kwargs: Any) -> list[Any]:
        """Every implementation's result, awaited; lists flattened, None skipped.  An
        exception propagates (the caller's transaction rolls back)."""
        results = [await maybe_await(result) for _impl, result in self._calls(name, kwargs)]
        return collect(results)

    async def first(self, name: str, /, **kwargs: Any) -> Any:
        """The first result that is not None (None if there is none)."""
        for _impl, result in self._calls(name, kwargs):
            value = await maybe_await(result)
            if value is not None:
                return value
        return None

    async def each(self, name: str, /, **kwargs: Any) -> list[Any]:
        """Every implementation on its own: one that fails is logged with the plugin's
        name and the others still run (for after-commit hooks that cannot undo)."""
        results = []
        for impl in self.implementations(name):
            args = {k: kwargs[k] for k in impl.argnames if k in kwargs}
            try:
                results.append(await maybe_await(impl.function(**args)))
            except Exception:
                log.exception("plugin %s failed in %s", impl.plugin_name, name)
        return results

    def collect_sync(self, name: str, /, **kwargs: Any) -> list[Any]:
        """:meth:`collect` for start-up hooks, which must not be async."""
        return collect(_sync(name, impl, result) for impl, result in self._calls(name, kwargs))

    def by_plugin_sync(self, name: str, /, **kwargs: Any) -> list[tuple[str, Any]]:
        """Each implementation's result with the name of its plugin, for start-up hooks
        whose contributions the core keeps apart by plugin (must not be async)."""
        return [(impl.plugin_name, _sync(name, impl, result)) for impl, result in self._calls(name, kwargs)]

    def check_sync(self, name: str, /, **kwargs: Any) -> None:
        """Run every implementation of a start-up hook whose implementations check the
        config: their :class:`ConfigError` messages are raised together once all ran.
        Another exception after a ConfigError ends the run with the ConfigErrors only (it
        may be a consequence of them)."""
        problems: list[str] = []
        for impl in self.implementations(name):
            try:
                _sync(name, impl, impl.function(**{k: kwargs[k] for k in impl.argnames if k in kwargs}))
            except ConfigError as exc:
                problems.extend(exc.messages)
            except Exception:
                if not problems:
                    raise
                log.debug("%s of plugin %s failed after config errors", name, impl.plugin_name, exc_info=True)
                break
        if problems:
            raise ConfigError(*problems)

    def first_sync(self, name: str, /, **kwargs: Any) -> Any:
        """:meth:`first` for hooks that must not be async."""
        for impl, result in self._calls(name, kwargs):
            if _sync(name, impl, result) is not None:
                return result
        return None


def _sync(name: str, impl: Any, result: Any) -> Any:
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise ConfigError(f"plugin {impl.plugin_name!r}: {name} must not be async")
    return result


def collect(results: Iterable[Any]) -> list[Any]:
    """Flatten the list-of-lists a collecting hook returns, skipping None."""
    out: list[Any] = []
    for result in results:
        if result is None:
            continue
        if isinstance(result, list | tuple):
            out.extend(result)
        else:
            out.append(result)
    return out
