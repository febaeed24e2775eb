"""The site's own JSON API, called in-process by server-rendered pages.

Every rule (who may do what, what a valid amount is, what a transition needs, every
ledger posting) stays the API's: a page sends the signed-in person's request to the API
exactly as a JavaScript or mobile client would, with their bearer token, and shows what
comes back.  The request goes through the whole app (authentication, throttles, logging)
but never leaves the process: httpx's ASGI transport hands it to the app directly.

The caller's address (and ``X-Forwarded-For`` behind a trusted proxy) is passed on, so
the API's per-address throttles (sign-in, registration) see the browser, not the page.
"""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Request

#: request headers passed on to the API call
FORWARDED = ("x-forwarded-for", "x-request-id", "user-agent", "accept-language")


class ApiError(Exception):
    """A problem-details answer (RFC 9457) of the API."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.code = str(body.get("code") or "error")
        self.title = str(body.get("title") or "")
        self.detail = str(body.get("detail") or body.get("title") or f"error {status}")
        self.errors: list[dict[str, Any]] = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        self.extra: dict[str, Any] = body.get("extra") or {}
        super().__init__(f"{status} {self.code}: {self.detail}")

    @property
    def session_ended(self) -> bool:
        """The person's token expired or was revoked, or their account is suspended: the
        pages sign them out."""
        return self.status == 401 or self.code == "account_suspended"

    @property
    def refusal(self) -> bool:
        """A refusal a page shows the person (a 4xx other than an ended session), not the
        API failing."""
        return 400 <= self.status < 500 and not self.session_ended

    def field_errors(self, aliases: dict[str, str] | None = None) -> dict[str, str]:
        """The field errors by form field: ``amount.amount`` → ``amount`` (through
        ``aliases``), ``destination.iban`` → ``iban``, ``extras[1]`` → ``extras``."""
        out: dict[str, str] = {}
        for error in self.errors:
            field = str(error.get("field") or "")
            if aliases and field in aliases:
                name = aliases[field]
            else:
                name = field.split("[", 1)[0].rsplit(".", 1)[-1]
            if name and name not in out:
                out[name] = str(error.get("message") or "")
        return out

    def message(self) -> str:
        """One line for a person: the detail and the first field errors."""
        fields = "; ".join(
            f"{error.get('field')}: {error.get('message')}"
            if error.get("field")
            else str(error.get("message"))
            for error in self.errors[:3]
        )
        return f"{self.detail} ({fields})" if fields and fields not in self.detail else self.detail


class ApiAnswer:
    """A non-JSON answer of the API (a CSV export, a file): its bytes and headers."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        self.content = response.content
        self.headers = response.headers


class Api:
    """One person's (or an anonymous visitor's) calls to the site's API."""

    def __init__(self, request: Request[Any, Any, Any], token: str | None) -> None:
        self.request = request
        self.token = token

    def _headers(self, idempotency_key: str | None) -> dict[str, str]:
        headers = {name: value for name in FORWARDED if (value := self.request.headers.get(name))}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        return headers

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """The raw answer, whatever its status."""
        client = self.request.scope.get("client") or ("127.0.0.1", 0)
        app: Any = self.request.app  # an ASGI app; its typing differs from httpx's
        transport = httpx.ASGITransport(app=app, client=(client[0], client[1]))
        if isinstance(params, dict):
            params = {key: value for key, value in params.items() if value not in (None, "")}
        async with httpx.AsyncClient(transport=transport, base_url=str(self.request.base_url)) as http:
            return await http.request(
                method, path, json=json, params=params, headers=self._headers(idempotency_key)
            )

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """The decoded JSON answer; an error answer raises :class:`ApiError`."""
        response = await self.send(method, path, json=json, params=params, idempotency_key=idempotency_key)
        try:
            body = response.json() if response.content else None
        except ValueError:  # not JSON: only an error answer of something other than the API
            body = None
        if response.status_code >= 400:
            raise ApiError(response.status_code, body if isinstance(body, dict) else {})
        return body

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, json: Any = None, *, idempotency_key: str | None = None) -> Any:
        return await self.call("POST", path, json=json, idempotency_key=idempotency_key)

    async def download(self, path: str, **params: Any) -> ApiAnswer:
        """A file the API serves (a CSV export); an error answer raises :class:`ApiError`."""
        response = await self.send("GET", path, params=params)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise ApiError(response.status_code, body if isinstance(body, dict) else {})
        return ApiAnswer(response)
