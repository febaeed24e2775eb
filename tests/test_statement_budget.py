"""The statement budget: how many SQL statements and transactions each benchmarked request
may run, on SQLite and on PostgreSQL.

Deterministic, not a timing: each request runs once in-process through the real app, on a
site seeded as the bench seeds it (``bench.capture``: the requests of ``python -m bench
capture``, every statement recorded at Piccolo's engine, ``BEGIN``/``COMMIT`` and
savepoints not counted), and the test fails when a request runs more statements or
transactions than :data:`BUDGET` allows.  The in-process client delivers committed events
inline, right after each commit, so a request's count includes the work done after its
commit (notifications, emails queued, order messages): the test checks that every event
was delivered by the request that recorded it.

The budgets live in :data:`BUDGET` and :data:`FLOW_BUDGETS` only: raising one is a change of
one line there, visible in review.  A request that comes in under its budget passes;
lower the budget with the change that made it cheaper.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.capture import (  # noqa: E402
    MORE_BROWSE_REQUESTS,
    REQUESTS,
    Run,
    Statement,
    render,
    run,
    run_browse_more,
)
from bench.sites import postgres_unreachable  # noqa: E402

#: request -> (statements, transactions): the most it may run on either database
BUDGET: dict[str, tuple[int, int]] = {
    # GET /listings: one statement per page (its listings, their sellers, categories and
    # stored ratings, and the category tree's version); a second for a filtered browse
    # whose walk of the newest 1,000 listings finds no more than a page, or for the
    # category tree the process reads with its first category page, or again after the
    # tree changed.  Reads only: no transaction.
    "GET /listings": (2, 0),
    "GET /listings?category": (2, 0),
    "GET /listings?q": (2, 0),
    "GET /listings?q (rare)": (2, 0),
    "GET /listings?q&sort=newest (rare)": (2, 0),
    "GET /listings?sort=rating": (2, 0),
    "GET /listings?q (search_tantivy)": (2, 0),
    "GET /listings?q (search_tantivy, rare)": (2, 0),
    "GET /listings?q&cursor (search_tantivy)": (2, 0),
    "GET /listings?category (the tree kept)": (2, 0),
    "GET /listings?category&cursor (the tree kept)": (2, 0),
    "GET /listings?category (the tree changed)": (2, 0),
    # The order flow: each request in one transaction (SQLite's count; PostgreSQL runs
    # 8, 14, 7 and 10: it writes several tables in one statement where SQLite's triggers
    # write what follows a history row, a posting's legs, a notice).
    "POST /gigs/{id}/orders": (11, 1),
    "POST /orders/{id}/payments": (14, 1),
    "POST /gigs/orders/{id}/delivery": (8, 1),
    "POST /gigs/orders/{id}/accept": (10, 1),
    # A withdrawal (PostgreSQL runs 6).
    "POST /withdrawals": (7, 1),
}
#: the order flow's four requests
FLOW = (
    "POST /gigs/{id}/orders",
    "POST /orders/{id}/payments",
    "POST /gigs/orders/{id}/delivery",
    "POST /gigs/orders/{id}/accept",
)
#: the order flow's four requests together, on either database: (statements, transactions)
FLOW_BUDGETS: tuple[int, int] = (45, 6)


def test_every_benchmarked_request_has_a_budget():
    assert set(BUDGET) == set(REQUESTS) | set(MORE_BROWSE_REQUESTS)
    assert set(FLOW) <= set(BUDGET)
    assert sum(BUDGET[name][0] for name in FLOW) <= FLOW_BUDGETS[0]
    assert sum(BUDGET[name][1] for name in FLOW) <= FLOW_BUDGETS[1]


_runs: dict[str, tuple[Run, dict[str, list[Statement]]]] = {}


async def recorded(engine: str) -> tuple[Run, dict[str, list[Statement]]]:
    """One run of the benchmarked requests and of the further browse pages per engine,
    for the whole module (each builds and seeds its own site)."""
    if engine not in _runs:
        reason = await postgres_unreachable() if engine == "postgres" else None
        if reason:
            pytest.skip(f"PostgreSQL: {reason}")
        _runs[engine] = (await run(engine, "app"), await run_browse_more(engine))
    return _runs[engine]


def counts(statements: list[Statement]) -> tuple[int, int]:
    """(statements, transactions)."""
    return len(statements), len({s.transaction for s in statements if s.transaction})


def over(name: str, engine: str, statements: list[Statement], budget: tuple[int, int]) -> str:
    found = counts(statements)
    return (
        f"{name} on {engine} runs {found[0]} statements in {found[1]} transactions; its budget is "
        f"{budget[0]} in {budget[1]} (tests/test_statement_budget.py BUDGET):\n"
        + "\n".join(render(statements))
    )


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@pytest.mark.parametrize("request_name", list(BUDGET))
async def test_request_stays_within_its_statement_budget(engine, request_name):
    benchmarked, more = await recorded(engine)
    statements = {**benchmarked.statements, **more}[request_name]
    statement_count, transaction_count = counts(statements)
    budget = BUDGET[request_name]
    assert statement_count <= budget[0] and transaction_count <= budget[1], over(
        request_name, engine, statements, budget
    )
    if request_name.startswith("GET "):
        assert statements, f"{request_name} on {engine}: no statement recorded (is the recording on?)"
        assert all(s.sql.startswith("SELECT") for s in statements), over(
            request_name, engine, statements, budget
        )


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_order_flow_stays_within_its_statement_budget(engine):
    benchmarked, _ = await recorded(engine)
    total = [0, 0]
    for name in FLOW:
        found = counts(benchmarked.statements[name])
        total = [total[0] + found[0], total[1] + found[1]]
    budget = FLOW_BUDGETS
    assert total[0] <= budget[0] and total[1] <= budget[1], (
        f"the order flow on {engine} runs {total[0]} statements in {total[1]} transactions; its budget is "
        f"{budget[0]} in {budget[1]}"
    )


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_the_counts_include_the_work_after_each_commit(engine):
    """Every event the requests recorded was delivered, inline, by the request that
    committed it: its handlers' statements are in that request's count."""
    benchmarked, _ = await recorded(engine)
    events = benchmarked.state["domain events"]
    assert events and {row["status"] for row in events} == {"published"}, events
    assert benchmarked.state["notifications"] and benchmarked.state["emails"]
    accepted = benchmarked.statements["POST /gigs/orders/{id}/accept"]
    # (the notification and its email are one statement: on PostgreSQL a WITH, on SQLite
    # an insert into the view core_notice, whose trigger writes both)
    notice = "INSERT INTO core_notice" if engine == "sqlite" else 'INSERT INTO "core_notification"'
    assert any(notice in s.sql for s in accepted)
