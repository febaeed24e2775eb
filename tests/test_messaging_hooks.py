"""Messaging's own hook: ``agorakit_message_posting``, in the transaction of every member
message, before it is written (a plugin charging for messages, or refusing them)."""

from __future__ import annotations

import itertools

import pytest
from test_messaging import say, start
from test_orders import fund_credit

from agorakit import hookimpl
from agorakit.errors import Conflict
from agorakit.messaging import ensure_conversation, post_system_message
from agorakit.messaging.tables import Conversation, Message
from agorakit.money import ledger

FEE = 25  # cents per message in a lead's conversation


class MessageFees:
    """Charges the sender 0.25 USD for each message about a lead, and refuses them once
    the lead is closed (after charging: the charge rolls back too); refuses direct
    messages with a member who is blocked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, int, int]] = []
        self.blocked: set[int] = set()
        self.closed: set[str] = set()
        self._keys = itertools.count(1)

    @hookimpl
    async def agorakit_message_posting(self, uow, conversation, sender, runtime):
        # inside the transaction, before the insert: a new conversation is there, the message not yet
        written = await Message.count().where(Message.conversation == conversation["id"])
        self.calls.append((conversation["kind"], conversation["subject"], sender.id, written))
        if conversation["kind"] == "lead":
            await ledger.post(
                uow,
                key=f"message-fee:{conversation['id']}:{next(self._keys)}",
                kind="message_fee",
                description="message about a lead",
                lines=ledger.move(ledger.credit(sender.id), ledger.external("message_fees"), FEE, "USD"),
                actor_id=sender.id,
            )
            if conversation["subject"] in self.closed:  # after its own write
                raise Conflict("this lead is closed")
        if conversation["kind"] == "direct" and self.blocked & set(
            map(int, conversation["key"].split(":")[1:])
        ):
            raise Conflict("this member does not take messages from you")


@pytest.fixture
def fees():
    return MessageFees()


@pytest.fixture
def extra_plugins(fees):
    return [("message-fees", fees)]


async def credit_of(member):
    return await ledger.balance_of(ledger.credit(member.id), "USD")


async def test_hook_agorakit_message_posting(client, runtime, make_member, problem, fees):
    customer, business, other = await make_member(), await make_member(), await make_member()
    async with runtime.unit_of_work() as uow:
        lead = await ensure_conversation(
            uow, subject="lead:12:business:3", participant_ids=[customer.id, business.id]
        )
    await fund_credit(runtime, business.id, cents=50)

    # a new conversation: the hook sees its row, before its first message
    started = await start(client, customer, member_id=other.id, body="hello")
    assert started.status_code == 201, started.text
    assert fees.calls == [("direct", None, customer.id, 0)]

    # two messages about the lead are paid for, the third is refused: nothing written
    for n in (1, 2):
        assert (await say(client, business, lead, f"offer {n}")).status_code == 201
    assert await credit_of(business) == 0
    assert await ledger.balance_of(ledger.external("message_fees"), "USD") == 2 * FEE
    refused = await say(client, business, lead, "offer 3")
    problem(refused, 409, "insufficient_funds")
    assert [m["body"] for m in await Message.select(Message.body).where(Message.conversation == lead)] == [
        "offer 1",
        "offer 2",
    ]
    assert fees.calls[1:] == [("lead", "lead:12:business:3", business.id, n) for n in (0, 1, 2)]
    conversation = (await client.get(f"/conversations/{lead}", headers=customer.headers)).json()
    assert (conversation["last_message"]["body"], conversation["unread_count"]) == ("offer 2", 2)

    # refusing after its own write: the charge rolls back with the message
    await fund_credit(runtime, customer.id, cents=100)
    assert (await say(client, customer, lead, "thanks")).status_code == 201
    assert await credit_of(customer) == 100 - FEE
    fees.closed.add("lead:12:business:3")
    problem(await say(client, customer, lead, "one more thing"), 409, "conflict")
    assert await credit_of(customer) == 100 - FEE
    assert await Message.count().where(Message.conversation == lead) == 3

    # refusing the first message of a new conversation: it is not started
    fees.blocked.add(business.id)
    problem(await start(client, customer, member_id=business.id, body="hi"), 409, "conflict")
    assert await Conversation.count().where(Conversation.kind == "direct") == 1

    # system messages do not go through it
    calls = len(fees.calls)
    async with runtime.unit_of_work() as uow:
        assert await post_system_message(uow, subject="lead:12:business:3", body="Lead unlocked") is not None
    assert len(fees.calls) == calls
