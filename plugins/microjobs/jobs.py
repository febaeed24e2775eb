"""The job list: the active campaigns a worker may do, and one job.

Eligibility runs in SQL on the plugin's own tables, so a page never holds a job the
caller cannot do:

- ``basic``: only when the caller's country is one of ``basic_countries``;
- ``limited``: the caller's country is in the campaign's ``countries`` (``",US,GB,"``);
- ``hired_group``: the caller is a member of the campaign's group;
- ``international`` and ``ptc``: everyone;
- never the caller's own campaigns, never a campaign without a free position, and never
  one the caller already has a task in (unless ``mine=true``, which adds those back
  with ``my_task_id``).

Other plugins may veto a worker too (``agorakit_can_take``): the page's rows are then
checked with the catalog's :func:`agorakit.catalog.check_can_take`, and a vetoed job is
left out.  Cost: one batch read of the page's listings (a fixed handful of statements,
see :func:`agorakit.catalog.get_listings`) plus, per row, whatever the other plugins'
hooks cost; this plugin's own hook does nothing for these rows (the SQL applied its
rules).  A page may therefore hold fewer than ``limit`` jobs while ``next_cursor`` still
leads on: the cursor is the last row read, not the last one shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import msgspec

from agorakit.accounts import MemberOut
from agorakit.catalog import category_subtree as subtree
from agorakit.catalog import check_can_take, get_listing, get_listings
from agorakit.errors import Forbidden, NotFound
from agorakit.money import money
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.microjobs.campaigns import settings_of
from agorakit.plugins.microjobs.eligibility import checked_listings, eligibility_reason
from agorakit.plugins.microjobs.schemas import JobOut, ProofField
from agorakit.plugins.microjobs.tables import Campaign, Skill, Task

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.catalog import ListingOut
    from agorakit.runtime import Runtime

Sort = Literal["newest", "best_paid"]

#: campaign states in which the job does not exist for workers
UNPUBLISHED = ("awaiting_funds", "pending_review", "rejected")

_COLUMNS = (
    "c.id AS id, c.listing_id AS listing_id, c.employer_id AS employer_id, c.currency AS currency, "
    "c.category AS category, c.mode AS mode, c.reward AS reward, c.worker_fee AS worker_fee, "
    "c.positions AS positions, c.taken AS taken, c.submit_minutes AS submit_minutes, "
    "t.order_id AS my_task_id"
)


def _placeholders(values: list[Any]) -> str:
    return ", ".join("{}" for _ in values)


class JobQuery(msgspec.Struct, kw_only=True):
    """The job list's filters (already validated by the route)."""

    category: str | None = None
    country: str | None = None
    mode: str | None = None
    skills: bool = False
    mine: bool = False
    sort: Sort = "newest"
    cursor: str | None = None
    limit: int = 20


def _eligible_sql(runtime: Runtime, caller: MemberOut) -> tuple[str, list[Any]]:
    """The WHERE clause of the campaigns ``caller`` may do (aliases ``c`` and ``t``)."""
    settings = settings_of(runtime)
    everyone = ["international", "ptc"]
    if caller.country in settings.basic_countries:
        everyone.append("basic")
    where = (
        f"c.state = 'active' AND c.employer_id <> {{}} AND (c.mode IN ({_placeholders(everyone)}) "
        "OR (c.mode = 'limited' AND c.countries LIKE {}) "
        "OR (c.mode = 'hired_group' AND c.group_id IN "
        "(SELECT g.group_id FROM microjobs_group_member g WHERE g.member_id = {})))"
    )
    return where, [caller.id, *everyone, f"%,{caller.country},%", caller.id]


async def _filters(runtime: Runtime, query: JobQuery, caller: MemberOut) -> tuple[str, list[Any]] | None:
    """The WHERE clause of the query's filters; None when nothing can match."""
    where: list[str] = []
    args: list[Any] = []
    categories: set[str] | None = None
    if query.category is not None:
        categories = set(await subtree([query.category], field="category"))
    if query.skills:
        mine = [
            row["category"] for row in await Skill.select(Skill.category).where(Skill.member_id == caller.id)
        ]
        skilled = set(await subtree(mine, skip_unknown=True)) if mine else set()
        categories = skilled if categories is None else categories & skilled
    if categories is not None:
        if not categories:
            return None
        chosen = sorted(categories)
        where.append(f"c.category IN ({_placeholders(chosen)})")
        args += chosen
    if query.mode is not None:
        where.append("c.mode = {}")
        args.append(query.mode)
    if query.country is not None:
        open_to = ["international", "ptc", "hired_group"]
        if query.country in settings_of(runtime).basic_countries:
            open_to.append("basic")
        where.append(
            f"(c.mode IN ({_placeholders(open_to)}) OR (c.mode = 'limited' AND c.countries LIKE {{}}))"
        )
        args += [*open_to, f"%,{query.country},%"]
    if query.mine:
        where.append("((t.id IS NULL AND c.taken < c.positions) OR t.id IS NOT NULL)")
    else:
        where.append("t.id IS NULL AND c.taken < c.positions")
    return " AND ".join(where), args


async def list_jobs(
    runtime: Runtime, query: JobQuery, *, caller: MemberOut
) -> tuple[list[JobOut], str | None]:
    """One page of the jobs ``caller`` may do, newest or best paid first."""
    if query.sort == "best_paid":
        keys: tuple[str, ...] = ("reward", "id")
        order = "c.reward DESC, c.id DESC"
    else:
        keys, order = ("id",), "c.id DESC"
    position = decode_cursor(query.cursor, keys=keys)
    filters = await _filters(runtime, query, caller)
    if filters is None:
        return [], None
    eligible, args = _eligible_sql(runtime, caller)
    where = f"{eligible} AND {filters[0]}"
    args += filters[1]
    if position is not None:
        if query.sort == "best_paid":
            where += " AND (c.reward < {} OR (c.reward = {} AND c.id < {}))"
            args += [position["reward"], position["reward"], position["id"]]
        else:
            where += " AND c.id < {}"
            args.append(position["id"])
    sql = (
        f"SELECT {_COLUMNS} FROM microjobs_campaign c "
        "LEFT JOIN microjobs_task t ON t.campaign_id = c.id AND t.worker_id = {} "
        f"WHERE {where} ORDER BY {order} LIMIT {int(query.limit) + 1}"
    )
    rows: list[dict[str, Any]] = await Campaign.raw(sql, caller.id, *args)
    rows, next_cursor = page(rows, query.limit, lambda row: {key: int(row[key]) for key in keys})
    return await _vetted_jobs(runtime, rows, caller), next_cursor


async def _vetted_jobs(runtime: Runtime, rows: list[dict[str, Any]], caller: MemberOut) -> list[JobOut]:
    """The rows as jobs, less those another plugin's ``agorakit_can_take`` vetoes."""
    listings = {listing.id: listing for listing in await get_listings([row["listing_id"] for row in rows])}
    token = checked_listings.set(frozenset(listings))
    try:
        jobs = []
        for row in rows:
            listing = listings.get(row["listing_id"])
            if listing is None:
                continue
            try:
                await check_can_take(runtime, listing, caller)
            except Forbidden:
                if row["my_task_id"] is None:
                    continue
            jobs.append(to_job(row, listing))
        return jobs
    finally:
        checked_listings.reset(token)


def to_job(row: dict[str, Any], listing: ListingOut) -> JobOut:
    """A campaign row (with the caller's ``my_task_id``) and its listing as a job."""
    attributes = listing.attributes or {}
    currency = row["currency"]
    return JobOut(
        campaign_id=int(row["id"]),
        listing_id=int(row["listing_id"]),
        title=listing.title,
        description=listing.description,
        category=row["category"],
        mode=row["mode"],
        earns=money(int(row["reward"]) - int(row["worker_fee"]), currency),
        free_positions=max(int(row["positions"]) - int(row["taken"]), 0),
        positions=int(row["positions"]),
        submit_minutes=int(row["submit_minutes"]),
        instructions=list(attributes.get("instructions", [])),
        proof=msgspec.convert(attributes.get("proof", []), list[ProofField]),
        employer_id=int(row["employer_id"]),
        employer_name=listing.seller.display_name,
        published_at=listing.published_at,
        my_task_id=int(row["my_task_id"]) if row.get("my_task_id") is not None else None,
    )


async def get_job(runtime: Runtime, campaign_id: int, *, caller: MemberOut) -> JobOut:
    """One job: a 404 for an unknown or unpublished campaign, the 403 ``not_eligible``
    with the reasons when the caller may not do it.  A worker who took a task in it
    always sees it (their country no longer changes; a group may drop them later)."""
    row = await Campaign.select().where(Campaign.id == campaign_id).first()
    if row is None or row["state"] in UNPUBLISHED:
        raise NotFound(f"there is no job {campaign_id}")
    task = (
        await Task.select(Task.order_id)
        .where((Task.campaign_id == campaign_id) & (Task.worker_id == caller.id))
        .first()
    )
    if task is None:
        listing = await get_listing(row["listing_id"], viewer=caller, runtime=runtime)  # 403 on a veto
        if await eligibility_reason(runtime, row, caller):
            await check_can_take(runtime, listing, caller)  # the 403 with every reason
    else:
        [listing] = await get_listings([row["listing_id"]])
    return to_job({**row, "my_task_id": task["order_id"] if task else None}, listing)
