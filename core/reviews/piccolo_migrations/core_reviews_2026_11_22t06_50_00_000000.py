"""Review rules in raw SQL (SQLite cannot add constraints to an existing table).

- One review per order and author: a unique index, so a second review is refused even
  when two requests race (the loser gets a unique violation, answered with a 409).
- Ratings are 1-5: a CHECK constraint on PostgreSQL, a trigger on SQLite.
- Summaries read a member's visible reviews by role: an index for that.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T06:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one review per order and author; rating range"

COMMON = [
    "CREATE UNIQUE INDEX core_review_order_author ON core_review (order_id, author_id)",
    "CREATE INDEX core_review_subject_role ON core_review (subject_id, author_role, hidden)",
]

POSTGRES = [
    "ALTER TABLE core_review ADD CONSTRAINT core_review_rating_range CHECK (rating BETWEEN 1 AND 5)",
]

SQLITE = [
    "CREATE TRIGGER core_review_rating_range_insert BEFORE INSERT ON core_review "
    "WHEN NEW.rating NOT BETWEEN 1 AND 5 "
    "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: core_review_rating_range'); END",
    "CREATE TRIGGER core_review_rating_range_update BEFORE UPDATE OF rating ON core_review "
    "WHEN NEW.rating NOT BETWEEN 1 AND 5 "
    "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: core_review_rating_range'); END",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_reviews", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        statements = COMMON + (SQLITE if engine.engine_type == "sqlite" else POSTGRES)
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
