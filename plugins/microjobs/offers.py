"""Free sell/exchange offers: members publish a service or product, others order it.

An offer is a catalog listing of kind ``offer`` (``POST /listings`` then ``POST
/listings/{id}/submit``): it publishes at once, without review, but its title,
description and ``requirements`` are screened for off-platform contact details like
every listing's (``[listings] screening``: ``block`` refuses them, ``flag`` sends the
offer to review).  Ordering it (``POST /microjobs/offers/{id}/orders``) creates an order
of the core's fixed-price process ``offer_order``: the buyer pays with ``POST
/orders/{id}/payments``, the seller delivers with ``POST /orders/{id}/delivery``, the
buyer accepts (``POST /orders/{id}/transitions/accept``) or it completes by itself
after ``offer_auto_complete_days``, and the seller's earnings are withdrawable.  There
is no site fee by default (the plugin declares a 0% commission for the kind; a site
charges one with ``[fees] commission_by_kind.offer``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from agorakit import orders
from agorakit.catalog import ListingKind, check_can_take, get_listing
from agorakit.errors import Conflict, FieldError, Forbidden, NotFound
from agorakit.http import Id, MemberRequest, problems
from agorakit.money import CommissionDefault, QuoteContext
from agorakit.orders import ItemIn, OrderOut, Process, fixed_price_process
from agorakit.plugins.microjobs.settings import MicrojobsSettings
from agorakit.runtime import Runtime

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts import MemberOut

NAME = "microjobs"
KIND = "offer"
PROCESS = "offer_order"

#: what an offer's buyer may report a delivery for (the operator decides)
REPORT_REASONS = {
    "not_delivered": "The order was marked complete without a delivery",
    "not_as_described": "The delivery is not what the offer promised",
}

#: no site fee on offers unless the site sets ``[fees] commission_by_kind.offer``
COMMISSION = CommissionDefault(kind=KIND, percent="0")


class OfferAttributes(msgspec.Struct, forbid_unknown_fields=True):
    """The ``attributes`` of an ``offer`` listing."""

    #: days the seller needs to deliver one order, from the moment it is paid
    delivery_days: Annotated[int, msgspec.Meta(ge=1, le=365)]
    #: what the seller needs from the buyer to start, shown before ordering (screened for
    #: contact details like the title and the description)
    requirements: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    #: what the seller would also take in exchange instead of money, if anything (a note
    #: for buyers; orders are always paid at the offer's price)
    exchange: Annotated[str, msgspec.Meta(max_length=500)] = ""


class OrderOffer(msgspec.Struct, forbid_unknown_fields=True):
    #: the buyer's answer to the offer's requirements (what the seller needs to start)
    requirements: Annotated[str, msgspec.Meta(max_length=5000)] = ""


class OfferNotAvailable(Conflict):
    code = "offer_not_available"


def _settings(runtime: Runtime) -> MicrojobsSettings:
    return runtime.plugin_settings(NAME)


def listing_kinds(settings: MicrojobsSettings) -> list[ListingKind]:
    """The ``offer`` kind when the site has offers on: published at once, screened."""
    if not settings.offers:
        return []
    return [
        ListingKind(
            name=KIND,
            attributes=OfferAttributes,
            review_required=False,
            screened_attributes=("requirements", "exchange"),
        )
    ]


def offer_process(settings: MicrojobsSettings) -> Process:
    """The core's fixed-price process with the offers' numbers.  Registered even when
    offers are off, so that orders placed before keep running."""
    return fixed_price_process(
        PROCESS,
        version=1,
        auto_complete_days=settings.offer_auto_complete_days,
        unpaid_expiry_hours=settings.offer_unpaid_expiry_hours,
        report_window_days=settings.offer_auto_complete_days,
        report_review_hours=settings.dispute_review_hours,
        report_reasons=REPORT_REASONS,
    )


def offer_problems(listing: Any) -> list[FieldError]:
    """An offer is sold for a price (``agorakit_validate_listing``)."""
    if listing.kind != KIND or listing.price > 0:
        return []
    return [FieldError("price.amount", "an offer needs a price greater than zero")]


async def order_offer(runtime: Runtime, listing_id: int, cmd: OrderOffer, *, buyer: MemberOut) -> OrderOut:
    """A buyer orders a published offer: one unit, an order awaiting payment, its price
    and fee fixed now."""
    if not _settings(runtime).offers:
        raise NotFound("this site has no offers")
    listing = await get_listing(listing_id, viewer=buyer)
    if listing.kind != KIND:
        raise NotFound(f"there is no offer {listing_id}")
    if listing.seller.id == buyer.id:
        raise Forbidden("you cannot order your own offer")
    if listing.status != "published":
        raise OfferNotAvailable(
            f"offer {listing_id} is {listing.status}; only published offers can be ordered"
        )
    await check_can_take(runtime, listing, buyer)
    context = QuoteContext(
        listing_id=listing.id,
        listing_kind=KIND,
        category=listing.category,
        seller_country=listing.seller.country,
        buyer_country=buyer.country,
        quantity=1,
    )
    return await orders.create_order(
        runtime,
        process=PROCESS,
        buyer_id=buyer.id,
        seller_id=listing.seller.id,
        listing_id=listing.id,
        currency=listing.price.currency,
        items=[
            ItemIn(kind="base", description=listing.title[:200], unit_price=listing.price_minor, quantity=1)
        ],
        data={
            "fee_kind": KIND,
            "offer": {"title": listing.title},
            "delivery_days": listing.attributes["delivery_days"],
            "requirements": cmd.requirements.strip(),
        },
        caller=buyer,
        quote_context=context,
    )


class OfferController(Controller):
    path = "/microjobs/offers"
    tags = ["microjobs"]

    @post(
        "/{listing_id:int}/orders",
        operation_id="microjobsOrderOffer",
        summary="Order an offer (then pay it with POST /orders/{id}/payments)",
        responses=problems(403, 404, 409),
        status_code=HTTP_201_CREATED,
    )
    async def order(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        listing_id: Id,
        data: JSONBody[OrderOffer],
    ) -> OrderOut:
        return await order_offer(runtime, listing_id, data, buyer=request.user)
