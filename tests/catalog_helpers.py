"""A test plugin with listing kinds and vetoes, and helpers to build a catalog."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from agorakit import hookimpl
from agorakit.catalog.kinds import ListingKind
from agorakit.errors import FieldError


class Extra(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    price: Annotated[str, msgspec.Meta(pattern=r"^\d+\.\d{2}$")]
    days: Annotated[int, msgspec.Meta(ge=0)] = 0


class GigAttributes(msgspec.Struct, forbid_unknown_fields=True):
    delivery_days: Annotated[int, msgspec.Meta(ge=1, le=90)]
    extras: list[Extra] = []
    countries: list[Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]] = []


class OfferAttributes(msgspec.Struct, forbid_unknown_fields=True):
    exchange: bool = False


class CatalogTestPlugin:
    """gig (reviewed) and offer (published at once) kinds; a price floor; a veto list."""

    def __init__(self) -> None:
        self.vetoes: dict[int, str] = {}  # member id -> reason
        self.validated: list[Any] = []
        self.screened: list[tuple[str, str]] = []

    @hookimpl
    def agorakit_listing_kinds(self):
        return [
            ListingKind(name="gig", attributes=GigAttributes, review_required=True, charge_fees=True),
            ListingKind(name="offer", attributes=OfferAttributes, review_required=False, charge_fees=False),
        ]

    @hookimpl
    async def agorakit_validate_listing(self, listing):
        self.validated.append(listing)
        if listing.kind == "gig" and listing.price < 500:
            return [FieldError("price.amount", "gigs cost at least 5.00")]
        return None

    @hookimpl
    def agorakit_screen_text(self, text, context):
        self.screened.append((context, text))
        return None

    @hookimpl
    async def agorakit_can_take(self, listing, member):
        countries = listing.attributes.get("countries") or []
        if countries and member.country not in countries:
            return f"this listing is only for members in {', '.join(countries)}"
        return self.vetoes.get(member.id)


def gig(**changes: Any) -> dict[str, Any]:
    body = {
        "kind": "gig",
        "title": "I will design a minimalist logo",
        "description": "Three concepts, vector files and unlimited revisions.",
        "price": {"amount": "25.00", "currency": "USD"},
        "category": "logo-design",
        "attributes": {"delivery_days": 3, "extras": [{"title": "Express", "price": "10.00", "days": 1}]},
    }
    body.update(changes)
    return body


async def make_categories(client, operator) -> None:
    for slug, name, parent in [
        ("design", "Design", None),
        ("logo-design", "Logo design", "design"),
        ("writing", "Writing", None),
    ]:
        response = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert response.status_code == 201, response.text


async def publish(client, owner, operator, **changes: Any) -> dict[str, Any]:
    """Create, submit and (for reviewed kinds) approve a listing; returns it."""
    created = await client.post("/listings", json=gig(**changes), headers=owner.headers)
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]
    submitted = await client.post(f"/listings/{listing_id}/submit", headers=owner.headers)
    assert submitted.status_code == 200, submitted.text
    if submitted.json()["status"] == "published":
        return submitted.json()
    approved = await client.post(f"/operator/listings/{listing_id}/approve", headers=operator.headers)
    assert approved.status_code == 200, approved.text
    return approved.json()
