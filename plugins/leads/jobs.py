"""Customers' jobs: posting, editing, reading, closing, and keeping the lead row in step
with its listing.

A job is posted in one unit of work: its listing (kind ``lead``: the title, the text and
the details, screened like every listing for contact details and the site's banned
words) and its :class:`Lead` row.  With ``review_required`` it waits in the operators'
listing queue (``GET /operator/listings/pending?kind=lead``); approved, it opens to the
matching businesses, who are notified; rejected, the customer is told why.  Its listing
moves only through this module: the generic listing routes answer 409 for a lead.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.accounts import is_operator
from agorakit.catalog import (
    CreateListing,
    UpdateListing,
    category_names,
    category_slugs,
    clean_details,
    create_listing,
    describe_details,
    field_out,
    fields_for_category,
    get_listings,
    move_listing_in,
    screen_fields,
    screening_error,
    submit_listing,
    text_details,
    update_listing,
)
from agorakit.db import for_update
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.money import money
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.leads import profiles
from agorakit.plugins.leads.events import LeadClosed, LeadOpened, LeadPosted, LeadRejected
from agorakit.plugins.leads.schemas import (
    CloseLead,
    CreateLead,
    LeadAttributes,
    LeadFormOut,
    LeadLocation,
    LeadOut,
    LeadPage,
    UpdateLead,
)
from agorakit.plugins.leads.tables import Lead, Unlock

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut
    from agorakit.runtime import Runtime, UnitOfWork

KIND = "lead"
MIN_TEXT = 20
#: set while this plugin moves a lead's listing itself
_MOVING: ContextVar[bool] = ContextVar("leads_moving_listing", default=False)


async def lead_form(runtime: Runtime, category: str) -> LeadFormOut:
    settings = profiles.settings_of(runtime)
    fields = await fields_for_category(settings.details_by_category, category, settings.default_details)
    amount, currency = await profiles.lead_price(runtime, category)
    return LeadFormOut(
        category=category, fields=[field_out(f) for f in fields], lead_price=money(amount, currency)
    )


async def _checked(
    runtime: Runtime, category: str, location: LeadLocation, details: dict, text: str, title: str | None
):
    """The job's cleaned place, details and text (every problem at once).  Contact details
    and banned words in the customer's texts are refused on the field they came in (the
    site's ``[listings] screening = "block"``); a site that only flags them lets the
    listing's own screening send the job to review with its flags."""
    settings = profiles.settings_of(runtime)
    errors: list[FieldError] = []
    fields: list | None = None
    try:
        fields = await fields_for_category(settings.details_by_category, category, settings.default_details)
    except ValidationFailed as exc:
        errors += exc.errors
    postal_code = town = ""
    if (location.postal_code is None) == (location.city is None):
        errors.append(FieldError("location", "give a postal_code or a city (one of them)"))
    else:
        try:
            if location.postal_code is not None:
                postal_code = profiles.postal(location.postal_code, field="location.postal_code")
            else:
                assert location.city is not None
                town = profiles.city(location.city, field="location.city")
        except ValidationFailed as exc:
            errors += exc.errors
    cleaned: dict[str, Any] = {}
    if fields is not None:  # an unknown category has no form to check the details against
        try:
            cleaned = clean_details(fields, details, form=f"the {category!r} job form")
        except ValidationFailed as exc:
            errors += exc.errors
    text = text.strip()
    if len(text) < MIN_TEXT:
        errors.append(FieldError("text", f"describe the job in at least {MIN_TEXT} characters"))
    elif len(text) > settings.max_text:
        errors.append(FieldError("text", f"must be at most {settings.max_text} characters"))
    if runtime.settings.listings.screening == "block":
        texts = {"title": title, "text": text, **text_details(fields or [], cleaned)}
        flags = await screen_fields(runtime, texts, context="lead")
        if flags:
            errors += screening_error(flags).errors
    if errors:
        raise ValidationFailed(errors)
    assert fields is not None
    return location.country.upper(), postal_code, town, fields, cleaned, text


def _place(country: str, postal_code: str, city: str) -> str:
    return f"{city.title() if city else postal_code}, {country}"


def _description(fields: list, details: dict[str, Any], text: str) -> str:
    return "\n".join([text, "", *describe_details(fields, details)]).strip()


async def post_lead(runtime: Runtime, cmd: CreateLead, *, customer: MemberOut) -> LeadOut:
    """Post a job (see the module)."""
    country, postal_code, town, fields, details, text = await _checked(
        runtime, cmd.category, cmd.location, cmd.details, cmd.text, cmd.title
    )
    price, currency = await profiles.lead_price(runtime, cmd.category)
    settings = profiles.settings_of(runtime)
    names = await category_names()
    category_id = next(i for i, s in (await category_slugs()).items() if s == cmd.category)
    title = cmd.title or f"{names.get(category_id, cmd.category)} in {_place(country, postal_code, town)}"
    attributes = LeadAttributes(country=country, postal_code=postal_code, city=town, details=details)
    async with runtime.unit_of_work() as uow:
        token = _MOVING.set(True)
        try:
            listing = await create_listing(
                runtime,
                CreateListing(
                    kind=KIND,
                    title=title,
                    description=_description(fields, details, text),
                    category=cmd.category,
                    price=money(price, currency),
                    attributes=msgspec.to_builtins(attributes),
                ),
                owner=customer,
            )
        finally:
            _MOVING.reset(token)
        [row] = await Lead.insert(
            Lead(
                listing_id=listing.id,
                customer_id=customer.id,
                category_id=category_id,
                category=cmd.category,
                title=listing.title,
                country=country,
                postal_code=postal_code,
                city=town,
                details=details,
                text=text,
                status="pending_review",
                price=price,
                currency=currency,
                unlocks=0,
                max_unlocks=settings.max_unlocks,
                created_at=uow.now,
                updated_at=uow.now,
            )
        ).returning(Lead.id)
        uow.record(
            LeadPosted(lead_id=row["id"], customer_id=customer.id, category=cmd.category, country=country),
            subject=f"lead:{row['id']}",
            actor_id=customer.id,
        )
        token = _MOVING.set(True)
        try:
            await submit_listing(runtime, listing.id, owner=customer)
        finally:
            _MOVING.reset(token)
    return await get_lead(runtime, row["id"], viewer=customer)


async def update_lead(runtime: Runtime, lead_id: int, cmd: UpdateLead, *, customer: MemberOut) -> LeadOut:
    """The customer changes their job while it is waiting for review or open; it is screened
    again and, with ``review_required``, goes back to review before businesses see the change."""
    row = await _own(lead_id, customer)
    if row["status"] not in ("pending_review", "open", "rejected"):
        raise Conflict(f"job {lead_id} is {row['status']}; it can be changed while it is waiting or open")
    location = cmd.location or LeadLocation(
        country=row["country"], postal_code=row["postal_code"] or None, city=row["city"] or None
    )
    details = cmd.details if cmd.details is not None else row["details"]
    text = cmd.text if cmd.text is not None else row["text"]
    country, postal_code, town, fields, details, text = await _checked(
        runtime, row["category"], location, details, text, cmd.title
    )
    attributes = LeadAttributes(country=country, postal_code=postal_code, city=town, details=details)
    async with runtime.unit_of_work() as uow:
        token = _MOVING.set(True)
        try:
            await update_listing(
                runtime,
                row["listing_id"],
                UpdateListing(
                    title=cmd.title or row["title"],
                    description=_description(fields, details, text),
                    attributes=msgspec.to_builtins(attributes),
                ),
                owner=customer,
            )
            if row["status"] == "rejected":
                await submit_listing(runtime, row["listing_id"], owner=customer)
        finally:
            _MOVING.reset(token)
        await Lead.update(
            {
                Lead.title: cmd.title or row["title"],
                Lead.country: country,
                Lead.postal_code: postal_code,
                Lead.city: town,
                Lead.details: details,
                Lead.text: text,
                Lead.updated_at: uow.now,
            }
        ).where(Lead.id == lead_id)
    return await get_lead(runtime, lead_id, viewer=customer)


async def close_lead(runtime: Runtime, lead_id: int, cmd: CloseLead, *, caller: MemberOut) -> LeadOut:
    """The customer (or an operator) closes a job: it leaves every feed at once; businesses
    already in contact keep their conversation."""
    row = await lead_row(lead_id)
    if row is None or (row["customer_id"] != caller.id and not is_operator(caller)):
        raise NotFound(f"there is no job {lead_id}")
    async with runtime.unit_of_work() as uow:
        current = await lead_row(lead_id, lock=True)
        assert current is not None
        if current["status"] in ("closed", "expired"):
            raise Conflict(f"job {lead_id} is already {current['status']}")
        await _end(uow, current, "closed", cmd.reason.strip(), actor_id=caller.id)
    return await get_lead(runtime, lead_id, viewer=caller)


async def _end(
    uow: UnitOfWork, row: dict[str, Any], status: str, reason: str, *, actor_id: int | None
) -> None:
    await Lead.update(
        {Lead.status: status, Lead.reason: reason or None, Lead.closed_at: uow.now, Lead.updated_at: uow.now}
    ).where(Lead.id == row["id"])
    token = _MOVING.set(True)
    try:
        await move_listing_in(uow, row["listing_id"], "close", actor_id=actor_id, reason=reason or None)
    finally:
        _MOVING.reset(token)
    businesses = await Unlock.select(Unlock.business_id).where(
        (Unlock.lead_id == row["id"]) & (Unlock.status.is_in(["contacted", "charged"]))
    )
    uow.record(
        LeadClosed(
            lead_id=row["id"],
            customer_id=row["customer_id"],
            status=status,
            reason=reason,
            business_ids=[b["business_id"] for b in businesses],
        ),
        subject=f"lead:{row['id']}",
        actor_id=actor_id,
    )


async def expire_leads(runtime: Runtime, *, limit: int = 500) -> int:
    """Open jobs past ``expires_at`` expire (the worker's sweep); returns how many."""
    now = runtime.clock.now()
    due = (
        await Lead.select(Lead.id)
        .where((Lead.status == "open") & (Lead.expires_at <= now))
        .order_by(Lead.expires_at)
        .limit(limit)
    )
    expired = 0
    for item in due:
        async with runtime.unit_of_work() as uow:
            row = await lead_row(item["id"], lock=True)
            if row is None or row["status"] != "open" or row["expires_at"] > uow.now:
                continue
            await _end(uow, row, "expired", "", actor_id=None)
            expired += 1
    return expired


async def next_expiry(after: Any, until: Any) -> Any:
    row = (
        await Lead.select(Lead.expires_at)
        .where((Lead.status == "open") & (Lead.expires_at > after) & (Lead.expires_at <= until))
        .order_by(Lead.expires_at)
        .first()
    )
    return row["expires_at"] if row else None


# --------------------------------------------------------------------------------------
# The listing moves with the lead
# --------------------------------------------------------------------------------------


async def refuse_generic_edit(listing: Any) -> None:
    """A lead's listing is made and changed by this module only: the generic listing
    routes (``POST /listings`` of kind ``lead``, ``PATCH /listings/{id}`` of a lead's
    listing, whatever its status) answer 409 pointing at the job's own routes."""
    if listing.kind != KIND or _MOVING.get():
        return
    row = None
    if listing.id is not None:
        row = await Lead.select(Lead.id).where(Lead.listing_id == listing.id).first()
    if row is None:
        raise Conflict("jobs are posted with POST /leads")
    raise Conflict(
        f"listing {listing.id} is job {row['id']}: change or close it with the job's own routes "
        f"(PUT /leads/{row['id']}, POST /leads/{row['id']}/close)",
        extra={"lead_id": row["id"]},
    )


async def on_listing_status_changed(
    uow: UnitOfWork, listing_id: int, kind: str, old_status: str | None, new_status: str
) -> None:
    """Keep the lead row in step with its listing: approved → open (matching businesses
    are notified), rejected → rejected (the customer is told why).  Moves through the
    generic listing routes (pause, close, edit) are refused: a lead has its own."""
    if kind != KIND or old_status is None:
        return
    row = await Lead.select().where(Lead.listing_id == listing_id).first().output(load_json=True)
    if row is None:
        return
    if new_status == "published" and (old_status == "pending_review" or _MOVING.get()):
        await _open(uow, row)
    elif new_status == "rejected":
        listing = (await get_listings([listing_id]))[0]
        reason = listing.rejection_reason or ""
        await Lead.update(
            {Lead.status: "rejected", Lead.reason: reason or None, Lead.updated_at: uow.now}
        ).where(Lead.id == row["id"])
        uow.record(
            LeadRejected(lead_id=row["id"], customer_id=row["customer_id"], reason=reason),
            subject=f"lead:{row['id']}",
            actor_id=None,
        )
    elif new_status == "pending_review" and _MOVING.get():
        await Lead.update({Lead.status: "pending_review", Lead.updated_at: uow.now}).where(
            Lead.id == row["id"]
        )
    elif not _MOVING.get():
        raise Conflict(
            f"listing {listing_id} is job {row['id']}: change or close it with the job's own routes "
            f"(PUT /leads/{row['id']}, POST /leads/{row['id']}/close)",
            extra={"lead_id": row["id"]},
        )


async def _open(uow: UnitOfWork, row: dict[str, Any]) -> None:
    settings = profiles.settings_of(uow.runtime)
    first = row["opened_at"] is None
    expires = row["expires_at"] if not first else uow.now + timedelta(days=settings.lead_days)
    await Lead.update(
        {
            Lead.status: "open",
            Lead.opened_at: row["opened_at"] or uow.now,
            Lead.expires_at: expires,
            Lead.updated_at: uow.now,
        }
    ).where(Lead.id == row["id"])
    if first:
        uow.record(
            LeadOpened(
                lead_id=row["id"],
                customer_id=row["customer_id"],
                category_id=row["category_id"],
                category=row["category"],
                title=row["title"],
                country=row["country"],
                postal_code=row["postal_code"],
                city=row["city"],
                price=row["price"],
                currency=row["currency"],
            ),
            subject=f"lead:{row['id']}",
            actor_id=None,
        )


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


async def lead_row(lead_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    query = Lead.select().where(Lead.id == lead_id)
    if lock:
        query = for_update(query)
    return await query.first().output(load_json=True)


async def _own(lead_id: int, customer: MemberOut) -> dict[str, Any]:
    row = await lead_row(lead_id)
    if row is None or row["customer_id"] != customer.id:
        raise NotFound(f"there is no job {lead_id} of yours")
    return row


async def visible_lead(runtime: Runtime, lead_id: int, viewer: MemberOut) -> dict[str, Any]:
    """The lead's row if ``viewer`` may see it: its customer, operators, a business in
    contact with it, or a matching business while it is open; else 404 (403 with the
    reason for a business it does not match)."""
    row = await lead_row(lead_id)
    if row is None:
        raise NotFound(f"there is no job {lead_id}")
    if row["customer_id"] == viewer.id or is_operator(viewer):
        return row
    in_contact = (Unlock.lead_id == lead_id) & (Unlock.business_id == viewer.id)
    if await Unlock.exists().where(
        in_contact & Unlock.status.is_in(["contacted", "awaiting_payment", "charged"])
    ):
        return row
    if row["status"] != "open":
        raise NotFound(f"there is no job {lead_id}")
    reason = await profiles.matches(row, viewer.id)
    if reason is not None:
        raise Forbidden(reason)
    return row


async def get_lead(runtime: Runtime, lead_id: int, *, viewer: MemberOut) -> LeadOut:
    from agorakit.plugins.leads.unlocks import unlock_of

    row = await visible_lead(runtime, lead_id, viewer)
    if row["customer_id"] == viewer.id or is_operator(viewer):
        return to_lead(row)
    return to_lead(row, unlock=await unlock_of(runtime, lead_id, viewer.id), viewer_id=viewer.id)


def to_lead(row: dict[str, Any], *, unlock: Any = None, viewer_id: int | None = None) -> LeadOut:
    """The lead as ``viewer_id`` sees it: a business not in contact with the customer
    does not learn who they are (``customer_id`` is None)."""
    in_contact = unlock is not None and unlock.status in ("contacted", "charged")
    hidden = viewer_id is not None and viewer_id != row["customer_id"] and not in_contact
    return LeadOut(
        id=row["id"],
        listing_id=row["listing_id"],
        customer_id=None if hidden else row["customer_id"],
        category=row["category"],
        title=row["title"],
        location=LeadLocation(
            country=row["country"], postal_code=row["postal_code"] or None, city=row["city"] or None
        ),
        details=row["details"] or {},
        text=row["text"],
        status=row["status"],
        price=money(row["price"], row["currency"]),
        unlocks=row["unlocks"],
        max_unlocks=row["max_unlocks"],
        created_at=row["created_at"],
        opened_at=row["opened_at"],
        expires_at=row["expires_at"],
        closed_at=row["closed_at"],
        reason=row["reason"],
        unlock=unlock,
    )


async def my_leads(customer: MemberOut, *, status: str | None, cursor: str | None, limit: int) -> LeadPage:
    query = Lead.select().where(Lead.customer_id == customer.id).order_by(Lead.id, ascending=False)
    if status is not None:
        query = query.where(Lead.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Lead.id < position["id"])
    rows, next_cursor = page(
        await query.limit(limit + 1).output(load_json=True), limit, lambda r: {"id": r["id"]}
    )
    return LeadPage(items=[to_lead(r) for r in rows], next_cursor=next_cursor)


def snapshot(row: dict[str, Any]) -> dict[str, Any]:
    """The lead as evidence keeps it (JSON)."""
    out = msgspec.to_builtins(to_lead(row))
    out.pop("unlock", None)
    return out
