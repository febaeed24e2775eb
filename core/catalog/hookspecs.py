"""The hooks the catalog defines: what listings show of their ratings, and work done in
the transactions that create a listing and change its status.  The catalog sits below the reviews area, so the
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
        An object whose ``stored_on_listings`` attribute is true keeps the summaries on
        the listing rows instead (``core_listing.seller_rating_count``,
        ``seller_rating_sum``, ``rating_count``, ``rating_sum``, in the transactions
        that change them): listing views then read them with the listings, in the same
        statement, and never call its methods.
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


@hookspec
def agorakit_listing_status_changed(
    uow: UnitOfWork,
    listing_id: int,
    kind: str,
    owner_id: int,
    old_status: str | None,
    new_status: str,
    runtime: Runtime,
) -> None:
    """Keep what a plugin holds about a listing in step with its status.

    Called inside the unit of work that sets a listing's status, after the change is
    written and before it commits: when it is created (``None`` to ``draft``), submitted
    (to ``pending_review``, or ``published`` for a kind without review), approved or
    rejected by an operator, paused, resumed or closed (by its owner or an operator), and
    edited back to review (``pending_review``) or to ``draft``.  An exception rolls the
    whole change back: the caller gets the error and the listing keeps its old status.
    Write your rows through ``uow`` (the same transaction); record events with
    ``uow.record``.  May be ``async``.  Nothing is called, and nothing costs, when no
    plugin implements it.

    :param uow: the open :class:`agorakit.runtime.UnitOfWork`.
    :param listing_id: the listing.
    :param kind: its kind's name (e.g. ``"gig"``): act only on your own kinds.
    :param owner_id: the member who owns it.
    :param old_status: its status before (None when it was just created).
    :param new_status: its status now (``draft``, ``pending_review``, ``published``,
        ``rejected``, ``paused`` or ``closed``).
    """
