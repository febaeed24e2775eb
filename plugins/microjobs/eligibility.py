"""Who may do a campaign: its mode's audience, checked on every path.

The same rules run as the plugin's ``agorakit_can_take`` (opening and taking a job,
``GET /listings/{id}``) and, as SQL, in the job list (:mod:`.jobs`), so a worker never
sees a job they cannot do and a direct request gets a 403 saying why.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from agorakit.plugins.microjobs.tables import Campaign, GroupMember, Task

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut
    from agorakit.runtime import Runtime

KIND = "campaign"

#: listings whose campaign rules the caller has already applied in SQL (the job list),
#: so this plugin's ``agorakit_can_take`` does not read them again row by row
checked_listings: ContextVar[frozenset[int]] = ContextVar("microjobs_checked", default=frozenset())


async def eligibility_reason(runtime: Runtime, row: dict[str, Any], member: MemberOut) -> str | None:
    """None if ``member`` may do the campaign ``row``, else a sentence saying why not."""
    settings = runtime.plugin_settings("microjobs")
    if row["employer_id"] == member.id:
        return "this is your own campaign"
    mode = row["mode"]
    if mode == "basic" and member.country not in settings.basic_countries:
        return (
            f"this job is only for members in {', '.join(settings.basic_countries)}; "
            f"your country is {member.country}"
        )
    if mode == "limited":
        countries = [c for c in (row["countries"] or "").split(",") if c]
        if member.country not in countries:
            return f"this job is only for members in {', '.join(countries)}; your country is {member.country}"
    if mode == "hired_group":
        inside = await GroupMember.exists().where(
            (GroupMember.group_id == row["group_id"]) & (GroupMember.member_id == member.id)
        )
        if not inside:
            return "this job is only for the workers the employer invited to their group"
    return None


async def can_take(runtime: Runtime, listing: Any, member: MemberOut) -> str | None:
    """``agorakit_can_take`` for campaign listings."""
    if listing.kind != KIND or listing.id in checked_listings.get():
        return None
    row = await Campaign.select().where(Campaign.listing_id == listing.id).first()
    if row is None:
        return None
    return await eligibility_reason(runtime, row, member)


async def country_locked(member: MemberOut, changes: dict[str, Any]) -> str | None:
    """``agorakit_profile_changing``: a worker's country decides which jobs they may do,
    so once they have taken a task only an operator can change it."""
    if "country" not in changes or changes["country"] == member.country:
        return None
    if await Task.exists().where(Task.worker_id == member.id):
        return (
            "your country decides which jobs you may do; once you have taken a task only an "
            "operator can change it: ask support"
        )
    return None
