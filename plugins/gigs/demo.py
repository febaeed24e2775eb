"""Demo data of the gigs plugin: gigs in several categories, a completed and reviewed order,
and an order in progress — made through the services, as real use would."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agorakit import catalog, orders
from agorakit.catalog import CreateCategory, CreateListing
from agorakit.money import Money
from agorakit.orders import pay_order
from agorakit.plugins.gigs import service
from agorakit.plugins.gigs.schemas import Delivery, OrderGig
from agorakit.reviews import PostReview, post_review

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

CATEGORIES = [
    ("design", "Design", None),
    ("logo-design", "Logo design", "design"),
    ("writing", "Writing & translation", None),
    ("programming", "Programming", None),
]

GIGS = [
    (
        "logo-design",
        "I will design a minimalist logo for your brand",
        "Three concepts, vector files and two rounds of changes. Tell me about your brand, "
        "its audience and the colours you like.",
        "25.00",
        {
            "delivery_days": 3,
            "extras": [
                {"title": "Express delivery", "price": "10.00", "days": 0},
                {"title": "Source files", "price": "5.00", "days": 1},
            ],
            "max_quantity": 3,
            "requirements": "Your brand name, a sentence about what you do, colours you like.",
        },
    ),
    (
        "writing",
        "I will proofread 1000 words of English",
        "Careful proofreading of up to 1000 words: grammar, spelling, punctuation and flow.",
        "5.00",
        {"delivery_days": 1, "max_quantity": 10, "requirements": "The text, and who will read it."},
    ),
    (
        "programming",
        "I will fix a bug in your Python script",
        "Send me the script and what goes wrong; I find the bug, fix it and explain the fix.",
        "15.00",
        {"delivery_days": 2, "extras": [{"title": "Tests for the fix", "price": "10.00", "days": 1}]},
    ),
]


async def _categories(runtime: Runtime, operator: Any) -> None:
    existing = set((await catalog.category_slugs()).values())
    for slug, name, parent in CATEGORIES:
        if slug not in existing:
            await catalog.create_category(
                runtime, CreateCategory(slug=slug, name=name, parent=parent), actor_id=operator.id
            )


async def load_demo_gigs(runtime: Runtime, members: dict[str, Any]) -> None:
    seller, buyer, operator = members["seller"], members["buyer"], members["operator"]
    currency = runtime.settings.site.currency
    await _categories(runtime, operator)
    gig_ids = []
    for category, title, description, price, attributes in GIGS:
        cmd = CreateListing(
            kind="gig",
            title=title,
            description=description,
            price=Money(amount=price, currency=currency),
            category=category,
            attributes=attributes,
        )
        listing = await catalog.create_listing(runtime, cmd, owner=seller)
        await catalog.submit_listing(runtime, listing.id, owner=seller)
        await catalog.moderate(runtime, listing.id, approve=True, actor_id=operator.id)
        gig_ids.append(listing.id)

    # A completed order (logo, 25.00 paid from the buyer's credit) with the buyer's review.
    done = await service.order_gig(
        runtime, gig_ids[0], OrderGig(requirements="Acme Bakery; warm colours."), buyer=buyer
    )
    await pay_order(runtime, done.id, caller=buyer, method="balance")
    await service.deliver(
        runtime, done.id, Delivery(message="Here are the three concepts, in SVG and PNG."), caller=seller
    )
    await orders.fire(runtime, done.id, "accept", caller=buyer)

    await post_review(
        runtime, done.id, PostReview(rating=5, text="Three lovely concepts, delivered early."), caller=buyer
    )

    # An order in progress (proofreading, 2 x 5.00), paid and waiting for delivery.
    running = await service.order_gig(
        runtime, gig_ids[1], OrderGig(quantity=2, requirements="A cover letter."), buyer=buyer
    )
    await pay_order(runtime, running.id, caller=buyer, method="balance")
