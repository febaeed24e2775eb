"""What is done to a support request after it is opened: the member closes it;
operators assign it, answer it as Support and close it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.accounts import get_members, is_operator
from agorakit.errors import AgorakitError, Conflict, FieldError, Forbidden
from agorakit.messaging import PostMessage, post_message
from agorakit.messaging.tables import Conversation
from agorakit.support.events import SupportTicketAssigned, SupportTicketClosed, SupportTicketReplied
from agorakit.support.schemas import AssignTicket, OperatorTicketOut, ReplyTicket, TicketOut
from agorakit.support.service import (
    note_message,
    own_ticket_row,
    subject_of,
    ticket_row,
    to_operator_tickets,
    to_ticket,
)
from agorakit.support.tables import SupportTicket

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut
    from agorakit.runtime import Runtime


async def operator_ticket(runtime: Runtime, ticket_id: int) -> OperatorTicketOut:
    return (await to_operator_tickets(runtime, [await ticket_row(ticket_id)]))[0]


async def _close(runtime: Runtime, row: dict[str, Any], *, actor: MemberOut, by_operator: bool) -> None:
    if row["status"] == "closed":
        raise Conflict(f"support request {row['id']} is closed already")
    async with runtime.unit_of_work() as uow:
        last = (
            await Conversation.select(Conversation.last_message_id)
            .where(Conversation.id == row["conversation_id"])
            .first()
        )
        t = SupportTicket
        closed = (
            await t.update(
                {
                    t.status: "closed",
                    t.closed_at: uow.now,
                    t.closed_by: actor.id,
                    t.closed_message_id: last["last_message_id"] if last else 0,
                    t.waiting: False,
                    t.waiting_since: None,
                }
            )
            .where((t.id == row["id"]) & (t.status == "open"))
            .returning(t.id)
        )
        if not closed:
            raise Conflict(f"support request {row['id']} is closed already")
        event = SupportTicketClosed(ticket_id=row["id"], member_id=row["member_id"], by_operator=by_operator)
        uow.record(event, subject=subject_of(row["id"]), actor_id=actor.id)


async def close_own(runtime: Runtime, ticket_id: int, *, member: MemberOut) -> TicketOut:
    """The member closes their request (409 if it is closed); writing in it opens it again."""
    await _close(runtime, await own_ticket_row(ticket_id, member), actor=member, by_operator=False)
    return to_ticket(await ticket_row(ticket_id))


async def close_as_operator(runtime: Runtime, ticket_id: int, *, operator: MemberOut) -> OperatorTicketOut:
    await _close(runtime, await ticket_row(ticket_id), actor=operator, by_operator=True)
    return await operator_ticket(runtime, ticket_id)


async def assign(
    runtime: Runtime, ticket_id: int, cmd: AssignTicket, *, operator: MemberOut
) -> OperatorTicketOut:
    """Give the ticket to an operator (the caller or another): a 400 for anyone who is not
    an active operator; giving it to whom it is assigned already changes nothing."""
    row = await ticket_row(ticket_id)
    target = (await get_members([cmd.operator_id])).get(cmd.operator_id)
    if target is None or not is_operator(target) or target.status != "active":
        message = f"member {cmd.operator_id} is not an active operator"
        raise AgorakitError(message, errors=[FieldError("operator_id", "must be an active operator")])
    if row["assignee_id"] != target.id:
        async with runtime.unit_of_work() as uow:
            t = SupportTicket
            await t.update({t.assignee_id: target.id}).where(t.id == ticket_id)
            event = SupportTicketAssigned(
                ticket_id=ticket_id,
                member_id=row["member_id"],
                assignee_id=target.id,
                previous_assignee_id=row["assignee_id"],
            )
            uow.record(event, subject=subject_of(ticket_id), actor_id=operator.id)
    return await operator_ticket(runtime, ticket_id)


async def reply(
    runtime: Runtime, ticket_id: int, cmd: ReplyTicket, *, operator: MemberOut
) -> OperatorTicketOut:
    """An operator answers as Support (assigned to them if nobody has it); 409 when the
    request is closed, 403 on their own request."""
    row = await ticket_row(ticket_id)
    if row["member_id"] == operator.id:
        raise Forbidden("this is your own support request: another operator answers it")
    if row["status"] == "closed":
        raise Conflict(f"support request {ticket_id} is closed; the member opens it again by writing in it")
    async with runtime.unit_of_work() as uow:
        message = await post_message(
            runtime,
            row["conversation_id"],
            PostMessage(body=cmd.body, attachments=cmd.attachments),
            sender=operator,
        )
        await note_message(
            runtime,
            ticket_id,
            message_id=message.id,
            at=uow.now,
            sender_id=operator.id,
            support=True,
            replied_event=False,
        )
        replied = SupportTicketReplied(
            ticket_id=ticket_id, member_id=row["member_id"], message_id=message.id, operator_id=operator.id
        )
        uow.record(replied, subject=subject_of(ticket_id), actor_id=operator.id)
    return await operator_ticket(runtime, ticket_id)
