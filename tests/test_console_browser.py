"""The operator console in a real headless Chromium, with axe-core on every page.

A site with the console, gigs and bank transfer (the demo's categories) is served by
uvicorn on a free localhost port (SQLite, and PostgreSQL when it is reachable) and seeded
through the API: a seller's gigs waiting for review, a buyer's bank transfer waiting for
its money.  Then Debian's ``chromium``, driven by Playwright, does what people do, one
step a function (the steps of the other console pages slot in the same way):

- a member tries the console: the sign-in form answers "Operators only" (403), and
  ``/console`` sends them to sign in again;
- an operator signs in with the keyboard only (the skip link is the first Tab stop and
  moves the focus to ``<main>``);
- the home page shows the work queues;
- the operator approves a gig, is told why an empty reason is refused, rejects another
  with a reason, which the seller reads through the API;
- a form posted without its CSRF token is refused with the 403 page and changes nothing;
- the site page, then signing out.

Every page visited is checked with axe-core (``axe-playwright-python``'s ``axe.min.js``,
nothing downloaded): a violation of impact "serious" or "critical" fails the test, the
others are listed in its message.  On the pages with forms every control must be reached
by Tab and have an accessible name.

Nothing is downloaded: Playwright drives ``/usr/bin/chromium`` (``tests/browser_helpers.py``;
never ``playwright install``).  Without it the test is skipped with the reason, except in
CI (``CI`` set), where it fails.

``AGORAKIT_CONSOLE_SCREENSHOTS=docs/images/console`` saves full-page screenshots of the
home page and the queues for the docs (``docs/console.md``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import OPERATOR, Site, chromium, database_url, served_site, shot, sync_playwright_or_skip

WHAT = "the console's browser test"
SCREENSHOTS = os.environ.get("AGORAKIT_CONSOLE_SCREENSHOTS")
INSTRUCTIONS = "Pay to Console Market Ltd, IBAN DE89 3704 0044 0532 0130 00. Quote the payment reference."
#: axe-core impacts that fail the test (the others are listed when it fails)
BLOCKING = ("serious", "critical")
SELLER = ("sam@example.com", "sam-sells-logos-2026", "Sam Seller")
BUYER = ("bea@example.com", "bea-buys-designs-2026", "Bea Buyer")


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    return sync_playwright_or_skip(WHAT)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, WHAT) as url:
        yield url


@pytest.fixture
def site(database: str) -> Iterator[Site]:
    config = {
        # a development site on a test clock, moved on while seeding
        "site": {"name": "Console Market", "environment": "development"},
        "dev": {"test_clock": True},
        "database": {"url": database},
        "money": {"payment_methods": ["balance", "bank_transfer"], "payout_methods": ["bank_transfer"]},
        "plugins": {"bank_transfer": {"instructions": INSTRUCTIONS}},
    }
    with served_site(config, ["console", "gigs", "bank_transfer"]) as served:
        yield served


@dataclass
class World:
    """What the API seeded: the people's headers and the gigs waiting for review."""

    seller: dict[str, str]
    buyer: dict[str, str]
    #: title -> id of the gigs waiting for review, oldest first
    gigs: dict[str, int] = field(default_factory=dict)
    payment_reference: str = ""


def seed(site: Site) -> World:
    """The demo's categories, three gigs submitted for review hours apart, a bank transfer
    started (the site's test clock moved on between them, so the queues have ages)."""
    from agorakit.plugins.gigs.demo import CATEGORIES, GIGS

    for slug, name, parent in CATEGORIES:
        site.call(
            "POST", "/operator/categories", site.operator, json={"slug": slug, "name": name, "parent": parent}
        )
    world = World(seller=site.member(*SELLER), buyer=site.member(*BUYER))
    for (category, title, description, price, attributes), later in zip(
        GIGS, ("5h", "2h", "1h"), strict=True
    ):
        gig = {
            "kind": "gig",
            "title": title,
            "description": description,
            "price": {"amount": price, "currency": "USD"},
            "category": category,
            "attributes": attributes,
        }
        listing = site.call("POST", "/listings", world.seller, json=gig)
        site.call("POST", f"/listings/{listing['id']}/submit", world.seller)
        world.gigs[title] = listing["id"]
        if len(world.gigs) == 2:
            deposit = {"method": "bank_transfer", "amount": {"amount": "40.00", "currency": "USD"}}
            world.payment_reference = site.call("POST", "/payments", world.buyer, json=deposit)["reference"]
        site.call("POST", "/operator/clock/advance", site.operator, json={"by": later})
    return world


# -- accessibility -----------------------------------------------------------------------

#: every form control of the page with the name assistive technology gives it (a simple
#: version of the accessible-name computation: axe checks the full one)
CONTROLS_JS = """() => {
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const text = (ids) => ids.split(/\\s+/).map((id) => document.getElementById(id)?.textContent || '').join(' ');
  const controls = [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')];
  return controls.filter(visible).map((el, index) => {
    el.dataset.tabCheck = String(index);
    const labels = [...(el.labels || [])].map((label) => label.textContent).join(' ');
    const own = el.tagName === 'BUTTON' ? el.textContent : '';
    const name = el.getAttribute('aria-label') || text(el.getAttribute('aria-labelledby') || '') || labels || own;
    return {index: String(index), name: name.trim(), html: el.outerHTML.slice(0, 120)};
  });
}"""


def axe_check(page: Any, name: str) -> None:
    """axe-core on the page as it is: no violation of a blocking impact."""
    from axe_playwright_python.sync_playwright import Axe

    # page.evaluate runs axe.min.js through the DevTools protocol, which the page's CSP
    # (script-src 'self', no inline script) does not govern: no bypass_csp needed
    violations = Axe().run(page).response["violations"]
    listed = [
        f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(str(n['target']) for n in v['nodes'][:5])}"
        for v in violations
    ]
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"axe-core on the {name} page ({page.url}):\n" + "\n".join(listed)


def keyboard_check(page: Any, name: str) -> None:
    """Every visible form control is reached by Tab and has an accessible name."""
    controls = page.evaluate(CONTROLS_JS)
    unnamed = [control["html"] for control in controls if not control["name"]]
    assert unnamed == [], f"form controls without an accessible name on the {name} page: {unnamed}"
    reached: set[str] = set()
    for _ in range(3 * len(controls) + 40):  # the links between them, and a round past the end
        page.keyboard.press("Tab")
        index = page.evaluate("() => document.activeElement?.dataset?.tabCheck ?? null")
        if index is not None:
            reached.add(index)
        if len(reached) == len(controls):
            break
    missed = [control["html"] for control in controls if control["index"] not in reached]
    assert missed == [], f"form controls Tab never reaches on the {name} page: {missed}"


def check_page(page: Any, name: str) -> None:
    """axe-core, and the keyboard on the page's forms."""
    axe_check(page, name)
    keyboard_check(page, name)


def skip_link_check(page: Any) -> None:
    """On a freshly loaded page the first Tab stop is the skip link; it moves the focus
    to ``<main>``."""
    from playwright.sync_api import expect

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def screenshot(page: Any, name: str, tmp_path: Path) -> None:
    shot(page, Path(SCREENSHOTS) if SCREENSHOTS else tmp_path / "screenshots", name)


# -- the steps -----------------------------------------------------------------------------


def new_page(browser: Any, site: Site) -> Any:
    page = browser.new_context(viewport={"width": 1200, "height": 800}, base_url=site.url).new_page()
    page.set_default_timeout(15_000)
    return page


def a_member_is_refused(browser: Any, site: Site) -> None:
    """A member signs in on the console's form: the 403 page, and no session."""
    from playwright.sync_api import expect

    page = new_page(browser, site)
    page.goto("/console")
    assert page.url == f"{site.url}/console/sign-in"
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the console")
    check_page(page, "sign-in")
    page.get_by_label("Email").fill(BUYER[0])
    page.get_by_label("Password").fill(BUYER[1])
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Operators only")
    expect(page.locator("main")).to_contain_text("The console is for the site's operators.")
    axe_check(page, "error (403)")
    page.goto("/console")
    assert page.url == f"{site.url}/console/sign-in"
    page.context.close()


def an_operator_signs_in_with_the_keyboard(browser: Any, site: Site) -> Any:
    """Tab to the skip link, Enter, Tab to the fields, type, Enter: the home page."""
    from playwright.sync_api import expect

    page = new_page(browser, site)
    page.goto("/console/sign-in")
    skip_link_check(page)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(OPERATOR[0])
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(OPERATOR[1])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/console")
    expect(page.locator("header .who")).to_have_text(f"{OPERATOR[2]} (operator)")
    return page


def the_home_page_shows_the_queues(page: Any, site: Site, world: World, tmp_path: Path) -> None:
    """The work queues with their counts, each linked to the page that lists it."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", level=1)).to_have_text("Work queues")
    table = page.get_by_role("table", name="Every queue of the site")
    listings = table.get_by_role("row").filter(has=page.get_by_role("link", name="Listings to review"))
    expect(listings.get_by_role("cell").first).to_have_text(str(len(world.gigs)))
    transfers = table.get_by_role("row").filter(has_text="Bank transfers to confirm")
    expect(transfers.get_by_role("cell").first).to_have_text("1")
    expect(page.get_by_role("img", name="Age of the oldest item in each queue, in hours")).to_be_visible()
    screenshot(page, "home", tmp_path)
    check_page(page, "home")


def the_operator_reviews_gigs(page: Any, site: Site, world: World, tmp_path: Path) -> None:
    """Approve the first gig from the queue; reject the second from its page, after the
    API refused an empty reason; the seller reads the reason through the API."""
    from playwright.sync_api import expect

    (first, first_id), (second, second_id), (third, _third_id) = world.gigs.items()
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Listings to review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Listings to review")
    cards = page.locator("article.card")
    expect(cards).to_have_count(3)
    expect(cards.first).to_contain_text(f"#{first_id} {first}")
    expect(cards.first).to_contain_text("25.00 USD")
    screenshot(page, "listings", tmp_path)
    check_page(page, "listings")

    cards.filter(has_text=first).get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text(f"Listing #{first_id} approved: it is published.")
    expect(cards).to_have_count(2)

    page.get_by_role("link", name=f"#{second_id} {second}").click()
    assert page.url == f"{site.url}/console/listings/{second_id}"
    expect(page.get_by_role("heading", level=1)).to_have_text(f"#{second_id} {second}")
    expect(page.locator("main")).to_contain_text("5.00 USD")
    screenshot(page, "listing", tmp_path)
    check_page(page, "listing")
    page.get_by_label("Reason shown to the seller").fill("   ")  # only spaces: the API refuses it
    page.get_by_role("button", name="Reject").click()
    assert page.url == f"{site.url}/console/listings/{second_id}"
    expect(page.get_by_role("alert")).to_contain_text("reason")
    expect(page.locator(".meta .state")).to_have_text("pending review")
    page.get_by_label("Reason shown to the seller").fill("Show a sample of your own work.")
    page.get_by_role("button", name="Reject").click()
    assert page.url == f"{site.url}/console/listings"
    expect(page.get_by_role("status")).to_have_text(
        f"Listing #{second_id} rejected; its owner sees the reason."
    )
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text(third)

    assert site.call("GET", f"/listings/{first_id}")["status"] == "published"
    mine = site.call("GET", f"/listings/{second_id}", world.seller)
    assert (mine["status"], mine["rejection_reason"]) == ("rejected", "Show a sample of your own work.")


def a_form_without_its_csrf_token_is_refused(page: Any, site: Site, world: World) -> None:
    """The hidden token removed before submitting: the 403 page; the gig still waits."""
    from playwright.sync_api import expect

    third_id = list(world.gigs.values())[2]
    page.goto(f"/console/listings/{third_id}")
    page.evaluate("() => document.querySelectorAll('input[name=_csrf_token]').forEach((el) => el.remove())")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Approve").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("The form could not be accepted")
    axe_check(page, "error (403)")
    assert site.call("GET", f"/listings/{third_id}", world.seller)["status"] == "pending_review"


def the_site_page(page: Any) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Plugins and settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Plugins and settings")
    expect(
        page.get_by_role("table", name="Plugins, their versions and the modes they have on")
    ).to_contain_text("bank_transfer")
    check_page(page, "site")


def an_unknown_listing_is_the_404_page(page: Any) -> None:
    from playwright.sync_api import expect

    answer = page.goto("/console/listings/999999")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    axe_check(page, "error (404)")


def the_operator_signs_out(page: Any, site: Site) -> None:
    from playwright.sync_api import expect

    page.get_by_role("button", name="Sign out").click()
    assert page.url == f"{site.url}/console/sign-in"
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/console/listings")
    assert page.url == f"{site.url}/console/sign-in?next=/console/listings"


def test_an_operator_works_through_the_console(site: Site, playwright_api: Any, tmp_path: Path) -> None:
    world = seed(site)
    with chromium(playwright_api) as browser:
        a_member_is_refused(browser, site)
        page = an_operator_signs_in_with_the_keyboard(browser, site)
        the_home_page_shows_the_queues(page, site, world, tmp_path)
        the_operator_reviews_gigs(page, site, world, tmp_path)
        a_form_without_its_csrf_token_is_refused(page, site, world)
        the_site_page(page)
        an_unknown_listing_is_the_404_page(page)
        the_operator_signs_out(page, site)
