"""The floor's statement counts against the app's, request by request.

``bench/floor.py`` is the leanest version of each benchmarked request: the SQL the app
runs, through the raw driver, with nothing else.  Its figures mean something only while it
does the same work as the app, so this test drives every benchmarked request through both
in-process (``bench.capture``: the same seed, the same requests, the app's statements
recorded at Piccolo's engine, the floor's at its driver sessions) and compares the
number of statements each runs.  ``BEGIN``/``COMMIT``/savepoints are not counted on
either side.

Where the two differ, ``DIFFERENCE`` states by how much and why (app minus floor).  A
change to either side that adds or removes a statement fails here: then either the floor
follows the app, or the difference and its reason are updated.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.capture import REQUESTS, Statement, capture  # noqa: E402
from bench.sites import postgres_unreachable  # noqa: E402

#: request -> (the app's statements minus the floor's, why); negative: the floor runs more
DIFFERENCE: dict[str, tuple[int, str]] = {
    "GET /listings": (0, "the same six reads"),
    "GET /listings?category": (0, "the same six reads (the walk of the category's newest listings)"),
    "GET /listings?q": (0, "the same six reads"),
    "POST /gigs/{id}/orders": (
        -2,
        "the floor reads the new order and its items twice for the response, the app once",
    ),
    "POST /orders/{id}/payments": (
        -9,
        "the floor reads the order's items twice more, the payment three times more and an "
        "account once more; it looks the posting's key up before inserting it (the app: "
        "ON CONFLICT DO NOTHING); its system message checks for an existing message and "
        "prunes the participants, which the app's one conversation read makes needless",
    ),
    "POST /gigs/orders/{id}/delivery": (
        -11,
        "the floor reads the order and its items three times more; its system message "
        "checks for an existing message, creates and reads the conversation, inserts and "
        "prunes the participants (five statements the app's one conversation read replaces)",
    ),
    "POST /gigs/orders/{id}/accept": (
        -10,
        "the app reads the order's open cancellation proposals (one set-wise read, +1); the "
        "floor reads the order once more and its items three times more, looks the "
        "posting's key up, closes the proposal with an update whether there is one or not, "
        "and runs the five extra statements of its system message",
    ),
    "POST /withdrawals": (-1, "the floor looks the posting's key up before inserting it"),
}
#: on PostgreSQL, added to ``DIFFERENCE``
POSTGRES_DIFFERENCE: dict[str, tuple[int, str]] = {
    "POST /gigs/orders/{id}/accept": (
        1,
        "the platform's fee credit is kept to the end of the unit of work and applied just "
        "before the commit, with an entry insert of its own (deferred fee credits)",
    ),
}


def test_every_benchmarked_request_has_a_stated_difference():
    assert set(DIFFERENCE) == set(REQUESTS) and set(POSTGRES_DIFFERENCE) <= set(REQUESTS)
    assert all(reason for _, reason in DIFFERENCE.values())


_captured: dict[tuple[str, str], dict[str, list[Statement]]] = {}


async def statements(engine: str, side: str) -> dict[str, list[Statement]]:
    """One capture per engine and side for the whole module (each builds and seeds a site)."""
    if (engine, side) not in _captured:
        _captured[engine, side] = await capture(engine, side)
    return _captured[engine, side]


def listing(found: list[Statement]) -> str:
    return "\n".join(f"    {s.sql[:150]}" for s in found)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@pytest.mark.parametrize("request_name", REQUESTS)
async def test_app_runs_the_floors_statements(engine, request_name):
    if engine == "postgres":
        reason = await postgres_unreachable()
        if reason:
            pytest.skip(f"PostgreSQL: {reason}")
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
