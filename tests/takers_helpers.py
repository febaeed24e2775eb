"""A test plugin for listings only qualified members take, and orders without a seller.

``request`` listings (``takers="qualified"``, ``visible_to="eligible"``, published
without review) are buyers' paid requests, each one order of the ``testrequest`` process
that a qualified seller locks as ``candidate``; ``task`` listings are taken by anyone
(orders of the ``testtask`` process, grabbed from ``waiting``).  Helpers build the
categories (games > valorant, games > lol; design), qualifications, listings and orders.
"""

from __future__ import annotations

from typing import Any

import msgspec

from agorakit import hookimpl
from agorakit import orders as orders_api
from agorakit.catalog import CreateListing, ListingKind, create_listing, submit_listing
from agorakit.money import Money
from agorakit.orders import ItemIn, Process, Transition


class RequestAttributes(msgspec.Struct, forbid_unknown_fields=True):
    rank: str = ""


def request_process() -> Process:
    return Process(
        name="testrequest",
        version=1,
        states=("open", "locked", "delivered", "cancelled"),
        initial="open",
        final=("delivered", "cancelled"),
        transitions=(
            Transition(name="lock", sources=("open",), target="locked", actors=("candidate",)),
            Transition(name="deliver", sources=("locked",), target="delivered", actors=("seller",)),
            Transition(name="cancel", sources=("open",), target="cancelled", actors=("buyer", "operator")),
        ),
    )


def task_process() -> Process:
    return Process(
        name="testtask",
        version=1,
        states=("waiting", "grabbed", "done"),
        initial="waiting",
        final=("done",),
        transitions=(
            Transition(name="grab", sources=("waiting",), target="grabbed", actors=("candidate",)),
            Transition(name="finish", sources=("grabbed",), target="done", actors=("seller",)),
        ),
    )


class RequestPlugin:
    """The ``request`` and ``task`` kinds, their processes, and vetoes by member and listing."""

    def __init__(self) -> None:
        #: (member id, listing id or None for every listing) -> reason
        self.vetoes: dict[tuple[int, int | None], str] = {}
        self.asked: list[tuple[int, int]] = []  # (member id, listing id) the veto hook saw

    @hookimpl
    def agorakit_listing_kinds(self):
        return [
            ListingKind(
                name="request",
                attributes=RequestAttributes,
                review_required=False,
                charge_fees=False,
                visible_to="eligible",
                takers="qualified",
            ),
            ListingKind(name="task", attributes=RequestAttributes, review_required=False, charge_fees=False),
        ]

    @hookimpl
    def agorakit_processes(self, runtime):
        return [request_process(), task_process()]

    @hookimpl
    def agorakit_can_take(self, listing, member):
        self.asked.append((member.id, listing.id))
        return self.vetoes.get((member.id, listing.id)) or self.vetoes.get((member.id, None))


CATEGORIES = [
    ("games", "Games", None),
    ("valorant", "Valorant", "games"),
    ("lol", "League of Legends", "games"),
    ("design", "Design", None),
]


async def make_categories(client, operator) -> None:
    for slug, name, parent in CATEGORIES:
        response = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert response.status_code == 201, response.text


async def qualify(client, operator, member, category: str, *, approve: bool = True) -> None:
    """``member`` applies for ``category``; the operator approves (or rejects) it."""
    applied = await client.post("/qualifications", json={"category": category}, headers=member.headers)
    assert applied.status_code == 201, applied.text
    decision = "approve" if approve else "reject"
    decided = await client.post(
        f"/operator/qualifications/{applied.json()['id']}/{decision}",
        json=None if approve else {"reason": "no proof of rank"},
        headers=operator.headers,
    )
    assert decided.status_code == 200, decided.text


async def listing(runtime, owner, category: str, *, kind: str = "request", cents: int = 2000) -> Any:
    """A published listing of ``owner`` (kinds without review publish on submit)."""
    body = CreateListing(
        kind=kind,
        title=f"Boost my {category} account",
        description="From Silver to Gold within a week.",
        price=Money(amount=f"{cents // 100}.{cents % 100:02d}", currency="USD"),
        category=category,
    )
    created = await create_listing(runtime, body, owner=owner.member)
    return await submit_listing(runtime, created.id, owner=owner.member)


async def request(runtime, buyer, category: str, *, cents: int = 2000, kind: str = "request") -> Any:
    """A buyer's published request listing and its order without a seller: the order."""
    posted = await listing(runtime, buyer, category, kind=kind, cents=cents)
    return await orders_api.create_order(
        runtime,
        process="testrequest" if kind == "request" else "testtask",
        buyer_id=buyer.id,
        currency="USD",
        items=[ItemIn(description=posted.title, unit_price=cents)],
        listing_id=posted.id,
    )
