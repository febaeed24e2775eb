"""The API docs UI (Scalar at the docs path, Swagger UI below it), locked down.

Operators paste bearer tokens into these pages, so what runs on them is fixed:

- the scripts and style sheets come from jsDelivr at exact versions, each with a
  Subresource Integrity hash, so the browser refuses a file that is not byte for byte
  the one published on npm (Litestar's defaults load Scalar ``@latest`` and style sheets
  from a branch, with no integrity check);
- every response under the docs path carries :data:`CONTENT_SECURITY_POLICY`: scripts
  only from the site and jsDelivr (plus Swagger UI's one start-up script, by hash),
  requests only to the site itself, so a token typed into the "try it" forms cannot be
  sent anywhere else;
- nothing else is loaded from outside: no favicon, no web fonts.

To move to a newer release, change the version and recompute the hash from the npm
package (jsDelivr serves its files unchanged)::

    npm pack @scalar/api-reference@1.76.4
    tar xzf scalar-api-reference-1.76.4.tgz
    echo "sha384-$(openssl dgst -sha384 -binary package/dist/browser/standalone.js | openssl base64 -A)"
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

import msgspec
from litestar import Request, Router
from litestar.datastructures import ResponseHeader
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin


class Asset(msgspec.Struct, frozen=True):
    """A file of an npm package version, served by jsDelivr, and its SRI hash."""

    package: str
    version: str
    file: str
    integrity: str

    @property
    def url(self) -> str:
        return f"https://cdn.jsdelivr.net/npm/{self.package}@{self.version}/{self.file}"


SCALAR_VERSION = "1.76.4"
SWAGGER_UI_VERSION = "5.36.0"

SCALAR_JS = Asset(
    "@scalar/api-reference",
    SCALAR_VERSION,
    "dist/browser/standalone.js",
    "sha384-hwB9WroDTpZaI38gr+u9CXA6ksz5gUYgD2GxXazKl/agT1L2GWUiRFWGJYNiFu4Q",
)
SWAGGER_UI_JS = Asset(
    "swagger-ui-dist",
    SWAGGER_UI_VERSION,
    "swagger-ui-bundle.js",
    "sha384-fUpRgC19yPykTqzdrUbdAg8NTiu16NEKf9U12J+IJWCg8/1mEI8f2+PEIz60Wyd+",
)
SWAGGER_UI_PRESET_JS = Asset(
    "swagger-ui-dist",
    SWAGGER_UI_VERSION,
    "swagger-ui-standalone-preset.js",
    "sha384-My2aDM4r2Mbm3ybHcubKm9O9U8FEjvF/O5nGvE9YK5dzqOTbWEKa79RPJ1krdMaF",
)
SWAGGER_UI_CSS = Asset(
    "swagger-ui-dist",
    SWAGGER_UI_VERSION,
    "swagger-ui.css",
    "sha384-z/AtSaOHGn5MJ5auAHXUypohywlIWLBZo1jeGmhdpVIbCnFhxAH92cwdV41oyINc",
)

#: Scalar's settings: no web fonts from fonts.scalar.com (the policy would block them).
SCALAR_CONFIGURATION: dict[str, Any] = {"withDefaultFonts": False}

#: Swagger UI's start-up script.  It reads the schema's address from the page, so its
#: text never changes and the policy can allow it by hash instead of allowing inline
#: scripts.  No validator badge: it would send the schema to validator.swagger.io.
SWAGGER_UI_INIT = (
    "SwaggerUIBundle({url: document.getElementById('swagger-container').dataset.url, "
    "dom_id: '#swagger-container', deepLinking: true, showExtensions: true, "
    "showCommonExtensions: true, validatorUrl: null, "
    "presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]});"
)
_SWAGGER_UI_INIT_HASH = (
    "sha256-" + base64.b64encode(hashlib.sha256(SWAGGER_UI_INIT.encode()).digest()).decode()
)

CDN = "https://cdn.jsdelivr.net"
#: The Content-Security-Policy of every response under the docs path.  Styles may be
#: inline: both UIs set styles from their scripts.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        f"script-src 'self' {CDN} '{_SWAGGER_UI_INIT_HASH}'",
        f"style-src 'self' {CDN} 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_STYLE = "<style>body { margin: 0; padding: 0 }</style>"


def _script(asset: Asset) -> str:
    return f'<script src="{asset.url}" integrity="{asset.integrity}" crossorigin="anonymous"></script>'


def _head(openapi_schema: dict[str, Any], *extra: str) -> str:
    title = html.escape(str(openapi_schema["info"]["title"]))
    return "".join(
        [
            "<head>",
            f"<title>{title}</title>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            *extra,
            _STYLE,
            "</head>",
        ]
    )


class PinnedScalar(ScalarRenderPlugin):
    """Scalar, pinned and integrity-checked (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(js_url=SCALAR_JS.url, options=SCALAR_CONFIGURATION, favicon="", **kwargs)

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        url = html.escape(self.get_openapi_json_route(request))
        configuration = html.escape(msgspec.json.encode(self.options).decode())
        # A JSON script element is data, not code: Scalar reads its attributes, and the
        # policy has no inline script to allow.
        return "".join(
            [
                "<!DOCTYPE html><html>",
                _head(openapi_schema),
                "<body>",
                "<noscript>The API reference needs JavaScript.</noscript>",
                f'<script id="api-reference" type="application/json" data-url="{url}" '
                f'data-configuration="{configuration}"></script>',
                _script(SCALAR_JS),
                "</body></html>",
            ]
        ).encode()


class PinnedSwagger(SwaggerRenderPlugin):
    """Swagger UI, pinned and integrity-checked (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            js_url=SWAGGER_UI_JS.url,
            css_url=SWAGGER_UI_CSS.url,
            standalone_preset_js_url=SWAGGER_UI_PRESET_JS.url,
            favicon="",
            **kwargs,
        )

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        url = html.escape(self.get_openapi_json_route(request))
        css = SWAGGER_UI_CSS
        return "".join(
            [
                "<!DOCTYPE html><html>",
                _head(
                    openapi_schema,
                    f'<link href="{css.url}" rel="stylesheet" integrity="{css.integrity}" crossorigin="anonymous">',
                ),
                "<body>",
                f'<div id="swagger-container" data-url="{url}"></div>',
                _script(SWAGGER_UI_JS),
                _script(SWAGGER_UI_PRESET_JS),
                f"<script>{SWAGGER_UI_INIT}</script>",
                "</body></html>",
            ]
        ).encode()

    def receive_router(self, router: Router) -> None:
        """No OAuth2 redirect page: the API takes bearer tokens, and the page's inline
        script would need the policy loosened."""


def docs_router(path: str) -> Router:
    """The router the OpenAPI plugin fills with the docs routes, under the policy."""
    return Router(
        path,
        route_handlers=[],
        include_in_schema=False,
        dto=None,
        return_dto=None,
        response_headers=[ResponseHeader(name="Content-Security-Policy", value=CONTENT_SECURITY_POLICY)],
    )


def render_plugins() -> list[ScalarRenderPlugin | SwaggerRenderPlugin]:
    """Scalar at the docs path (the default), Swagger UI at ``<docs path>/swagger``."""
    return [PinnedScalar(), PinnedSwagger(path="/swagger")]
