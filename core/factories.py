"""How a model plugin makes its listings and orders for tests: the testing kit's hook.

``agorakit.testing`` gives a site's and a plugin's tests ``make_listing`` and
``make_order`` (``docs/testing.md``).  The core knows no model, so each kind's plugin
says how a listing of its kind is published and how an order of it is driven to a
state, by implementing :func:`agorakit_test_factories`.  The factories drive the
plugin's real routes through the test's HTTP client (or its declared services), with
the helpers of the :class:`Kit` they are given; the kit resolves ``state="paid"`` and
refuses a state the kind does not list before a factory runs.

Plugins import these names from here: ``agorakit.testing`` sits above the plugins and
they may not import it.  The reference of the hook is ``docs/hooks.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from agorakit import hookspec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datetime import datetime

    from agorakit.runtime import Runtime


class Login(Protocol):
    """A member logged in for a test (``agorakit.testing.MemberLogin``)."""

    member: Any
    token: str
    password: str
    #: ``{"Authorization": "Bearer ..."}``
    headers: dict[str, str]

    @property
    def id(self) -> int: ...


class Kit(Protocol):
    """What a factory is given: the test's site, its client and the kit's helpers."""

    runtime: Runtime
    #: the test's ``httpx.AsyncClient``, calling the app in-process
    client: Any
    #: the site's currency (``[site] currency``)
    currency: str

    async def member(self, **fields: Any) -> Login:
        """A new member (``make_member``'s fields: ``country``, ``role``, ...)."""
        ...

    async def operator(self) -> Login:
        """The test's operator, made on first use and the same one afterwards."""
        ...

    async def login(self, member_id: int) -> Login:
        """A login of an existing member (a listing's owner the test did not make)."""
        ...

    async def fund(self, member: Login | int, amount: int, account: str = "available") -> dict[str, Any]:
        """``fund_member``: ``amount`` minor units onto the member's ``available`` or
        ``credit`` balance; their balance after, as ``GET /me/balance`` shows it."""
        ...

    async def top_up(self, member: Login, amount: int) -> int:
        """Fund the member's credit with what they lack to spend ``amount`` minor units
        (nothing when their credit and available balance cover it); returns what was added."""
        ...

    async def run_worker(self, at: datetime | None = None) -> Any:
        """``run_worker``: one worker sweep, as of ``at`` when given."""
        ...

    async def category(self, slug: str, *, parent: str | None = None) -> str:
        """Make sure the site has the category ``slug``: the operator creates it (under
        ``parent``, which must exist) when ``GET /categories`` has none; returns ``slug``."""
        ...

    async def qualify(self, member: Login, category: str) -> None:
        """The member applies for ``category`` and the operator approves it (kinds whose
        takers must be qualified); nothing when they already are."""
        ...

    async def publish(self, listing_id: int, owner: Login) -> dict[str, Any]:
        """Submit the owner's draft listing and have the operator approve it when the
        site reviews its kind; the listing as ``GET /listings/{id}`` shows it, published."""
        ...

    async def call(
        self,
        method: str,
        path: str,
        who: Login | None = None,
        *,
        json: Any = None,
        expect: int | tuple[int, ...] = (200, 201),
    ) -> Any:
        """Call a route as ``who`` (anonymous when None); its JSON body.  A status other
        than ``expect`` raises :class:`FactoryError` naming the route and the answer."""
        ...

    def amount(self, minor: int) -> dict[str, str]:
        """``{"amount": "12.50", "currency": <the site's>}`` for ``minor`` units."""
        ...

    def fill_form(self, fields: list[dict[str, Any]]) -> dict[str, Any]:
        """Answers to a category's detail form as the API shows it (``DetailFieldOut``
        dicts): every required field, a choice's first choice, an integer's minimum (or
        1), a short text."""
        ...


class FactoryError(AssertionError):
    """A route refused a step of a factory's flow; the message names the route and its
    answer.  An ``AssertionError``, so pytest reports it as the test's failure.  (A state
    or a kind nobody makes is a ``ValueError`` of the fixture, before any step.)"""


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What ``make_order`` asks a kind's factory for."""

    #: one of the factory's ``states`` (the kit has turned ``"paid"`` into its ``paid``)
    state: str
    #: the buyer, or None for a new member (funded by the factory as the flow needs)
    buyer: Login | None = None
    #: the seller (the listing's owner for kinds with one), or None
    seller: Login | None = None
    #: a listing ``make_listing`` made, or None for a new one
    listing: dict[str, Any] | None = None
    #: the kind's own fields (the body of its order route, e.g. a gig's ``extras``)
    fields: dict[str, Any] = {}


#: ``make_listing(kit, owner, fields)``: a published listing of the kind
ListingFactory = Callable[[Kit, Login, dict[str, Any]], Awaitable[dict[str, Any]]]
#: ``make_order(kit, request)``: an order of the kind in ``request.state``
OrderFactory = Callable[[Kit, OrderRequest], Awaitable[dict[str, Any]]]


class KindFactories(msgspec.Struct, frozen=True, kw_only=True):
    """How to make a listing of one kind, and an order of it in a state."""

    #: the listing kind (``agorakit_listing_kinds``), e.g. ``"gig"``
    kind: str
    #: makes a published listing owned by the member given (see :data:`ListingFactory`)
    make_listing: ListingFactory
    #: drives a new order to a state through the real flow (see :data:`OrderFactory`)
    make_order: OrderFactory
    #: the order states ``make_order`` reaches, in the flow's order (the process's names)
    states: tuple[str, ...]
    #: the state an order is in right after it is paid: what ``state="paid"`` stands for
    paid: str


@hookspec
def agorakit_test_factories() -> list[KindFactories] | None:
    """Say how tests make listings and orders of the plugin's kinds.

    ``agorakit.testing``'s ``make_listing(kind=...)`` and ``make_order(kind=...,
    state=...)`` fixtures call the factories of the kind asked for.  A factory drives the
    plugin's real routes (or its declared services) with the :class:`Kit` it is given,
    so what it makes is what members would make: a listing published (reviewed when the
    site reviews the kind), an order paid from a funded buyer, delivered, completed...
    Called only by the testing fixtures, never by a running site; import the factories'
    module inside the implementation so a site does not load it.

    :return: one :class:`KindFactories` per kind the plugin owns, or None.
    """


__all__ = ["FactoryError", "KindFactories", "Kit", "ListingFactory", "Login", "OrderFactory", "OrderRequest"]
