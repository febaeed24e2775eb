"""Money: the site's fee income by day and kind over a range (a stacked column chart and
its figures), the platform totals, every payment, and the ledger check."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect

from agorakit.web import ApiError

from .charts import ColumnChart, column_chart
from .orders import optional
from .web import PREFIX, ConsolePage

BASE = f"{PREFIX}/money"


def income_chart(income: dict[str, Any]) -> ColumnChart:
    """The fee income's days as stacked columns, a part per kind."""
    days = [
        (day["day"], {kind: Decimal(amount["amount"]) for kind, amount in day["by_kind"].items()})
        for day in income["days"]
    ]
    title = f"Fee income per day and kind, {income['from']} to {income['to']}, in {income['currency']}"
    return column_chart(days, title=title, short=lambda day: day[5:])


class MoneyPages(Controller):
    path = "/money"

    @get("")
    async def money(
        self, page: NamedDependency[ConsolePage], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        filters = page.filters("from", "to", "status", "method")
        days = {key: filters[key] for key in ("from", "to") if key in filters}
        income, income_error = await optional(page, "/operator/ledger/fee-income", **days)
        payments, payments_error = await optional(
            page,
            "/operator/payments",
            cursor=cursor,
            limit=page.page_size,
            status=filters.get("status"),
            method=filters.get("method"),
        )
        payments = payments or {"items": [], "next_cursor": None}
        totals = await page.api.get("/operator/ledger/totals")
        return page.render(
            "money.html",
            income=income,
            income_error=income_error,
            chart=income_chart(income) if income else None,
            kinds=sorted(income["by_kind"]) if income else [],
            totals=totals["totals"],
            payments=payments["items"],
            payments_error=payments_error,
            next_cursor=payments["next_cursor"],
            filters=filters,
            cursor=cursor,
        )

    @post("/check")
    async def check(self, page: NamedDependency[ConsolePage]) -> Redirect:
        try:
            result = await page.api.post("/operator/ledger/check")
        except ApiError as error:
            if not error.refusal:
                raise
            return page.redirect(BASE, error.message(), "error")
        if result["ok"]:
            return page.redirect(BASE, "The ledger check found no problem: the books balance.")
        count = len(result["problems"])
        page.flash(f"The ledger check found {count} problem{'s' if count != 1 else ''}:", "error")
        for problem in result["problems"]:
            page.flash(problem, "error")
        return page.redirect(BASE)
