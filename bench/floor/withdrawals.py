"""POST /withdrawals by bank transfer: the app's statements (the microjobs plugin's
withdrawal rule's two reads, the withdrawal, its posting, its event)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar import Request, post
from litestar.params import JSONBody

from bench.floor import driver, same
from bench.floor.driver import insert
from bench.floor.effects import member_of
from bench.floor.schemas import CreateWithdrawal, Problem, WithdrawalOut, dumps, loads, money, parse_cents

BANK_MINIMUM = 5000
#: the default [money] payout_days: a withdrawal is due this long after its request
PAYOUT_DAYS = 7


@post("/withdrawals", status_code=201)
async def withdraw(request: Request, data: JSONBody[CreateWithdrawal]) -> WithdrawalOut:
    if data.method != "bank_transfer":
        raise Problem(422, "validation_error", "the floor withdraws by bank transfer only")
    amount = parse_cents(data.amount.amount)
    if amount < BANK_MINIMUM:
        raise Problem(422, "below_minimum", "the minimum is 50.00 USD")
    async with driver.db.reads() as r:
        member = await member_of(request, r)
        # the microjobs plugin's rule (enabled on the bench site): whether the member ever
        # took a task (their success rate applies then), and their available balance
        await r.row("SELECT EXISTS(SELECT 1 FROM microjobs_task WHERE worker_id = $1) AS found", member["id"])
        await r.fetch(
            "SELECT name, balance FROM core_ledger_account WHERE name = ANY($1) AND currency = $2",
            [f"member:{member['id']}:available"],
            "USD",
        )
    async with driver.db.transaction() as s:
        now = datetime.now(UTC)
        row = await insert(
            s,
            "core_withdrawal",
            {
                "member_id": member["id"],
                "method": data.method,
                "amount": amount,
                "fee": 0,
                "currency": "USD",
                "destination": dumps(data.destination),
                "status": "requested",
                "idempotency_key": None,
                "batch_ref": None,
                "provider_ref": None,
                "failure_reason": None,
                "completed_at": None,
                "created_at": now,
                "updated_at": now,
                "due_at": now + timedelta(days=PAYOUT_DAYS),
            },
            returning="*",
        )
        await same.post(
            s,
            key=f"withdrawal:{row['id']}:request",
            kind="withdrawal_requested",
            description=f"Withdrawal {row['id']} to Bank transfer",
            moves={f"member:{member['id']}:available": -amount, f"payouts:{data.method}:clearing": amount},
            refs={"withdrawal": row["id"]},
            actor=member["id"],
            now=now,
        )
        subject = f"withdrawal:{row['id']}"
        await same.store_events(
            s,
            [
                (
                    "withdrawal.requested",
                    subject,
                    member["id"],
                    {"withdrawal_id": row["id"], "method": data.method},
                )
            ],
            now,
        )
    return WithdrawalOut(
        id=row["id"],
        member_id=row["member_id"],
        method=row["method"],
        amount=money(row["amount"], "USD"),
        fee=money(row["fee"], "USD"),
        net=money(row["amount"] - row["fee"], "USD"),
        destination=loads(row["destination"]),
        status=row["status"],
        batch_ref=row["batch_ref"],
        provider_ref=row["provider_ref"],
        failure_reason=row["failure_reason"],
        completed_at=row["completed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        due_at=row["due_at"],
        overdue=False,  # due days from now
    )
