"""The core's escrow effects: pay the seller when an order completes, refund the buyer
when it is cancelled.  Each single form is its set form called with one order, so one
order and a batch of them post through the same code."""

from __future__ import annotations

from agorakit.errors import Conflict
from agorakit.money import ledger
from agorakit.money.amounts import parse_amount
from agorakit.orders.creation import quote_order
from agorakit.orders.engine import TransitionContext
from agorakit.orders.process_registry import set_form
from agorakit.orders.quotes import load_quote_context, order_quantity
from agorakit.orders.schemas import OrderItemOut


async def _agreed_quote(ctx: TransitionContext) -> dict:
    """The fee breakdown agreed when the order was placed; priced now (its context read
    in one statement) for an order that kept none."""
    order = ctx.order
    quote = order.data.get("quote")
    if quote is not None:
        return quote
    context = await load_quote_context(
        listing_id=order.listing_id,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        quantity=order_quantity(item.quantity for item in order.items),
    )
    return quote_order(
        ctx.runtime,
        process=order.process,
        amount=sum(item_amount(i) for i in order.items),
        currency=order.amount.currency,
        buyer_id=order.buyer_id,
        seller_id=order.seller_id,
        data=order.data,
        context=context,
    )


def _release_posting(ctx: TransitionContext, quote: dict) -> ledger.NewPosting:
    """Pay the seller: escrow → seller available (net of fees) + escrow → platform:fees."""
    order = ctx.order
    if order.seller_id is None:
        raise Conflict(f"order {order.id} has no seller to pay")
    currency = order.amount.currency
    net, fees = quote["seller_net"], quote["platform_total"]
    escrow = ledger.escrow(f"order:{order.id}")
    lines = ledger.move(escrow, ledger.available(order.seller_id), net, currency)
    if fees:
        lines += ledger.move(escrow, ledger.PLATFORM_FEES, fees, currency)
    return ledger.NewPosting(
        key=f"order:{order.id}:release",
        kind="escrow_released",
        description=f"Order {order.id} completed: payment to the seller",
        lines=lines,
        refs={"order": order.id},
        actor_id=ctx.actor_id,
    )


async def release_escrow_many(contexts: list[TransitionContext]) -> None:
    """:func:`release_escrow` for several orders: their postings in one call."""
    if contexts:
        postings = [_release_posting(ctx, await _agreed_quote(ctx)) for ctx in contexts]
        await ledger.post_many(contexts[0].uow, postings)


@set_form(release_escrow_many)
async def release_escrow(ctx: TransitionContext) -> None:
    """Pay the seller: escrow → seller available (net of fees) + escrow → platform:fees."""
    await release_escrow_many([ctx])


def _refund_posting(ctx: TransitionContext, held: int) -> ledger.NewPosting:
    order = ctx.order
    escrow = ledger.escrow(f"order:{order.id}")
    return ledger.NewPosting(
        key=f"order:{order.id}:refund",
        kind="escrow_refunded",
        description=f"Order {order.id} cancelled: refund to your credit",
        lines=ledger.move(escrow, ledger.credit(order.buyer_id), held, order.amount.currency),
        refs={"order": order.id},
        actor_id=ctx.actor_id,
    )


async def refund_escrow_many(contexts: list[TransitionContext]) -> None:
    """:func:`refund_escrow` for several orders: their escrows read at once, their
    postings in one call."""
    if not contexts:
        return
    held = await ledger.balances_of(
        [(ledger.escrow(f"order:{ctx.order.id}"), ctx.order.amount.currency) for ctx in contexts]
    )
    postings = []
    for ctx in contexts:
        amount = held[(ledger.escrow(f"order:{ctx.order.id}"), ctx.order.amount.currency)]
        if amount:
            postings.append(_refund_posting(ctx, amount))
    if postings:
        await ledger.post_many(contexts[0].uow, postings)


@set_form(refund_escrow_many)
async def refund_escrow(ctx: TransitionContext) -> None:
    """Give the buyer back everything in the escrow, as site credit."""
    await refund_escrow_many([ctx])


def item_amount(item: OrderItemOut) -> int:

    return parse_amount(item.amount.amount, item.amount.currency, allow_zero=True)
