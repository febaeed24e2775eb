"""Delivering an order of a fixed-price process (:mod:`.fixed_price`): the seller's
message and files, kept as the order's proof, which fires ``deliver``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.errors import Conflict, FieldError, Forbidden, ValidationFailed
from agorakit.orders.fixed_price import FixedPriceProcess
from agorakit.orders.process_registry import registry
from agorakit.orders.proofs import submit_proof
from agorakit.orders.queries import get_order
from agorakit.orders.schemas import OrderOut, SubmitProof

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.accounts.schemas import MemberOut
    from agorakit.runtime import Runtime


class NoDeliveries(Conflict):
    code = "no_deliveries"
    title = "The order's process takes no deliveries"


def is_fixed_price(runtime: Runtime, order: OrderOut) -> bool:
    """Whether the order follows a process :func:`fixed_price_process` built."""
    process = registry(runtime).processes.get((order.process, order.process_version))
    return isinstance(process, FixedPriceProcess)


async def deliver_order(
    runtime: Runtime,
    order_id: int,
    *,
    message: str,
    attachments: list[int],
    caller: MemberOut,
    order: OrderOut | None = None,
) -> OrderOut:
    """The seller delivers a fixed-price order: a message and files (ids uploaded with
    scope ``order:<id>``), kept as its proof, which fires ``deliver``.

    404 for an order the caller may not see, 409 ``no_deliveries`` for an order of
    another process, 403 unless the caller is its seller, 409 unless it is in progress,
    422 without a message and files.  ``order``: the order as :func:`get_order` just gave
    it to ``caller`` (saves reading it again).
    """
    if order is None or order.id != order_id:
        order = await get_order(runtime, order_id, caller=caller)
    if not is_fixed_price(runtime, order):
        raise NoDeliveries(
            f"order {order_id} follows process {order.process}, which takes no deliveries; "
            f"see GET /orders/{order_id} for what it allows",
            extra={"process": order.process},
        )
    if caller.id != order.seller_id:
        raise Forbidden("only the seller delivers the order")
    if order.state != "in_progress":
        raise Conflict(f"order {order_id} is {order.state}; only an order in progress can be delivered")
    if not message.strip() and not attachments:
        raise ValidationFailed([FieldError("message", "a delivery needs a message or files")])
    await submit_proof(
        runtime, order_id, SubmitProof(text=message, attachments=attachments), caller=caller, order=order
    )
    return await get_order(runtime, order_id, caller=caller)


__all__ = ["NoDeliveries", "deliver_order", "is_fixed_price"]
