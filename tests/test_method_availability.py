"""A method that cannot be used now says so: ``GET /payment-methods`` and
``GET /payout-methods`` show ``available`` and ``unavailable_reason`` at each request, and a
payment or withdrawal asked with it is a 503 with the same reason that changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from agorakit import hookimpl
from agorakit.money import PaymentStep, ReportsAvailability, ledger
from agorakit.money.tables import Payment, Withdrawal

DOWN = "Acme Pay is down for maintenance until 14:00 UTC"


class Switch:
    """Why the Acme methods are unavailable now (None: they are available)."""

    def __init__(self) -> None:
        self.reason: str | None = DOWN


class AcmePayIn:
    name = "acme"
    label = "Acme Pay"

    def __init__(self, switch: Switch) -> None:
        self.switch = switch

    def unavailable_reason(self) -> str | None:
        return self.switch.reason

    async def start(self, *, runtime: Any, uow: Any, payment: Any) -> PaymentStep:
        return PaymentStep(status="pending", details={"next": "approve at Acme Pay"})


class AcmePayout:
    name = "acme"
    label = "Acme Pay"
    manual = True
    destination_fields = ["account"]

    def __init__(self, switch: Switch) -> None:
        self.switch = switch

    def unavailable_reason(self) -> str | None:
        return self.switch.reason

    def minimum(self, currency: str) -> int:
        return 1000

    def fee(self, amount: int, currency: str) -> int:
        return 0

    def fee_description(self, currency: str) -> str:
        return "no fee"

    def validate_destination(self, destination: dict[str, Any]) -> dict[str, Any]:
        return {"account": str(destination.get("account", ""))}


class AcmePlugin:
    def __init__(self) -> None:
        self.switch = Switch()

    @hookimpl
    def agorakit_payment_methods(self):
        return [AcmePayIn(self.switch)]

    @hookimpl
    def agorakit_payout_methods(self):
        return [AcmePayout(self.switch)]


@pytest.fixture
def extra_plugins():
    return [("acme", AcmePlugin())]


@pytest.fixture
def site_config():
    return {"money": {"payment_methods": ["balance", "acme"], "payout_methods": ["acme"]}}


async def fund(runtime, member_id: int, cents: int) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"test-funding:{member_id}",
            kind="test_funding",
            description="Test funding",
            lines=ledger.move(ledger.external("test"), ledger.available(member_id), cents, "USD"),
        )


async def test_an_unavailable_method_is_listed_with_its_reason_and_refused_with_it(
    client, runtime, make_member, extra_plugins, problem
):
    assert isinstance(runtime.payout_methods["acme"], ReportsAvailability)
    member = await make_member()
    await fund(runtime, member.id, 5000)

    assert (await client.get("/payment-methods")).json() == [
        {"name": "balance", "label": "Your balance", "available": True, "unavailable_reason": None},
        {"name": "acme", "label": "Acme Pay", "available": False, "unavailable_reason": DOWN},
    ]
    (payout,) = (await client.get("/payout-methods")).json()
    assert (payout["name"], payout["available"], payout["unavailable_reason"]) == ("acme", False, DOWN)

    deposit = {"method": "acme", "amount": {"amount": "25.00", "currency": "USD"}}
    body = problem(
        await client.post("/payments", json=deposit, headers=member.headers), 503, "service_unavailable"
    )
    assert (body["detail"], body["extra"]) == (DOWN, {"method": "acme"})
    withdrawal = {
        "method": "acme",
        "amount": {"amount": "20.00", "currency": "USD"},
        "destination": {"account": "A1"},
    }
    body = problem(
        await client.post("/withdrawals", json=withdrawal, headers=member.headers), 503, "service_unavailable"
    )
    assert (body["detail"], body["extra"]) == (DOWN, {"method": "acme"})
    assert (await Payment.count(), await Withdrawal.count()) == (0, 0)
    assert await ledger.balance_of(ledger.available(member.id), "USD") == 5000

    # Available again: the lists say so at the next request, and both requests go through.
    extra_plugins[0][1].switch.reason = None
    (acme,) = [m for m in (await client.get("/payment-methods")).json() if m["name"] == "acme"]
    assert (acme["available"], acme["unavailable_reason"]) == (True, None)
    (payout,) = (await client.get("/payout-methods")).json()
    assert (payout["available"], payout["unavailable_reason"]) == (True, None)
    started = await client.post("/payments", json=deposit, headers=member.headers)
    assert started.status_code == 201, started.text
    assert started.json()["status"] == "pending"
    requested = await client.post("/withdrawals", json=withdrawal, headers=member.headers)
    assert requested.status_code == 201, requested.text
    assert await ledger.balance_of(ledger.available(member.id), "USD") == 3000


async def test_the_openapi_document_shows_availability_on_both_lists(client):
    schemas = (await client.get("/docs/openapi.json")).json()["components"]["schemas"]
    for name in ("MethodOut", "PayoutMethodOut"):
        schema = schemas[name]
        assert {"available", "unavailable_reason"} <= set(schema["required"])
        assert schema["properties"]["available"] == {"type": "boolean"}
        assert schema["properties"]["unavailable_reason"] == {"oneOf": [{"type": "string"}, {"type": "null"}]}
