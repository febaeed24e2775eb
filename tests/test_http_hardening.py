"""Hardening at the HTTP edge: hostile bodies, strict types, response headers, the docs
UI, the amount format, invisible characters in names, and error wording.

Each test sends what a careless or hostile client would and asserts the exact answer a
client relies on, and that nothing was changed.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from typing import Any

import pytest
from litestar import Response, get, post
from litestar.params import JSONBody

import agorakit
from agorakit.catalog.tables import Category, Listing
from agorakit.http.docs_ui import CONTENT_SECURITY_POLICY, SCALAR_JS, SWAGGER_UI_CSS, SWAGGER_UI_JS
from agorakit.money import ledger
from agorakit.money.amounts import parse_amount
from agorakit.money.tables import Payment, Withdrawal
from agorakit.text import format_character

IBAN_ACCOUNT = {"account_holder": "Ada Lovelace", "iban": "DE89370400440532013000", "bic": "DEUTDEFF"}
DEEP = "[" * 1000 + "]" * 1000  # 2 KB that recursed past msgspec's limit: a 500 before


class EchoRoute:
    """A plugin route that takes any JSON, anonymously: the worst case for decoding."""

    @agorakit.hookimpl
    def agorakit_routes(self):
        @post("/test/echo", operation_id="testEcho", summary="Echo a JSON body", exclude_from_auth=True)
        async def echo(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
            return {"keys": sorted(data)}

        @get("/test/cached", operation_id="testCached", summary="A cacheable answer", exclude_from_auth=True)
        async def cached() -> Response[dict[str, str]]:
            return Response({"status": "ok"}, headers={"Cache-Control": "public, max-age=60"})

        return [echo, cached]


@pytest.fixture
def site_config(tmp_path):
    return {
        "site": {"plugins": ["gigs", "bank_transfer"]},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "attachments": {"path": str(tmp_path / "files")},
    }


@pytest.fixture
def extra_plugins():
    return [("test-echo", EchoRoute())]


def usd(amount: Any) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


def gig_body(**changes: Any) -> dict[str, Any]:
    body = {
        "kind": "gig",
        "title": "I will design a minimalist logo",
        "description": "Three concepts, vector files and two rounds of changes.",
        "price": usd("25.00"),
        "category": "logo-design",
        "attributes": {
            "delivery_days": 3,
            "extras": [{"title": "Express delivery", "price": "10.00", "days": 0}],
            "max_quantity": 5,
        },
    }
    body.update(changes)
    return body


async def fund(runtime, account: str, cents: int) -> None:
    async with runtime.unit_of_work() as uow:
        await ledger.post(
            uow,
            key=f"fund:{account}:{cents}",
            kind="test_funding",
            description="test",
            lines=ledger.move(ledger.external("test"), account, cents, "USD"),
        )


@pytest.fixture
async def market(client, make_member):
    """An operator, a seller and a buyer, and the categories gigs go in."""
    operator, seller, buyer = await make_member(role="operator"), await make_member(), await make_member()
    for slug, name, parent in [("design", "Design", None), ("logo-design", "Logo design", "design")]:
        created = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert created.status_code == 201, created.text
    return operator, seller, buyer


async def published_gig(client, seller, operator) -> dict[str, Any]:
    created = await client.post("/listings", json=gig_body(), headers=seller.headers)
    assert created.status_code == 201, created.text
    gig_id = created.json()["id"]
    assert (await client.post(f"/listings/{gig_id}/submit", headers=seller.headers)).status_code == 200
    approved = await client.post(f"/operator/listings/{gig_id}/approve", headers=operator.headers)
    assert approved.json()["status"] == "published"
    return approved.json()


# --------------------------------------------------------------------------------------
# Bodies nested too deeply
# --------------------------------------------------------------------------------------


def assert_quiet_400(response, caplog, code: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code and body["status"] == 400
    assert "Traceback" not in response.text and "RecursionError" not in response.text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_deeply_nested_body_is_a_400_malformed_body_anonymous_or_not(client, market, caplog):
    _, seller, _ = market
    json_headers = {"content-type": "application/json"}
    listing = (
        '{"kind": "gig", "title": "t", "description": "d", "price": {"amount": "5.00", "currency": "USD"}, '
        '"category": "logo-design", "attributes": {"extras": ' + DEEP + "}}"
    )
    withdrawal = (
        '{"method": "bank_transfer", "amount": {"amount": "1.00", "currency": "USD"}, '
        '"destination": {"account_holder": ' + DEEP + "}}"
    )
    sent = [
        ("/test/echo", '{"a": ' + DEEP + "}", {}),  # anonymous, a route that takes any object
        ("/listings", listing, seller.headers),  # authenticated: free-form fields of real routes
        ("/withdrawals", withdrawal, seller.headers),
    ]
    for path, body, headers in sent:
        with caplog.at_level(logging.INFO):
            response = await client.post(path, content=body, headers={**headers, **json_headers})
        assert_quiet_400(response, caplog, "malformed_body")
        assert "nested too deeply" in response.json()["detail"]
    assert await Listing.count() == 0
    assert await Withdrawal.count() == 0


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register"])
async def test_deeply_nested_array_on_anonymous_routes_is_a_quiet_400(client, caplog, path):
    with caplog.at_level(logging.INFO):
        response = await client.post(path, content=DEEP, headers={"content-type": "application/json"})
    assert_quiet_400(response, caplog, "bad_request")
    assert response.json()["detail"] == "Expected `object`, got `array`"


async def test_deeply_nested_cursor_is_a_422_on_the_cursor(client, problem, caplog):
    cursor = base64.urlsafe_b64encode(DEEP.encode()).decode().rstrip("=")
    with caplog.at_level(logging.INFO):
        response = await client.get("/listings", params={"cursor": cursor})
    body = problem(response, 422, "validation_error", fields={"cursor"})
    assert body["errors"][0]["source"] == "query"
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_deeply_nested_paypal_webhook_body_is_not_an_event():
    from agorakit.plugins.paypal.webhooks import WebhookInvalid, decode_event

    with pytest.raises(WebhookInvalid) as refused:
        decode_event(('{"id": "WH-1", "event_type": "X", "resource": ' + DEEP + "}").encode())
    assert refused.value.status == 400
    assert refused.value.detail == "the body is not a PayPal event: it is nested too deeply"


async def test_well_formed_body_still_reaches_a_free_form_route(client):
    response = await client.post("/test/echo", json={"b": [[1]], "a": {"c": None}})
    assert response.status_code == 201, response.text
    assert response.json() == {"keys": ["a", "b"]}


async def test_body_that_is_not_json_is_still_a_400_bad_request(client, problem):
    response = await client.post(
        "/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    body = problem(response, 400, "bad_request")
    assert body["detail"].startswith("JSON is malformed")


# --------------------------------------------------------------------------------------
# Integers are JSON integers
# --------------------------------------------------------------------------------------


async def test_quantity_as_a_string_is_refused(client, market, runtime, problem):
    operator, seller, buyer = market
    gig = await published_gig(client, seller, operator)
    for quantity, got in [("3", "str"), (3.0, "float"), (True, "bool")]:
        response = await client.post(
            f"/gigs/{gig['id']}/orders", json={"quantity": quantity}, headers=buyer.headers
        )
        body = problem(response, 422, "validation_error", fields={"quantity"})
        assert body["errors"][0]["message"] == f"Expected `int`, got `{got}`"
    placed = await client.post(f"/gigs/{gig['id']}/orders", json={"quantity": 3}, headers=buyer.headers)
    assert placed.status_code == 201, placed.text


async def test_integers_in_bodies_and_listing_attributes_must_be_json_integers(client, market, problem):
    operator, seller, _ = market
    position = await client.post(
        "/operator/categories",
        json={"slug": "writing", "name": "Writing", "position": "3"},
        headers=operator.headers,
    )
    problem(position, 422, "validation_error", fields={"position"})
    days = await client.post(
        "/listings", json=gig_body(attributes={"delivery_days": "3"}), headers=seller.headers
    )
    body = problem(days, 422, "validation_error", fields={"attributes.delivery_days"})
    assert body["errors"][0]["message"] == "Expected `int`, got `str`"
    assert await Category.count() == 2 and await Listing.count() == 0


async def test_amount_as_a_number_is_refused(client, market, problem):
    _, seller, _ = market
    response = await client.post("/listings", json=gig_body(price=usd(25)), headers=seller.headers)
    problem(response, 422, "validation_error", fields={"price.amount"})


async def test_query_parameters_are_still_read_from_text(client, market):
    response = await client.get("/listings", params={"limit": "5"})
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


# --------------------------------------------------------------------------------------
# Response headers
# --------------------------------------------------------------------------------------


async def test_token_responses_are_not_stored(client, make_member):
    member = await make_member()
    logged_in = await client.post(
        "/auth/login", json={"email": member.member.email, "password": member.password}
    )
    assert logged_in.status_code == 200, logged_in.text
    changed = await client.post(
        "/me/password",
        json={"current_password": member.password, "new_password": "another-long-pass-2026"},
        headers=member.headers,
    )
    assert changed.status_code == 200, changed.text
    for response in (logged_in, changed):
        assert "access_token" in response.json()
        assert response.headers.get_list("cache-control") == ["no-store"]
        assert response.headers["x-content-type-options"] == "nosniff"
    registered = await client.post(  # no token in the answer, and not stored either
        "/auth/register",
        json={"email": "zoe@example.com", "password": "a-long-pass-phrase-2026", "display_name": "Zoë",
              "country": "FR", "skills": []},
    )  # fmt: skip
    assert registered.status_code == 202, registered.text
    assert registered.headers.get_list("cache-control") == ["no-store"]


async def test_every_json_response_has_nosniff_and_no_server_header(client, make_member):
    member = await make_member()
    responses = [
        await client.get("/health"),
        await client.get("/me", headers=member.headers),
        await client.get("/nothing-here"),  # a problem response
        await client.post("/auth/login", json={"email": "x@example.com"}),  # a 422
    ]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff", response.request.url
        assert response.headers.get_list("cache-control") == ["no-store"]
        assert "server" not in response.headers


async def test_a_route_with_its_own_cache_control_keeps_it(client):
    response = await client.get("/test/cached")
    assert response.status_code == 200
    assert response.headers.get_list("cache-control") == ["public, max-age=60"]
    assert response.headers["x-content-type-options"] == "nosniff"


# --------------------------------------------------------------------------------------
# The docs UI
# --------------------------------------------------------------------------------------

_PINNED = re.compile(r"^https://cdn\.jsdelivr\.net/npm/(@[a-z-]+/)?[a-z-]+@\d+\.\d+\.\d+/[\w./-]+$")


def external_assets(page: str) -> list[tuple[str, str]]:
    """(tag, url) of every script and style sheet the page loads from elsewhere."""
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page)
    return [(tag, m.group(1)) for tag in tags if (m := re.search(r'(?:src|href)="(https?://[^"]+)"', tag))]


@pytest.mark.parametrize("path", ["/docs", "/docs/swagger"])
async def test_docs_ui_loads_only_pinned_integrity_checked_assets_under_a_csp(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    page = response.text
    assets = external_assets(page)
    assert assets, page
    for tag, url in assets:
        assert _PINNED.match(url), url  # an exact version, never @latest or a branch
        integrity = re.search(r'integrity="sha384-([A-Za-z0-9+/=]+)"', tag)
        assert integrity and len(base64.b64decode(integrity.group(1))) == 48, tag
        assert 'crossorigin="anonymous"' in tag
    assert "@latest" not in page and "@main" not in page and "favicon" not in page
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # Every inline script the page runs is allowed by hash; nothing else inline runs.
    for script in re.findall(r"<script>(.*?)</script>", page, flags=re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    assert "connect-src 'self';" in CONTENT_SECURITY_POLICY


async def test_docs_pages_reference_the_exact_pinned_files(client):
    scalar = (await client.get("/docs")).text
    assert f'src="{SCALAR_JS.url}" integrity="{SCALAR_JS.integrity}"' in scalar
    assert "@scalar/api-reference@1.76.4/dist/browser/standalone.js" in scalar
    assert 'data-url="/docs/openapi.json"' in scalar
    swagger = (await client.get("/docs/swagger")).text
    assert f'src="{SWAGGER_UI_JS.url}" integrity="{SWAGGER_UI_JS.integrity}"' in swagger
    assert f'href="{SWAGGER_UI_CSS.url}" rel="stylesheet" integrity="{SWAGGER_UI_CSS.integrity}"' in swagger
    assert "swagger-ui-dist@5.36.0/" in swagger
    schema = await client.get("/docs/openapi.json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.1")


# --------------------------------------------------------------------------------------
# Amounts: ASCII digits, nothing around them
# --------------------------------------------------------------------------------------

FULL_WIDTH = "\uff11\uff12.\uff15\uff10"  # twelve fifty in full-width digits
ARABIC_INDIC = "\u0661\u0662.\u0665\u0660"  # twelve fifty in Arabic-Indic digits
PERSIAN = "\u06f1\u06f2.\u06f5\u06f0"  # and in extended Arabic-Indic (Persian) digits
BAD_AMOUNTS = [
    FULL_WIDTH,
    ARABIC_INDIC,
    PERSIAN,
    " 12.50",
    "12.50 ",
    "12.50\n",
    "+12",
    "1e3",
    "12.5.0",
    "",
    "\u0661\u0662",
]


@pytest.mark.parametrize("text", BAD_AMOUNTS)
def test_parse_amount_takes_ascii_digits_only(text):
    with pytest.raises(agorakit.errors.ValidationFailed) as refused:
        parse_amount(text, "USD")
    assert refused.value.errors[0].message == 'must be a decimal number written as a string, e.g. "12.50"'


def test_parse_amount_still_takes_plain_amounts():
    assert parse_amount("12.50", "USD") == 1250
    assert parse_amount("12", "USD") == 1200
    assert parse_amount("0.5", "USD") == 50
    assert parse_amount("1250", "JPY") == 1250


async def test_deposit_gig_price_and_withdrawal_refuse_non_ascii_or_padded_amounts(
    client, runtime, market, problem
):
    _, seller, _ = market
    await fund(runtime, ledger.available(seller.id), 10000)
    for text in [FULL_WIDTH, ARABIC_INDIC, " 12.50", "12.50\n", "+12", "1e3"]:
        deposit = await client.post(
            "/payments", json={"method": "bank_transfer", "amount": usd(text)}, headers=seller.headers
        )
        problem(deposit, 422, "validation_error", fields={"amount.amount"})
        gig = await client.post("/listings", json=gig_body(price=usd(text)), headers=seller.headers)
        problem(gig, 422, "validation_error", fields={"price.amount"})
        withdrawal = await client.post(
            "/withdrawals",
            json={"method": "bank_transfer", "amount": usd(text), "destination": IBAN_ACCOUNT},
            headers=seller.headers,
        )
        problem(withdrawal, 422, "validation_error", fields={"amount.amount"})
    assert await Payment.count() == 0
    assert await Listing.count() == 0
    assert await Withdrawal.count() == 0
    assert await ledger.balance_of(ledger.available(seller.id), "USD") == 10000


async def test_gig_extra_price_with_arabic_digits_is_refused(client, market, problem):
    _, seller, _ = market
    attributes = {"delivery_days": 3, "extras": [{"title": "Express", "price": "\u0661\u0660.\u0660\u0660"}]}
    response = await client.post("/listings", json=gig_body(attributes=attributes), headers=seller.headers)
    problem(response, 422, "validation_error", fields={"attributes.extras[0].price"})


# --------------------------------------------------------------------------------------
# Names: no invisible format characters
# --------------------------------------------------------------------------------------

FORMAT_CHARACTERS = ["\u202e", "\u200b", "\u2066", "\u200d", "\ufeff"]


@pytest.mark.parametrize("char", FORMAT_CHARACTERS)
def test_format_character_finds_invisible_formatting(char):
    assert format_character(f"Ada{char}Lovelace") == char


def test_format_character_leaves_names_in_any_script_alone():
    for name in ["Ada Lovelace", "Zoë Ångström", "سارة أحمد", "李小龍", "Ελένη"]:
        assert format_character(name) is None


def register_body(display_name: str, email: str = "new@example.com") -> dict[str, Any]:
    return {"email": email, "password": "a-long-pass-phrase-2026", "display_name": display_name,
            "country": "GB", "skills": []}  # fmt: skip


async def test_display_names_with_format_characters_are_refused(client, make_member, problem):
    for char in FORMAT_CHARACTERS:
        response = await client.post("/auth/register", json=register_body(f"Ada{char}Lx"))
        body = problem(response, 422, "validation_error", fields={"display_name"})
        assert f"U+{ord(char):04X}" in body["errors"][0]["message"]
    member = await make_member(display_name="Ada")
    renamed = await client.patch("/me", json={"display_name": "Ad\u200ba"}, headers=member.headers)
    problem(renamed, 422, "validation_error", fields={"display_name"})
    assert (await client.get("/me", headers=member.headers)).json()["display_name"] == "Ada"
    fine = await client.post("/auth/register", json=register_body("سارة أحمد"))
    assert fine.status_code == 202, fine.text


async def test_category_listing_and_extra_titles_with_format_characters_are_refused(client, market, problem):
    operator, seller, _ = market
    created = await client.post(
        "/operator/categories", json={"slug": "writing", "name": "Wri\u2066ting"}, headers=operator.headers
    )
    problem(created, 422, "validation_error", fields={"name"})
    titled = await client.post("/listings", json=gig_body(title="Logo \u202eogol"), headers=seller.headers)
    problem(titled, 422, "validation_error", fields={"title"})
    attributes = {"delivery_days": 3, "extras": [{"title": "Ex\u200bpress", "price": "10.00"}]}
    extra = await client.post("/listings", json=gig_body(attributes=attributes), headers=seller.headers)
    problem(extra, 422, "validation_error", fields={"attributes.extras[0].title"})
    assert await Category.count() == 2 and await Listing.count() == 0


async def test_renaming_a_category_or_listing_to_a_spoofed_name_is_refused(client, market, problem):
    operator, seller, _ = market
    category = await Category.select(Category.id).where(Category.slug == "design").first()
    renamed = await client.patch(
        f"/operator/categories/{category['id']}", json={"name": "Des\u202eign"}, headers=operator.headers
    )
    problem(renamed, 422, "validation_error", fields={"name"})
    created = await client.post("/listings", json=gig_body(), headers=seller.headers)
    edited = await client.patch(
        f"/listings/{created.json()['id']}", json={"title": "Logo\u2067 design"}, headers=seller.headers
    )
    problem(edited, 422, "validation_error", fields={"title"})
    assert (await client.get(f"/listings/{created.json()['id']}", headers=seller.headers)).json()[
        "title"
    ] == ("I will design a minimalist logo")


# --------------------------------------------------------------------------------------
# Error wording: the member's words, never internal account names
# --------------------------------------------------------------------------------------

_ACCOUNT_NAME = re.compile(r"member:\d|:escrow|:available|:credit|platform:fees|:clearing|external:")


async def test_overdrawn_withdrawal_says_it_in_words(client, runtime, market, problem):
    _, seller, _ = market
    await fund(runtime, ledger.available(seller.id), 5000)
    response = await client.post(
        "/withdrawals",
        json={"method": "bank_transfer", "amount": usd("50.01"), "destination": IBAN_ACCOUNT},
        headers=seller.headers,
    )
    body = problem(response, 409, "insufficient_funds")
    assert body["detail"] == "your available balance is 50.00 USD; this needs 50.01 USD"
    assert body["extra"] == {"account": "available", "balance": "50.00", "needed": "50.01", "currency": "USD"}
    assert not _ACCOUNT_NAME.search(response.text), response.text
    assert await Withdrawal.count() == 0


async def test_an_escrow_shortfall_names_the_order_not_the_account(runtime):
    await fund(runtime, ledger.escrow("order:8"), 500)
    with pytest.raises(ledger.InsufficientFunds) as refused:
        async with runtime.unit_of_work() as uow:
            await ledger.post(
                uow,
                key="release-too-much",
                kind="test",
                description="test",
                lines=ledger.move(ledger.escrow("order:8"), ledger.available(1), 501, "USD"),
            )
    assert refused.value.detail == "the payment held for order 8 is 5.00 USD; this needs 5.01 USD"
    assert refused.value.extra["account"] == "escrow"
    assert not _ACCOUNT_NAME.search(refused.value.detail)


def test_every_account_kind_has_words():
    assert ledger.account_in_words("member:8:available") == "your available balance"
    assert ledger.account_in_words("member:8:credit") == "your credit balance"
    assert ledger.account_in_words("order:8:escrow") == "the payment held for order 8"
    assert ledger.account_in_words("campaign:3:escrow") == "the payment held for campaign 3"
    assert ledger.account_in_words("platform:fees") == "the site's fee balance"
    assert ledger.account_in_words("payouts:paypal:clearing") == "the money in withdrawals through paypal"
    assert ledger.account_in_words("external:bank_transfer") == "the money received through bank_transfer"
    assert ledger.account_in_words("vouchers:outstanding") == "the outstanding voucher balance"
    for name in ["member:8:available", "order:8:escrow", "platform:fees", "payouts:paypal:clearing"]:
        assert not _ACCOUNT_NAME.search(ledger.account_in_words(name))
