"""The core's own plugin for the catalog: tables, routes and the default text screening."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.catalog import controllers as c
from agorakit.catalog import moderation, qualifications
from agorakit.catalog.events import EVENTS

# The default screening is an ordinary trylast hookimpl; importing it here registers it
# with this core plugin.
from agorakit.catalog.listings import bind_ratings
from agorakit.catalog.notices import catalog_notices
from agorakit.catalog.piccolo_app import APP_CONFIG
from agorakit.catalog.screening import agorakit_screen_text  # noqa: F401
from agorakit.http import OperatorQueue


@hookimpl
def agorakit_startup(runtime):
    """Bind the ratings listings show (``agorakit_listing_ratings``)."""
    bind_ratings(runtime.hooks.first_sync("agorakit_listing_ratings"))


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [c.CategoryController, c.QualificationController, c.ListingController, c.ModerationController]


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
async def agorakit_notify(event, runtime):
    """Tell a listing's owner about the moderation decision, and a member about their
    qualification's decision or revocation (category ``listings``)."""

    return await catalog_notices(event, runtime)


@hookimpl
async def agorakit_operator_queues(runtime):
    """Listings waiting for review (overdue past their kind's review target, in working
    hours) and qualification applications waiting for a decision."""
    listings = await moderation.pending_review_count(runtime)
    applications = await qualifications.pending_count()
    return [
        OperatorQueue(
            key="listings.review",
            title="Listings to review",
            count=listings.count,
            oldest_at=listings.oldest_at,
            overdue=listings.overdue,
            due_hours=runtime.settings.listings.review_target_hours,
            list_path="/operator/listings/pending",
            area="catalog",
        ),
        OperatorQueue(
            key="qualifications.pending",
            title="Applications for category access",
            count=applications.count,
            oldest_at=applications.oldest_at,
            list_path="/operator/qualifications?status=pending",
            area="catalog",
        ),
    ]
