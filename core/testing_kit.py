"""The testing kit's factory fixtures: operators, money, the worker, listings and orders.

Loaded with :mod:`agorakit.testing` (its ``pytest_plugins``), so a project that opts into
``agorakit.testing`` gets these too; ``docs/testing.md`` documents every one:

- ``make_operator``: ``await make_operator(**fields)`` → an operator's ``MemberLogin``.
- ``fund_member``: ``await fund_member(member, amount, account="available")`` → the
  member's balance after, as ``GET /me/balance`` shows it.
- ``run_worker``: ``await run_worker(at=None)`` → the worker sweep's report.
- ``make_listing``: ``await make_listing(kind="gig", seller=None, **fields)`` → a
  published listing, as ``GET /listings/{id}`` shows it.
- ``make_order``: ``await make_order(kind="gig", state="paid", buyer=None, seller=None,
  listing=None, **fields)`` → an order in that state, as ``GET /orders/{id}`` shows it.

Listings and orders are made by the plugin that owns the kind, through the hook
:func:`agorakit.factories.agorakit_test_factories`.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from agorakit.factories import FactoryError, KindFactories, Login, OrderRequest
from agorakit.testing import MemberLogin

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.clock import FrozenClock
    from agorakit.runtime import Runtime

#: the ledger account money funded by ``fund_member`` comes from (an outside account,
#: which may go negative as money comes in, like a pay-in method's)
FUNDING_ACCOUNT = "external:test_funding"
#: the balances ``fund_member`` may put money on
FUNDABLE = ("available", "credit")

_keys = itertools.count(1)


def member_id_of(member: Any) -> int:
    """The id of a ``MemberLogin``, a member object or an int id."""
    if isinstance(member, bool):
        raise TypeError(f"a member is a MemberLogin, a member or an int id, not {member!r}")
    if isinstance(member, int):
        return member
    member_id = getattr(member, "id", None)
    if isinstance(member_id, int) and not isinstance(member_id, bool):
        return member_id
    raise TypeError(f"a member is a MemberLogin, a member or an int id, not {member!r}")


async def fund(runtime: Runtime, member: Any, amount: int, account: str = "available") -> dict[str, Any]:
    """Post one balanced ledger entry: ``amount`` minor units of the site's currency from
    :data:`FUNDING_ACCOUNT` onto the member's ``available`` or ``credit`` balance."""
    from agorakit.accounts import get_member
    from agorakit.money import ledger
    from agorakit.money.balances import member_balances

    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"amount is an int of minor units (cents for USD), not {amount!r}")
    if amount <= 0:
        raise ValueError(f"amount must be more than 0 minor units, not {amount}")
    if account not in FUNDABLE:
        raise ValueError(f"account is 'available' or 'credit', not {account!r}")
    member_id = member_id_of(member)
    await get_member(runtime, member_id)  # a 404 NotFound for a member that does not exist
    currency = runtime.settings.site.currency
    target = ledger.available(member_id) if account == "available" else ledger.credit(member_id)
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test_funding:{member_id}:{uuid.uuid4().hex}",
            kind="test_funding",
            description=f"test funding of the {account} balance",
            lines=ledger.move(FUNDING_ACCOUNT, target, amount, currency),
        )
    balances = await member_balances(member_id, default_currency=currency)
    return {"balances": msgspec.to_builtins(balances)}


@pytest.fixture
def make_operator(make_member):
    """Factory: ``await make_operator(country="DE")`` → the ``MemberLogin`` of a new
    operator (``make_member(role="operator", ...)``)."""

    async def make(**fields: Any) -> MemberLogin:
        return await make_member(role="operator", **fields)

    return make


@pytest.fixture
def fund_member(runtime):
    """Factory: ``await fund_member(member, 2500, account="credit")`` puts 25.00 of the
    site's currency on the member's balance; returns ``{"balances": [...]}`` as
    ``GET /me/balance`` answers after it."""

    async def fund_one(member: Any, amount: int, account: str = "available") -> dict[str, Any]:
        return await fund(runtime, member, amount, account)

    return fund_one


@pytest.fixture
def run_worker(runtime, clock):
    """Factory: ``await run_worker(at=None)``: one sweep of the worker (timers, expiries,
    events left pending, plugins' work, the email outbox), as of ``at`` when given (the
    test's clock is moved there first); returns its :class:`agorakit.worker.SweepReport`."""
    from agorakit.worker import sweep

    async def run(at: datetime | None = None) -> Any:
        if at is not None:
            move_clock(runtime, clock, at)
        await runtime.dispatcher.drain()
        return await sweep(runtime)

    return run


def move_clock(runtime: Runtime, clock: FrozenClock, at: datetime) -> None:
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValueError(f"at is a timezone-aware datetime, not {at!r}")
    if runtime.clock is not clock:
        message = (
            "this site runs on a test clock ([dev] test_clock): move it with "
            "POST /operator/clock/advance, then call run_worker() without at"
        )
        raise ValueError(message)
    if at < clock.now():
        raise ValueError(
            f"the clock does not go backwards: it is {clock.now().isoformat()}, not {at.isoformat()}"
        )
    clock.set(at)


class FactoryKit:
    """The :class:`agorakit.factories.Kit` the factories get (one per test)."""

    def __init__(self, runtime: Runtime, client: Any, app: Any, make_member: Any, run_worker: Any) -> None:
        self.runtime, self.client, self.app = runtime, client, app
        self.currency: str = runtime.settings.site.currency
        self._make_member, self._run_worker = make_member, run_worker
        self._operator: MemberLogin | None = None
        self._factories: dict[str, KindFactories] | None = None

    async def member(self, **fields: Any) -> MemberLogin:
        return await self._make_member(**fields)

    async def operator(self) -> MemberLogin:
        operator = self._operator
        if operator is None:
            operator = self._operator = await self._make_member(role="operator")
        return operator

    async def login(self, member_id: int) -> MemberLogin:
        from agorakit.accounts import get_member, issue_token

        member = await get_member(self.runtime, member_id)
        token = await issue_token(self.runtime, self.app.state.jwt_auth, member)
        headers = {"Authorization": f"Bearer {token.access_token}"}
        return MemberLogin(member=member, token=token.access_token, password="", headers=headers)

    async def fund(self, member: Login | int, amount: int, account: str = "available") -> dict[str, Any]:
        return await fund(self.runtime, member, amount, account)

    async def top_up(self, member: Login, amount: int) -> int:
        from agorakit.money import member_balance

        available, credit = await member_balance(member.id, self.currency)
        missing = amount - max(available, 0) - credit
        if missing > 0:
            await self.fund(member, missing, "credit")
        return max(missing, 0)

    async def run_worker(self, at: datetime | None = None) -> Any:
        return await self._run_worker(at)

    async def category(self, slug: str, *, parent: str | None = None) -> str:
        tree = await self.call("GET", "/categories")
        if slug not in _slugs(tree):
            body = {"slug": slug, "name": slug.replace("-", " ").capitalize(), "parent": parent}
            await self.call("POST", "/operator/categories", await self.operator(), json=body, expect=201)
        return slug

    async def qualify(self, member: Login, category: str) -> None:
        mine = await self.call("GET", "/me/qualifications", member)
        if any(q["category"] == category and q["status"] == "approved" for q in mine["items"]):
            return
        applied = await self.call(
            "POST", "/qualifications", member, json={"category": category, "note": "test"}, expect=201
        )
        operator = await self.operator()
        await self.call("POST", f"/operator/qualifications/{applied['id']}/approve", operator, expect=200)

    async def publish(self, listing_id: int, owner: Login) -> dict[str, Any]:
        listing = await self.call("GET", f"/listings/{listing_id}", owner, expect=200)
        if listing["status"] == "draft":
            listing = await self.call("POST", f"/listings/{listing_id}/submit", owner, expect=200)
        if listing["status"] == "pending_review":
            operator = await self.operator()
            listing = await self.call(
                "POST", f"/operator/listings/{listing_id}/approve", operator, expect=200
            )
        if listing["status"] != "published":
            raise FactoryError(f"listing {listing_id} is {listing['status']}, not published")
        return await self.call("GET", f"/listings/{listing_id}", owner, expect=200)

    async def call(
        self,
        method: str,
        path: str,
        who: Login | None = None,
        *,
        json: Any = None,
        expect: int | tuple[int, ...] = (200, 201),
    ) -> Any:
        headers = dict(who.headers) if who is not None else {}
        response = await self.client.request(method, path, json=json, headers=headers)
        wanted = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in wanted:
            message = f"{method} {path} answered {response.status_code}, not {wanted}: {response.text}"
            raise FactoryError(message)
        return response.json() if response.content else None

    def amount(self, minor: int) -> dict[str, str]:
        from agorakit.money import format_amount

        return {"amount": format_amount(minor, self.currency), "currency": self.currency}

    def fill_form(self, fields: list[dict[str, Any]]) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        for field in fields:
            if not field.get("required", True):
                continue
            if field["type"] == "choice":
                answers[field["name"]] = field["choices"][0]
            elif field["type"] == "integer":
                answers[field["name"]] = field["min"] if field.get("min") is not None else 1
            else:
                answers[field["name"]] = "A test answer"[: field.get("max_length") or None]
        return answers

    def factories(self, kind: str) -> KindFactories:
        if self._factories is None:
            found: dict[str, KindFactories] = {}
            for factories in self.runtime.hooks.collect_sync("agorakit_test_factories"):
                if factories.kind in found:
                    raise ValueError(f"two plugins make listings of kind {factories.kind!r}")
                found[factories.kind] = factories
            self._factories = found
        if kind not in self._factories:
            known = ", ".join(sorted(self._factories)) or "none"
            message = (
                f"no enabled plugin makes {kind!r} listings for tests (kinds with factories: {known}); "
                "enable the kind's plugin in the site_config fixture"
            )
            raise ValueError(message)
        return self._factories[kind]


def _slugs(nodes: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        found.add(node["slug"])
        found |= _slugs(node["children"])
    return found


@pytest.fixture
def _kit(runtime, client, app, make_member, run_worker) -> FactoryKit:
    return FactoryKit(runtime, client, app, make_member, run_worker)


@pytest.fixture
def make_listing(_kit: FactoryKit):
    """Factory: ``await make_listing(kind="gig", seller=None, **fields)`` → a published
    listing of the kind, as ``GET /listings/{id}`` shows it (plus what ordering it needs),
    made by the kind's plugin through its real routes (``agorakit_test_factories``)."""

    async def make(kind: str = "gig", seller: Login | None = None, **fields: Any) -> dict[str, Any]:
        factories = _kit.factories(kind)
        owner = seller if seller is not None else await _kit.member()
        return await factories.make_listing(_kit, owner, fields)

    return make


@pytest.fixture
def make_order(_kit: FactoryKit):
    """Factory: ``await make_order(kind="gig", state="paid", buyer=None, seller=None,
    listing=None, **fields)`` → an order of the kind driven through its real flow to
    ``state`` (a state of its process; ``"paid"``: the state right after payment), as
    ``GET /orders/{id}`` shows it.  Buyers are funded as the flow needs."""

    async def make(
        kind: str = "gig",
        state: str = "paid",
        buyer: Login | None = None,
        seller: Login | None = None,
        listing: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        factories = _kit.factories(kind)
        target = factories.paid if state == "paid" else state
        if target not in factories.states:
            known = ", ".join(factories.states)
            message = (
                f"{kind} orders are made in one of the states {known} "
                f"(or 'paid', which is {factories.paid}); not {state!r}"
            )
            raise ValueError(message)
        request = OrderRequest(state=target, buyer=buyer, seller=seller, listing=listing, fields=fields)
        return await factories.make_order(_kit, request)

    return make
