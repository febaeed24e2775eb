"""The console's webhooks and integration tokens pages in a real headless Chromium.

A site with the console is served on a free localhost port (SQLite, and PostgreSQL when
it is reachable), as ``tests/test_console_browser.py`` serves it.  The operator signs in,
adds a webhook endpoint with the page's form and reads its secret on the page that
answers (once: the endpoint's page does not show it), then makes an integration token
with the scopes' checkboxes and reads the token the same way, which then works on the
API.  Every page visited is checked with axe-core and, where it has forms, with the
keyboard (``check_page``).  Skipped without Debian's chromium, except in CI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import OPERATOR, Site, chromium, database_url, served_site, sync_playwright_or_skip
from test_console_browser import axe_check, check_page, new_page

WHAT = "the console's webhooks browser test"
HOOK = "https://crm.example.com/hooks/agorakit"


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    return sync_playwright_or_skip(WHAT)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, WHAT) as url:
        yield url


@pytest.fixture
def site(database: str) -> Iterator[Site]:
    config = {"site": {"name": "Console Market"}, "database": {"url": database}}
    with served_site(config, ["console"]) as served:
        yield served


def signed_in(browser: Any, site: Site) -> Any:
    page = new_page(browser, site)
    page.goto("/console/sign-in")
    page.get_by_label("Email").fill(OPERATOR[0])
    page.get_by_label("Password").fill(OPERATOR[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/console")
    return page


def the_operator_adds_an_endpoint(page: Any, site: Site) -> None:
    """The form on the list, the secret on the page that answers, and only there."""
    from playwright.sync_api import expect

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Webhooks").click()
    page.wait_for_url(f"{site.url}/console/webhooks")
    expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    check_page(page, "webhooks")
    page.get_by_label("URL").fill(HOOK)
    page.get_by_label("Event types").fill("member.*\nlisting.published")
    page.get_by_label("Description (optional)").fill("The CRM")
    page.get_by_role("button", name="Add the endpoint").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("added")
    secret = page.locator("[data-secret]").inner_text()
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/]+={0,2}", secret), secret
    expect(page.get_by_role("status")).to_contain_text("Copy the secret now")
    axe_check(page, "webhook secret")
    page.get_by_role("link", name="Go to the endpoint").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Webhook endpoint #\d+"))
    expect(page.get_by_label("URL")).to_have_value(HOOK)
    assert secret not in page.content()
    check_page(page, "webhook endpoint")
    (endpoint,) = site.call("GET", "/operator/webhooks", site.operator)["items"]
    assert (endpoint["url"], endpoint["event_types"]) == (HOOK, ["member.*", "listing.published"])


def the_operator_makes_a_token(page: Any, site: Site) -> None:
    """Scopes as checkboxes; the token shown once works on the API."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="Integration tokens").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Integration tokens")
    check_page(page, "integration tokens")
    page.get_by_label("Name (what uses it)").fill("CRM sync")
    page.get_by_role("checkbox", name=re.compile("events:read")).check()
    page.get_by_role("button", name="Make the token").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("“CRM sync” made")
    token = page.locator("[data-secret]").inner_text()
    axe_check(page, "integration token")
    feed = site.http.get("/events", headers={"Authorization": f"Bearer {token}"})
    assert feed.status_code == 200, feed.text


def test_an_operator_adds_a_webhook_and_a_token(site: Site, playwright_api: Any) -> None:
    with chromium(playwright_api) as browser:
        page = signed_in(browser, site)
        the_operator_adds_an_endpoint(page, site)
        the_operator_makes_a_token(page, site)
