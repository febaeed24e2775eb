"""gigs: the Fiverr-style gig marketplace, on the core's listings, orders and ledger.

Enable it with ``plugins = ["gigs"]``; settings in ``[plugins.gigs]``.  See ``docs/plugins/gigs.md``.
"""

from __future__ import annotations

from pathlib import Path

from agorakit import hookimpl
from agorakit.catalog import ListingKind
from agorakit.events import event_handler
from agorakit.plugins.gigs import service
from agorakit.plugins.gigs.console import console_pages
from agorakit.plugins.gigs.controllers import GigController, GigOrderController, GigSellerController
from agorakit.plugins.gigs.demo import load_demo_gigs
from agorakit.plugins.gigs.events import EVENTS
from agorakit.plugins.gigs.kinds import GigAttributes, gig_problems
from agorakit.plugins.gigs.notices import gig_notices
from agorakit.plugins.gigs.piccolo_app import APP_CONFIG
from agorakit.plugins.gigs.process import gig_order_process
from agorakit.plugins.gigs.service import lapse_proposals, stops_a_gig_order
from agorakit.plugins.gigs.settings import GigsSettings
from agorakit.settings import SettingsSpec

NAME = "gigs"


@hookimpl
def agorakit_settings():

    return SettingsSpec(name=NAME, type=GigsSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [GigController, GigOrderController, GigSellerController]


@hookimpl
def agorakit_listing_kinds():

    return [ListingKind(name="gig", attributes=GigAttributes, review_required=True, charge_fees=True)]


@hookimpl
def agorakit_validate_listing(listing, runtime):
    if listing.kind != "gig":
        return None

    return gig_problems(listing, runtime.plugin_settings(NAME))


@hookimpl
def agorakit_can_take(listing, member):
    """A gig limited to some countries can be ordered only by members living there."""
    countries = listing.attributes.get("countries") or [] if listing.kind == "gig" else []
    if countries and member.country not in countries:
        return f"this gig is only for buyers in {', '.join(countries)}"
    return None


@hookimpl
def agorakit_processes(runtime):

    return [gig_order_process(runtime.plugin_settings(NAME))]


@hookimpl
def agorakit_order_guards():

    return {"gigs_other_party_proposed": service.other_party_proposed}


@hookimpl
def agorakit_order_effects():

    return {"gigs_close_proposal": service.close_proposal}


@hookimpl
@event_handler("order.transitioned", where=stops_a_gig_order, in_transaction=True)
async def agorakit_on_events(events, runtime):
    """Open cancellation proposals lapse when their order stops running."""
    await lapse_proposals(runtime, events)


@hookimpl
def agorakit_notify(event, runtime):

    return gig_notices(event)


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
def agorakit_console_pages():
    """Gig orders needing attention and a member's seller record, in the operator console."""
    return console_pages()


@hookimpl
def agorakit_template_dirs():
    return [Path(__file__).parent / "templates"]


@hookimpl
async def agorakit_demo_data(runtime, members):

    await load_demo_gigs(runtime, members)


@hookimpl
def agorakit_test_factories():
    """``make_listing(kind="gig")`` and ``make_order(kind="gig", state=...)`` in tests."""
    from agorakit.plugins.gigs.testing import FACTORIES

    return [FACTORIES]
