"""The bank_transfer plugin's domain events (registered through ``agorakit_event_types``)."""

from __future__ import annotations

from agorakit.events import Event


class PayoutBatchCreated(Event, frozen=True, kw_only=True):
    """An operator batched the requested bank withdrawals of a currency for payment."""

    name = "bank_transfer.payout_batch_created"
    #: the batch's reference (the subject is ``bank_transfer_batch:{ref}``)
    ref: str
    currency: str
    #: number of withdrawals in the batch
    count: int
    #: what the bank pays out, in minor units: the sum of each withdrawal's amount minus its fee
    total: int


#: this plugin's events
EVENTS: list[type[Event]] = [PayoutBatchCreated]
