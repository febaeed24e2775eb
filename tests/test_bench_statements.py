"""The floor's statement counts against the app's, request by request, and the floor's results.

The floor (``bench/floor/``) does each benchmarked request's work through the raw driver:
the same response, the same rows written, the same ledger postings, notifications, emails
and messages.  For browse, the order flow and a withdrawal it runs the app's own
statements (what the app costs above it is the framework's); for the other requests it is
the leanest way to do the work.  Its figures mean something only while it does the same
work as the app and no more statements than the app for it, so this test drives every
benchmarked request through both in-process (``bench.capture``: the same seed, the same
requests, the app's statements recorded at Piccolo's engine, the floor's at its driver
sessions), compares the response bodies and the rows every table holds afterwards, and
the number of statements each side runs.  ``BEGIN``/``COMMIT``/savepoints are not counted
on either side.  (The lean floor of the order flow, ``bench/floor/lean_orders.py``, has
its own test: ``tests/test_bench_lean_orders.py``.)

``DIFFERENCE`` states, per request, the app's statements minus the floor's (never
negative) and why.  A change to either side that adds or removes a statement fails here:
then either the floor follows, or the difference and its reason are updated.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.capture import (  # noqa: E402
    BROWSE_REQUESTS,
    LEADS_REQUESTS,
    PREPAID_REQUESTS,
    REQUESTS,
    Run,
    Statement,
    run,
    run_leads,
    run_prepaid,
)
from bench.sites import postgres_unreachable  # noqa: E402

#: the floor of the order flow and a withdrawal runs the app's own statements
SAME = (
    "the same statements: the floor runs the app's (the app's own text for PostgreSQL's combined ones), "
    "so what the app costs above it is the framework's; bench/floor/lean_orders.py is the lean one"
)
#: request -> (the app's statements minus the floor's, why)
DIFFERENCE: dict[str, tuple[int, str]] = {
    "GET /listings": (0, "the same page read"),
    "GET /listings?category": (
        0,
        "the same two reads: the category tree the process keeps (its first category page), then the walk "
        "of the category's newest listings",
    ),
    "GET /listings?q": (0, "the same page read"),
    "GET /listings?q (rare)": (0, "the same page read"),
    "GET /listings?q&sort=newest (rare)": (0, "the same page read"),
    "GET /listings?sort=rating": (0, "the same page read"),
    # The order flow and a withdrawal: the floor runs the app's own statements (bench/floor/same.py).
    "POST /gigs/{id}/orders": (0, SAME),
    "POST /orders/{id}/payments": (0, SAME),
    "POST /gigs/orders/{id}/delivery": (0, SAME),
    "POST /gigs/orders/{id}/accept": (0, SAME),
    "POST /withdrawals": (0, SAME),
}
#: the prepaid plugin's requests (``bench.capture.run_prepaid``): the app's statements minus
#: the floor's, and why; the same on both engines
PREPAID_DIFFERENCE: dict[str, tuple[int, str]] = {
    "POST /prepaid/requests/{id}/lock": (
        13,
        "the app locks the order (with its items and parties), then checks the seller's access by reading "
        "the listing's view (the listing, its seller, the category index twice) and the qualification (+5: "
        "the floor's locked read has the access as an EXISTS); it counts the lock with an insert and an "
        "update (the floor with one upsert: +1); it reads the request row and the listing again before "
        "updating them and the plugin's own check on a request's listing reads the request by its listing "
        "(+3: the floor's updates are addressed by id); in the transaction the plugin's notice reads the "
        "request by its order (the floor holds it) where the floor reads the recipient (the app holds the "
        "order's parties: 0); its order read has the conversation, which the new seller is not in yet, so it "
        "reads the conversation again and its id once more and deletes participants who left, where the floor "
        "reads it once and updates its activity (+2: the app's message insert moves it); the app writes the "
        "notification and its email in one statement (-1), and moves the order by its history row's insert "
        "with its seller in an update of its own (0); after its commit it marks the listing's event published for the search "
        "plugin's handler (+1: the floor writes it published); and it reads the request, the order and its "
        "items back for the response (+3: the floor answers from what it read and wrote)",
    ),
    "POST /prepaid/requests/{id}/lock (taken)": (
        1,
        "the same two reads before any transaction (the caller, the request with its order's state), then "
        "whether the seller may know of a request out of the feed: the app reads their qualifications and "
        "the category index (2), the floor checks their access to the request's category in one read",
    ),
    "GET /prepaid/feed": (
        1,
        "the app reads the seller's qualifications and the category index (2: the floor reads the "
        "categories below the approved ones in one recursive query), then the same page query",
    ),
    "GET /prepaid/feed?service_type": (1, "as the first page"),
}
#: the leads plugin's feed (``bench.capture.run_leads``): the app's statements minus the
#: floor's, and why; the same on both engines
LEADS_DIFFERENCE: dict[str, tuple[int, str]] = {
    "GET /leads/feed": (
        1,
        "the app reads the active profile's categories (one read) and the category index for the tree below "
        "them: 2 where the floor reads the categories served in one recursive query (+1); then the same "
        "areas, page and unlocks of the page",
    ),
    "GET /leads/feed?cursor": (1, "as the first page"),
    "GET /leads/feed (tail)": (1, "as the first page (neither side looks for unlocks of an empty page)"),
}
#: on PostgreSQL, added to ``PREPAID_DIFFERENCE``
PREPAID_POSTGRES_DIFFERENCE: dict[str, tuple[int, str]] = {
    "POST /prepaid/requests/{id}/lock": (
        -1,
        "the app moves the order, with its seller, and writes its history in one statement (SQLite and the "
        "floor: two)",
    ),
}
#: on PostgreSQL, added to ``DIFFERENCE``
POSTGRES_DIFFERENCE: dict[str, tuple[int, str]] = {}


def test_every_benchmarked_request_has_a_stated_difference():
    assert set(DIFFERENCE) == set(REQUESTS) and set(POSTGRES_DIFFERENCE) <= set(REQUESTS)
    assert all(reason for _, reason in DIFFERENCE.values())
    for name, (difference, _) in DIFFERENCE.items():
        extra = POSTGRES_DIFFERENCE.get(name, (0, ""))[0]
        assert difference >= 0 and difference + extra >= 0, (
            f"the floor runs more statements than the app: {name}"
        )


_runs: dict[tuple[str, str], Run] = {}


async def runs(engine: str, side: str) -> Run:
    """One run per engine and side for the whole module (each builds and seeds a site)."""
    if (engine, side) not in _runs:
        _runs[engine, side] = await run(engine, side)
    return _runs[engine, side]


async def statements(engine: str, side: str) -> dict[str, list[Statement]]:
    return (await runs(engine, side)).statements


async def skip_without(engine: str) -> None:
    if engine == "postgres":
        reason = await postgres_unreachable()
        if reason:
            pytest.skip(f"PostgreSQL: {reason}")


def listing(found: list[Statement]) -> str:
    return "\n".join(f"    {s.sql[:150]}" for s in found)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@pytest.mark.parametrize("request_name", REQUESTS)
async def test_app_runs_the_floors_statements(engine, request_name):
    await skip_without(engine)
    app = (await statements(engine, "app"))[request_name]
    floor = (await statements(engine, "floor"))[request_name]
    expected, why = DIFFERENCE[request_name]
    if engine == "postgres" and request_name in POSTGRES_DIFFERENCE:
        extra, reason = POSTGRES_DIFFERENCE[request_name]
        expected, why = expected + extra, f"{why}; on PostgreSQL {extra:+d}: {reason}"
    assert len(app) - len(floor) == expected, (
        f"{request_name} on {engine}: the app runs {len(app)} statements, the floor {len(floor)} "
        f"(stated difference {expected}: {why})\napp:\n{listing(app)}\nfloor:\n{listing(floor)}"
    )
    assert all(s.transaction for s in floor if not s.sql.startswith("SELECT")), (
        "the floor writes in its transaction"
    )


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_floor_answers_and_writes_what_the_app_does(engine):
    await skip_without(engine)
    app, floor = await runs(engine, "app"), await runs(engine, "floor")
    for name in REQUESTS:
        assert floor.responses[name] == app.responses[name], f"{name} on {engine}: the response bodies differ"
    for table, rows in app.state.items():
        assert floor.state[table] == rows, f"{table} on {engine}: the rows differ after the requests"
    balances = {row["name"]: row["balance"] for row in floor.state["ledger accounts"]}
    assert sum(balances.values()) == 0, "the floor's ledger balances"


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_lean_floor_answers_each_browse_page_as_the_app_in_one_statement(engine):
    """The lean floor (``bench/floor/lean.py``) is the one-query limit of a browse page:
    its figures mean something only while its pages are the app's."""
    await skip_without(engine)
    app, lean = await runs(engine, "app"), await runs(engine, "lean")
    for name in BROWSE_REQUESTS:
        assert lean.responses[name] == app.responses[name], f"{name} on {engine}: the response bodies differ"
        assert len(lean.responses[name]["items"]) == len(app.responses[name]["items"]) > 0, name
        assert [s.transaction for s in lean.statements[name]] == [0], (
            f"{name} on {engine}: the lean floor runs {len(lean.statements[name])} statements\n"
            f"{listing(lean.statements[name])}"
        )


_prepaid_runs: dict[tuple[str, str], Run] = {}


async def prepaid_runs(engine: str, side: str) -> Run:
    if (engine, side) not in _prepaid_runs:
        _prepaid_runs[engine, side] = await run_prepaid(engine, side)
    return _prepaid_runs[engine, side]


def test_every_prepaid_request_has_a_stated_difference():
    assert set(PREPAID_DIFFERENCE) == set(PREPAID_REQUESTS)
    assert all(difference >= 0 and reason for difference, reason in PREPAID_DIFFERENCE.values())


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@pytest.mark.parametrize("request_name", PREPAID_REQUESTS)
async def test_app_runs_the_floors_prepaid_statements(engine, request_name):
    await skip_without(engine)
    app = (await prepaid_runs(engine, "app")).statements[request_name]
    floor = (await prepaid_runs(engine, "floor")).statements[request_name]
    expected, why = PREPAID_DIFFERENCE[request_name]
    if engine == "postgres" and request_name in PREPAID_POSTGRES_DIFFERENCE:
        extra, reason = PREPAID_POSTGRES_DIFFERENCE[request_name]
        expected, why = expected + extra, f"{why}; on PostgreSQL {extra:+d}: {reason}"
    assert len(app) - len(floor) == expected, (
        f"{request_name} on {engine}: the app runs {len(app)} statements, the floor {len(floor)} "
        f"(stated difference {expected}: {why})\napp:\n{listing(app)}\nfloor:\n{listing(floor)}"
    )
    assert all(s.transaction for s in floor if not s.sql.startswith(("SELECT", "WITH"))), (
        "the floor writes in its transaction"
    )


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_floor_locks_and_lists_prepaid_requests_as_the_app_does(engine):
    await skip_without(engine)
    app, floor = await prepaid_runs(engine, "app"), await prepaid_runs(engine, "floor")
    for name in PREPAID_REQUESTS:
        assert floor.responses[name] == app.responses[name], f"{name} on {engine}: the response bodies differ"
    assert app.responses[PREPAID_REQUESTS[0]]["status"] == "in_progress"
    assert len(app.responses[PREPAID_REQUESTS[2]]["items"]) == 20
    for table, rows in app.state.items():
        assert floor.state[table] == rows, f"{table} on {engine}: the rows differ after the requests"


_leads_runs: dict[tuple[str, str], Run] = {}


async def leads_runs(engine: str, side: str) -> Run:
    if (engine, side) not in _leads_runs:
        _leads_runs[engine, side] = await run_leads(engine, side)
    return _leads_runs[engine, side]


def test_every_leads_request_has_a_stated_difference():
    assert set(LEADS_DIFFERENCE) == set(LEADS_REQUESTS)
    assert all(difference >= 0 and reason for difference, reason in LEADS_DIFFERENCE.values())


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@pytest.mark.parametrize("request_name", LEADS_REQUESTS)
async def test_app_runs_the_floors_leads_statements(engine, request_name):
    await skip_without(engine)
    app = (await leads_runs(engine, "app")).statements[request_name]
    floor = (await leads_runs(engine, "floor")).statements[request_name]
    expected, why = LEADS_DIFFERENCE[request_name]
    assert len(app) - len(floor) == expected, (
        f"{request_name} on {engine}: the app runs {len(app)} statements, the floor {len(floor)} "
        f"(stated difference {expected}: {why})\napp:\n{listing(app)}\nfloor:\n{listing(floor)}"
    )


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_floor_lists_the_leads_feed_as_the_app_does(engine):
    await skip_without(engine)
    app, floor = await leads_runs(engine, "app"), await leads_runs(engine, "floor")
    for name in LEADS_REQUESTS:
        assert floor.responses[name] == app.responses[name], f"{name} on {engine}: the response bodies differ"
    first = app.responses[LEADS_REQUESTS[0]]["items"]
    assert len(first) == 20 and app.responses[LEADS_REQUESTS[1]]["items"]
    # the lead the metro business unlocked shows its customer and its unlock; the others hide the customer
    assert first[0]["unlock"]["status"] == "charged" and first[0]["customer_id"] is not None
    assert all(item["customer_id"] is None and item["unlock"] is None for item in first[1:])
