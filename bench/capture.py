"""Capture the SQL the real app runs for each benchmarked request.

``python -m bench capture [--engine postgres|sqlite] [--floor]`` builds a bench site,
drives one browse of each kind, one whole gig order flow and one withdrawal through the
app in-process (httpx's ASGITransport), and prints every statement Piccolo sent, per
request, with ``T<n>`` marking the statements of one transaction; with ``--floor``, the
statements ``bench/floor.py`` runs for the same requests.  ``tests/test_bench_statements.py``
compares the two counts request by request.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.seed import (
    FILTER_CATEGORY,
    SEARCH_TERM,
    Raw,
    fund,
    headers_for,
    seed_categories,
    seed_flow_parties,
    seed_listings,
    seed_members,
)
from bench.sites import bench_site, quiet_logs


@dataclass
class Statement:
    sql: str
    transaction: int  # 0 outside a transaction


@dataclass
class Capture:
    statements: list[Statement] = field(default_factory=list)
    active: bool = False


def _normalise(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


@contextlib.contextmanager
def recording(engine: Any) -> Iterator[Capture]:
    """Record every query the engine runs (patched on its class for the duration)."""
    capture = Capture()
    cls = type(engine)
    original = cls.run_querystring

    async def run_querystring(self: Any, querystring: Any, in_pool: bool = True) -> Any:
        if capture.active:
            sql, _ = querystring.compile_string(engine_type=self.engine_type)
            current = self.current_transaction.get()
            capture.statements.append(Statement(_normalise(sql), id(current) if current else 0))
        return await original(self, querystring, in_pool=in_pool)

    cls.run_querystring = run_querystring
    try:
        yield capture
    finally:
        cls.run_querystring = original


def render(statements: list[Statement]) -> list[str]:
    names: dict[int, str] = {}
    lines = []
    for statement in statements:
        tag = "  "
        if statement.transaction:
            tag = names.setdefault(statement.transaction, f"T{len(names) + 1}")
        lines.append(f"  {tag:>3} {statement.sql}")
    return lines


@contextlib.asynccontextmanager
async def in_process_client(site: Any) -> AsyncIterator[tuple[Any, Any]]:
    import httpx

    from agorakit.app import app_for_runtime
    from agorakit.runtime import Runtime
    from agorakit.settings import load_settings

    runtime = Runtime(load_settings(site.config_path))
    await runtime.db.start()
    app = app_for_runtime(runtime)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client, runtime
    finally:
        await runtime.db.close()


@contextlib.contextmanager
def recording_floor() -> Iterator[Capture]:
    """Record every statement the floor runs (its two session classes patched for the duration)."""
    from bench import floor

    capture = Capture()
    originals = [
        (cls, name, getattr(cls, name))
        for cls in (floor.PgSession, floor.SqliteSession)
        for name in ("fetch", "row")
    ]

    def recorder(cls: type, original: Any) -> Any:
        async def run(self: Any, sql: str, *args: Any) -> Any:
            if capture.active:
                if cls is floor.SqliteSession:
                    text, open_ = floor.sqlite_sql(sql), self.connection.in_transaction
                else:
                    text, open_ = sql, self.connection.is_in_transaction()
                capture.statements.append(Statement(_normalise(text), id(self.connection) if open_ else 0))
            return await original(self, sql, *args)

        return run

    for cls, name, original in originals:
        setattr(cls, name, recorder(cls, original))
    try:
        yield capture
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


@contextlib.asynccontextmanager
async def floor_client(site: Any) -> AsyncIterator[Any]:
    """The floor app in-process on ``site``'s database (its module globals swapped for the duration)."""
    import httpx

    from bench import floor
    from bench.sites import JWT_SECRET

    saved = floor.db, floor.JWT_SECRET
    floor.db, floor.JWT_SECRET = floor.Database(site.floor_url), JWT_SECRET
    await floor.db.start()
    transport = httpx.ASGITransport(app=floor.app, client=("127.0.0.1", 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client
    finally:
        await floor.db.close()
        floor.db, floor.JWT_SECRET = saved


#: the benchmarked requests, in the order :func:`capture` sends them
REQUESTS = (
    "GET /listings",
    "GET /listings?category",
    "GET /listings?q",
    "POST /gigs/{id}/orders",
    "POST /orders/{id}/payments",
    "POST /gigs/orders/{id}/delivery",
    "POST /gigs/orders/{id}/accept",
    "POST /withdrawals",
)


async def capture(engine: str, side: str = "app") -> dict[str, list[Statement]]:
    """Statements per benchmarked request on ``engine``, by the real app or (``side="floor"``) the floor.

    Each call builds its own site with the same seed, so the app and the floor start from
    the same rows (the first posting to an account creates it, on both sides)."""
    out: dict[str, list[Statement]] = {}
    async with bench_site(engine) as site:
        async with Raw(site) as raw:
            categories = await seed_categories(raw)
            owners = await seed_members(raw, 5, prefix="owner")
            await seed_listings(raw, 200, owner_ids=owners, categories=categories)
            (withdrawer,) = await seed_members(raw, 1, prefix="withdrawer")
        parties = await seed_flow_parties(site, 1)
        await fund(site, [f"member:{withdrawer}:available"], 10_000)
        buyer, seller, gig = parties.buyers[0], parties.sellers[0], parties.gigs[0]
        async with contextlib.AsyncExitStack() as stack:
            if side == "app":
                client, runtime = await stack.enter_async_context(in_process_client(site))
                cap = stack.enter_context(recording(runtime.db.engine))
            elif side == "floor":
                client = await stack.enter_async_context(floor_client(site))
                cap = stack.enter_context(recording_floor())
            else:
                raise ValueError(f"unknown side {side!r}")

            async def call(name: str, method: str, url: str, member: int | None, **kw: Any) -> Any:
                cap.statements = []
                cap.active = True
                headers = headers_for(member) if member else {}
                response = await client.request(method, url, headers=headers, **kw)
                cap.active = False
                assert response.status_code < 300, (side, name, response.status_code, response.text)
                out[f"{method} {name}"] = cap.statements
                return response.json()

            await call("/listings", "GET", "/listings?limit=20", None)
            await call("/listings?category", "GET", f"/listings?limit=20&category={FILTER_CATEGORY}", None)
            await call("/listings?q", "GET", f"/listings?limit=20&q={SEARCH_TERM}", None)
            order = await call("/gigs/{id}/orders", "POST", f"/gigs/{gig}/orders", buyer, json={})
            order_id = order["id"]
            await call(
                "/orders/{id}/payments",
                "POST",
                f"/orders/{order_id}/payments",
                buyer,
                json={"method": "balance"},
            )
            await call(
                "/gigs/orders/{id}/delivery",
                "POST",
                f"/gigs/orders/{order_id}/delivery",
                seller,
                json={"message": "Here you are."},
            )
            await call("/gigs/orders/{id}/accept", "POST", f"/gigs/orders/{order_id}/accept", buyer)
            await call(
                "/withdrawals",
                "POST",
                "/withdrawals",
                withdrawer,
                json={
                    "method": "bank_transfer",
                    "amount": {"amount": "100.00", "currency": "USD"},
                    "destination": {
                        "account_holder": "Ada Lovelace",
                        "iban": "DE89370400440532013000",
                        "bic": "DEUTDEFF",
                    },
                },
            )
    assert tuple(out) == REQUESTS, list(out)
    return out


def repeated_reads(statements: list[Statement]) -> dict[str, int]:
    """Tables read more than once by the same kind of lookup: ``{"core_order by id": 9}``."""
    found: Counter = Counter()
    for statement in statements:
        match = re.match(r'SELECT .*? FROM "(\w+)" WHERE (?:\()?"\w+"\."(\w+)" = \$?\??\d*', statement.sql)
        if match:
            found[f"{match.group(1)} by {match.group(2)}"] += 1
    return {key: n for key, n in found.most_common() if n > 1}


async def main(engine: str, side: str = "app") -> None:
    quiet_logs()
    found = await capture(engine, side)
    totals: Counter = Counter()
    for name, statements in found.items():
        transactions = len({s.transaction for s in statements if s.transaction})
        reads = sum(s.sql.startswith("SELECT") for s in statements)
        repeated = ", ".join(f"{key} x{n}" for key, n in repeated_reads(statements).items())
        print(f"{name}: {len(statements)} statements ({reads} SELECT), {transactions} transactions")
        if repeated:
            print(f"  repeated reads: {repeated}")
        print("\n".join(render(statements)))
        print()
        if "/orders" in name or "/gigs" in name:
            totals.update(repeated_reads(statements) | {"statements": len(statements)})
    print(f"the order flow (4 requests): {dict(totals)}")
