"""How notices name things: the helpers the areas' and plugins' ``agorakit_notify``
implementations share (exported by :mod:`agorakit.notifications`)."""

from __future__ import annotations

from agorakit.accounts import display_name_of
from agorakit.runtime import current_unit_of_work

#: who fired an order transition, by the actor role the order's history records
ACTOR_LABELS = {
    "buyer": "the buyer",
    "seller": "the seller",
    "candidate": "the seller",
    "operator": "an operator",
    "system": "the site, automatically",
}


def humanize(name: str) -> str:
    """``auto_complete`` → ``auto complete``."""
    return name.replace("_", " ").replace("-", " ").strip()


async def display_name(member_id: int | None) -> str:
    """The name a member shows to others, for a notice: ``someone`` when nobody is named,
    ``a former member`` when the member is gone."""

    if member_id is None:
        return "someone"
    uow = current_unit_of_work()  # a member acting in the notice's transaction: named already
    held = uow.held("member", member_id) if uow is not None else None
    name = held["display_name"] if held is not None else await display_name_of(member_id)
    return name if name is not None else "a former member"
