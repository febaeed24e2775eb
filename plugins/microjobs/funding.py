"""Funding campaigns: create one and pay its budget, add positions, pay again.

Funding is a payment of ``positions x per_position`` into the campaign's escrow with any
payment method (``balance`` takes wallet credit first, then the earned balance); the
positions count once the payment settles (a bank transfer waits for the operator), and a
new campaign then goes to review, or is published on a site without review.  Money that
settles for a campaign that has closed meanwhile goes back to the payer's wallet credit.

``per_position = reward + employer fee``: the fee is priced by the fee hooks with kind
``campaign`` for one reward (``Quote(amount=reward, kind="campaign")``): buyer-side lines
are the employer's fee, seller-side lines are taken from each worker's reward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec

from agorakit.accounts import MemberOut, get_member
from agorakit.catalog import CreateListing, create_listing, submit_listing
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.money import (
    Quote,
    QuoteContext,
    compute_fees,
    format_amount,
    fund_escrow,
    max_amount,
    minor_units,
    parse_amount,
    parse_money,
    refund_settled_payment,
)
from agorakit.plugins.microjobs.campaigns import (
    CLOSED,
    KIND,
    CampaignClosed,
    _creating,
    campaign_row,
    escrow_ref,
    get_campaign,
    locked_campaign,
    per_position,
    settings_of,
    to_campaign,
)
from agorakit.plugins.microjobs.events import CampaignCreated, CampaignFunded
from agorakit.plugins.microjobs.schemas import AddPositions, CampaignOut, CreateCampaign, PayCampaign
from agorakit.plugins.microjobs.tables import Campaign, Funding, WorkerGroup

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime, UnitOfWork


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
