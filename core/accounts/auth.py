"""Bearer tokens (Litestar's JWT support) and the role guard.

A token names the member (``sub``) and carries their security stamp; changing the
password or suspending the account changes the stamp, so every older token stops
working at once.  Each request re-reads the member, so a role change or a suspension
takes effect on the next request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTAuth, Token

from agorakit.accounts import service
from agorakit.accounts.schemas import AuthToken, MemberOut
from agorakit.errors import Forbidden
from agorakit.runtime import Runtime

#: Paths served without a token (the docs UI and schema are added by the app).
PUBLIC_PATHS = ["^/health$", "^/$"]


def make_jwt_auth(runtime: Runtime, *, exclude: list[str]) -> JWTAuth[MemberOut, Token]:
    auth = runtime.settings.auth

    async def retrieve_member(token: Token, connection: ASGIConnection) -> MemberOut | None:
        try:
            member_id = int(token.sub)
        except ValueError:
            return None
        return await service.member_for_token(member_id, str(token.extras.get("ss", "")))

    return JWTAuth[MemberOut, Token](
        retrieve_user_handler=retrieve_member,
        token_secret=auth.jwt_secret,
        default_token_expiration=timedelta(minutes=auth.token_ttl_minutes),
        exclude=[*PUBLIC_PATHS, *exclude],
        description="Send `Authorization: Bearer <access_token>` from /auth/login.",
    )


async def issue_token(runtime: Runtime, jwt_auth: JWTAuth, member: MemberOut) -> AuthToken:
    stamp = await service.security_stamp(member.id)
    ttl = timedelta(minutes=runtime.settings.auth.token_ttl_minutes)
    token = jwt_auth.create_token(identifier=str(member.id), token_expiration=ttl, token_extras={"ss": stamp})
    return AuthToken(
        access_token=token, token_type="bearer", expires_in=int(ttl.total_seconds()), member=member
    )


def operator_only(connection: ASGIConnection[Any, MemberOut, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: only operators pass."""
    if connection.user.role != "operator":
        raise Forbidden("this action is for the site's operators only")
