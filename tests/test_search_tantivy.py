"""Search ranked by a search engine plugin: the ``agorakit_rank_listings`` hook, and the
shipped ``search_tantivy`` plugin (a tantivy index kept in step by the listing events)."""

from __future__ import annotations

import logging

import pytest
from catalog_helpers import CatalogTestPlugin, make_categories, publish

import agorakit


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def all_pages(client, params: dict) -> list[int]:
    """Every id of a search, page after page."""
    seen, cursor = [], None
    while True:
        page = await client.get("/listings", params={**params, **({"cursor": cursor} if cursor else {})})
        seen += ids(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return seen


@pytest.fixture
async def people(client, make_member):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    return operator, seller


# --------------------------------------------------------------------------------------
# The hook, with a ranking given by the test
# --------------------------------------------------------------------------------------


class FixedRanking:
    """Ranks the ids it is given, in that order, for any search."""

    def __init__(self) -> None:
        self.order: list[int] | None = []
        self.calls: list[tuple[list[str], int, int]] = []

    @agorakit.hookimpl
    def agorakit_rank_listings(self, runtime, words, offset, limit):
        self.calls.append((words, offset, limit))
        return None if self.order is None else self.order[offset : offset + limit]


class TestTheHook:
    @pytest.fixture
    def site_config(self):
        return {}  # the test's ranking only, not the tantivy plugin

    @pytest.fixture
    def ranking(self):
        return FixedRanking()

    @pytest.fixture
    def extra_plugins(self, ranking):
        return [("catalog-test", CatalogTestPlugin()), ("ranking", ranking)]

    async def test_hook_agorakit_rank_listings(self, client, people, ranking):
        """The plugin's order is the page's; the database keeps out what is not published
        or fails a filter, and pages go on where the ranking left off."""
        operator, seller = people
        logos = [(await publish(client, seller, operator, title=f"Logo {n}"))["id"] for n in range(5)]
        article = (
            await publish(client, seller, operator, title="Logo article", category="writing", kind="gig")
        )["id"]
        paused = (await publish(client, seller, operator, title="Logo paused"))["id"]
        assert (await client.post(f"/listings/{paused}/pause", headers=seller.headers)).status_code == 200
        ranking.order = [logos[3], paused, 999_999, article, logos[0], logos[4], logos[1], logos[2]]

        assert ids(await client.get("/listings", params={"q": "Logo"})) == [
            logos[3],
            article,
            logos[0],
            logos[4],
            logos[1],
            logos[2],
        ]
        assert ranking.calls[-1] == (["logo"], 0, 100)
        # A filter: the writing article goes; pages of two follow the ranking.
        pages = await all_pages(client, {"q": "logo", "category": "design", "limit": 2})
        assert pages == [logos[3], logos[0], logos[4], logos[1], logos[2]]
        # The database ranks when the plugin declines (None): every match, by its own score.
        ranking.order = None
        assert sorted(ids(await client.get("/listings", params={"q": "logo"}))) == sorted([*logos, article])

    async def test_a_page_asks_for_more_of_the_ranking_until_it_is_full(self, client, people, ranking):
        operator, seller = people
        wanted = (await publish(client, seller, operator, title="Logo in writing", category="writing"))["id"]
        others = [(await publish(client, seller, operator, title=f"Logo {n}"))["id"] for n in range(3)]
        # 250 ranked ids before the one match of the filter: slices of 100, then 400
        ranking.order = [*([others[0]] * 250), wanted, *others]
        assert ids(await client.get("/listings", params={"q": "logo", "category": "writing"})) == [wanted]
        assert [(offset, limit) for _, offset, limit in ranking.calls] == [(0, 100), (100, 400)]

    async def test_forged_cursors_are_refused_or_end_the_list(self, client, people, ranking, problem):
        from agorakit.catalog.search import RANK_DEPTH
        from agorakit.pagination import encode_cursor

        operator, seller = people
        listing = (await publish(client, seller, operator, title="Logo deep"))["id"]
        ranking.order = [listing]
        before_start = encode_cursor({"r": -5, "id": listing})
        problem(
            await client.get("/listings", params={"q": "logo", "cursor": before_start}),
            422,
            "validation_error",
            fields={"cursor"},
        )
        ranking.calls.clear()
        for deep in (RANK_DEPTH, 2**62):
            response = await client.get(
                "/listings", params={"q": "logo", "cursor": encode_cursor({"r": deep, "id": 1})}
            )
            assert response.json() == {"items": [], "next_cursor": None}
        assert ranking.calls == []  # nothing asked beyond the depth

    async def test_a_cursor_of_the_other_ranking_is_refused(self, client, people, ranking, problem):
        operator, seller = people
        for n in range(3):
            await publish(client, seller, operator, title=f"Logo {n}")
        ranking.order = None
        database_cursor = (await client.get("/listings", params={"q": "logo", "limit": 1})).json()[
            "next_cursor"
        ]
        ranking.order = []
        response = await client.get("/listings", params={"q": "logo", "cursor": database_cursor})
        problem(response, 422, "validation_error", fields={"cursor"})


class Declining:
    """An async ranker that declines every search (returns None), asked before the others."""

    def __init__(self) -> None:
        self.calls = 0

    @agorakit.hookimpl
    async def agorakit_rank_listings(self, runtime, words, offset, limit):
        self.calls += 1
        return None


class TestAnAsyncRankerDeclining:
    @pytest.fixture
    def site_config(self):
        return {}

    @pytest.fixture
    def declining(self):
        return Declining()

    @pytest.fixture
    def ranking(self):
        return FixedRanking()

    @pytest.fixture
    def extra_plugins(self, ranking, declining):
        # the last registered is asked first: the declining one, then the fixed ranking
        return [("catalog-test", CatalogTestPlugin()), ("ranking", ranking), ("declining", declining)]

    async def test_the_next_ranker_answers(self, client, people, ranking, declining):
        operator, seller = people
        logos = [(await publish(client, seller, operator, title=f"Logo {n}"))["id"] for n in range(3)]
        ranking.order = [logos[2], logos[0], logos[1]]
        assert ids(await client.get("/listings", params={"q": "logo"})) == [logos[2], logos[0], logos[1]]
        assert declining.calls == 1 and ranking.calls == [(["logo"], 0, 100)]


# --------------------------------------------------------------------------------------
# The tantivy plugin
# --------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["search_tantivy"]},
        "plugins": {"search_tantivy": {"index_dir": str(tmp_path / "index"), "refresh_seconds": 0}},
    }


@pytest.fixture
def extra_plugins():
    return [("catalog-test", CatalogTestPlugin())]


@pytest.fixture
async def following(runtime):
    """This process follows the listing events, as a served app does (its start-up hook),
    and has built its index (a new folder) before the test begins."""
    from agorakit.events.follow import start_followers, stop_followers
    from agorakit.plugins.search_tantivy.service import listing_follower

    followers = await start_followers(runtime)
    assert followers == [listing_follower(runtime)]
    assert await listing_follower(runtime).catch_up(timeout=30)
    yield listing_follower(runtime)
    await stop_followers(followers)


def stored_position(tmp_path):
    from agorakit.events import FeedPosition

    return FeedPosition.decode((tmp_path / "index" / "agorakit-position.json").read_bytes())


async def test_tantivy_ranks_title_matches_first_and_follows_every_change(client, people, following):
    operator, seller = people
    in_description = await publish(
        client,
        seller,
        operator,
        title="Brand identity pack",
        description="Includes a watercolor logo and cards.",
    )
    in_title = await publish(
        client, seller, operator, title="Watercolor logo painting", description="Hand painted, scanned."
    )
    draft = await client.post(
        "/listings",
        json={
            "kind": "gig",
            "title": "Watercolor portrait",
            "description": "watercolor watercolor",
            "price": {"amount": "25.00", "currency": "USD"},
            "category": "logo-design",
            "attributes": {"delivery_days": 3},
        },
        headers=seller.headers,
    )
    assert draft.status_code == 201, draft.text

    # Title counts above description; a draft is not in the index.
    assert ids(await client.get("/listings", params={"q": "watercolor"})) == [
        in_title["id"],
        in_description["id"],
    ]
    # Every word must match; stems match ("paints" finds "painting"), case does not matter.
    assert ids(await client.get("/listings", params={"q": "WATERCOLOR cards"})) == [in_description["id"]]
    assert ids(await client.get("/listings", params={"q": "paints"})) == [in_title["id"]]
    assert ids(await client.get("/listings", params={"q": "nothing-like-this"})) == []
    assert ids(await client.get("/listings", params={"q": '"logo" (painting*'})) == [in_title["id"]]
    # Paused: gone; resumed: back.
    await client.post(f"/listings/{in_title['id']}/pause", headers=seller.headers)
    assert ids(await client.get("/listings", params={"q": "watercolor"})) == [in_description["id"]]
    await client.post(f"/listings/{in_title['id']}/resume", headers=seller.headers)
    assert ids(await client.get("/listings", params={"q": "watercolor"})) == [
        in_title["id"],
        in_description["id"],
    ]
    # An edit goes back to review (out of the index) and is found by its new text once approved.
    await client.patch(
        f"/listings/{in_description['id']}",
        json={"description": "Business cards only."},
        headers=seller.headers,
    )
    assert ids(await client.get("/listings", params={"q": "watercolor"})) == [in_title["id"]]
    await client.post(f"/operator/listings/{in_description['id']}/approve", headers=operator.headers)
    assert ids(await client.get("/listings", params={"q": "business"})) == [in_description["id"]]
    assert ids(await client.get("/listings", params={"q": "watercolor"})) == [in_title["id"]]
    # Other sorts are the database's, as without the plugin.
    newest = ids(await client.get("/listings", params={"q": "logo", "sort": "newest"}))
    assert newest == [in_title["id"]]


async def test_tantivy_pages_hold_every_match_once_with_filters(client, people, following):
    operator, seller = people
    design = [(await publish(client, seller, operator, title=f"Logo number {n}"))["id"] for n in range(23)]
    writing = [
        (await publish(client, seller, operator, title=f"Logo story {n}", category="writing"))["id"]
        for n in range(4)
    ]
    everything = await all_pages(client, {"q": "logo", "limit": 5})
    assert sorted(everything) == sorted(design + writing) and len(everything) == 27
    assert sorted(await all_pages(client, {"q": "logo", "category": "writing", "limit": 3})) == sorted(
        writing
    )
    cheap = await all_pages(client, {"q": "logo", "max_price": "10.00"})
    assert cheap == []


async def test_the_index_keeps_its_position_in_its_folder_after_each_commit(
    client, people, runtime, following, tmp_path
):
    from agorakit.events import FeedPosition, last_event_id

    operator, seller = people
    built = stored_position(tmp_path)  # the new folder was built at the head
    assert built == FeedPosition(after=await last_event_id(runtime))
    listing = await publish(client, seller, operator, title="Logo kept")
    assert await following.catch_up(timeout=10)
    assert stored_position(tmp_path) == FeedPosition(after=await last_event_id(runtime))
    assert stored_position(tmp_path).after > built.after
    assert ids(await client.get("/listings", params={"q": "kept"})) == [listing["id"]]


async def test_a_process_started_again_catches_up_from_its_stored_position(
    client, people, runtime, following, tmp_path, caplog
):
    """Stopped, it misses the changes; started again (a new process on the same folder),
    it applies them from the position it stored, without building the index anew."""
    from agorakit.events.follow import start_followers, stop_followers
    from agorakit.plugins.search_tantivy.service import listing_follower, listing_index

    operator, seller = people
    shown = await publish(client, seller, operator, title="Logo shown")
    await following.stop()
    stopped_at = stored_position(tmp_path)
    later = await publish(client, seller, operator, title="Logo later")
    await client.post(f"/listings/{shown['id']}/pause", headers=seller.headers)
    assert stored_position(tmp_path) == stopped_at  # nobody follows
    assert listing_index(runtime).rank(["logo"], 0, 10) == [shown["id"]]

    # a new process: its own handles on the same folder
    runtime._search_index = runtime._search_follower = None
    caplog.set_level(logging.INFO, logger="agorakit.search")
    caplog.clear()
    followers = await start_followers(runtime)
    try:
        assert await listing_follower(runtime).catch_up(timeout=30)
        assert listing_index(runtime).rank(["logo"], 0, 10) == [later["id"]]
        assert stored_position(tmp_path).after > stopped_at.after
        assert "building the search index" not in caplog.text
    finally:
        await stop_followers(followers)


async def test_a_lost_folder_is_built_again_and_rebuild_resets_the_position(
    client, people, runtime, following, tmp_path
):
    """After enabling the plugin on a site with listings, or losing the folder."""
    import shutil

    from agorakit.events import FeedPosition, last_event_id
    from agorakit.plugins.search_tantivy.service import listing_follower, listing_index, rebuild

    operator, seller = people
    shown = [(await publish(client, seller, operator, title=f"Logo {n}"))["id"] for n in range(3)]
    hidden = (await publish(client, seller, operator, title="Logo closed"))["id"]
    await client.post(f"/listings/{hidden}/close", headers=seller.headers)
    # The folder is lost: a new, empty one ranks nothing, and the database ranks instead
    # until the follower has built it again from the database.
    await following.stop()
    shutil.rmtree(tmp_path / "index")
    runtime._search_index = None
    assert listing_index(runtime).rank(["logo"], 0, 10) is None
    assert sorted(ids(await client.get("/listings", params={"q": "logo"}))) == sorted(shown)
    await following.start(runtime)
    assert await following.catch_up(timeout=30)
    assert sorted(listing_index(runtime).rank(["logo"], 0, 10)) == sorted(shown)
    assert stored_position(tmp_path) == FeedPosition(after=await last_event_id(runtime))

    # rebuild: the index anew, and its position at the head of the feed
    (tmp_path / "index" / "agorakit-position.json").write_bytes(FeedPosition(after=1).encode())
    assert await rebuild(runtime) == 3
    assert stored_position(tmp_path) == FeedPosition(after=await last_event_id(runtime))
    assert sorted(listing_index(runtime).rank(["logo"], 0, 10)) == sorted(shown)
    assert sorted(ids(await client.get("/listings", params={"q": "logo"}))) == sorted(shown)
    assert listing_index(runtime).count() == 3
    assert listing_follower(runtime) is following


async def test_a_position_past_the_last_event_means_another_database_and_a_new_build(
    client, people, runtime, following, tmp_path, caplog
):
    """The folder was fed from another database (a copied folder, a restored backup)."""
    from agorakit.events import FeedPosition, last_event_id
    from agorakit.events.follow import start_followers, stop_followers
    from agorakit.plugins.search_tantivy.service import listing_follower, listing_index

    operator, seller = people
    listing = await publish(client, seller, operator, title="Logo here")
    await following.stop()
    (tmp_path / "index" / "agorakit-position.json").write_bytes(FeedPosition(after=10**6).encode())
    runtime._search_index = runtime._search_follower = None
    caplog.set_level(logging.INFO, logger="agorakit.search")
    followers = await start_followers(runtime)
    try:
        assert await listing_follower(runtime).catch_up(timeout=30)
        assert "is past the last event" in caplog.text
        assert "building the search index" in caplog.text
        assert stored_position(tmp_path) == FeedPosition(after=await last_event_id(runtime))
        assert listing_index(runtime).rank(["logo"], 0, 10) == [listing["id"]]
    finally:
        await stop_followers(followers)


async def test_another_process_writing_leaves_the_batch_to_it(client, people, runtime, following, tmp_path):
    """Processes of one host share the folder: while another holds the writer's lock, this
    one neither writes nor moves the position; the events are applied once it is free."""
    from agorakit.plugins.search_tantivy.service import listing_index

    operator, seller = people
    index = listing_index(runtime)
    before = stored_position(tmp_path)
    writer = index.index.writer(heap_size=15_000_000, num_threads=1)  # "another process"
    try:
        listing = await publish(client, seller, operator, title="Logo again")
        assert await following.catch_up(timeout=10)  # the round ran, and left it
        assert stored_position(tmp_path) == before
        assert index.count() == 0
    finally:
        writer.rollback()
        writer.wait_merging_threads()
    assert await following.catch_up(timeout=10)  # the lock is free again
    assert index.rank(["again"], 0, 10) == [listing["id"]]
    assert stored_position(tmp_path).after > before.after


async def test_a_listing_event_only_asks_a_running_follower(client, people, runtime):
    """In a process that follows nothing (the worker, a command), a listing event leaves
    the index alone: the served processes apply it from the feed."""
    from agorakit.plugins.search_tantivy.service import listing_follower, listing_index

    operator, seller = people
    await publish(client, seller, operator, title="Logo unseen")
    assert not listing_follower(runtime).running
    assert listing_index(runtime).count() == 0
    assert not (listing_index(runtime).position_path).exists()


def test_the_cli_rebuilds_counts_and_tells_the_status(tmp_path):
    """``agorakit search-index rebuild``, ``count`` and ``status``, on a site that enables
    the plugin; the index folder is relative to the config file's."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    config = tmp_path / "site.toml"
    config.write_text(
        '[site]\nplugins = ["search_tantivy"]\n[auth]\njwt_secret = "' + "k" * 40 + '"\n'
        f'[database]\nurl = "sqlite:///{tmp_path}/site.sqlite3"\n',
        encoding="utf-8",
    )
    agorakit = Path(sys.executable).parent / "agorakit"
    env = {**os.environ, "AGORAKIT_CONFIG": str(config)}

    def run(*args: str) -> str:
        done = subprocess.run([agorakit, *args], env=env, capture_output=True, text=True, cwd="/")
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    run("migrate")
    assert run("search-index", "status") == (
        "position: none (the index is built when the app starts, or by `agorakit search-index rebuild`)"
    )
    assert run("search-index", "rebuild") == "indexed 0 published listings"
    assert run("search-index", "count") == "0"
    assert (tmp_path / "search-index").is_dir()
    assert run("search-index", "status") == "position: event 0\nbacklog: 0 listing events after it"


async def test_the_status_tells_the_position_what_is_awaited_and_the_backlog(
    client, people, runtime, following, tmp_path
):
    from agorakit.events import FeedGap, FeedPosition
    from agorakit.plugins.search_tantivy.service import status_lines

    operator, seller = people
    await publish(client, seller, operator, title="Logo one")
    await following.stop()
    head = stored_position(tmp_path)
    assert await status_lines(runtime) == [
        f"position: event {head.after}",
        "backlog: 0 listing events after it",
    ]
    # created, submitted and approved: three listing events (and others, not counted)
    await publish(client, seller, operator, title="Logo two")
    assert (await status_lines(runtime))[-1] == "backlog: 3 listing events after it"
    awaited = FeedPosition(
        after=head.after, missing=tuple(FeedGap(i, runtime.wall_clock.now()) for i in range(1, 13))
    )
    (tmp_path / "index" / "agorakit-position.json").write_bytes(awaited.encode())
    assert await status_lines(runtime) == [
        f"position: event {head.after}",
        "awaited: 12 events below it not committed yet (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...)",
        # the awaited ids that are stored count too
        f"backlog: {await listing_events(runtime, lambda i: i <= 12 or i > head.after)} listing events after it",
    ]
    assert await listing_events(runtime, lambda i: i > head.after) == 3


async def listing_events(runtime, which) -> int:
    """How many stored listing events have ids ``which`` accepts."""
    from agorakit.events import FeedPosition, read_feed
    from agorakit.plugins.search_tantivy.service import listing_event_names

    batch = await read_feed(runtime, FeedPosition(), names=listing_event_names(runtime), limit=10_000)
    return sum(1 for event in batch.events if which(event.id))


async def test_words_the_index_cannot_parse_are_ranked_by_the_database(client, people, runtime, monkeypatch):
    from agorakit.plugins.search_tantivy.service import listing_index

    operator, seller = people
    listing = await publish(client, seller, operator, title="Logo fallback")
    index = listing_index(runtime)

    class Refusing:  # the real index, but its query parser refuses
        def __init__(self, real):
            self.real = real

        def __getattr__(self, name):
            return getattr(self.real, name)

        def parse_query(self, *args, **kwargs):
            raise ValueError("Syntax Error")

    monkeypatch.setattr(index, "index", Refusing(index.index))
    assert ids(await client.get("/listings", params={"q": "fallback"})) == [listing["id"]]
