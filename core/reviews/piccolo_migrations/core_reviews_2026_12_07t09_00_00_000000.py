"""Fill the rating summaries stored on each listing (``core_listing.seller_rating_count``,
``seller_rating_sum``, ``rating_count``, ``rating_sum``) for the reviews written before
they were stored: what ``agorakit.reviews.service`` keeps them at from now on, for every
listing at once.  Listings without visible ratings by buyers keep the columns' 0."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-07T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "store the rating summaries on listings"

#: a buyer's visible review: what the summaries count
_VISIBLE = "r.author_role = 'buyer' AND r.hidden = false"

FILL = [
    # the owner's summary as a seller, on each of their listings
    "UPDATE core_listing SET (seller_rating_count, seller_rating_sum) = ("
    "SELECT COUNT(*), COALESCE(SUM(r.rating), 0) FROM core_review r "
    f"WHERE r.subject_id = core_listing.owner_id AND {_VISIBLE}) "
    "WHERE owner_id IN (SELECT r.subject_id FROM core_review r WHERE " + _VISIBLE + ")",
    # each listing's own: what its buyers wrote
    "UPDATE core_listing SET (rating_count, rating_sum) = ("
    "SELECT COUNT(*), COALESCE(SUM(r.rating), 0) FROM core_review r "
    f"WHERE r.listing_id = core_listing.id AND {_VISIBLE}) "
    "WHERE id IN (SELECT r.listing_id FROM core_review r WHERE " + _VISIBLE + ")",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core_reviews", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for statement in FILL:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
