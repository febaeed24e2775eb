"""The operator console in a real headless Chromium, with axe-core on every page.

A site with the console, gigs and bank transfer (the demo's categories) is served by
uvicorn on a free localhost port (SQLite, and PostgreSQL when it is reachable) and seeded
through the API: a seller's gigs waiting for review (and one published), a buyer's bank
transfer waiting for its money.  Then Debian's ``chromium``, driven by Playwright, does what people do, one
step a function (the steps of the other console pages slot in the same way):

- a member tries the console: the sign-in form answers "Operators only" (403), and
  ``/console`` sends them to sign in again;
- an operator signs in with the keyboard only (the skip link is the first Tab stop and
  moves the focus to ``<main>``);
- the home page shows the work queues;
- the operator approves a gig, is told why an empty reason is refused, rejects another
  with a reason, which the seller reads through the API;
- a form posted without its CSRF token is refused with the 403 page and changes nothing;
- a buyer pays a gig order by bank transfer; from the home page's queue the operator is
  told the API's refusal of a wrong amount, then confirms the money: the order starts;
- a delivered 25.00 order the buyer disputes: the operator reads the dispute's evidence
  and refunds 3.33 with a note; the buyer's credit and the seller's available balance
  move to the cent (the seller's part at the order's commission rate);
- two sellers with earnings ask for bank withdrawals: the operator creates a batch on
  the bank payouts page, downloads its CSV (its rows checked: ids, IBANs as the API
  normalises them, net amounts, references) and marks one withdrawal paid;
- the money page (fee income, totals, payments);
- the operator finds a member by searching, suspends them with a reason, and the
  member's token is refused at once (``GET /me``: 403 ``account_suspended``);
- the site page, then signing out.

Every page visited is checked with axe-core (``axe-playwright-python``'s ``axe.min.js``,
nothing downloaded): a violation of impact "serious" or "critical" fails the test, the
others are listed in its message.  On the pages with forms every control must be reached
by Tab and have an accessible name.

Nothing is downloaded: Playwright drives ``/usr/bin/chromium`` (``tests/browser_helpers.py``;
never ``playwright install``).  Without it the test is skipped with the reason, except in
CI (``CI`` set), where it fails.

``AGORAKIT_CONSOLE_SCREENSHOTS=docs/images/console`` saves full-page screenshots of the
home page, the queues (listings, disputes, bank transfers), a listing, a dispute and the
money page for the docs (``docs/console.md``).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
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
WRITER = ("tia@example.com", "tia-writes-copy-2026", "Tia Writer")
SPAMMER = ("max@example.com", "max-sends-spam-2026", "Max Mischief")
#: the site's commission on gigs, paid by the seller (percent)
COMMISSION = "20"
#: what the bank takes from each payout
PAYOUT_FEE = "1.00"
SAM_ACCOUNT = {"account_holder": "Sam Seller", "iban": "DE89 3704 0044 0532 0130 00", "bic": "deutdeff"}
TIA_ACCOUNT = {"account_holder": "Tia Writer", "iban": "gb82 west 1234 5698 7654 32"}


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
        "fees": {"commission_percent": COMMISSION},
        "plugins": {
            "bank_transfer": {
                "instructions": INSTRUCTIONS,
                "payout_minimum": "10.00",
                "payout_fee": PAYOUT_FEE,
            }
        },
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
    #: a gig of the seller's the operator approved while seeding (25.00)
    published: int = 0


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
    world.published = published_gig(site, world.seller, "I will design your business card", "logo-design")
    return world


def published_gig(site: Site, seller: dict[str, str], title: str, category: str) -> int:
    """A 25.00 gig of ``seller``'s, submitted and approved through the API."""
    gig = {
        "kind": "gig",
        "title": title,
        "description": "Two concepts and the print-ready files, in three days.",
        "price": {"amount": "25.00", "currency": "USD"},
        "category": category,
        "attributes": {"delivery_days": 3, "max_quantity": 3, "requirements": "What it should say."},
    }
    listing = site.call("POST", "/listings", seller, json=gig)
    site.call("POST", f"/listings/{listing['id']}/submit", seller)
    site.call("POST", f"/operator/listings/{listing['id']}/approve", site.operator)
    return listing["id"]


def ordered_by_bank_transfer(site: Site, buyer: dict[str, str], gig_id: int) -> tuple[dict, dict]:
    """The buyer orders the gig and chooses to pay by bank transfer: (order, payment)."""
    order = site.call("POST", f"/gigs/{gig_id}/orders", buyer, json={})
    payment = site.call("POST", f"/orders/{order['id']}/payments", buyer, json={"method": "bank_transfer"})
    assert payment["status"] == "awaiting_funds"
    return order, payment


def delivered_order(site: Site, buyer: dict[str, str], seller: dict[str, str], gig_id: int) -> dict:
    """A gig order paid by bank transfer (confirmed through the API) and delivered."""
    order, payment = ordered_by_bank_transfer(site, buyer, gig_id)
    confirm = {"amount": payment["amount"], "reference": f"STMT-{payment['id']}"}
    site.call("POST", f"/bank-transfer/payments/{payment['id']}/confirm", site.operator, json=confirm)
    site.call(
        "POST",
        f"/gigs/orders/{order['id']}/delivery",
        seller,
        json={"message": "Done: the files are attached."},
    )
    return site.call("GET", f"/orders/{order['id']}", buyer)


def member_id(site: Site, who: dict[str, str]) -> int:
    return site.call("GET", "/me", who)["id"]


def usd_balance(site: Site, who: dict[str, str]) -> dict[str, int]:
    """A member's USD balances in cents as the operators' API shows them: kind -> cents."""
    answer = site.call("GET", f"/operator/members/{member_id(site, who)}/balance", site.operator)
    found = next((item for item in answer["balances"] if item["currency"] == "USD"), {})
    return {key: cents(value) for key, value in found.items() if key != "currency"}


def cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def seller_share(released: int, price: int) -> int:
    """What the seller gets of ``released`` cents of an order of ``price``: the site keeps
    its commission at the order's rate (``seller_net / price``, rounded half up)."""
    commission = (price * int(Decimal(COMMISSION) * 100) + 5000) // 10000
    net = price - commission
    return (2 * net * released + price) // (2 * price)


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


def the_operator_confirms_a_bank_transfer(page: Any, site: Site, world: World, tmp_path: Path) -> None:
    """The buyer orders a gig and pays by bank transfer; from the home page's queue the
    operator confirms the money (after the API refused a wrong amount): the order starts."""
    from playwright.sync_api import expect

    order, payment = ordered_by_bank_transfer(site, world.buyer, world.published)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Home").click()
    queues = page.get_by_role("table", name="Every queue of the site")
    queues.get_by_role("link", name="Bank transfers to confirm").click()
    assert page.url == f"{site.url}/console/bank_transfer/payments"
    expect(page.get_by_role("heading", level=1)).to_have_text("Bank transfers to confirm")
    card = page.locator("article.card").filter(has_text=payment["reference"])
    expect(card.get_by_role("heading")).to_have_text(f"{payment['reference']} · 25.00 USD")
    expect(card).to_contain_text(f"Bea Buyer ({BUYER[0]})")
    expect(card.get_by_role("link", name=f"order #{order['id']}")).to_be_visible()
    screenshot(page, "bank_transfers", tmp_path)
    check_page(page, "bank transfers to confirm")

    card.get_by_label("Amount received").fill("24.99")  # not what the bank statement says
    card.get_by_label("Bank statement reference").fill("STMT-2026-0042")
    card.get_by_role("button", name="Confirm the money arrived").click()
    expect(page.get_by_role("alert")).to_contain_text("amount.amount")
    assert site.call("GET", f"/orders/{order['id']}", world.buyer)["state"] == "awaiting_payment"

    card.get_by_label("Amount received").fill("25.00")
    card.get_by_label("Bank statement reference").fill("STMT-2026-0042")
    card.get_by_role("button", name="Confirm the money arrived").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Payment #{payment['id']} confirmed: the money is booked."
    )
    expect(card).to_have_count(0)
    assert site.call("GET", f"/orders/{order['id']}", world.buyer)["state"] == "in_progress"
    paid = site.call("GET", f"/payments/{payment['id']}", world.buyer)
    assert (paid["status"], paid["details"]["confirmed_reference"]) == ("completed", "STMT-2026-0042")


def the_operator_refunds_part_of_a_disputed_order(
    page: Any, site: Site, world: World, tmp_path: Path
) -> None:
    """A delivered 25.00 gig order the buyer disputes: the operator reads the evidence and
    refunds 3.33; the buyer's credit and the seller's available balance move to the cent."""
    from playwright.sync_api import expect

    order = delivered_order(site, world.buyer, world.seller, world.published)
    complaint = "Only one concept arrived, and the files are not print-ready."
    body = {"reason": "not_as_described", "text": complaint}
    dispute = site.call("POST", f"/orders/{order['id']}/disputes", world.buyer, json=body)
    buyer_before, seller_before = usd_balance(site, world.buyer), usd_balance(site, world.seller)

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Disputes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Disputes")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"#{dispute['id']}", exact=True))
    expect(row).to_contain_text(f"#{order['id']} (gig_order, was delivered)")
    screenshot(page, "disputes", tmp_path)
    check_page(page, "disputes")
    row.get_by_role("link", name=f"#{dispute['id']}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Dispute #{dispute['id']} on order #{order['id']}"
    )
    main = page.locator("main")
    expect(main).to_contain_text(complaint)
    expect(main).to_contain_text("The order's escrow holds 25.00 USD")
    expect(main).to_contain_text("Done: the files are attached.")  # the delivery, among the proofs
    expect(page.locator(".attributes").first).to_contain_text("Bea Buyer")
    expect(page.locator(".attributes").first).to_contain_text("Sam Seller")
    screenshot(page, "dispute", tmp_path)
    check_page(page, "dispute")

    part = page.locator("form").filter(has=page.get_by_role("heading", name="Refund in part"))
    part.get_by_label("Amount to refund (USD)").fill("3.33")
    part.get_by_label("Note to both parties").fill("One of the two concepts was missing.")
    part.get_by_role("button", name="Refund this amount").click()
    assert page.url == f"{site.url}/console/disputes"
    expect(page.get_by_role("status")).to_have_text(
        f"Dispute #{dispute['id']} refunded to the buyer's credit."
    )

    resolved = site.call("GET", f"/disputes/{dispute['id']}", world.buyer)
    assert (resolved["status"], resolved["outcome"], resolved["refunded"], resolved["released"]) == (
        "resolved",
        "refund",
        {"amount": "3.33", "currency": "USD"},
        {"amount": "21.67", "currency": "USD"},
    )
    assert order["data"]["quote"]["seller_net"] == 2500 - 2500 * int(COMMISSION) // 100  # 20.00 of 25.00
    buyer_after, seller_after = usd_balance(site, world.buyer), usd_balance(site, world.seller)
    assert buyer_after["credit"] - buyer_before["credit"] == 333
    # of the 21.67 released the seller gets 20.00/25.00: 17.34 (the site keeps 4.33)
    assert seller_after["available"] - seller_before["available"] == seller_share(2167, 2500) == 1734


def the_operator_pays_a_bank_payout_batch(page: Any, site: Site, world: World, tmp_path: Path) -> None:
    """Two sellers with earnings ask for bank withdrawals; the operator batches them from
    the bank payouts page, downloads the batch's CSV and marks one withdrawal paid."""
    from playwright.sync_api import expect

    writer = site.member(*WRITER)
    copy = published_gig(site, writer, "I will write your product descriptions", "writing")
    for seller, gig in ((world.seller, world.published), (writer, copy)):
        order = delivered_order(site, world.buyer, seller, gig)
        site.call("POST", f"/gigs/orders/{order['id']}/accept", world.buyer)  # the seller earns 20.00
    withdrawals = [
        site.call(
            "POST",
            "/withdrawals",
            who,
            json={
                "method": "bank_transfer",
                "amount": {"amount": amount, "currency": "USD"},
                "destination": to,
            },
        )
        for who, amount, to in ((world.seller, "15.00", SAM_ACCOUNT), (writer, "20.00", TIA_ACCOUNT))
    ]
    sam, tia = (item["id"] for item in withdrawals)

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Bank payouts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bank payouts")
    rows = page.get_by_role("row")
    expect(rows.filter(has_text=f"#{sam}")).to_contain_text("DE89370400440532013000 DEUTDEFF")
    expect(rows.filter(has_text=f"#{sam}")).to_contain_text("14.00 USD")
    expect(rows.filter(has_text=f"#{tia}")).to_contain_text("GB82WEST12345698765432")
    expect(rows.filter(has_text=f"#{tia}")).to_contain_text("19.00 USD")
    check_page(page, "bank payouts")
    page.get_by_label("Currency").select_option("USD")
    page.get_by_role("button", name="Create a batch").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Batch BT-"))
    ref = page.url.rsplit("/", 1)[1]
    assert page.url == f"{site.url}/console/bank_transfer/batches/{ref}"
    expect(page.get_by_role("status")).to_have_text(f"Batch {ref} created: 2 withdrawals, 33.00 USD.")
    check_page(page, "payout batch")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download CSV").click()
    download = downloading.value
    assert download.suggested_filename == f"{ref}.csv"
    rows_of_csv = list(csv.DictReader(Path(download.path()).read_text(encoding="utf-8").splitlines()))
    assert [
        (row["withdrawal_id"], row["account_holder"], row["iban"], row["bic"], row["amount"], row["currency"])
        for row in rows_of_csv
    ] == [
        (str(sam), "Sam Seller", "DE89370400440532013000", "DEUTDEFF", "14.00", "USD"),
        (str(tia), "Tia Writer", "GB82WEST12345698765432", "", "19.00", "USD"),
    ]
    assert [row["reference"] for row in rows_of_csv] == [f"WD-{sam}", f"WD-{tia}"]

    card = page.locator("article.card").filter(has_text=f"#{sam} ·")
    card.get_by_label("Bank's transfer id (optional)").fill("BANK-7781")
    card.get_by_role("button", name="Mark paid").click()
    expect(page.get_by_role("status")).to_have_text(f"Withdrawal #{sam} marked paid.")
    expect(card).to_contain_text("bank's id BANK-7781")
    paid = site.call("GET", f"/withdrawals/{sam}", world.seller)
    assert (paid["status"], paid["provider_ref"]) == ("completed", "BANK-7781")
    assert site.call("GET", f"/withdrawals/{tia}", writer)["status"] == "processing"


def the_operator_suspends_a_member(page: Any, site: Site) -> None:
    """Search the member, open their page, suspend them with a reason: their token is
    refused at once."""
    from playwright.sync_api import expect

    spammer = site.member(*SPAMMER)
    assert site.http.get("/me", headers=spammer).status_code == 200
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    page.get_by_label("Name or email").fill("mischief")
    page.get_by_role("button", name="Search").click()
    found = page.get_by_role("table", name="Members matching the search").get_by_role("row")
    expect(found).to_have_count(2)  # the header and Max
    expect(found.nth(1)).to_contain_text(SPAMMER[0])
    check_page(page, "members")
    found.nth(1).get_by_role("link").click()
    spammer_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text(f"#{spammer_id} {SPAMMER[2]}")
    check_page(page, "member")
    page.get_by_label("Reason for the suspension (the member is told)").fill("Spam in every conversation.")
    page.get_by_role("button", name="Suspend").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Member #{spammer_id} suspended: their sign-ins and tokens are refused."
    )
    expect(page.locator("main")).to_contain_text("Suspended: Spam in every conversation.")
    refused = site.http.get("/me", headers=spammer)
    assert (refused.status_code, refused.json()["code"]) == (403, "account_suspended")


def the_money_page(page: Any, tmp_path: Path) -> None:
    """The fee income, the platform's totals and the payments."""
    from playwright.sync_api import expect

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Fees, payments, ledger").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Money")
    expect(page.get_by_role("img", name=re.compile("^Fee income per day and kind"))).to_be_visible()
    screenshot(page, "money", tmp_path)
    check_page(page, "money")


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
        the_operator_confirms_a_bank_transfer(page, site, world, tmp_path)
        the_operator_refunds_part_of_a_disputed_order(page, site, world, tmp_path)
        the_operator_pays_a_bank_payout_batch(page, site, world, tmp_path)
        the_money_page(page, tmp_path)
        the_operator_suspends_a_member(page, site)
        the_site_page(page)
        an_unknown_listing_is_the_404_page(page)
        the_operator_signs_out(page, site)
