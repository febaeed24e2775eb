"""The hook facade (``runtime.hooks``) and typed domain events (``agorakit_event_types``)."""

from __future__ import annotations

import logging

import msgspec
import pytest

from agorakit import hookimpl
from agorakit.events import Event, EventTypes
from agorakit.events.outbox import republish_events
from agorakit.events.tables import StoredEvent
from agorakit.hooks import Hooks, get_plugin_manager
from agorakit.runtime import Runtime
from agorakit.settings import ConfigError


class ParcelShipped(Event, frozen=True, kw_only=True):
    name = "sample.parcel_shipped"
    parcel_id: int
    carrier: str
    weight_grams: int = 0


def hooks_with(*plugins: object) -> Hooks:
    return Hooks(get_plugin_manager([], extra=[(f"p{i}", p) for i, p in enumerate(plugins)]))


class Ranker:
    def __init__(self, result):
        self.result = result

    @hookimpl
    async def agorakit_rank_listings(self, words):
        return self.result


async def test_first_awaits_async_implementations_and_skips_their_none():
    # registered first runs last: the one returning None is asked first
    hooks = hooks_with(Ranker([7, 3]), Ranker(None))
    assert await hooks.first("agorakit_rank_listings", runtime=None, words=["x"], offset=0, limit=5) == [7, 3]
    assert await hooks_with(Ranker(None)).first("agorakit_rank_listings", words=[]) is None


async def test_collect_flattens_lists_skips_none_and_passes_only_accepted_arguments():
    class A:
        @hookimpl
        def agorakit_validate_listing(self, listing):
            return [f"a:{listing}"]

    class B:
        @hookimpl
        async def agorakit_validate_listing(self, listing, runtime):
            return None if runtime is None else f"b:{listing}"

    class C:
        @hookimpl(tryfirst=True)
        def agorakit_validate_listing(self):
            return ["c1", "c2"]

    hooks = hooks_with(A(), B(), C())
    assert await hooks.collect("agorakit_validate_listing", listing=1, runtime="rt") == [
        "c1",
        "c2",
        "b:1",
        "a:1",
    ]
    assert await hooks.collect("agorakit_validate_listing", listing=2, runtime=None) == ["c1", "c2", "a:2"]


async def test_collect_propagates_an_error_and_each_logs_it_and_goes_on(caplog):
    class Broken:
        @hookimpl
        def agorakit_demo_data(self):
            raise RuntimeError("broken plugin")

    class Fine:
        @hookimpl
        async def agorakit_demo_data(self, members):
            return len(members)

    hooks = hooks_with(Fine(), Broken())
    with pytest.raises(RuntimeError, match="broken plugin"):
        await hooks.collect("agorakit_demo_data", runtime=None, members={})
    with caplog.at_level(logging.ERROR, logger="agorakit.plugins"):
        assert await hooks.each("agorakit_demo_data", runtime=None, members={"a": 1}) == [1]
    assert "plugin p1 failed in agorakit_demo_data" in caplog.text


def test_sync_calls_refuse_an_async_start_up_implementation():
    class AsyncTables:
        @hookimpl
        async def agorakit_tables(self):
            return []

    with pytest.raises(ConfigError, match="plugin 'p0': agorakit_tables must not be async"):
        hooks_with(AsyncTables()).collect_sync("agorakit_tables")


def test_hook_agorakit_event_types():
    class Declares:
        @hookimpl
        def agorakit_event_types(self):
            return [ParcelShipped]

    types = EventTypes(hooks_with(Declares()).collect_sync("agorakit_event_types"))
    assert types.by_name["sample.parcel_shipped"] is ParcelShipped
    payload = types.payload("sample.parcel_shipped", {"parcel_id": 4, "carrier": "post"})
    assert payload == ParcelShipped(parcel_id=4, carrier="post")
    assert types.payload("sample.parcel_shipped", {"parcel_id": "four"}) is None  # not decodable
    assert types.payload("sample.unknown", {}) is None


def test_an_event_name_registered_twice_is_refused():
    class Other(Event, frozen=True):
        name = "sample.parcel_shipped"

    with pytest.raises(TypeError, match="registered twice"):
        EventTypes([ParcelShipped, Other])
    with pytest.raises(TypeError, match="not an Event subclass"):
        EventTypes([dict])


async def test_a_typed_event_reaches_handlers_typed_first_time_and_when_republished(runtime):
    seen = []

    class Declares:
        @hookimpl
        def agorakit_event_types(self):
            return [ParcelShipped]

        @hookimpl
        def agorakit_on_event(self, event):
            seen.append((event.name, event.subject, event.data, event.payload))

    pm = get_plugin_manager([], extra=[("declares", Declares())])
    rt = Runtime(runtime.settings, pm=pm, clock=runtime.clock)
    async with rt.unit_of_work() as uow:
        uow.record(
            ParcelShipped(parcel_id=9, carrier="post", weight_grams=1250), subject="parcel:9", actor_id=None
        )
    expected = ParcelShipped(parcel_id=9, carrier="post", weight_grams=1250)
    data = {"parcel_id": 9, "carrier": "post", "weight_grams": 1250}
    assert seen == [("sample.parcel_shipped", "parcel:9", data, expected)]

    # stored as name + JSON; decoded back to the typed event when delivered again
    row = await StoredEvent.select().where(StoredEvent.name == "sample.parcel_shipped").first()
    stored = row["data"] if isinstance(row["data"], dict) else msgspec.json.decode(row["data"])
    assert stored == data
    await StoredEvent.update({StoredEvent.status: "pending", StoredEvent.process_id: None}).where(
        StoredEvent.id == row["id"]
    )
    seen.clear()
    rt.clock.advance(seconds=120)
    await republish_events(rt)
    assert seen == [("sample.parcel_shipped", "parcel:9", data, expected)]


async def test_only_typed_events_are_recorded(runtime):
    async with runtime.unit_of_work() as uow:
        with pytest.raises(TypeError, match=r"record\(\) takes an agorakit\.events\.Event, not str"):
            uow.record("sample.parcel_shipped", subject="parcel:1")  # type: ignore[arg-type]
