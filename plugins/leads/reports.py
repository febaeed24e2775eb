"""Refund reports: a business reports a lead it was charged for, from the chat.

A report is a core dispute on the unlock's order (process ``lead_unlock``): one per lead
per business, within ``report_days`` of the charge, with a reason — ``job_changed`` (the
job is drastically different: another location, a service the business does not offer),
``tos_violation`` (the job or the customer breaks the terms: a business looking for
employees, a minor) or ``other`` (with a text).  "The customer didn't hire me" is not a
reason.  Opening it captures the conversation with the customer as it is, the lead as it
was when unlocked and as it is now.  Operators decide in the dispute queue (``?process=
lead_unlock``): a refund comes back from the site's fees to the business's credit at once
(never cash or card); a ``tos_violation`` decision may also warn, flag or suspend the
customer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.disputes import OpenDispute, open_dispute
from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.plugins.leads import jobs
from agorakit.plugins.leads.process import PROCESS, REPORT_REASONS
from agorakit.plugins.leads.tables import Unlock

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut
    from agorakit.disputes import DisputeOut
    from agorakit.plugins.leads.schemas import ReportLead
    from agorakit.runtime import Runtime

MIN_TEXT = 10


async def report_lead(runtime: Runtime, lead_id: int, cmd: ReportLead, *, business: MemberOut) -> DisputeOut:
    """Report a lead (see the module); the dispute as its opener sees it."""
    row = (
        await Unlock.select().where((Unlock.lead_id == lead_id) & (Unlock.business_id == business.id)).first()
    )
    if row is None:
        raise NotFound(f"you have not unlocked job {lead_id}")
    if row["status"] != "charged" or row["order_id"] is None:
        raise Conflict(
            f"you were not charged for job {lead_id} (your unlock is {row['status']}); only a charged lead can be reported",
            extra={"status": row["status"]},
        )
    text = cmd.text.strip()
    if cmd.reason == "other" and len(text) < MIN_TEXT:
        raise ValidationFailed([FieldError("text", f"say what happened in at least {MIN_TEXT} characters")])
    if text and len(text) < MIN_TEXT:
        raise ValidationFailed([FieldError("text", f"at least {MIN_TEXT} characters, or leave it out")])
    body = OpenDispute(
        reason=cmd.reason,
        text=text or REPORT_REASONS[cmd.reason],
        conversation_id=row["conversation_id"],
    )
    return await open_dispute(runtime, row["order_id"], body, caller=business)


async def evidence(order: Any) -> dict[str, Any] | None:
    """What a report on an unlock adds to the dispute's evidence: the lead as it was when
    the business was charged and as it is now."""
    process = order["process"] if isinstance(order, dict) else order.process
    order_id = order["id"] if isinstance(order, dict) else order.id
    if process != PROCESS:
        return None
    row = await Unlock.select().where(Unlock.order_id == order_id).first().output(load_json=True)
    if row is None:
        return None
    lead = await jobs.lead_row(row["lead_id"])
    return {
        "lead_id": row["lead_id"],
        "unlock_id": row["id"],
        "origin": row["origin"],
        "charged_at": row["charged_at"].isoformat() if row["charged_at"] else None,
        "lead_when_unlocked": row["snapshot"],
        "lead_now": jobs.snapshot(lead) if lead else None,
    }
