"""Bearer tokens (Litestar's JWT support) and the role guard.

A token names the member (``sub``) and carries their security stamp; changing or
resetting the password or suspending the account changes the stamp, so every older
token stops working at once.  Each request re-reads the member (tokens remembered by
:class:`CachedToken` too: only the signature check is skipped), so a role change, a
suspension (403 ``account_suspended``) or a new stamp takes effect on the next request.

A bearer token that is not a JWT is asked about through ``agorakit_api_token_caller``
(the integrations area answers for its read-only integration tokens): the caller it
names is an :class:`IntegrationCaller`, never a member.  Such a token is accepted only
for a safe method (GET, HEAD) of a route whose handler names the scope it needs
(``opt={"integration_scope": "events:read"}``), and only when it holds that scope (else
403 ``scope_missing``); anywhere else it is refused like any bad token (401).  The
operator guard lets such a caller through on those routes; nothing changes for members.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

import msgspec
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.authentication import AuthenticationResult
from litestar.routes import HTTPRoute
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from agorakit.accounts import service
from agorakit.accounts.roles import is_operator
from agorakit.accounts.schemas import AuthToken, MemberOut
from agorakit.clock import SystemClock
from agorakit.errors import Forbidden, Unauthenticated
from agorakit.http.openapi import problem
from agorakit.runtime import Runtime

#: Tokens expire by the real time, as the signature check (PyJWT) tells it, also on a
#: site that runs on a test clock: moving the site's time does not log its members out.
_REAL_TIME = SystemClock()

#: Paths served without a token (the docs UI and schema are added by the app).
PUBLIC_PATHS = ["^/health$", "^/$"]

#: the key of a route handler's ``opt`` that opens it to integration tokens holding the
#: scope it names (``opt={"integration_scope": "events:read"}``)
INTEGRATION_SCOPE = "integration_scope"
#: the methods an integration token may use: it reads, it never changes anything
SAFE_METHODS = frozenset({"GET", "HEAD"})


class IntegrationCaller(msgspec.Struct, frozen=True, kw_only=True):
    """Who calls with an integration token: an outside system, not a member.

    It has no member ``id`` and no ``role`` (both None), so code written for members
    never takes it for one; :func:`operator_only` lets it through on the routes it may
    use (:data:`INTEGRATION_SCOPE`).
    """

    #: the integration token's id
    integration_id: int
    #: the name an operator gave the token
    name: str
    #: what the token may read, e.g. ``events:read``
    scopes: frozenset[str]
    #: not a member: no member id
    id: None = None
    #: not a member: no role
    role: None = None

    @property
    def label(self) -> str:
        """How logs name the caller: ``integration:<id>``."""
        return f"integration:{self.integration_id}"


class ScopeMissing(Forbidden):
    code = "scope_missing"
    title = "The integration token lacks the scope this route needs"


def integration_scope(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The scope the route being called asks of an integration token (None: the route
    takes no integration token, or not for this method)."""
    if connection.scope.get("method") not in SAFE_METHODS:
        return None
    opt: Mapping[str, Any] = connection.route_handler.opt
    scope = opt.get(INTEGRATION_SCOPE)
    return scope if isinstance(scope, str) else None


#: why an integration token is refused on a route that does not take it
_NOT_FOR_THIS_ROUTE = (
    "an integration token is accepted only for reading the routes that name its scope"
    " (GET /events, ...); sign in as a member for this request"
)


def _check_scope(connection: ASGIConnection[Any, Any, Any, Any], caller: IntegrationCaller) -> None:
    """Refuse ``caller`` unless the route takes integration tokens and it holds the scope."""
    scope = integration_scope(connection)
    if scope is None:
        raise Unauthenticated(_NOT_FOR_THIS_ROUTE)
    if scope not in caller.scopes:
        detail = f"this route needs the scope {scope!r}, which the integration token does not have"
        raise ScopeMissing(detail, extra={"scope": scope})


class MemberJWTAuthenticationMiddleware(JWTAuthenticationMiddleware):
    """Litestar's JWT middleware, asking ``agorakit_api_token_caller`` about a bearer
    token that is not a JWT (the module's docs)."""

    async def authenticate_token(
        self, encoded_token: str, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        if encoded_token.count(".") == 2:  # header.payload.signature: a member's token
            return await super().authenticate_token(encoded_token, connection)
        if integration_scope(connection) is None:  # refused before any look-up
            raise Unauthenticated(_NOT_FOR_THIS_ROUTE)
        runtime: Runtime = connection.app.state.runtime
        caller = await runtime.hooks.first("agorakit_api_token_caller", token=encoded_token, runtime=runtime)
        if not isinstance(caller, IntegrationCaller):
            raise Unauthenticated("the bearer token is unknown, revoked or expired")
        _check_scope(connection, caller)
        return AuthenticationResult(user=caller, auth=None)


class CachedToken(Token):
    """Litestar's token, with the tokens it verified remembered (per process).

    A client sends the same token with every request, and decoding it (base64, the HMAC,
    JSON, the claims) cost about 46 µs of each request.  A remembered token is checked
    for expiry again; everything else (a new token, an expired one, other decode options)
    is decoded as before, and a token that fails is never remembered.
    """

    _verified: ClassVar[OrderedDict[tuple[Any, ...], CachedToken]] = OrderedDict()
    #: tokens remembered at most (the least recently used go first)
    SIZE: ClassVar[int] = 4096

    @classmethod
    def decode(  # type: ignore[override]
        cls,
        encoded_token: str,
        secret: str,
        algorithm: str,
        audience: Any = None,
        issuer: Any = None,
        require_claims: Any = None,
        verify_exp: bool = True,
        verify_nbf: bool = True,
        strict_audience: bool = False,
    ) -> CachedToken:
        plain = audience is None and issuer is None and not require_claims and not strict_audience
        key = (encoded_token, secret, algorithm, verify_exp, verify_nbf)
        known = cls._verified.get(key) if plain else None
        if known is not None:
            if not verify_exp or known.exp > _REAL_TIME.now():
                cls._verified.move_to_end(key)
                return known
            del cls._verified[key]  # expired: decoding it again gives the refusal
        token = super().decode(
            encoded_token,
            secret,
            algorithm,
            audience=audience,
            issuer=issuer,
            require_claims=require_claims,
            verify_exp=verify_exp,
            verify_nbf=verify_nbf,
            strict_audience=strict_audience,
        )
        if plain:
            cls._verified[key] = token
            if len(cls._verified) > cls.SIZE:
                cls._verified.popitem(last=False)
        return token


class MemberJWTAuth(JWTAuth[MemberOut, Token]):
    """Litestar's JWT config, with the token requirement documented per operation.

    Litestar puts the bearer requirement on the whole document, which marks public
    routes (login, browsing, the health check) as needing a token too.  Here it goes on
    each operation that does need one, with its 401 and 403 answers; a public operation
    has no security requirement.
    """

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config = super().on_app_init(app_config)
        if app_config.openapi_config and app_config.openapi_config.security:
            kept = [r for r in app_config.openapi_config.security if r != self.security_requirement]
            app_config.openapi_config.security = kept or None
        return app_config

    def is_public(self, route: HTTPRoute, handler: BaseRouteHandler) -> bool:
        if handler.opt.get(self.exclude_opt_key):
            return True
        patterns = [self.exclude] if isinstance(self.exclude, str) else list(self.exclude or [])
        return any(re.search(pattern, route.path_format or "/") for pattern in patterns)

    def document_route(self, route: HTTPRoute) -> None:
        """Give each operation of ``route`` that needs a token its requirement, its 401, and
        its 403 (a suspended member's token is refused with ``account_suspended``); one that
        takes integration tokens says with which scope."""
        for handler in route.route_handlers:
            if self.is_public(route, handler):
                continue
            if self.security_requirement not in (handler.security or []):
                handler.security = [*(handler.security or []), self.security_requirement]
            own = handler.responses or {}
            handler.responses = {401: problem(401), 403: problem(403), **own}
            scope = handler.opt.get(INTEGRATION_SCOPE)
            note = f"Integration tokens with the scope `{scope}` may call it too."
            if isinstance(scope, str) and note not in (handler.description or ""):
                handler.description = f"{handler.description}\n\n{note}" if handler.description else note


def make_jwt_auth(runtime: Runtime, *, exclude: list[str]) -> MemberJWTAuth:
    auth = runtime.settings.auth

    async def retrieve_member(token: Token, connection: ASGIConnection) -> MemberOut | None:
        try:
            member_id = int(token.sub)
        except ValueError:
            return None
        return await service.member_for_token(member_id, str(token.extras.get("ss", "")))

    return MemberJWTAuth(
        retrieve_user_handler=retrieve_member,
        authentication_middleware_class=MemberJWTAuthenticationMiddleware,
        token_cls=CachedToken,
        token_secret=auth.jwt_secret,
        default_token_expiration=timedelta(minutes=auth.token_ttl_minutes),
        exclude=[*PUBLIC_PATHS, *exclude],
        description=(
            "Send `Authorization: Bearer <access_token>` from /auth/login; machines send an"
            " integration token (`agk_...`) on the routes that say they take one."
        ),
    )


async def issue_token(runtime: Runtime, jwt_auth: JWTAuth, member: MemberOut) -> AuthToken:
    stamp = await service.security_stamp(member.id)
    ttl = timedelta(minutes=runtime.settings.auth.token_ttl_minutes)
    token = jwt_auth.create_token(identifier=str(member.id), token_expiration=ttl, token_extras={"ss": stamp})
    return AuthToken(
        access_token=token, token_type="bearer", expires_in=int(ttl.total_seconds()), member=member
    )


def operator_only(connection: ASGIConnection[Any, MemberOut, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: only operators (and the site's owners) pass, and integration tokens on the
    routes that take them (the module's docs)."""
    user: Any = connection.user
    if isinstance(user, IntegrationCaller):
        _check_scope(connection, user)
        return
    if not is_operator(user):
        raise Forbidden("this action is for the site's operators only")


def owner_only(connection: ASGIConnection[Any, MemberOut, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: only the site's owners pass."""
    if connection.user.role != "owner":
        raise Forbidden("this action is for the site's owner only")
