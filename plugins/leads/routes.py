"""HTTP routes of the leads plugin, under ``/leads`` (and ``/operator/leads``)."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from agorakit.accounts import operator_only
from agorakit.disputes import DisputeOut
from agorakit.errors import NotFound
from agorakit.http import Id, IdempotencyKey, Limit, MemberRequest, problems
from agorakit.money import created_or_replayed
from agorakit.plugins.leads import contact, feed, jobs, operator, profiles, reports, unlocks
from agorakit.plugins.leads.schemas import (
    CloseLead,
    ContactBusiness,
    CreateLead,
    LeadFormOut,
    LeadOut,
    LeadPage,
    LeadUnlockOut,
    LeadUnlockPage,
    MatchingBusinessPage,
    ProfileOut,
    ReportLead,
    SaveProfile,
    UnlockLead,
    UpdateLead,
)
from agorakit.runtime import Runtime

Slug = Annotated[str, QueryParameter(min_length=1, max_length=120)]
LeadStatus = Annotated[
    Literal["pending_review", "open", "rejected", "closed", "expired"] | None,
    QueryParameter(description="only jobs in this status"),
]
UnlockStatus = Annotated[
    Literal["contacted", "awaiting_payment", "charged", "cancelled"] | None,
    QueryParameter(description="only unlocks in this status"),
]


class LeadController(Controller):
    path = "/leads"
    tags = ["leads"]

    # -- customers ---------------------------------------------------------------------

    @get(
        "/forms/{category:str}",
        operation_id="leadsGetForm",
        summary="What a job in a category asks for, and its lead price",
        responses=problems(422),
    )
    async def form(self, runtime: NamedDependency[Runtime], category: FromPath[str]) -> LeadFormOut:
        return await jobs.lead_form(runtime, category)

    @post(
        "",
        operation_id="leadsPostJob",
        summary="Post a job (free): businesses matching it will see it once checked",
        responses=problems(422),
    )
    async def post_job(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[CreateLead]
    ) -> LeadOut:
        return await jobs.post_lead(runtime, data, customer=request.user)

    @get("/mine", operation_id="leadsListMyJobs", summary="Your jobs as a customer, newest first")
    async def mine(
        self,
        request: MemberRequest,
        status: LeadStatus = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> LeadPage:
        return await jobs.my_leads(request.user, status=status, cursor=cursor, limit=limit)

    @get(
        "/{lead_id:int}",
        operation_id="leadsGetJob",
        summary="One job (its customer, a matching business, operators)",
        responses=problems(403, 404),
    )
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], lead_id: Id
    ) -> LeadOut:
        return await jobs.get_lead(runtime, lead_id, viewer=request.user)

    @put(
        "/{lead_id:int}",
        operation_id="leadsUpdateJob",
        summary="Change your job (checked again)",
        responses=problems(404, 409, 422),
    )
    async def update(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        lead_id: Id,
        data: JSONBody[UpdateLead],
    ) -> LeadOut:
        return await jobs.update_lead(runtime, lead_id, data, customer=request.user)

    @post(
        "/{lead_id:int}/close",
        operation_id="leadsCloseJob",
        summary="Close your job (any time)",
        responses=problems(404, 409),
        status_code=200,
    )
    async def close(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        lead_id: Id,
        data: JSONBody[CloseLead | None] = None,
    ) -> LeadOut:
        return await jobs.close_lead(runtime, lead_id, data or CloseLead(), caller=request.user)

    @get(
        "/{lead_id:int}/businesses",
        operation_id="leadsListMatchingBusinesses",
        summary="Businesses matching your open job, to contact first",
        responses=problems(404, 409),
    )
    async def businesses(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        lead_id: Id,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> MatchingBusinessPage:
        return await contact.matching_list(
            runtime, lead_id, customer=request.user, cursor=cursor, limit=limit
        )

    @post(
        "/{lead_id:int}/contact",
        operation_id="leadsContactBusiness",
        summary="Write first to a matching business (it is charged when it replies)",
        responses=problems(403, 404, 409, 422),
    )
    async def contact(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        lead_id: Id,
        data: JSONBody[ContactBusiness],
    ) -> LeadUnlockOut:
        return await contact.contact_business(runtime, lead_id, data, customer=request.user)

    # -- businesses --------------------------------------------------------------------

    @get("/profile", operation_id="leadsGetProfile", summary="Your service profile", responses=problems(404))
    async def get_profile(self, request: MemberRequest, runtime: NamedDependency[Runtime]) -> ProfileOut:
        profile = await profiles.get_profile(runtime, request.user.id)
        if profile is None:
            raise NotFound("you have no service profile yet: PUT /leads/profile")
        return profile

    @put(
        "/profile",
        operation_id="leadsSaveProfile",
        summary="Create or replace your service profile",
        responses=problems(422),
    )
    async def save_profile(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[SaveProfile]
    ) -> ProfileOut:
        return await profiles.save_profile(runtime, data, member=request.user)

    @get(
        "/feed",
        operation_id="leadsFeed",
        summary="Open jobs matching your service profile, newest first",
        responses=problems(403, 422),
    )
    async def list_feed(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        category: Annotated[str | None, QueryParameter(max_length=120)] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> LeadPage:
        items, next_cursor = await feed.feed(
            runtime, caller=request.user, category=category, cursor=cursor, limit=limit
        )
        return LeadPage(items=items, next_cursor=next_cursor)

    @post(
        "/{lead_id:int}/unlock",
        operation_id="leadsUnlock",
        summary="Unlock a lead: pay its price and talk to the customer",
        responses=problems(403, 404, 409, 422, 503),
    )
    async def unlock(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        lead_id: Id,
        data: JSONBody[UnlockLead | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[LeadUnlockOut]:
        out, replayed = await unlocks.unlock_lead(
            runtime, lead_id, data or UnlockLead(), business=request.user, idempotency_key=idempotency_key
        )
        return created_or_replayed(out, replayed)

    @get(
        "/unlocks",
        operation_id="leadsListMyUnlocks",
        summary="The leads you unlocked or were contacted on, newest first",
    )
    async def my_unlocks(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        status: UnlockStatus = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> LeadUnlockPage:
        return await unlocks.my_unlocks(runtime, request.user, status=status, cursor=cursor, limit=limit)

    @post(
        "/{lead_id:int}/report",
        operation_id="leadsReport",
        summary="Report a lead you were charged for (refund to your credit if it qualifies)",
        responses=problems(403, 404, 409, 422),
        status_code=HTTP_201_CREATED,
    )
    async def report(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        lead_id: Id,
        data: JSONBody[ReportLead],
    ) -> DisputeOut:
        return await reports.report_lead(runtime, lead_id, data, business=request.user)


class OperatorLeadController(Controller):
    path = "/operator/leads"
    tags = ["leads", "operator"]
    guards = [operator_only]

    @get(
        "",
        operation_id="leadsOperatorList",
        summary="Jobs by status, oldest waiting first for pending ones",
        responses=problems(422),
    )
    async def list_jobs(
        self,
        runtime: NamedDependency[Runtime],
        status: LeadStatus = None,
        category: Annotated[str | None, QueryParameter(max_length=120)] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
    ) -> LeadPage:
        return await operator.list_leads(
            runtime, status=status, category=category, cursor=cursor, limit=limit
        )
