"""The HTTP edge of a site that runs on a test clock (installed only then).

- Each request first reads the clock's shared state, so an advance made by another
  process (an operator, ``agorakit clock advance``) holds for this request at once.
- Every response carries ``X-Agorakit-Test-Clock: <the site's time, ISO 8601 in UTC>``, so
  nobody mistakes the site for a production one (also the answers the router gives
  before any middleware runs: 404, 405).

Both read the runtime the app serves at request time (:func:`agorakit.runtime.runtime_of`).
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from agorakit.runtime import runtime_of
from agorakit.testclock.service import refresh

HEADER = b"x-agorakit-test-clock"


def test_clock_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await refresh(runtime_of(scope))
        await app(scope, receive, send)

    return middleware


async def test_clock_header(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers or ())  # type: ignore[typeddict-unknown-key]
    headers.append((HEADER, runtime_of(scope).clock.now().isoformat().replace("+00:00", "Z").encode()))
