"""Where an endpoint may point: the checks on its URL when it is registered, and on the
addresses its host resolves to when it is sent to.

Webhooks make the site send requests to a URL an operator typed, so the URL must not
reach the site's own network (a database's admin port, a cloud's metadata service).
Unless ``[webhooks] allow_private_addresses`` is true, an endpoint is https, its host is
not an address (or a name such as ``localhost``) in a private, loopback, link-local,
reserved, multicast or unspecified range, and at each send every address its host
resolves to is checked again (a name may be pointed elsewhere after registration: DNS
rebinding); the request then goes to the address that was checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

#: host names that always mean this machine or its network
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """An endpoint's URL or address that the site does not send to (the message says why)."""


def is_private(address: Address) -> bool:
    """Whether ``address`` is outside the public internet."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_private(address.ipv4_mapped)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    )


def literal_address(host: str) -> Address | None:
    """The address a URL's host is written as (``10.0.0.1``, ``[::1]``), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str, *, allow_private: bool) -> str | None:
    """What is wrong with ``url`` as an endpoint (None: nothing)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL ({exc})"
    schemes = ("http", "https") if allow_private else ("https",)
    if parts.scheme not in schemes:
        wanted = "http:// or https://" if allow_private else "https://"
        return f"use an {wanted} URL" if parts.scheme in ("http", "https") else f"use a {wanted} URL"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "the URL must not carry credentials (user:password@); the signature authenticates the site"
    if parts.fragment:
        return "the URL must not have a #fragment"
    if port == 0:
        return "the URL's port must be 1-65535"
    if allow_private:
        return None
    host = parts.hostname.lower().rstrip(".")
    address = literal_address(host)
    if address is not None and is_private(address):
        return f"{address} is a private, loopback or reserved address; use a public host"
    if host in LOCAL_NAMES or host.endswith(".localhost"):
        return f"{host} is this machine; use a public host"
    return None


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (the system's resolver), in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


async def checked_address(url: str, *, allow_private: bool) -> str:
    """The address to send to for ``url``: its host resolved, every address checked
    (:class:`AddressRefused` when one is private and that is not allowed, or when the
    host does not resolve)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    address = literal_address(host)
    if address is not None:
        found = [str(address)]
    else:
        try:
            found = await resolve(host, default_port(parts))
        except (OSError, UnicodeError) as exc:
            raise AddressRefused(f"{host} does not resolve ({exc})") from None
        if not found:
            raise AddressRefused(f"{host} does not resolve")
    if not allow_private:
        for value in found:
            candidate = ipaddress.ip_address(value.split("%")[0])
            if is_private(candidate):
                raise AddressRefused(
                    f"{host} resolves to {value}, a private, loopback or reserved address; not sent"
                )
    return found[0]
