"""``/.well-known/security.txt`` (RFC 9116): where to report a vulnerability in this site.

Served only when ``[site] security_contact`` is set; a 404 otherwise.  The file expires a
year after it is served (the RFC asks for an ``Expires`` under a year away), so a cached
copy never outlives a changed contact for long.
"""

from __future__ import annotations

from datetime import timedelta

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Response

from agorakit.errors import NotFound
from agorakit.http.openapi import problems
from agorakit.runtime import Runtime


class SecurityTxtController(Controller):
    path = "/.well-known"
    tags = ["system"]
    opt = {"exclude_from_auth": True}

    @get(
        "/security.txt",
        operation_id="getSecurityTxt",
        responses=problems(404),
        summary="Where to report a vulnerability (RFC 9116)",
        media_type="text/plain",
    )
    async def security_txt(self, runtime: NamedDependency[Runtime]) -> Response[str]:
        site = runtime.settings.site
        contact = site.security_contact
        if not contact:
            raise NotFound("this site publishes no security contact ([site] security_contact)")
        if "@" in contact and not contact.startswith("https://"):
            contact = f"mailto:{contact}"
        expires = (runtime.clock.now() + timedelta(days=365)).replace(microsecond=0)
        lines = [
            f"Contact: {contact}",
            f"Expires: {expires.isoformat().replace('+00:00', 'Z')}",
            f"Canonical: {site.base_url.rstrip('/')}/.well-known/security.txt",
            "Preferred-Languages: en",
        ]
        return Response("\n".join(lines) + "\n", media_type="text/plain; charset=utf-8")
