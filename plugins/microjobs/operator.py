"""Operators' routes of the microjobs plugin, under ``/operator/microjobs``, and a
worker's success rate for those who may see it (``/microjobs/workers/{id}/stats``).

The review queue of new campaigns is the catalog's (``GET /operator/listings/pending``,
approve or reject there); this area lists every campaign with its
budget, pauses, resumes or stops any of them with a reason told to the employer (a stop
returns the free positions' money to the employer's wallet credit), and shows a worker's
success rate and tasks.  Disputed tasks are settled in the core's dispute queue
(``/operator/disputes``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from agorakit.accounts import get_member, operator_only
from agorakit.errors import FieldError, ValidationFailed
from agorakit.http import Id, Limit, MemberRequest, problems
from agorakit.plugins.microjobs import campaigns, rates
from agorakit.plugins.microjobs.routes import task_page
from agorakit.plugins.microjobs.schemas import CampaignOut, CampaignPage, TaskOut, WorkerStats
from agorakit.plugins.microjobs.tables import Task
from agorakit.runtime import Runtime

#: the states of a campaign, for ``?state=``
STATES = ("awaiting_funds", "pending_review", "active", "paused", "rejected", "stopped", "finished")


class OperatorReason(msgspec.Struct, forbid_unknown_fields=True):
    #: why, told to the employer (required)
    reason: Annotated[str, msgspec.Meta(max_length=2000)]


class MicrojobsWorkerOut(msgspec.Struct, kw_only=True):
    """A worker as operators see them: the success rate and a page of tasks, newest first."""

    member_id: int
    display_name: str
    country: str | None
    stats: WorkerStats
    tasks: list[TaskOut]
    next_cursor: str | None


def _reason(body: OperatorReason) -> str:
    reason = " ".join(body.reason.split())
    if len(reason) < 5:
        raise ValidationFailed([FieldError("reason", "say why (the employer reads it)")])
    return reason


class WorkerStatsController(Controller):
    path = "/microjobs/workers"
    tags = ["microjobs"]

    @get(
        "/{member_id:int}/stats",
        operation_id="microjobsWorkerStats",
        summary="A worker's success rate (the worker, employers they worked for, operators)",
        responses=problems(404),
    )
    async def stats(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], member_id: Id
    ) -> WorkerStats:
        return await rates.stats_for(runtime, member_id, caller=request.user)


class OperatorMicrojobsController(Controller):
    path = "/operator/microjobs"
    tags = ["operator"]
    guards = [operator_only]

    @get(
        "/campaigns",
        operation_id="microjobsOperatorCampaigns",
        summary="Every campaign with its budget, newest first (review them in /operator/listings)",
    )
    async def campaigns_list(
        self,
        runtime: NamedDependency[Runtime],
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
        campaign_state: Annotated[str | None, QueryParameter(name="state", max_length=20)] = None,
    ) -> CampaignPage:
        if campaign_state is not None and campaign_state not in STATES:
            message = f"unknown state {campaign_state!r}; one of: {', '.join(STATES)}"
            raise ValidationFailed([FieldError("state", message, "query")])
        items, next_cursor = await campaigns.list_campaigns(
            runtime, employer_id=None, state=campaign_state, cursor=cursor, limit=limit
        )
        return CampaignPage(items=items, next_cursor=next_cursor)

    @post(
        "/campaigns/{campaign_id:int}/pause",
        operation_id="microjobsOperatorPause",
        summary="Pause any campaign (the reason is told to the employer)",
        responses=problems(404, 409, 422),
        status_code=HTTP_200_OK,
    )
    async def pause(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        campaign_id: Id,
        data: JSONBody[OperatorReason],
    ) -> CampaignOut:
        reason = _reason(data)
        return await campaigns.move_campaign(
            runtime, campaign_id, "pause", caller=request.user, reason=reason
        )

    @post(
        "/campaigns/{campaign_id:int}/resume",
        operation_id="microjobsOperatorResume",
        summary="Resume a paused campaign (the reason is told to the employer)",
        responses=problems(404, 409, 422),
        status_code=HTTP_200_OK,
    )
    async def resume(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        campaign_id: Id,
        data: JSONBody[OperatorReason],
    ) -> CampaignOut:
        reason = _reason(data)
        return await campaigns.move_campaign(
            runtime, campaign_id, "resume", caller=request.user, reason=reason
        )

    @post(
        "/campaigns/{campaign_id:int}/stop",
        operation_id="microjobsOperatorStop",
        summary="Stop any campaign: its free positions' money goes to the employer's wallet credit",
        responses=problems(404, 409, 422),
        status_code=HTTP_200_OK,
    )
    async def stop(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        campaign_id: Id,
        data: JSONBody[OperatorReason],
    ) -> CampaignOut:
        reason = _reason(data)
        return await campaigns.stop_campaign(runtime, campaign_id, caller=request.user, reason=reason)

    @get(
        "/workers/{member_id:int}",
        operation_id="microjobsOperatorWorker",
        summary="A worker's success rate and tasks, newest first",
        responses=problems(404),
    )
    async def worker(
        self,
        runtime: NamedDependency[Runtime],
        member_id: Id,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> MicrojobsWorkerOut:
        member = await get_member(runtime, member_id)  # 404 for an unknown member
        tasks = await task_page(
            runtime, Task.select().where(Task.worker_id == member_id), cursor, limit, status
        )
        return MicrojobsWorkerOut(
            member_id=member.id,
            display_name=member.display_name,
            country=member.country,
            stats=await rates.worker_stats(member_id),
            tasks=tasks.items,
            next_cursor=tasks.next_cursor,
        )


__all__ = ["MicrojobsWorkerOut", "OperatorMicrojobsController", "OperatorReason", "WorkerStatsController"]
