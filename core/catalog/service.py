"""Categories: each changing function is one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from msgspec import UNSET

from agorakit.catalog.events import CategoryCreated, CategoryUpdated
from agorakit.catalog.schemas import CategoryNode, CategoryOut, CreateCategory, UpdateCategory
from agorakit.catalog.tables import Category
from agorakit.db import is_unique_violation
from agorakit.db.prepared import Prepared
from agorakit.errors import Conflict, FieldError, NotFound, ValidationFailed
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


_CATEGORY_NAMES = Prepared(lambda: Category.select(Category.id, Category.name))


async def category_names() -> dict[int, str]:
    """Every category's name by id (one query), e.g. for a notice that names a category."""
    return {row["id"]: row["name"] for row in await _CATEGORY_NAMES.run()}


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


async def category_ancestors(slug: str, *, field: str = "category") -> list[str]:
    """The category's slug and those of the categories above it, nearest first
    (``["games/valorant", "games"]``); an unknown slug is a 422 on ``field``."""
    index = await category_index()
    return [index.slugs[category_id] for category_id in index.ancestors(index.id_of(slug, field=field))]


class CategoryIndex:
    """Every category's id, slug and parent from one query (browsing needs all three)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.slugs: dict[int, str] = {r["id"]: r["slug"] for r in rows}
        self.ids: dict[str, int] = {r["slug"]: r["id"] for r in rows}
        self.parents: dict[int, int | None] = {r["id"]: r["parent_id"] for r in rows}
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

    def ancestors(self, category_id: int) -> list[int]:
        """The category and every category above it, nearest first (none for an unknown id)."""
        out: list[int] = []
        current: int | None = category_id
        while current is not None and current in self.parents and current not in out:
            out.append(current)
            current = self.parents[current]
        return out


_CATEGORY_INDEX = Prepared(lambda: Category.select(Category.id, Category.slug, Category.parent_id))


async def category_index() -> CategoryIndex:
    return CategoryIndex(await _CATEGORY_INDEX.run())


# --------------------------------------------------------------------------------------
# The category tree a process keeps (browsing)
# --------------------------------------------------------------------------------------

#: The category tree's version: how many times it changed (``core_category_version``,
#: counted by triggers in the transaction of each change).  One indexed read, meant for a
#: statement that also reads what depends on the tree: both come from one snapshot.
CATEGORY_TREE_VERSION = "(SELECT COALESCE(MAX(version), 0) FROM core_category_version)"


@dataclass(frozen=True)
class KeptTree:
    """The category tree as one process keeps it, and the version it was read at."""

    version: int
    index: CategoryIndex


#: per runtime (one per process; each test has its own, on its own database)
_KEPT: WeakKeyDictionary[Any, KeptTree] = WeakKeyDictionary()


def kept_category_tree(runtime: Runtime) -> KeptTree | None:
    """The tree this process keeps, or None before it read one."""
    return _KEPT.get(runtime)


async def load_category_tree(runtime: Runtime) -> KeptTree:
    """Read the tree and its version in one statement (one snapshot) and keep them.

    Whoever uses the kept tree to build a query puts :data:`CATEGORY_TREE_VERSION` into
    that query and calls this again when the version it reads differs: a category
    created, moved or renamed by any process on any host is seen by the next statement
    that depends on it, without any message between processes."""
    rows = await Category.raw(
        f"SELECT v.version AS version, c.id AS id, c.slug AS slug, c.parent_id AS parent_id "
        f"FROM (SELECT {CATEGORY_TREE_VERSION} AS version) v LEFT JOIN core_category c ON 1 = 1"
    )
    kept = KeptTree(int(rows[0]["version"]), CategoryIndex([r for r in rows if r["id"] is not None]))
    _KEPT[runtime] = kept
    return kept


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
