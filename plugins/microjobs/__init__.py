"""microjobs: the Microworkers-style model: funded campaigns, tasks with proofs, paid to click.

Enable it with ``plugins = ["microjobs"]``; settings in ``[plugins.microjobs]``.  See
``docs/plugins/microjobs.md``.
"""

from __future__ import annotations

from pathlib import Path

from agorakit import hookimpl
from agorakit.catalog import ListingKind
from agorakit.events import event_handler
from agorakit.money import CommissionDefault
from agorakit.plugins.microjobs import campaigns, eligibility, funding, offers, rates, sync, tasks
from agorakit.plugins.microjobs.console import console_pages
from agorakit.plugins.microjobs.demo import load_demo_microjobs
from agorakit.plugins.microjobs.events import EVENTS
from agorakit.plugins.microjobs.jobs_routes import GroupController, JobController
from agorakit.plugins.microjobs.notices import microjobs_notices
from agorakit.plugins.microjobs.operator import OperatorMicrojobsController, WorkerStatsController
from agorakit.plugins.microjobs.piccolo_app import APP_CONFIG
from agorakit.plugins.microjobs.process import click_process, task_process
from agorakit.plugins.microjobs.routes import CampaignController, TaskController
from agorakit.plugins.microjobs.schemas import CampaignAttributes
from agorakit.plugins.microjobs.settings import MicrojobsSettings
from agorakit.settings import SettingsSpec

NAME = "microjobs"


@hookimpl
def agorakit_settings():

    return SettingsSpec(name=NAME, type=MicrojobsSettings)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [
        CampaignController,
        TaskController,
        JobController,
        GroupController,
        offers.OfferController,
        WorkerStatsController,
        OperatorMicrojobsController,
    ]


@hookimpl
def agorakit_listing_kinds(runtime):
    settings: MicrojobsSettings = runtime.plugin_settings(NAME)
    return [
        ListingKind(
            name=campaigns.KIND,
            attributes=CampaignAttributes,
            review_required=settings.review_required,
            visible_to="eligible",
        ),
        *offers.listing_kinds(settings),
    ]


@hookimpl
def agorakit_commission_defaults():
    """Employers pay the site's fee on top of each reward (10%); workers pay none.
    Offers pay no fee unless the site sets ``[fees] commission_by_kind.offer``."""
    return [CommissionDefault(kind=campaigns.KIND, percent="10", payer="buyer"), offers.COMMISSION]


@hookimpl
def agorakit_processes(runtime):
    settings = runtime.plugin_settings(NAME)
    return [task_process(settings), click_process(settings), offers.offer_process(settings)]


@hookimpl
def agorakit_order_guards():

    return {
        "microjobs_proof_waiting": tasks.proof_waiting,
        "microjobs_first_rating": tasks.first_rating,
        "microjobs_was_corrected": tasks.was_corrected,
        "microjobs_visit_long_enough": tasks.visit_long_enough,
    }


@hookimpl
def agorakit_order_effects():

    return {"microjobs_task_moved": tasks.task_moved, "microjobs_accept_proofs": tasks.accept_proofs}


@hookimpl
async def agorakit_can_take(listing, member, runtime):

    return await eligibility.can_take(runtime, listing, member)


@hookimpl
async def agorakit_validate_listing(listing):

    return await campaigns.check_listing_edit(listing) + offers.offer_problems(listing)


@hookimpl
def agorakit_validate_proof(order):

    return tasks.check_core_proof(order)


@hookimpl
async def agorakit_payment_starting(uow, payer_id, amount, currency, escrow_ref):

    await funding.on_payment_starting(uow, payer_id, amount, currency, escrow_ref)


@hookimpl
async def agorakit_payment_settled(uow, payment):

    await funding.on_payment_settled(uow, payment)


@hookimpl
async def agorakit_listing_status_changed(uow, listing_id, kind, old_status, new_status):
    """Keep a campaign in step with its listing (and refuse campaigns made elsewhere)."""

    await campaigns.on_listing_status_changed(uow, listing_id, kind, old_status, new_status)


@hookimpl
async def agorakit_profile_changing(member, changes):

    return await eligibility.country_locked(member, changes)


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
async def agorakit_demo_data(runtime, members):

    await load_demo_microjobs(runtime, members)


@hookimpl
async def agorakit_can_withdraw(member, request, runtime):
    """Withdrawals need ``min_withdrawal`` available and, for a member who has taken a
    task (see ``success_rate_applies_to``), a success rate of ``min_success_rate`` (no
    rated task: only when it is 0)."""

    return await rates.withdrawal_refusal(runtime, member, request)


@hookimpl
async def agorakit_notify(event, runtime):

    return await microjobs_notices(event, runtime)


@hookimpl
def agorakit_template_dirs():

    return [Path(__file__).parent / "templates"]


@hookimpl
@event_handler("order.transitioned", where=sync.is_dispute_move)
async def agorakit_on_events(events, runtime):
    """Tasks follow the disputes area's moves of their orders."""

    await sync.sync_disputed_tasks(runtime, events)


@hookimpl
async def agorakit_escrow_checks(runtime):
    """``check-ledger``: each campaign's escrow holds its free positions' money."""
    return await campaigns.escrow_problems(runtime)


@hookimpl
def agorakit_test_factories():
    """``make_listing(kind="campaign")`` and ``make_order(kind="campaign", state=...)`` in tests."""
    from agorakit.plugins.microjobs.testing import FACTORIES

    return [FACTORIES]


@hookimpl
def agorakit_console_pages():
    """The operator console's campaigns, their tasks and a worker's record (see ``console``)."""
    return console_pages()
