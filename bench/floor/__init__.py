"""The floor: each benchmarked request's work as a minimal Litestar + msgspec app over the
raw driver.

It serves the benchmarked routes with the same user-visible results as the app (the same
response bodies, the same rows written, the same ledger postings, notifications, emails
and conversation messages, on the same tables and indexes of the same database), and
nothing else: no ORM, no plugin manager, no dependency injection, no middleware, no
templates.  For browse, the order flow and a withdrawal it runs the app's own statements
(what the app costs above it is the framework's; the lean floors, ``lean.py`` and
``lean_orders.py``, are the limit); for the other requests, as few statements as the
work needs.

How those stay lean (see docs/performance.md, "The floor"):

- each request is **one** transaction with its own ``COMMIT``; the app uses one or two
  (the unit of work, then its after-commit event handlers) and on SQLite commits the
  units that finish together with one ``COMMIT`` (group commit, which the floor does not do);
- nothing is read twice: writes return what they wrote (``RETURNING``), an order is read
  with its items in one statement, a check on a related row is an ``EXISTS`` of a read
  the request makes anyway, and what a request already holds (the caller's row) is not
  read again;
- an insert that may find its row there already says so itself (``ON CONFLICT DO
  NOTHING RETURNING``) instead of a look-up first; a ledger balance is moved by account
  name, returning the id and balance its entry needs;
- the work of the app's after-commit handlers (notification, email outbox, the order
  conversation's system message) runs in the same transaction, so its events are
  written already published;
- bodies (notification texts, emails) are fixed strings of similar size instead of
  rendered Jinja2 templates;
- the bearer token is checked like the app does (HS256 JWT, then the member row and its
  security stamp).

Run: ``BENCH_FLOOR_DATABASE=<dsn or sqlite:///file> BENCH_FLOOR_JWT_SECRET=... \\
python -m uvicorn bench.floor:app --port 8001 --no-access-log`` (bench/sites.py does it).
"""

from __future__ import annotations

from litestar import Litestar, get

from bench.floor import driver, effects
from bench.floor.browse import browse, browse_page
from bench.floor.driver import Database, PgSession, SqliteSession, sqlite_sql
from bench.floor.leads import feed as leads_feed
from bench.floor.microjobs import rate as rate_task
from bench.floor.microjobs import submit as submit_task
from bench.floor.microjobs import take as take_task
from bench.floor.orders import accept, deliver, order_gig, pay_order
from bench.floor.prepaid import feed as prepaid_feed
from bench.floor.prepaid import lock as prepaid_lock
from bench.floor.schemas import Problem, problem_response
from bench.floor.withdrawals import withdraw


@get("/health")
async def health() -> dict[str, str]:
    async with driver.db.reads() as s:
        await s.row("SELECT 1 AS one")
    return {"status": "ok"}


async def _start() -> None:
    await driver.db.start()


async def _close() -> None:
    await driver.db.close()


def configure(database: Database, jwt_secret: str) -> tuple[Database, str]:
    """Serve ``database`` and check tokens with ``jwt_secret``; returns what was used before."""
    before = driver.db, effects.JWT_SECRET
    driver.db, effects.JWT_SECRET = database, jwt_secret
    return before


app = Litestar(
    route_handlers=[
        health,
        browse,
        order_gig,
        pay_order,
        deliver,
        accept,
        withdraw,
        take_task,
        submit_task,
        rate_task,
        prepaid_lock,
        prepaid_feed,
        leads_feed,
    ],
    exception_handlers={Problem: problem_response},
    on_startup=[_start],
    on_shutdown=[_close],
)

__all__ = ["Database", "PgSession", "SqliteSession", "app", "browse_page", "configure", "sqlite_sql"]
