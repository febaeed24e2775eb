"""Who the support area tells about its events (its ``agorakit_notify``):

- ``support.opened``: every active operator (but one who opened it), category ``messages``,
  template ``support_opened``;
- ``support.assigned``: the operator it was given to, when another operator gave it;
- ``support.closed`` by an operator: the member (``support_closed``).

Support's answers reach the member as the message's own ``message.posted`` notice (from
"Support"); a member who closes their own request is not told.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.accounts import OPERATOR_ROLES
from agorakit.accounts.tables import Member
from agorakit.notifications import Notice
from agorakit.support.events import SupportTicketAssigned, SupportTicketClosed, SupportTicketOpened

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.events import DomainEvent


async def active_operators() -> list[int]:
    rows = await Member.select(Member.id).where(
        Member.role.is_in(sorted(OPERATOR_ROLES)) & (Member.status == "active")
    )
    return sorted(r["id"] for r in rows)


async def support_notices(event: DomainEvent) -> list[Notice] | None:
    payload = event.payload
    if isinstance(payload, SupportTicketOpened):
        context = {
            "ticket": payload.ticket_id,
            "category": payload.category,
            "subject": payload.subject,
            "excerpt": payload.excerpt,
            "link_to": payload.link,
        }
        return [
            Notice(
                member_id=operator,
                category="messages",
                template="support_opened",
                context=context,
                link=f"/operator/support/{payload.ticket_id}",
            )
            for operator in await active_operators()
            if operator not in (event.actor_id, payload.member_id)
        ]
    if isinstance(payload, SupportTicketAssigned):
        if event.actor_id in (None, payload.assignee_id):
            return []
        return [
            Notice(
                member_id=payload.assignee_id,
                category="messages",
                template="support_assigned",
                context={"ticket": payload.ticket_id},
                link=f"/operator/support/{payload.ticket_id}",
            )
        ]
    if isinstance(payload, SupportTicketClosed):
        if not payload.by_operator:
            return []
        return [
            Notice(
                member_id=payload.member_id,
                category="messages",
                template="support_closed",
                context={"ticket": payload.ticket_id},
                link=f"/support/{payload.ticket_id}",
            )
        ]
    return None
