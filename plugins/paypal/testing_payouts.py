"""Payouts v1 of the local PayPal (:mod:`agorakit.plugins.paypal.testing`): batches and items
whose status tests move, the 30-day duplicate ``sender_batch_id`` rule, ``GET`` batch with
pages, ``GET`` item and the cancel of unclaimed items."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import httpx

from agorakit.plugins.paypal.testing_support import (
    FINAL_ITEM_STATUSES,
    SANDBOX,
    SENDER_BATCH_ID_DAYS,
    FakeCore,
    iso_time,
    paypal_id,
)


class FakePayouts(FakeCore):
    """The Payouts part of :class:`~agorakit.plugins.paypal.testing.FakePayPal`."""

    batches: dict[str, dict[str, Any]]
    items: dict[str, dict[str, Any]]
    sender_batch_ids: dict[str, tuple[str, datetime]]

    def _create_payout(self, request: httpx.Request, body: Any) -> httpx.Response:
        header = body["sender_batch_header"]
        sender_batch_id = header.get("sender_batch_id") or paypal_id("AUTO-")
        now = self.now()
        seen = self.sender_batch_ids.get(sender_batch_id)
        if seen is not None and now - seen[1] < timedelta(days=SENDER_BATCH_ID_DAYS):
            original = seen[0]
            return self._json(
                400,
                {
                    "name": "USER_BUSINESS_ERROR",
                    "message": "User business error.",
                    "debug_id": self._debug_id(),
                    "information_link": "https://developer.paypal.com/docs/api/payments.payouts-batch/#errors",
                    "details": [
                        {
                            "field": "SENDER_BATCH_ID",
                            "location": "body",
                            "issue": f"Batch with given sender_batch_id already exists: {sender_batch_id}",
                        }
                    ],
                    "links": [
                        {"href": f"{SANDBOX}/v1/payments/payouts/{original}", "rel": "self", "method": "GET"}
                    ],
                },
            )
        currencies = {item["amount"]["currency"] for item in body["items"]}
        if len(currencies) != 1:
            return self._error(
                400,
                "INVALID_REQUEST",
                "INVALID_PARAMETER_VALUE",
                "All items in a payout must use one currency",
            )
        batch_id = paypal_id()
        items = []
        for item in body["items"]:
            item_id = paypal_id(length=13)
            self.items[item_id] = {
                "payout_item_id": item_id,
                "transaction_id": paypal_id(length=17),
                "activity_id": paypal_id(length=17),
                "transaction_status": "PENDING",
                "payout_item_fee": {"currency": item["amount"]["currency"], "value": "0.00"},
                "payout_batch_id": batch_id,
                "sender_batch_id": sender_batch_id,
                "payout_item": {
                    "recipient_type": item.get("recipient_type") or header.get("recipient_type") or "EMAIL",
                    "amount": dict(item["amount"]),
                    "note": item.get("note", ""),
                    "receiver": item["receiver"],
                    "sender_item_id": item.get("sender_item_id", ""),
                    "recipient_wallet": "PAYPAL",
                },
                "time_processed": iso_time(now),
            }
            items.append(item_id)
        total = sum(_cents(self.items[i]["payout_item"]["amount"]["value"]) for i in items)
        self.batches[batch_id] = {
            "payout_batch_id": batch_id,
            "denied": False,
            "time_created": iso_time(now),
            "sender_batch_header": {
                k: v for k, v in header.items() if k in ("sender_batch_id", "email_subject", "email_message")
            }
            | {"sender_batch_id": sender_batch_id},
            "currency": currencies.pop(),
            "total": total,
            "items": items,
        }
        self.sender_batch_ids[sender_batch_id] = (batch_id, now)
        return self._json(
            201,
            {
                "batch_header": {
                    "payout_batch_id": batch_id,
                    "batch_status": "PENDING",
                    "sender_batch_header": self.batches[batch_id]["sender_batch_header"],
                },
                "links": [
                    {"href": f"{SANDBOX}/v1/payments/payouts/{batch_id}", "rel": "self", "method": "GET"}
                ],
            },
        )

    def batch_status(self, batch_id: str) -> str:
        batch = self.batches[batch_id]
        if batch["denied"]:
            return "DENIED"
        statuses = [self.items[i]["transaction_status"] for i in batch["items"]]
        if all(s == "PENDING" for s in statuses):
            return "PENDING"
        if all(s in FINAL_ITEM_STATUSES | {"UNCLAIMED"} for s in statuses):
            return "SUCCESS"
        return "PROCESSING"

    def _batch_header(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        return {
            "payout_batch_id": batch_id,
            "batch_status": self.batch_status(batch_id),
            "time_created": batch["time_created"],
            "sender_batch_header": batch["sender_batch_header"],
            "funding_source": "BALANCE",
            "amount": {"currency": batch["currency"], "value": _value(batch["total"])},
            "fees": {"currency": batch["currency"], "value": "0.00"},
        }

    def batch_resource(self, batch_id: str) -> dict[str, Any]:
        """The batch as a PAYMENT.PAYOUTSBATCH.* webhook carries it (no items)."""
        return {
            "batch_header": self._batch_header(batch_id),
            "links": [{"href": f"{SANDBOX}/v1/payments/payouts/{batch_id}", "rel": "self", "method": "GET"}],
        }

    def _get_batch(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        if id not in self.batches:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        page = int(request.url.params.get("page", "1") or 1)
        size = int(request.url.params.get("page_size", "1000") or 1000)
        ids = self.batches[id]["items"]
        chunk = ids[(page - 1) * size : page * size]
        out: dict[str, Any] = {
            "batch_header": self._batch_header(id),
            "items": [self._item_in_batch(i) for i in chunk],
            "links": [
                {
                    "href": f"{SANDBOX}/v1/payments/payouts/{id}?page={page}&page_size={size}",
                    "rel": "self",
                    "method": "GET",
                }
            ],
        }
        if request.url.params.get("total_required") == "true":
            out["total_items"] = len(ids)
            out["total_pages"] = max(1, -(-len(ids) // size))
        return self._json(200, out)

    def _item_in_batch(self, item_id: str) -> dict[str, Any]:
        item = copy.deepcopy(self.items[item_id])
        item.pop("sender_batch_id", None)  # not a property of payout_batch_items
        item["links"] = [
            {"href": f"{SANDBOX}/v1/payments/payouts-item/{item_id}", "rel": "item", "method": "GET"}
        ]
        return item

    def item_resource(self, item_id: str) -> dict[str, Any]:
        """The item as GET /v1/payments/payouts-item/{id} and the PAYMENT.PAYOUTS-ITEM.* webhooks show it."""
        item = copy.deepcopy(self.items[item_id])
        item["links"] = [
            {"href": f"{SANDBOX}/v1/payments/payouts-item/{item_id}", "rel": "self", "method": "GET"}
        ]
        return item

    def _get_item(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        if id not in self.items:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        return self._json(200, self.item_resource(id))

    def _cancel_item(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        if id not in self.items:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if self.items[id]["transaction_status"] != "UNCLAIMED":
            return self._json(
                400,
                {
                    "name": "ITEM_INCORRECT_STATUS",
                    "message": "You can only cancel items that are in UNCLAIMED state.",
                    "debug_id": self._debug_id(),
                },
            )
        self.items[id]["transaction_status"] = "RETURNED"
        return self._json(200, self.item_resource(id))

    def item_id(self, sender_item_id: str) -> str:
        """PayPal's item id for one of our ``sender_item_id``s (the newest such item)."""
        found = [
            i for i, item in self.items.items() if item["payout_item"]["sender_item_id"] == sender_item_id
        ]
        if not found:
            raise KeyError(f"no payout item with sender_item_id {sender_item_id!r}")
        return found[-1]

    def set_item_status(self, item: str, status: str, *, error: str | None = None) -> str:
        """Move a payout item (PayPal id or sender_item_id) to ``status``; returns its PayPal id."""
        item_id = item if item in self.items else self.item_id(item)
        self.items[item_id]["transaction_status"] = status
        if error:
            self.items[item_id]["errors"] = {
                "name": error,
                "message": f"{error} (simulated)",
                "debug_id": self._debug_id(),
            }
        return item_id

    def deny_batch(self, batch_id: str) -> None:
        self.batches[batch_id]["denied"] = True


def _cents(value: str) -> int:
    units, _, fraction = value.partition(".")
    return int(units) * 100 + int((fraction + "00")[:2])


def _value(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"
