"""The OpenAPI document describes the responses the API really sends.

On a site with every shipped plugin enabled: every error is problem details with the
one ``Problem`` schema, only operations that need a token carry the bearer requirement,
and the shapes of routes bring their errors.  (The schema fuzzer checks real responses
against the document; this checks the document itself.)
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from api_world import all_plugins_config
from litestar import Litestar, get
from litestar.exceptions import NotAuthorizedException, ServiceUnavailableException
from litestar.params import FromQuery
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import HTTPRoute

from agorakit.http.openapi import document_route

#: the tests of the full site's document (one database is enough: it is the same on both)
on_sqlite = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)

PUBLIC = {
    "health",
    "healthLive",
    "healthReady",
    "index",
    "register",
    "login",
    "requestEmailVerification",
    "confirmEmailVerification",
    "requestPasswordReset",
    "confirmPasswordReset",
    "getSecurityTxt",
    "getTerms",
    "listCategories",
    "browseListings",
    "getListing",
    "listListingReviews",
    "getMemberRating",
    "listMemberReviews",
    "listPaymentMethods",
    "listPayoutMethods",
    "quoteGig",
    "paypalReceiveWebhook",
    "microjobsGo",
}


@pytest.fixture
def site_config(tmp_path):
    return all_plugins_config(tmp_path)


@pytest.fixture
async def document(client):
    return (await client.get("/docs/openapi.json")).json()


def operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            yield method.upper(), path, op


@on_sqlite
async def test_component_names_are_the_struct_names_unique_across_the_site(document):
    """The naming rule: a component is named after its Struct's class, which is unique
    across the core's areas and every plugin (a plugin's Struct whose noun another part
    could use carries the plugin's name: ``PaypalPayoutBatchOut``,
    ``BankTransferPayoutBatchOut``).  Two Structs of one name make Litestar fall back to
    module-path names (``payouts_paypal_schemas_PayoutBatchOut``), which generated clients
    refuse or rename, and its generics get bracketed names (``Page[ListingOut]``): both
    fail here.  Generators name their models after the schema's ``title``, so it is the
    component's name too."""
    schemas = document["components"]["schemas"]
    assert len(schemas) > 200  # every shipped plugin's
    for name, schema in schemas.items():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", name), f"{name}: a module path or a generic"
        assert schema.get("title", name) == name, f"{name} is titled {schema['title']}"
    # generated clients write a file per model: names that differ in case only collide there
    lowered = Counter(name.lower() for name in schemas)
    assert [name for name, seen in lowered.items() if seen > 1] == []
    renamed = {"PaypalPayoutBatchOut", "BankTransferPayoutBatchOut", "ScreenFlagOut", "MessageFlagOut"}
    assert renamed <= set(schemas)


@on_sqlite
async def test_errors_are_problem_details_with_one_schema(document, client):
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert set(problem["properties"]) == {
        "type",
        "title",
        "status",
        "detail",
        "code",
        "instance",
        "errors",
        "extra",
    }
    field_error = document["components"]["schemas"]["FieldError"]
    assert set(field_error["properties"]) == {"field", "message", "source"}
    for method, path, op in operations(document):
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            assert response["content"] == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, f"{method} {path} {status}"
    # what the API sends for bad input matches (Litestar's own 400 schema is gone)
    sent = await client.post("/auth/register", json={"email": 5})
    assert sent.headers["content-type"] == "application/problem+json"
    assert set(sent.json()) <= set(problem["properties"])


def test_exceptions_a_route_raises_are_documented_as_problems():
    """``raises=`` on a plugin's route documents problem details, not Litestar's own
    ``{status_code, detail, extra}`` schema."""

    class Documents(ReceiveRoutePlugin):
        def receive_route(self, route):
            if isinstance(route, HTTPRoute):
                document_route(route, role_guards={})

    @get("/things", operation_id="listThings", raises=[NotAuthorizedException, ServiceUnavailableException])
    async def things(limit: FromQuery[int] = 10) -> list[str]:
        return []

    app = Litestar([things], plugins=[Documents()])
    responses = app.openapi_schema.to_schema()["paths"]["/things"]["get"]["responses"]
    assert set(responses) == {"200", "400", "401", "422", "503"}
    for status in ("400", "401", "422", "503"):
        assert responses[status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }, status


@on_sqlite
async def test_only_operations_that_need_a_token_say_so(document):
    assert "security" not in document
    assert "BearerToken" in document["components"]["securitySchemes"]
    public = {op["operationId"] for _, _, op in operations(document) if "security" not in op}
    assert public == PUBLIC, (
        f"served without a token but not listed in PUBLIC: {sorted(public - PUBLIC)}; "
        f"listed in PUBLIC but need a token: {sorted(PUBLIC - public)}"
    )
    for method, path, op in operations(document):
        if op["operationId"] not in PUBLIC:
            assert op["security"] == [{"BearerToken": []}], f"{method} {path}"
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"


@on_sqlite
async def test_route_shapes_bring_their_errors(document):
    ops = {op["operationId"]: (method, path, op) for method, path, op in operations(document)}
    for operation_id, (method, path, op) in ops.items():
        codes = set(op["responses"])
        if "{" in path:
            assert {"400", "404", "422"} <= codes, f"{operation_id}: a path id"
        if method != "GET":
            assert "409" in codes, f"{operation_id}: a change"
        if "requestBody" in op and operation_id != "uploadAttachment":
            assert {"400", "413", "422"} <= codes, f"{operation_id}: a body"
    assert {"401", "403", "429"} <= set(ops["login"][2]["responses"])
    assert "403" in ops["listMembers"][2]["responses"]
    assert {"415", "413"} <= set(ops["uploadAttachment"][2]["responses"])
    assert "503" in ops["paypalCheckout"][2]["responses"] and "502" in ops["paypalCheckout"][2]["responses"]
    # a replayed Idempotency-Key answers 200 with the first result
    assert set(ops["createDeposit"][2]["responses"]) >= {"200", "201"}
    # a file of any type, which a client reads as bytes
    download = ops["downloadAttachment"][2]["responses"]["200"]["content"]
    assert list(download) == ["application/octet-stream", "*/*"]
    assert {media["schema"]["format"] for media in download.values()} == {"binary"}
