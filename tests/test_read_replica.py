"""Read replicas (``[database] read_url``): the public reads of the marked routes go to
the replica, everything else to the primary.

The replica is played by PostgreSQL itself: a login role with only read rights on the
test database (every write through it fails, so writes that work went to the primary),
and a copy of the test database taken before a listing was published (a replica that
lags: what browse shows proves where it read).  The feature is PostgreSQL's; on SQLite a
``read_url`` is a config error.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from agorakit.catalog import search
from agorakit.catalog.tables import Listing
from agorakit.db.prepared import Prepared
from agorakit.db.replica import is_read_statement, read_routing
from agorakit.http.read_routing import READ_AFTER_WRITE_COOKIE
from agorakit.settings import ConfigError, settings_from_dict
from agorakit.testing import postgres_admin_dsn

SECRET = "x" * 32
on_postgres = pytest.mark.parametrize("db_kind", ["postgres"], indirect=True)

LISTING_BY_ID = Prepared(lambda id: Listing.select(Listing.id, Listing.title).where(Listing.id == id).first())


def with_user(url: str, user: str, *, database: str | None = None) -> str:
    """``url`` (a PostgreSQL DSN) for another login role, and another database if given."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}@{host}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}" if database else parts.path))


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


async def admin_execute(url: str, *statements: str) -> None:
    """Run ``statements`` as the test server's admin role, connected to ``url``'s database."""
    admin = urlsplit(postgres_admin_dsn())
    connection = await asyncpg.connect(urlunsplit(admin._replace(path=f"/{database_of(url)}")))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def browse_titles(client, **params: Any) -> list[str]:
    response = await client.get("/listings", params=params)
    assert response.status_code == 200, response.text
    return sorted(item["title"] for item in response.json()["items"])


def gig(word: str) -> dict[str, str]:
    return {"title": f"I will proofread your {word} text"}


# -- the settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("database", "message"),
    [
        (
            {"url": "sqlite:///site.sqlite3", "read_url": "postgresql://reader@replica/site"},
            "database.read_url: a read replica needs PostgreSQL, and url is SQLite",
        ),
        (
            {"url": "postgresql://app@db/site", "read_url": "mysql://reader@replica/site"},
            "database.read_url: unsupported scheme 'mysql'",
        ),
        (
            {"url": "postgresql://app@db/site", "read_url": "replica/site"},
            "database.read_url: unsupported scheme '(none)'",
        ),
        (
            {"url": "postgresql://app@db/site", "read_after_write_seconds": -1},
            "database.read_after_write_seconds: Expected `int` >= 0",
        ),
    ],
)
def test_bad_read_replica_settings_are_config_errors(database, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings_from_dict({"auth": {"jwt_secret": SECRET}, "database": database}, environ={})


def test_read_url_settings_are_kept_and_its_password_masked():
    from agorakit.settings import MASK, masked

    settings = settings_from_dict(
        {
            "auth": {"jwt_secret": SECRET},
            "database": {
                "url": "postgresql://app@db/site",
                "read_url": "postgresql://reader:hunter2@replica:5432/site",
                "read_after_write_seconds": 0,
            },
        },
        environ={},
    )
    assert settings.database.read_after_write_seconds == 0
    assert masked(settings)["database"]["read_url"] == f"postgresql://reader:{MASK}@replica:5432/site"


class TestWithoutReplica:
    @pytest.fixture
    def site_config(self):
        return {"site": {"plugins": ["gigs"]}}

    async def test_nothing_changes(self, client, runtime, make_listing):
        """Both databases: no replica engine, no cookie after a write, ready says nothing of it."""
        listing = await make_listing(**gig("lighthouse"))
        assert runtime.db.replica is None and runtime.db.replica_state() is None
        assert READ_AFTER_WRITE_COOKIE not in client.cookies
        assert await browse_titles(client) == [listing["title"]]
        ready = (await client.get("/health/ready")).json()
        assert "read_replica" not in ready


@pytest.mark.parametrize(
    ("sql", "read"),
    [
        ('SELECT "core_listing"."id" FROM "core_listing" WHERE "core_listing"."updated_at" > $1', True),
        ("  (SELECT id FROM core_listing) UNION ALL (SELECT id FROM core_listing)", True),
        ("WITH found AS (SELECT id FROM core_listing) SELECT id FROM found", True),
        ("select count(*) from core_member where is_deleted", True),
        ('SELECT "id" FROM "core_order" WHERE "id" = $1 FOR UPDATE', False),
        ("SELECT id FROM core_member WHERE id = $1 FOR NO KEY UPDATE", False),
        ("SELECT id FROM core_member WHERE id = $1 FOR KEY SHARE", False),
        ("WITH gone AS (DELETE FROM core_throttle RETURNING key) SELECT count(*) FROM gone", False),
        ('INSERT INTO "core_listing" ("title") VALUES ($1) RETURNING "id"', False),
        ("UPDATE core_listing SET title = $1", False),
        ("SELECT * INTO copy FROM core_listing", False),
        ("SELECT nextval('core_listing_id_seq')", False),
        ("SELECT pg_advisory_xact_lock(1)", False),
        ("VACUUM core_listing", False),
    ],
)
def test_which_statements_a_replica_may_answer(sql, read):
    assert is_read_statement(sql) is read


# -- a read-only replica -------------------------------------------------------------------


@pytest.fixture
async def reader(database_url):
    """A login role that may only read the test database (dropped afterwards)."""
    role = f"agorakit_reader_{uuid.uuid4().hex[:12]}"
    database = database_of(database_url)
    await admin_execute(
        database_url,
        f"CREATE ROLE {role} LOGIN",
        f'GRANT CONNECT ON DATABASE "{database}" TO {role}',
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
        # the tables the runtime fixture's migrations may create after this
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}",
    )
    yield role
    await admin_execute(
        database_url,
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
        f"DROP OWNED BY {role}",
        f"DROP ROLE {role}",
    )


class Spy:
    """The statements the replica answered (``_read_on_replica`` that returned rows)."""

    def __init__(self, engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        original = engine._read_on_replica

        async def read(query: str, args: Any) -> Any:
            rows = await original(query, args)
            if rows is not None:
                self.statements.append(query)
            return rows

        monkeypatch.setattr(engine, "_read_on_replica", read)


@on_postgres
class TestReadOnlyReplica:
    @pytest.fixture
    def site_config(self, database_url, reader):
        return {
            "site": {"plugins": ["gigs"]},
            "database": {"read_url": with_user(database_url, reader)},
            "metrics": {"enabled": True},
        }

    async def test_public_reads_go_to_the_replica_and_writes_to_the_primary(
        self, client, runtime, make_listing, make_order, make_member, monkeypatch
    ):
        replica = runtime.db.replica
        assert replica is not None and replica.replica_up
        lighthouse = await make_listing(**gig("lighthouse"))
        windmill = await make_listing(**gig("windmill"))
        client.cookies.clear()
        spy = Spy(replica, monkeypatch)

        assert await browse_titles(client) == sorted([lighthouse["title"], windmill["title"]])
        assert await browse_titles(client, q="windmill") == [windmill["title"]]
        assert await browse_titles(client, category="test-gigs", sort="price_asc") == sorted(
            [lighthouse["title"], windmill["title"]]
        )
        one = await client.get(f"/listings/{windmill['id']}")
        assert one.status_code == 200 and one.json()["title"] == windmill["title"]
        categories = await client.get("/categories")
        assert [c["slug"] for c in categories.json()] == ["test-gigs"]
        seller = windmill["seller"]["id"]
        for path in (
            f"/members/{seller}/reviews",
            f"/members/{seller}/rating",
            f"/listings/{windmill['id']}/reviews",
        ):
            assert (await client.get(path)).status_code == 200, path
        assert len(spy.statements) >= 8
        assert all(statement.lstrip().upper().startswith("SELECT") for statement in spy.statements)

        # Ordering writes (orders, payments, the ledger) and reads on the primary only.
        read_before = len(spy.statements)
        order = await make_order(listing=windmill, state="in_progress")
        assert order["state"] == "in_progress"
        assert len(spy.statements) == read_before
        # ... where it must: the reader may not write.
        with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
            await replica._read_on_replica("UPDATE core_listing SET title = 'changed'", ())
        # A statement's own error is not the replica's: it is raised, and the replica stays.
        with pytest.raises(asyncpg.exceptions.UndefinedColumnError):
            await replica._read_on_replica("SELECT no_such_column FROM core_listing", ())
        assert replica.replica_up

    async def test_a_signed_in_caller_reads_a_listing_from_the_primary(
        self, client, runtime, make_listing, make_member, monkeypatch
    ):
        listing = await make_listing(**gig("lighthouse"))
        member = await make_member()
        client.cookies.clear()
        spy = Spy(runtime.db.replica, monkeypatch)
        response = await client.get(f"/listings/{listing['id']}", headers=member.headers)
        assert response.status_code == 200
        assert spy.statements == []
        assert (await client.get(f"/listings/{listing['id']}")).status_code == 200
        assert spy.statements != []

    async def test_reads_fall_back_to_the_primary_while_the_replica_is_down(
        self, client, runtime, reader, database_url, make_listing, caplog
    ):
        replica = runtime.db.replica
        listing = await make_listing(**gig("lighthouse"))
        client.cookies.clear()
        # The replica goes away: its role may no longer log in, its sessions end.
        await admin_execute(
            database_url,
            f"ALTER ROLE {reader} NOLOGIN",
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{reader}'",
        )
        caplog.set_level(logging.WARNING, logger="agorakit.db")
        for _ in range(3):
            assert await browse_titles(client) == [listing["title"]]
        assert (await client.get(f"/listings/{listing['id']}")).status_code == 200
        warnings = [r for r in caplog.records if r.name == "agorakit.db" and r.levelno == logging.WARNING]
        assert len(warnings) == 1  # once a minute, not once a read
        assert warnings[0].getMessage().startswith("read replica unreachable, public reads go to the primary")
        assert not replica.replica_up

        ready = await client.get("/health/ready")
        assert ready.status_code == 200  # the primary serves every read: the process is ready
        assert ready.json()["read_replica"] == "unreachable; reads go to the primary"
        metrics = (await client.get("/metrics")).text
        assert "agorakit_db_read_replica_up 0.0" in metrics

        # It comes back: the next check (the one a read starts after a while, or this one)
        # sends reads to it again.
        await admin_execute(database_url, f"ALTER ROLE {reader} LOGIN")
        assert await replica.check_replica() is True
        assert replica.replica_up
        assert (await client.get("/health/ready")).json()["read_replica"] == "ok"
        metrics = (await client.get("/metrics")).text
        assert "agorakit_db_read_replica_up 1.0" in metrics
        assert f"agorakit_db_read_pool_max_size {float(runtime.settings.database.pool_max_size)}" in metrics


@on_postgres
class TestReplicaThatCannotBeReached:
    @pytest.fixture
    def site_config(self, database_url):
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = urlsplit(database_url)._replace(netloc=f"postgres@127.0.0.1:{port}")
        return {"site": {"plugins": ["gigs"]}, "database": {"read_url": urlunsplit(url)}}

    async def test_the_site_starts_and_reads_from_the_primary(self, client, runtime, make_listing):
        assert runtime.db.replica is not None and not runtime.db.replica.replica_up
        listing = await make_listing(**gig("lighthouse"))
        client.cookies.clear()
        assert await browse_titles(client, q="lighthouse") == [listing["title"]]
        assert (await client.get(f"/listings/{listing['id']}")).status_code == 200
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["read_replica"] == "unreachable; reads go to the primary"


# -- a replica that lags -------------------------------------------------------------------


@on_postgres
class TestLaggingReplica:
    """``read_url`` names a database that does not exist when the site starts; the test
    makes it as a copy of the site's database, then publishes one more listing on the
    primary only."""

    SECONDS = 5

    @pytest.fixture
    async def lagging(self, database_url):
        name = f"{database_of(database_url)}_lag"
        yield name
        await admin_execute(postgres_admin_dsn(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @pytest.fixture
    def site_config(self, database_url, lagging):
        return {
            "site": {"plugins": ["gigs"]},
            "database": {
                "read_url": with_user(database_url, "postgres", database=lagging),
                "read_after_write_seconds": self.SECONDS,
            },
        }

    async def take_copy(self, runtime, database_url, lagging) -> None:
        """The replica: a copy of the primary as it is now (no session may be open on a
        database that is copied)."""
        await runtime.db.close()
        try:
            await admin_execute(
                postgres_admin_dsn(),
                f'CREATE DATABASE "{lagging}" TEMPLATE "{database_of(database_url)}"',
            )
        finally:
            await runtime.db.start()
        assert runtime.db.replica is not None and runtime.db.replica.replica_up

    async def test_browse_reads_the_replica_and_a_writer_the_primary(
        self, client, runtime, clock, database_url, lagging, make_listing
    ):
        old = await make_listing(**gig("lighthouse"))
        await self.take_copy(runtime, database_url, lagging)
        new = await make_listing(**gig("windmill"))  # on the primary only
        both = sorted([old["title"], new["title"]])

        # The client that published holds the cookie: it reads the primary.
        assert READ_AFTER_WRITE_COOKIE in client.cookies
        assert await browse_titles(client) == both
        assert (await client.get(f"/listings/{new['id']}")).status_code == 200
        cookie = client.cookies[READ_AFTER_WRITE_COOKIE]

        # Anyone else reads the replica, which has not seen the new listing.
        client.cookies.clear()
        assert await browse_titles(client) == [old["title"]]
        assert await browse_titles(client, q="windmill") == []
        assert (await client.get(f"/listings/{new['id']}")).status_code == 404
        assert [c["slug"] for c in (await client.get("/categories")).json()] == ["test-gigs"]
        # ... except a signed-in caller reading one listing (it may be the owner's draft).
        owner = await make_login(runtime, client, new["seller"]["id"])
        client.cookies.clear()
        assert (await client.get(f"/listings/{new['id']}", headers=owner)).status_code == 200

        # The cookie lasts read_after_write_seconds; a forged or stale one counts for nothing.
        client.cookies.set(READ_AFTER_WRITE_COOKIE, cookie)
        clock.advance(seconds=self.SECONDS - 1)
        assert await browse_titles(client) == both
        clock.advance(seconds=1)
        assert await browse_titles(client) == [old["title"]]
        expires = int(clock.now().timestamp()) + 3600
        client.cookies.set(READ_AFTER_WRITE_COOKIE, f"{expires}.{'0' * 32}")
        assert await browse_titles(client) == [old["title"]]
        client.cookies.set(READ_AFTER_WRITE_COOKIE, f"{expires}")
        assert await browse_titles(client) == [old["title"]]

    async def test_a_request_that_wrote_reads_the_primary(
        self, client, runtime, database_url, lagging, make_listing
    ):
        old = await make_listing(**gig("lighthouse"))
        await self.take_copy(runtime, database_url, lagging)
        new = await make_listing(**gig("windmill"))

        async def titles() -> list[str]:
            items, _ = await search.browse(runtime)
            return sorted(item.title for item in items)

        # Outside a request (the worker, the CLI) every read is the primary's.
        assert await titles() == sorted([old["title"], new["title"]])
        assert (await LISTING_BY_ID.run(new["id"]))["title"] == new["title"]

        # A marked request: Piccolo queries and prepared statements read the replica ...
        with read_routing(replica=True) as routing:
            assert await titles() == [old["title"]]
            assert await LISTING_BY_ID.run(new["id"]) is None
            assert await Listing.count().where(Listing.id == new["id"]) == 0
            # ... a transaction runs on the primary ...
            async with runtime.db.transaction():
                assert (await LISTING_BY_ID.run(new["id"]))["title"] == new["title"]
            # ... and the rest of the request reads what it may just have written.
            assert routing.wrote
            assert await titles() == sorted([old["title"], new["title"]])
            assert await LISTING_BY_ID.run(new["id"]) is not None

        # A write outside a transaction counts as well.
        with read_routing(replica=True) as routing:
            assert await LISTING_BY_ID.run(new["id"]) is None
            await Listing.update({Listing.title: new["title"]}).where(Listing.id == new["id"])
            assert routing.wrote
            assert await LISTING_BY_ID.run(new["id"]) is not None

        # A request not marked reads the primary.
        with read_routing(replica=False):
            assert await LISTING_BY_ID.run(new["id"]) is not None

    async def test_concurrent_requests_route_each_on_its_own(
        self, client, runtime, database_url, lagging, make_listing, make_member
    ):
        old = await make_listing(**gig("lighthouse"))
        seller = await make_member()
        await self.take_copy(runtime, database_url, lagging)
        client.cookies.clear()
        body = {**gig("windmill"), "kind": "gig", "description": "Careful proofreading, tracked changes."}
        body |= {"price": {"amount": "25.00", "currency": "USD"}, "category": "test-gigs"}
        body["attributes"] = {"delivery_days": 3}

        async def browse() -> Any:
            return await client.get("/listings")

        async def create() -> Any:
            return await client.post("/listings", json=body, headers=seller.headers)

        answers = await asyncio.gather(browse(), create(), browse(), browse(), create(), browse())
        created = [a for a in answers if a.request.method == "POST"]
        browsed = [a for a in answers if a.request.method == "GET"]
        assert [a.status_code for a in created] == [201, 201]
        # The writes answer with the cookie; the reads beside them were not made to write.
        assert all(READ_AFTER_WRITE_COOKIE in a.cookies for a in created)
        assert not any(READ_AFTER_WRITE_COOKIE in a.cookies for a in browsed)
        assert all([i["title"] for i in a.json()["items"]] == [old["title"]] for a in browsed)


async def make_login(runtime, client, member_id: int) -> dict[str, str]:
    from agorakit.accounts import get_member, issue_token

    member = await get_member(runtime, member_id)
    token = await issue_token(runtime, client.app.state.jwt_auth, member)
    return {"Authorization": f"Bearer {token.access_token}"}
