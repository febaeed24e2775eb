"""HTTP routes of reports: members file and read their own, operators work the queue."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts.auth import operator_only
from agorakit.http.params import Id, Limit, MemberRequest
from agorakit.pagination import DEFAULT_LIMIT
from agorakit.reports import service
from agorakit.reports.schemas import (
    DecideReport,
    FileReport,
    OperatorReportOut,
    OperatorReportPage,
    ReportOut,
    ReportPage,
    Status,
)
from agorakit.runtime import Runtime


class ReportController(Controller):
    path = "/reports"
    tags = ["reports"]

    @post(
        "",
        operation_id="fileReport",
        summary="Report a conversation you take part in, or another member in it",
        status_code=HTTP_201_CREATED,
    )
    async def file(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[FileReport]
    ) -> ReportOut:
        return await service.file_report(runtime, data, caller=request.user)

    @get("", operation_id="listMyReports", summary="Your reports, newest first, with their outcome")
    async def mine(
        self, request: MemberRequest, cursor: FromQuery[str | None] = None, limit: Limit = DEFAULT_LIMIT
    ) -> ReportPage:
        items, next_cursor = await service.my_reports(caller=request.user, cursor=cursor, limit=limit)
        return ReportPage(items=items, next_cursor=next_cursor)


class OperatorReportController(Controller):
    path = "/operator/reports"
    tags = ["operator"]
    guards = [operator_only]

    @get(
        "",
        operation_id="listReportQueue",
        summary="Members' reports, oldest first, with age and overdue flags",
    )
    async def queue(
        self,
        runtime: NamedDependency[Runtime],
        status: FromQuery[Status | None] = "open",
        cursor: FromQuery[str | None] = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> OperatorReportPage:
        items, next_cursor = await service.report_queue(runtime, status=status, cursor=cursor, limit=limit)
        return OperatorReportPage(items=items, next_cursor=next_cursor)

    @get("/{report_id:int}", operation_id="getReport", summary="One report with its captured conversation")
    async def get_one(self, runtime: NamedDependency[Runtime], report_id: Id) -> OperatorReportOut:
        return await service.operator_report(runtime, report_id)

    @post(
        "/{report_id:int}/decide",
        operation_id="decideReport",
        summary="Decide a report: warn or suspend the reported member, or dismiss it",
        status_code=HTTP_200_OK,
    )
    async def decide(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        report_id: Id,
        data: JSONBody[DecideReport],
    ) -> OperatorReportOut:
        return await service.decide_report(runtime, report_id, data, caller=request.user)
