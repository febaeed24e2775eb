"""Headers every HTTP response carries, added once for the whole app.

- ``X-Content-Type-Options: nosniff`` (unless the route sent it already): a browser
  never guesses an answer to be HTML or script, whatever a member managed to put in it.
- ``Cache-Control: no-store`` unless the route set its own Cache-Control: the API's
  answers are a member's own data (tokens, balances, messages) that no browser or proxy
  cache should keep.

It runs as a Litestar ``before_send`` hook rather than a middleware so that it also sees
the answers the router gives before any middleware runs (404, 405).  It only appends to
the header list the response already built: no copy, nothing else per request.
"""

from __future__ import annotations

from litestar.types import Message, Scope

_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NO_STORE = (b"cache-control", b"no-store")


async def add_response_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers or ())  # type: ignore[typeddict-unknown-key]
    nosniff = no_store = True
    for name, _ in headers:  # a handful of headers; a route's own settings win
        name = name.lower()
        if name == b"x-content-type-options":
            nosniff = False
        elif name == b"cache-control":
            no_store = False
    if nosniff:
        headers.append(_NOSNIFF)
    if no_store:
        headers.append(_NO_STORE)
