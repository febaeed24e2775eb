"""Escrows a plugin funds and moves by reference (``campaign:12``), through the names
``agorakit.money`` declares: funded by a payment with any method (the balance at once,
a bank transfer once an operator confirms it), moved to another escrow, handed back to
a member, paid out with fees; each movement once per key, never beyond what the escrow
holds, and the ledger sound afterwards."""

from __future__ import annotations

import asyncio

import pytest

from agorakit import hookimpl
from agorakit.errors import Conflict, ValidationFailed
from agorakit.money import (
    InsufficientFunds,
    escrow_balance,
    fund_escrow,
    ledger,
    member_balance,
    move_escrow,
    pay_from_escrow,
    refund_settled_payment,
    return_escrow,
)
from agorakit.money.tables import LedgerTransaction, Payment

CAMPAIGN = "campaign:12"
TASK = "task:7"


class Campaigns:
    """What a plugin that holds money for campaigns does with the payment hooks: refuse
    money for a campaign that no longer takes any, hand back money that settles for one
    that ended meanwhile, and see the rest settle."""

    def __init__(self) -> None:
        self.closed: set[str] = set()
        self.ended: set[str] = set()
        self.settled: list[tuple[int, str | None, str]] = []

    @hookimpl
    def agorakit_payment_starting(self, purpose, escrow_ref):
        if purpose == "escrow" and escrow_ref in self.closed:
            raise Conflict(f"{escrow_ref} takes no more money")

    @hookimpl
    async def agorakit_payment_settled(self, uow, payment):
        if not (payment.escrow_ref or "").startswith("campaign:"):
            return
        if payment.escrow_ref in self.ended:
            payment = await refund_settled_payment(uow, payment, reason="the campaign has ended")
        self.settled.append((payment.id, payment.escrow_ref, payment.status))


@pytest.fixture
def campaigns():
    return Campaigns()


@pytest.fixture
def extra_plugins(campaigns):
    return [("campaigns", campaigns)]


@pytest.fixture
def site_config():
    return {
        "site": {"plugins": ["bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"]},
        "plugins": {
            "bank_transfer": {"instructions": "Pay to Test Market Ltd, IBAN DE89 3704 0044 0532 0130 00."}
        },
    }


async def give(runtime, account: str, cents: int, key: str) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=key,
            kind="test_funding",
            description="test funding",
            lines=ledger.move(ledger.external("test"), account, cents, "USD"),
        )


async def funded(runtime, member_id: int, cents: int, ref: str = CAMPAIGN) -> None:
    """``ref``'s escrow holds ``cents``, paid by the member from their balance."""
    await give(runtime, ledger.available(member_id), cents, f"give:{member_id}:{ref}:{cents}")
    payment, _ = await fund_escrow(
        runtime, payer_id=member_id, ref=ref, amount=cents, currency="USD", method="balance"
    )
    assert payment.status == "completed"


async def sound() -> None:
    assert await ledger.check_ledger() == []


# --------------------------------------------------------------------------------------
# Funding
# --------------------------------------------------------------------------------------


async def test_funding_from_the_balance_takes_credit_first_then_available(runtime, make_member, campaigns):
    employer = await make_member()
    await give(runtime, ledger.credit(employer.id), 300, "credit")
    await give(runtime, ledger.available(employer.id), 1000, "available")

    payment, replayed = await fund_escrow(
        runtime, payer_id=employer.id, ref=CAMPAIGN, amount=512, currency="USD", method="balance"
    )
    assert replayed is False
    assert (payment.status, payment.purpose, payment.escrow_ref) == ("completed", "escrow", CAMPAIGN)
    assert payment.amount.amount == "5.12"
    assert payment.details == {"from_credit": 300, "from_available": 212}
    assert await escrow_balance(CAMPAIGN, "USD") == 512
    assert await member_balance(employer.id, "USD") == (788, 0)
    assert campaigns.settled == [(payment.id, CAMPAIGN, "completed")]
    await sound()


async def test_funding_from_too_small_a_balance_is_a_409_and_changes_nothing(runtime, make_member):
    employer = await make_member()
    await give(runtime, ledger.credit(employer.id), 100, "credit")
    await give(runtime, ledger.available(employer.id), 150, "available")
    with pytest.raises(InsufficientFunds) as refused:
        await fund_escrow(
            runtime, payer_id=employer.id, ref=CAMPAIGN, amount=251, currency="USD", method="balance"
        )
    assert (refused.value.status, refused.value.code) == (409, "insufficient_funds")
    assert await Payment.count() == 0
    assert await escrow_balance(CAMPAIGN, "USD") == 0
    assert await member_balance(employer.id, "USD") == (150, 100)
    await sound()


async def test_funding_by_bank_transfer_waits_for_the_operator(client, runtime, make_member, campaigns):
    employer, operator = await make_member(), await make_member(role="operator")
    payment, _ = await fund_escrow(
        runtime, payer_id=employer.id, ref=CAMPAIGN, amount=2500, currency="USD", method="bank_transfer"
    )
    assert payment.status == "awaiting_funds"
    assert await escrow_balance(CAMPAIGN, "USD") == 0
    assert campaigns.settled == []

    confirmed = await client.post(
        f"/bank-transfer/payments/{payment.id}/confirm",
        json={"amount": {"amount": "25.00", "currency": "USD"}, "reference": "STMT-1"},
        headers=operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "completed"
    assert await escrow_balance(CAMPAIGN, "USD") == 2500
    assert await ledger.balance_of(ledger.external("bank_transfer"), "USD") == -2500
    assert campaigns.settled == [(payment.id, CAMPAIGN, "completed")]
    await sound()


async def test_money_that_settles_for_an_ended_campaign_goes_back_to_the_payers_credit(
    client, runtime, make_member, campaigns
):
    employer, operator = await make_member(), await make_member(role="operator")
    payment, _ = await fund_escrow(
        runtime, payer_id=employer.id, ref=CAMPAIGN, amount=2500, currency="USD", method="bank_transfer"
    )
    campaigns.ended.add(CAMPAIGN)
    confirmed = await client.post(
        f"/bank-transfer/payments/{payment.id}/confirm",
        json={"amount": {"amount": "25.00", "currency": "USD"}, "reference": "STMT-1"},
        headers=operator.headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "refunded"
    assert confirmed.json()["failure_reason"] == "the campaign has ended"
    assert campaigns.settled == [(payment.id, CAMPAIGN, "refunded")]
    assert await escrow_balance(CAMPAIGN, "USD") == 0
    assert await member_balance(employer.id, "USD") == (0, 2500)
    await sound()


async def test_a_plugin_refuses_a_start_and_nothing_changes(runtime, make_member, campaigns):
    employer = await make_member()
    await give(runtime, ledger.available(employer.id), 1000, "available")
    campaigns.closed.add(CAMPAIGN)
    with pytest.raises(Conflict, match="takes no more money"):
        await fund_escrow(
            runtime, payer_id=employer.id, ref=CAMPAIGN, amount=500, currency="USD", method="balance"
        )
    assert await Payment.count() == 0
    assert await member_balance(employer.id, "USD") == (1000, 0)


async def test_funding_again_with_one_idempotency_key_pays_once(runtime, make_member):
    employer = await make_member()
    await give(runtime, ledger.available(employer.id), 1000, "available")
    first, replayed = await fund_escrow(
        runtime,
        payer_id=employer.id,
        ref=CAMPAIGN,
        amount=400,
        currency="USD",
        method="balance",
        idempotency_key="k1",
    )
    again, replayed_again = await fund_escrow(
        runtime,
        payer_id=employer.id,
        ref=CAMPAIGN,
        amount=400,
        currency="USD",
        method="balance",
        idempotency_key="k1",
    )
    assert (replayed, replayed_again, again.id) == (False, True, first.id)
    assert await escrow_balance(CAMPAIGN, "USD") == 400
    assert await member_balance(employer.id, "USD") == (600, 0)


async def test_an_unknown_method_is_a_422_on_method(runtime, make_member):
    employer = await make_member()
    with pytest.raises(ValidationFailed) as refused:
        await fund_escrow(
            runtime, payer_id=employer.id, ref=CAMPAIGN, amount=100, currency="USD", method="cash"
        )
    assert [error.field for error in refused.value.errors] == ["method"]


@pytest.mark.parametrize(
    ("ref", "amount", "message"),
    [
        ("order:5", 100, "pay_order"),
        ("campaign", 100, "cannot name an escrow"),
        ("campaign:12:x", 100, "cannot name an escrow"),
        ("campaign:" + "9" * 80, 100, "at most 80"),
        (CAMPAIGN, 0, "positive integer"),
        (CAMPAIGN, -5, "positive integer"),
    ],
)
async def test_funding_with_a_wrong_argument_is_a_bug(runtime, ref, amount, message):
    with pytest.raises(ValueError, match=message):
        await fund_escrow(runtime, payer_id=1, ref=ref, amount=amount, currency="USD", method="balance")


# --------------------------------------------------------------------------------------
# Moving, returning, paying out
# --------------------------------------------------------------------------------------


async def test_move_escrow_moves_exact_cents_once_per_key(runtime, make_member):
    employer = await make_member()
    await funded(runtime, employer.id, 1000)
    async with runtime.unit_of_work() as uow:
        moved = await move_escrow(
            uow,
            key="task:7:fund",
            source_ref=CAMPAIGN,
            target_ref=TASK,
            amount=333,
            currency="USD",
            description="task 7 reserved",
            refs={"task": 7},
            actor_id=employer.id,
        )
    assert moved is True
    assert (await escrow_balance(CAMPAIGN, "USD"), await escrow_balance(TASK, "USD")) == (667, 333)
    posting = (
        await LedgerTransaction.select()
        .where(LedgerTransaction.idempotency_key == "task:7:fund")
        .first()
        .output(load_json=True)
    )
    assert posting["kind"] == "escrow_moved"
    assert posting["refs"] == {"escrow": CAMPAIGN, "to_escrow": TASK, "task": 7}

    transactions = await LedgerTransaction.count()
    async with runtime.unit_of_work() as uow:
        again = await move_escrow(
            uow, key="task:7:fund", source_ref=CAMPAIGN, target_ref=TASK, amount=333, currency="USD",
            description="task 7 reserved",
        )  # fmt: skip
    assert again is False
    assert await LedgerTransaction.count() == transactions
    assert (await escrow_balance(CAMPAIGN, "USD"), await escrow_balance(TASK, "USD")) == (667, 333)
    await sound()


async def test_moving_more_than_the_source_holds_is_a_409_and_moves_nothing(runtime, make_member):
    employer = await make_member()
    await funded(runtime, employer.id, 1000)
    transactions = await LedgerTransaction.count()
    with pytest.raises(InsufficientFunds) as refused:
        async with runtime.unit_of_work() as uow:
            await move_escrow(
                uow, key="too-much", source_ref=CAMPAIGN, target_ref=TASK, amount=1001, currency="USD",
                description="too much",
            )  # fmt: skip
    assert (refused.value.status, refused.value.code) == (409, "insufficient_funds")
    assert refused.value.extra["balance"] == "10.00" and refused.value.extra["needed"] == "10.01"
    assert await LedgerTransaction.count() == transactions
    assert (await escrow_balance(CAMPAIGN, "USD"), await escrow_balance(TASK, "USD")) == (1000, 0)
    await sound()


async def test_a_refusal_caught_inside_the_unit_of_work_leaves_nothing_behind(runtime, make_member):
    """A plugin may catch the 409 and go on (pay the tasks that fit): the refused move
    leaves no trace, its key stays free, and the rest of the unit of work commits."""
    employer, worker = await make_member(), await make_member()
    await funded(runtime, employer.id, 1000)
    async with runtime.unit_of_work() as uow:
        assert await move_escrow(
            uow,
            key="t1",
            source_ref=CAMPAIGN,
            target_ref="task:1",
            amount=600,
            currency="USD",
            description="t1",
        )
        with pytest.raises(InsufficientFunds):
            await move_escrow(
                uow,
                key="t2",
                source_ref=CAMPAIGN,
                target_ref="task:2",
                amount=600,
                currency="USD",
                description="t2",
            )
        assert await pay_from_escrow(
            uow, key="t1:paid", ref="task:1", member_id=worker.id, net=540, fees=60, currency="USD",
            description="task 1 paid",
        )  # fmt: skip
    assert await escrow_balance(CAMPAIGN, "USD") == 400
    assert await escrow_balance("task:2", "USD") == 0
    assert await LedgerTransaction.select().where(LedgerTransaction.idempotency_key == "t2").first() is None
    assert await member_balance(worker.id, "USD") == (540, 0)
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 60
    async with runtime.unit_of_work() as uow:  # the key was never used
        assert await move_escrow(
            uow,
            key="t2",
            source_ref=CAMPAIGN,
            target_ref="task:2",
            amount=400,
            currency="USD",
            description="t2",
        )
    await sound()


async def test_return_escrow_goes_to_the_members_credit_or_available(runtime, make_member):
    employer = await make_member()
    await funded(runtime, employer.id, 1000)
    async with runtime.unit_of_work() as uow:
        assert await return_escrow(
            uow, key="back:credit", ref=CAMPAIGN, member_id=employer.id, amount=250, currency="USD",
            description="unused budget",
        )  # fmt: skip
        assert await return_escrow(
            uow, key="back:available", ref=CAMPAIGN, member_id=employer.id, amount=150, currency="USD",
            description="unused budget", to="available",
        )  # fmt: skip
    assert await member_balance(employer.id, "USD") == (150, 250)
    assert await escrow_balance(CAMPAIGN, "USD") == 600
    async with runtime.unit_of_work() as uow:
        assert not await return_escrow(
            uow, key="back:credit", ref=CAMPAIGN, member_id=employer.id, amount=250, currency="USD",
            description="unused budget",
        )  # fmt: skip
    assert await member_balance(employer.id, "USD") == (150, 250)
    with pytest.raises(InsufficientFunds):
        async with runtime.unit_of_work() as uow:
            await return_escrow(
                uow, key="back:all", ref=CAMPAIGN, member_id=employer.id, amount=601, currency="USD",
                description="too much",
            )  # fmt: skip
    assert await escrow_balance(CAMPAIGN, "USD") == 600
    await sound()


async def test_pay_from_escrow_pays_net_and_fees_in_one_posting(runtime, make_member):
    employer, worker = await make_member(), await make_member()
    await funded(runtime, employer.id, 1100)
    async with runtime.unit_of_work() as uow:
        assert await pay_from_escrow(
            uow, key="task:7:paid", ref=CAMPAIGN, member_id=worker.id, net=1000, fees=100, currency="USD",
            description="task 7 approved", refs={"task": 7},
        )  # fmt: skip
    assert await escrow_balance(CAMPAIGN, "USD") == 0
    assert await member_balance(worker.id, "USD") == (1000, 0)
    assert await ledger.balance_of(ledger.PLATFORM_FEES, "USD") == 100
    posting = (
        await LedgerTransaction.select()
        .where(LedgerTransaction.idempotency_key == "task:7:paid")
        .first()
        .output(load_json=True)
    )
    assert (posting["kind"], posting["refs"]) == ("escrow_paid", {"escrow": CAMPAIGN, "task": 7})
    async with runtime.unit_of_work() as uow:
        assert not await pay_from_escrow(
            uow, key="task:7:paid", ref=CAMPAIGN, member_id=worker.id, net=1000, fees=100, currency="USD",
            description="task 7 approved",
        )  # fmt: skip
    assert await member_balance(worker.id, "USD") == (1000, 0)
    await sound()


async def test_paying_more_than_the_escrow_holds_is_a_409(runtime, make_member):
    employer, worker = await make_member(), await make_member()
    await funded(runtime, employer.id, 1000)
    with pytest.raises(InsufficientFunds):
        async with runtime.unit_of_work() as uow:
            await pay_from_escrow(
                uow,
                key="p",
                ref=CAMPAIGN,
                member_id=worker.id,
                net=950,
                fees=51,
                currency="USD",
                description="p",
            )
    assert await member_balance(worker.id, "USD") == (0, 0)
    assert await escrow_balance(CAMPAIGN, "USD") == 1000
    await sound()


async def test_wrong_arguments_are_bugs(runtime):
    async with runtime.unit_of_work() as uow:
        common = {"key": "k", "currency": "USD", "description": "d"}
        for amount in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match="positive integer"):
                await move_escrow(uow, source_ref=CAMPAIGN, target_ref=TASK, amount=amount, **common)
            with pytest.raises(ValueError, match="positive integer"):
                await return_escrow(uow, ref=CAMPAIGN, member_id=1, amount=amount, **common)
        with pytest.raises(ValueError, match="to itself"):
            await move_escrow(uow, source_ref=CAMPAIGN, target_ref=CAMPAIGN, amount=1, **common)
        with pytest.raises(ValueError, match="cannot name an escrow"):
            await move_escrow(uow, source_ref="nope", target_ref=TASK, amount=1, **common)
        with pytest.raises(ValueError, match='"credit" or "available"'):
            await return_escrow(uow, ref=CAMPAIGN, member_id=1, amount=1, to="fees", **common)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="net or fees"):
            await pay_from_escrow(uow, ref=CAMPAIGN, member_id=1, net=0, fees=0, **common)
        with pytest.raises(ValueError, match="non-negative"):
            await pay_from_escrow(uow, ref=CAMPAIGN, member_id=1, net=-1, fees=5, **common)
    assert await LedgerTransaction.count() == 0


async def test_member_balance_is_zero_for_a_member_without_accounts(runtime, make_member):
    member = await make_member()
    assert await member_balance(member.id, "USD") == (0, 0)
    await give(runtime, ledger.available(member.id), 725, "a")
    await give(runtime, ledger.credit(member.id), 50, "c")
    assert await member_balance(member.id, "USD") == (725, 50)
    assert await member_balance(member.id, "EUR") == (0, 0)


# --------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_moves_never_overdraw_the_source(runtime, make_member):
    """Twenty tasks at once reserve 1.00 each from a campaign holding 10.00, each in its
    own transaction: exactly ten succeed, the others are refused, nothing is lost."""
    employer = await make_member()
    await funded(runtime, employer.id, 1000)

    async def reserve(n: int) -> str:
        try:
            async with runtime.unit_of_work() as uow:
                await move_escrow(
                    uow, key=f"task:{n}:fund", source_ref=CAMPAIGN, target_ref=f"task:{n}", amount=100,
                    currency="USD", description=f"task {n} reserved",
                )  # fmt: skip
        except InsufficientFunds:
            return "refused"
        return "moved"

    outcomes = await asyncio.gather(*(reserve(n) for n in range(20)))
    assert sorted(outcomes) == ["moved"] * 10 + ["refused"] * 10
    assert await escrow_balance(CAMPAIGN, "USD") == 0
    held = [await escrow_balance(f"task:{n}", "USD") for n in range(20)]
    assert sorted(held) == [0] * 10 + [100] * 10
    await sound()


@pytest.mark.postgres_only("concurrency is proven on PostgreSQL")
async def test_concurrent_moves_with_one_key_move_once(runtime, make_member):
    employer = await make_member()
    await funded(runtime, employer.id, 1000)

    async def reserve() -> bool:
        async with runtime.unit_of_work() as uow:
            return await move_escrow(
                uow, key="task:1:fund", source_ref=CAMPAIGN, target_ref="task:1", amount=300, currency="USD",
                description="task 1 reserved",
            )  # fmt: skip

    results = await asyncio.gather(*(reserve() for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    assert (await escrow_balance(CAMPAIGN, "USD"), await escrow_balance("task:1", "USD")) == (700, 300)
    await sound()
