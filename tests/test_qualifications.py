"""Qualifications: revocation, files, new-work notifications, who may work where, and the
text screening API plugins use for their own texts."""

from __future__ import annotations

import asyncio
import base64
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from catalog_helpers import CatalogTestPlugin, gig, make_categories
from litestar import post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from test_migrations import fresh_database_url

from agorakit import hookimpl
from agorakit.catalog import (
    ScreenFlagOut,
    is_qualified,
    qualifications,
    qualified_category_ids,
    qualified_members,
    revoke_qualification,
    screen_fields,
    screening_error,
)
from agorakit.catalog.qualifications import apply_for_qualification
from agorakit.catalog.schemas import ApplyQualification
from agorakit.catalog.tables import Category, Qualification
from agorakit.errors import Conflict, ValidationFailed
from agorakit.notifications.tables import EmailOutbox
from agorakit.runtime import Runtime
from agorakit.testing import TEST_EPOCH

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
__all__ = ["fresh_database_url"]
BLOCKED = "contact details and links to other sites are not allowed, members talk through the site"


class Recorder:
    """Records events and what was screened; serves a route that screens an offer."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict, int | None]] = []
        self.screened: list[tuple[str, str]] = []

    @hookimpl
    def agorakit_on_event(self, event):
        self.events.append((event.name, event.data, event.actor_id))

    @hookimpl
    def agorakit_screen_text(self, text, context):
        self.screened.append((context, text))

    @hookimpl
    def agorakit_routes(self):
        @post("/test/offers", operation_id="testScreenOffer", summary="Screen an offer", status_code=200)
        async def offer(runtime: NamedDependency[Runtime], data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
            texts = {"message": data.get("message"), "details.rank": data.get("details", {}).get("rank")}
            flags = await screen_fields(runtime, texts, context="offer")
            if flags:
                raise screening_error(flags)
            return {"ok": True}

        return [offer]

    def named(self, prefix: str) -> list[str]:
        return [name for name, _, _ in self.events if name.startswith(prefix)]


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def extra_plugins(recorder):
    return [("recorder", recorder), ("catalog-test", CatalogTestPlugin())]


@pytest.fixture
def site_config(tmp_path):
    # a connection per concurrent request (PostgreSQL)
    return {"attachments": {"path": str(tmp_path / "files")}, "database": {"pool_max_size": 20}}


async def apply(client, member, slug: str, **body: Any) -> dict:
    response = await client.post("/qualifications", json={"category": slug, **body}, headers=member.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def decide(client, operator, qualification: dict, action: str = "approve", **body: Any) -> dict:
    response = await client.post(
        f"/operator/qualifications/{qualification['id']}/{action}",
        json=body or None,
        headers=operator.headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def approved(client, member, operator, slug: str) -> dict:
    return await decide(client, operator, await apply(client, member, slug))


async def upload(
    client, member, data: bytes = PNG, filename: str = "portfolio.png", scope: str | None = None
):
    return await client.post(
        "/attachments",
        files={"file": (filename, data, "application/octet-stream")},
        data={"scope": scope or f"member:{member.id}"},
        headers=member.headers,
    )


async def make_tree(client, operator) -> dict[str, int]:
    """games > valorant > ranked, and writing: slug -> id."""
    for slug, name, parent in [
        ("games", "Games", None),
        ("valorant", "Valorant", "games"),
        ("ranked", "Ranked", "valorant"),
        ("writing", "Writing", None),
    ]:
        response = await client.post(
            "/operator/categories",
            json={"slug": slug, "name": name, "parent": parent},
            headers=operator.headers,
        )
        assert response.status_code == 201, response.text
    return {r["slug"]: r["id"] for r in await Category.select(Category.slug, Category.id)}


# --------------------------------------------------------------------------------------
# Revocation
# --------------------------------------------------------------------------------------


async def test_operator_revokes_access_and_the_member_is_told(client, make_member, recorder, clock):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    qualification = await approved(client, seller, operator, "logo-design")
    assert await is_qualified(seller.id, "logo-design") is True
    clock.advance(hours=3)

    response = await client.post(
        f"/operator/qualifications/{qualification['id']}/revoke",
        json={"reason": "  Three buyers reported copied logos  "},
        headers=operator.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["reason"], body["category"]) == (
        "revoked",
        "Three buyers reported copied logos",
        "logo-design",
    )
    assert body["decided_at"] == qualification["decided_at"]  # the approval's time is kept
    assert datetime.fromisoformat(body["revoked_at"].replace("Z", "+00:00")) == TEST_EPOCH + timedelta(
        hours=3
    )
    row = await Qualification.select().where(Qualification.id == qualification["id"]).first()
    assert (row["revoked_by"], row["decided_by"], row["status"]) == (operator.id, operator.id, "revoked")
    assert row["revoked_at"] == clock.now()
    assert await is_qualified(seller.id, "logo-design") is False

    [(_, data, actor)] = [e for e in recorder.events if e[0] == "qualification.revoked"]
    category_id = (await Category.select(Category.id).where(Category.slug == "logo-design").first())["id"]
    assert (data, actor) == (
        {
            "qualification_id": qualification["id"],
            "member_id": seller.id,
            "category_id": category_id,
            "reason": "Three buyers reported copied logos",
        },
        operator.id,
    )

    inbox = (await client.get("/notifications", headers=seller.headers)).json()["items"]
    [notice] = [n for n in inbox if n["template"] == "qualification_revoked"]
    assert (notice["category"], notice["link"], notice["title"]) == (
        "listings",
        "/me/qualifications",
        "Your access to Logo design was revoked",
    )
    assert "Reason: Three buyers reported copied logos" in notice["body"]
    emails = await EmailOutbox.select().where(EmailOutbox.to_address == seller.member.email)
    assert [e["subject"] for e in emails if "revoked" in e["subject"]] == [
        "Your access to Logo design was revoked"
    ]


async def test_revoke_refusals_change_nothing(client, make_member, problem, recorder):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    active = await approved(client, seller, operator, "logo-design")
    pending = await apply(client, seller, "writing")
    revoke = f"/operator/qualifications/{active['id']}/revoke"

    problem(
        await client.post(revoke, json={}, headers=operator.headers),
        422,
        "validation_error",
        fields={"reason"},
    )
    problem(
        await client.post(revoke, json={"reason": "   "}, headers=operator.headers),
        422,
        "validation_error",
        fields={"reason"},
    )
    problem(await client.post(revoke, json={"reason": "spam"}, headers=seller.headers), 403, "forbidden")
    problem(
        await client.post(
            "/operator/qualifications/999999/revoke", json={"reason": "x"}, headers=operator.headers
        ),
        404,
        "not_found",
    )
    body = problem(
        await client.post(
            f"/operator/qualifications/{pending['id']}/revoke", json={"reason": "x"}, headers=operator.headers
        ),
        409,
        "conflict",
    )
    assert body["detail"] == f"application {pending['id']} is pending; only approved ones are revoked"
    rejected = await decide(client, operator, pending, "reject", reason="Show samples")
    problem(
        await client.post(
            f"/operator/qualifications/{rejected['id']}/revoke",
            json={"reason": "x"},
            headers=operator.headers,
        ),
        409,
        "conflict",
    )
    assert recorder.named("qualification.revoked") == []
    assert await is_qualified(seller.id, "logo-design") is True

    await decide(client, operator, active, "revoke", reason="Copied work")
    again = problem(
        await client.post(revoke, json={"reason": "twice"}, headers=operator.headers), 409, "conflict"
    )
    assert again["detail"] == f"application {active['id']} is revoked; only approved ones are revoked"
    # An approved application cannot be decided again either.
    problem(
        await client.post(f"/operator/qualifications/{active['id']}/approve", headers=operator.headers),
        409,
        "conflict",
    )
    assert recorder.named("qualification.revoked") == ["qualification.revoked"]


async def test_revoke_is_a_declared_function_too(runtime, client, make_member):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    qualification = await approved(client, seller, operator, "writing")
    with pytest.raises(ValidationFailed) as missing:
        await revoke_qualification(runtime, qualification["id"], actor_id=operator.id, reason=" ")
    assert [e.field for e in missing.value.errors] == ["reason"]
    out = await revoke_qualification(runtime, qualification["id"], actor_id=operator.id, reason="Inactive")
    assert (out.status, out.reason) == ("revoked", "Inactive")
    with pytest.raises(Conflict):
        await revoke_qualification(runtime, qualification["id"], actor_id=operator.id, reason="Inactive")


async def test_a_revoked_or_rejected_member_may_apply_again(client, make_member, problem):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    first = await approved(client, seller, operator, "logo-design")
    taken = problem(
        await client.post("/qualifications", json={"category": "logo-design"}, headers=seller.headers),
        409,
        "conflict",
    )
    assert taken["detail"] == "you are already qualified in 'logo-design'"
    await decide(client, operator, first, "revoke", reason="Copied work")

    second = await apply(client, seller, "logo-design", note="Original work this time")
    assert (second["status"], second["reason"], second["revoked_at"]) == ("pending", None, None)
    problem(
        await client.post("/qualifications", json={"category": "logo-design"}, headers=seller.headers),
        409,
        "conflict",
    )
    await decide(client, operator, second, "reject", reason="Not yet")
    third = await apply(client, seller, "logo-design")
    await decide(client, operator, third)
    assert await is_qualified(seller.id, "logo-design") is True
    mine = (await client.get("/me/qualifications", headers=seller.headers)).json()["items"]
    assert [(q["id"], q["status"]) for q in mine] == [
        (first["id"], "revoked"),
        (second["id"], "rejected"),
        (third["id"], "approved"),
    ]


async def test_access_to_a_category_covers_the_ones_below_it(client, make_member, problem):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_tree(client, operator)
    await approved(client, seller, operator, "games")
    assert await is_qualified(seller.id, "ranked") is True
    body = problem(
        await client.post("/qualifications", json={"category": "valorant"}, headers=seller.headers),
        409,
        "conflict",
    )
    assert body["detail"] == "you are already qualified in 'valorant' through 'games', the category above it"
    # Access below does not cover above: a member approved for valorant may apply for games.
    other = await make_member()
    await approved(client, other, operator, "valorant")
    assert (await is_qualified(other.id, "games"), await is_qualified(other.id, "ranked")) == (False, True)
    assert (await apply(client, other, "games"))["status"] == "pending"


# --------------------------------------------------------------------------------------
# The operators' lists
# --------------------------------------------------------------------------------------


async def test_operators_list_applications_by_status_and_category(client, make_member, problem):
    operator, seller, other = await make_member(role="operator"), await make_member(), await make_member()
    await make_tree(client, operator)
    games = await approved(client, seller, operator, "games")
    ranked = await approved(client, other, operator, "ranked")
    await decide(client, operator, ranked, "revoke", reason="Smurfing")
    writing = await decide(
        client, operator, await apply(client, seller, "writing"), "reject", reason="No samples"
    )
    valorant = await apply(client, other, "valorant")
    pending_writing = await apply(client, other, "writing")

    async def ids(**params: Any) -> list[int]:
        response = await client.get("/operator/qualifications", params=params, headers=operator.headers)
        assert response.status_code == 200, response.text
        return [q["id"] for q in response.json()["items"]]

    assert await ids() == [valorant["id"], pending_writing["id"]]
    assert await ids(status="pending") == [valorant["id"], pending_writing["id"]]
    assert await ids(status="approved") == [games["id"]]
    assert await ids(status="rejected") == [writing["id"]]
    assert await ids(status="revoked") == [ranked["id"]]
    assert await ids(status="pending", category="games") == [valorant["id"]]  # with the ones below
    assert await ids(status="revoked", category="valorant") == [ranked["id"]]
    assert await ids(status="approved", category="valorant") == []
    assert await ids(status="rejected", category="writing") == [writing["id"]]

    first = (
        await client.get("/operator/qualifications", params={"limit": 1}, headers=operator.headers)
    ).json()
    assert [q["id"] for q in first["items"]] == [valorant["id"]]
    rest = (
        await client.get(
            "/operator/qualifications",
            params={"limit": 1, "cursor": first["next_cursor"]},
            headers=operator.headers,
        )
    ).json()
    assert ([q["id"] for q in rest["items"]], rest["next_cursor"]) == ([pending_writing["id"]], None)

    problem(
        await client.get("/operator/qualifications", params={"category": "nope"}, headers=operator.headers),
        422,
        "validation_error",
        fields={"category"},
    )
    bad_status = await client.get(
        "/operator/qualifications", params={"status": "lost"}, headers=operator.headers
    )
    assert bad_status.status_code in (400, 422), bad_status.text
    problem(
        await client.get("/operator/qualifications", params={"status": "approved"}, headers=seller.headers),
        403,
        "forbidden",
    )


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------


async def test_an_application_carries_the_members_own_files(client, make_member, problem):
    operator, seller, stranger = await make_member(role="operator"), await make_member(), await make_member()
    await make_categories(client, operator)
    portfolio = await upload(client, seller)
    assert portfolio.status_code == 201, portfolio.text
    assert portfolio.json()["scope"] == f"member:{seller.id}"
    cv = (await upload(client, seller, PDF, "cv.pdf")).json()
    portfolio = portfolio.json()

    created = await apply(
        client, seller, "logo-design", note="My work", attachments=[cv["id"], portfolio["id"], cv["id"]]
    )
    assert [(a["id"], a["filename"], a["content_type"]) for a in created["attachments"]] == [
        (cv["id"], "cv.pdf", "application/pdf"),
        (portfolio["id"], "portfolio.png", "image/png"),
    ]
    assert created["attachments"][0]["url"] == f"/attachments/{cv['id']}/content"
    mine = (await client.get("/me/qualifications", headers=seller.headers)).json()["items"]
    assert [a["id"] for a in mine[0]["attachments"]] == [cv["id"], portfolio["id"]]
    queue = (await client.get("/operator/qualifications", headers=operator.headers)).json()["items"]
    assert [a["id"] for a in queue[0]["attachments"]] == [cv["id"], portfolio["id"]]

    # The applicant and operators read the files; another member does not even see them.
    assert (await client.get(cv["url"], headers=seller.headers)).content == PDF
    assert (await client.get(cv["url"], headers=operator.headers)).content == PDF
    problem(await client.get(cv["url"], headers=stranger.headers), 404, "not_found")
    problem(await client.get(f"/attachments/{cv['id']}", headers=stranger.headers), 404, "not_found")
    # Nobody uploads as someone else.
    problem(await upload(client, stranger, scope=f"member:{seller.id}"), 404, "not_found")


async def test_foreign_unknown_or_too_many_files_are_refused(runtime, client, make_member, problem):
    operator, seller, other = await make_member(role="operator"), await make_member(), await make_member()
    await make_categories(client, operator)
    mine = (await upload(client, seller)).json()
    theirs = (await upload(client, other)).json()

    for ids in ([theirs["id"]], [mine["id"], 999999]):
        body = problem(
            await client.post(
                "/qualifications", json={"category": "writing", "attachments": ids}, headers=seller.headers
            ),
            422,
            "validation_error",
            fields={"attachments"},
        )
        assert body["errors"][0]["message"].startswith(f"attachment {ids[-1]} is not one of your uploads")
    problem(
        await client.post(
            "/qualifications",
            json={"category": "writing", "attachments": [mine["id"]] * 11},
            headers=seller.headers,
        ),
        422,
        "validation_error",
        fields={"attachments"},
    )
    problem(
        await client.post(
            "/qualifications",
            json={"category": "nope", "attachments": [theirs["id"]]},
            headers=seller.headers,
        ),
        422,
        "validation_error",
        fields={"category", "attachments"},
    )
    # A plugin calling the service directly meets the same limit.
    with pytest.raises(ValidationFailed) as caught:
        command = ApplyQualification(category="writing", attachments=list(range(1, 12)))
        await apply_for_qualification(runtime, command, member_id=seller.id)
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("attachments", "at most 10 files per application")
    ]
    assert await Qualification.count() == 0
    assert len((await apply(client, seller, "writing", attachments=[mine["id"]] * 10))["attachments"]) == 1


# --------------------------------------------------------------------------------------
# New-work notifications
# --------------------------------------------------------------------------------------


async def test_the_member_turns_new_work_notifications_off_and_on(client, make_member, problem):
    operator, seller, other = await make_member(role="operator"), await make_member(), await make_member()
    ids = await make_tree(client, operator)
    qualification = await approved(client, seller, operator, "games")
    assert qualification["notify"] is True
    path = f"/me/qualifications/{qualification['id']}"

    off = await client.patch(path, json={"notify": False}, headers=seller.headers)
    assert (off.status_code, off.json()["notify"]) == (200, False)
    assert [
        q["notify"] for q in (await client.get("/me/qualifications", headers=seller.headers)).json()["items"]
    ] == [False]
    assert await qualified_members(ids["valorant"], notify_only=True) == []
    assert await qualified_members(ids["valorant"]) == [seller.id]
    unchanged = await client.patch(path, json={}, headers=seller.headers)
    assert (unchanged.status_code, unchanged.json()["notify"]) == (200, False)
    on = await client.patch(path, json={"notify": True}, headers=seller.headers)
    assert (on.status_code, on.json()["notify"]) == (200, True)
    assert await qualified_members(ids["valorant"], notify_only=True) == [seller.id]

    problem(await client.patch(path, json={"notify": False}, headers=other.headers), 404, "not_found")
    problem(await client.patch(path, json={"notify": False}, headers=operator.headers), 404, "not_found")
    problem(
        await client.patch("/me/qualifications/999999", json={"notify": False}, headers=seller.headers),
        404,
        "not_found",
    )
    problem(
        await client.patch(path, json={"notify": "no"}, headers=seller.headers),
        422,
        "validation_error",
        fields={"notify"},
    )
    pending = await apply(client, other, "writing")
    body = problem(
        await client.patch(
            f"/me/qualifications/{pending['id']}", json={"notify": False}, headers=other.headers
        ),
        409,
        "conflict",
    )
    assert (
        body["detail"]
        == f"application {pending['id']} is pending; notifications are chosen for approved ones"
    )
    assert (
        await Qualification.select(Qualification.notify).where(Qualification.id == pending["id"]).first()
    )["notify"] in (True, 1)


# --------------------------------------------------------------------------------------
# Who may work where
# --------------------------------------------------------------------------------------


async def test_qualified_members_and_categories_follow_the_tree_and_the_statuses(client, make_member):
    operator = await make_member(role="operator")
    ids = await make_tree(client, operator)
    whole, valorant, quiet, nearest = [await make_member() for _ in range(4)]
    revoked, pending, rejected = [await make_member() for _ in range(3)]
    await approved(client, whole, operator, "games")
    await approved(client, valorant, operator, "valorant")
    quiet_games = await approved(client, quiet, operator, "games")
    await client.patch(
        f"/me/qualifications/{quiet_games['id']}", json={"notify": False}, headers=quiet.headers
    )
    # nearest: valorant (notified) first, then games with notifications off
    await approved(client, nearest, operator, "valorant")
    nearest_games = await approved(client, nearest, operator, "games")
    await client.patch(
        f"/me/qualifications/{nearest_games['id']}", json={"notify": False}, headers=nearest.headers
    )
    await decide(
        client, operator, await approved(client, revoked, operator, "games"), "revoke", reason="Fraud"
    )
    await apply(client, pending, "valorant")
    await decide(client, operator, await apply(client, rejected, "valorant"), "reject", reason="No rank")

    assert await qualified_members(ids["ranked"]) == sorted([whole.id, valorant.id, quiet.id, nearest.id])
    assert await qualified_members(ids["valorant"], notify_only=True) == sorted(
        [whole.id, valorant.id, nearest.id]
    )
    assert await qualified_members(ids["games"]) == sorted([whole.id, quiet.id, nearest.id])
    assert await qualified_members(ids["games"], notify_only=True) == [whole.id]
    assert await qualified_members(ids["writing"]) == []
    assert await qualified_members(999999) == []

    games_down = {ids["games"], ids["valorant"], ids["ranked"]}
    assert await qualified_category_ids(whole.id) == games_down
    assert await qualified_category_ids(valorant.id) == {ids["valorant"], ids["ranked"]}
    assert await qualified_category_ids(nearest.id) == games_down
    for member in (revoked, pending, rejected):
        assert await qualified_category_ids(member.id) == set()
    assert await is_qualified(revoked.id, "ranked") is False
    assert await is_qualified(valorant.id, "games") is False
    assert await is_qualified(valorant.id, "nope") is False


# --------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------


def slowed(monkeypatch, name: str) -> None:
    """Every request pauses after ``name`` in its transaction: all of them read the state
    before any writes (without it the requests barely overlap)."""
    original = getattr(qualifications, name)

    async def slow(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        await asyncio.sleep(0.05)
        return result

    monkeypatch.setattr(qualifications, name, slow)


@pytest.mark.postgres_only("concurrent transactions: SQLite runs one writer at a time")
async def test_concurrent_revocations_one_wins_the_others_get_409(client, make_member, recorder, monkeypatch):
    operators = [await make_member(role="operator") for _ in range(6)]
    seller = await make_member()
    await make_categories(client, operators[0])
    qualification = await approved(client, seller, operators[0], "writing")
    slowed(monkeypatch, "_row")
    responses = await asyncio.gather(
        *(
            client.post(
                f"/operator/qualifications/{qualification['id']}/revoke",
                json={"reason": f"reason {n}"},
                headers=o.headers,
            )
            for n, o in enumerate(operators)
        )
    )
    codes = [r.status_code for r in responses]
    assert sorted(codes) == [200] + [409] * 5, [r.text for r in responses]
    winner = codes.index(200)
    row = await Qualification.select().where(Qualification.id == qualification["id"]).first()
    assert (row["status"], row["reason"], row["revoked_by"]) == (
        "revoked",
        f"reason {winner}",
        operators[winner].id,
    )
    assert recorder.named("qualification.revoked") == ["qualification.revoked"]


@pytest.mark.postgres_only("concurrent transactions: SQLite runs one writer at a time")
async def test_concurrent_applications_leave_one_open(client, make_member, monkeypatch):
    operator, seller = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    slowed(monkeypatch, "_check_not_open")
    responses = await asyncio.gather(
        *(
            client.post("/qualifications", json={"category": "writing"}, headers=seller.headers)
            for _ in range(6)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [r.text for r in responses]
    assert await Qualification.count() == 1


# --------------------------------------------------------------------------------------
# Screening other texts
# --------------------------------------------------------------------------------------


async def test_screen_fields_flags_contact_details_like_listings(
    runtime, client, make_member, problem, recorder
):
    operator, seller = await make_member(role="operator"), await make_member()
    texts = {
        "message": "Call me on +1 555 010 9999 tonight",
        "details.rank": "Diamond, write to bob@example.com",
        "details.link": "proof at www.example.com/rank",
        "details.empty": "   ",
        "details.none": None,
        "details.clean": "Diamond 2, 300 wins",
    }
    flags = await screen_fields(runtime, texts, context="offer")
    assert flags == [
        ScreenFlagOut(field="message", reason="phone number", match="+1 555 010 9999"),
        ScreenFlagOut(field="details.rank", reason="e-mail address", match="bob@example.com"),
        ScreenFlagOut(field="details.link", reason="URL", match="www.example.com/rank"),
    ]
    assert [context for context, _ in recorder.screened] == [
        "offer.message",
        "offer.details.rank",
        "offer.details.link",
        "offer.details.clean",
    ]
    assert await screen_fields(runtime, {"message": "Diamond 2, 300 wins"}, context="offer") == []

    response = await client.post(
        "/test/offers",
        json={"message": "Call me on +1 555 010 9999", "details": {"rank": "bob@example.com"}},
        headers=seller.headers,
    )
    errors = [
        {
            "field": "message",
            "message": f"contains a phone number ('+1 555 010 9999'); {BLOCKED}",
            "source": "body",
        },
        {
            "field": "details.rank",
            "message": f"contains an e-mail address ('bob@example.com'); {BLOCKED}",
            "source": "body",
        },
    ]
    assert problem(response, 422, "validation_error") == {
        "type": "urn:agorakit:problem:validation_error",
        "title": "The request has invalid fields",
        "status": 422,
        "detail": "; ".join(f"{e['field']}: {e['message']}" for e in errors),
        "code": "validation_error",
        "instance": "/test/offers",
        "errors": errors,
    }
    clean = await client.post("/test/offers", json={"message": "Diamond 2"}, headers=seller.headers)
    assert clean.json() == {"ok": True}

    # A listing gets the same wording for the same text.
    await make_categories(client, operator)
    listing = await client.post(
        "/listings",
        json=gig(description="Call me on +1 555 010 9999 for a discount."),
        headers=seller.headers,
    )
    listed = problem(listing, 422, "validation_error", fields={"description"})
    assert listed["errors"] == [
        {
            "field": "description",
            "message": f"contains a phone number ('+1 555 010 9999'); {BLOCKED}",
            "source": "body",
        }
    ]


# --------------------------------------------------------------------------------------
# The migration
# --------------------------------------------------------------------------------------

NEW_MIGRATIONS = ("2026-12-06T13:12:23:031639", "2026-12-06T13:15:00:000000")


def migrations_before(folder: Path, into: Path) -> Path:
    """A copy of the catalog's migrations without the new ones."""
    into.mkdir()
    for path in folder.glob("core_catalog_*.py"):
        if not any(f'ID = "{m}"' in path.read_text(encoding="utf-8") for m in NEW_MIGRATIONS):
            shutil.copy(path, into / path.name)
    return into


async def test_a_database_migrated_before_keeps_its_applications(fresh_database_url, tmp_path):
    """The migrations add files, notify and revocation to the applications already there."""
    from piccolo.conf.apps import AppConfig

    from agorakit.accounts.piccolo_app import APP_CONFIG as ACCOUNTS
    from agorakit.catalog.piccolo_app import APP_CONFIG as CATALOG
    from agorakit.db import Database
    from agorakit.db.migrate import migrate
    from agorakit.settings import DatabaseSection

    before = migrations_before(Path(CATALOG.migrations_folder_path), tmp_path / "before")
    old_catalog = AppConfig(
        app_name="core_catalog",
        migrations_folder_path=str(before),
        table_classes=CATALOG.table_classes,
        migration_dependencies=CATALOG.migration_dependencies,
    )
    db = Database(DatabaseSection(url=fresh_database_url))
    await db.start()
    try:
        await migrate(db, [ACCOUNTS, old_catalog])
        at = "'2026-01-05 09:00:00+00:00'"
        await db.engine.run_ddl(
            f"INSERT INTO core_category (slug, name, parent_id, position, created_at) VALUES ('games', 'Games', NULL, 0, {at})"
        )
        [category] = await db.engine.run_ddl("SELECT id FROM core_category")
        for member_id, status in ((7, "approved"), (8, "pending")):
            await db.engine.run_ddl(
                "INSERT INTO core_qualification (member_id, category_id, note, status, created_at) "
                f"VALUES ({member_id}, {category['id']}, 'ten years', '{status}', {at})"
            )

        applied = await migrate(db, [ACCOUNTS, CATALOG])
        assert applied == [f"core_catalog:{m}" for m in NEW_MIGRATIONS]
        rows = await Qualification.select().order_by(Qualification.id).output(load_json=True)
        assert [(r["member_id"], r["notify"], r["attachments"], r["revoked_at"]) for r in rows] == [
            (7, True, [], None),
            (8, True, [], None),
        ]
        assert await qualified_members(category["id"], notify_only=True) == [7]
        assert await qualified_category_ids(7) == {category["id"]}
    finally:
        await db.close()
