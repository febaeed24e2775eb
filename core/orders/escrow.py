"""The escrow invariant of orders, as ``agorakit check-ledger`` and the worker check it.

What an order's escrow must hold follows from its state alone:

- an order in a final state holds nothing;
- an order waiting for its payment (a source state of its ``on_payment`` transition)
  holds nothing: its money arrives with the payment's settlement, which moves it on;
- any other order that is not final is paid and holds exactly what its buyer paid,
  the quote's ``buyer_total``, until a transition releases or refunds it.

A process without ``on_payment`` funds its orders its own way; only the first rule is
checked for its orders.  Each violation is one line naming the order, its state and the
amounts, in the ledger's words.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agorakit.money import ledger
from agorakit.money.amounts import format_amount
from agorakit.orders.process_registry import registry
from agorakit.orders.tables import Order

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

log = logging.getLogger("agorakit.orders")

#: orders read (and escrows looked up) per query
PAGE = 500


class EscrowProblem:
    """One order whose escrow does not hold what it must."""

    __slots__ = ("currency", "expected", "held", "order_id", "state")

    def __init__(self, order_id: int, state: str, currency: str, held: int, expected: int) -> None:
        self.order_id, self.state, self.currency = order_id, state, currency
        self.held, self.expected = held, expected

    def __str__(self) -> str:
        def amount(cents: int) -> str:
            return f"{format_amount(cents, self.currency)} {self.currency}"

        return (
            f"order:{self.order_id}:escrow {self.currency}: order {self.order_id} is {self.state} "
            f"and its escrow holds {amount(self.held)}, but must hold {amount(self.expected)}"
        )


def expected_escrow(process: Any, row: dict[str, Any]) -> int | None:
    """What an order's escrow must hold in its current state; None: the process does not
    say (no ``on_payment``, not final)."""
    if row["state"] in process.final:
        return 0
    transition = process.transition(process.on_payment) if process.on_payment else None
    if transition is None:
        return None
    if row["state"] in transition.sources:
        return 0
    return int(((row["data"] or {}).get("quote") or {}).get("buyer_total", 0))


async def escrow_problems(runtime: Runtime) -> list[EscrowProblem]:
    """Every order whose escrow breaks the invariant (see the module); empty = sound.

    Reads the orders that are not final, a page at a time, with their escrows, then the
    escrows that hold money for orders that are final (normally none)."""
    reg = registry(runtime)
    problems: list[EscrowProblem] = []
    seen: set[int] = set()
    for (name, version), process in sorted(reg.processes.items()):
        after = 0
        while True:
            rows = (
                await Order.select(Order.id, Order.state, Order.currency, Order.data)
                .where(
                    (Order.process == name)
                    & (Order.process_version == version)
                    & Order.state.not_in(list(process.final))
                    & (Order.id > after)
                )
                .order_by(Order.id)
                .limit(PAGE)
                .output(load_json=True)
            )
            if not rows:
                break
            after = rows[-1]["id"]
            held = await ledger.balances_of(
                [(ledger.escrow(f"order:{r['id']}"), r["currency"]) for r in rows]
            )
            for row in rows:
                seen.add(row["id"])
                expected = expected_escrow(process, row)
                actual = held[(ledger.escrow(f"order:{row['id']}"), row["currency"])]
                if expected is not None and actual != expected:
                    problems.append(EscrowProblem(row["id"], row["state"], row["currency"], actual, expected))
    for ref, currency, balance in await ledger.nonzero_escrows("order:"):
        tail = ref.removeprefix("order:")
        if not tail.isdigit() or int(tail) in seen:
            continue
        row = (
            await Order.select(Order.id, Order.state, Order.process, Order.process_version)
            .where(Order.id == int(tail))
            .first()
        )
        process = reg.processes.get((row["process"], row["process_version"])) if row else None
        if row is not None and process is not None and row["state"] in process.final:
            problems.append(EscrowProblem(row["id"], row["state"], currency, balance, 0))
    problems.sort(key=lambda p: (p.order_id, p.currency))
    return problems


async def escrow_problem_lines(runtime: Runtime) -> list[str]:
    """:func:`escrow_problems` as lines for ``check-ledger``."""
    return [str(problem) for problem in await escrow_problems(runtime)]


async def ledger_problems(runtime: Runtime) -> list[str]:
    """Everything ``agorakit check-ledger`` checks (and ``POST /operator/ledger/check``):
    every balance recomputed from its entries and every ledger invariant
    (:func:`agorakit.money.ledger.check_ledger`), the escrow of every order, and what
    plugins say their own escrows must hold (``agorakit_escrow_checks``).  Empty: sound."""
    plugins = await runtime.hooks.collect("agorakit_escrow_checks", runtime=runtime)
    return await ledger.check_ledger() + await escrow_problem_lines(runtime) + [str(line) for line in plugins]


__all__ = ["EscrowProblem", "escrow_problem_lines", "escrow_problems", "expected_escrow", "ledger_problems"]
