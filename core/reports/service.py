"""Reports: a member reports a conversation they take part in, or another participant.

Filing one captures the conversation as evidence (:func:`agorakit.messaging.conversation_evidence`);
a reporter has at most one open report per conversation and member.  Operators work the
queue oldest first against ``[reports] review_hours`` and decide each report: warn or
suspend the reported member (in the decision's transaction), or dismiss it.  The reporter
is told only whether action was taken.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from agorakit.accounts.moderation import suspend_member, warn_member
from agorakit.accounts.roles import is_operator
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from agorakit.http import OperatorQueue, count_queue
from agorakit.messaging.conversations import conversation_access, participant_ids
from agorakit.messaging.evidence import conversation_evidence
from agorakit.pagination import decode_cursor, page
from agorakit.reports.events import ReportDecided, ReportFiled
from agorakit.reports.schemas import DecideReport, FileReport, OperatorReportOut, ReportOut
from agorakit.reports.tables import Report

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime

MIN_TEXT = 10


class ReportOpen(Conflict):
    code = "report_open"


class ReportClosed(Conflict):
    code = "report_closed"


# --------------------------------------------------------------------------------------
# Filing
# --------------------------------------------------------------------------------------


async def file_report(runtime: Runtime, body: FileReport, *, caller: MemberOut) -> ReportOut:
    """A member reports a conversation they take part in, or one of its other participants."""
    text = body.text.strip()
    if len(text) < MIN_TEXT:
        raise ValidationFailed([FieldError("text", f"say what happened in at least {MIN_TEXT} characters")])
    conversation = await conversation_access(runtime, body.conversation_id, caller, write=False)
    members = await participant_ids(conversation["id"])
    if caller.id not in members:  # an operator reading it does not take part
        raise NotFound(f"there is no conversation {body.conversation_id}")
    if body.member_id is not None:
        if body.member_id == caller.id:
            raise ValidationFailed([FieldError("member_id", "you cannot report yourself")])
        if body.member_id not in members:
            message = f"member {body.member_id} does not take part in conversation {conversation['id']}"
            raise ValidationFailed([FieldError("member_id", message)])
    elif members == [caller.id]:
        message = "no other member takes part in this conversation (its messages come from the site)"
        raise ValidationFailed([FieldError("conversation_id", message)])
    try:
        async with runtime.unit_of_work() as uow:
            await _check_no_open(caller.id, conversation["id"], body.member_id)
            now = uow.now
            rows = await Report.insert(
                Report(
                    reporter_id=caller.id,
                    conversation_id=conversation["id"],
                    member_id=body.member_id,
                    reason=body.reason,
                    text=text,
                    status="open",
                    evidence=await conversation_evidence(conversation["id"]),
                    created_at=now,
                    due_at=now + timedelta(hours=runtime.settings.reports.review_hours),
                )
            ).returning(Report.id)
            report_id = rows[0]["id"]
            filed = ReportFiled(
                report_id=report_id,
                reporter_id=caller.id,
                conversation_id=conversation["id"],
                member_id=body.member_id,
                reason=body.reason,
            )
            uow.record(filed, subject=f"report:{report_id}", actor_id=caller.id)
    except Exception as exc:
        if is_unique_violation(exc):
            raise _open_error(conversation["id"], body.member_id) from None
        raise
    return _member_out(await _row(report_id))


def _open_error(conversation_id: int, member_id: int | None) -> ReportOpen:
    about = f"member {member_id} in " if member_id is not None else ""
    return ReportOpen(
        f"you already have an open report on {about}conversation {conversation_id}; see GET /reports"
    )


async def _check_no_open(reporter_id: int, conversation_id: int, member_id: int | None) -> None:
    query = Report.exists().where(
        (Report.reporter_id == reporter_id)
        & (Report.conversation_id == conversation_id)
        & (Report.status == "open")
    )
    query = query.where(Report.member_id.is_null() if member_id is None else Report.member_id == member_id)
    if await query:
        raise _open_error(conversation_id, member_id)


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


async def _row(report_id: int, *, for_update: bool = False) -> dict[str, Any]:
    query = Report.select().where(Report.id == report_id).first().output(load_json=True)
    if for_update and Report._meta.db.engine_type == "postgres":
        query = query.lock_rows()
    row = await query
    if row is None:
        raise NotFound(f"there is no report {report_id}")
    return row


def _member_out(row: dict[str, Any]) -> ReportOut:
    outcome = None
    if row["status"] == "closed":
        outcome = "no_action" if row["action"] == "dismiss" else "action_taken"
    return ReportOut(
        id=row["id"],
        conversation_id=row["conversation_id"],
        member_id=row["member_id"],
        reason=row["reason"],
        text=row["text"],
        status=row["status"],
        outcome=outcome,
        created_at=row["created_at"],
        decided_at=row["decided_at"],
    )


def _operator_out(row: dict[str, Any], now: Any) -> OperatorReportOut:
    until = row["decided_at"] or now
    return OperatorReportOut(
        id=row["id"],
        reporter_id=row["reporter_id"],
        conversation_id=row["conversation_id"],
        member_id=row["member_id"],
        reason=row["reason"],
        text=row["text"],
        status=row["status"],
        action=row["action"],
        acted_on=row["acted_on"],
        decision_note=row["decision_note"],
        decided_by=row["decided_by"],
        created_at=row["created_at"],
        due_at=row["due_at"],
        decided_at=row["decided_at"],
        age_hours=round((until - row["created_at"]).total_seconds() / 3600, 1),
        overdue=row["status"] == "open" and now > row["due_at"],
        evidence=row["evidence"] or {},
    )


async def my_reports(
    *, caller: MemberOut, cursor: str | None, limit: int
) -> tuple[list[ReportOut], str | None]:
    """The caller's own reports, newest first."""
    query = (
        Report.select()
        .where(Report.reporter_id == caller.id)
        .order_by(Report.id, ascending=False)
        .limit(limit + 1)
        .output(load_json=True)
    )
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Report.id < position["id"])
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    return [_member_out(row) for row in rows], next_cursor


async def report_queue(
    runtime: Runtime, *, status: str | None, cursor: str | None, limit: int
) -> tuple[list[OperatorReportOut], str | None]:
    """The operators' queue: oldest first, each with its age and whether it is overdue."""
    query = Report.select().order_by(Report.id).limit(limit + 1).output(load_json=True)
    if status:
        query = query.where(Report.status == status)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Report.id > position["id"])
    rows, next_cursor = page(await query, limit, lambda row: {"id": row["id"]})
    now = runtime.clock.now()
    return [_operator_out(row, now) for row in rows], next_cursor


async def open_reports_queue(runtime: Runtime) -> OperatorQueue:
    """The open reports of :func:`report_queue` counted, overdue past their ``due_at``."""
    counted = await count_queue(
        Report, Report.status == "open", since=Report.created_at, overdue=Report.due_at < runtime.clock.now()
    )
    return OperatorQueue(
        key="reports.open",
        title="Reports on members and conversations",
        count=counted.count,
        oldest_at=counted.oldest_at,
        overdue=counted.overdue,
        due_hours=runtime.settings.reports.review_hours,
        list_path="/operator/reports?status=open",
        area="reports",
    )


async def operator_report(runtime: Runtime, report_id: int) -> OperatorReportOut:
    return _operator_out(await _row(report_id), runtime.clock.now())


# --------------------------------------------------------------------------------------
# Deciding
# --------------------------------------------------------------------------------------


async def decide_report(
    runtime: Runtime, report_id: int, body: DecideReport, *, caller: MemberOut
) -> OperatorReportOut:
    """An operator warns or suspends the reported member, or dismisses the report; the
    action, the closing and the reporter's notice commit together."""
    if not is_operator(caller):
        raise Forbidden("only operators decide reports")
    note = " ".join(body.note.split())
    if body.action != "dismiss" and not note:
        raise ValidationFailed([FieldError("note", f"say why the member gets a {body.action}")])
    if body.action == "dismiss" and body.member_id is not None:
        raise ValidationFailed([FieldError("member_id", "a dismissal acts on nobody")])
    async with runtime.unit_of_work() as uow:
        row = await _row(report_id, for_update=True)
        if row["status"] != "open":
            raise ReportClosed(f"report {report_id} was already decided ({row['action']})")
        acted_on = _target(row, body) if body.action != "dismiss" else None
        source = f"report:{report_id}"
        if body.action == "warn":
            assert acted_on is not None
            await warn_member(uow, acted_on, caller.id, note, source=source)
        elif body.action == "suspend":
            assert acted_on is not None
            await suspend_member(uow, acted_on, caller.id, note)
        await Report.update(
            {
                Report.status: "closed",
                Report.action: body.action,
                Report.acted_on: acted_on,
                Report.decision_note: note or None,
                Report.decided_by: caller.id,
                Report.decided_at: uow.now,
            }
        ).where(Report.id == report_id)
        decided = ReportDecided(
            report_id=report_id,
            reporter_id=row["reporter_id"],
            conversation_id=row["conversation_id"],
            action=body.action,
            acted_on=acted_on,
        )
        uow.record(decided, subject=f"report:{report_id}", actor_id=caller.id)
    return await operator_report(runtime, report_id)


def _target(row: dict[str, Any], body: DecideReport) -> int:
    """The member a warning or suspension is for: the reported one, or for a report on a
    conversation the participant the operator names."""
    if row["member_id"] is not None:
        if body.member_id is not None and body.member_id != row["member_id"]:
            message = f"this report is about member {row['member_id']}; act on them or dismiss it"
            raise ValidationFailed([FieldError("member_id", message)])
        return row["member_id"]
    if body.member_id is None:
        message = "this report is about a conversation: name which of its participants to act on"
        raise ValidationFailed([FieldError("member_id", message)])
    participants = {p["id"] for p in (row["evidence"] or {}).get("participants") or []}
    if body.member_id not in participants - {row["reporter_id"]}:
        message = f"member {body.member_id} is not one of the conversation's other participants"
        raise ValidationFailed([FieldError("member_id", message)])
    return body.member_id
