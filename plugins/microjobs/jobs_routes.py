"""HTTP routes of the job list, paid to click, hired groups and skills, under ``/microjobs``."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_303_SEE_OTHER

from agorakit.http import Id, Limit, MemberRequest, problems
from agorakit.plugins.microjobs import groups, jobs, ptc, skills
from agorakit.plugins.microjobs.groups import GroupMemberPage, MembershipPage, WorkerPage
from agorakit.plugins.microjobs.schemas import (
    GroupIn,
    GroupMemberIn,
    GroupMemberOut,
    GroupOut,
    JobOut,
    JobPage,
    Mode,
    SkillsIn,
    SkillsOut,
    TaskOut,
    VisitOut,
)
from agorakit.runtime import Runtime

Country = Annotated[str | None, QueryParameter(pattern=r"^[A-Z]{2}$")]
Category = Annotated[str | None, QueryParameter(min_length=1, max_length=120)]


class JobController(Controller):
    path = "/microjobs"
    tags = ["microjobs"]

    @get(
        "/jobs",
        operation_id="microjobsListJobs",
        summary="The jobs you may do, with free positions (newest or best paid first)",
    )
    async def list_jobs(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        category: Category = None,
        country: Country = None,
        mode: FromQuery[Mode | None] = None,
        skills_only: Annotated[bool, QueryParameter(name="skills")] = False,
        mine: FromQuery[bool] = False,
        sort: FromQuery[jobs.Sort] = "newest",
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> JobPage:
        query = jobs.JobQuery(
            category=category,
            country=country,
            mode=mode,
            skills=skills_only,
            mine=mine,
            sort=sort,
            cursor=cursor,
            limit=limit,
        )
        items, next_cursor = await jobs.list_jobs(runtime, query, caller=request.user)
        return JobPage(items=items, next_cursor=next_cursor)

    @get(
        "/jobs/{campaign_id:int}",
        operation_id="microjobsGetJob",
        summary="One job: its instructions and the proof it asks for",
        responses=problems(403),
    )
    async def get_job(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], campaign_id: Id
    ) -> JobOut:
        return await jobs.get_job(runtime, campaign_id, caller=request.user)

    @post(
        "/jobs/{campaign_id:int}/visit",
        operation_id="microjobsVisitJob",
        summary="Open a paid-to-click job: your task and the link to the employer's page",
        responses=problems(403, 409),
        status_code=HTTP_201_CREATED,
    )
    async def visit(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], campaign_id: Id
    ) -> Response[VisitOut]:
        out, created = await ptc.visit(runtime, campaign_id, worker=request.user)
        return Response(out, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get(
        "/go/{token:str}",
        operation_id="microjobsGo",
        summary="Follow a paid-to-click visit's link: records the visit, redirects (303) to the page",
        status_code=HTTP_303_SEE_OTHER,
        opt={"exclude_from_auth": True},
        responses=problems(404),
    )
    async def go(self, runtime: NamedDependency[Runtime], token: FromPath[str]) -> Redirect:
        url = await ptc.go(runtime, token[:200])
        return Redirect(url, status_code=HTTP_303_SEE_OTHER)

    @post(
        "/tasks/{order_id:int}/confirm",
        operation_id="microjobsConfirmVisit",
        summary="Confirm a paid-to-click visit (after the minimum seconds): paid at once",
        responses=problems(409),
        status_code=HTTP_200_OK,
    )
    async def confirm(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> TaskOut:
        return await ptc.confirm(runtime, order_id, caller=request.user)

    @get("/me/skills", operation_id="microjobsMySkills", summary="Your skills (category slugs)")
    async def my_skills(self, request: MemberRequest) -> SkillsOut:
        return await skills.my_skills(request.user)

    @put(
        "/me/skills",
        operation_id="microjobsSetSkills",
        summary="Set your skills: the categories you work in",
        status_code=HTTP_200_OK,
    )
    async def set_skills(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[SkillsIn]
    ) -> SkillsOut:
        return await skills.set_skills(runtime, data, member=request.user)

    @get("/me/groups", operation_id="microjobsMyGroups", summary="The employers' groups you are in")
    async def my_groups(
        self, request: MemberRequest, cursor: FromQuery[str | None] = None, limit: Limit = 20
    ) -> MembershipPage:
        return await groups.my_groups(request.user, cursor=cursor, limit=limit)

    @get(
        "/workers",
        operation_id="microjobsMyWorkers",
        summary="Your workers list: members who did your tasks (to add to a group)",
    )
    async def workers(
        self, request: MemberRequest, cursor: FromQuery[str | None] = None, limit: Limit = 20
    ) -> WorkerPage:
        return await groups.workers_list(request.user, cursor=cursor, limit=limit)


class GroupController(Controller):
    path = "/microjobs/groups"
    tags = ["microjobs"]

    @post(
        "",
        operation_id="microjobsCreateGroup",
        summary="Create a named group of workers (for hired-group campaigns)",
        responses=problems(409),
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[GroupIn]
    ) -> GroupOut:
        return await groups.create_group(runtime, data, employer=request.user)

    @get("", operation_id="microjobsListGroups", summary="Your groups, by name")
    async def list_groups(self, request: MemberRequest) -> list[GroupOut]:
        return await groups.list_groups(request.user)

    @get("/{group_id:int}", operation_id="microjobsGetGroup", summary="One of your groups")
    async def get_one(self, request: MemberRequest, group_id: Id) -> GroupOut:
        return await groups.get_group(group_id, employer=request.user)

    @delete(
        "/{group_id:int}",
        operation_id="microjobsDeleteGroup",
        summary="Delete a group no open campaign uses",
        responses=problems(409),
    )
    async def delete_group(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], group_id: Id
    ) -> None:
        await groups.delete_group(runtime, group_id, employer=request.user)

    @post(
        "/{group_id:int}/members",
        operation_id="microjobsAddGroupMember",
        summary="Add a worker (from your workers list, or by member id)",
        responses=problems(409),
        status_code=HTTP_201_CREATED,
    )
    async def add_member(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        group_id: Id,
        data: JSONBody[GroupMemberIn],
    ) -> GroupMemberOut:
        return await groups.add_member(runtime, group_id, data, employer=request.user)

    @get("/{group_id:int}/members", operation_id="microjobsListGroupMembers", summary="A group's members")
    async def members(
        self, request: MemberRequest, group_id: Id, cursor: FromQuery[str | None] = None, limit: Limit = 20
    ) -> GroupMemberPage:
        return await groups.list_members(group_id, employer=request.user, cursor=cursor, limit=limit)

    @delete(
        "/{group_id:int}/members/{member_id:int}",
        operation_id="microjobsRemoveGroupMember",
        summary="Remove a worker from a group",
    )
    async def remove_member(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], group_id: Id, member_id: Id
    ) -> None:
        await groups.remove_member(runtime, group_id, member_id, employer=request.user)


__all__ = ["GroupController", "JobController"]
