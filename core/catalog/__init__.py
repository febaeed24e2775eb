"""Catalog: categories and qualifications, listings and moderation, text screening,
browse and search.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.catalog.controllers import optional_member as optional_member
    from agorakit.catalog.errors import NotEligible as NotEligible
    from agorakit.catalog.events import CategoryCreated as CategoryCreated
    from agorakit.catalog.events import CategoryUpdated as CategoryUpdated
    from agorakit.catalog.events import ListingApproved as ListingApproved
    from agorakit.catalog.events import ListingClosed as ListingClosed
    from agorakit.catalog.events import ListingCreated as ListingCreated
    from agorakit.catalog.events import ListingEvent as ListingEvent
    from agorakit.catalog.events import ListingPaused as ListingPaused
    from agorakit.catalog.events import ListingPublished as ListingPublished
    from agorakit.catalog.events import ListingRejected as ListingRejected
    from agorakit.catalog.events import ListingResumed as ListingResumed
    from agorakit.catalog.events import ListingSubmitted as ListingSubmitted
    from agorakit.catalog.events import ListingUpdated as ListingUpdated
    from agorakit.catalog.events import QualificationApplied as QualificationApplied
    from agorakit.catalog.events import QualificationApproved as QualificationApproved
    from agorakit.catalog.events import QualificationRejected as QualificationRejected
    from agorakit.catalog.events import QualificationRevoked as QualificationRevoked
    from agorakit.catalog.forms import DetailField as DetailField
    from agorakit.catalog.forms import DetailFieldOut as DetailFieldOut
    from agorakit.catalog.forms import check_fields as check_fields
    from agorakit.catalog.forms import clean_details as clean_details
    from agorakit.catalog.forms import describe_details as describe_details
    from agorakit.catalog.forms import field_out as field_out
    from agorakit.catalog.forms import fields_for_category as fields_for_category
    from agorakit.catalog.forms import text_details as text_details
    from agorakit.catalog.kinds import ListingKind as ListingKind
    from agorakit.catalog.kinds import qualified_kinds as qualified_kinds
    from agorakit.catalog.listings import check_can_take as check_can_take
    from agorakit.catalog.listings import create_listing as create_listing
    from agorakit.catalog.listings import get_listing as get_listing
    from agorakit.catalog.listings import get_listings as get_listings
    from agorakit.catalog.listings import submit_listing as submit_listing
    from agorakit.catalog.listings import take_vetoes as take_vetoes
    from agorakit.catalog.listings import update_listing as update_listing
    from agorakit.catalog.moderation import moderate as moderate
    from agorakit.catalog.moderation import move_listing as move_listing
    from agorakit.catalog.moderation import move_listing_in as move_listing_in
    from agorakit.catalog.moderation import pending_review_count as pending_review_count
    from agorakit.catalog.qualifications import apply_for_qualification as apply_for_qualification
    from agorakit.catalog.qualifications import decide_qualification as decide_qualification
    from agorakit.catalog.qualifications import is_qualified as is_qualified
    from agorakit.catalog.qualifications import qualified_category_ids as qualified_category_ids
    from agorakit.catalog.qualifications import qualified_members as qualified_members
    from agorakit.catalog.qualifications import revoke_qualification as revoke_qualification
    from agorakit.catalog.schemas import ApplyQualification as ApplyQualification
    from agorakit.catalog.schemas import CreateCategory as CreateCategory
    from agorakit.catalog.schemas import CreateListing as CreateListing
    from agorakit.catalog.schemas import ScreenFlagOut as ScreenFlagOut
    from agorakit.catalog.schemas import UpdateListing as UpdateListing
    from agorakit.catalog.screening import screen_fields as screen_fields
    from agorakit.catalog.screening import screening_error as screening_error
    from agorakit.catalog.search import listing_texts as listing_texts
    from agorakit.catalog.search import published_listing_texts as published_listing_texts
    from agorakit.catalog.service import category_ancestors as category_ancestors
    from agorakit.catalog.service import category_index as category_index
    from agorakit.catalog.service import category_names as category_names
    from agorakit.catalog.service import category_slugs as category_slugs
    from agorakit.catalog.service import category_subtree as category_subtree
    from agorakit.catalog.service import create_category as create_category

EXPORTS: dict[str, str] = {
    "UpdateListing": "agorakit.catalog.schemas",
    "update_listing": "agorakit.catalog.listings",
    "text_details": "agorakit.catalog.forms",
    "fields_for_category": "agorakit.catalog.forms",
    "field_out": "agorakit.catalog.forms",
    "DetailFieldOut": "agorakit.catalog.forms",
    "DetailField": "agorakit.catalog.forms",
    "describe_details": "agorakit.catalog.forms",
    "clean_details": "agorakit.catalog.forms",
    "check_fields": "agorakit.catalog.forms",
    "apply_for_qualification": "agorakit.catalog.qualifications",
    "ApplyQualification": "agorakit.catalog.schemas",
    "category_ancestors": "agorakit.catalog.service",
    "category_index": "agorakit.catalog.service",
    "category_names": "agorakit.catalog.service",
    "category_slugs": "agorakit.catalog.service",
    "category_subtree": "agorakit.catalog.service",
    "CategoryCreated": "agorakit.catalog.events",
    "CategoryUpdated": "agorakit.catalog.events",
    "check_can_take": "agorakit.catalog.listings",
    "create_category": "agorakit.catalog.service",
    "create_listing": "agorakit.catalog.listings",
    "decide_qualification": "agorakit.catalog.qualifications",
    "CreateCategory": "agorakit.catalog.schemas",
    "CreateListing": "agorakit.catalog.schemas",
    "get_listing": "agorakit.catalog.listings",
    "get_listings": "agorakit.catalog.listings",
    "is_qualified": "agorakit.catalog.qualifications",
    "listing_texts": "agorakit.catalog.search",
    "ListingApproved": "agorakit.catalog.events",
    "ListingClosed": "agorakit.catalog.events",
    "ListingCreated": "agorakit.catalog.events",
    "ListingEvent": "agorakit.catalog.events",
    "ListingKind": "agorakit.catalog.kinds",
    "NotEligible": "agorakit.catalog.errors",
    "ListingPaused": "agorakit.catalog.events",
    "ListingPublished": "agorakit.catalog.events",
    "ListingRejected": "agorakit.catalog.events",
    "ListingResumed": "agorakit.catalog.events",
    "ListingSubmitted": "agorakit.catalog.events",
    "ListingUpdated": "agorakit.catalog.events",
    "moderate": "agorakit.catalog.moderation",
    "move_listing": "agorakit.catalog.moderation",
    "move_listing_in": "agorakit.catalog.moderation",
    "optional_member": "agorakit.catalog.controllers",
    "pending_review_count": "agorakit.catalog.moderation",
    "published_listing_texts": "agorakit.catalog.search",
    "qualified_kinds": "agorakit.catalog.kinds",
    "QualificationApplied": "agorakit.catalog.events",
    "QualificationApproved": "agorakit.catalog.events",
    "QualificationRejected": "agorakit.catalog.events",
    "QualificationRevoked": "agorakit.catalog.events",
    "qualified_category_ids": "agorakit.catalog.qualifications",
    "qualified_members": "agorakit.catalog.qualifications",
    "revoke_qualification": "agorakit.catalog.qualifications",
    "ScreenFlagOut": "agorakit.catalog.schemas",
    "screen_fields": "agorakit.catalog.screening",
    "screening_error": "agorakit.catalog.screening",
    "submit_listing": "agorakit.catalog.listings",
    "take_vetoes": "agorakit.catalog.listings",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
