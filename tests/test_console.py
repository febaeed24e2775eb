"""The operator console's sign-in, its rules and the listings review queue, over HTTP.

Who may use the console (operators and owners; members are refused), the session
cookie's attributes, CSRF on every form, the API's refusals shown as messages, and an
operator approving and rejecting gigs through the pages with the API seeing the result.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from console_helpers import CONSOLE_SITE, Console, pending_gig, text_of
from litestar import Response, get
from litestar.di import NamedDependency

from agorakit import hookimpl
from agorakit.web import ConsoleLink, ConsolePages, MemberPanel, PageContext


@pytest.fixture
def site_config():
    return CONSOLE_SITE


@pytest.fixture
async def categories(client, make_operator):
    operator = await make_operator()
    for slug, name, parent in [("design", "Design", None), ("logo-design", "Logo design", "design")]:
        response = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert response.status_code == 201, response.text
    return operator


async def test_pages_need_a_signed_in_operator(client):
    async with Console(client) as browser:
        page = await browser.get("/console/listings")
        assert page.status_code == 303
        assert page.headers["location"] == "/console/sign-in?next=/console/listings"
        sign_in = await browser.get("/console/sign-in")
        assert sign_in.status_code == 200
        assert "Sign in to the console" in text_of(sign_in)
        assert sign_in.headers["content-security-policy"].startswith("default-src 'self'")
        assert sign_in.headers["x-frame-options"] == "DENY"


async def test_an_operator_signs_in_and_out(client, make_operator):
    operator = await make_operator()
    async with Console(client) as browser:
        answer = await browser.sign_in(operator.member.email, operator.password)
        assert answer.status_code == 303 and answer.headers["location"] == "/console"
        cookie = next(
            value
            for key, value in answer.headers.multi_items()
            if key == "set-cookie" and "console_session=" in value
        )
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=strict" in lowered and "path=/console" in lowered
        assert "secure" not in lowered  # the test site's base_url is http://
        page = await browser.get("/console/site")
        assert page.status_code == 200
        assert operator.member.display_name in text_of(page)
        out = await browser.post("/console/sign-out")
        assert out.status_code == 303
        again = await browser.get("/console/site")
        assert again.status_code == 303 and again.headers["location"].startswith("/console/sign-in")


async def test_a_member_is_refused(client, make_member):
    member = await make_member()
    async with Console(client) as browser:
        answer = await browser.sign_in(member.member.email, member.password)
        assert answer.status_code == 403
        assert "Operators only" in text_of(answer)
        page = await browser.get("/console/listings")
        assert page.status_code == 303  # no session was kept


async def test_a_wrong_password_is_refused_without_a_session(client, make_operator):
    operator = await make_operator()
    async with Console(client) as browser:
        answer = await browser.sign_in(operator.member.email, "not the password at all")
        assert answer.status_code == 401
        assert "Wrong email or password." in text_of(answer)
        assert (await browser.get("/console/site")).status_code == 303


async def test_sign_in_is_throttled_like_the_api(client, make_operator):
    operator = await make_operator()
    statuses = []
    async with Console(client) as browser:
        for _ in range(12):
            statuses.append(
                (await browser.sign_in(operator.member.email, "wrong password, again")).status_code
            )
    assert statuses[0] == 401
    assert statuses[-1] == 429  # the API's login throttle, not the console's own


async def test_forms_without_a_csrf_token_are_refused(client, categories, make_member, caplog):
    operator = categories
    seller = await make_member()
    gig = await pending_gig(client, seller)
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        refused = await browser.post(f"/console/listings/{gig['id']}/approve", csrf=False)
        assert refused.status_code == 403
        assert "The form could not be accepted" in text_of(refused)
        forged = await browser.post(
            f"/console/listings/{gig['id']}/approve", {"_csrf_token": "forged"}, csrf=False
        )
        assert forged.status_code == 403
    listing = (await client.get(f"/listings/{gig['id']}", headers=seller.headers)).json()
    assert listing["status"] == "pending_review"  # nothing changed


async def test_an_operator_approves_and_rejects_gigs(client, categories, make_member):
    operator = categories
    seller = await make_member()
    first = await pending_gig(client, seller, "I will design a minimalist logo")
    second = await pending_gig(client, seller, "I will draw a mascot")
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        queue = await browser.get("/console/listings")
        text = text_of(queue)
        assert f"#{first['id']} I will design a minimalist logo" in text
        assert f"#{second['id']} I will draw a mascot" in text
        approved = await browser.post(f"/console/listings/{first['id']}/approve")
        assert approved.status_code == 303 and approved.headers["location"] == "/console/listings"
        page = await browser.get("/console/listings")
        assert f"Listing #{first['id']} approved" in text_of(page)
        assert "I will design a minimalist logo" not in text_of(page)

        # the API refuses an empty reason: the operator is told, nothing changes
        empty = await browser.post(f"/console/listings/{second['id']}/reject", {"reason": "  "})
        assert empty.headers["location"] == f"/console/listings/{second['id']}"
        page = await browser.get(f"/console/listings/{second['id']}")
        assert "reason" in text_of(page).lower() and "pending review" in text_of(page)

        rejected = await browser.post(
            f"/console/listings/{second['id']}/reject", {"reason": "Show your own work"}
        )
        assert rejected.headers["location"] == "/console/listings"
    assert (await client.get(f"/listings/{first['id']}")).json()["status"] == "published"
    mine = (await client.get(f"/listings/{second['id']}", headers=seller.headers)).json()
    assert mine["status"] == "rejected" and mine["rejection_reason"] == "Show your own work"


async def test_the_home_page_shows_the_queues_oldest_first(client, categories, make_member, clock):
    operator = categories
    seller = await make_member()
    await pending_gig(client, seller, "I will design a minimalist logo")
    clock.advance(hours=5)
    await pending_gig(client, seller, "I will draw a mascot")
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console")
    assert page.status_code == 200
    text = text_of(page)
    # the queue with items comes before the empty ones, linked to its page, with its age
    assert 'href="/console/listings">Listings to review</a>' in page.text
    table = text[text.index("Due within") :]
    assert table.startswith("Due within Listings to review 2 0 5 h 24 h")  # the first row
    assert "Disputes to resolve 0 0 - 48 h" in table
    assert "How long the oldest items have waited" in text and "<svg" in page.text


async def test_the_site_page_masks_secrets_and_explains_settings(client, make_operator):
    operator = await make_operator()
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/site")
    text = text_of(page)
    assert "test-secret-0123456789abcdef0123456789" not in page.text
    assert "[plugins.gigs]" in text and "[plugins.console]" in text and "[money]" in text
    assert '"bank_transfer"' in text  # the payout methods the site binds
    assert "rows on one page of a queue or list" in text  # a setting's meaning


async def test_an_unknown_listing_is_a_404_page(client, make_operator):
    operator = await make_operator()
    async with Console(client) as browser:
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/listings/999999")
    assert page.status_code == 404
    assert "Not found" in text_of(page)


@get("/shelf")
async def shelf(page: NamedDependency[PageContext]) -> Response[str]:
    me = await page.api.get("/me")
    return page.render("extra/shelf.html", who=me["display_name"])


async def books_panel(page: PageContext, member: dict) -> MemberPanel:
    return MemberPanel("Books", [("Borrowed", "3")], link="/console/extra/shelf")


async def fines_panel(page: PageContext, member: dict) -> MemberPanel:
    """A panel whose API call is refused: shown as unavailable, the page still works."""
    await page.api.get(f"/operator/members/{member['id']}/no-such-thing")
    return MemberPanel("Fines")


async def broken_panel(page: PageContext, member: dict) -> MemberPanel:
    raise RuntimeError("a bug in the plugin")


async def no_panel(page: PageContext, member: dict) -> None:
    return None  # nothing to say about this member


class ExtraConsole:
    """A plugin adding a page, a navigation link, a queue page and a member panel."""

    templates = Path(tempfile.mkdtemp(prefix="console-extra-"))
    (templates / "extra").mkdir()
    (templates / "extra" / "shelf.html").write_text(
        '{% extends "base.html" %}{% block content %}<h1>The shelf</h1><p>Hello {{ who }}</p>{% endblock %}'
    )

    @staticmethod
    @hookimpl
    def agorakit_console_pages(runtime):
        return ConsolePages(
            name="extra",
            title="Extra",
            handlers=[shelf],
            links=[ConsoleLink("The shelf", "shelf")],
            template_dir=ExtraConsole.templates,
            queue_pages={"listings.review": "shelf"},
            member_panels=[books_panel, fines_panel, broken_panel, no_panel],
        )


class TestConsolePagesHook:
    @pytest.fixture
    def extra_plugins(self):
        return [("extra_console", ExtraConsole)]

    async def test_hook_agorakit_console_pages(self, client, make_operator, make_member):
        operator, member = await make_operator(), await make_member()
        async with Console(client) as browser:
            assert (await browser.get("/console/extra/shelf")).status_code == 303  # signed in only
            await browser.sign_in(operator.member.email, operator.password)
            page = await browser.get("/console/extra/shelf")
            assert page.status_code == 200
            assert f"The shelf Hello {operator.member.display_name}" in text_of(page)
            site = await browser.get("/console/site")
            assert 'href="/console/extra/shelf"' in site.text  # its navigation link
            profile = await browser.get(f"/console/members/{member.id}")
        assert profile.status_code == 200
        text = text_of(profile)
        # its member panels: one shown with its rows and link, one unavailable with the
        # API's reason, a broken one unavailable (logged), one with nothing to show left out
        assert "From the plugins Books Borrowed 3 More: Books" in text
        assert 'href="/console/extra/shelf">More: Books' in profile.text
        unavailable = f"Extra Unavailable: nothing at GET /operator/members/{member.id}/no-such-thing"
        broken = "Extra Unavailable: The panel could not be shown; the error has been logged."
        assert f"{unavailable} {broken}" in text
        assert text.count("Unavailable") == 2  # the panel with nothing to show is left out


async def test_an_unknown_console_path_is_the_consoles_404_page(client, make_operator):
    operator = await make_operator()
    async with Console(client) as browser:
        anonymous = await browser.get("/console/no-such-page")
        assert anonymous.status_code == 303  # sign in first
        await browser.sign_in(operator.member.email, operator.password)
        page = await browser.get("/console/no-such-page/deeper")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no console page here." in text_of(page)


async def test_an_operator_suspended_or_demoted_is_signed_out(client, make_operator, make_member, clock):

    owner = await make_member(role="owner")
    suspended, demoted = await make_operator(), await make_operator()
    async with Console(client) as first, Console(client) as second:
        assert (await first.sign_in(suspended.member.email, suspended.password)).status_code == 303
        assert (await second.sign_in(demoted.member.email, demoted.password)).status_code == 303
        answer = await client.post(
            f"/operator/members/{suspended.id}/suspend",
            json={"reason": "left the team"},
            headers=owner.headers,
        )
        assert answer.status_code == 200, answer.text
        answer = await client.post(
            f"/operator/members/{demoted.id}/role", json={"role": "member"}, headers=owner.headers
        )
        assert answer.status_code == 200, answer.text

        # suspended: the API refuses the token at once, the console signs them out
        page = await first.get("/console/listings")
        assert (
            page.status_code == 303 and page.headers["location"] == "/console/sign-in?next=/console/listings"
        )
        assert "Your session has ended: sign in again." in text_of(await first.get("/console/sign-in"))
        assert (await first.get("/console/site")).status_code == 303  # the session is gone

        # demoted: until the console asks the API again, the API refuses what it asks for
        page = await second.get("/console/listings")
        assert page.status_code == 403 and "for the site's operators only" in text_of(page)
        clock.advance(seconds=61)  # the console asks the API who they are at most every minute
        page = await second.get("/console/listings")
        assert page.status_code == 303 and page.headers["location"] == "/console/sign-in"
        assert "no longer an operator's" in text_of(await second.get("/console/sign-in"))
        assert (await second.get("/console/site")).status_code == 303
