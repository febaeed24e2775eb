"""The lean floor of the order flow and a withdrawal (``bench/floor/lean_orders.py``) does
the app's work: the same response bodies and the same rows in every table, in one
transaction per request and far fewer statements.

Its figures (the flow case reports the app's server CPU per flow against it) mean
something only while it does the same user-visible work as the app, so this test drives
the benchmarked requests through both in-process (``bench.capture``: the same seed, the
same requests) on SQLite and PostgreSQL and compares what they answer and leave.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.capture import Run, run  # noqa: E402
from bench.sites import postgres_unreachable  # noqa: E402

#: the order flow's requests and a withdrawal
WRITES = (
    "POST /gigs/{id}/orders",
    "POST /orders/{id}/payments",
    "POST /gigs/orders/{id}/delivery",
    "POST /gigs/orders/{id}/accept",
    "POST /withdrawals",
)
#: what the lean floor runs per request: (SQLite, PostgreSQL); the statements of the
#: caller's row (read before the transaction) included
LEAN = {
    "POST /gigs/{id}/orders": (9, 4),
    "POST /orders/{id}/payments": (16, 5),
    "POST /gigs/orders/{id}/delivery": (10, 4),
    "POST /gigs/orders/{id}/accept": (14, 3),
    "POST /withdrawals": (7, 4),
}

_runs: dict[tuple[str, str], Run] = {}


async def runs(engine: str, side: str) -> Run:
    if engine == "postgres":
        reason = await postgres_unreachable()
        if reason:
            pytest.skip(f"PostgreSQL: {reason}")
    if (engine, side) not in _runs:
        _runs[engine, side] = await run(engine, side)
    return _runs[engine, side]


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_lean_floor_answers_and_writes_what_the_app_does(engine):
    app, lean = await runs(engine, "app"), await runs(engine, "lean")
    for name in WRITES:
        assert lean.responses[name] == app.responses[name], f"{name} on {engine}: the response bodies differ"
    for table, rows in app.state.items():
        assert lean.state[table] == rows, f"{table} on {engine}: the rows differ after the requests"
    assert sum(row["balance"] for row in lean.state["ledger accounts"]) == 0


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_lean_floor_writes_each_request_in_one_transaction_and_its_statements(engine):
    lean = await runs(engine, "lean")
    column = 0 if engine == "sqlite" else 1
    for name in WRITES:
        statements = lean.statements[name]
        assert len({s.transaction for s in statements if s.transaction}) == 1, name
        assert all(s.transaction for s in statements if not s.sql.startswith("SELECT")), name
        assert len(statements) == LEAN[name][column], (name, engine, [s.sql[:80] for s in statements])
