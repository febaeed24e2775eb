"""Campaigns: reading them, pausing, resuming and stopping, and their escrow's rules.

A campaign is a listing of kind ``campaign`` plus a :class:`Campaign` row.  Its money
lives in its own escrow, ``campaign:{id}:escrow``, which always holds
``(positions - taken) x per_position``: funding (:mod:`.funding`) pays positions in,
taking a position moves ``per_position`` into the task's order escrow, freeing it moves
it back, and stopping (by the employer, an operator, or closing the listing) returns the
free positions' money to the employer's wallet credit, never to the withdrawable balance.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from agorakit.accounts import MemberOut, is_operator
from agorakit.catalog import listing_texts, move_listing
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound
from agorakit.money import (
    escrow_balance,
    format_amount,
    money,
    return_escrow,
)
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.microjobs.events import CampaignStopped
from agorakit.plugins.microjobs.schemas import (
    CampaignBudget,
    CampaignOut,
)
from agorakit.plugins.microjobs.settings import MicrojobsSettings
from agorakit.plugins.microjobs.tables import Campaign, Funding

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime, UnitOfWork

NAME = "microjobs"
KIND = "campaign"
#: states in which a campaign takes no more money and no new workers
CLOSED = ("rejected", "stopped", "finished")

#: set while this plugin creates a campaign's listing (the only way one may be created)
_creating: ContextVar[bool] = ContextVar("microjobs_creating", default=False)
#: who stops a campaign and why, while the plugin closes its listing
_stopping: ContextVar[tuple[int | None, bool, str] | None] = ContextVar("microjobs_stopping", default=None)


class CampaignClosed(Conflict):
    code = "campaign_closed"
    title = "The campaign is closed"


def settings_of(runtime: Runtime) -> MicrojobsSettings:
    return runtime.plugin_settings(NAME)


def escrow_ref(campaign_id: int) -> str:
    return f"campaign:{campaign_id}"


def per_position(row: dict[str, Any]) -> int:
    """What one position costs the employer: the reward and the employer's fee."""
    return row["reward"] + row["employer_fee"]


def agreed_quote(row: dict[str, Any]) -> dict[str, Any]:
    """The fee breakdown of one task of the campaign, agreed when it was funded."""
    per = per_position(row)
    lines = []
    if row["employer_fee"]:
        lines.append(
            {"payer": "buyer", "amount": row["employer_fee"], "label": "Site fee", "code": "campaign_fee"}
        )
    if row["worker_fee"]:
        lines.append(
            {"payer": "seller", "amount": row["worker_fee"], "label": "Site fee", "code": "worker_fee"}
        )
    return {
        "buyer_total": per,
        "seller_net": row["reward"] - row["worker_fee"],
        "platform_total": row["employer_fee"] + row["worker_fee"],
        "lines": lines,
    }


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


async def campaign_row(campaign_id: int) -> dict[str, Any] | None:
    return await Campaign.select().where(Campaign.id == campaign_id).first()


async def campaign_by_listing(listing_id: int) -> dict[str, Any] | None:
    return await Campaign.select().where(Campaign.listing_id == listing_id).first()


async def locked_campaign(uow: UnitOfWork, campaign_id: int) -> dict[str, Any] | None:
    """The campaign's row, locked until the transaction ends (an UPDATE takes the row
    lock on PostgreSQL; SQLite has one writer)."""
    rows = (
        await Campaign.update({Campaign.updated_at: uow.now})
        .where(Campaign.id == campaign_id)
        .returning(*Campaign.all_columns())
    )
    return rows[0] if rows else None


def countries_of(row: dict[str, Any], settings: MicrojobsSettings) -> list[str]:
    if row["mode"] == "basic":
        return list(settings.basic_countries)
    return [c for c in (row["countries"] or "").split(",") if c]


async def to_campaign(runtime: Runtime, row: dict[str, Any], *, title: str | None = None) -> CampaignOut:
    currency = row["currency"]
    held = await escrow_balance(escrow_ref(row["id"]), currency)
    pending = (
        await Funding.select(Funding.payment_id)
        .where((Funding.campaign_id == row["id"]) & (Funding.status == "pending"))
        .order_by(Funding.id, ascending=False)
        .first()
    )
    if title is None:
        texts = await listing_texts(runtime, [row["listing_id"]])
        title = str(texts[0]["title"]) if texts else ""
    return CampaignOut(
        id=row["id"],
        listing_id=row["listing_id"],
        employer_id=row["employer_id"],
        title=title,
        category=row["category"],
        mode=row["mode"],
        countries=countries_of(row, settings_of(runtime)),
        group_id=row["group_id"],
        state=row["state"],
        positions=row["positions"],
        taken=row["taken"],
        done=row["done"],
        free=row["positions"] - row["taken"],
        requested=row["requested"],
        submit_minutes=row["submit_minutes"],
        url=row["ptc_url"],
        budget=CampaignBudget(
            reward=money(row["reward"], currency),
            fee_per_position=money(row["employer_fee"], currency),
            per_position=money(per_position(row), currency),
            worker_earns=money(row["reward"] - row["worker_fee"], currency),
            escrow=money(held, currency),
        ),
        pending_payment_id=pending["payment_id"] if pending else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        stopped_at=row["stopped_at"],
    )


async def get_campaign(runtime: Runtime, campaign_id: int, *, caller: MemberOut) -> CampaignOut:
    """The campaign for its employer or an operator; a 404 for anyone else."""
    row = await campaign_row(campaign_id)
    if row is None or (row["employer_id"] != caller.id and not is_operator(caller)):
        raise NotFound(f"there is no campaign {campaign_id} of yours")
    return await to_campaign(runtime, row)


async def list_campaigns(
    runtime: Runtime,
    *,
    employer_id: int | None,
    state: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[CampaignOut], str | None]:
    """Campaigns, newest first: one employer's, or every one (operators)."""
    query = Campaign.select().order_by(Campaign.id, ascending=False).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Campaign.id < int(position["id"]))
    if employer_id is not None:
        query = query.where(Campaign.employer_id == employer_id)
    if state:
        query = query.where(Campaign.state == state)
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    titles = {t["id"]: t["title"] for t in await listing_texts(runtime, [r["listing_id"] for r in rows])}
    items = [await to_campaign(runtime, row, title=titles.get(row["listing_id"], "")) for row in rows]
    return items, next_cursor


# --------------------------------------------------------------------------------------
# Pausing, resuming, stopping
# --------------------------------------------------------------------------------------


async def _campaign_for(runtime: Runtime, campaign_id: int, caller: MemberOut) -> dict[str, Any]:
    row = await campaign_row(campaign_id)
    if row is None or (row["employer_id"] != caller.id and not is_operator(caller)):
        raise NotFound(f"there is no campaign {campaign_id} of yours")
    return row


async def move_campaign(
    runtime: Runtime, campaign_id: int, action: str, *, caller: MemberOut, reason: str = ""
) -> CampaignOut:
    """Pause or resume a campaign (its employer, or an operator: their ``reason`` is told
    to the employer)."""
    row = await _campaign_for(runtime, campaign_id, caller)
    if row["state"] in CLOSED:
        raise CampaignClosed(f"campaign {campaign_id} is {row['state']}")
    await move_listing(
        runtime, row["listing_id"], action, actor=caller, reason=" ".join(reason.split()) or None
    )
    return await get_campaign(runtime, campaign_id, caller=caller)


async def stop_campaign(
    runtime: Runtime, campaign_id: int, *, caller: MemberOut, reason: str = ""
) -> CampaignOut:
    """Stop a campaign: no new workers; the free positions' money goes back to the
    employer's wallet credit; tasks in progress go on (a position one of them frees
    later goes back to the wallet too)."""
    row = await _campaign_for(runtime, campaign_id, caller)
    if row["state"] in CLOSED:
        raise CampaignClosed(f"campaign {campaign_id} is already {row['state']}")
    by_operator = caller.id != row["employer_id"]
    said = " ".join(reason.split())
    token = _stopping.set((caller.id, by_operator, said))
    try:
        await move_listing(runtime, row["listing_id"], "close", actor=caller, reason=said or None)
    finally:
        _stopping.reset(token)
    return await get_campaign(runtime, campaign_id, caller=caller)


async def close_campaign(uow: UnitOfWork, row: dict[str, Any], state: str) -> int:
    """Close a campaign in ``uow`` (stopped, rejected): refund the free positions to the
    employer's wallet credit; returns the minor units refunded."""
    who = _stopping.get()
    actor_id, by_operator, reason = who if who is not None else (None, False, "")
    free = row["positions"] - row["taken"]
    amount = free * per_position(row)
    if amount:
        what = "stopped" if state == "stopped" else "rejected"
        await return_escrow(
            uow,
            key=f"campaign:{row['id']}:{what}",
            ref=escrow_ref(row["id"]),
            member_id=row["employer_id"],
            amount=amount,
            currency=row["currency"],
            description=f"Campaign {row['id']} {what}: {free} unused positions back to your wallet",
            refs={"campaign": row["id"]},
            actor_id=actor_id,
        )
    await Campaign.update(
        {
            Campaign.positions: Campaign.taken,
            Campaign.state: state,
            Campaign.stopped_at: uow.now,
            Campaign.updated_at: uow.now,
        }
    ).where(Campaign.id == row["id"])
    uow.record(
        CampaignStopped(
            campaign_id=row["id"],
            employer_id=row["employer_id"],
            positions_refunded=free,
            refunded=amount,
            currency=row["currency"],
            by_operator=by_operator or state == "rejected",
            reason=reason,
        ),
        subject=f"campaign:{row['id']}",
        actor_id=actor_id,
    )
    return amount


#: the campaign state a listing status means
_STATE_OF = {"pending_review": "pending_review", "published": "active", "paused": "paused"}


async def on_listing_status_changed(
    uow: UnitOfWork, listing_id: int, kind: str, old_status: str | None, new_status: str
) -> None:
    """Keep the campaign in step with its listing, in the listing's transaction."""
    if kind != KIND:
        return
    if old_status is None:
        if not _creating.get():
            raise Forbidden("campaigns are created with POST /microjobs/campaigns (with their budget)")
        return
    row = await campaign_by_listing(listing_id)
    if row is None:
        return
    row = await locked_campaign(uow, row["id"])
    assert row is not None
    state = row["state"]
    campaign = f"campaign {row['id']}"
    if new_status in _STATE_OF:
        if state in CLOSED:
            raise CampaignClosed(
                f"{campaign} is {state}; its unused budget went back to the wallet. Create a new campaign."
            )
        if row["positions"] == 0 and state == "awaiting_funds":
            raise Conflict(f"{campaign} is not paid yet: POST /microjobs/campaigns/{row['id']}/payments")
        new_state = _STATE_OF[new_status]
    elif new_status == "rejected":
        await close_campaign(uow, row, "rejected")
        return
    elif new_status == "closed":
        if state not in CLOSED:
            await close_campaign(uow, row, "stopped")
        return
    elif new_status == "draft":
        if state != "awaiting_funds":
            raise CampaignClosed(
                f"{campaign} is {state}; a rejected or stopped campaign is not edited again. "
                "Create a new campaign."
            )
        return
    else:
        return
    await Campaign.update({Campaign.state: new_state}).where(Campaign.id == row["id"])


async def check_listing_edit(draft: Any) -> list[FieldError]:
    """A funded campaign keeps its reward, currency and category (its budget was priced
    with them): ``agorakit_validate_listing``."""
    if draft.kind != KIND or draft.id is None:
        return []
    row = await campaign_by_listing(draft.id)
    if row is None:
        return []
    problems = []
    if draft.price != row["reward"] or draft.currency != row["currency"]:
        message = (
            f"a campaign's reward stays {format_amount(row['reward'], row['currency'])} {row['currency']}: "
            "its budget was paid for it"
        )
        problems.append(FieldError("price", message))
    if draft.category != row["category"]:
        problems.append(
            FieldError("category", "a campaign's category does not change; create a new campaign")
        )
    proof = getattr(draft.attributes, "proof", [])
    if row["mode"] == "ptc" and proof:
        problems.append(FieldError("attributes.proof", "paid-to-click campaigns take no proof"))
    if row["mode"] != "ptc" and not proof:
        message = "say what a worker submits as proof (at least one field)"
        problems.append(FieldError("attributes.proof", message))
    return problems


async def escrow_problems(runtime: Runtime) -> list[str]:
    """``agorakit_escrow_checks``: every campaign's escrow holds exactly its free
    positions' money, ``(positions - taken) x (reward + employer fee)``."""
    problems = []
    for row in await Campaign.select().order_by(Campaign.id):
        held = await escrow_balance(escrow_ref(row["id"]), row["currency"])
        expected = (row["positions"] - row["taken"]) * per_position(row)
        if held != expected:
            currency = row["currency"]
            problems.append(
                f"{escrow_ref(row['id'])}:escrow {currency}: campaign {row['id']} is {row['state']} with "
                f"{row['positions'] - row['taken']} free positions of {format_amount(per_position(row), currency)}, "
                f"so its escrow must hold {format_amount(expected, currency)} {currency}; "
                f"it holds {format_amount(held, currency)} {currency}"
            )
    return problems
