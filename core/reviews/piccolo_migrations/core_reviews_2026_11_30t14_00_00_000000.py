"""Fill ``core_listing.seller_rating`` (the key of ``sort=rating``) for listings that
existed before it was stored: the same formula as
``agorakit.reviews.service.store_seller_rating``, for every listing at once."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "store every listing's seller rating"

FILL = (
    "UPDATE core_listing SET seller_rating = ("
    "SELECT CASE WHEN COUNT(*) = 0 THEN -1 "
    "ELSE (SUM(r.rating) * 1000000 / COUNT(*)) * 100000 "
    "+ (CASE WHEN COUNT(*) > 99999 THEN 99999 ELSE COUNT(*) END) END "
    "FROM core_review r WHERE r.subject_id = core_listing.owner_id "
    "AND r.author_role = 'buyer' AND r.hidden = false) "
    # the others keep the column's default, -1 (no ratings)
    "WHERE owner_id IN (SELECT subject_id FROM core_review WHERE author_role = 'buyer' AND hidden = false)"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_reviews", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl(FILL)
        # Fresh statistics for the planners: without them SQLite took the new
        # core_listing_rating index for every browse (status = 'published' looked
        # selective there only) and sort=newest read the whole table (1.3 s at 1M).
        await engine.run_ddl("ANALYZE core_listing")

    manager.add_raw(run)
    return manager
