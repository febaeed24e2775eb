"""A member's skills ("MyAccount → Add more skills"): the categories they work in.

The job list's ``skills=true`` shows only the jobs in these categories and the
categories below them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.accounts import MemberOut
from agorakit.catalog import category_slugs
from agorakit.db import is_unique_violation
from agorakit.errors import Conflict, FieldError, ValidationFailed
from agorakit.plugins.microjobs.schemas import SkillsIn, SkillsOut
from agorakit.plugins.microjobs.tables import Skill

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


async def my_skills(member: MemberOut) -> SkillsOut:
    rows = await Skill.select(Skill.category).where(Skill.member_id == member.id).order_by(Skill.category)
    return SkillsOut(categories=[row["category"] for row in rows])


async def set_skills(runtime: Runtime, cmd: SkillsIn, *, member: MemberOut) -> SkillsOut:
    """Replace the member's skills with these category slugs (a 422 for each unknown one)."""
    known = set((await category_slugs()).values())
    errors = [
        FieldError(f"categories[{index}]", f"there is no category {slug!r} (see GET /categories)")
        for index, slug in enumerate(cmd.categories)
        if slug not in known
    ]
    if errors:
        raise ValidationFailed(errors)
    chosen = sorted(set(cmd.categories))
    try:
        async with runtime.unit_of_work() as uow:
            await Skill.delete().where(Skill.member_id == member.id)
            if chosen:
                await Skill.insert(
                    *[Skill(member_id=member.id, category=slug, created_at=uow.now) for slug in chosen]
                )
    except Exception as exc:
        if is_unique_violation(exc):  # another request changed them at the same moment
            raise Conflict("your skills changed meanwhile; read them and try again") from None
        raise
    return SkillsOut(categories=chosen)
