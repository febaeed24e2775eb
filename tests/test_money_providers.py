"""Payments collected by an outside provider: the money area's functions for pay-in method
plugins (``agorakit.money``), its typed events and notices, and payments_paypal's imports."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest

import agorakit
import agorakit.money
from agorakit.errors import Conflict
from agorakit.events import DomainEvent
from agorakit.events.tables import StoredEvent
from agorakit.money import (
    PaymentCompleted,
    PaymentFailed,
    PaymentStep,
    attach_provider_ref,
    credit_late_payment,
    fail_payment,
    get_payment,
    keep_open,
    ledger,
    open_payment_ids,
    payments,
    settle_from_provider,
)
from agorakit.money.notices import money_notices
from agorakit.money.tables import Payment

METHOD = "providerpay"


class ProviderPay:
    """A pay-in method whose money arrives later, through an outside provider."""

    name = METHOD
    label = "Provider"

    async def start(self, *, runtime, uow, payment):
        return PaymentStep(
            status="pending", details={"next": "approve"}, expires_at=uow.now + timedelta(hours=1)
        )


class ProviderPlugin:
    @agorakit.hookimpl
    def agorakit_payment_methods(self):
        return [ProviderPay()]


@pytest.fixture
def extra_plugins():
    return [("providerpay", ProviderPlugin())]


@pytest.fixture
def site_config():
    return {"money": {"payment_methods": ["balance", METHOD]}}


async def start(runtime, payer_id: int, cents: int = 1500, *, method: str = METHOD):
    payment, _ = await payments.start_payment(
        runtime, payer_id=payer_id, method=method, amount=cents, currency="USD"
    )
    return payment


async def events_named(name: str) -> list[dict]:
    return (
        await StoredEvent.select()
        .where(StoredEvent.name == name)
        .order_by(StoredEvent.id)
        .output(load_json=True)
    )


async def test_a_provider_payment_is_followed_then_settled_once(runtime, make_member):
    member = await make_member()
    payment = await start(runtime, member.id)
    assert payment.status == "pending" and payment.expires_at is not None
    async with runtime.unit_of_work() as uow:
        assert await attach_provider_ref(uow, payment, "ORDER-9", details={"order": "ORDER-9"}) is True
    row = await Payment.select().where(Payment.id == payment.id).first().output(load_json=True)
    assert row["provider_ref"] == "ORDER-9"
    assert row["details"] == {"next": "approve", "order": "ORDER-9"}

    payment = await get_payment(payment.id)
    async with runtime.unit_of_work() as uow:
        assert await keep_open(uow, payment, details={"held": True}) is True
    payment = await get_payment(payment.id)
    assert (payment.status, payment.expires_at) == ("pending", None)
    assert payment.details == {"next": "approve", "order": "ORDER-9", "held": True}

    async with runtime.unit_of_work() as uow:
        settled = await settle_from_provider(uow, payment, actor_id=None, details={"capture": "C-1"})
    assert settled.status == "completed" and settled.details["capture"] == "C-1"
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 1500
    assert await ledger.balance_of(ledger.external(METHOD), "USD") == -1500

    with pytest.raises(Conflict):
        async with runtime.unit_of_work() as uow:
            await settle_from_provider(uow, payment, actor_id=None)
    async with runtime.unit_of_work() as uow:
        assert await attach_provider_ref(uow, settled, "ORDER-10") is False
        assert await keep_open(uow, settled) is False
        assert await fail_payment(uow, settled, reason="too late") is False
    assert (await get_payment(payment.id)).status == "completed"
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 1500
    [completed] = await events_named("payment.completed")
    assert completed["data"] == {
        "payment_id": payment.id,
        "payer_id": member.id,
        "escrow_ref": None,
        "method": METHOD,
    }
    assert await ledger.check_ledger() == []


async def test_a_refused_payment_fails_once_with_a_typed_event(runtime, make_member):
    member = await make_member()
    payment = await start(runtime, member.id)
    async with runtime.unit_of_work() as uow:
        assert await fail_payment(uow, payment, reason="the provider declined the card") is True
    async with runtime.unit_of_work() as uow:
        assert await fail_payment(uow, payment, reason="again") is False
    failed = await get_payment(payment.id)
    assert (failed.status, failed.failure_reason) == ("failed", "the provider declined the card")
    [stored] = await events_named("payment.failed")
    assert (stored["subject"], stored["actor_id"]) == (f"payment:{payment.id}", None)
    payload = runtime.event_types.payload(stored["name"], stored["data"])
    assert payload == PaymentFailed(
        payment_id=payment.id, payer_id=member.id, reason="the provider declined the card"
    )
    assert await ledger.balance_of(ledger.external(METHOD), "USD") == 0


async def test_money_for_an_unpaid_payment_becomes_credit_once(runtime, make_member):
    member = await make_member()
    payment = await start(runtime, member.id, 2599)
    credit = {"key": f"{METHOD}:late:{payment.id}", "kind": "late_payment", "description": "arrived late"}
    with pytest.raises(ledger.LedgerError, match="is pending"):
        async with runtime.unit_of_work() as uow:
            await credit_late_payment(uow, payment, amount=2599, **credit)
    cancelled = await payments.cancel_payment(runtime, payment_id=payment.id, payer_id=member.id)
    async with runtime.unit_of_work() as uow:
        assert await credit_late_payment(uow, cancelled, amount=2599, **credit) is True
    async with runtime.unit_of_work() as uow:
        assert await credit_late_payment(uow, cancelled, amount=2599, **credit) is False
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2599
    assert await ledger.balance_of(ledger.external(METHOD), "USD") == -2599
    assert (await get_payment(payment.id)).status == "cancelled"

    other = await start(runtime, member.id, 100)
    async with runtime.unit_of_work() as uow:
        completed = await settle_from_provider(uow, other, actor_id=None)
    with pytest.raises(ledger.LedgerError, match="is completed"):
        async with runtime.unit_of_work() as uow:
            await credit_late_payment(
                uow, completed, amount=100, key="late:other", kind="late", description="x"
            )
    assert await ledger.balance_of(ledger.credit(member.id), "USD") == 2699
    assert await ledger.check_ledger() == []


async def test_open_payment_ids_lists_the_open_payments_of_a_method(runtime, make_member):
    member = await make_member()
    first, second, third = [await start(runtime, member.id, cents) for cents in (100, 200, 300)]
    await payments.cancel_payment(runtime, payment_id=second.id, payer_id=member.id)
    async with runtime.unit_of_work() as uow:
        await keep_open(uow, third)
    assert await open_payment_ids(METHOD) == [first.id, third.id]
    assert await open_payment_ids("balance") == []


async def test_a_payer_who_settled_their_own_payment_is_not_told(runtime):
    at = runtime.clock.now()
    own = DomainEvent(
        name="payment.completed",
        at=at,
        subject="payment:1",
        actor_id=5,
        payload=PaymentCompleted(payment_id=1, payer_id=5, method="balance"),
    )
    assert await money_notices(own, runtime) == []
    other_area = DomainEvent(name="order.created", at=at, subject="order:1", actor_id=5)
    assert await money_notices(other_area, runtime) is None


# --------------------------------------------------------------------------------------
# payments_paypal uses the declared plugin API only
# --------------------------------------------------------------------------------------

#: modules a plugin may import whole; areas only at package level
_ALLOWED = {
    "agorakit",
    "agorakit.settings",
    "agorakit.errors",
    "agorakit.runtime",
    "agorakit.hooks",
    "agorakit.pagination",
    "agorakit.text",
    "agorakit.clock",
    "agorakit.events",
    "agorakit.money",
    "agorakit.http",
}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("agorakit"):
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.startswith("agorakit")]
    return found


def test_payments_paypal_imports_only_the_declared_api():
    import agorakit.plugins.payments_paypal as plugin

    folder = Path(plugin.__file__).parent
    modules = sorted(folder.glob("*.py"))
    assert modules
    for path in modules:
        for module, names in _imports(path):
            where = f"{path.name}: from {module} import {', '.join(names)}"
            if module.startswith(("agorakit.plugins.payments_paypal", "agorakit.plugins.paypal")):
                continue
            if module == "agorakit.db":
                assert set(names) <= {"is_unique_violation", "Table"}, where
                continue
            assert module in _ALLOWED, where
            if module == "agorakit.money":
                assert set(names) <= set(agorakit.money.__all__), where
