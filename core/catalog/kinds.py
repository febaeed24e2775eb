"""Listing kinds: what plugins register through ``agorakit_listing_kinds``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from agorakit.settings import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime


class ListingKind(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of listing (gig, campaign, offer, request, lead ...).

    ``attributes`` is the msgspec Struct type a listing's kind-specific attributes are
    converted to (field errors are reported as ``attributes.<field>``).  An optional
    ``countries: list[str]`` attribute limits who may take the listing (empty = everyone)
    and is what ``GET /listings?country=`` filters on.

    A kind with ``visible_to="eligible"`` is seen only by those who may take its
    listings: its listings never appear in ``GET /listings`` (nor in what search plugins
    index or rank), and ``GET /listings/{id}`` shows one to its owner, operators and the
    members no ``agorakit_can_take`` vetoes (others get 403 ``not_eligible``, visitors
    who are not signed in 401).

    A kind with ``takers="qualified"`` is taken only by members an operator approved for
    the listing's category or a category above it (``POST /qualifications``): the others
    get 403 ``not_eligible`` saying so when they take one (or, with
    ``visible_to="eligible"``, look at one), and its orders do not appear in their
    ``GET /orders/open``.
    """

    #: unique name, e.g. "gig"; also the ``Quote.kind`` fee plugins see
    name: str
    #: msgspec Struct type of the kind-specific attributes
    attributes: type[msgspec.Struct]
    #: a new or changed listing waits for an operator before it is published
    review_required: bool = True
    #: sales of this kind pay the site's fees
    charge_fees: bool = True
    #: who sees its listings: everyone, or only the members who may take them
    visible_to: Literal["everyone", "eligible"] = "everyone"
    #: who may take its listings: any member, or only those with an approved
    #: qualification in the listing's category or one above it
    takers: Literal["anyone", "qualified"] = "anyone"
    #: operators' review target for its listings, in working hours (None: the site's
    #: ``[listings] review_target_hours``); older pending ones are overdue in the queue
    review_target_hours: int | None = None
    #: text attributes screened like the title and the description (``agorakit_screen_text``),
    #: e.g. ``("requirements",)``; a flag names the field ``attributes.<name>``
    screened_attributes: tuple[str, ...] = ()


def listing_kinds(runtime: Runtime) -> dict[str, ListingKind]:
    """The kinds the site's plugins register, collected once per runtime."""
    kinds = getattr(runtime, "_listing_kinds", None)
    if kinds is None:
        kinds = {}
        for kind in runtime.hooks.collect_sync("agorakit_listing_kinds", runtime=runtime):
            if kind.name in kinds:
                message = f"{runtime.settings.source}: two plugins register the listing kind {kind.name!r}"
                raise ConfigError(message)
            kinds[kind.name] = kind
        runtime._unlisted_kinds = tuple(sorted(k.name for k in kinds.values() if k.visible_to == "eligible"))
        runtime._qualified_kinds = tuple(sorted(k.name for k in kinds.values() if k.takers == "qualified"))
        runtime._listing_kinds = kinds
    return kinds


def unlisted_kinds(runtime: Runtime) -> tuple[str, ...]:
    """The names of the kinds only eligible members see (``visible_to="eligible"``):
    their listings stay out of browsing, search and search indexes."""
    listing_kinds(runtime)
    return runtime._unlisted_kinds or ()


def qualified_kinds(runtime: Runtime) -> tuple[str, ...]:
    """The names of the kinds only qualified members take (``takers="qualified"``)."""
    listing_kinds(runtime)
    return runtime._qualified_kinds or ()
