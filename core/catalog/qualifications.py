"""Qualifications: members' access to sell in a category, each changing function one
transaction.

A member applies for a category (with a note and files of their own); an operator
approves or rejects the application and may later revoke the access an approval gave.
Approved access to a category covers every category below it.  The member chooses
whether they hear of new work in their categories (``notify``).
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from agorakit.attachments import AttachmentOut, attachments_by_ids, check_attachments
from agorakit.catalog.events import (
    QualificationApplied,
    QualificationApproved,
    QualificationRejected,
    QualificationRevoked,
)
from agorakit.catalog.schemas import (
    MAX_QUALIFICATION_ATTACHMENTS,
    ApplyQualification,
    QualificationOut,
    QualificationStatus,
    UpdateMyQualification,
)
from agorakit.catalog.service import CategoryIndex, category_index
from agorakit.catalog.tables import Qualification
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.http import QueueCount, count_queue
from agorakit.pagination import decode_cursor, page
from agorakit.runtime import Runtime


async def _outs(rows: list[dict[str, Any]], index: CategoryIndex | None = None) -> list[QualificationOut]:
    """Rows as the API shows them: the categories and every row's files in one query each."""
    index = index or await category_index()
    files = {a.id: a for a in await attachments_by_ids([i for r in rows for i in r["attachments"] or []])}
    return [_to_qualification(row, index.slugs, files) for row in rows]


def _to_qualification(
    row: dict[str, Any], slugs: dict[int, str], files: dict[int, AttachmentOut]
) -> QualificationOut:
    return QualificationOut(
        id=row["id"],
        member_id=row["member_id"],
        category=slugs.get(row["category_id"], ""),
        note=row["note"],
        attachments=[files[i] for i in row["attachments"] or [] if i in files],
        status=row["status"],
        reason=row["reason"],
        notify=bool(row["notify"]),
        created_at=row["created_at"],
        decided_at=row["decided_at"],
        revoked_at=row["revoked_at"],
    )


async def _row(qualification_id: int, *, member_id: int | None = None) -> dict[str, Any]:
    query = Qualification.select().where(Qualification.id == qualification_id)
    if member_id is not None:
        query = query.where(Qualification.member_id == member_id)
    row = await query.first().output(load_json=True)
    if row is None:
        raise NotFound(f"there is no qualification application {qualification_id}")
    return row


async def get_qualification(qualification_id: int) -> QualificationOut:
    """One application (no access check)."""
    [out] = await _outs([await _row(qualification_id)])
    return out


# --------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------


async def apply_for_qualification(
    runtime: Runtime, cmd: ApplyQualification, *, member_id: int
) -> QualificationOut:
    """Apply to sell in a category, with files of one's own (``member:<id>`` uploads).

    One pending application per member and category (409, also a partial unique index);
    approved access to the category or to a category above it is a 409 too.  After a
    rejection or a revocation the member may apply again.
    """
    try:
        async with runtime.unit_of_work() as uow:
            index = await category_index()
            category_id, files = await _check_application(index, cmd, member_id)
            await _check_not_open(index, member_id, category_id, cmd.category)
            rows = await Qualification.insert(
                Qualification(
                    member_id=member_id,
                    category_id=category_id,
                    note=cmd.note.strip(),
                    attachments=files,
                    notify=True,
                    status="pending",
                    created_at=uow.now,
                )
            ).returning(Qualification.id)
            qualification_id = rows[0]["id"]
            applied = QualificationApplied(
                qualification_id=qualification_id, member_id=member_id, category=cmd.category
            )
            uow.record(applied, subject=f"qualification:{qualification_id}", actor_id=member_id)
    except Exception as exc:
        if is_unique_violation(exc):  # a concurrent application won
            raise _already_pending(cmd.category) from None
        raise
    return await get_qualification(qualification_id)


async def _check_application(
    index: CategoryIndex, cmd: ApplyQualification, member_id: int
) -> tuple[int, list[int]]:
    """The category's id and the files' ids, or one 422 naming every bad field."""
    errors: list[FieldError] = []
    category_id = index.ids.get(cmd.category, 0)
    if not category_id:
        errors.append(FieldError("category", f"there is no category {cmd.category!r} (see GET /categories)"))
    ids = list(dict.fromkeys(cmd.attachments))
    if len(ids) > MAX_QUALIFICATION_ATTACHMENTS:
        message = f"at most {MAX_QUALIFICATION_ATTACHMENTS} files per application"
        errors.append(FieldError("attachments", message))
    elif ids:
        try:
            await check_attachments(ids, scope=f"member:{member_id}", member_id=member_id)
        except ValidationFailed as exc:
            errors += exc.errors
    if errors:
        raise ValidationFailed(errors)
    return category_id, ids


async def _check_not_open(index: CategoryIndex, member_id: int, category_id: int, slug: str) -> None:
    covering = index.ancestors(category_id)
    rows = await Qualification.select(Qualification.category_id, Qualification.status).where(
        (Qualification.member_id == member_id)
        & (
            (Qualification.category_id == category_id)
            | ((Qualification.category_id.is_in(covering)) & (Qualification.status == "approved"))
        )
    )
    approved = {r["category_id"] for r in rows if r["status"] == "approved"}
    if category_id in approved:
        raise Conflict(f"you are already qualified in {slug!r}")
    for above in covering:
        if above in approved:
            raise Conflict(
                f"you are already qualified in {slug!r} through {index.slugs[above]!r}, the category above it"
            )
    if any(r["status"] == "pending" for r in rows):
        raise _already_pending(slug)


def _already_pending(slug: str) -> Conflict:
    return Conflict(f"you already have an open application for {slug!r}; wait for the operators' decision")


# --------------------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------------------


async def list_qualifications(
    *,
    cursor: str | None,
    limit: int,
    member_id: int | None = None,
    status: QualificationStatus | None = None,
    category: str | None = None,
) -> tuple[list[QualificationOut], str | None]:
    """Oldest first (the order operators work through them); ``category`` (a slug)
    includes the categories below it (a 422 on ``category`` for an unknown one)."""
    index = await category_index()
    query = Qualification.select().order_by(Qualification.id).limit(limit + 1).output(load_json=True)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Qualification.id > position["id"])
    if member_id is not None:
        query = query.where(Qualification.member_id == member_id)
    if status is not None:
        query = query.where(Qualification.status == status)
    if category is not None:
        query = query.where(Qualification.category_id.is_in(index.descendants(index.id_of(category))))
    rows = await query
    found, next_cursor = page(rows, limit, lambda row: {"id": row["id"]})
    return await _outs(found, index), next_cursor


async def pending_count() -> QueueCount:
    """The applications waiting for a decision (``GET /operator/qualifications``), counted."""
    return await count_queue(Qualification, Qualification.status == "pending", since=Qualification.created_at)


# --------------------------------------------------------------------------------------
# Operators' decisions
# --------------------------------------------------------------------------------------


def _require_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed([FieldError("reason", "say why, so the member knows what to change")])
    return reason


async def _move(qualification_id: int, *, from_status: str, verb: str, changes: dict[Any, Any]) -> dict:
    """Change a qualification in ``from_status`` (the row before; 404 or 409 otherwise).

    The update names the status it expects: of two operators deciding at once, one wins
    and the other gets the 409.
    """
    row = await _row(qualification_id)
    moved = await (
        Qualification.update(changes)
        .where((Qualification.id == qualification_id) & (Qualification.status == from_status))
        .returning(Qualification.id)
    )
    if not moved:
        current = (await _row(qualification_id))["status"]
        raise Conflict(f"application {qualification_id} is {current}; only {from_status} ones are {verb}")
    return row


async def decide_qualification(
    runtime: Runtime, qualification_id: int, *, approve: bool, actor_id: int, reason: str | None = None
) -> QualificationOut:
    """Approve or reject (with a reason) a pending application."""
    if not approve:
        reason = _require_reason(reason)
    async with runtime.unit_of_work() as uow:
        changes = {
            Qualification.status: "approved" if approve else "rejected",
            Qualification.reason: None if approve else reason,
            Qualification.decided_by: actor_id,
            Qualification.decided_at: uow.now,
        }
        row = await _move(qualification_id, from_status="pending", verb="decided", changes=changes)
        facts = {
            "qualification_id": qualification_id,
            "member_id": row["member_id"],
            "category_id": row["category_id"],
        }
        decided = (
            QualificationApproved(**facts) if approve else QualificationRejected(**facts, reason=reason or "")
        )
        uow.record(decided, subject=f"qualification:{qualification_id}", actor_id=actor_id)
    return await get_qualification(qualification_id)


async def revoke_qualification(
    runtime: Runtime, qualification_id: int, *, actor_id: int, reason: str
) -> QualificationOut:
    """Take an approved member's access to the category away, with a reason told to them.

    A 422 on ``reason`` without one, a 404 for an unknown id, a 409 unless approved.
    The member may apply again.
    """
    reason = _require_reason(reason)
    async with runtime.unit_of_work() as uow:
        changes = {
            Qualification.status: "revoked",
            Qualification.reason: reason,
            Qualification.revoked_by: actor_id,
            Qualification.revoked_at: uow.now,
        }
        row = await _move(qualification_id, from_status="approved", verb="revoked", changes=changes)
        revoked = QualificationRevoked(
            qualification_id=qualification_id,
            member_id=row["member_id"],
            category_id=row["category_id"],
            reason=reason,
        )
        uow.record(revoked, subject=f"qualification:{qualification_id}", actor_id=actor_id)
    return await get_qualification(qualification_id)


# --------------------------------------------------------------------------------------
# The member's choices
# --------------------------------------------------------------------------------------


async def update_my_qualification(
    runtime: Runtime, qualification_id: int, cmd: UpdateMyQualification, *, member_id: int
) -> QualificationOut:
    """The member turns new-work notifications for an approved qualification on or off
    (a 404 for another member's, a 409 unless approved)."""
    async with runtime.unit_of_work():
        row = await _row(qualification_id, member_id=member_id)
        if cmd.notify is not UNSET:
            if row["status"] != "approved":
                raise Conflict(
                    f"application {qualification_id} is {row['status']}; "
                    "notifications are chosen for approved ones"
                )
            await Qualification.update({Qualification.notify: cmd.notify}).where(
                Qualification.id == qualification_id
            )
    return await get_qualification(qualification_id)


# --------------------------------------------------------------------------------------
# Who may work where (for eligibility and notification plugins)
# --------------------------------------------------------------------------------------


async def is_qualified(member_id: int, category_slug: str) -> bool:
    """True when the member has approved access to the category or to one above it."""
    index = await category_index()
    if category_slug not in index.ids:
        return False
    return await Qualification.exists().where(
        (Qualification.member_id == member_id)
        & (Qualification.category_id.is_in(index.ancestors(index.ids[category_slug])))
        & (Qualification.status == "approved")
    )


async def qualified_members(category_id: int, *, notify_only: bool = False) -> list[int]:
    """The members with approved access to the category or to a category above it, by id.

    With ``notify_only``, those who want to hear of new work there: the member's
    qualification nearest to the category (its own, else the closest above) decides.
    An unknown category has none.
    """
    chain = (await category_index()).ancestors(category_id)
    if not chain:
        return []
    rows = await Qualification.select(
        Qualification.member_id, Qualification.category_id, Qualification.notify
    ).where((Qualification.category_id.is_in(chain)) & (Qualification.status == "approved"))
    nearest: dict[int, tuple[int, bool]] = {}
    for row in rows:
        distance = chain.index(row["category_id"])
        known = nearest.get(row["member_id"])
        if known is None or distance < known[0]:
            nearest[row["member_id"]] = (distance, bool(row["notify"]))
    return sorted(m for m, (_, notify) in nearest.items() if notify or not notify_only)


async def qualified_category_ids(member_id: int) -> set[int]:
    """The categories the member may work in: each with an approved qualification and every
    category below those (two queries)."""
    rows = await Qualification.select(Qualification.category_id).where(
        (Qualification.member_id == member_id) & (Qualification.status == "approved")
    )
    if not rows:
        return set()
    index = await category_index()
    return {d for r in rows if r["category_id"] in index.parents for d in index.descendants(r["category_id"])}
