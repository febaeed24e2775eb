"""Sessions and CSRF protection for a plugin's server-rendered pages.

- **Sessions**: Litestar's client-side session middleware keeps the signed-in person's
  API token in an encrypted (AES-GCM), HttpOnly, SameSite cookie scoped to the pages'
  path, Secure when the site's ``base_url`` is https.  The key is derived (HKDF) from the
  site's ``[auth] jwt_secret`` and the pages' name, so there is no second secret to keep;
  changing that secret signs everyone out, as it does for API tokens.
- **CSRF**: Litestar's CSRF middleware, on the pages' routes only: every form has a
  hidden ``_csrf_token`` that must match the signed token in the pages' CSRF cookie; a
  POST without it is refused (Litestar's ``PermissionDeniedException``, 403) and changes
  nothing.
- Both are built once per app from the serving app's settings
  (:func:`agorakit.runtime.runtime_of`), so one middleware class serves every site.
"""

from __future__ import annotations

from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from litestar.config.csrf import CSRFConfig
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from agorakit.runtime import Runtime, runtime_of


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, derived from the site's secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"agorakit {purpose}".encode()).derive(
        secret.encode()
    )


class PageSecurity:
    """The cookie names, path and lifetime of one set of pages (``/console``, ``/shop``)."""

    def __init__(
        self,
        name: str,
        path: str,
        *,
        samesite: Literal["lax", "strict"] = "lax",
        max_age_minutes: int | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.samesite: Literal["lax", "strict"] = samesite
        self.max_age_minutes = max_age_minutes
        self.session_cookie = f"{name}_session"
        self.csrf_cookie = f"{name}_csrf"

    def secure(self, runtime: Runtime) -> bool:
        return runtime.settings.site.base_url.startswith("https://")

    def session_config(self, runtime: Runtime) -> CookieBackendConfig:
        minutes = self.max_age_minutes or runtime.settings.auth.token_ttl_minutes
        return CookieBackendConfig(
            secret=derive_key(runtime.settings.auth.jwt_secret, f"{self.name} session"),
            key=self.session_cookie,
            path=self.path,
            max_age=minutes * 60,
            httponly=True,
            secure=self.secure(runtime),
            samesite=self.samesite,
        )

    def csrf_config(self, runtime: Runtime) -> CSRFConfig:
        return CSRFConfig(
            secret=derive_key(runtime.settings.auth.jwt_secret, f"{self.name} csrf").hex(),
            cookie_name=self.csrf_cookie,
            cookie_path=self.path,
            cookie_secure=self.secure(runtime),
            cookie_httponly=True,
            cookie_samesite=self.samesite,
        )

    def middleware(self) -> type[Any]:
        """An ASGI middleware class for the pages' router: the session middleware around
        the CSRF middleware, built on the first request from the serving app's settings
        (one instance per route and app)."""
        security = self

        class PageMiddleware:
            def __init__(self, app: ASGIApp) -> None:
                self.app = app
                self.stack: ASGIApp | None = None

            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                if self.stack is None:
                    runtime = runtime_of(scope)
                    inner = CSRFMiddleware(app=self.app, config=security.csrf_config(runtime))
                    self.stack = security.session_config(runtime).middleware(inner)
                await self.stack(scope, receive, send)

        PageMiddleware.__name__ = PageMiddleware.__qualname__ = f"{self.name.title()}PageMiddleware"
        return PageMiddleware
