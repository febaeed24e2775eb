"""prepaid: the igitems-style model: prepaid and classic service requests.

Sellers get access per category (the core's qualifications); buyers post requests
(prepaid: paid at once, a qualified seller locks it; classic: sellers send offers, the
buyer accepts one and pays); the seller delivers with evidence, the buyer confirms or
reports.  Enable it with ``plugins = ["prepaid"]``; settings in ``[plugins.prepaid]``.
See ``docs/plugins/prepaid.md``.
"""

from __future__ import annotations

from pathlib import Path

from agorakit import hookimpl
from agorakit.catalog import ListingKind
from agorakit.events import event_handler
from agorakit.plugins.prepaid import offers, requests, sync
from agorakit.plugins.prepaid.console import console_pages
from agorakit.plugins.prepaid.demo import DEMO_SETTINGS, load_demo_prepaid
from agorakit.plugins.prepaid.events import EVENTS
from agorakit.plugins.prepaid.notices import prepaid_notices
from agorakit.plugins.prepaid.offers_routes import OfferController
from agorakit.plugins.prepaid.operator import OperatorPrepaidController, operator_queues
from agorakit.plugins.prepaid.piccolo_app import APP_CONFIG
from agorakit.plugins.prepaid.process import LOCK_LIMIT, RECORD_RELEASE, SYNC, offer_process, request_process
from agorakit.plugins.prepaid.routes import RequestController
from agorakit.plugins.prepaid.schemas import RequestAttributes
from agorakit.plugins.prepaid.settings import PrepaidSettings
from agorakit.settings import SettingsSpec

NAME = requests.NAME


@hookimpl
def agorakit_settings():

    return SettingsSpec(name=NAME, type=PrepaidSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [RequestController, OfferController, OperatorPrepaidController]


@hookimpl
def agorakit_listing_kinds(runtime):
    """Requests: only sellers with access to the category see and take them; the plugin
    publishes them itself (a prepaid one when its payment settles), never by review."""
    return [
        ListingKind(
            name=requests.KIND,
            attributes=RequestAttributes,
            review_required=False,
            visible_to="eligible",
            takers="qualified",
        )
    ]


@hookimpl
def agorakit_processes(runtime):
    settings = runtime.plugin_settings(NAME)
    return [request_process(settings), offer_process(settings)]


@hookimpl
def agorakit_order_guards():

    return {LOCK_LIMIT: sync.lock_limit}


@hookimpl
def agorakit_order_effects():

    return {SYNC: sync.request_moved, RECORD_RELEASE: sync.record_release}


@hookimpl
@event_handler("order.transitioned", where=sync.is_dispute_move)
async def agorakit_on_events(events, runtime):

    await sync.on_order_events(runtime, events)


@hookimpl
async def agorakit_notify(event, runtime):
    """Sellers hear of new requests in their categories; buyers and sellers of locks and
    offers (see ``notices``)."""
    return await prepaid_notices(event, runtime)


@hookimpl
def agorakit_template_dirs():

    return [Path(__file__).parent / "templates"]


@hookimpl
async def agorakit_sweep(runtime):
    """Open classic requests past their ``request_days`` expire."""
    return {"prepaid_requests_expired": await offers.expire_classic(runtime)}


@hookimpl
async def agorakit_next_due(after, until):

    return await offers.next_expiry(after, until)


@hookimpl
async def agorakit_listing_status_changed(listing_id, kind, new_status):
    """A request's listing is moved by its request, not through the listing routes."""

    await requests.on_listing_status_changed(listing_id, kind, new_status)


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
def agorakit_demo_settings():
    """The demo site's service types (a games tree)."""
    return DEMO_SETTINGS


@hookimpl
async def agorakit_demo_data(runtime, members):

    await load_demo_prepaid(runtime, members)


@hookimpl
async def agorakit_operator_queues(runtime):
    """Offers the screening holds, and requests in progress past their timeframe."""

    return await operator_queues(runtime)


@hookimpl
def agorakit_test_factories():
    """``make_listing(kind="request")`` and ``make_order(kind="request", state=...)`` in tests."""
    from agorakit.plugins.prepaid.testing import FACTORIES

    return [FACTORIES]


@hookimpl
def agorakit_console_pages():
    """The operator console's flagged offers, stuck locks and requests (see ``console``)."""
    return console_pages()
