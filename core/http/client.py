"""The client address of a request, for throttles and logs.

Behind a reverse proxy every request comes from the proxy's address, and the client's
own is in ``X-Forwarded-For``.  That header is believed only when the request comes from
an address in ``[http] trusted_proxies`` (empty by default: never); otherwise anyone
could name any address and step around a per-address throttle.  The header is read from
the right (the entry the nearest proxy appended) past every trusted proxy, so a client
cannot push a made-up address in front of its real one.  ``agorakit run`` gives uvicorn
the same list (``forwarded_allow_ips``), so its view of the client agrees.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(scope: Any, trusted_proxies: list[str] | tuple[str, ...]) -> str:
    """The address of the client that sent the request (``"unknown"`` if the server gave none).

    :param scope: the request's ASGI scope (``request.scope``).
    :param trusted_proxies: ``[http] trusted_proxies``.
    """
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _is_trusted(peer, networks):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            forwarded += [part.strip() for part in value.decode("latin-1").split(",")]
    for hop in reversed(forwarded):
        if not hop:
            continue
        if not _is_trusted(hop, networks):
            return hop if _valid(hop) else peer
    return peer  # only proxies in the chain (or no header): the nearest one is the client


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
