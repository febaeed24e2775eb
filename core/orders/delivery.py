"""Delivering an order of a fixed-price process (:mod:`.fixed_price`): the seller's
message and files, kept as the order's proof, which fires ``deliver``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.errors import Conflict, FieldError, Forbidden, ValidationFailed
from agorakit.orders.engine import check_process
from agorakit.orders.fixed_price import FixedPriceProcess
from agorakit.orders.process_registry import registry
from agorakit.orders.proofs import submit_proof_in
from agorakit.orders.queries import _to_order, _visible_roles, order_with_items, roles_of
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
    process: str | None = None,
) -> OrderOut:
    """The seller delivers a fixed-price order: a message and files (ids uploaded with
    scope ``order:<id>``), kept as its proof, which fires ``deliver``.

    404 for an order the caller may not see (or, with ``process``, of another process),
    409 ``no_deliveries`` for an order of another process, 403 unless the caller is its
    seller, 409 unless it is in progress, 422 without a message and files.  One unit of
    work: the order is read with its items and locked, checked, and delivered, and the
    answer is the order as that left it.  (``order`` is accepted for callers that read
    it before; it is read again with its lock.)
    """
    async with runtime.unit_of_work() as uow:
        row, items = await order_with_items(order_id, for_update=True)
        definition = registry(runtime).processes.get((row["process"], row["process_version"]))
        roles = await _visible_roles(runtime, row, caller, definition)
        check_process(row, process)
        current = await _to_order(row, roles=roles, process=definition, items=items)
        if not is_fixed_price(runtime, current):
            raise NoDeliveries(
                f"order {order_id} follows process {current.process}, which takes no deliveries; "
                f"see GET /orders/{order_id} for what it allows",
                extra={"process": current.process},
            )
        if caller.id != current.seller_id:
            raise Forbidden("only the seller delivers the order")
        if current.state != "in_progress":
            raise Conflict(f"order {order_id} is {current.state}; only an order in progress can be delivered")
        if not message.strip() and not attachments:
            raise ValidationFailed([FieldError("message", "a delivery needs a message or files")])
        await submit_proof_in(uow, current, SubmitProof(text=message, attachments=attachments), caller=caller)
        after = uow.held("order", order_id)
    return await _to_order(after, roles=roles_of(after, caller, definition), process=definition, items=items)


__all__ = ["NoDeliveries", "deliver_order", "is_fixed_price"]
