"""Business service profiles and matching them with leads.

A business serves categories (each covers the categories below it) in service areas: a
country, narrowed to a postal-code prefix or a city (neither: the whole country).  A lead
matches a business when its category is one they serve and its place lies in one of their
areas: the same country and, for a prefix, a postal code that starts with it, or, for a
city, the same city (a lead given by postal code does not match a city area, nor a lead
given by city a prefix area).  Postal codes are kept upper case without spaces or dashes,
cities trimmed and case-folded, so "sw1a 1aa" matches the prefix "SW1".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from agorakit.accounts import display_name_of
from agorakit.catalog import category_index, category_slugs, fields_for_category
from agorakit.errors import FieldError, ValidationFailed
from agorakit.money import money, parse_amount
from agorakit.plugins.leads.schemas import LeadPrice, ProfileOut, SaveProfile, ServiceArea
from agorakit.plugins.leads.tables import Profile, ProfileArea, ProfileCategory

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut
    from agorakit.plugins.leads.settings import LeadsSettings
    from agorakit.runtime import Runtime

NAME = "leads"
_POSTAL = re.compile(r"^[A-Z0-9]{1,12}$")


def settings_of(runtime: Runtime) -> LeadsSettings:
    return runtime.plugin_settings(NAME)


def postal(code: str, *, field: str) -> str:
    """A postal code (or prefix) as kept: upper case, without spaces or dashes."""
    cleaned = re.sub(r"[\s\-]", "", code).upper()
    if not _POSTAL.fullmatch(cleaned):
        raise ValidationFailed([FieldError(field, "letters and digits only (spaces and dashes are ignored)")])
    return cleaned


def city(name: str, *, field: str) -> str:
    """A city as kept: trimmed, single spaces, case-folded."""
    cleaned = " ".join(name.split()).casefold()
    if not cleaned or any(ord(c) < 32 for c in cleaned):
        raise ValidationFailed([FieldError(field, "name a city")])
    return cleaned


async def lead_price(runtime: Runtime, category: str, *, field: str = "category") -> tuple[int, str]:
    """What a business pays to unlock a lead of ``category``, in the site's currency."""
    settings = settings_of(runtime)
    currency = runtime.settings.site.currency
    text = await fields_for_category(
        settings.price_by_category, category, settings.default_lead_price, field=field
    )
    return parse_amount(text, currency, field=field), currency


# --------------------------------------------------------------------------------------
# The profile
# --------------------------------------------------------------------------------------


async def save_profile(runtime: Runtime, cmd: SaveProfile, *, member: MemberOut) -> ProfileOut:
    """Create or replace the caller's service profile (every problem at once)."""
    settings = settings_of(runtime)
    errors: list[FieldError] = []
    if not cmd.categories:
        errors.append(FieldError("categories", "serve at least one category"))
    if len(set(cmd.categories)) > settings.max_profile_categories:
        errors.append(FieldError("categories", f"at most {settings.max_profile_categories} categories"))
    if not cmd.areas:
        errors.append(FieldError("areas", "name at least one service area"))
    ids = {slug: i for i, slug in (await category_slugs()).items()}
    category_ids: list[int] = []
    for n, slug in enumerate(cmd.categories):
        if slug not in ids:
            errors.append(FieldError(f"categories[{n}]", f"there is no category {slug!r}"))
        elif ids[slug] not in category_ids:
            category_ids.append(ids[slug])
    areas: list[tuple[str, str, str]] = []
    for n, area in enumerate(cmd.areas):
        where = f"areas[{n}]"
        if area.postal_prefix is not None and area.city is not None:
            errors.append(FieldError(where, "give a postal_prefix or a city, not both"))
            continue
        try:
            prefix = postal(area.postal_prefix, field=f"{where}.postal_prefix") if area.postal_prefix else ""
            town = city(area.city, field=f"{where}.city") if area.city else ""
        except ValidationFailed as exc:
            errors += exc.errors
            continue
        entry = (area.country.upper(), prefix, town)
        if entry not in areas:
            areas.append(entry)
    if len(areas) > settings.max_profile_areas:  # each counted once
        errors.append(FieldError("areas", f"at most {settings.max_profile_areas} service areas"))
    if errors:
        raise ValidationFailed(errors)
    async with runtime.unit_of_work() as uow:
        existing = await Profile.select(Profile.id).where(Profile.member_id == member.id).first()
        values = {
            Profile.headline: cmd.headline.strip(),
            Profile.description: cmd.description.strip(),
            Profile.active: cmd.active,
            Profile.notify: cmd.notify,
            Profile.updated_at: uow.now,
        }
        if existing is None:
            await Profile.insert(
                Profile(
                    member_id=member.id,
                    headline=cmd.headline.strip(),
                    description=cmd.description.strip(),
                    active=cmd.active,
                    notify=cmd.notify,
                    created_at=uow.now,
                    updated_at=uow.now,
                )
            )
        else:
            await Profile.update(values).where(Profile.member_id == member.id)
        await ProfileCategory.delete().where(ProfileCategory.member_id == member.id)
        await ProfileArea.delete().where(ProfileArea.member_id == member.id)
        await ProfileCategory.insert(
            *[ProfileCategory(member_id=member.id, category_id=i) for i in category_ids]
        )
        await ProfileArea.insert(
            *[ProfileArea(member_id=member.id, country=c, postal_prefix=p, city=t) for c, p, t in areas]
        )
    profile = await get_profile(runtime, member.id)
    assert profile is not None  # written just above
    return profile


async def get_profile(runtime: Runtime, member_id: int) -> ProfileOut | None:
    row = await Profile.select().where(Profile.member_id == member_id).first()
    if row is None:
        return None
    slugs = await category_slugs()
    served = [
        slugs[r["category_id"]]
        for r in await ProfileCategory.select(ProfileCategory.category_id)
        .where(ProfileCategory.member_id == member_id)
        .order_by(ProfileCategory.id)
        if r["category_id"] in slugs
    ]
    areas = await ProfileArea.select().where(ProfileArea.member_id == member_id).order_by(ProfileArea.id)
    prices = []
    for slug in served:
        amount, currency = await lead_price(runtime, slug)
        prices.append(LeadPrice(category=slug, price=money(amount, currency)))
    return ProfileOut(
        member_id=member_id,
        display_name=await display_name_of(member_id) or "",
        headline=row["headline"],
        description=row["description"],
        categories=served,
        areas=[
            ServiceArea(
                country=a["country"], postal_prefix=a["postal_prefix"] or None, city=a["city"] or None
            )
            for a in areas
        ],
        active=row["active"],
        notify=row["notify"],
        prices=prices,
        updated_at=row["updated_at"],
    )


# --------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------


_SERVED = """
SELECT c.category_id AS category_id FROM leads_profile_category c
JOIN leads_profile p ON p.member_id = c.member_id
WHERE c.member_id = {} AND p.active = {}
"""


async def served_category_ids(member_id: int) -> set[int]:
    """The categories a business serves, each with every category below it (none for an
    inactive or missing profile): its active profile's categories in one read, the
    category tree in another."""
    rows = await ProfileCategory.raw(_SERVED, member_id, True)
    if not rows:
        return set()
    index = await category_index()
    return {
        below
        for row in rows
        if row["category_id"] in index.slugs
        for below in index.descendants(row["category_id"])
    }


async def areas_of(member_id: int) -> list[dict[str, Any]]:
    return await ProfileArea.select(ProfileArea.country, ProfileArea.postal_prefix, ProfileArea.city).where(
        ProfileArea.member_id == member_id
    )


def in_area(lead: dict[str, Any], areas: list[dict[str, Any]]) -> bool:
    """Whether the lead's place lies in one of the areas (see the module)."""
    for area in areas:
        if area["country"] != lead["country"]:
            continue
        if area["postal_prefix"]:
            if lead["postal_code"] and lead["postal_code"].startswith(area["postal_prefix"]):
                return True
        elif area["city"]:
            if lead["city"] and lead["city"] == area["city"]:
                return True
        else:
            return True
    return False


async def matches(lead: dict[str, Any], member_id: int) -> str | None:
    """None when the lead matches the business's profile; else why not (for people)."""
    if member_id == lead["customer_id"]:
        return "this is your own job"
    if lead["category_id"] not in await served_category_ids(member_id):
        return (
            f"this job is in {lead['category']!r}, a category your service profile does not serve "
            "(PUT /leads/profile)"
        )
    if not in_area(lead, await areas_of(member_id)):
        return "this job is outside your service areas (PUT /leads/profile)"
    return None


_MATCHING = """
SELECT DISTINCT p.member_id AS member_id, p.notify AS notify
FROM leads_profile p
JOIN leads_profile_category c ON c.member_id = p.member_id
JOIN leads_profile_area a ON a.member_id = p.member_id
WHERE p.active = {} AND p.member_id <> {} AND c.category_id IN (%s) AND a.country = {}
  AND ((a.postal_prefix = '' AND a.city = '')
       OR (a.postal_prefix <> '' AND {} LIKE a.postal_prefix || '%%')
       OR (a.city <> '' AND a.city = {}))
ORDER BY p.member_id
"""


async def matching_businesses(lead: dict[str, Any], *, notify_only: bool = False) -> list[int]:
    """The businesses whose profile matches the lead (one query), by member id."""
    above = (await category_index()).ancestors(lead["category_id"])
    if not above:  # a category no longer in the tree
        return []
    sql = _MATCHING % ", ".join("{}" for _ in above)
    # a lead given by city never matches a prefix: its postal code is empty, and no
    # prefix is empty; one given by postal code never matches a city (its city is empty)
    rows = await Profile.raw(
        sql, True, lead["customer_id"], *above, lead["country"], lead["postal_code"], lead["city"]
    )
    return [r["member_id"] for r in rows if r["notify"] or not notify_only]
