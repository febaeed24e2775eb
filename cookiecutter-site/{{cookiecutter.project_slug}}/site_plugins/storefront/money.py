"""Balance, adding funds and withdrawals.

Reads ``GET /me/balance``, ``GET /me/ledger``, ``GET /payments``, ``GET /withdrawals``,
``GET /payment-methods`` and ``GET /payout-methods``; acts through ``POST /payments`` (a
deposit into the member's credit, e.g. by bank transfer), ``POST /withdrawals`` and
``POST /withdrawals/{id}/cancel``.  Each form carries an ``Idempotency-Key``, so sending
it twice (a double click, a reload) moves money once.
"""

from __future__ import annotations

import uuid
from typing import Any

from agorakit.web import ApiError
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from .web import PREFIX, Shop

#: labels of the destination fields payout methods ask for (others are shown humanized)
FIELD_LABELS = {
    "account_holder": "Account holder",
    "iban": "IBAN",
    "bic": "BIC (optional)",
    "account_number": "Account number (US accounts)",
    "routing_number": "Routing number (US accounts)",
    "email": "Email address",
}


class MoneyPages(Controller):
    path = "/balance"

    async def _page(
        self,
        shop: Shop,
        *,
        status: int = 200,
        form: str = "",
        errors: dict[str, str] | None = None,
        problem: str | None = None,
        values: dict[str, str] | None = None,
    ) -> Any:
        shop.require_member()
        balances = (await shop.api.get("/me/balance"))["balances"]
        balance = next((b for b in balances if b["currency"] == shop.currency), None)
        statement = await shop.api.get("/me/ledger", limit=10)
        withdrawals = await shop.api.get("/withdrawals", limit=10)
        deposits = await shop.api.get("/payments", status="awaiting_funds", limit=100)
        payment_methods = [m for m in await shop.api.get("/payment-methods") if m["name"] != "balance"]
        payout_methods = await shop.api.get("/payout-methods")
        return shop.render(
            "balance.html",
            status=status,
            balance=balance,
            other_balances=[b for b in balances if b["currency"] != shop.currency],
            statement=statement["items"],
            withdrawals=withdrawals["items"],
            deposits=[p for p in deposits["items"] if p["purpose"] == "deposit"],
            payment_methods=payment_methods,
            payout_methods=payout_methods,
            labels=FIELD_LABELS,
            form=form,
            errors=errors or {},
            problem=problem,
            values=values or {},
            key=uuid.uuid4().hex,
        )

    @get("/", name="storefront_balance")
    async def balance(self, shop: NamedDependency[Shop]) -> Any:
        return await self._page(shop)

    @post("/deposit", name="storefront_deposit")
    async def deposit(self, shop: NamedDependency[Shop], request: Request[Any, Any, Any]) -> Any:
        form = await request.form()
        shop.require_member(f"{PREFIX}/balance")
        values = {"method": str(form.get("method") or ""), "amount": str(form.get("amount") or "").strip()}
        body = {"method": values["method"], "amount": {"amount": values["amount"], "currency": shop.currency}}
        try:
            await shop.api.post(
                "/payments", body, idempotency_key=str(form.get("idempotency_key") or "") or None
            )
        except ApiError as exc:
            if exc.status == 401:
                raise
            return await self._page(
                shop,
                status=exc.status,
                form="deposit",
                errors=exc.field_errors({"amount.amount": "amount", "amount.currency": "amount"}),
                problem=None if exc.errors else exc.detail,
                values=values,
            )
        return shop.redirect(f"{PREFIX}/balance", flash="Payment started: see how to pay below.")

    @post("/withdrawals", name="storefront_withdraw")
    async def withdraw(self, shop: NamedDependency[Shop], request: Request[Any, Any, Any]) -> Any:
        form = await request.form()
        shop.require_member(f"{PREFIX}/balance")
        method = str(form.get("method") or "")
        methods = {m["name"]: m for m in await shop.api.get("/payout-methods")}
        fields = methods[method]["destination_fields"] if method in methods else []
        destination = {name: value for name in fields if (value := str(form.get(name) or "").strip())}
        values = {"method": method, "amount": str(form.get("amount") or "").strip(), **destination}
        body = {
            "method": method,
            "amount": {"amount": values["amount"], "currency": shop.currency},
            "destination": destination,
        }
        try:
            await shop.api.post(
                "/withdrawals", body, idempotency_key=str(form.get("idempotency_key") or "") or None
            )
        except ApiError as exc:
            if exc.status == 401:
                raise
            return await self._page(
                shop,
                status=exc.status,
                form=f"withdraw:{method}",
                errors=exc.field_errors({"amount.amount": "amount", "amount.currency": "amount"}),
                problem=None if exc.errors else exc.detail,
                values=values,
            )
        return shop.redirect(f"{PREFIX}/balance", flash="Withdrawal requested.")

    @post("/withdrawals/{withdrawal_id:int}/cancel", name="storefront_cancel_withdrawal")
    async def cancel_withdrawal(self, shop: NamedDependency[Shop], withdrawal_id: FromPath[int]) -> Any:
        shop.require_member(f"{PREFIX}/balance")
        try:
            await shop.api.post(f"/withdrawals/{withdrawal_id}/cancel")
        except ApiError as exc:
            if exc.status in (401, 404):
                raise
            return await self._page(shop, status=exc.status, problem=exc.detail)
        return shop.redirect(
            f"{PREFIX}/balance", flash="Withdrawal cancelled: the money is back in your balance."
        )
