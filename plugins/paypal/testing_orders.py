"""Orders v2 of the local PayPal (:mod:`agorakit.plugins.paypal.testing`): create (with
``PayPal-Request-Id`` replay), the buyer's approval (a test helper: in real life the buyer
does it on PayPal's site), capture with ``ORDER_NOT_APPROVED``, ``ORDER_ALREADY_CAPTURED``,
``INSTRUMENT_DECLINED`` and pending captures."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx

from agorakit.plugins.paypal.testing_support import (
    REQUEST_ID_HOURS,
    SANDBOX,
    FakeCore,
    StoredAnswer,
    iso_time,
    paypal_id,
)


class FakeOrders(FakeCore):
    """The Orders part of :class:`~agorakit.plugins.paypal.testing.FakePayPal`."""

    orders: dict[str, dict[str, Any]]
    captures: dict[str, str]
    _request_ids: dict[tuple[str, str], StoredAnswer]
    _declines: set[str]
    _pending: set[str]

    def _replayed(self, request: httpx.Request) -> httpx.Response | None:
        request_id = request.headers.get("paypal-request-id")
        if not request_id:
            return None
        stored = self._request_ids.get((request_id, request.url.path))
        if stored is None or self.now() - stored.at > timedelta(hours=REQUEST_ID_HOURS):
            return None
        return self._json(stored.status, copy.deepcopy(stored.body))

    def _remember(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        request_id = request.headers.get("paypal-request-id")
        if request_id and response.is_success:
            self._request_ids[(request_id, request.url.path)] = StoredAnswer(
                response.status_code, response.json(), self.now()
            )
        return response

    def _create_order(self, request: httpx.Request, body: Any) -> httpx.Response:
        replay = self._replayed(request)
        if replay is not None:
            return replay
        order_id = paypal_id(length=17)
        now = iso_time(self.now())
        units = []
        for unit in body["purchase_units"]:
            units.append(
                {
                    key: unit[key]
                    for key in ("reference_id", "amount", "custom_id", "description", "soft_descriptor")
                    if key in unit
                }
                | {"payee": {"email_address": "merchant@example.com", "merchant_id": "7KNGBPH2U58GQ"}}
            )
        self.orders[order_id] = {
            "id": order_id,
            "intent": body["intent"],
            "status": "CREATED",
            "purchase_units": units,
            "create_time": now,
            "update_time": now,
        }
        return self._remember(request, self._json(201, self.order_resource(order_id)))

    def order_resource(self, order_id: str) -> dict[str, Any]:
        order = copy.deepcopy(self.orders[order_id])
        links = [{"href": f"{SANDBOX}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"}]
        if order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
            links.append({"href": approve_url(order_id), "rel": "approve", "method": "GET"})
        if order["status"] == "APPROVED":
            links.append(
                {
                    "href": f"{SANDBOX}/v2/checkout/orders/{order_id}/capture",
                    "rel": "capture",
                    "method": "POST",
                }
            )
        order["links"] = links
        return order

    def _get_order(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        if id not in self.orders:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        return self._json(200, self.order_resource(id))

    def approve(self, order_id: str, *, payer_email: str = "buyer@example.com") -> None:
        """The buyer approves the order on PayPal's site (a test helper)."""
        order = self.orders[order_id]
        assert order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"), order["status"]
        order["status"] = "APPROVED"
        order["payer"] = {"email_address": payer_email, "payer_id": "QYR5Z8XDVJNXQ"}
        order["update_time"] = iso_time(self.now())

    def decline_next_capture(self, order_id: str) -> None:
        """The buyer's funding source is declined at the next capture (INSTRUMENT_DECLINED)."""
        self._declines.add(order_id)

    def pend_next_capture(self, order_id: str) -> None:
        """The next capture of the order is PENDING (e.g. an eCheck or a review)."""
        self._pending.add(order_id)

    def _capture_order(self, request: httpx.Request, body: Any, id: str) -> httpx.Response:
        replay = self._replayed(request)
        if replay is not None:
            return replay
        order = self.orders.get(id)
        if order is None:
            return self._error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if order["status"] == "COMPLETED":
            return self._error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return self._error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        if id in self._declines:
            self._declines.discard(id)
            order["status"] = "PAYER_ACTION_REQUIRED"
            return self._error(422, "UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        capture_id = paypal_id(length=17)
        now = iso_time(self.now())
        unit = order["purchase_units"][0]
        capture: dict[str, Any] = {
            "id": capture_id,
            "status": "COMPLETED",
            "amount": dict(unit["amount"]),
            "final_capture": True,
            "seller_protection": {
                "status": "ELIGIBLE",
                "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
            },
            "create_time": now,
            "update_time": now,
        }
        if "custom_id" in unit:
            capture["custom_id"] = unit["custom_id"]
        if id in self._pending:
            self._pending.discard(id)
            capture["status"] = "PENDING"
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        unit["payments"] = {"captures": [capture]}
        order["status"] = "COMPLETED"
        order["update_time"] = now
        self.captures[capture_id] = id
        return self._remember(request, self._json(201, self.order_resource(id)))

    def capture(self, capture_id: str) -> dict[str, Any]:
        order = self.orders[self.captures[capture_id]]
        return next(c for c in order["purchase_units"][0]["payments"]["captures"] if c["id"] == capture_id)

    def complete_capture(self, capture_id: str, status: str = "COMPLETED") -> None:
        """A pending capture finishes (COMPLETED, or DECLINED)."""
        capture = self.capture(capture_id)
        capture["status"] = status
        capture.pop("status_details", None)
        capture["update_time"] = iso_time(self.now())

    def capture_resource(self, capture_id: str) -> dict[str, Any]:
        """The capture as the PAYMENT.CAPTURE.* webhooks carry it."""
        capture = copy.deepcopy(self.capture(capture_id))
        capture["supplementary_data"] = {"related_ids": {"order_id": self.captures[capture_id]}}
        capture["links"] = [
            {"href": f"{SANDBOX}/v2/payments/captures/{capture_id}", "rel": "self", "method": "GET"}
        ]
        return capture

    def order_ids(self) -> list[str]:
        return list(self.orders)


def approve_url(order_id: str) -> str:
    return f"https://www.sandbox.paypal.com/checkoutnow?token={order_id}"
