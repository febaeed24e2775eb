"""Orders: declarative processes, transitions, timers, proofs.

The names below are this area's plugin API (``docs/plugin-api.md``); its modules are
internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agorakit.exports import lazy_exports

if TYPE_CHECKING:
    from agorakit.orders.creation import create_order as create_order
    from agorakit.orders.creation import quote_order as quote_order
    from agorakit.orders.data import merge_order_data as merge_order_data
    from agorakit.orders.data import merge_order_data_many as merge_order_data_many
    from agorakit.orders.delivery import deliver_order as deliver_order
    from agorakit.orders.engine import TransitionContext as TransitionContext
    from agorakit.orders.engine import fire as fire
    from agorakit.orders.engine import fire_in as fire_in
    from agorakit.orders.engine import move_in as move_in
    from agorakit.orders.escrow import escrow_problem_lines as escrow_problem_lines
    from agorakit.orders.events import OrderCreated as OrderCreated
    from agorakit.orders.events import OrderTimerFailed as OrderTimerFailed
    from agorakit.orders.events import OrderTransitioned as OrderTransitioned
    from agorakit.orders.events import ProofAccepted as ProofAccepted
    from agorakit.orders.events import ProofCorrectionRequested as ProofCorrectionRequested
    from agorakit.orders.events import ProofRejected as ProofRejected
    from agorakit.orders.events import ProofSubmitted as ProofSubmitted
    from agorakit.orders.fixed_price import deadline_of as deadline_of
    from agorakit.orders.fixed_price import fixed_price_process as fixed_price_process
    from agorakit.orders.open import open_orders as open_orders
    from agorakit.orders.payments import pay_order as pay_order
    from agorakit.orders.process import ActorNotAllowed as ActorNotAllowed
    from agorakit.orders.process import DisputePolicy as DisputePolicy
    from agorakit.orders.process import GuardFailed as GuardFailed
    from agorakit.orders.process import Process as Process
    from agorakit.orders.process import Timer as Timer
    from agorakit.orders.process import Transition as Transition
    from agorakit.orders.process import TransitionNotAllowed as TransitionNotAllowed
    from agorakit.orders.process import UnknownTransition as UnknownTransition
    from agorakit.orders.process_registry import SetForm as SetForm
    from agorakit.orders.process_registry import registry as registry
    from agorakit.orders.process_registry import set_form as set_form
    from agorakit.orders.proofs import accept_submitted_proofs as accept_submitted_proofs
    from agorakit.orders.proofs import accept_submitted_proofs_many as accept_submitted_proofs_many
    from agorakit.orders.proofs import has_submitted_proof as has_submitted_proof
    from agorakit.orders.proofs import review_proof as review_proof
    from agorakit.orders.proofs import submit_proof as submit_proof
    from agorakit.orders.proofs import submitted_proof_id as submitted_proof_id
    from agorakit.orders.queries import get_order as get_order
    from agorakit.orders.queries import locked_order_row as locked_order_row
    from agorakit.orders.queries import order_by_id as order_by_id
    from agorakit.orders.queries import roles_of as roles_of
    from agorakit.orders.queries import visible_row as visible_row
    from agorakit.orders.record import SellerRecord as SellerRecord
    from agorakit.orders.record import seller_record as seller_record
    from agorakit.orders.schemas import ItemIn as ItemIn
    from agorakit.orders.schemas import OrderOut as OrderOut
    from agorakit.orders.schemas import SubmitProof as SubmitProof
    from agorakit.orders.timers import fire_due_timers as fire_due_timers

EXPORTS: dict[str, str] = {
    "accept_submitted_proofs": "agorakit.orders.proofs",
    "accept_submitted_proofs_many": "agorakit.orders.proofs",
    "ActorNotAllowed": "agorakit.orders.process",
    "create_order": "agorakit.orders.creation",
    "deadline_of": "agorakit.orders.fixed_price",
    "deliver_order": "agorakit.orders.delivery",
    "DisputePolicy": "agorakit.orders.process",
    "escrow_problem_lines": "agorakit.orders.escrow",
    "fire": "agorakit.orders.engine",
    "fire_due_timers": "agorakit.orders.timers",
    "fire_in": "agorakit.orders.engine",
    "fixed_price_process": "agorakit.orders.fixed_price",
    "get_order": "agorakit.orders.queries",
    "GuardFailed": "agorakit.orders.process",
    "has_submitted_proof": "agorakit.orders.proofs",
    "ItemIn": "agorakit.orders.schemas",
    "locked_order_row": "agorakit.orders.queries",
    "merge_order_data": "agorakit.orders.data",
    "merge_order_data_many": "agorakit.orders.data",
    "move_in": "agorakit.orders.engine",
    "open_orders": "agorakit.orders.open",
    "order_by_id": "agorakit.orders.queries",
    "OrderCreated": "agorakit.orders.events",
    "OrderOut": "agorakit.orders.schemas",
    "OrderTimerFailed": "agorakit.orders.events",
    "OrderTransitioned": "agorakit.orders.events",
    "pay_order": "agorakit.orders.payments",
    "Process": "agorakit.orders.process",
    "ProofAccepted": "agorakit.orders.events",
    "ProofCorrectionRequested": "agorakit.orders.events",
    "ProofRejected": "agorakit.orders.events",
    "ProofSubmitted": "agorakit.orders.events",
    "quote_order": "agorakit.orders.creation",
    "registry": "agorakit.orders.process_registry",
    "review_proof": "agorakit.orders.proofs",
    "roles_of": "agorakit.orders.queries",
    "seller_record": "agorakit.orders.record",
    "SellerRecord": "agorakit.orders.record",
    "set_form": "agorakit.orders.process_registry",
    "SetForm": "agorakit.orders.process_registry",
    "submit_proof": "agorakit.orders.proofs",
    "SubmitProof": "agorakit.orders.schemas",
    "submitted_proof_id": "agorakit.orders.proofs",
    "Timer": "agorakit.orders.process",
    "Transition": "agorakit.orders.process",
    "TransitionContext": "agorakit.orders.engine",
    "TransitionNotAllowed": "agorakit.orders.process",
    "UnknownTransition": "agorakit.orders.process",
    "visible_row": "agorakit.orders.queries",
}
__all__ = sorted(EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, EXPORTS)
