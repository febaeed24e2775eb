"""acmepay_payouts: withdrawals paid out automatically by a payout provider, "Acme Pay".

Members withdraw to their Acme Pay account (``{"email": ...}``).  Every worker sweep
calls the method's ``sync``: it sends the waiting withdrawals to the provider as one
batch, then applies what the provider reports about the withdrawals it was sent.  A
withdrawal the provider never reports on is settled by an operator:
``POST /acmepay/batches/{batch_ref}/settle``.

    [site]
    plugins = ["acmepay_payouts"]

    [money]
    payout_methods = ["acmepay"]
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from agorakit import hookimpl
from agorakit.accounts import operator_only
from agorakit.errors import FieldError, NotFound, ValidationFailed
from agorakit.http import MemberRequest
from agorakit.money import (
    attach_to_batch,
    batch_withdrawals,
    claim_waiting,
    complete_payout,
    fail_payout,
    format_amount,
)
from agorakit.runtime import Runtime

#: the method's name: what a site binds in [money] payout_methods, and its ledger
#: accounts payouts:acmepay:clearing and external:acmepay
METHOD = "acmepay"


class AcmePayClient:
    """The provider's API.  Kept in memory here so that the example runs; a real plugin
    calls the provider over HTTP in these three methods."""

    def __init__(self) -> None:
        #: item id -> the item as the provider holds it
        self.items: dict[str, dict[str, Any]] = {}
        self._unreported: list[str] = []

    async def send_batch(self, batch_ref: str, items: list[dict[str, Any]]) -> None:
        """Pay these items.  The provider pays an item id once, however often it is sent."""
        for item in items:
            self.items.setdefault(item["item_id"], {**item, "batch_ref": batch_ref, "status": "pending"})

    async def final_outcomes(self) -> list[dict[str, Any]]:
        """The items that reached a final status since the last call."""
        reported, self._unreported = self._unreported, []
        return [self.items[item_id] for item_id in reported]

    def decide(self, item_id: str, status: Literal["paid", "failed"], detail: str) -> None:
        """What the provider's side does on its own (here: what tests make it do)."""
        self.items[item_id].update(status=status, detail=detail)
        self._unreported.append(item_id)


class AcmePayout:
    name = METHOD
    label = "Acme Pay"
    #: settled by the provider, never by hand through the core's operator routes
    manual = False
    destination_fields = ["email"]

    def __init__(self, client: AcmePayClient) -> None:
        self.client = client

    def minimum(self, currency: str) -> int:
        return 500  # 5.00

    def fee(self, amount: int, currency: str) -> int:
        return 25  # 0.25, kept by the site

    def fee_description(self, currency: str) -> str:
        return f"{format_amount(25, currency)} {currency} per withdrawal"

    def validate_destination(self, destination: dict[str, Any]) -> dict[str, Any]:
        email = destination.get("email") if isinstance(destination, dict) else None
        if not isinstance(email, str) or "@" not in email.strip():
            raise ValidationFailed(
                [FieldError("destination.email", "give the email of your Acme Pay account")]
            )
        return {"email": email.strip().lower()}

    async def sync(self, runtime: Any) -> dict[str, Any]:
        """The worker's step (every sweep; safe when several workers run it at once)."""
        return {"sent": await self.send_waiting(runtime), "settled": await self.apply_outcomes(runtime)}

    async def send_waiting(self, runtime: Any) -> list[int]:
        """Send the waiting withdrawals as one batch; the ids sent."""
        async with runtime.unit_of_work() as uow:
            # Locked until this unit of work ends: a second worker claims other ones.
            waiting = await claim_waiting(uow, METHOD, limit=500)
            if not waiting:
                return []
            batch_ref = f"acme-{uow.now:%Y%m%d%H%M%S}-{waiting[0].id}"
            await attach_to_batch(uow, [w.id for w in waiting], batch_ref=batch_ref)
            # Sent before the commit: if sending fails, nothing was attached and the next
            # sweep sends them again; the item ids keep the provider from paying twice.
            await self.client.send_batch(
                batch_ref,
                [
                    {
                        "item_id": f"WD-{w.id}",
                        "email": w.destination["email"],
                        "amount": w.net,
                        "currency": w.currency,
                    }
                    for w in waiting
                ],
            )
        return [w.id for w in waiting]

    async def apply_outcomes(self, runtime: Any) -> dict[int, str]:
        """What the provider reports: each withdrawal completed or failed, in a unit of
        work of its own; a repeated report moves no money.  Withdrawal id -> its status."""
        settled = {}
        for item in await self.client.final_outcomes():
            withdrawal_id = int(item["item_id"].removeprefix("WD-"))
            if item["status"] == "paid":
                settled[withdrawal_id] = await complete_payout(
                    runtime, withdrawal_id, provider_ref=item["detail"]
                )
            else:
                settled[withdrawal_id] = await fail_payout(runtime, withdrawal_id, reason=item["detail"])
        return settled


class Settle(msgspec.Struct, forbid_unknown_fields=True):
    withdrawal_id: int
    #: "paid": the provider paid it (provider_ref: its payment id); "failed": it did not
    #: and never will (reason: shown to the member), the money goes back to them
    outcome: Literal["paid", "failed"]
    provider_ref: str | None = None
    reason: str = ""


class Settled(msgspec.Struct):
    withdrawal_id: int
    #: completed or failed; the status it already had when it was settled before
    status: str


class AcmePayOperatorController(Controller):
    path = "/acmepay/batches"
    tags = ["acmepay"]
    guards = [operator_only]

    @post(
        "/{batch_ref:str}/settle",
        summary="Settle a withdrawal the provider did not report",
        status_code=HTTP_200_OK,
    )
    async def settle(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        batch_ref: FromPath[str],
        data: JSONBody[Settle],
    ) -> Settled:
        ours = {w.id for w in await batch_withdrawals(batch_ref) if w.method == METHOD}
        if data.withdrawal_id not in ours:
            raise NotFound(f"{METHOD} batch {batch_ref!r} has no withdrawal {data.withdrawal_id}")
        operator = request.user.id
        if data.outcome == "paid":
            status = await complete_payout(
                runtime, data.withdrawal_id, provider_ref=data.provider_ref, actor_id=operator
            )
        else:
            status = await fail_payout(runtime, data.withdrawal_id, reason=data.reason, actor_id=operator)
        return Settled(withdrawal_id=data.withdrawal_id, status=status)


CLIENT = AcmePayClient()


@hookimpl
def agorakit_payout_methods() -> list[AcmePayout]:
    return [AcmePayout(CLIENT)]


@hookimpl
def agorakit_routes() -> list[type[Controller]]:
    return [AcmePayOperatorController]
