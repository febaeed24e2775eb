"""The hooks the catalog defines: what listings show of their ratings, and work done in
the transaction that creates a listing.  The catalog sits below the reviews area, so the
reviews reach listings through these hooks rather than the catalog importing them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from agorakit.runtime import Runtime, UnitOfWork


@hookspec(firstresult=True)
def agorakit_listing_ratings() -> Any:
    """Provide the rating summaries listings show (the seller's and the listing's own).

    Called once at start-up; the first provider returned is used (the core's reviews
    area provides one).  Without one, listings show no ratings.

    :return: an object with ``async sellers(member_ids)`` and ``async listings(listing_ids)``,
        each returning a dict with an entry for every id asked, whose values have
        ``average`` (a decimal string, or None without ratings) and ``count``; or None.
    """


@hookspec
def agorakit_listing_created(uow: UnitOfWork, listing_id: int, owner_id: int, runtime: Runtime) -> None:
    """Do what must happen in the same transaction as a new listing.

    Called inside the unit of work that inserts the listing (still a draft), before its
    ``listing.created`` event is recorded; an exception rolls the listing back.  The
    reviews area stores the seller's rating on the new row here (``sort=rating``).
    May be ``async``.

    :param uow: the open :class:`agorakit.runtime.UnitOfWork`.
    :param listing_id: the new listing's id.
    :param owner_id: the member who owns it.
    """
