"""Bulk seeding with SQL through the raw driver (not the HTTP API), and bearer tokens.

Rows carry every column the tables have, in the formats Piccolo writes them (SQLite:
``TIMESTAMPTZ`` as ``str(datetime in UTC)``, JSON as text).  The full-text index is
filled exactly as the app fills it: on SQLite the catalog migration's triggers copy each
inserted listing into the external-content FTS5 table ``core_listing_fts``; on PostgreSQL
``core_listing.search_vector`` is a generated column (GIN-indexed) computed on insert.
:func:`check_search_index` verifies both after seeding.

Listing titles are built so that a search term hits a known share of the listings:
``NOUNS[i % 100]`` is in listing ``i``'s title, so ``q=logo`` matches 1% of them.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.sites import JWT_SECRET, BenchSite

#: every seeded row's clock starts here; listings are published one second apart after it
EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SEARCH_TERM = "logo"  # NOUNS[0]: in 1% of the listings
#: in the titles of the first RARE_COUNT listings only, whatever the size: an index lookup
#: with a constant number of matches (the p50 of this search must not grow with the table)
RARE_TERM, RARE_COUNT = "zephyr", 30
NOUNS = (
    "logo banner flyer poster brochure website landing blog article essay "
    "resume letter video animation illustration portrait cartoon mascot icon font "
    "podcast song jingle voiceover translation subtitle transcript ebook manual report "
    "spreadsheet database script plugin theme chatbot dashboard app game level "
    "model render sketch painting mural tattoo sticker label package mockup "
    "survey review caption hashtag newsletter campaign funnel audit strategy pitch "
    "deck slide infographic chart map diagram timeline storyboard comic meme "
    "photo headshot retouch collage filter preset lut thumbnail intro outro "
    "trailer teaser promo jingle2 beat melody lyric poem story speech "
    "recipe workout itinerary budget invoice contract proposal pitchbook wireframe prototype"
).split()
VERBS = "design write create edit build draw record translate fix review improve make produce craft".split()
ADJECTIVES = (
    "minimalist modern vintage bold elegant playful clean professional unique stunning custom".split()
)
FILLER = (
    "fast delivery quality unlimited revisions source files commercial use high resolution "
    "vector format brand identity colours style guide support friendly communication experience "
    "years clients satisfied portfolio samples request details before ordering message please "
    "included extra express option package basic standard premium turnaround days hours"
).split()
CATEGORY_TREE = {
    "design": ["logo-design", "web-design", "illustration", "print-design"],
    "writing": ["articles", "copywriting", "translation", "resumes"],
    "video": ["animation", "editing", "intros", "subtitles"],
    "music": ["voice-over", "mixing", "jingles", "podcasts"],
    "programming": ["websites", "plugins", "scripts", "games"],
    "marketing": ["social-media", "seo", "email", "ads"],
    "business": ["plans", "presentations", "research", "legal"],
    "lifestyle": ["fitness", "cooking", "travel", "gaming"],
    "data": ["spreadsheets", "dashboards", "entry", "analysis"],
    "photography": ["retouching", "product-photos", "portraits", "presets"],
}
#: the category the browse case filters on (with its four children: 10% of the listings)
FILTER_CATEGORY = "design"
GIG_ATTRIBUTES = {
    "delivery_days": 3,
    "extras": [{"title": "Express delivery", "price": "10.00", "days": 0}],
    "max_quantity": 3,
    "requirements": "Your brand name and the colours you like.",
    "countries": [],
}


def sqlite_time(at: datetime) -> str:
    """A TIMESTAMPTZ as Piccolo's SQLite adapter stores it."""
    return str(at.astimezone(UTC))


def epoch_us(at: datetime) -> int:
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def stamp_of(member_id: int) -> str:
    return f"bench{member_id:027d}"


def mint_token(member_id: int) -> str:
    """A bearer token exactly like ``issue_token`` makes (sub + the security stamp)."""
    from litestar.security.jwt import Token

    token = Token(
        sub=str(member_id), exp=EPOCH.now(UTC) + timedelta(days=1), extras={"ss": stamp_of(member_id)}
    )
    return token.encode(JWT_SECRET, "HS256")


def headers_for(member_id: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(member_id)}"}


# --------------------------------------------------------------------------------------
# The raw connection
# --------------------------------------------------------------------------------------


class Raw:
    """Just enough of a raw connection for seeding: ``{}`` placeholders on both engines."""

    def __init__(self, site: BenchSite) -> None:
        self.site = site
        self.sqlite: sqlite3.Connection | None = None
        self.pg: Any = None

    async def __aenter__(self) -> Raw:
        if self.site.engine == "sqlite":
            self.sqlite = sqlite3.connect(self.site.db_path, isolation_level=None, timeout=60)
            self.sqlite.execute("PRAGMA journal_mode = WAL")
            self.sqlite.execute("PRAGMA synchronous = NORMAL")
        else:
            import asyncpg

            self.pg = await asyncpg.connect(self.site.database_url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.pg is not None:
            await self.pg.close()

    def _sql(self, sql: str) -> str:
        if self.sqlite is not None:
            return sql.replace("{}", "?")
        parts = sql.split("{}")
        return "".join(f"{p}${i}" if i < len(parts) else p for i, p in enumerate(parts, start=1))

    def _arg(self, value: Any) -> Any:
        if self.sqlite is not None and isinstance(value, datetime):
            return sqlite_time(value)
        return value

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if self.sqlite is not None:
            cursor = self.sqlite.execute(self._sql(sql), [self._arg(a) for a in args])
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return [dict(r) for r in await self.pg.fetch(self._sql(sql), *args)]

    async def execute(self, sql: str, *args: Any) -> None:
        if self.sqlite is not None:
            self.sqlite.execute(self._sql(sql), [self._arg(a) for a in args])
        else:
            await self.pg.execute(self._sql(sql), *args)

    async def insert_many(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Bulk insert: ``COPY`` on PostgreSQL, one ``executemany`` transaction on SQLite."""
        if self.sqlite is not None:
            marks = ", ".join("?" for _ in columns)
            names = ", ".join(f'"{c}"' for c in columns)
            self.sqlite.execute("BEGIN")
            self.sqlite.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                ([self._arg(v) for v in row] for row in rows),
            )
            self.sqlite.execute("COMMIT")
            return
        await self.pg.copy_records_to_table(table, columns=list(columns), records=[tuple(r) for r in rows])


# --------------------------------------------------------------------------------------
# Members, categories, listings
# --------------------------------------------------------------------------------------


async def _max_id(raw: Raw, table: str) -> int:
    rows = await raw.fetch(f'SELECT COALESCE(MAX(id), 0) AS top FROM "{table}"')
    return int(rows[0]["top"])


async def seed_members(raw: Raw, count: int, *, prefix: str = "member") -> list[int]:
    """``count`` active members with known security stamps (see :func:`mint_token`)."""
    first = await _max_id(raw, "core_member") + 1
    ids = list(range(first, first + count))
    columns = (
        "id email email_key password_hash display_name country skills role status "
        "suspended_reason security_stamp created_at updated_at"
    ).split()
    rows = [
        (
            i,
            f"{prefix}{i}@bench.example",
            f"{prefix}{i}@bench.example",
            "$argon2id$not-a-real-hash",
            f"{prefix.title()} {i}",
            "US",
            "[]",
            "member",
            "active",
            None,
            stamp_of(i),
            EPOCH,
            EPOCH,
        )
        for i in ids
    ]
    await raw.insert_many("core_member", columns, rows)
    await _bump_sequence(raw, "core_member")
    return ids


async def _bump_sequence(raw: Raw, table: str) -> None:
    if raw.pg is not None:
        await raw.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        )


async def seed_categories(raw: Raw) -> dict[str, int]:
    """The category tree (10 top categories with 4 children each); slug -> id."""
    existing = await raw.fetch("SELECT id, slug FROM core_category")
    if existing:
        return {r["slug"]: r["id"] for r in existing}
    rows, ids, next_id = [], {}, 1
    for position, (top, children) in enumerate(CATEGORY_TREE.items()):
        ids[top] = next_id
        rows.append((next_id, top, top.replace("-", " ").title(), None, position, EPOCH))
        next_id += 1
        for child_position, child in enumerate(children):
            ids[child] = next_id
            rows.append((next_id, child, child.replace("-", " ").title(), ids[top], child_position, EPOCH))
            next_id += 1
    await raw.insert_many("core_category", "id slug name parent_id position created_at".split(), rows)
    await _bump_sequence(raw, "core_category")
    return ids


def listing_text(i: int, rng: random.Random) -> tuple[str, str]:
    noun = NOUNS[i % len(NOUNS)]
    title = f"I will {rng.choice(VERBS)} a {rng.choice(ADJECTIVES)} {noun} for your {rng.choice(NOUNS[1:])}"
    if i < RARE_COUNT:
        title += f" ({RARE_TERM} edition)"
    words = rng.choices(FILLER, k=rng.randint(20, 40))
    return title, " ".join(words).capitalize() + "."


async def seed_listings(
    raw: Raw,
    count: int,
    *,
    owner_ids: Sequence[int],
    categories: dict[str, int],
    batch: int = 20_000,
    start: int = 0,
) -> None:
    """``count`` published gigs spread over the leaf categories and the owners."""
    leaves = [categories[c] for children in CATEGORY_TREE.values() for c in children]
    rng = random.Random(8 + start)
    attributes = json.dumps(GIG_ATTRIBUTES)
    columns = (
        "id kind owner_id category_id title description price currency attributes countries status "
        "rejection_reason screening_flags created_at updated_at submitted_at published_at published_us"
    ).split()
    first = await _max_id(raw, "core_listing") + 1
    done = 0
    while done < count:
        rows = []
        for n in range(done, min(count, done + batch)):
            i = start + n
            title, description = listing_text(i, rng)
            published = EPOCH + timedelta(seconds=i)
            rows.append(
                (
                    first + n,
                    "gig",
                    owner_ids[n % len(owner_ids)],
                    leaves[i % len(leaves)],
                    title,
                    description,
                    500 + (i * 37) % 20_000,
                    "USD",
                    attributes,
                    "",
                    "published",
                    None,
                    "[]",
                    published,
                    published,
                    published,
                    published,
                    epoch_us(published),
                )
            )
        await raw.insert_many("core_listing", columns, rows)
        done += len(rows)
    await _bump_sequence(raw, "core_listing")
    if raw.pg is not None:
        # VACUUM, not only ANALYZE: it also merges the full-text GIN index's pending list,
        # which a bulk load leaves long and every search would scan (autovacuum does this
        # on a live site; measured: a 30-match search 1.2 ms before, 0.5 ms after, at 1M)
        await raw.execute("VACUUM ANALYZE core_listing")
        await raw.execute("ANALYZE core_category")
    else:
        await raw.execute("ANALYZE")


async def check_search_index(raw: Raw, term: str = SEARCH_TERM) -> int:
    """Listings the full-text index finds for ``term`` (raises if none)."""
    if raw.pg is not None:
        rows = await raw.fetch(
            "SELECT COUNT(*) AS n FROM core_listing WHERE search_vector @@ plainto_tsquery('english', {})",
            term,
        )
    else:
        rows = await raw.fetch(
            "SELECT COUNT(*) AS n FROM core_listing_fts WHERE core_listing_fts MATCH {}", term
        )
    found = int(rows[0]["n"])
    if not found:
        raise RuntimeError(f"the search index finds no listing for {term!r}: it was not filled")
    return found


async def count_in_category(raw: Raw, slug: str) -> int:
    """Published listings in the category ``slug`` and its children."""
    rows = await raw.fetch(
        "SELECT COUNT(*) AS n FROM core_listing WHERE status = 'published' AND category_id IN "
        "(SELECT id FROM core_category WHERE slug = {} OR parent_id = (SELECT id FROM core_category WHERE slug = {}))",
        slug,
        slug,
    )
    return int(rows[0]["n"])


# --------------------------------------------------------------------------------------
# Money and gigs for the order flow
# --------------------------------------------------------------------------------------


async def fund(site: BenchSite, accounts: Sequence[str], cents: int) -> None:
    """Put ``cents`` on each ledger account with one posting (``external:bench`` pays)."""
    from agorakit.money import ledger
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(site.config_path))
    await runtime.db.start()
    try:
        lines: list[Any] = []
        for account in accounts:
            lines += ledger.move(ledger.external("bench"), account, cents, "USD")
        async with runtime.unit_of_work() as uow:
            await ledger.post(
                uow,
                key=f"bench:fund:{accounts[0]}:{len(accounts)}:{cents}",
                kind="bench_funding",
                description="bench funding",
                lines=lines,
            )
    finally:
        await runtime.db.close()


@dataclass
class FlowParties:
    """Buyer, seller and gig of each concurrent flow client."""

    buyers: list[int]
    sellers: list[int]
    gigs: list[int]


async def seed_flow_parties(site: BenchSite, clients: int, *, credit_cents: int = 10**11) -> FlowParties:
    """One buyer (with plenty of credit), one seller and one published gig per client."""
    async with Raw(site) as raw:
        categories = await seed_categories(raw)
        buyers = await seed_members(raw, clients, prefix="buyer")
        sellers = await seed_members(raw, clients, prefix="seller")
        first = await _max_id(raw, "core_listing") + 1
        await seed_listings(raw, clients, owner_ids=sellers, categories=categories, start=first)
        gigs = list(range(first, first + clients))
    await fund(site, [f"member:{b}:credit" for b in buyers], credit_cents)
    return FlowParties(buyers=buyers, sellers=sellers, gigs=gigs)


async def seed_delivered_orders(
    site: BenchSite, parties: FlowParties, count: int, *, due_in: timedelta
) -> list[int]:
    """``count`` gig orders in ``delivered`` with a pending auto-completion timer, by SQL.

    The state the HTTP flow (order, pay from balance, deliver) leaves, minus what the
    timer does not read: the order row with its agreed quote, its item, its escrow funded
    by a balanced ledger transaction of its own, the submitted delivery (proof), the
    order's conversation with both parties (the system message of the completion goes
    there), and the timer due in ``due_in``.  Orders go round-robin over the parties.
    """
    now = datetime.now(UTC)
    async with Raw(site) as raw:
        listings = {
            r["id"]: r
            for r in await raw.fetch(
                f"SELECT id, title, price FROM core_listing WHERE id IN ({', '.join('{}' for _ in parties.gigs)})",
                *parties.gigs,
            )
        }
        first_order = await _max_id(raw, "core_order") + 1
        first_account = await _max_id(raw, "core_ledger_account") + 1
        first_transaction = await _max_id(raw, "core_ledger_transaction") + 1
        first_entry = await _max_id(raw, "core_ledger_entry") + 1
        first_timer = await _max_id(raw, "core_order_timer") + 1
        first_proof = await _max_id(raw, "core_proof") + 1
        first_item = await _max_id(raw, "core_order_item") + 1
        first_conversation = await _max_id(raw, "core_conversation") + 1
        first_participant = await _max_id(raw, "core_conversation_participant") + 1
        external = await raw.fetch(
            "SELECT id, balance FROM core_ledger_account WHERE name = 'external:bench'"
        )
        external_id, external_balance = external[0]["id"], external[0]["balance"]
        orders, items, accounts, transactions, entries, proofs, timers = [], [], [], [], [], [], []
        conversations, participants = [], []
        total = 0
        for n in range(count):
            index = n % len(parties.buyers)
            order_id = first_order + n
            buyer, seller, gig = parties.buyers[index], parties.sellers[index], parties.gigs[index]
            listing = listings[gig]
            amount = listing["price"]
            fee = (amount * 20 + 50) // 100  # the default 20% commission, rounded half up
            quote = {
                "buyer_total": amount,
                "seller_net": amount - fee,
                "platform_total": fee,
                "lines": [
                    {"payer": "seller", "amount": fee, "label": "Site fee (20%)", "code": "commission"}
                ],
            }
            data = {
                "fee_kind": "gig",
                "gig": {"title": listing["title"], "extras": [], "quantity": 1},
                "delivery_days": 3,
                "requirements": "",
                "quote": quote,
                "deadline": (now + timedelta(days=3)).isoformat(),
                "paid_at": now.isoformat(),
            }
            orders.append(
                (
                    order_id,
                    "gig_order",
                    1,
                    "delivered",
                    3,
                    buyer,
                    seller,
                    gig,
                    "USD",
                    amount,
                    json.dumps(data),
                    now,
                    now,
                    now,
                )
            )
            items.append((first_item + n, order_id, 1, "base", listing["title"][:200], amount, 1, amount))
            account_id = first_account + n
            accounts.append(
                (
                    account_id,
                    f"order:{order_id}:escrow",
                    "USD",
                    "escrow",
                    amount,
                    False,
                    None,
                    buyer,
                    seller,
                    now,
                )
            )
            transaction_id = first_transaction + n
            transactions.append(
                (
                    transaction_id,
                    f"bench:escrow:{order_id}",
                    "bench_funding",
                    "bench",
                    json.dumps({"order": order_id}),
                    None,
                    now,
                )
            )
            total += amount
            entries.append(
                (
                    first_entry + 2 * n,
                    transaction_id,
                    external_id,
                    -amount,
                    "USD",
                    external_balance - total,
                    now,
                )
            )
            entries.append((first_entry + 2 * n + 1, transaction_id, account_id, amount, "USD", amount, now))
            proofs.append(
                (
                    first_proof + n,
                    order_id,
                    seller,
                    "Here you are.",
                    "[]",
                    "[]",
                    "submitted",
                    None,
                    None,
                    None,
                    now,
                )
            )
            # The order's conversation with both parties, as the flow's system messages left it.
            conversation_id = first_conversation + n
            conversations.append(
                (conversation_id, f"order:{order_id}", "order", f"order:{order_id}", 0, now, now)
            )
            participants += [
                (first_participant + 2 * n + i, conversation_id, member, 0, now)
                for i, member in enumerate((buyer, seller))
            ]
            timers.append(
                (
                    first_timer + n,
                    order_id,
                    "delivered",
                    "auto_complete",
                    now + due_in,
                    "pending",
                    0,
                    None,
                    None,
                    now,
                )
            )
        await raw.insert_many(
            "core_order",
            "id process process_version state version buyer_id seller_id listing_id currency amount data "
            "state_entered_at created_at updated_at".split(),
            orders,
        )
        await raw.insert_many(
            "core_order_item",
            ["id", "order", "position", "kind", "description", "unit_price", "quantity", "amount"],
            items,
        )
        await raw.insert_many(
            "core_ledger_account",
            "id name currency kind balance allow_negative member_id buyer_id seller_id created_at".split(),
            accounts,
        )
        await raw.insert_many(
            "core_ledger_transaction",
            "id idempotency_key kind description refs actor_id created_at".split(),
            transactions,
        )
        await raw.insert_many(
            "core_ledger_entry",
            ["id", "transaction", "account", "amount", "currency", "balance_after", "created_at"],
            entries,
        )
        await raw.execute(
            "UPDATE core_ledger_account SET balance = balance - {} WHERE id = {}", total, external_id
        )
        await raw.insert_many(
            "core_proof",
            ["id", "order", "submitted_by", "text", "urls", "attachments", "status", "review_reason", "reviewed_by",
             "reviewed_at", "created_at"],
            proofs,
        )  # fmt: skip
        await raw.insert_many(
            "core_order_timer",
            [
                "id",
                "order",
                "state",
                "transition",
                "due_at",
                "status",
                "attempts",
                "last_error",
                "fired_at",
                "created_at",
            ],
            timers,
        )
        await raw.insert_many(
            "core_conversation",
            ["id", "key", "kind", "subject", "last_message_id", "last_message_at", "created_at"],
            conversations,
        )
        await raw.insert_many(
            "core_conversation_participant",
            ["id", "conversation", "member_id", "last_read_message_id", "joined_at"],
            participants,
        )
        for table in ("core_order", "core_order_item", "core_ledger_account", "core_ledger_transaction",
                      "core_ledger_entry", "core_proof", "core_order_timer", "core_conversation",
                      "core_conversation_participant"):  # fmt: skip
            await _bump_sequence(raw, table)
    return [first_order + n for n in range(count)]
