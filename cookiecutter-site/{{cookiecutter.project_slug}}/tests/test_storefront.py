"""The storefront's pages: browsing, signing up, in and out, sessions, CSRF, settings.

Each test drives the pages as a browser without JavaScript does (``Visitor``: cookies,
the CSRF token of the last page, plain form posts) on SQLite and on PostgreSQL.
Ordering, paying and the next steps of an order are in ``test_storefront_orders.py``.
"""

from __future__ import annotations

import re

import pytest
from agorakit.hooks import get_plugin_manager
from agorakit.settings import ConfigError, settings_from_dict

import site_plugins.storefront as storefront
from site_plugins.storefront.testing import Visitor

SITE = {
    "site": {"name": "Test Bazaar", "currency": "USD", "plugins": ["gigs", "bank_transfer"]},
    "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
    "plugins": {
        "storefront": {"primary_color": "#123456", "accent_color": "#abcdef", "tagline": "Made to order."}
    },
}
LOGO = {
    "title": "I will design a minimalist logo",
    "description": "Three concepts and vector files.",
    "price": {"amount": "25.00", "currency": "USD"},
    "attributes": {
        "delivery_days": 3,
        "extras": [{"title": "Express delivery", "price": "10.00", "days": 0}],
    },
}


@pytest.fixture
def site_config():
    return SITE


@pytest.fixture
def extra_plugins():
    return [("storefront", storefront)]


@pytest.fixture
async def browser(client):
    async with Visitor(client.app) as visitor:
        yield visitor


def text_of(html: str) -> str:
    """The page's text, tags dropped and white space collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_home_shows_the_site_name_colours_and_published_gigs(browser, make_listing):
    gig = await make_listing(kind="gig", **LOGO)
    page = await browser.get("/shop")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>Home · Test Bazaar</title>" in page.text
    assert ":root { --primary: #123456; --accent: #abcdef; }" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert "Made to order." in page.text
    assert f'href="/shop/gigs/{gig["id"]}">I will design a minimalist logo</a>' in page.text
    assert "From 25.00 USD" in text_of(page.text)
    css = await browser.get("/static/storefront/storefront.css")
    assert css.status_code == 200 and "--primary" in css.text


async def test_search_finds_gigs_by_words_and_a_bad_cursor_is_a_422_page(browser, make_listing):
    await make_listing(kind="gig", **LOGO)
    await make_listing(kind="gig", title="I will proofread your thesis", description="Careful proofreading.")
    found = text_of((await browser.get("/shop/search", q="logo")).text)
    assert "I will design a minimalist logo" in found and "proofread" not in found
    bad = await browser.get("/shop/search", cursor="not-a-cursor")
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text


async def test_the_api_keeps_its_paths_and_the_pages_stay_out_of_its_document(client):
    index = await client.get("/")
    assert index.headers["content-type"].startswith("application/json")
    assert index.json()["name"] == "Test Bazaar"
    assert (await client.get("/listings")).headers["content-type"].startswith("application/json")
    paths = (await client.get("/docs/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith(("/shop", "/static"))]


async def test_signing_up_creates_the_account_and_signs_in(browser, client):
    form = await browser.get("/shop/sign-up")
    assert '<label for="signup-email">Email address</label>' in form.text
    answer = await browser.post(
        "/shop/sign-up",
        {
            "display_name": "Ada",
            "email": "ada@example.com",
            "password": "analytical-engine-1843",
            "country": "GB",
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/shop"
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "storefront_session=" in v
    )
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/shop" in cookie
    assert "Secure" not in cookie  # the site's base_url is http here
    home = text_of((await browser.get("/shop")).text)
    assert "Welcome, Ada! Your account is ready." in home and "signed in as Ada" in home
    login = await client.post(
        "/auth/login", json={"email": "ada@example.com", "password": "analytical-engine-1843"}
    )
    assert login.status_code == 200 and login.json()["member"]["country"] == "GB"


async def test_sign_up_errors_are_shown_next_to_their_fields_and_create_nothing(browser, client):
    await browser.get("/shop/sign-up")
    answer = await browser.post(
        "/shop/sign-up",
        {"display_name": "Bo", "email": "bo@example.com", "password": "short", "country": "XX"},
    )
    assert answer.status_code == 422
    assert 'id="signup-password-error">use at least 10 characters</p>' in answer.text
    assert "is not an ISO 3166-1 alpha-2 country code" in answer.text
    assert 'aria-invalid="true" aria-describedby="signup-country-error"' in answer.text
    assert 'value="bo@example.com"' in answer.text  # what was typed is kept
    login = await client.post("/auth/login", json={"email": "bo@example.com", "password": "short-but-no"})
    assert login.status_code == 401


async def test_sign_in_with_a_wrong_password_then_the_right_one_then_sign_out(browser, make_member):
    member = await make_member(display_name="Cleo")
    await browser.get("/shop/sign-in")
    wrong = await browser.post(
        "/shop/sign-in", {"email": member.member.email, "password": "not-the-password"}
    )
    assert wrong.status_code == 401
    assert 'role="alert"' in wrong.text and "storefront_session" not in wrong.headers.get("set-cookie", "")
    right = await browser.post(
        "/shop/sign-in", {"email": member.member.email, "password": member.password, "next": "/shop/orders"}
    )
    assert right.status_code == 303 and right.headers["location"] == "/shop/orders"
    assert (await browser.get("/shop/orders")).status_code == 200
    out = await browser.post("/shop/sign-out")
    assert out.status_code == 303
    assert out.headers["set-cookie"].startswith("storefront_session=null; expires=")  # deleted
    after = await browser.get("/shop/orders")
    assert after.status_code == 303 and after.headers["location"] == "/shop/sign-in?next=/shop/orders"


@pytest.mark.parametrize("path", ["/shop/orders", "/shop/orders/1", "/shop/balance"])
async def test_pages_for_members_send_visitors_to_sign_in(browser, path):
    answer = await browser.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/shop/sign-in?next={path}"


async def test_sign_in_never_sends_the_member_to_another_site(browser, make_member):
    member = await make_member()
    await browser.get("/shop/sign-in")
    answer = await browser.post(
        "/shop/sign-in",
        {"email": member.member.email, "password": member.password, "next": "//evil.example/shop"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/shop"


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    browser, client, make_member, make_listing
):
    gig = await make_listing(kind="gig", **LOGO)
    buyer = await make_member()
    await browser.sign_in(buyer)
    missing = await browser.post(f"/shop/gigs/{gig['id']}/order", {"quantity": "1"}, csrf=False)
    assert missing.status_code == 403
    assert missing.headers["content-type"].startswith("text/html")
    assert "The form could not be accepted" in missing.text
    forged = await browser.http.post(
        f"/shop/gigs/{gig['id']}/order", data={"quantity": "1", "_csrf_token": "0" * 128}
    )
    assert forged.status_code == 403
    orders = await client.get("/orders", params={"role": "buyer"}, headers=buyer.headers)
    assert orders.json()["items"] == []


async def test_a_token_the_api_no_longer_accepts_signs_the_visitor_out(browser, client, make_member):
    member = await make_member()
    await browser.sign_in(member)
    changed = await client.post(
        "/me/password",
        json={"current_password": member.password, "new_password": "a-brand-new-passphrase-77"},
        headers=member.headers,
    )
    assert changed.status_code == 200  # every older token, the session's too, stops working
    answer = await browser.get("/shop/balance")
    assert answer.status_code == 303 and answer.headers["location"] == "/shop/sign-in?next=/shop/balance"
    page = await browser.get("/shop/sign-in")
    assert "Your session has ended: sign in again." in page.text


async def test_an_unknown_gig_is_a_404_page(browser):
    answer = await browser.get("/shop/gigs/999999")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in answer.text


def test_colours_must_be_css_hex_colours():
    pm = get_plugin_manager(["gigs"], extra=[("storefront", storefront)])
    base = {"auth": {"jwt_secret": "x" * 40}, "site": {"plugins": ["gigs"]}}
    ok = settings_from_dict(
        {**base, "plugins": {"storefront": {"primary_color": "#0F766E", "accent_color": "#fa0"}}},
        source="site.toml",
        environ={},
        pm=pm,
    )
    assert ok.plugin("storefront").primary_color == "#0F766E"
    with pytest.raises(ConfigError) as refused:
        settings_from_dict(
            {**base, "plugins": {"storefront": {"primary_color": "teal"}}},
            source="site.toml",
            environ={},
            pm=pm,
        )
    assert "plugins.storefront" in str(refused.value) and "primary_color" in str(refused.value)


class TestHttpsSite:
    @pytest.fixture
    def site_config(self):
        return {**SITE, "site": {**SITE["site"], "base_url": "https://bazaar.example"}}

    async def test_cookies_are_secure_when_the_site_is_https(self, client, make_member):
        member = await make_member()
        async with Visitor(client.app, base_url="https://bazaar.example") as browser:
            page = await browser.get("/shop/sign-in")
            assert "Secure" in page.headers["set-cookie"]  # the CSRF cookie
            answer = await browser.sign_in(member)
            session = next(v for k, v in answer.headers.multi_items() if "storefront_session=" in v)
            assert "Secure" in session and "HttpOnly" in session and "samesite=lax" in session.lower()
