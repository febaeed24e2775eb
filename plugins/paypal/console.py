"""The PayPal plugins' pages in the operator console (``/console/paypal``), when
``payouts_paypal`` or ``payments_paypal`` is enabled.

- **PayPal payouts** (``payouts_paypal``): the payout batches (``GET /paypal/payouts/batches``),
  "Run payouts now" (``POST /paypal/payouts/run``), a batch with its items
  (``GET /paypal/payouts/batches/{id}``), "Sync now" (``POST .../{id}/sync``) and "Cancel
  the unclaimed payout" per unclaimed item (``POST /paypal/payouts/withdrawals/{id}/cancel``).
- **PayPal webhook events**: the deliveries PayPal made and what became of each
  (``GET /paypal/webhook-events``).

PayPal itself may be unconfigured or not answering: the API then says so (503), and the
page shows its reason as a message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from agorakit.runtime import Runtime
from agorakit.web import ApiError, ConsoleLink, ConsolePages, PageContext

NAME = "paypal"
BASE = f"/console/{NAME}"
#: a batch's statuses (``status`` filter of the batches)
BATCH_STATUSES = ("created", "submitted", "done", "rejected", "blocked")
#: a webhook event's statuses
EVENT_STATUSES = ("received", "processed", "ignored", "failed")


async def act(
    page: PageContext, call: Awaitable[Any], back: str, done: str | Callable[[Any], str]
) -> Redirect:
    """A form's API call, as ``page.act`` (``done`` may word the API's answer); PayPal
    being unconfigured or not answering (503) is an error message too, not an error page."""
    try:
        answer = await call
    except ApiError as error:
        if not (error.refusal or error.status == 503):
            raise
        return page.redirect(back, error.message(), "error")
    return page.redirect(back, done(answer) if callable(done) else done)


def run_report(report: dict[str, list[int]]) -> str:
    """``POST /paypal/payouts/run``'s answer in a sentence."""
    counts = ", ".join(f"{key} {len(report[key])}" for key in ("batched", "submitted", "synced", "errors"))
    return f"PayPal payouts run. Batches {counts}."


class PayoutPages(Controller):
    path = ""

    @get("/batches")
    async def batches(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        return await page.render_list(
            "paypal/batches.html",
            "/paypal/payouts/batches",
            cursor=cursor,
            filters=["status"],
            statuses=BATCH_STATUSES,
        )

    @post("/run")
    async def run(self, page: NamedDependency[PageContext]) -> Redirect:
        return await act(page, page.api.post("/paypal/payouts/run"), f"{BASE}/batches", run_report)

    @get("/batches/{batch_id:int}")
    async def batch(self, page: NamedDependency[PageContext], batch_id: FromPath[int]) -> Response[str]:
        batch = await page.api.get(f"/paypal/payouts/batches/{batch_id}")
        return page.render("paypal/batch.html", batch=batch)

    @post("/batches/{batch_id:int}/sync")
    async def sync(self, page: NamedDependency[PageContext], batch_id: FromPath[int]) -> Redirect:
        call = page.api.post(f"/paypal/payouts/batches/{batch_id}/sync")
        return await act(page, call, f"{BASE}/batches/{batch_id}", f"Batch #{batch_id} synced with PayPal.")

    @post("/withdrawals/{withdrawal_id:int}/cancel")
    async def cancel(self, page: NamedDependency[PageContext], withdrawal_id: FromPath[int]) -> Redirect:
        form = await page.form()
        batch = form.get("batch", "")
        back = f"{BASE}/batches/{batch}" if batch.isdigit() else f"{BASE}/batches"
        call = page.api.post(f"/paypal/payouts/withdrawals/{withdrawal_id}/cancel")
        done = f"Withdrawal #{withdrawal_id}'s unclaimed payout cancelled: the money is back on the member's balance."
        return await act(page, call, back, done)


class WebhookPages(Controller):
    path = ""

    @get("/webhook-events")
    async def events(
        self, page: NamedDependency[PageContext], cursor: FromQuery[str | None] = None
    ) -> Response[str]:
        return await page.render_list(
            "paypal/webhook_events.html",
            "/paypal/webhook-events",
            cursor=cursor,
            filters=["event_type", "status"],
            statuses=EVENT_STATUSES,
        )


def console_pages(runtime: Runtime) -> ConsolePages | None:
    """The pages of the PayPal methods the site enabled (none without either)."""
    enabled = set(runtime.settings.site.plugins)
    if not enabled & {"payouts_paypal", "payments_paypal"}:
        return None
    handlers: list[Any] = [WebhookPages]
    links = [ConsoleLink("PayPal webhook events", "webhook-events")]
    if "payouts_paypal" in enabled:
        handlers.insert(0, PayoutPages)
        links.insert(0, ConsoleLink("PayPal payouts", "batches"))
    return ConsolePages(
        name=NAME,
        title="PayPal",
        handlers=handlers,
        links=links,
        template_dir=Path(__file__).parent / "console_templates",
        queue_pages={"paypal.webhooks_failed": "webhook-events?status=failed"},
    )
