"""Which requests read from the read replica (``[database] read_url``).

A route opts in with ``opt={"read_replica": True}`` (a public read: browse, search, a
listing, categories, reviews).  On a site with a replica, this middleware runs each
request inside :func:`agorakit.db.replica.read_routing`: a marked request reads from the
replica until it writes (then from the primary, see :mod:`agorakit.db.replica`); any
other request reads and writes the primary, and the middleware only notes whether it
wrote.

Reading your own writes across requests: a response to a request that wrote carries a
signed cookie (``agorakit_read_primary``, valid ``[database] read_after_write_seconds``),
and a marked request that brings it back reads from the primary, so the client sees
what it just wrote even while the replica lags.  The cookie holds only its expiry time
and an HMAC of it (keyed by ``[auth] jwt_secret``): a client can drop it (and read from
the replica at once) but cannot make one that lasts longer.

Without a replica the middleware passes every request through untouched.
"""

from __future__ import annotations

import hashlib
import hmac

from litestar import Request
from litestar.datastructures import Cookie
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from agorakit.db.replica import read_routing
from agorakit.runtime import Runtime, runtime_of

__all__ = ["READ_AFTER_WRITE_COOKIE", "READ_REPLICA", "read_routing_middleware"]

#: the route ``opt`` key that lets a route's reads go to the replica
READ_REPLICA = "read_replica"
#: the cookie that keeps a client that wrote on the primary for a few seconds
READ_AFTER_WRITE_COOKIE = "agorakit_read_primary"


def read_routing_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        runtime = runtime_of(scope)
        if runtime.db.replica is None:
            await app(scope, receive, send)
            return
        marked = bool(scope["route_handler"].opt.get(READ_REPLICA))
        seconds = runtime.settings.database.read_after_write_seconds
        if not seconds:
            with read_routing(replica=marked):
                await app(scope, receive, send)
            return
        replica = marked and not _reads_primary(scope, runtime)
        with read_routing(replica=replica) as routing:

            async def send_marked(message: Message) -> None:
                if message["type"] == "http.response.start" and routing.wrote:
                    headers = list(message.get("headers", []))
                    headers.append(_cookie(runtime, seconds))
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, send_marked)

    return middleware


def _key(runtime: Runtime) -> bytes:
    secret = runtime.settings.auth.jwt_secret.encode()
    return hmac.new(secret, b"agorakit read-after-write cookie", hashlib.sha256).digest()


def _signature(runtime: Runtime, expires: str) -> str:
    return hmac.new(_key(runtime), expires.encode(), hashlib.sha256).hexdigest()[:32]


def _cookie(runtime: Runtime, seconds: int) -> tuple[bytes, bytes]:
    expires = str(int(runtime.clock.now().timestamp()) + seconds)
    cookie = Cookie(
        key=READ_AFTER_WRITE_COOKIE,
        value=f"{expires}.{_signature(runtime, expires)}",
        max_age=seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=runtime.settings.site.base_url.startswith("https:") or None,
    )
    return cookie.to_encoded_header()


def _reads_primary(scope: Scope, runtime: Runtime) -> bool:
    """Whether the request brings a valid, unexpired cookie of a recent write."""
    value = Request(scope).cookies.get(READ_AFTER_WRITE_COOKIE)
    if not value:
        return False
    expires, _, signature = value.partition(".")
    if not expires.isdigit() or not hmac.compare_digest(signature, _signature(runtime, expires)):
        return False
    return runtime.clock.now().timestamp() < int(expires)
