"""Disputes: the queue, a dispute with its order, money, history, conversation and proofs,
and its resolution (refund in full or in part, release, reject)."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from .evidence import conversation, member_names, optional
from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/disputes"
OUTCOMES = {
    "refund": "refunded to the buyer's credit",
    "release": "released to the seller",
    "reject": "rejected; the order goes back to where it was",
}


class DisputePages(Controller):
    path = "/disputes"

    @get("")
    async def queue(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        filters = ["status", "overdue", "process"]
        return await page.render_list("disputes.html", "/operator/disputes", cursor=cursor, filters=filters)

    @get("/{dispute_id:int}")
    async def dispute(self, page: NamedDependency[ConsolePage], dispute_id: FromPath[int]) -> Response[str]:
        dispute = await page.api.get(f"/disputes/{dispute_id}")
        order_id = dispute["order_id"]
        order = await page.api.get(f"/orders/{order_id}")
        history = await page.api.get(f"/orders/{order_id}/history")
        proofs = await page.api.get(f"/orders/{order_id}/proofs")
        escrow = await optional(
            page, f"/operator/ledger/accounts/order:{order_id}:escrow", currency=order["amount"]["currency"]
        )
        found = await optional(page, f"/orders/{order_id}/conversation")
        talk = await conversation(page, found["id"]) if found else None
        names = await member_names(
            page, [order["buyer_id"], order["seller_id"], dispute["opened_by"], dispute["resolved_by"]]
        )
        return page.render(
            "dispute.html",
            dispute=dispute,
            order=order,
            history=history["items"],
            proofs=proofs,
            escrow=escrow,
            conversation=talk,
            names=names,
            idempotency_key=uuid.uuid4().hex,
        )

    @post("/{dispute_id:int}/resolve")
    async def resolve(self, page: NamedDependency[ConsolePage], dispute_id: FromPath[int]) -> Redirect:
        form = await page.form()
        outcome = form.get("outcome", "")
        body: dict[str, object] = {"outcome": outcome, "note": form.get("note", "")}
        if outcome == "refund" and form.get("amount"):
            body["amount"] = form["amount"]
        call = page.api.post(
            f"/operator/disputes/{dispute_id}/resolve",
            body,
            idempotency_key=form.get("idempotency_key") or None,
        )
        done = f"Dispute #{dispute_id} {OUTCOMES.get(outcome, 'resolved')}."
        return await page.act(call, BASE, done, failed=f"{BASE}/{dispute_id}")
