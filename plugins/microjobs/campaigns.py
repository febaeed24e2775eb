"""Campaigns: create and fund, add positions, pause, resume and stop.

A campaign is a listing of kind ``campaign`` plus a :class:`Campaign` row.  Its money
lives in its own escrow, ``campaign:{id}:escrow``, which always holds
``(positions - taken) x per_position``:

- funding (the first payment, and each "add positions") is a payment of
  ``positions x per_position`` into that escrow with any payment method (``balance``
  takes wallet credit first, then the earned balance); the positions count once the
  payment settles (a bank transfer waits for the operator);
- taking a position moves ``per_position`` into the task's order escrow, freeing it
  moves it back;
- stopping (by the employer, an operator, or closing the listing) returns the free
  positions' money to the employer's wallet credit, never to the withdrawable balance.

``per_position = reward + employer fee``: the fee is priced by the fee hooks with kind
``campaign`` for one reward (``Quote(amount=reward, kind="campaign")``): buyer-side lines
are the employer's fee, seller-side lines are taken from each worker's reward.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

from agorakit.accounts import MemberOut, get_member, is_operator
from agorakit.catalog import CreateListing, create_listing, listing_texts, move_listing, submit_listing
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.money import (
    Quote,
    QuoteContext,
    compute_fees,
    escrow_balance,
    format_amount,
    fund_escrow,
    max_amount,
    minor_units,
    money,
    parse_amount,
    parse_money,
    refund_settled_payment,
    return_escrow,
)
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.microjobs.events import CampaignCreated, CampaignFunded, CampaignStopped
from agorakit.plugins.microjobs.schemas import (
    AddPositions,
    CampaignBudget,
    CampaignOut,
    CreateCampaign,
    PayCampaign,
)
from agorakit.plugins.microjobs.settings import MicrojobsSettings
from agorakit.plugins.microjobs.tables import Campaign, Funding, WorkerGroup

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


def price_position(
    runtime: Runtime, *, reward: int, currency: str, employer: MemberOut, category: str, positions: int
) -> tuple[int, int]:
    """``(employer fee, worker fee)`` of one position, from the fee hooks (kind ``campaign``)."""
    breakdown = compute_fees(
        runtime,
        Quote(
            amount=reward,
            currency=currency,
            kind=KIND,
            buyer_id=employer.id,
            seller_id=None,
            context=QuoteContext(
                listing_kind=KIND, category=category, buyer_country=employer.country, quantity=positions
            ),
        ),
    )
    return breakdown.buyer_total - reward, reward - breakdown.seller_net


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
# Creating and funding
# --------------------------------------------------------------------------------------


async def _check_create(
    runtime: Runtime, cmd: CreateCampaign, employer: MemberOut
) -> tuple[int, str, int, list[str]]:
    """``(reward, currency, submit_minutes, countries)`` or every field error at once."""
    settings = settings_of(runtime)
    errors: list[FieldError] = []
    reward = 0
    currency = cmd.reward.currency
    try:
        reward, currency = parse_money(
            cmd.reward, accepted=runtime.currencies, field="reward", maximum=max_amount(runtime, currency)
        )
        lowest = parse_amount(settings.min_reward, currency, allow_zero=True)
        if reward < lowest:
            errors.append(
                FieldError("reward.amount", f"a task pays at least {format_amount(lowest, currency)}")
            )
    except ValidationFailed as exc:
        errors += exc.errors
    if cmd.mode not in settings.modes:
        errors.append(FieldError("mode", f"this site offers the modes {', '.join(settings.modes)}"))
    if cmd.positions > settings.max_positions:
        errors.append(FieldError("positions", f"a campaign has at most {settings.max_positions} positions"))
    minutes = cmd.submit_minutes if cmd.submit_minutes is not None else settings.submit_minutes
    if not settings.min_submit_minutes <= minutes <= settings.max_submit_minutes:
        message = f"between {settings.min_submit_minutes} and {settings.max_submit_minutes} minutes"
        errors.append(FieldError("submit_minutes", message))
    countries = sorted(set(cmd.countries))
    if cmd.mode == "limited":
        if not countries:
            errors.append(
                FieldError("countries", "a limited campaign names the countries whose members may do it")
            )
        allowed = settings.allowed_countries
        for index, country in enumerate(cmd.countries):
            if allowed and country not in allowed:
                errors.append(FieldError(f"countries[{index}]", f"choose from {', '.join(allowed)}"))
    elif cmd.countries:
        errors.append(FieldError("countries", "only a limited campaign chooses countries"))
    if cmd.mode == "hired_group":
        if cmd.group_id is None:
            errors.append(FieldError("group_id", "a hired-group campaign names one of your groups"))
        else:
            group = (
                await WorkerGroup.select(WorkerGroup.employer_id)
                .where(WorkerGroup.id == cmd.group_id)
                .first()
            )
            if group is None or group["employer_id"] != employer.id:
                errors.append(FieldError("group_id", f"you have no group {cmd.group_id}"))
    elif cmd.group_id is not None:
        errors.append(FieldError("group_id", "only a hired-group campaign names a group"))
    if cmd.mode == "ptc":
        url = (cmd.url or "").strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(
                FieldError("url", "a paid-to-click campaign needs the http(s) address workers visit")
            )
        if cmd.proof:
            errors.append(FieldError("proof", "paid-to-click campaigns take no proof"))
    else:
        if cmd.url is not None:
            errors.append(FieldError("url", "only a paid-to-click campaign has a url"))
        if not cmd.proof:
            errors.append(FieldError("proof", "say what a worker submits as proof (at least one field)"))
    seen: set[str] = set()
    for index, proof_field in enumerate(cmd.proof):
        if proof_field.name in seen:
            errors.append(FieldError(f"proof[{index}].name", "two proof fields have this name"))
        seen.add(proof_field.name)
    if not errors and reward:
        employer_fee, _ = price_position(
            runtime, reward=reward, currency=currency, employer=employer, category=cmd.category, positions=1
        )
        total = (reward + employer_fee) * cmd.positions
        if total > max_amount(runtime, currency):
            most = format_amount(max_amount(runtime, currency), currency)
            errors.append(
                FieldError(
                    "positions", f"the budget {format_amount(total, currency)} is above the limit {most}"
                )
            )
    if errors:
        raise ValidationFailed(errors)
    return reward, currency, minutes, countries


async def create_campaign(
    runtime: Runtime, cmd: CreateCampaign, *, employer: MemberOut, idempotency_key: str | None = None
) -> tuple[CampaignOut, bool]:
    """Create a campaign and start its funding; ``(campaign, replayed)``.

    Paid from the balance, the campaign is funded at once and goes to review (or is
    published when the site needs no review); paid by bank transfer it waits for the
    operator's confirmation.  Everything is one transaction: a refused payment (not
    enough balance) leaves nothing behind.
    """
    if idempotency_key is not None and (first := await _by_key(employer.id, idempotency_key)) is not None:
        return await to_campaign(runtime, first), True
    reward, currency, minutes, countries = await _check_create(runtime, cmd, employer)
    attributes = {"instructions": list(cmd.instructions), "proof": msgspec.to_builtins(cmd.proof)}
    try:
        async with runtime.unit_of_work() as uow:
            token = _creating.set(True)
            try:
                listing = await create_listing(
                    runtime,
                    CreateListing(
                        kind=KIND,
                        title=cmd.title,
                        description=cmd.description,
                        price=cmd.reward,
                        category=cmd.category,
                        attributes=attributes,
                    ),
                    owner=employer,
                )
            finally:
                _creating.reset(token)
            employer_fee, worker_fee = price_position(
                runtime,
                reward=reward,
                currency=currency,
                employer=employer,
                category=listing.category,
                positions=cmd.positions,
            )
            stored_countries = ",".join(countries)
            [row] = await Campaign.insert(
                Campaign(
                    listing_id=listing.id,
                    employer_id=employer.id,
                    currency=currency,
                    category=listing.category,
                    mode=cmd.mode,
                    countries=f",{stored_countries}," if stored_countries else "",
                    group_id=cmd.group_id,
                    reward=reward,
                    employer_fee=employer_fee,
                    worker_fee=worker_fee,
                    requested=cmd.positions,
                    positions=0,
                    taken=0,
                    done=0,
                    submit_minutes=minutes,
                    ptc_url=(cmd.url or "").strip() or None,
                    state="awaiting_funds",
                    idempotency_key=idempotency_key,
                    created_at=uow.now,
                    updated_at=uow.now,
                )
            ).returning(Campaign.id)
            campaign_id = row["id"]
            uow.record(
                CampaignCreated(
                    campaign_id=campaign_id, listing_id=listing.id, employer_id=employer.id, mode=cmd.mode
                ),
                subject=f"campaign:{campaign_id}",
                actor_id=employer.id,
            )
            await _fund(runtime, uow, campaign_id, employer.id, cmd.positions, cmd.method)
    except Exception as exc:
        if idempotency_key is not None and is_unique_violation(exc):
            first = await _by_key(employer.id, idempotency_key)
            if first is not None:
                return await to_campaign(runtime, first), True
        raise
    created = await campaign_row(campaign_id)
    assert created is not None  # committed above
    return await to_campaign(runtime, created, title=listing.title), False


async def _by_key(employer_id: int, key: str) -> dict[str, Any] | None:
    return (
        await Campaign.select()
        .where((Campaign.employer_id == employer_id) & (Campaign.idempotency_key == key))
        .first()
    )


async def _fund(
    runtime: Runtime, uow: UnitOfWork, campaign_id: int, employer_id: int, positions: int, method: str
) -> None:
    """Start a payment of ``positions`` into the campaign's escrow (in ``uow``); the
    positions count when it settles (:func:`on_payment_settled`)."""
    row = await campaign_row(campaign_id)
    assert row is not None
    amount = positions * per_position(row)
    payment, _ = await fund_escrow(
        runtime,
        payer_id=employer_id,
        ref=escrow_ref(campaign_id),
        amount=amount,
        currency=row["currency"],
        method=method,
    )
    await Funding.insert(
        Funding(
            campaign_id=campaign_id,
            payment_id=payment.id,
            positions=positions,
            amount=amount,
            status="settled" if payment.status == "completed" else "pending",
            created_at=uow.now,
            settled_at=uow.now if payment.status == "completed" else None,
        )
    )


def _own(row: dict[str, Any] | None, campaign_id: int, caller: MemberOut) -> dict[str, Any]:
    if row is None or row["employer_id"] != caller.id:
        raise NotFound(f"there is no campaign {campaign_id} of yours")
    return row


async def add_positions(
    runtime: Runtime, campaign_id: int, cmd: AddPositions, *, caller: MemberOut
) -> CampaignOut:
    """Fund more positions, paid the same way as the campaign (they count once paid)."""
    settings = settings_of(runtime)
    async with runtime.unit_of_work() as uow:
        row = _own(await locked_campaign(uow, campaign_id), campaign_id, caller)
        if row["state"] in (*CLOSED, "awaiting_funds"):
            raise CampaignClosed(
                f"campaign {campaign_id} is {row['state']}; positions can be added to a funded, open campaign"
            )
        if row["positions"] + cmd.positions > settings.max_positions:
            message = f"a campaign has at most {settings.max_positions} positions; it has {row['positions']}"
            raise ValidationFailed([FieldError("positions", message)])
        await _fund(runtime, uow, campaign_id, caller.id, cmd.positions, cmd.method)
    return await get_campaign(runtime, campaign_id, caller=caller)


async def pay_campaign(
    runtime: Runtime, campaign_id: int, cmd: PayCampaign, *, caller: MemberOut
) -> CampaignOut:
    """Pay a campaign still waiting for its first funding (its payment expired or was
    cancelled, or the employer chose another method)."""
    async with runtime.unit_of_work() as uow:
        row = _own(await locked_campaign(uow, campaign_id), campaign_id, caller)
        if row["state"] != "awaiting_funds":
            raise Conflict(
                f"campaign {campaign_id} is {row['state']}; only an unfunded campaign is paid this way"
            )
        pending = await Funding.select(Funding.payment_id).where(
            (Funding.campaign_id == campaign_id) & (Funding.status == "pending")
        )
        if pending:
            raise Conflict(
                f"campaign {campaign_id} is being paid by payment {pending[0]['payment_id']}; "
                f"cancel it first (POST /payments/{pending[0]['payment_id']}/cancel)"
            )
        await _fund(runtime, uow, campaign_id, caller.id, row["requested"], cmd.method)
    return await get_campaign(runtime, campaign_id, caller=caller)


def _campaign_id_of(escrow: str | None) -> int | None:
    if not escrow or not escrow.startswith("campaign:"):
        return None
    tail = escrow.removeprefix("campaign:")
    return int(tail) if tail.isdigit() else None


async def on_payment_starting(
    uow: UnitOfWork, payer_id: int, amount: int, currency: str, escrow_ref: Any
) -> None:
    """Refuse a payment into a campaign's escrow that the campaign cannot take."""
    campaign_id = _campaign_id_of(escrow_ref)
    if campaign_id is None:
        return
    row = await locked_campaign(uow, campaign_id)
    if row is None:
        raise NotFound(f"there is no campaign {campaign_id}")
    if row["employer_id"] != payer_id:
        raise Forbidden("only the campaign's employer pays for it")
    if row["state"] in CLOSED:
        raise CampaignClosed(f"campaign {campaign_id} is {row['state']}; it takes no more money")
    per = per_position(row)
    if currency != row["currency"] or amount <= 0 or amount % per:
        raise Conflict(
            f"a payment into campaign {campaign_id} pays whole positions of "
            f"{format_amount(per, row['currency'])} {row['currency']}"
        )


async def on_payment_settled(uow: UnitOfWork, payment: Any) -> None:
    """A funding settled: its positions count, and a new campaign goes to review (or is
    published).  Money for a campaign that has closed meanwhile goes back to the payer's
    wallet credit."""
    campaign_id = _campaign_id_of(payment.escrow_ref)
    if campaign_id is None:
        return
    row = await locked_campaign(uow, campaign_id)
    if row is None:
        return
    amount = minor_units(payment)
    per = per_position(row)
    if row["state"] in CLOSED or payment.amount.currency != row["currency"] or amount % per:
        await refund_settled_payment(uow, payment, reason=f"campaign {campaign_id} is {row['state']}")
        await Funding.update({Funding.status: "refunded"}).where(Funding.payment_id == payment.id)
        return
    positions = amount // per
    await Campaign.update({Campaign.positions: Campaign.positions + positions}).where(
        Campaign.id == campaign_id
    )
    await Funding.update({Funding.status: "settled", Funding.settled_at: uow.now}).where(
        Funding.payment_id == payment.id
    )
    uow.record(
        CampaignFunded(
            campaign_id=campaign_id,
            employer_id=row["employer_id"],
            payment_id=payment.id,
            positions=positions,
            amount=amount,
            currency=row["currency"],
        ),
        subject=f"campaign:{campaign_id}",
        actor_id=payment.payer_id,
    )
    if row["state"] == "awaiting_funds":
        owner = await get_member(uow.runtime, row["employer_id"])
        await submit_listing(uow.runtime, row["listing_id"], owner=owner)


# --------------------------------------------------------------------------------------
# Pausing, resuming, stopping
# --------------------------------------------------------------------------------------


async def _campaign_for(runtime: Runtime, campaign_id: int, caller: MemberOut) -> dict[str, Any]:
    row = await campaign_row(campaign_id)
    if row is None or (row["employer_id"] != caller.id and not is_operator(caller)):
        raise NotFound(f"there is no campaign {campaign_id} of yours")
    return row


async def move_campaign(runtime: Runtime, campaign_id: int, action: str, *, caller: MemberOut) -> CampaignOut:
    """Pause or resume a campaign (its employer, or an operator)."""
    row = await _campaign_for(runtime, campaign_id, caller)
    if row["state"] in CLOSED:
        raise CampaignClosed(f"campaign {campaign_id} is {row['state']}")
    await move_listing(runtime, row["listing_id"], action, actor=caller)
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
    token = _stopping.set((caller.id, by_operator, " ".join(reason.split())))
    try:
        await move_listing(runtime, row["listing_id"], "close", actor=caller)
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
    return problems
