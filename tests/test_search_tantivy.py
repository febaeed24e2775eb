"""Search ranked by a search engine plugin: the ``agorakit_rank_listings`` hook, and the
shipped ``search_tantivy`` plugin (a tantivy index kept in step by the listing events)."""

from __future__ import annotations

import pytest
from catalog_helpers import CatalogTestPlugin, make_categories, publish

import agorakit
from agorakit.events import EventsFailed


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


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["search_tantivy"]},
        "plugins": {"search_tantivy": {"index_dir": str(tmp_path / "index"), "refresh_seconds": 0}},
    }


@pytest.fixture
def extra_plugins():
    return [("catalog-test", CatalogTestPlugin())]


async def test_tantivy_ranks_title_matches_first_and_follows_every_change(client, people, clock):
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


async def test_tantivy_pages_hold_every_match_once_with_filters(client, people):
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


async def test_rebuild_indexes_the_published_listings_anew(client, people, runtime, tmp_path):
    """After enabling the plugin on a site with listings, or losing the folder."""
    import shutil

    from agorakit.plugins.search_tantivy.service import listing_index, rebuild

    operator, seller = people
    shown = [(await publish(client, seller, operator, title=f"Logo {n}"))["id"] for n in range(3)]
    hidden = (await publish(client, seller, operator, title="Logo closed"))["id"]
    await client.post(f"/listings/{hidden}/close", headers=seller.headers)
    # The index is lost: a new, empty one ranks nothing, and the database ranks instead.
    shutil.rmtree(tmp_path / "index")
    runtime._search_index = None
    assert sorted(ids(await client.get("/listings", params={"q": "logo"}))) == sorted(shown)
    assert listing_index(runtime).rank(["logo"], 0, 10) is None
    assert await rebuild(runtime) == 3
    assert sorted(listing_index(runtime).rank(["logo"], 0, 10)) == sorted(shown)
    assert sorted(ids(await client.get("/listings", params={"q": "logo"}))) == sorted(shown)
    assert listing_index(runtime).count() == 3


async def test_a_batch_meeting_another_writer_is_delivered_again(client, people, runtime):
    """Another process holding the index's write lock fails the listing events of the
    batch (the outbox delivers them again later); nothing else fails."""
    from agorakit.catalog import ListingUpdated
    from agorakit.events import DomainEvent
    from agorakit.plugins.search_tantivy.service import index_listing_events, listing_index

    operator, seller = people
    listing = await publish(client, seller, operator, title="Logo again")
    index = listing_index(runtime)
    writer = index.index.writer(heap_size=15_000_000, num_threads=1)  # "another process"
    try:
        events = [
            DomainEvent(
                id=1,
                name="listing.updated",
                subject=f"listing:{listing['id']}",
                at=runtime.clock.now(),
                payload=ListingUpdated(listing_id=listing["id"]),
            ),
            DomainEvent(id=2, name="order.transitioned", subject="order:5", at=runtime.clock.now()),
        ]
        with pytest.raises(EventsFailed) as failed:
            await index_listing_events(runtime, events)
        assert list(failed.value.errors) == [1]
        assert "being written by another process" in failed.value.errors[1]
    finally:
        writer.rollback()
        writer.wait_merging_threads()
    await index_listing_events(runtime, events[:1])  # the lock is free again
    assert ids(await client.get("/listings", params={"q": "again"})) == [listing["id"]]


def test_the_cli_rebuilds_and_counts(tmp_path):
    """``agorakit search-index rebuild`` and ``count``, on a site that enables the plugin;
    the index folder is relative to the config file's."""
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
    assert run("search-index", "rebuild") == "indexed 0 published listings"
    assert run("search-index", "count") == "0"
    assert (tmp_path / "search-index").is_dir()


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
