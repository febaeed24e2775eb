"""Categories and qualifications: each changing function is one transaction."""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from agorakit.catalog.events import (
    CategoryCreated,
    CategoryUpdated,
    QualificationApplied,
    QualificationApproved,
    QualificationRejected,
)
from agorakit.catalog.schemas import (
    ApplyQualification,
    CategoryNode,
    CategoryOut,
    CreateCategory,
    QualificationOut,
    UpdateCategory,
)
from agorakit.catalog.tables import Category, Qualification
from agorakit.db import is_unique_violation
from agorakit.db.prepared import Prepared
from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
from agorakit.pagination import decode_cursor, page
from agorakit.runtime import Runtime
from agorakit.text import check_name

# --------------------------------------------------------------------------------------
# Categories
# --------------------------------------------------------------------------------------


async def _categories() -> list[dict[str, Any]]:
    return await Category.select().order_by(Category.position).order_by(Category.name)


def _slug_taken(slug: str) -> Conflict:
    return Conflict(f"a category with slug {slug!r} exists already; choose another slug")


async def category_by_slug(slug: str, *, field: str = "category") -> dict[str, Any]:
    """The category row with this slug, or a 422 on ``field``."""
    row = await Category.select().where(Category.slug == slug).first()
    if row is None:
        raise ValidationFailed([FieldError(field, f"there is no category {slug!r} (see GET /categories)")])
    return row


async def descendant_ids(category_id: int) -> list[int]:
    """The category and every category below it."""
    return (await category_index()).descendants(category_id)


async def category_slugs() -> dict[int, str]:
    return (await category_index()).slugs


async def category_subtree(
    slugs: list[str], *, field: str = "category", skip_unknown: bool = False
) -> list[str]:
    """The slugs of the given categories and of every category below them (one query).

    An unknown slug is a 422 on ``field``, or left out with ``skip_unknown``."""
    index = await category_index()
    out: dict[str, None] = {}
    for slug in slugs:
        if skip_unknown and slug not in index.ids:
            continue
        for category_id in index.descendants(index.id_of(slug, field=field)):
            out[index.slugs[category_id]] = None
    return list(out)


class CategoryIndex:
    """Every category's id, slug and parent from one query (browsing needs all three)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.slugs: dict[int, str] = {r["id"]: r["slug"] for r in rows}
        self.ids: dict[str, int] = {r["slug"]: r["id"] for r in rows}
        self.children: dict[int | None, list[int]] = {}
        for row in rows:
            self.children.setdefault(row["parent_id"], []).append(row["id"])

    def id_of(self, slug: str, *, field: str = "category") -> int:
        """The category's id, or the 422 :func:`category_by_slug` gives."""
        if slug not in self.ids:
            raise ValidationFailed(
                [FieldError(field, f"there is no category {slug!r} (see GET /categories)")]
            )
        return self.ids[slug]

    def descendants(self, category_id: int) -> list[int]:
        """The category and every category below it."""
        out, todo = [], [category_id]
        while todo:
            current = todo.pop()
            out.append(current)
            todo += self.children.get(current, [])
        return out


_CATEGORY_INDEX = Prepared(lambda: Category.select(Category.id, Category.slug, Category.parent_id))


async def category_index() -> CategoryIndex:
    return CategoryIndex(await _CATEGORY_INDEX.run())


def _to_category(row: dict[str, Any], slugs: dict[int, str]) -> CategoryOut:
    return CategoryOut(
        id=row["id"],
        slug=row["slug"],
        name=row["name"],
        parent=slugs.get(row["parent_id"]) if row["parent_id"] else None,
        position=row["position"],
    )


async def category_tree() -> list[CategoryNode]:
    rows = await _categories()
    nodes = {
        r["id"]: CategoryNode(slug=r["slug"], name=r["name"], position=r["position"], children=[])
        for r in rows
    }
    roots: list[CategoryNode] = []
    for row in rows:
        parent = nodes.get(row["parent_id"]) if row["parent_id"] else None
        (parent.children if parent else roots).append(nodes[row["id"]])
    return roots


async def create_category(runtime: Runtime, cmd: CreateCategory, *, actor_id: int) -> CategoryOut:
    name = check_name(" ".join(cmd.name.split()), field="name")
    if not name:
        raise ValidationFailed([FieldError("name", "must have visible characters")])
    try:
        async with runtime.unit_of_work() as uow:
            parent_id = None
            if cmd.parent is not None:
                parent_id = (await category_by_slug(cmd.parent, field="parent"))["id"]
            if await Category.exists().where(Category.slug == cmd.slug):
                raise _slug_taken(cmd.slug)
            rows = await Category.insert(
                Category(
                    slug=cmd.slug, name=name, parent_id=parent_id, position=cmd.position, created_at=uow.now
                )
            ).returning(Category.id)
            category_id = rows[0]["id"]
            uow.record(
                CategoryCreated(category_id=category_id, slug=cmd.slug),
                subject=f"category:{category_id}",
                actor_id=actor_id,
            )
    except Exception as exc:
        if is_unique_violation(exc):
            raise _slug_taken(cmd.slug) from None
        raise
    return await get_category(category_id)


async def get_category(category_id: int) -> CategoryOut:
    row = await Category.select().where(Category.id == category_id).first()
    if row is None:
        raise NotFound(f"there is no category {category_id}")
    return _to_category(row, await category_slugs())


async def update_category(
    runtime: Runtime, category_id: int, cmd: UpdateCategory, *, actor_id: int
) -> CategoryOut:
    try:
        async with runtime.unit_of_work() as uow:
            row = await Category.select().where(Category.id == category_id).first()
            if row is None:
                raise NotFound(f"there is no category {category_id}")
            changes: dict[Any, Any] = {}
            if cmd.name is not UNSET:
                name = check_name(" ".join(cmd.name.split()), field="name")
                if not name:
                    raise ValidationFailed([FieldError("name", "must have visible characters")])
                changes[Category.name] = name
            if cmd.slug is not UNSET and cmd.slug != row["slug"]:
                if await Category.exists().where(Category.slug == cmd.slug):
                    raise _slug_taken(cmd.slug)
                changes[Category.slug] = cmd.slug
            if cmd.position is not UNSET:
                changes[Category.position] = cmd.position
            if cmd.parent is not UNSET:
                parent_id = None
                if cmd.parent is not None:
                    parent_id = (await category_by_slug(cmd.parent, field="parent"))["id"]
                    if parent_id in await descendant_ids(category_id):
                        message = "a category cannot move below itself or one of its sub-categories"
                        raise ValidationFailed([FieldError("parent", message)])
                changes[Category.parent_id] = parent_id
            if changes:
                await Category.update(changes).where(Category.id == category_id)
                uow.record(
                    CategoryUpdated(category_id=category_id),
                    subject=f"category:{category_id}",
                    actor_id=actor_id,
                )
    except Exception as exc:
        if is_unique_violation(exc):
            raise _slug_taken(str(cmd.slug)) from None
        raise
    return await get_category(category_id)


# --------------------------------------------------------------------------------------
# Qualifications
# --------------------------------------------------------------------------------------


def _to_qualification(row: dict[str, Any], slugs: dict[int, str]) -> QualificationOut:
    return QualificationOut(
        id=row["id"],
        member_id=row["member_id"],
        category=slugs.get(row["category_id"], ""),
        note=row["note"],
        status=row["status"],
        reason=row["reason"],
        created_at=row["created_at"],
        decided_at=row["decided_at"],
    )


async def get_qualification(qualification_id: int) -> QualificationOut:
    row = await Qualification.select().where(Qualification.id == qualification_id).first()
    if row is None:
        raise NotFound(f"there is no qualification application {qualification_id}")
    return _to_qualification(row, await category_slugs())


async def apply_for_qualification(
    runtime: Runtime, cmd: ApplyQualification, *, member_id: int
) -> QualificationOut:
    """Apply to sell in a category.  One open application per member and category (409)."""
    try:
        async with runtime.unit_of_work() as uow:
            category = await category_by_slug(cmd.category)
            existing = await Qualification.select(Qualification.status).where(
                (Qualification.member_id == member_id) & (Qualification.category_id == category["id"])
            )
            statuses = {r["status"] for r in existing}
            if "approved" in statuses:
                raise Conflict(f"you are already qualified in {cmd.category!r}")
            if "pending" in statuses:
                raise _already_pending(cmd.category)
            rows = await Qualification.insert(
                Qualification(
                    member_id=member_id,
                    category_id=category["id"],
                    note=cmd.note.strip(),
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


def _already_pending(slug: str) -> Conflict:
    return Conflict(f"you already have an open application for {slug!r}; wait for the operators' decision")


async def list_qualifications(
    *, cursor: str | None, limit: int, member_id: int | None = None, status: str | None = None
) -> tuple[list[QualificationOut], str | None]:
    """Oldest first (the order operators work through them)."""
    query = Qualification.select().order_by(Qualification.id).limit(limit + 1)
    position = decode_cursor(cursor, keys=("id",))
    if position is not None:
        query = query.where(Qualification.id > position["id"])
    if member_id is not None:
        query = query.where(Qualification.member_id == member_id)
    if status is not None:
        query = query.where(Qualification.status == status)
    rows = await query
    slugs = await category_slugs()
    found, next_cursor = page(rows, limit, lambda row: {"id": row["id"]})
    return [_to_qualification(r, slugs) for r in found], next_cursor


async def decide_qualification(
    runtime: Runtime, qualification_id: int, *, approve: bool, actor_id: int, reason: str | None = None
) -> QualificationOut:
    if not approve and not (reason or "").strip():
        raise ValidationFailed([FieldError("reason", "say why, so the member knows what to change")])
    async with runtime.unit_of_work() as uow:
        row = await Qualification.select().where(Qualification.id == qualification_id).first()
        if row is None:
            raise NotFound(f"there is no qualification application {qualification_id}")
        if row["status"] != "pending":
            raise Conflict(
                f"application {qualification_id} was already {row['status']}; only pending ones are decided"
            )
        status = "approved" if approve else "rejected"
        await Qualification.update(
            {
                Qualification.status: status,
                Qualification.reason: None if approve else reason,
                Qualification.decided_by: actor_id,
                Qualification.decided_at: uow.now,
            }
        ).where(Qualification.id == qualification_id)
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


async def is_qualified(member_id: int, category_slug: str) -> bool:
    """True when an operator approved the member for this category (for eligibility plugins)."""
    category = await Category.select(Category.id).where(Category.slug == category_slug).first()
    if category is None:
        return False
    return await Qualification.exists().where(
        (Qualification.member_id == member_id)
        & (Qualification.category_id == category["id"])
        & (Qualification.status == "approved")
    )


#: the categories a member has access to: those an operator approved them for, and every
#: category below one of them (``{}``: the member's id)
_ACCESS = (
    "WITH RECURSIVE access(id) AS ("
    "SELECT q.category_id FROM core_qualification q WHERE q.member_id = {} AND q.status = 'approved' "
    "UNION SELECT c.id FROM core_category c JOIN access a ON c.parent_id = a.id) "
)


async def accessible_category_ids(member_id: int) -> list[int]:
    """The categories the member may work in as a qualified seller: each category an
    operator approved them for and every category below it (one query)."""
    rows = await Category.raw(f"{_ACCESS}SELECT id FROM access ORDER BY id", member_id)
    return [row["id"] for row in rows]


async def has_category_access(member_id: int, category_slug: str) -> bool:
    """Whether an operator approved the member for this category or one above it (one
    query, whatever the depth)."""
    rows = await Category.raw(
        f"{_ACCESS}SELECT c.id FROM core_category c WHERE c.slug = {{}} AND c.id IN (SELECT id FROM access)",
        member_id,
        category_slug,
    )
    return bool(rows)
