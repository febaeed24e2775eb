"""A dispute's resolution acting on a member: warn, flag or suspend them.

The member must appear in the dispute's evidence (a party of the order, or someone who
takes part in a captured conversation) and must not be an operator; the action runs in
the resolution's unit of work, so a failing action (suspending a member who already is)
rolls the whole resolution back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit.accounts.moderation import flag_member, suspend_member, warn_member
from agorakit.accounts.roles import is_operator
from agorakit.accounts.service import get_member
from agorakit.disputes.evidence import involved_members
from agorakit.disputes.schemas import MemberAction, MemberActionOut
from agorakit.disputes.tables import Dispute
from agorakit.errors import AgorakitError, FieldError, NotFound, ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import UnitOfWork


class MemberNotInvolved(AgorakitError):
    """The member named in a resolution's ``member_action`` cannot be acted on here."""

    status = 400
    code = "member_not_involved"
    title = "The member is not involved in this dispute"


def action_note(action: MemberAction, resolution_note: str) -> str:
    """The reason given with the action: its own note, else the resolution's (422 if none)."""
    note = " ".join(action.note.split()) or resolution_note
    if not note:
        raise ValidationFailed([FieldError("member_action.note", "say why the member is acted on")])
    return note


async def apply_member_action(
    uow: UnitOfWork,
    dispute: dict[str, Any],
    order: dict[str, Any],
    action: MemberAction,
    note: str,
    operator_id: int,
) -> MemberActionOut:
    """Act on the member in the resolution's transaction and keep what was done on the dispute."""
    member_id = action.member_id
    if member_id not in involved_members(dispute["evidence"] or {}, order):
        message = (
            f"member {member_id} is neither a party of order {order['id']} nor in a conversation "
            f"dispute {dispute['id']} captured"
        )
        raise MemberNotInvolved(message)
    try:
        member = await get_member(uow.runtime, member_id)
    except NotFound:
        raise MemberNotInvolved(f"there is no member {member_id}") from None
    if is_operator(member):
        raise MemberNotInvolved(f"member {member_id} is an operator; disputes do not act on operators")
    source = f"dispute:{dispute['id']}"
    if action.action == "warn":
        await warn_member(uow, member_id, operator_id, note, source=source)
    elif action.action == "flag":
        await flag_member(uow, member_id, operator_id, note, source=source)
    else:
        await suspend_member(uow, member_id, operator_id, note)
    done = MemberActionOut(member_id=member_id, action=action.action, note=note)
    await Dispute.update(
        {Dispute.member_action: {"member_id": member_id, "action": action.action, "note": note}}
    ).where(Dispute.id == dispute["id"])
    return done


def visible_action(row: dict[str, Any], viewer: MemberOut | None) -> MemberActionOut | None:
    """What a viewer sees of the action: operators (``viewer`` None: an operator's view)
    and the member acted on see it, the other party does not."""
    action = row.get("member_action")
    if not action:
        return None
    if viewer is not None and not is_operator(viewer) and viewer.id != action["member_id"]:
        return None
    return MemberActionOut(member_id=action["member_id"], action=action["action"], note=action["note"])
