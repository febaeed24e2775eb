"""leads: the Thumbtack-style model: customers post jobs, businesses pay per lead.

Customers post jobs for free (checked by screening and, with ``review_required``, by an
operator); businesses keep a service profile (categories and areas), see the matching
jobs in their feed and unlock one to talk to the customer — charged the lead price once —
or are contacted first by the customer and charged when they reply; from the chat they
may report a lead for a refund to their credit.  Enable it with ``plugins = ["leads"]``;
settings in ``[plugins.leads]``.  See ``docs/plugins/leads.md``.
"""

from __future__ import annotations

from pathlib import Path

from agorakit import hookimpl
from agorakit.catalog import ListingKind
from agorakit.plugins.leads import contact, jobs, operator, reports, unlocks
from agorakit.plugins.leads.console import console_pages
from agorakit.plugins.leads.demo import DEMO_SETTINGS, load_demo_leads
from agorakit.plugins.leads.events import EVENTS
from agorakit.plugins.leads.notices import leads_notices
from agorakit.plugins.leads.piccolo_app import APP_CONFIG
from agorakit.plugins.leads.process import CHARGE, FREE_PLACE, unlock_process
from agorakit.plugins.leads.routes import LeadController, OperatorLeadController
from agorakit.plugins.leads.schemas import LeadAttributes
from agorakit.plugins.leads.settings import LeadsSettings
from agorakit.plugins.leads.tables import Lead, Unlock
from agorakit.settings import SettingsSpec

NAME = "leads"


@hookimpl
def agorakit_settings():

    return SettingsSpec(name=NAME, type=LeadsSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [LeadController, OperatorLeadController]


@hookimpl
def agorakit_listing_kinds(runtime):
    """Jobs: seen by their customer and operators through the listing routes; businesses
    see them through ``/leads`` only.  Reviewed when ``review_required``."""
    settings = runtime.plugin_settings(NAME)
    return [
        ListingKind(
            name=jobs.KIND,
            attributes=LeadAttributes,
            review_required=settings.review_required,
            review_target_hours=settings.review_hours,
            charge_fees=False,
            visible_to="eligible",
        )
    ]


@hookimpl
def agorakit_can_take(listing, member, runtime):
    """Nobody takes a job through the listing routes (a business unlocks it)."""
    if listing.kind == jobs.KIND:
        return "jobs are found in GET /leads/feed and unlocked with POST /leads/{id}/unlock"
    return None


@hookimpl
async def agorakit_validate_listing(listing, runtime):
    """A job's listing is changed through ``/leads`` only (409 on the generic routes)."""
    await jobs.refuse_generic_edit(listing)


@hookimpl
def agorakit_processes(runtime):

    return [unlock_process(runtime.plugin_settings(NAME))]


@hookimpl
def agorakit_order_effects():

    return {CHARGE: unlocks.charge, FREE_PLACE: unlocks.free_place}


@hookimpl
async def agorakit_listing_status_changed(uow, listing_id, kind, owner_id, old_status, new_status, runtime):

    await jobs.on_listing_status_changed(uow, listing_id, kind, old_status, new_status)


@hookimpl
async def agorakit_message_posting(uow, conversation, sender, runtime):
    """A business replying to a customer who wrote first is charged in the reply's
    transaction; nobody asks about a job through its listing."""
    await contact.on_message_posting(uow, conversation, sender)


@hookimpl
async def agorakit_dispute_evidence(order, runtime):
    """A report on an unlock keeps the lead as it was when unlocked and as it is now."""
    return await reports.evidence(order)


@hookimpl
async def agorakit_support_link(kind, id, member, runtime):
    """A support conversation may name a lead: the member's own job, or one they are in
    contact with as a business."""
    if kind != "lead":
        return None
    if await Lead.exists().where((Lead.id == id) & (Lead.customer_id == member.id)):
        return True
    return await Unlock.exists().where((Unlock.lead_id == id) & (Unlock.business_id == member.id))


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
async def agorakit_notify(event, runtime):
    """Businesses hear of new matching jobs, of customers writing to them and of their
    charges; customers of their job's review, of interested businesses and of its expiry
    (see ``notices``)."""
    return await leads_notices(event, runtime)


@hookimpl
def agorakit_template_dirs():

    return [Path(__file__).parent / "templates"]


@hookimpl
async def agorakit_sweep(runtime):
    """Open jobs past ``lead_days`` expire."""
    return {"leads_expired": await jobs.expire_leads(runtime)}


@hookimpl
async def agorakit_next_due(after, until):

    return await jobs.next_expiry(after, until)


@hookimpl
def agorakit_demo_settings():
    """The demo site's job forms and lead prices (a home-services and lessons tree)."""
    return DEMO_SETTINGS


@hookimpl
async def agorakit_demo_data(runtime, members):

    await load_demo_leads(runtime, members)


@hookimpl
def agorakit_test_factories():
    """``make_listing(kind="lead")`` and ``make_order(kind="lead", state=...)`` in tests."""
    from agorakit.plugins.leads.testing import FACTORIES

    return [FACTORIES]


@hookimpl
async def agorakit_operator_queues(runtime):
    """Jobs waiting for review (their reports are the core's dispute queue)."""

    return [await operator.review_queue(runtime)]


@hookimpl
def agorakit_console_pages():
    """The operator console's jobs by status, the review of pending ones (see ``console``)."""
    return console_pages()
