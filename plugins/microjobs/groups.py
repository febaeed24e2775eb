"""Hired groups: an employer's named groups of workers, for ``hired_group`` campaigns.

An employer creates groups (at most ``max_groups``), adds workers from their workers
list (members who did their earlier tasks) or by member id (at most
``max_group_members`` per group), and removes them.  A group is deleted only when no
open campaign (awaiting funds, in review, active or paused) uses it.  Workers see the
groups they are in.  Adding a worker records :class:`GroupMemberAdded`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from agorakit.accounts import MemberOut, get_members
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.microjobs.campaigns import CLOSED, settings_of
from agorakit.plugins.microjobs.events import GroupMemberAdded
from agorakit.plugins.microjobs.schemas import (
    GroupIn,
    GroupMemberIn,
    GroupMemberOut,
    GroupOut,
    MembershipOut,
    WorkerOut,
)
from agorakit.plugins.microjobs.tables import Campaign, GroupMember, Task, WorkerGroup

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

#: task statuses in which a worker did (submitted, or clicked and was paid) the task
DID = ("submitted", "correcting", "disputed", "satisfied", "unsatisfied", "refunded", "paid")


class GroupNameTaken(Conflict):
    code = "group_name_taken"
    title = "You have a group with this name"


class TooManyGroups(Conflict):
    code = "too_many_groups"
    title = "You have as many groups as the site allows"


class GroupFull(Conflict):
    code = "group_full"
    title = "The group has as many members as the site allows"


class AlreadyInGroup(Conflict):
    code = "already_in_group"
    title = "The worker is in the group already"


class GroupInUse(Conflict):
    code = "group_in_use"
    title = "An open campaign uses the group"


class GroupMemberPage(msgspec.Struct):
    items: list[GroupMemberOut]
    next_cursor: str | None


class MembershipPage(msgspec.Struct):
    items: list[MembershipOut]
    next_cursor: str | None


class WorkerPage(msgspec.Struct):
    items: list[WorkerOut]
    next_cursor: str | None


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationFailed([FieldError("name", "a group needs a name")])
    return cleaned


async def own_group(group_id: int, employer: MemberOut) -> dict[str, Any]:
    """The employer's group, or a 404 (other employers' groups do not exist for them)."""
    row = await WorkerGroup.select().where(WorkerGroup.id == group_id).first()
    if row is None or row["employer_id"] != employer.id:
        raise NotFound(f"you have no group {group_id}")
    return row


async def _member_counts(group_ids: list[int]) -> dict[int, int]:
    if not group_ids:
        return {}
    marks = ", ".join("{}" for _ in group_ids)
    rows = await GroupMember.raw(
        f"SELECT group_id, COUNT(*) AS n FROM microjobs_group_member WHERE group_id IN ({marks}) "
        "GROUP BY group_id",
        *group_ids,
    )
    return {int(row["group_id"]): int(row["n"]) for row in rows}


def _to_group(row: dict[str, Any], members: int) -> GroupOut:
    return GroupOut(
        id=row["id"],
        name=row["name"],
        employer_id=row["employer_id"],
        members=members,
        created_at=row["created_at"],
    )


async def create_group(runtime: Runtime, cmd: GroupIn, *, employer: MemberOut) -> GroupOut:
    """A new, empty group; a 409 for a name the employer already uses or one group too many."""
    name = _clean_name(cmd.name)
    most = settings_of(runtime).max_groups
    if await WorkerGroup.count().where(WorkerGroup.employer_id == employer.id) >= most:
        raise TooManyGroups(f"you have {most} groups, the most this site allows; delete one first")
    try:
        async with runtime.unit_of_work() as uow:
            [row] = await WorkerGroup.insert(
                WorkerGroup(employer_id=employer.id, name=name, created_at=uow.now)
            ).returning(*WorkerGroup.all_columns())
    except Exception as exc:
        if is_unique_violation(exc):
            raise GroupNameTaken(f"you have a group named {name!r}; choose another name") from None
        raise
    return _to_group(row, 0)


async def list_groups(employer: MemberOut) -> list[GroupOut]:
    """The employer's groups (at most ``max_groups``), by name, with their sizes."""
    rows = await WorkerGroup.select().where(WorkerGroup.employer_id == employer.id).order_by(WorkerGroup.name)
    counts = await _member_counts([row["id"] for row in rows])
    return [_to_group(row, counts.get(row["id"], 0)) for row in rows]


async def get_group(group_id: int, *, employer: MemberOut) -> GroupOut:
    row = await own_group(group_id, employer)
    return _to_group(row, (await _member_counts([group_id])).get(group_id, 0))


async def delete_group(runtime: Runtime, group_id: int, *, employer: MemberOut) -> None:
    """Delete a group and its memberships, unless an open campaign uses it (409)."""
    await own_group(group_id, employer)
    async with runtime.unit_of_work():
        using = (
            await Campaign.select(Campaign.id, Campaign.state)
            .where((Campaign.group_id == group_id) & Campaign.state.not_in(list(CLOSED)))
            .first()
        )
        if using is not None:
            raise GroupInUse(
                f"campaign {using['id']} ({using['state']}) uses group {group_id}; stop it before deleting the group"
            )
        await GroupMember.delete().where(GroupMember.group_id == group_id)
        await WorkerGroup.delete().where(WorkerGroup.id == group_id)


async def add_member(
    runtime: Runtime, group_id: int, cmd: GroupMemberIn, *, employer: MemberOut
) -> GroupMemberOut:
    """Add a worker (from the workers list or by member id) to one of the employer's groups."""
    await own_group(group_id, employer)
    found = await get_members([cmd.member_id])
    worker = found.get(cmd.member_id)
    if worker is None:
        raise ValidationFailed([FieldError("member_id", f"there is no member {cmd.member_id}")])
    if worker.id == employer.id:
        raise ValidationFailed([FieldError("member_id", "you do not work on your own campaigns")])
    most = settings_of(runtime).max_group_members
    try:
        async with runtime.unit_of_work() as uow:
            # lock the group: concurrent adds count one after the other
            [group] = (
                await WorkerGroup.update({WorkerGroup.name: WorkerGroup.name})
                .where(WorkerGroup.id == group_id)
                .returning(*WorkerGroup.all_columns())
            )
            if await GroupMember.count().where(GroupMember.group_id == group_id) >= most:
                raise GroupFull(f"group {group_id} has {most} members, the most this site allows")
            await GroupMember.insert(GroupMember(group_id=group_id, member_id=worker.id, added_at=uow.now))
            uow.record(
                GroupMemberAdded(
                    group_id=group_id, group_name=group["name"], employer_id=employer.id, member_id=worker.id
                ),
                subject=f"group:{group_id}",
                actor_id=employer.id,
            )
            added_at = uow.now
    except Exception as exc:
        if is_unique_violation(exc):
            raise AlreadyInGroup(f"member {worker.id} is in group {group_id} already") from None
        raise
    return GroupMemberOut(member_id=worker.id, display_name=worker.display_name, added_at=added_at)


async def remove_member(runtime: Runtime, group_id: int, member_id: int, *, employer: MemberOut) -> None:
    await own_group(group_id, employer)
    async with runtime.unit_of_work():
        gone = (
            await GroupMember.delete()
            .where((GroupMember.group_id == group_id) & (GroupMember.member_id == member_id))
            .returning(GroupMember.id)
        )
    if not gone:
        raise NotFound(f"member {member_id} is not in group {group_id}")


async def list_members(
    group_id: int, *, employer: MemberOut, cursor: str | None, limit: int
) -> GroupMemberPage:
    """A group's members, the latest added first."""
    await own_group(group_id, employer)
    query = (
        GroupMember.select()
        .where(GroupMember.group_id == group_id)
        .order_by(GroupMember.id, ascending=False)
        .limit(limit + 1)
    )
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(GroupMember.id < int(position["id"]))
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    members = await get_members([row["member_id"] for row in rows])
    items = [
        GroupMemberOut(
            member_id=row["member_id"],
            display_name=members[row["member_id"]].display_name if row["member_id"] in members else "",
            added_at=row["added_at"],
        )
        for row in rows
    ]
    return GroupMemberPage(items=items, next_cursor=next_cursor)


async def my_groups(member: MemberOut, *, cursor: str | None, limit: int) -> MembershipPage:
    """The groups ``member`` is in, the latest first."""
    query = (
        GroupMember.select()
        .where(GroupMember.member_id == member.id)
        .order_by(GroupMember.id, ascending=False)
        .limit(limit + 1)
    )
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(GroupMember.id < int(position["id"]))
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    groups = {
        g["id"]: g
        for g in await WorkerGroup.select().where(WorkerGroup.id.is_in([r["group_id"] for r in rows] or [0]))
    }
    employers = await get_members(sorted({g["employer_id"] for g in groups.values()}))
    items = []
    for row in rows:
        group = groups.get(row["group_id"])
        if group is None:
            continue
        employer = employers.get(group["employer_id"])
        items.append(
            MembershipOut(
                group_id=group["id"],
                group_name=group["name"],
                employer_id=group["employer_id"],
                employer_name=employer.display_name if employer else "",
                added_at=row["added_at"],
            )
        )
    return MembershipPage(items=items, next_cursor=next_cursor)


async def workers_list(employer: MemberOut, *, cursor: str | None, limit: int) -> WorkerPage:
    """The members who did the employer's tasks (submitted proof, or clicked and were
    paid), the most recent first, with how many they did and how many satisfied."""
    position = decode_cursor(cursor, keys=("last",))
    marks = ", ".join("{}" for _ in DID)
    having = " HAVING MAX(t.id) < {}" if position is not None else ""
    args: list[Any] = [employer.id, *DID] + ([position["last"]] if position is not None else [])
    rows = await Task.raw(
        "SELECT t.worker_id AS worker_id, MAX(t.id) AS last, COUNT(*) AS tasks, "
        "SUM(CASE WHEN t.status = 'satisfied' THEN 1 ELSE 0 END) AS satisfied "
        "FROM microjobs_task t JOIN microjobs_campaign c ON c.id = t.campaign_id "
        f"WHERE c.employer_id = {{}} AND t.status IN ({marks}) GROUP BY t.worker_id{having} "
        f"ORDER BY MAX(t.id) DESC LIMIT {int(limit) + 1}",
        *args,
    )
    rows, next_cursor = page(rows, limit, lambda row: {"last": int(row["last"])})
    members = await get_members([int(row["worker_id"]) for row in rows])
    items = []
    for row in rows:
        worker = members.get(int(row["worker_id"]))
        if worker is None:
            continue
        items.append(
            WorkerOut(
                member_id=worker.id,
                display_name=worker.display_name,
                country=worker.country,
                tasks=int(row["tasks"]),
                satisfied=int(row["satisfied"] or 0),
            )
        )
    return WorkerPage(items=items, next_cursor=next_cursor)
