"""Catalog: categories and qualifications, listings and moderation, browse and search.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.catalog.controllers import optional_member as optional_member
    from agorakit.catalog.kinds import ListingKind as ListingKind
    from agorakit.catalog.listings import check_can_take as check_can_take
    from agorakit.catalog.listings import create_listing as create_listing
    from agorakit.catalog.listings import get_listing as get_listing
    from agorakit.catalog.listings import moderate as moderate
    from agorakit.catalog.listings import submit_listing as submit_listing
    from agorakit.catalog.schemas import CreateCategory as CreateCategory
    from agorakit.catalog.schemas import CreateListing as CreateListing
    from agorakit.catalog.service import category_slugs as category_slugs
    from agorakit.catalog.service import create_category as create_category

EXPORTS: dict[str, str] = {
    "category_slugs": "agorakit.catalog.service",
    "check_can_take": "agorakit.catalog.listings",
    "create_category": "agorakit.catalog.service",
    "create_listing": "agorakit.catalog.listings",
    "CreateCategory": "agorakit.catalog.schemas",
    "CreateListing": "agorakit.catalog.schemas",
    "get_listing": "agorakit.catalog.listings",
    "ListingKind": "agorakit.catalog.kinds",
    "moderate": "agorakit.catalog.listings",
    "optional_member": "agorakit.catalog.controllers",
    "submit_listing": "agorakit.catalog.listings",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
