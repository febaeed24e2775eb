"""Orders: declarative processes, transitions, timers, proofs.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.orders.escrow import escrow_problem_lines as escrow_problem_lines
    from agorakit.orders.payments import pay_order as pay_order
    from agorakit.orders.process import DisputePolicy as DisputePolicy
    from agorakit.orders.process import Process as Process
    from agorakit.orders.process import Timer as Timer
    from agorakit.orders.process import Transition as Transition
    from agorakit.orders.schemas import ItemIn as ItemIn
    from agorakit.orders.schemas import OrderOut as OrderOut
    from agorakit.orders.schemas import SubmitProof as SubmitProof
    from agorakit.orders.service import create_order as create_order
    from agorakit.orders.service import fire as fire
    from agorakit.orders.service import fire_due_timers as fire_due_timers
    from agorakit.orders.service import get_order as get_order
    from agorakit.orders.service import locked_order_row as locked_order_row
    from agorakit.orders.service import order_by_id as order_by_id
    from agorakit.orders.service import quote_order as quote_order
    from agorakit.orders.service import registry as registry
    from agorakit.orders.service import set_form as set_form
    from agorakit.orders.service import submit_proof as submit_proof
    from agorakit.orders.service import visible_row as visible_row

EXPORTS: dict[str, str] = {
    "create_order": "agorakit.orders.service",
    "DisputePolicy": "agorakit.orders.process",
    "escrow_problem_lines": "agorakit.orders.escrow",
    "fire": "agorakit.orders.service",
    "fire_due_timers": "agorakit.orders.service",
    "get_order": "agorakit.orders.service",
    "ItemIn": "agorakit.orders.schemas",
    "locked_order_row": "agorakit.orders.service",
    "order_by_id": "agorakit.orders.service",
    "OrderOut": "agorakit.orders.schemas",
    "pay_order": "agorakit.orders.payments",
    "Process": "agorakit.orders.process",
    "quote_order": "agorakit.orders.service",
    "registry": "agorakit.orders.service",
    "set_form": "agorakit.orders.service",
    "submit_proof": "agorakit.orders.service",
    "SubmitProof": "agorakit.orders.schemas",
    "Timer": "agorakit.orders.process",
    "Transition": "agorakit.orders.process",
    "visible_row": "agorakit.orders.service",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
