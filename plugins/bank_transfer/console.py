"""The bank_transfer plugin's pages in the operator console (``/console/bank_transfer``).

- **Bank transfers to confirm**: the pay-ins waiting for their money, with what an
  operator matches on the bank statement (reference, amount, payer, what it pays), and a
  confirm form per payment (``POST /bank-transfer/payments/{id}/confirm``).
- **Bank payouts**: the requested bank withdrawals waiting to be batched, "Create a
  batch" per currency (``POST /bank-transfer/payout-batches``), the batches, a batch with
  its withdrawals, its CSV (the API's export, passed on as a download) and "Mark paid" /
  "Mark failed" per withdrawal (the core's ``/operator/withdrawals/{id}/complete|fail``).

Every read and action is a call to the site's API with the operator's token.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.web import PAGE_HEADERS, ApiError, ConsoleLink, ConsolePages, PageContext

NAME = "bank_transfer"
BASE = f"/console/{NAME}"
METHOD = "bank_transfer"
#: a payment waiting for an operator's confirmation
AWAITING = "awaiting_funds"
#: what a payout batch's reference looks like (``BT-20260105-9F3A1C2B``)
BATCH_REF = re.compile(r"^[A-Za-z0-9_-]{1,60}$")


def _ref(ref: str) -> str:
    """A batch reference fit for a path (anything else is no page)."""
    if not BATCH_REF.match(ref):
        raise NotFoundException(f"there is no payout batch {ref!r}")
    return quote(ref, safe="")


async def _names(page: PageContext, member_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The members (``GET /operator/members/{id}``) shown next to their money, by id."""
    members: dict[int, dict[str, Any]] = {}
    for member_id in sorted(member_ids):
        try:
            members[member_id] = await page.api.get(f"/operator/members/{member_id}")
        except ApiError as error:
            if error.status != 404:
                raise
    return members


def paid_for(payment: dict[str, Any]) -> dict[str, Any]:
    """What a payment pays: a top-up of the payer's credit, an order, or another escrow."""
    ref = payment.get("escrow_ref") or ""
    if payment.get("purpose") == "deposit":
        return {"kind": "deposit"}
    if ref.startswith("order:") and ref[6:].isdigit():
        return {"kind": "order", "order_id": int(ref[6:])}
    return {"kind": "escrow", "ref": ref}


class BankTransferPages(Controller):
    path = ""

    @get("/payments")
    async def payments(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        async def payers(answer: dict[str, Any]) -> dict[str, Any]:
            for payment in answer["items"]:
                payment["pays"] = paid_for(payment)
            return {"payers": await _names(page, {payment["payer_id"] for payment in answer["items"]})}

        params = {"method": METHOD, "status": AWAITING}
        return await page.render_list(
            "bank_transfer/payments.html", "/operator/payments", cursor=cursor, params=params, more=payers
        )

    @post("/payments/{payment_id:int}/confirm")
    async def confirm(self, page: NamedDependency[PageContext], payment_id: FromPath[int]) -> Redirect:
        form = await page.form()
        body = {
            "amount": {"amount": form.get("amount", ""), "currency": form.get("currency", "").upper()},
            "reference": form.get("reference", ""),
        }
        call = page.api.post(f"/bank-transfer/payments/{payment_id}/confirm", body)
        done = f"Payment #{payment_id} confirmed: the money is booked."
        return await page.act(call, f"{BASE}/payments", done)

    @get("/payouts")
    async def payouts(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        async def members(answer: dict[str, Any]) -> dict[str, Any]:
            return {"members": await _names(page, {item["member_id"] for item in answer["items"]})}

        return await page.render_list(
            "bank_transfer/payouts.html",
            "/operator/withdrawals",
            cursor=cursor,
            params={"method": METHOD, "status": "requested"},
            more=members,
            currencies=page.runtime.currencies,
        )

    @post("/batches")
    async def create_batch(self, page: NamedDependency[PageContext]) -> Redirect:
        form = await page.form()
        currency = form.get("currency", "").upper()
        try:
            batch = await page.api.post("/bank-transfer/payout-batches", {"currency": currency})
        except ApiError as error:
            if not error.refusal:
                raise
            return page.redirect(f"{BASE}/payouts", error.message(), "error")
        done = f"Batch {batch['ref']} created: {batch['count']} withdrawals, {batch['total']['amount']} {currency}."
        return page.redirect(f"{BASE}/batches/{_ref(batch['ref'])}", done)

    @get("/batches")
    async def batches(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        return await page.render_list(
            "bank_transfer/batches.html", "/bank-transfer/payout-batches", cursor=cursor
        )

    @get("/batches/{ref:str}")
    async def batch(self, page: NamedDependency[PageContext], ref: FromPath[str]) -> Response[str]:
        batch = await page.api.get(f"/bank-transfer/payout-batches/{_ref(ref)}")
        withdrawals = [await page.api.get(f"/withdrawals/{item}") for item in batch["withdrawal_ids"]]
        members = await _names(page, {item["member_id"] for item in withdrawals})
        return page.render("bank_transfer/batch.html", batch=batch, withdrawals=withdrawals, members=members)

    @get("/batches/{ref:str}/csv")
    async def batch_csv(self, page: NamedDependency[PageContext], ref: FromPath[str]) -> Response[bytes]:
        answer = await page.api.download(f"/bank-transfer/payout-batches/{_ref(ref)}/csv")
        disposition = answer.headers.get("content-disposition") or f'attachment; filename="{ref}.csv"'
        return Response(
            content=answer.content,
            media_type=answer.headers.get("content-type") or "text/csv; charset=utf-8",
            headers={**PAGE_HEADERS, "Content-Disposition": disposition},
        )

    @post("/withdrawals/{withdrawal_id:int}/complete")
    async def complete(self, page: NamedDependency[PageContext], withdrawal_id: FromPath[int]) -> Redirect:
        form = await page.form()
        back = f"{BASE}/batches/{_ref(form.get('batch', ''))}" if form.get("batch") else f"{BASE}/batches"
        body = {"provider_ref": form.get("provider_ref") or None}
        call = page.api.post(f"/operator/withdrawals/{withdrawal_id}/complete", body)
        return await page.act(call, back, f"Withdrawal #{withdrawal_id} marked paid.")

    @post("/withdrawals/{withdrawal_id:int}/fail")
    async def fail(self, page: NamedDependency[PageContext], withdrawal_id: FromPath[int]) -> Redirect:
        form = await page.form()
        back = f"{BASE}/batches/{_ref(form.get('batch', ''))}" if form.get("batch") else f"{BASE}/batches"
        call = page.api.post(
            f"/operator/withdrawals/{withdrawal_id}/fail", {"reason": form.get("reason", "")}
        )
        done = f"Withdrawal #{withdrawal_id} marked failed: the money is back on the member's balance."
        return await page.act(call, back, done)


def console_pages() -> ConsolePages:
    return ConsolePages(
        name=NAME,
        title="Bank transfer",
        handlers=[BankTransferPages],
        links=[
            ConsoleLink("Bank transfers to confirm", "payments"),
            ConsoleLink("Bank payouts", "payouts"),
            ConsoleLink("Payout batches", "batches"),
        ],
        template_dir=Path(__file__).parent / "console_templates",
        queue_pages={"bank_transfer.payments": "payments"},
    )
