"""HTTP routes of campaigns (employers) and tasks (workers and employers), under ``/microjobs``."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.http import Id, IdempotencyKey, Limit, MemberRequest, problems
from agorakit.money import created_or_replayed
from agorakit.pagination import decode_cursor, page
from agorakit.plugins.microjobs import campaigns, funding, tasks
from agorakit.plugins.microjobs.schemas import (
    AddPositions,
    CampaignOut,
    CampaignPage,
    CreateCampaign,
    PayCampaign,
    RateTask,
    StopCampaign,
    SubmitTaskProof,
    TaskOut,
    TaskPage,
)
from agorakit.plugins.microjobs.tables import Task
from agorakit.runtime import Runtime

State = Annotated[str | None, QueryParameter(name="state", max_length=20)]


class CampaignController(Controller):
    path = "/microjobs/campaigns"
    tags = ["microjobs"]

    @post(
        "",
        operation_id="microjobsCreateCampaign",
        summary="Create a campaign and pay its budget (positions x (reward + fee))",
        responses=problems(409, 422, 503),
        status_code=HTTP_201_CREATED,
    )
    async def create(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        data: JSONBody[CreateCampaign],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CampaignOut]:
        campaign, replayed = await funding.create_campaign(
            runtime, data, employer=request.user, idempotency_key=idempotency_key
        )
        return created_or_replayed(campaign, replayed)

    @get("", operation_id="microjobsListMyCampaigns", summary="Your campaigns, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
        campaign_state: State = None,
    ) -> CampaignPage:
        items, next_cursor = await campaigns.list_campaigns(
            runtime, employer_id=request.user.id, state=campaign_state, cursor=cursor, limit=limit
        )
        return CampaignPage(items=items, next_cursor=next_cursor)

    @get("/{campaign_id:int}", operation_id="microjobsGetCampaign", summary="One of your campaigns")
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], campaign_id: Id
    ) -> CampaignOut:
        return await campaigns.get_campaign(runtime, campaign_id, caller=request.user)

    @post(
        "/{campaign_id:int}/payments",
        operation_id="microjobsPayCampaign",
        summary="Pay an unfunded campaign's budget again (another method, or after a payment expired)",
        responses=problems(503),
        status_code=HTTP_200_OK,
    )
    async def pay(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        campaign_id: Id,
        data: JSONBody[PayCampaign],
    ) -> CampaignOut:
        return await funding.pay_campaign(runtime, campaign_id, data, caller=request.user)

    @post(
        "/{campaign_id:int}/positions",
        operation_id="microjobsAddPositions",
        summary="Add positions, funded like the campaign (they count once paid)",
        responses=problems(503),
        status_code=HTTP_200_OK,
    )
    async def add_positions(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        campaign_id: Id,
        data: JSONBody[AddPositions],
    ) -> CampaignOut:
        return await funding.add_positions(runtime, campaign_id, data, caller=request.user)

    @post(
        "/{campaign_id:int}/pause",
        operation_id="microjobsPauseCampaign",
        summary="Pause: no new workers",
        status_code=HTTP_200_OK,
    )
    async def pause(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], campaign_id: Id
    ) -> CampaignOut:
        return await campaigns.move_campaign(runtime, campaign_id, "pause", caller=request.user)

    @post(
        "/{campaign_id:int}/resume",
        operation_id="microjobsResumeCampaign",
        summary="Resume a paused campaign",
        status_code=HTTP_200_OK,
    )
    async def resume(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], campaign_id: Id
    ) -> CampaignOut:
        return await campaigns.move_campaign(runtime, campaign_id, "resume", caller=request.user)

    @post(
        "/{campaign_id:int}/stop",
        operation_id="microjobsStopCampaign",
        summary="Stop: the free positions' money goes back to your wallet credit",
        status_code=HTTP_200_OK,
    )
    async def stop(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        campaign_id: Id,
        data: JSONBody[StopCampaign | None] = None,
    ) -> CampaignOut:
        reason = data.reason if data else ""
        return await campaigns.stop_campaign(runtime, campaign_id, caller=request.user, reason=reason)

    @get(
        "/{campaign_id:int}/tasks",
        operation_id="microjobsCampaignTasks",
        summary="The tasks of your campaign (proofs to rate first)",
    )
    async def tasks_of(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        campaign_id: Id,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> TaskPage:
        await campaigns.get_campaign(runtime, campaign_id, caller=request.user)  # 404 unless theirs
        query = Task.select().where(Task.campaign_id == campaign_id)
        return await task_page(runtime, query, cursor, limit, status)


async def task_page(runtime: Runtime, query, cursor: str | None, limit: int, status: str | None) -> TaskPage:
    """A page of tasks, newest first."""
    query = query.order_by(Task.id, ascending=False).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Task.id < int(position["id"]))
    if status:
        query = query.where(Task.status == status)
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    return TaskPage(items=await tasks.to_tasks(runtime, rows), next_cursor=next_cursor)


class TaskController(Controller):
    path = "/microjobs"
    tags = ["microjobs"]

    @post(
        "/jobs/{campaign_id:int}/take",
        operation_id="microjobsTakeJob",
        summary="Take a position of a job (one per worker; submit proof in time)",
        responses=problems(403, 409),
        status_code=HTTP_201_CREATED,
    )
    async def take(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], campaign_id: Id
    ) -> TaskOut:
        order_id = await tasks.take_task(runtime, campaign_id, worker=request.user)
        return await tasks.get_task(runtime, order_id, caller=request.user)

    @get("/tasks", operation_id="microjobsListMyTasks", summary="Your tasks as a worker, newest first")
    async def list_mine(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        cursor: FromQuery[str | None] = None,
        limit: Limit = 20,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> TaskPage:
        return await task_page(
            runtime, Task.select().where(Task.worker_id == request.user.id), cursor, limit, status
        )

    @get(
        "/tasks/{order_id:int}",
        operation_id="microjobsGetTask",
        summary="One task (its worker, employer or an operator)",
    )
    async def get_one(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> TaskOut:
        return await tasks.get_task(runtime, order_id, caller=request.user)

    @post(
        "/tasks/{order_id:int}/proof",
        operation_id="microjobsSubmitProof",
        summary="Submit (or resubmit after a correction request) the task's proof",
        status_code=HTTP_200_OK,
    )
    async def proof(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[SubmitTaskProof],
    ) -> TaskOut:
        return await tasks.submit_task_proof(runtime, order_id, data, caller=request.user)

    @post(
        "/tasks/{order_id:int}/rating",
        operation_id="microjobsRateTask",
        summary="Rate the proof: satisfied (paid), or not (one correction, then paid anyway)",
        status_code=HTTP_200_OK,
    )
    async def rate(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        order_id: Id,
        data: JSONBody[RateTask],
    ) -> TaskOut:
        return await tasks.rate_task(runtime, order_id, data, caller=request.user)

    @post(
        "/tasks/{order_id:int}/give-up",
        operation_id="microjobsGiveUpTask",
        summary="Give a taken position back before submitting",
        status_code=HTTP_200_OK,
    )
    async def give_up(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], order_id: Id
    ) -> TaskOut:
        return await tasks.give_up(runtime, order_id, caller=request.user)


__all__ = ["CampaignController", "TaskController", "task_page"]
