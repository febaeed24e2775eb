"""search_tantivy on a site served by several hosts and processes: each host keeps its own
index in its own folder, fed from the event feed (PostgreSQL, the database hosts share),
and the processes of one host share its folder (both engines).

A "host" here is an app of its own, served (its start-up and shut-down hooks run), with a
runtime of its own whose settings name the host's index folder.  One Python process binds
every table to one database engine, so the hosts share the test's connection pool; what
the test is about is theirs alone: the folder, the follower and the process
registration.  An event is delivered to the handlers of the process that committed it
only, so another host learns of a change through the feed alone.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from catalog_helpers import CatalogTestPlugin, make_categories, publish

from agorakit.app import app_for_runtime
from agorakit.events import FeedPosition, last_event_id
from agorakit.plugins.search_tantivy.service import listing_follower, listing_index
from agorakit.runtime import Runtime
from agorakit.settings import settings_from_dict
from agorakit.testing import TEST_DEFAULTS, deep_merge

#: how often each host reads the feed in these tests
REFRESH = 0.2
#: how long a change may take to reach another host here (a few polls, on a busy machine)
DEADLINE = 15.0


@pytest.fixture
def site_config():
    return {"site": {"plugins": ["search_tantivy"]}}


@pytest.fixture
def extra_plugins():
    return [("catalog-test", CatalogTestPlugin())]


class SharedDatabase:
    """The test's database as a host sees it: its shut-down leaves it open for the others."""

    def __init__(self, db: Any) -> None:
        self._db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    async def close(self) -> None:
        pass


class Host:
    """One app process of the site, with ``folder`` as its index folder."""

    def __init__(self, name: str, folder: Path, *, database_url: str, pm: Any, db: Any, clock: Any) -> None:
        self.name = name
        self.folder = folder
        config = deep_merge(
            TEST_DEFAULTS,
            {
                "database": {"url": database_url},
                "site": {"plugins": ["search_tantivy"]},
                "plugins": {"search_tantivy": {"index_dir": str(folder), "refresh_seconds": REFRESH}},
            },
        )
        self.settings = settings_from_dict(config, source="test settings", environ={}, pm=pm)
        self.pm, self.db, self.clock = pm, db, clock
        self.runtime: Runtime | None = None
        self.client: httpx.AsyncClient | None = None
        self._serving: asyncio.Task | None = None
        self._stop = asyncio.Event()

    async def start(self) -> Host:
        """Start the process: a new runtime and app, served (its start-up hooks run)."""
        runtime = Runtime(self.settings, pm=self.pm, clock=self.clock)
        runtime.db = SharedDatabase(self.db)  # pyright: ignore[reportAttributeAccessIssue]
        self.db.bind(runtime.apps)  # the tables keep the test's engine
        app = app_for_runtime(runtime)
        started = asyncio.Event()
        self._stop = asyncio.Event()

        async def serve() -> None:  # what a server does with the app's lifespan
            async with app.lifespan():
                started.set()
                await self._stop.wait()

        self._serving = asyncio.get_running_loop().create_task(serve())
        await asyncio.wait_for(started.wait(), 30)
        self.runtime = runtime
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)), base_url="http://testserver"
        )
        return self

    async def stop(self) -> None:
        """Stop it cleanly (its shut-down hooks: the follower first)."""
        if self._serving is not None:
            serving, self._serving = self._serving, None
            self._stop.set()
            await asyncio.wait_for(serving, 30)
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    @property
    def position(self) -> FeedPosition:
        return FeedPosition.decode((self.folder / "agorakit-position.json").read_bytes())

    def ranks(self, *words: str) -> list[int]:
        """What this host's own index ranks for ``words`` (not the database's fallback)."""
        assert self.runtime is not None
        return listing_index(self.runtime).rank(list(words), 0, 100) or []

    async def built(self) -> None:
        """Wait until its follower has built (or caught up) the index."""
        assert self.runtime is not None
        assert await listing_follower(self.runtime).catch_up(timeout=60)


async def eventually(check, what: str) -> None:
    """Poll ``check()`` until it is true, at most :data:`DEADLINE` seconds."""
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {DEADLINE} s: {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def hosts(runtime, database_url, plugin_manager, clock, tmp_path):
    """Make hosts on the test's database; every one still running is stopped at the end."""
    made: list[Host] = []

    def make(name: str, folder: Path | None = None) -> Host:
        host = Host(
            name,
            folder or tmp_path / name,
            database_url=database_url,
            pm=plugin_manager,
            db=runtime.db,
            clock=clock,
        )
        made.append(host)
        return host

    yield make
    for host in made:
        await host.stop()


@pytest.fixture
async def people(client, make_member):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    return operator, seller


async def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


@pytest.fixture
def builds(monkeypatch) -> list[Path]:
    """The folders whose index was built from the database, in order."""
    from agorakit.plugins.search_tantivy import service

    built: list[Path] = []
    build = service._build

    async def counting(runtime, write):
        built.append(write.index.folder)
        return await build(runtime, write)

    monkeypatch.setattr(service, "_build", counting)
    return built


async def test_each_host_follows_the_listing_events_in_its_own_folder(hosts, people, client, db_kind, builds):
    """A listing published through host A is found through host B within its polls, a
    paused one leaves B's index, and B stopped while A publishes catches up from its
    stored position when it starts again."""
    if db_kind != "postgres":
        pytest.skip("several hosts share a PostgreSQL database")
    operator, seller = people
    earlier = await publish(client, seller, operator, title="Pencil sketch")  # before the hosts start
    a, b = await hosts("a").start(), await hosts("b").start()
    await a.built()
    await b.built()
    assert a.ranks("pencil") == b.ranks("pencil") == [earlier["id"]]  # each built from the database
    assert sorted(builds) == sorted([a.folder, b.folder])

    assert a.client is not None and b.client is not None
    logo = await publish(a.client, seller, operator, title="Watercolor logo")
    await eventually(lambda: b.ranks("watercolor") == [logo["id"]], "B indexes the listing A published")
    assert await ids(await b.client.get("/listings", params={"q": "watercolor"})) == [logo["id"]]
    await eventually(lambda: a.ranks("watercolor") == [logo["id"]], "A indexes it too")

    paused = await a.client.post(f"/listings/{logo['id']}/pause", headers=seller.headers)
    assert paused.status_code == 200, paused.text
    await eventually(lambda: b.ranks("watercolor") == [], "the paused listing leaves B's index")
    assert b.ranks("pencil") == [earlier["id"]]

    # B stops; A goes on publishing
    await b.stop()
    stopped_at = b.position
    portrait = await publish(a.client, seller, operator, title="Watercolor portrait")
    resumed = await a.client.post(f"/listings/{logo['id']}/resume", headers=seller.headers)
    assert resumed.status_code == 200, resumed.text
    await eventually(
        lambda: sorted(a.ranks("watercolor")) == sorted([logo["id"], portrait["id"]]), "A indexes both"
    )
    assert b.position == stopped_at  # nobody writes B's folder meanwhile

    # B starts again: a new process on its folder, from its stored position
    b_again = await hosts("b-again", b.folder).start()
    await eventually(
        lambda: sorted(b_again.ranks("watercolor")) == sorted([logo["id"], portrait["id"]]),
        "B catches up from its stored position",
    )
    assert b_again.position.after > stopped_at.after
    assert sorted(builds) == sorted([a.folder, b.folder])  # caught up, not built anew
    await eventually(lambda: b_again.position.after == a.position.after, "both at the same position")


async def test_the_processes_of_one_host_share_its_folder(hosts, people, runtime, tmp_path):
    """Two app processes on one folder: one writes at a time (tantivy's lock), the other
    reloads what it committed; a change through either is found through both."""
    operator, seller = people
    folder = tmp_path / "shared"
    first, second = await hosts("first", folder).start(), await hosts("second", folder).start()
    await first.built()
    await second.built()
    assert first.client is not None and second.client is not None

    logo = await publish(first.client, seller, operator, title="Watercolor logo")
    await eventually(lambda: second.ranks("watercolor") == [logo["id"]], "the second process finds it")
    sketch = await publish(second.client, seller, operator, title="Pencil sketch")
    await eventually(lambda: first.ranks("pencil") == [sketch["id"]], "the first process finds it")
    # whichever process wrote it, the other one reloads it within refresh_seconds
    await eventually(lambda: second.ranks("pencil") == [sketch["id"]], "the second process finds it")
    assert await ids(await second.client.get("/listings", params={"q": "pencil"})) == [sketch["id"]]
    last = await last_event_id(runtime)
    await eventually(lambda: first.position.after >= last, "the folder's position reaches the last event")
    assert first.ranks("watercolor") == second.ranks("watercolor") == [logo["id"]]
