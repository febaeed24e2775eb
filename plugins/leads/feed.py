"""The leads feed: the open jobs matching a business's service profile, newest first.

One query on ``leads_lead`` after reading the profile: for each category served (with the
categories below it), the newest open jobs in the business's areas (index ``status,
category_id, id``, walked backwards from the cursor), merged newest first; a business
serving more than :data:`MERGED_CATEGORIES` categories gets one query over all of them.
A page reads at most a page per category, whatever the number of open jobs.  The
business's own jobs never appear; jobs it is already in contact with do, with its unlock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.catalog import NotEligible, category_slugs, category_subtree
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.leads import jobs, profiles
from agorakit.plugins.leads.tables import Lead, Unlock

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut
    from agorakit.plugins.leads.schemas import LeadOut
    from agorakit.runtime import Runtime

MERGED_CATEGORIES = 20
_COLUMNS = ", ".join(f'"{column._meta.db_column_name}"' for column in Lead._meta.columns)


def area_condition(areas: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """SQL (``{}`` placeholders) true for a lead in one of the areas, and its values."""
    parts: list[str] = []
    values: list[Any] = []
    for area in areas:
        if area["postal_prefix"]:
            parts.append("(country = {} AND postal_code LIKE {})")
            values += [area["country"], area["postal_prefix"] + "%"]
        elif area["city"]:
            parts.append("(country = {} AND city = {})")
            values += [area["country"], area["city"]]
        else:
            parts.append("(country = {})")
            values.append(area["country"])
    return "(" + " OR ".join(parts) + ")", values


async def feed(
    runtime: Runtime, *, caller: MemberOut, category: str | None, cursor: str | None, limit: int
) -> tuple[list[LeadOut], str | None]:
    served = await profiles.served_category_ids(caller.id)
    if category is not None:
        slugs = await category_slugs()
        wanted = set(await category_subtree([category]))
        served = {i for i in served if slugs.get(i) in wanted}
        if not served:
            reason = f"your service profile does not serve {category!r} or a category below it (PUT /leads/profile)"
            raise NotEligible(reason, extra={"reasons": [reason]})
    areas = await profiles.areas_of(caller.id)
    if not served or not areas:
        return [], None
    place, place_values = area_condition(areas)
    where = ["status = {}", "customer_id <> {}", place]
    args: list[Any] = ["open", caller.id, *place_values]
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        where.append("id < {}")
        args.append(position["id"])
    rows = await _newest(sorted(served), " AND ".join(where), args, limit + 1)
    rows, next_cursor = page(rows, limit, lambda r: {"id": r["id"]})
    mine = {
        u["lead_id"]: u
        for u in (
            await Unlock.select()
            .where((Unlock.business_id == caller.id) & Unlock.lead_id.is_in([r["id"] for r in rows]))
            .output(load_json=True)
            if rows
            else []
        )
    }
    from agorakit.plugins.leads.unlocks import to_unlock

    items = []
    for row in rows:
        unlock = await to_unlock(runtime, mine[row["id"]]) if row["id"] in mine else None
        items.append(jobs.to_lead(row, unlock=unlock, viewer_id=caller.id))
    return items, next_cursor


async def _newest(categories: list[int], where: str, args: list[Any], limit: int) -> list[dict[str, Any]]:
    select = f"SELECT {_COLUMNS} FROM leads_lead WHERE"
    if len(categories) == 1 or len(categories) > MERGED_CATEGORIES:
        marks = ", ".join("{}" for _ in categories)
        sql = f"{select} category_id IN ({marks}) AND {where} ORDER BY id DESC LIMIT {limit}"
        values = [*categories, *args]
    else:
        one = f"{select} category_id = {{}} AND {where} ORDER BY id DESC LIMIT {limit}"
        sql = " UNION ALL ".join(f"SELECT * FROM ({one}) AS c{n}" for n in range(len(categories)))
        sql += f" ORDER BY id DESC LIMIT {limit}"
        values = [value for category in categories for value in (category, *args)]
    rows: list[dict[str, Any]] = await Lead.raw(sql, *values)
    for row in rows:
        if isinstance(row["details"], str | bytes):  # JSON as text (a raw query)
            row["details"] = msgspec.json.decode(row["details"])
    return rows
