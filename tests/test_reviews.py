"""Reviews: the parties of a completed order rate each other; summaries; moderation; search."""

from __future__ import annotations

import asyncio

import pytest
from catalog_helpers import CatalogTestPlugin, gig, make_categories, publish

import agorakit
from agorakit import orders
from agorakit.orders.process import Process, Transition
from agorakit.orders.schemas import ItemIn
from agorakit.reviews.plugin import excerpt
from agorakit.reviews.service import format_average


def job_process() -> Process:
    """A process without money: in_progress → delivered → completed, or cancelled."""
    return Process(
        name="reviewjob",
        version=1,
        states=("in_progress", "delivered", "completed", "cancelled"),
        initial="in_progress",
        final=("completed", "cancelled"),
        transitions=(
            Transition(name="deliver", sources=("in_progress",), target="delivered", actors=("seller",)),
            Transition(name="accept", sources=("delivered",), target="completed", actors=("buyer",)),
            Transition(
                name="cancel", sources=("in_progress", "delivered"), target="cancelled", actors=("buyer",)
            ),
        ),
        reviewable=("completed",),
    )


class ReviewTestPlugin:
    """The job process, and a record of every committed event."""

    def __init__(self) -> None:
        self.events: list = []

    @agorakit.hookimpl
    def agorakit_processes(self, runtime):
        return [job_process()]

    @agorakit.hookimpl
    def agorakit_on_event(self, event):
        self.events.append(event)

    def named(self, prefix: str) -> list:
        return [e for e in self.events if e.name.startswith(prefix)]


@pytest.fixture
def recorder():
    return ReviewTestPlugin()


@pytest.fixture
def extra_plugins(recorder):
    return [("reviewjob", recorder), ("catalog-test", CatalogTestPlugin())]


@pytest.fixture
async def people(make_member):
    operator = await make_member(role="operator")
    buyer = await make_member(display_name="Bea Buyer")
    seller = await make_member(display_name="Sam Seller")
    return operator, buyer, seller


async def new_order(runtime, buyer, seller, listing_id=None):
    return await orders.create_order(
        runtime,
        process="reviewjob",
        buyer_id=buyer.id,
        seller_id=seller.id,
        listing_id=listing_id,
        currency="USD",
        items=[ItemIn(description="A job", unit_price=500)],
    )


async def completed_order(runtime, buyer, seller, listing_id=None):
    """An order driven to ``completed`` through the engine, as its parties would."""
    order = await new_order(runtime, buyer, seller, listing_id)
    await orders.fire(runtime, order.id, "deliver", caller=seller.member)
    await orders.fire(runtime, order.id, "accept", caller=buyer.member)
    return order.id


def review_path(order_id: int) -> str:
    return f"/orders/{order_id}/reviews"


async def review(client, order_id, author, rating=5, text="Great work, thank you!"):
    response = await client.post(
        review_path(order_id), json={"rating": rating, "text": text}, headers=author.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


EMPTY = {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}


def distribution(**counts: int) -> dict[str, int]:
    return {**EMPTY, **{k.removeprefix("s"): v for k, v in counts.items()}}


# --------------------------------------------------------------------------------------
# Posting
# --------------------------------------------------------------------------------------


async def test_post_review_buyer_and_seller_review_each_other(client, runtime, people, recorder, clock):
    operator, buyer, seller = people
    order_id = await completed_order(runtime, buyer, seller)

    by_buyer = await client.post(
        review_path(order_id), json={"rating": 5, "text": "  Fast and friendly.  "}, headers=buyer.headers
    )
    assert by_buyer.status_code == 201, by_buyer.text
    body = by_buyer.json()
    assert {k: body[k] for k in ("order_id", "author_id", "author_name", "author_role", "subject_id")} == {
        "order_id": order_id,
        "author_id": buyer.id,
        "author_name": "Bea Buyer",
        "author_role": "buyer",
        "subject_id": seller.id,
    }
    assert (body["rating"], body["text"], body["hidden"], body["listing_id"]) == (
        5,
        "Fast and friendly.",
        False,
        None,
    )
    assert body["created_at"].startswith("2026-01-05T09:00:00")

    clock.advance(days=2)
    by_seller = await review(client, order_id, seller, rating=4, text="Clear brief, paid on time.")
    assert (by_seller["author_role"], by_seller["subject_id"]) == ("seller", buyer.id)

    for viewer in (buyer, seller, operator):
        listed = await client.get(review_path(order_id), headers=viewer.headers)
        assert listed.status_code == 200, listed.text
        assert [(r["author_id"], r["rating"]) for r in listed.json()["items"]] == [
            (buyer.id, 5),
            (seller.id, 4),
        ]

    posted = recorder.named("review.")
    assert [(e.name, e.subject, e.actor_id) for e in posted] == [
        ("review.posted", f"review:{body['id']}", buyer.id),
        ("review.posted", f"review:{by_seller['id']}", seller.id),
    ]
    assert posted[0].data == {
        "review_id": body["id"],
        "order_id": order_id,
        "subject_member_id": seller.id,
        "author_role": "buyer",
        "rating": 5,
        "listing_id": None,
    }


async def test_post_review_second_time_gets_conflict(client, runtime, people, problem):
    _, buyer, seller = people
    order_id = await completed_order(runtime, buyer, seller)
    await review(client, order_id, buyer, rating=3)
    again = await client.post(
        review_path(order_id), json={"rating": 5, "text": "Changed my mind"}, headers=buyer.headers
    )
    problem(again, 409, "already_reviewed")
    reviews = (await client.get(review_path(order_id), headers=buyer.headers)).json()["items"]
    assert [r["rating"] for r in reviews] == [3]


async def test_post_review_bad_input_is_refused(client, runtime, people, problem):
    _, buyer, seller = people
    order_id = await completed_order(runtime, buyer, seller)
    path = review_path(order_id)
    for rating in (0, 6, -1):
        response = await client.post(path, json={"rating": rating, "text": "ok"}, headers=buyer.headers)
        problem(response, 422, "validation_error", fields={"rating"})
    response = await client.post(path, json={"rating": "five", "text": "ok"}, headers=buyer.headers)
    problem(response, 422, "validation_error", fields={"rating"})
    response = await client.post(path, json={"rating": 4.5, "text": "ok"}, headers=buyer.headers)
    problem(response, 422, "validation_error", fields={"rating"})
    response = await client.post(path, json={"rating": 4, "text": "x" * 2001}, headers=buyer.headers)
    body = problem(response, 422, "validation_error", fields={"text"})
    assert "at most 2000 characters" in body["detail"]
    for text in ("", "   \n "):
        response = await client.post(path, json={"rating": 4, "text": text}, headers=buyer.headers)
        problem(response, 422, "validation_error", fields={"text"})
    response = await client.post(path, json={"rating": 4, "text": "bell \x07"}, headers=buyer.headers)
    problem(response, 422, "validation_error", fields={"text"})
    response = await client.post(path, json={"rating": 4}, headers=buyer.headers)
    problem(response, 422, "validation_error", fields={"text"})
    response = await client.post(path, json={"rating": 4, "text": "ok", "stars": 5}, headers=buyer.headers)
    problem(response, 422, "validation_error", fields={"stars"})
    # Exactly the limit is fine; nothing above was stored.
    assert (await review(client, order_id, buyer, rating=4, text="y" * 2000))["text"] == "y" * 2000
    reviews = (await client.get(path, headers=buyer.headers)).json()["items"]
    assert len(reviews) == 1


class TestShortTexts:
    @pytest.fixture
    def site_config(self):
        return {"reviews": {"max_text_length": 20}}

    async def test_post_review_text_over_site_limit_is_refused(self, client, runtime, people, problem):
        _, buyer, seller = people
        order_id = await completed_order(runtime, buyer, seller)
        response = await client.post(
            review_path(order_id), json={"rating": 4, "text": "x" * 21}, headers=buyer.headers
        )
        body = problem(response, 422, "validation_error", fields={"text"})
        assert body["errors"][0]["message"] == "must be at most 20 characters (it has 21)"
        await review(client, order_id, buyer, text="x" * 20)


async def test_post_review_before_completion_gets_conflict(client, runtime, people, problem):
    _, buyer, seller = people
    order = await new_order(runtime, buyer, seller)
    response = await client.post(
        review_path(order.id), json={"rating": 5, "text": "Soon"}, headers=buyer.headers
    )
    body = problem(response, 409, "order_not_reviewable")
    assert body["detail"] == f"order {order.id} is in_progress; reviews open when it is completed"
    await orders.fire(runtime, order.id, "deliver", caller=seller.member)
    response = await client.post(
        review_path(order.id), json={"rating": 5, "text": "Soon"}, headers=seller.headers
    )
    problem(response, 409, "order_not_reviewable")
    assert (await client.get(review_path(order.id), headers=buyer.headers)).json()["items"] == []


async def test_post_review_of_cancelled_order_gets_conflict(client, runtime, people, problem):
    _, buyer, seller = people
    order = await new_order(runtime, buyer, seller)
    await orders.fire(runtime, order.id, "cancel", caller=buyer.member)
    response = await client.post(
        review_path(order.id), json={"rating": 1, "text": "Bad"}, headers=buyer.headers
    )
    body = problem(response, 409, "order_not_reviewable")
    assert "is cancelled" in body["detail"]


async def test_post_review_after_window_gets_conflict(client, runtime, people, clock, problem):
    _, buyer, seller = people
    order_id = await completed_order(runtime, buyer, seller)  # completed 2026-01-05 09:00
    clock.advance(days=30)  # the last instant of the 30-day window
    await review(client, order_id, buyer)
    clock.advance(seconds=1)
    response = await client.post(
        review_path(order_id), json={"rating": 5, "text": "Late"}, headers=seller.headers
    )
    body = problem(response, 409, "review_window_closed")
    assert body["detail"] == (
        f"the review window of order {order_id} closed on 2026-02-04 (30 days after it was completed)"
    )
    assert body["extra"]["closed_at"].startswith("2026-02-04T09:00:00")


async def test_post_review_by_stranger_is_not_found(client, runtime, people, make_member, problem):
    operator, buyer, seller = people
    stranger = await make_member()
    order_id = await completed_order(runtime, buyer, seller)
    response = await client.post(
        review_path(order_id), json={"rating": 1, "text": "Hm"}, headers=stranger.headers
    )
    problem(response, 404, "not_found")
    problem(await client.get(review_path(order_id), headers=stranger.headers), 404, "not_found")
    problem(
        await client.post(review_path(99999), json={"rating": 1, "text": "Hm"}, headers=buyer.headers),
        404,
        "not_found",
    )
    # An operator reads an order's reviews but is no party to review it.
    response = await client.post(
        review_path(order_id), json={"rating": 1, "text": "Hm"}, headers=operator.headers
    )
    problem(response, 403, "forbidden")
    # Anonymous callers need a token.
    response = await client.post(review_path(order_id), json={"rating": 1, "text": "Hm"})
    problem(response, 401, "unauthenticated")


async def test_concurrent_double_review_has_one_winner(client, runtime, people):
    _, buyer, seller = people
    order_id = await completed_order(runtime, buyer, seller)
    responses = await asyncio.gather(
        *(
            client.post(review_path(order_id), json={"rating": r, "text": f"Try {r}"}, headers=buyer.headers)
            for r in (1, 2, 3, 4, 5)
        )
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [201, 409, 409, 409, 409], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"already_reviewed"}
    reviews = (await client.get(review_path(order_id), headers=buyer.headers)).json()["items"]
    assert len(reviews) == 1


# --------------------------------------------------------------------------------------
# Summaries and public lists
# --------------------------------------------------------------------------------------


def test_average_rounds_half_up_to_two_decimals():
    assert format_average(0, 0) is None
    assert format_average(9, 2) == "4.50"
    assert format_average(14, 3) == "4.67"
    assert format_average(13, 3) == "4.33"
    assert format_average(33, 8) == "4.13"  # 4.125: half up, not to even
    assert format_average(5, 1) == "5.00"


async def test_member_rating_summaries_are_exact(client, runtime, people, make_member):
    _, buyer, seller = people
    other_buyer = await make_member()
    first = await completed_order(runtime, buyer, seller)
    second = await completed_order(runtime, other_buyer, seller)
    await review(client, first, buyer, rating=5)
    await review(client, second, other_buyer, rating=4)
    await review(client, first, seller, rating=2, text="Slow to answer.")

    rating = await client.get(f"/members/{seller.id}/rating")  # public: no token
    assert rating.status_code == 200, rating.text
    assert rating.json() == {
        "member_id": seller.id,
        "as_seller": {"average": "4.50", "count": 2, "distribution": distribution(s4=1, s5=1)},
        "as_buyer": {"average": None, "count": 0, "distribution": EMPTY},
    }
    buyer_rating = (await client.get(f"/members/{buyer.id}/rating")).json()
    assert buyer_rating["as_buyer"] == {"average": "2.00", "count": 1, "distribution": distribution(s2=1)}
    assert buyer_rating["as_seller"]["count"] == 0

    page = await client.get(f"/members/{seller.id}/reviews")
    assert page.status_code == 200, page.text
    body = page.json()
    assert [(r["order_id"], r["rating"]) for r in body["items"]] == [(second, 4), (first, 5)]  # newest first
    assert body["rating"]["as_seller"]["average"] == "4.50"
    assert body["next_cursor"] is None


async def test_member_reviews_paginate_and_filter_by_role(client, runtime, people, make_member, problem):
    _, buyer, seller = people
    ids = []
    for rating in (3, 4, 5):
        other = await make_member()
        order_id = await completed_order(runtime, other, seller)
        ids.append((await review(client, order_id, other, rating=rating))["id"])
    # The seller also bought something and was reviewed as a buyer.
    as_buyer = await completed_order(runtime, seller, buyer)
    ids.append((await review(client, as_buyer, buyer, rating=1))["id"])

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/members/{seller.id}/reviews", params=params)).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    as_seller = (await client.get(f"/members/{seller.id}/reviews", params={"role": "seller"})).json()
    assert [r["id"] for r in as_seller["items"]] == ids[2::-1]
    buyer_side = (await client.get(f"/members/{seller.id}/reviews", params={"role": "buyer"})).json()
    assert [r["id"] for r in buyer_side["items"]] == [ids[3]]
    problem(
        await client.get(f"/members/{seller.id}/reviews", params={"cursor": "bogus"}), 422, "validation_error"
    )
    problem(await client.get("/members/999999/reviews"), 404, "not_found")
    problem(await client.get("/members/999999/rating"), 404, "not_found")


async def test_listing_reviews_and_rating(client, runtime, people, make_member, problem):
    operator, buyer, seller = people
    await make_categories(client, operator)
    listing = await publish(client, seller, operator)
    other_listing = await publish(client, seller, operator, title="Another logo")
    assert listing["rating"] == {"average": None, "count": 0}

    first = await completed_order(runtime, buyer, seller, listing["id"])
    other_buyer = await make_member()
    second = await completed_order(runtime, other_buyer, seller, listing["id"])
    third = await completed_order(runtime, buyer, seller, other_listing["id"])
    one = await review(client, first, buyer, rating=5)
    assert one["listing_id"] == listing["id"]
    two = await review(client, second, other_buyer, rating=2)
    await review(client, third, buyer, rating=4)
    await review(
        client, first, seller, rating=1, text="Never answered."
    )  # about the buyer: not the listing's

    page = await client.get(f"/listings/{listing['id']}/reviews")
    assert page.status_code == 200, page.text
    body = page.json()
    assert [r["id"] for r in body["items"]] == [two["id"], one["id"]]
    assert body["rating"] == {"average": "3.50", "count": 2, "distribution": distribution(s2=1, s5=1)}

    shown = (await client.get(f"/listings/{listing['id']}")).json()
    assert shown["rating"] == {"average": "3.50", "count": 2}
    assert shown["seller"]["rating"] == {"average": "3.67", "count": 3}  # 5 + 2 + 4
    problem(await client.get("/listings/999999/reviews"), 404, "not_found")


# --------------------------------------------------------------------------------------
# Moderation
# --------------------------------------------------------------------------------------


async def test_hide_review_drops_it_from_summaries_and_public_lists(
    client, runtime, people, recorder, problem
):
    operator, buyer, seller = people
    await make_categories(client, operator)
    listing = await publish(client, seller, operator)
    first = await completed_order(runtime, buyer, seller, listing["id"])
    second = await completed_order(runtime, buyer, seller, listing["id"])
    kept = await review(client, first, buyer, rating=5)
    rude = await review(client, second, buyer, rating=1, text="Terrible person!!!")

    # Members may not moderate; the reason is required; unknown reviews are 404.
    hide_path = f"/operator/reviews/{rude['id']}/hide"
    problem(await client.post(hide_path, json={"reason": "abusive"}, headers=buyer.headers), 403, "forbidden")
    problem(
        await client.post(hide_path, json={"reason": ""}, headers=operator.headers), 422, "validation_error"
    )
    problem(await client.post(hide_path, json={}, headers=operator.headers), 422, "validation_error")
    problem(
        await client.post("/operator/reviews/999999/hide", json={"reason": "x"}, headers=operator.headers),
        404,
        "not_found",
    )

    hidden = await client.post(hide_path, json={"reason": "insults, not feedback"}, headers=operator.headers)
    assert hidden.status_code == 200, hidden.text
    assert (hidden.json()["hidden"], hidden.json()["hidden_reason"], hidden.json()["hidden_by"]) == (
        True,
        "insults, not feedback",
        operator.id,
    )
    problem(await client.post(hide_path, json={"reason": "again"}, headers=operator.headers), 409, "conflict")

    rating = (await client.get(f"/members/{seller.id}/rating")).json()["as_seller"]
    assert rating == {"average": "5.00", "count": 1, "distribution": distribution(s5=1)}
    public = (await client.get(f"/members/{seller.id}/reviews")).json()
    assert [r["id"] for r in public["items"]] == [kept["id"]]
    listing_page = (await client.get(f"/listings/{listing['id']}/reviews")).json()
    assert [r["id"] for r in listing_page["items"]] == [kept["id"]]
    assert listing_page["rating"]["count"] == 1
    shown = (await client.get(f"/listings/{listing['id']}")).json()
    assert shown["seller"]["rating"] == {"average": "5.00", "count": 1}

    # The parties still see it on the order, marked hidden with the reason.
    party_view = (await client.get(review_path(second), headers=seller.headers)).json()["items"]
    assert [(r["hidden"], r["hidden_reason"], r["hidden_by"]) for r in party_view] == [
        (True, "insults, not feedback", None)
    ]
    operator_view = (await client.get(review_path(second), headers=operator.headers)).json()["items"]
    assert operator_view[0]["hidden_by"] == operator.id

    queue = await client.get("/operator/reviews", params={"hidden": "true"}, headers=operator.headers)
    assert [r["id"] for r in queue.json()["items"]] == [rude["id"]]
    visible = await client.get("/operator/reviews", params={"hidden": "false"}, headers=operator.headers)
    assert [r["id"] for r in visible.json()["items"]] == [kept["id"]]
    problem(await client.get("/operator/reviews", headers=buyer.headers), 403, "forbidden")
    one = await client.get(f"/operator/reviews/{rude['id']}", headers=operator.headers)
    assert one.json()["hidden_reason"] == "insults, not feedback"

    # Unhiding brings it back everywhere at once.
    unhide_path = f"/operator/reviews/{rude['id']}/unhide"
    problem(await client.post(unhide_path, headers=seller.headers), 403, "forbidden")
    shown_again = await client.post(unhide_path, headers=operator.headers)
    assert shown_again.status_code == 200, shown_again.text
    assert (shown_again.json()["hidden"], shown_again.json()["hidden_reason"]) == (False, None)
    problem(await client.post(unhide_path, headers=operator.headers), 409, "conflict")
    rating = (await client.get(f"/members/{seller.id}/rating")).json()["as_seller"]
    assert (rating["average"], rating["count"]) == ("3.00", 2)

    moderation = [
        (e.name, e.actor_id, e.data) for e in recorder.named("review.") if e.name != "review.posted"
    ]
    assert moderation == [
        (
            "review.hidden",
            operator.id,
            {
                "review_id": rude["id"],
                "order_id": second,
                "subject_member_id": seller.id,
                "author_id": buyer.id,
                "reason": "insults, not feedback",
            },
        ),
        (
            "review.unhidden",
            operator.id,
            {
                "review_id": rude["id"],
                "order_id": second,
                "subject_member_id": seller.id,
                "author_id": buyer.id,
            },
        ),
    ]


# --------------------------------------------------------------------------------------
# Search by rating
# --------------------------------------------------------------------------------------


async def test_search_sort_rating_orders_listings_by_seller_rating(
    client, runtime, people, make_member, clock
):
    operator, buyer, _ = people
    await make_categories(client, operator)
    sellers = {
        name: await make_member(display_name=name) for name in ("top", "top_once", "middle", "new", "low")
    }
    listings = {}
    for name, seller in sellers.items():
        listings[name] = await publish(client, seller, operator, title=f"Logo by {name}")
        clock.advance(minutes=1)
    ratings = {"top": [5, 5], "top_once": [5], "middle": [4, 3], "low": [1]}
    for name, stars in ratings.items():
        for rating in stars:
            order_id = await completed_order(runtime, buyer, sellers[name], listings[name]["id"])
            await review(client, order_id, buyer, rating=rating)
    # Reviews of a seller as a buyer do not count for their listings.
    order_id = await completed_order(runtime, sellers["new"], buyer)
    await review(client, order_id, buyer, rating=5)

    expected = ["top", "top_once", "middle", "low", "new"]  # equal averages: more ratings first
    response = await client.get("/listings", params={"sort": "rating"})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["id"] for i in items] == [listings[n]["id"] for n in expected]
    assert [i["seller"]["rating"]["average"] for i in items] == ["5.00", "5.00", "3.50", "1.00", None]

    # The keyset cursor walks the same order one listing at a time.
    seen, cursor = [], None
    while True:
        params = {"sort": "rating", "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/listings", params=params)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [listings[n]["id"] for n in expected]

    # Unrated sellers tie: the newest listing first.
    newer = await publish(client, sellers["new"], operator, title="Another logo by new")
    ranked = [i["id"] for i in (await client.get("/listings", params={"sort": "rating"})).json()["items"]]
    assert ranked[-2:] == [newer["id"], listings["new"]["id"]]

    # A hidden review no longer counts: "low" has no visible rating left.
    low_review = (await client.get(f"/members/{sellers['low'].id}/reviews")).json()["items"][0]
    await client.post(
        f"/operator/reviews/{low_review['id']}/hide", json={"reason": "spam"}, headers=operator.headers
    )
    ranked = [i["id"] for i in (await client.get("/listings", params={"sort": "rating"})).json()["items"]]
    assert ranked[3:] == [newer["id"], listings["low"]["id"], listings["new"]["id"]]


async def listing_ratings(runtime, *listing_ids: int) -> list[int]:
    from agorakit.catalog.tables import Listing

    rows = await Listing.select(Listing.id, Listing.seller_rating).where(Listing.id.is_in(list(listing_ids)))
    by_id = {r["id"]: r["seller_rating"] for r in rows}
    return [by_id[i] for i in listing_ids]


async def test_the_stored_seller_rating_follows_every_review_change(client, runtime, people, make_member):
    """``sort=rating`` reads the seller's rating stored on each listing: posting, hiding
    and showing a buyer's review again change it for every listing of the seller, drafts
    included, and a listing created later starts with it."""
    operator, buyer, seller = people
    await make_categories(client, operator)
    rival = await publish(client, await make_member(), operator, title="Rival logo")
    published = await publish(client, seller, operator, title="Logo")
    draft = (await client.post("/listings", json=gig(title="Draft logo"), headers=seller.headers)).json()
    assert await listing_ratings(runtime, published["id"], draft["id"], rival["id"]) == [-1, -1, -1]

    first = await review(
        client, await completed_order(runtime, buyer, seller, published["id"]), buyer, rating=4
    )
    # average 4.00 from one rating: 4 * 10^6 * 10^5 + 1
    assert await listing_ratings(runtime, published["id"], draft["id"]) == [400_000_000_001] * 2
    await review(client, await completed_order(runtime, buyer, seller), buyer, rating=3)
    # 3.50 from two: floor(7 * 10^6 / 2) * 10^5 + 2
    assert await listing_ratings(runtime, published["id"], draft["id"]) == [350_000_000_002] * 2
    # The seller's review of their buyer is about the buyer, who sells nothing here.
    order_id = await completed_order(runtime, buyer, seller)
    await review(client, order_id, seller, rating=1)
    assert await listing_ratings(runtime, published["id"], rival["id"]) == [350_000_000_002, -1]

    hidden = await client.post(
        f"/operator/reviews/{first['id']}/hide", json={"reason": "spam"}, headers=operator.headers
    )
    assert hidden.status_code == 200, hidden.text
    assert await listing_ratings(runtime, published["id"]) == [300_000_000_001]
    later = (await client.post("/listings", json=gig(title="Later logo"), headers=seller.headers)).json()
    assert await listing_ratings(runtime, later["id"]) == [300_000_000_001]
    shown = await client.post(f"/operator/reviews/{first['id']}/unhide", headers=operator.headers)
    assert shown.status_code == 200, shown.text
    assert await listing_ratings(runtime, published["id"], later["id"]) == [350_000_000_002] * 2
    ranked = [i["id"] for i in (await client.get("/listings", params={"sort": "rating"})).json()["items"]]
    assert ranked == [published["id"], rival["id"]]


async def test_the_migration_fills_the_same_seller_rating_the_reviews_store(client, runtime, people):
    """Listings that existed before the rating was stored get it from the reviews area's
    migration: the same key, computed for every listing at once."""
    import importlib

    from agorakit.catalog.tables import Listing

    fill = importlib.import_module(
        "agorakit.reviews.piccolo_migrations.core_reviews_2026_11_30t14_00_00_000000"
    ).FILL
    operator, buyer, seller = people
    await make_categories(client, operator)
    rated = await publish(client, seller, operator, title="Logo")
    for stars in (5, 4, 4):
        await review(client, await completed_order(runtime, buyer, seller), buyer, rating=stars)
    unrated = await publish(client, buyer, operator, title="Another logo")
    stored = await listing_ratings(runtime, rated["id"], unrated["id"])
    assert stored == [433_333_300_003, -1]  # floor(13 * 10^6 / 3) * 10^5 + 3
    await Listing.update({Listing.seller_rating: -1}, force=True)  # as the new column starts
    await runtime.db.engine.run_ddl(fill)
    assert await listing_ratings(runtime, rated["id"], unrated["id"]) == stored


@pytest.mark.postgres_only("concurrent transactions about one seller")
async def test_reviews_posted_at_once_all_count_in_the_stored_rating(client, runtime, make_member, people):
    """Each review recomputes the seller's key from the reviews; without the lock on the
    seller two concurrent ones each computed it without the other's review (read
    committed), and the last to commit wrote a key missing one of them."""
    operator, _, seller = people
    await make_categories(client, operator)
    listing = await publish(client, seller, operator, title="Logo")
    buyers = [await make_member() for _ in range(8)]
    orders_ = [await completed_order(runtime, b, seller) for b in buyers]
    stars = [5, 4, 3, 5, 1, 2, 5, 4]
    responses = await asyncio.gather(
        *(
            client.post(review_path(o), json={"rating": r, "text": "Fine."}, headers=b.headers)
            for o, b, r in zip(orders_, buyers, stars, strict=True)
        )
    )
    assert [r.status_code for r in responses] == [201] * 8
    # floor(29 * 10^6 / 8) * 10^5 + 8
    assert await listing_ratings(runtime, listing["id"]) == [362_500_000_008]


# --------------------------------------------------------------------------------------
# The summaries stored on listings
# --------------------------------------------------------------------------------------


async def stored_summaries(*listing_ids: int) -> list[tuple[int, int, int, int]]:
    """(seller_rating_count, seller_rating_sum, rating_count, rating_sum) of each listing."""
    from agorakit.catalog.tables import Listing

    rows = await Listing.select(
        Listing.id,
        Listing.seller_rating_count,
        Listing.seller_rating_sum,
        Listing.rating_count,
        Listing.rating_sum,
    ).where(Listing.id.is_in(list(listing_ids)))
    by_id = {
        r["id"]: (r["seller_rating_count"], r["seller_rating_sum"], r["rating_count"], r["rating_sum"])
        for r in rows
    }
    return [by_id[i] for i in listing_ids]


async def shown_ratings(client, listing_id: int) -> tuple[dict, dict]:
    """(seller.rating, rating) of a listing, as browsing shows it."""
    items = (await client.get("/listings", params={"limit": 100})).json()["items"]
    found = next(item for item in items if item["id"] == listing_id)
    return found["seller"]["rating"], found["rating"]


async def test_listing_views_show_the_summaries_stored_on_the_row(client, runtime, people, make_member):
    """Browsing and a listing's page read the seller's and the listing's summaries from
    the listing's row: posting, hiding and showing a buyer's review again change both in
    the same transaction, on every listing of the seller (a draft too, a later one from
    the start), and they always equal what the reviews' own summaries say."""
    operator, buyer, seller = people
    await make_categories(client, operator)
    logo = await publish(client, seller, operator, title="Logo")
    banner = await publish(client, seller, operator, title="Banner")
    draft = (await client.post("/listings", json=gig(title="Draft"), headers=seller.headers)).json()
    assert await stored_summaries(logo["id"], banner["id"], draft["id"]) == [(0, 0, 0, 0)] * 3
    assert await shown_ratings(client, logo["id"]) == (
        {"average": None, "count": 0},
        {"average": None, "count": 0},
    )

    first = await review(client, await completed_order(runtime, buyer, seller, logo["id"]), buyer, rating=5)
    await review(client, await completed_order(runtime, buyer, seller, logo["id"]), buyer, rating=4)
    await review(client, await completed_order(runtime, buyer, seller, banner["id"]), buyer, rating=2)
    await review(client, await completed_order(runtime, buyer, seller), buyer, rating=3)  # no listing
    # the seller's review of their buyer counts for neither
    await review(client, await completed_order(runtime, buyer, seller, logo["id"]), seller, rating=1)
    assert await stored_summaries(logo["id"], banner["id"], draft["id"]) == [
        (4, 14, 2, 9),
        (4, 14, 1, 2),
        (4, 14, 0, 0),
    ]
    assert await shown_ratings(client, logo["id"]) == (
        {"average": "3.50", "count": 4},
        {"average": "4.50", "count": 2},
    )
    assert await shown_ratings(client, banner["id"]) == (
        {"average": "3.50", "count": 4},
        {"average": "2.00", "count": 1},
    )
    page = (await client.get(f"/listings/{logo['id']}")).json()
    assert (page["seller"]["rating"], page["rating"]) == (
        {"average": "3.50", "count": 4},
        {"average": "4.50", "count": 2},
    )
    member = (await client.get(f"/members/{seller.id}/rating")).json()["as_seller"]
    assert (member["average"], member["count"]) == ("3.50", 4)
    listing = (await client.get(f"/listings/{logo['id']}/reviews")).json()["rating"]
    assert (listing["average"], listing["count"]) == ("4.50", 2)

    hidden = await client.post(
        f"/operator/reviews/{first['id']}/hide", json={"reason": "spam"}, headers=operator.headers
    )
    assert hidden.status_code == 200, hidden.text
    assert await stored_summaries(logo["id"], banner["id"]) == [(3, 9, 1, 4), (3, 9, 1, 2)]
    assert await shown_ratings(client, logo["id"]) == (
        {"average": "3.00", "count": 3},
        {"average": "4.00", "count": 1},
    )
    later = (await client.post("/listings", json=gig(title="Later"), headers=seller.headers)).json()
    assert await stored_summaries(later["id"]) == [(3, 9, 0, 0)]
    again = await client.post(
        f"/operator/reviews/{first['id']}/hide", json={"reason": "spam"}, headers=operator.headers
    )
    assert again.status_code == 409  # changes nothing
    assert await stored_summaries(logo["id"]) == [(3, 9, 1, 4)]
    shown = await client.post(f"/operator/reviews/{first['id']}/unhide", headers=operator.headers)
    assert shown.status_code == 200, shown.text
    assert await stored_summaries(logo["id"], later["id"]) == [(4, 14, 2, 9), (4, 14, 0, 0)]
    # another seller's listings are untouched
    rival = await publish(client, await make_member(), operator, title="Rival")
    assert await stored_summaries(rival["id"]) == [(0, 0, 0, 0)]


async def test_the_migration_fills_the_summaries_the_reviews_store(client, runtime, people):
    """Listings that existed before the summaries were stored get them from the reviews
    area's migration: the same figures, for every listing at once."""
    import importlib

    from agorakit.catalog.tables import Listing

    fill = importlib.import_module(
        "agorakit.reviews.piccolo_migrations.core_reviews_2026_12_07t09_00_00_000000"
    ).FILL
    operator, buyer, seller = people
    await make_categories(client, operator)
    rated = await publish(client, seller, operator, title="Logo")
    other = await publish(client, seller, operator, title="Banner")
    for stars in (5, 4, 4):
        await review(client, await completed_order(runtime, buyer, seller, rated["id"]), buyer, rating=stars)
    hidden = await review(client, await completed_order(runtime, buyer, seller, rated["id"]), buyer, rating=1)
    await client.post(
        f"/operator/reviews/{hidden['id']}/hide", json={"reason": "spam"}, headers=operator.headers
    )
    unrated = await publish(client, buyer, operator, title="Another logo")
    stored = await stored_summaries(rated["id"], other["id"], unrated["id"])
    assert stored == [(3, 13, 3, 13), (3, 13, 0, 0), (0, 0, 0, 0)]
    zero = {
        Listing.seller_rating_count: 0,
        Listing.seller_rating_sum: 0,
        Listing.rating_count: 0,
        Listing.rating_sum: 0,
    }
    await Listing.update(zero, force=True)  # as the new columns start
    for statement in fill:
        await runtime.db.engine.run_ddl(statement)
    assert await stored_summaries(rated["id"], other["id"], unrated["id"]) == stored


@pytest.mark.postgres_only("concurrent transactions about one listing and several sellers")
async def test_reviews_of_one_listing_posted_at_once_all_count(client, runtime, make_member, people):
    """A listing's reviews may be about several sellers (a campaign's workers): no lock on
    one seller orders their transactions, and each adds its rating to the listing's row;
    eight posted at once all count, as each seller's own summary does."""
    operator, _, owner = people
    await make_categories(client, operator)
    listing = await publish(client, owner, operator, title="Logo")
    buyers = [await make_member() for _ in range(8)]
    sellers = [await make_member() for _ in range(8)]
    orders_ = [
        await completed_order(runtime, b, s, listing["id"]) for b, s in zip(buyers, sellers, strict=True)
    ]
    stars = [5, 4, 3, 5, 1, 2, 5, 4]
    responses = await asyncio.gather(
        *(
            client.post(review_path(o), json={"rating": r, "text": "Fine."}, headers=b.headers)
            for o, b, r in zip(orders_, buyers, stars, strict=True)
        )
    )
    assert [r.status_code for r in responses] == [201] * 8
    assert await stored_summaries(listing["id"]) == [(0, 0, 8, 29)]
    assert await shown_ratings(client, listing["id"]) == (
        {"average": None, "count": 0},
        {"average": "3.63", "count": 8},
    )


# --------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------


async def test_review_posted_notifies_the_reviewed_member(client, runtime, people, recorder):
    from agorakit.reviews import plugin

    _, buyer, seller = people
    order_id = await completed_order(runtime, buyer, seller)
    await review(client, order_id, buyer, rating=4, text="Good work. " * 40)
    event = recorder.named("review.posted")[0]
    notices = await plugin.agorakit_notify(event=event, runtime=runtime)
    assert len(notices) == 1
    notice = notices[0]
    assert (notice.member_id, notice.category, notice.template, notice.link) == (
        seller.id,
        "reviews",
        "review_received",
        f"/orders/{order_id}",
    )
    assert {k: notice.context[k] for k in ("rating", "author", "author_role", "order")} == {
        "rating": 4,
        "author": "Bea Buyer",
        "author_role": "buyer",
        "order": order_id,
    }
    assert notice.context["text"].endswith("…") and len(notice.context["text"]) <= 200
    other = recorder.named("order.")[0]
    assert await plugin.agorakit_notify(event=other, runtime=runtime) is None


def test_excerpt_cuts_at_a_word():
    assert excerpt("short  text\n") == "short text"
    assert excerpt("one two three four", length=10) == "one two…"
