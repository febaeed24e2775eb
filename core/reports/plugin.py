"""The core's own plugin for reports: its table, routes, events and the reporter's notice."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.notifications import Notice
from agorakit.reports.controllers import OperatorReportController, ReportController
from agorakit.reports.events import EVENTS, ReportDecided
from agorakit.reports.piccolo_app import APP_CONFIG
from agorakit.reports.service import open_reports_queue


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [ReportController, OperatorReportController]


@hookimpl
def agorakit_notify(event, runtime):
    """Tell the reporter the outcome: action taken or not, never what it was."""

    payload = event.payload
    if isinstance(payload, ReportDecided):
        context = {"report": payload.report_id, "action_taken": payload.action != "dismiss"}
        return [
            Notice(
                member_id=payload.reporter_id,
                category="account",
                template="report_decided",
                context=context,
                link="/reports",
            )
        ]
    return None


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl
async def agorakit_operator_queues(runtime):
    """Open reports, overdue past ``[reports] review_hours``."""

    return [await open_reports_queue(runtime)]
