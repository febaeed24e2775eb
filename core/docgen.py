"""Generates the reference docs: ``docs/hooks.md`` from the hookspec docstrings
(``agorakit docs hooks``) and ``docs/events.md`` from the domain event classes
(``agorakit docs events``)."""

from __future__ import annotations

import importlib
import inspect
import re
import types

import msgspec

from agorakit import hookspecs
from agorakit.events.public import type_name
from agorakit.hooks import AREA_HOOKSPECS, Hooks, collect, get_plugin_manager, shipped_plugins
from agorakit.settings import field_docs

HEADER = """# Hook reference

Generated from `core/hookspecs.py`, the hooks core areas define (`core/accounts/hookspecs.py`,
`core/catalog/hookspecs.py`, `core/attachments/hookspecs.py`, `core/money/hookspecs.py`,
`core/disputes/hookspecs.py`, `core/messaging/hookspecs.py`, `core/support/hookspecs.py`),
the worker's (`core/worker_hookspecs.py`) and the testing kit's (`core/factories.py`) by
`agorakit docs hooks`; do not edit by hand.
Implement a hook with `@agorakit.hookimpl` on a function of the same name; see
[writing a plugin](plugins.md).  Hooks are called with keyword arguments, and an
implementation may accept any subset of the parameters.

"""


def hookspec_modules() -> list[types.ModuleType]:
    """:mod:`agorakit.hookspecs`, then the modules of the hooks core areas, the worker and
    the testing kit define."""
    return [hookspecs, *(importlib.import_module(name) for name in AREA_HOOKSPECS)]


def hookspec_functions() -> list:
    """Every hookspec, in the order of the reference: module by module, as written."""
    found = []
    for module in hookspec_modules():
        specs = [
            fn
            for name, fn in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("agorakit_") and fn.__module__ == module.__name__
        ]
        found += sorted(specs, key=lambda fn: fn.__code__.co_firstlineno)
    return found


def hook_reference() -> str:
    parts = [HEADER, "| hook | kind |\n|---|---|\n"]
    specs = hookspec_functions()
    for fn in specs:
        parts.append(f"| [`{fn.__name__}`](#{fn.__name__}) | {_kind(fn)} |\n")
    for fn in specs:
        signature = str(inspect.signature(fn)).replace("'", "")
        parts.append(f"\n## {fn.__name__}\n\n```python\n{fn.__name__}{signature}\n```\n\n")
        parts.append(f"*{_kind(fn)}*\n\n{inspect.cleandoc(fn.__doc__ or '')}\n")
    return "".join(parts)


def _kind(fn) -> str:
    opts = getattr(fn, "agorakit_spec", {}) or {}
    if opts.get("firstresult"):
        return "first result wins (stops at the first non-None result)"
    if opts.get("historic"):
        return "historic (registration)"
    return "collect: every plugin's result is used"


# --------------------------------------------------------------------------------------
# docs/events.md: the domain event classes
# --------------------------------------------------------------------------------------

EVENTS_HEADER = """# Domain events

Generated from the event classes by `agorakit docs events`, except the part written by
hand at the end ([when handlers run](#when-handlers-run), and [the event
feed](#the-event-feed): reading every stored event in order from a position of one's
own), which the command keeps.  Every event the core and the shipped plugins record,
with its typed facts.

An event reaches `agorakit_on_event` and `agorakit_on_events` handlers (and
`agorakit_notify`) after its transaction commits, or inside it for a handler that asks
([when handlers run](#when-handlers-run)), in a `DomainEvent` envelope:

| envelope field | what it is |
|---|---|
| `id` | the stored event's id, unique: handlers deduplicate on it (delivery is at least once) |
| `name` | the event's name, e.g. `order.transitioned` |
| `at` | when it happened (the site's clock) |
| `subject` | what it happened to, e.g. `order:40` |
| `actor_id` | the member who caused it; null for the system (timers, the worker) |
| `payload` | the typed event: an instance of the class below (None for a name no plugin registered) |
| `data` | the payload as a JSON object (for templates and webhooks) |

A handler tells events apart by their class, `isinstance(event.payload, OrderTransitioned)`;
a plugin declares its own classes (subclasses of `agorakit.events.Event`) with the hook
`agorakit_event_types` ([hooks](hooks.md#agorakit_event_types)).  Amounts are integers in
minor units of the event's currency.

Outside the site, the events feed (`GET /events`) and webhooks send an event in its
public form (`agorakit.events.public_event`): `{"id": "evt_41", "type":
"order.transitioned", "created_at": "...Z", "data": {...}}`, where `data` is the fields
below except those marked *not sent outside the site* (a private message's text, say).

"""


def event_classes() -> list[tuple[str, list[type]]]:
    """The registered event classes of the core and every shipped plugin, by the plugin
    that registers them (core areas first, in registration order)."""

    pm = get_plugin_manager(shipped_plugins(), source="agorakit docs events")
    groups: list[tuple[str, list[type]]] = []
    for impl in reversed(Hooks(pm).implementations("agorakit_event_types")):  # registration order
        classes = collect([impl.function()])
        if classes:
            groups.append((_group_name(impl.plugin_name), classes))
    return groups


def _group_name(plugin_name: str) -> str:
    if plugin_name.startswith("agorakit.") and plugin_name.endswith(".plugin"):
        return plugin_name.split(".")[1]  # agorakit.orders.plugin: the orders area
    return f"{plugin_name} plugin"


#: the marks around the part of docs/events.md written by hand, which
#: ``agorakit docs events`` keeps as it is
HAND_WRITTEN_START = "<!-- written by hand from here: `agorakit docs events` keeps it -->\n"
HAND_WRITTEN_END = "<!-- end of the part written by hand -->\n"


def hand_written_part(text: str) -> str:
    """The part of ``text`` (docs/events.md as it is) between the two marks; empty when
    it has none."""
    start, end = text.find(HAND_WRITTEN_START), text.find(HAND_WRITTEN_END)
    if start < 0 or end < start:
        return ""
    return text[start + len(HAND_WRITTEN_START) : end]


def event_reference(current: str = "") -> str:
    """docs/events.md: the reference generated from the event classes, and the part
    written by hand of ``current`` (the file as it is)."""
    groups = event_classes()
    parts = [EVENTS_HEADER, "| event | class | registered by |\n|---|---|---|\n"]
    for group, classes in groups:
        for cls in classes:
            parts.append(f"| [`{cls.name}`](#{_anchor(cls.name)}) | `{_qualified(cls)}` | {group} |\n")
    for group, classes in groups:
        parts.append(f"\n## {group}\n")
        for cls in classes:
            parts.append(f"\n### `{cls.name}`\n\n`{_qualified(cls)}`\n\n")
            doc = inspect.cleandoc(cls.__doc__ or "")
            if doc:
                parts.append(f"{doc}\n\n")
            parts.append(_fields_table(cls))
    parts += ["\n", HAND_WRITTEN_START, hand_written_part(current), HAND_WRITTEN_END]
    return "".join(parts)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _anchor(name: str) -> str:
    """GitHub's anchor of a heading ``name`` (code spans and dots dropped)."""
    return re.sub(r"[^a-z0-9_\- ]", "", name.lower()).replace(" ", "-")


def _fields_table(cls: type) -> str:

    fields = msgspec.structs.fields(cls)
    if not fields:
        return "No fields: the envelope's `subject` says what it is about.\n"
    comments = {name: text.replace("|", "\\|") for name, text in field_docs(cls).items()}
    rows = ["| field | type | notes |\n|---|---|---|\n"]
    private = getattr(cls, "private_fields", frozenset())
    for field in fields:
        notes = comments.get(field.name, "")
        if field.name in private:
            notes = f"{notes}; not sent outside the site" if notes else "not sent outside the site"
        if field.default is not msgspec.NODEFAULT:
            default = f"default `{field.default!r}`"
            notes = f"{notes}; {default}" if notes else default
        kind = type_name(field.type).replace("|", "\\|")  # a pipe in a table cell is escaped
        cells = [f"`{field.name}`", f"`{kind}`", notes]
        rows.append("| " + " | ".join(cells).rstrip() + " |\n")
    return "".join(rows)
