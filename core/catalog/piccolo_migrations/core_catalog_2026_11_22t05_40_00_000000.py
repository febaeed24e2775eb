"""Catalog rules and full-text search in raw SQL, per engine.

- One open (pending) qualification application per member and category: a partial
  unique index (both engines).
- Keyset indexes for browsing published listings by date and by price.
- SQLite: an external-content FTS5 table over listing titles and descriptions (porter
  stemming), kept in sync with ``core_listing`` by triggers.
- PostgreSQL: a generated ``tsvector`` column (English stemming; title weight A,
  description weight B) with a GIN index.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T05:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "catalog constraints and full-text search"

COMMON = [
    "CREATE UNIQUE INDEX core_qualification_one_open ON core_qualification (member_id, category_id) "
    "WHERE status = 'pending'",
    "CREATE INDEX core_listing_published ON core_listing (status, published_us, id)",
    "CREATE INDEX core_listing_price ON core_listing (status, price, id)",
]

POSTGRES = [
    "ALTER TABLE core_listing ADD CONSTRAINT core_listing_price_not_negative CHECK (price >= 0)",
    "ALTER TABLE core_listing ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(description, '')), 'B')) STORED",
    "CREATE INDEX core_listing_search ON core_listing USING GIN (search_vector)",
]

SQLITE = [
    "CREATE VIRTUAL TABLE core_listing_fts USING fts5("
    "title, description, content='core_listing', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER core_listing_fts_insert AFTER INSERT ON core_listing BEGIN "
    "INSERT INTO core_listing_fts (rowid, title, description) VALUES (new.id, new.title, new.description); "
    "END",
    "CREATE TRIGGER core_listing_fts_delete AFTER DELETE ON core_listing BEGIN "
    "INSERT INTO core_listing_fts (core_listing_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); "
    "END",
    "CREATE TRIGGER core_listing_fts_update AFTER UPDATE OF title, description ON core_listing BEGIN "
    "INSERT INTO core_listing_fts (core_listing_fts, rowid, title, description) "
    "VALUES ('delete', old.id, old.title, old.description); "
    "INSERT INTO core_listing_fts (rowid, title, description) VALUES (new.id, new.title, new.description); "
    "END",
    "CREATE TRIGGER core_listing_price_not_negative BEFORE INSERT ON core_listing WHEN NEW.price < 0 "
    "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: core_listing_price_not_negative'); END",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_catalog", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        statements = COMMON + (SQLITE if engine.engine_type == "sqlite" else POSTGRES)
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
