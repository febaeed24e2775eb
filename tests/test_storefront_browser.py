"""The storefront starter in a real headless Chromium.

The site template is rendered (storefront, gigs and bank transfer on) into a temporary
folder, its ``site_plugins.storefront`` imported from there, and a site served with it
by uvicorn on a free localhost port (SQLite, and PostgreSQL when it is reachable).  A
seller publishes a gig with an extra through the API.  Then Debian's ``chromium``,
driven by Playwright, does what people do: a buyer signs up, adds funds by bank transfer
(an operator confirms the transfer through the API, so the money comes in through the
ledger), finds the gig, orders it with the extra and pays from the balance; the seller,
signed in in another browser context, delivers; the buyer accepts; the seller's balance
page shows 28.00 USD (25.00 + 10.00 - the site's 20%).

Nothing is downloaded (``tests/browser_helpers.py``): Playwright drives ``/usr/bin/chromium`` (``make browser``
installs it; never ``playwright install``).  Without it the test is skipped with the
reason, except in CI (``CI`` set), where it fails.

``AGORAKIT_STOREFRONT_SCREENSHOTS=docs/images/storefront`` saves the pages' screenshots
for the docs (``docs/storefront.md``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import Site, chromium, database_url, served_site, sync_playwright_or_skip
from browser_helpers import shot as save_shot

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = os.environ.get("AGORAKIT_STOREFRONT_SCREENSHOTS")
INSTRUCTIONS = "Pay to Browser Bazaar Ltd, IBAN DE89 3704 0044 0532 0130 00. Quote the payment reference."
WHAT = "the storefront's browser test"


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    return sync_playwright_or_skip(WHAT)


@pytest.fixture(scope="module")
def storefront_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``site_plugins.storefront`` of a freshly rendered site."""
    from cookiecutter.main import cookiecutter

    out = tmp_path_factory.mktemp("rendered")
    project = Path(
        cookiecutter(
            str(REPO / "cookiecutter-site"),
            no_input=True,
            output_dir=str(out),
            extra_context={
                "site_name": "Browser Bazaar",
                "storefront": True,
                "gigs": True,
                "bank_transfer": True,
            },
        )
    )
    assert (project / "site_plugins" / "storefront" / "templates" / "order.html").is_file()

    def forget_site_plugins() -> None:  # another rendered site's, before; this one's, after
        for name in [n for n in sys.modules if n == "site_plugins" or n.startswith("site_plugins.")]:
            del sys.modules[name]

    forget_site_plugins()
    sys.path.insert(0, str(project))
    try:
        module = importlib.import_module("site_plugins.storefront")
        assert Path(module.__file__).is_relative_to(project)
        yield module
    finally:
        sys.path.remove(str(project))
        forget_site_plugins()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, WHAT) as url:
        yield url


@pytest.fixture
def site(storefront_plugin: Any, database: str) -> Iterator[Site]:
    """A site served by uvicorn in a thread, migrated, with an operator."""
    config = {
        "site": {"name": "Browser Bazaar"},
        "database": {"url": database},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "plugins": {"bank_transfer": {"instructions": INSTRUCTIONS}},
    }
    with served_site(config, ["gigs", "bank_transfer"], extra=[("storefront", storefront_plugin)]) as served:
        yield served


def publish_logo_gig(site: Site) -> tuple[dict[str, str], int]:
    """A seller's published gig: 25.00 USD with a 10.00 USD "Express delivery" extra."""
    site.call(
        "POST",
        "/operator/categories",
        site.operator,
        json={"slug": "design", "name": "Design", "parent": None},
    )
    seller = site.member("sam@example.com", "sam-sells-logos-2026", "Sam Seller")
    gig = {
        "kind": "gig",
        "title": "I will design a minimalist logo",
        "description": "Three concepts, vector files and two rounds of changes.",
        "price": {"amount": "25.00", "currency": "USD"},
        "category": "design",
        "attributes": {
            "delivery_days": 3,
            "requirements": "Your brand name and the colours you like.",
            "extras": [{"title": "Express delivery", "price": "10.00", "days": 0}],
        },
    }
    listing = site.call("POST", "/listings", seller, json=gig)
    site.call("POST", f"/listings/{listing['id']}/submit", seller)
    site.call("POST", f"/operator/listings/{listing['id']}/approve", site.operator)
    other = {**gig, "title": "I will proofread your thesis", "attributes": {"delivery_days": 5}}
    proofreading = site.call("POST", "/listings", seller, json=other)
    site.call("POST", f"/listings/{proofreading['id']}/submit", seller)
    site.call("POST", f"/operator/listings/{proofreading['id']}/approve", site.operator)
    return seller, listing["id"]


def shot(page: Any, name: str, tmp_path: Path) -> None:
    save_shot(page, Path(SCREENSHOTS) if SCREENSHOTS else tmp_path / "screenshots", name)


def test_buyer_orders_pays_seller_delivers_buyer_accepts(
    site: Site, playwright_api: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    seller_headers, gig_id = publish_logo_gig(site)
    with chromium(playwright_api) as browser:
        buyer = browser.new_context(viewport={"width": 1000, "height": 760}, base_url=site.url).new_page()
        buyer.set_default_timeout(15_000)

        # a buyer signs up
        buyer.goto("/shop")
        expect(buyer.get_by_role("heading", level=1)).to_have_text("Browser Bazaar")
        shot(buyer, "home", tmp_path)
        buyer.get_by_role("link", name="Sign up").click()
        buyer.get_by_label("Your name, as others see it").fill("Bea Buyer")
        buyer.get_by_label("Email address").fill("bea@example.com")
        buyer.get_by_label("Password").fill("bea-buys-designs-2026")
        buyer.get_by_label("Country").select_option("GB")
        buyer.get_by_role("button", name="Create account").click()
        expect(buyer.get_by_role("status")).to_contain_text("Welcome, Bea Buyer! Your account is ready.")

        # adds 50.00 by bank transfer; an operator confirms the transfer
        buyer.get_by_role("link", name="Balance").click()
        buyer.get_by_label("Amount (USD)").first.fill("50.00")
        buyer.get_by_role("button", name="Add funds").click()
        expect(buyer.get_by_role("status")).to_contain_text("Payment started")
        reference = buyer.locator(".instructions .reference").inner_text()
        assert reference.startswith("PAY-")
        (payment,) = [
            p
            for p in site.call(
                "GET", "/operator/payments", site.operator, params={"status": "awaiting_funds"}
            )["items"]
            if p["reference"] == reference
        ]
        confirmation = {"amount": {"amount": "50.00", "currency": "USD"}, "reference": "statement 2026-001"}
        site.call(
            "POST", f"/bank-transfer/payments/{payment['id']}/confirm", site.operator, json=confirmation
        )
        buyer.reload()
        expect(buyer.locator("#balance-credit")).to_have_text("50.00 USD")

        # finds the gig, orders it with the extra, pays from the balance
        header_search = buyer.locator("form.header-search")
        header_search.get_by_label("Search gigs").fill("logo")
        header_search.get_by_role("button", name="Search").click()
        expect(buyer.get_by_role("heading", level=1)).to_have_text("Gigs for “logo”")
        expect(buyer.locator(".card")).to_have_count(1)
        buyer.get_by_role("link", name="I will design a minimalist logo").click()
        assert buyer.url == f"{site.url}/shop/gigs/{gig_id}"
        buyer.get_by_label("Express delivery").check()
        buyer.get_by_role("button", name="Update price").click()
        expect(buyer.locator(".quote tr.total td")).to_have_text("35.00 USD")
        buyer.get_by_label("Your instructions for the seller").fill("Bea's Bakery, warm colours")
        shot(buyer, "listing", tmp_path)
        buyer.get_by_role("button", name="Continue to payment").click()
        expect(buyer.get_by_role("heading", level=1)).to_contain_text("I will design a minimalist logo")
        order_url = buyer.url
        order_id = int(order_url.rsplit("/", 1)[1])
        expect(buyer.locator("#order-method-balance")).to_be_checked()
        buyer.get_by_role("button", name="Pay now").click()
        expect(buyer.get_by_role("status")).to_contain_text("Paid: the seller has started.")
        expect(buyer.locator(".state").first).to_have_text("in progress")

        # the seller, signed in in another browser context, delivers
        seller = browser.new_context(viewport={"width": 1000, "height": 760}, base_url=site.url).new_page()
        seller.set_default_timeout(15_000)
        seller.goto("/shop/sign-in")
        seller.get_by_label("Email address").fill("sam@example.com")
        seller.get_by_label("Password").fill("sam-sells-logos-2026")
        seller.get_by_role("button", name="Sign in").click()
        seller.get_by_role("link", name="My orders").click()
        seller.get_by_role("link", name="Selling").click()
        row = seller.locator("table.orders tbody tr")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("35.00 USD")
        shot(seller, "my-orders", tmp_path)
        row.get_by_role("link", name="Deliver").click()
        expect(seller.get_by_text("Bea's Bakery, warm colours")).to_be_visible()
        earns = seller.locator(".items tr", has_text="You earn")
        expect(earns.locator("td")).to_have_text("28.00 USD")
        seller.get_by_label("Your delivery message").fill("Three concepts attached: pick one.")
        shot(seller, "order", tmp_path)
        seller.get_by_role("button", name="Deliver the order").click()
        expect(seller.get_by_role("status")).to_contain_text("Delivered")

        # the buyer accepts
        buyer.goto(order_url)
        expect(buyer.get_by_text("Three concepts attached: pick one.")).to_be_visible()
        buyer.get_by_role("button", name="Accept the delivery").click()
        expect(buyer.locator(".state").first).to_have_text("completed")

        # the seller's balance: 25.00 + 10.00 - 20% = 28.00 USD available
        seller.get_by_role("link", name="Balance").click()
        expect(seller.locator("#balance-available")).to_have_text("28.00 USD")
        expect(seller.locator("#balance-credit")).to_have_text("0.00 USD")
        shot(seller, "balance", tmp_path)
        buyer.get_by_role("link", name="Balance").click()
        expect(buyer.locator("#balance-credit")).to_have_text("15.00 USD")

    order = site.call("GET", f"/orders/{order_id}", seller_headers)
    assert order["state"] == "completed"
    assert [(i["description"], i["amount"]["amount"]) for i in order["items"]] == [
        ("I will design a minimalist logo", "25.00"),
        ("Extra: Express delivery", "10.00"),
    ]
    balance = site.call("GET", "/me/balance", seller_headers)["balances"][0]
    assert (balance["available"], balance["pending"]) == ("28.00", "0.00")


def test_the_storefront_imports_only_the_declared_plugin_api() -> None:
    """The starter is a plugin like any other: from agorakit it imports only what
    ``docs/plugin-api.md`` declares (the contract ``make lint`` holds the shipped plugins
    to, read from ``pyproject.toml``); everything else goes through the HTTP API."""
    import ast
    import tomllib

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (declared,) = [c for c in contracts["contracts"] if c["type"] == "declared_api"]
    allowed = set(declared["allowed"]) | set(declared["areas"])
    plugin = REPO / "cookiecutter-site" / "{{cookiecutter.project_slug}}" / "site_plugins" / "storefront"
    imported: dict[str, set[str]] = {}
    for source in sorted(plugin.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name == "agorakit" or name.startswith("agorakit."):
                    imported.setdefault(name, set()).add(source.name)
    assert imported, "the storefront imports nothing from agorakit?"
    assert {name: files for name, files in imported.items() if name not in allowed} == {}
