"""Member actions operators take: a warning, a suspension, a flag for operators' attention.

Each one runs in the caller's unit of work when given one (``warn_member(uow, ...)``), so
it commits or rolls back with what caused it (a dispute's resolution, a report's
decision); given the runtime it runs in a transaction of its own.  Operators act on
members; only the site's owner acts on operators and owners (as for suspensions).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from agorakit.accounts import service
from agorakit.accounts.events import MemberFlagged, MemberUnflagged, MemberWarned
from agorakit.accounts.roles import OPERATOR_ROLES
from agorakit.accounts.schemas import MemberFlagOut, MemberOut, MemberWarningOut, OperatorMemberOut
from agorakit.accounts.tables import Member, MemberFlag, MemberWarning
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, Forbidden, ValidationFailed

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime, UnitOfWork

T = TypeVar("T")
#: longest reason, in characters
MAX_REASON = 2000


async def _run(target: Runtime | UnitOfWork, action: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run ``action`` in ``target`` when it is a unit of work, else in a new one."""
    if hasattr(target, "record"):
        return await action(target)  # type: ignore[arg-type]
    async with target.unit_of_work() as uow:  # type: ignore[union-attr]
        return await action(uow)


def _reason(reason: str, what: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed([FieldError("reason", f"say why the member is {what}")])
    if len(reason) > MAX_REASON:
        raise ValidationFailed([FieldError("reason", f"at most {MAX_REASON} characters")])
    return reason


async def _check(uow: UnitOfWork, operator_id: int, member_id: int, action: str) -> dict[str, Any]:
    """The member acted on (read, locked on PostgreSQL), checking the actor may."""
    if operator_id == member_id:
        raise Forbidden(f"operators cannot {action} their own account")
    actor = await Member.select(Member.role).where(Member.id == operator_id).first()
    if actor is None or actor["role"] not in OPERATOR_ROLES:
        raise Forbidden(f"only operators {action} members")
    return await service._target_for_staff_change(
        uow.runtime, actor_id=operator_id, member_id=member_id, action=action
    )


async def warn_member(
    target: Runtime | UnitOfWork, member_id: int, operator_id: int, reason: str, *, source: str | None = None
) -> MemberWarningOut:
    """Record a warning to a member; they are told the reason (site notice and email).

    ``source`` says what it came from (``"dispute:12"``, ``"report:3"``)."""
    reason = _reason(reason, "warned")

    async def warn(uow: UnitOfWork) -> MemberWarningOut:
        await _check(uow, operator_id, member_id, "warn")
        rows = await MemberWarning.insert(
            MemberWarning(
                member_id=member_id, operator_id=operator_id, reason=reason, source=source, created_at=uow.now
            )
        ).returning(*MemberWarning.all_columns())
        row = rows[0]
        warned = MemberWarned(member_id=member_id, warning_id=row["id"], reason=reason, source=source)
        uow.record(warned, subject=f"member:{member_id}", actor_id=operator_id)
        return _warning_out(row)

    return await _run(target, warn)


async def suspend_member(
    target: Runtime | UnitOfWork, member_id: int, operator_id: int, reason: str
) -> MemberOut:
    """Suspend a member (as ``POST /operator/members/{id}/suspend``), in ``target``'s
    transaction when it is a unit of work; 409 if they already are."""

    async def suspend(uow: UnitOfWork) -> MemberOut:
        await _check(uow, operator_id, member_id, "suspend")
        # the suspension's own unit of work joins this one's transaction
        return await service.suspend(uow.runtime, operator_id=operator_id, member_id=member_id, reason=reason)

    return await _run(target, suspend)


async def flag_member(
    target: Runtime | UnitOfWork, member_id: int, operator_id: int, reason: str, *, source: str | None = None
) -> MemberFlagOut:
    """Mark a member for operators' attention with a reason (shown in ``GET
    /operator/members/{id}``); flagging a flagged member replaces the reason."""
    reason = _reason(reason, "flagged")

    async def flag(uow: UnitOfWork) -> MemberFlagOut:
        await _check(uow, operator_id, member_id, "flag")
        values = {"reason": reason, "flagged_by": operator_id, "source": source, "flagged_at": uow.now}
        updated = (
            await MemberFlag.update({getattr(MemberFlag, k): v for k, v in values.items()})
            .where(MemberFlag.member_id == member_id)
            .returning(*MemberFlag.all_columns())
        )
        if updated:
            row = updated[0]
        else:
            try:
                row = (
                    await MemberFlag.insert(MemberFlag(member_id=member_id, **values)).returning(
                        *MemberFlag.all_columns()
                    )
                )[0]
            except Exception as exc:
                if is_unique_violation(exc):
                    raise Conflict(f"member {member_id} was flagged at the same time; try again") from None
                raise
        flagged = MemberFlagged(member_id=member_id, reason=reason, source=source)
        uow.record(flagged, subject=f"member:{member_id}", actor_id=operator_id)
        return _flag_out(row)

    return await _run(target, flag)


async def unflag_member(target: Runtime | UnitOfWork, member_id: int, operator_id: int) -> None:
    """Remove a member's flag; 409 if they have none."""

    async def unflag(uow: UnitOfWork) -> None:
        await _check(uow, operator_id, member_id, "unflag")
        removed = await MemberFlag.delete().where(MemberFlag.member_id == member_id).returning(MemberFlag.id)
        if not removed:
            raise Conflict(f"member {member_id} is not flagged")
        uow.record(MemberUnflagged(member_id=member_id), subject=f"member:{member_id}", actor_id=operator_id)

    await _run(target, unflag)


def _warning_out(row: dict[str, Any]) -> MemberWarningOut:
    return MemberWarningOut(
        id=row["id"],
        reason=row["reason"],
        operator_id=row["operator_id"],
        source=row["source"],
        created_at=row["created_at"],
    )


def _flag_out(row: dict[str, Any]) -> MemberFlagOut:
    return MemberFlagOut(
        reason=row["reason"], flagged_by=row["flagged_by"], source=row["source"], flagged_at=row["flagged_at"]
    )


async def operator_member(runtime: Runtime, member_id: int) -> OperatorMemberOut:
    """A member as operators see them: the account, its flag and its warnings (newest first)."""
    member = await service.get_member(runtime, member_id)
    flag = await MemberFlag.select().where(MemberFlag.member_id == member_id).first()
    warnings = (
        await MemberWarning.select()
        .where(MemberWarning.member_id == member_id)
        .order_by(MemberWarning.id, ascending=False)
        .limit(100)
    )
    fields = {f: getattr(member, f) for f in member.__struct_fields__}
    return OperatorMemberOut(
        **fields, flag=_flag_out(flag) if flag else None, warnings=[_warning_out(w) for w in warnings]
    )
