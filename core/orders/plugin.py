"""The core's own plugin for orders: tables, routes, the core's escrow effects and the
fixed-price process's guards and effects, the orders' events and who is told about them."""

from __future__ import annotations

import click

from agorakit import hookimpl
from agorakit.accounts import is_operator
from agorakit.errors import NotFound
from agorakit.orders.controllers import (
    OperatorLedgerController,
    OperatorOrderController,
    OperatorTimerController,
    OrderController,
)
from agorakit.orders.escrow import ledger_problems
from agorakit.orders.events import EVENTS
from agorakit.orders.fixed_price_rules import EFFECTS as FIXED_PRICE_EFFECTS
from agorakit.orders.fixed_price_rules import GUARDS as FIXED_PRICE_GUARDS
from agorakit.orders.notices import order_notices, read_ahead
from agorakit.orders.payments import check_payment_start, on_payment_settled
from agorakit.orders.piccolo_app import APP_CONFIG
from agorakit.orders.process_registry import registry
from agorakit.orders.queries import get_order
from agorakit.orders.settlement import refund_escrow, release_escrow
from agorakit.orders.timers import failed_timers_queue
from agorakit.runtime import run_with_runtime


@hookimpl(tryfirst=True)
def agorakit_startup(runtime):
    """Collect and check the processes, guards and effects (a process naming a guard no
    plugin provides stops start-up)."""
    registry(runtime)


@hookimpl
def agorakit_tables():

    return [APP_CONFIG]


@hookimpl
def agorakit_routes():

    return [OrderController, OperatorTimerController, OperatorOrderController, OperatorLedgerController]


@hookimpl
def agorakit_order_guards():
    """The fixed-price process's guards (``fixed_price_*``)."""
    return dict(FIXED_PRICE_GUARDS)


@hookimpl
def agorakit_order_effects():
    """The escrow effects, and the fixed-price process's (``fixed_price_*``)."""
    return {"release_escrow": release_escrow, "refund_escrow": refund_escrow, **FIXED_PRICE_EFFECTS}


@hookimpl
async def agorakit_payment_starting(uow, amount, currency, purpose, escrow_ref):

    await check_payment_start(uow, amount=amount, currency=currency, purpose=purpose, escrow_ref=escrow_ref)


@hookimpl
async def agorakit_payment_settled(uow, payment):

    await on_payment_settled(uow, payment)


@hookimpl
def agorakit_event_types():

    return EVENTS


@hookimpl(trylast=True)
async def agorakit_notify(event, runtime):

    return await order_notices(event, runtime)


@hookimpl
def agorakit_notices_read_ahead(events):

    return read_ahead(events)


@hookimpl
async def agorakit_scope_access(scope, member, write, runtime):
    """Files of ``order:<id>``: its buyer and seller upload and read them; operators read them."""
    kind, _, ident = scope.partition(":")
    if kind != "order":
        return None
    order = await get_order(runtime, int(ident), caller=member)
    if member.id in (order.buyer_id, order.seller_id):
        return True
    if not write and is_operator(member):
        return True
    raise NotFound(f"there is no order {ident}")


# The ledger check runs here, in the area above money: it checks the orders' escrows too.
@hookimpl
def agorakit_cli(cli: click.Group) -> None:
    cli.add_command(check_ledger)


@click.command("check-ledger")
@click.pass_context
def check_ledger(ctx: click.Context) -> None:
    """Recompute every balance from the entries and check every invariant, including the
    escrow of every order: nothing once final or while unpaid, exactly what the buyer
    paid while it runs, and what plugins say their own escrows must hold
    (``agorakit_escrow_checks``); exit 1 on a problem."""
    problems = run_with_runtime(ctx, ledger_problems)
    if problems:
        for problem in problems:
            click.echo(f"PROBLEM {problem}", err=True)
        raise click.ClickException(f"the ledger has {len(problems)} problem(s)")
    click.echo(
        "ledger ok: every transaction balances, every balance matches its entries, "
        "every order's escrow holds what it must, and so does every plugin's (agorakit_escrow_checks)"
    )


@hookimpl
async def agorakit_operator_queues():
    """Order timers whose transition failed (no due rule)."""

    return [await failed_timers_queue()]
