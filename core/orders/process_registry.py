"""The processes, guards and effects of a site, collected once per runtime, and the set
forms of guards and effects that let the worker fire a batch of orders at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from agorakit.errors import Conflict
from agorakit.orders.process import Process, ProcessError, Transition
from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.orders.engine import TransitionContext
    from agorakit.runtime import Runtime


@runtime_checkable
class SetForm(Protocol):
    """A guard or an effect (``agorakit_order_guards``/``agorakit_order_effects``) that has
    its set form, as :func:`set_form` makes it.

    Called with one :class:`TransitionContext` it is the single form (a guard returns a
    reason or None, an effect nothing; either may be async).  ``many(contexts)`` is the set
    form: one call for a batch of orders (a guard returns one reason or None per context).
    Guards and effects without ``many`` are plain callables of one context.
    """

    many: Callable[[list[TransitionContext]], Any]

    def __call__(self, context: TransitionContext, /) -> Any: ...


class Registry:
    """The processes, guards and effects of a site, checked against each other."""

    def __init__(self, runtime: Runtime) -> None:
        try:
            self._collect(runtime)
        except (ValueError, ProcessError) as exc:
            raise ConfigError(f"{runtime.settings.source}: {exc}") from exc

    def _collect(self, runtime: Runtime) -> None:
        self.processes: dict[tuple[str, int], Process] = {}
        for process in runtime.hooks.collect_sync("agorakit_processes", runtime=runtime):
            key = (process.name, process.version)
            if key in self.processes:
                message = f"two plugins define process {process.name} v{process.version}"
                raise ValueError(message)
            self.processes[key] = process
        self.guards = _named(runtime.hooks.collect_sync("agorakit_order_guards"), "guard")
        self.effects = _named(runtime.hooks.collect_sync("agorakit_order_effects"), "effect")
        for process in self.processes.values():
            for t in process.transitions:
                for name in t.guards:
                    if name not in self.guards:
                        raise ValueError(f"process {process.name}: no plugin provides guard {name!r}")
                for name in t.effects:
                    if name not in self.effects:
                        raise ValueError(f"process {process.name}: no plugin provides effect {name!r}")

    def latest(self, name: str) -> Process:
        versions = [p for (n, _), p in self.processes.items() if n == name]
        if not versions:
            message = f"there is no process {name!r}"
            raise LookupError(message)
        return max(versions, key=lambda p: p.version)

    def get(self, name: str, version: int) -> Process:
        process = self.processes.get((name, version))
        if process is None:
            message = (
                f"this order follows process {name} v{version}, which no enabled plugin provides any more; "
                "re-enable the plugin version that defines it"
            )
            raise Conflict(message)
        return process


def _named(results: list[dict[str, Any] | None], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for result in results:
        for name, function in (result or {}).items():
            if name in out:
                message = f"two plugins provide an order {what} named {name!r}"
                raise ValueError(message)
            out[name] = function
    return out


def registry(runtime: Runtime) -> Registry:
    found = getattr(runtime, "_orders_registry", None)
    if found is None:
        found = runtime._orders_registry = Registry(runtime)
    return found


def set_form(
    many: Callable[[list[TransitionContext]], Any],
) -> Callable[[Callable[[TransitionContext], Any]], SetForm]:
    """Give a guard or an effect its set form, which the worker uses to fire a batch of
    due timers' transitions together instead of one order at a time::

        async def release_escrow_many(contexts): ...  # one posting call for all of them

        @set_form(release_escrow_many)
        async def release_escrow(ctx):
            await release_escrow_many([ctx])  # one write path: the set of one

    ``many(contexts)`` gets the :class:`TransitionContext` of every order of the batch
    (one process, one transition, in order) and must leave the database as calling the
    single form on each in turn would: an effect returns nothing, a guard returns one
    reason (or None) per context.  A transition fires as a set only when all its guards
    and effects have one; if ``many`` raises, the batch's set is rolled back and its
    orders fire one at a time, so the single form decides what fails.
    """

    def attach(single: Callable[[TransitionContext], Any]) -> SetForm:
        form = cast("SetForm", single)
        form.many = many
        return form

    return attach


def fires_as_set(runtime: Runtime, transition: Transition) -> bool:
    """Whether the worker may fire ``transition`` on a batch of orders at once."""
    reg = registry(runtime)
    return all(isinstance(reg.guards[name], SetForm) for name in transition.guards) and all(
        isinstance(reg.effects[name], SetForm) for name in transition.effects
    )
