"""``[listings] banned_words``: a site's words and phrases refused in every screened text,
whole words, whatever their case, a phrase across any spacing; flagged with the reason
"banned word" like the other screening flags (blocked, or held for review with
``screening = "flag"``)."""

from __future__ import annotations

import pytest
from catalog_helpers import CatalogTestPlugin, gig, make_categories

from agorakit.catalog.screening import BANNED, banned_words

BANNED_WORDS = ["casino", "get rich quick", "Crypto"]


@pytest.fixture
def site_config(request):
    return {"listings": {"banned_words": BANNED_WORDS, **getattr(request, "param", {})}}


@pytest.fixture
def extra_plugins():
    return [("catalog-test", CatalogTestPlugin())]


@pytest.fixture
async def seller(client, make_member):
    operator = await make_member(role="operator")
    await make_categories(client, operator)
    return await make_member()


async def test_the_pattern_matches_whole_words_whatever_the_case(runtime):
    pattern = banned_words(runtime)
    assert pattern is not None
    found = [m.group(0) for m in pattern.finditer("CASINO night, crypto-friendly; Get  Rich\nQuick now!")]
    assert found == ["CASINO", "crypto", "Get  Rich\nQuick"]
    for fine in ("casinos", "mycasino", "cryptography", "get rich slowly", "rich quick", "casino_royale"):
        assert pattern.search(fine) is None, fine
    assert banned_words(runtime) is pattern  # compiled once per runtime


@pytest.mark.parametrize("site_config", [{"banned_words": []}], indirect=True)
async def test_no_banned_words_no_pattern(runtime):
    assert banned_words(runtime) is None


async def test_a_listing_with_a_banned_word_is_refused(client, seller, problem):
    response = await client.post(
        "/listings",
        json=gig(title="I will design your Casino logo", description="Crypto art. Get rich quick with it."),
        headers=seller.headers,
    )
    body = problem(response, 422, "validation_error", fields={"title", "description"})
    messages = {e["field"]: e["message"] for e in body["errors"] if e["field"] == "title"}
    assert messages["title"].startswith(f"contains a {BANNED} ('Casino')")
    description = [e["message"] for e in body["errors"] if e["field"] == "description"]
    assert sorted(description) == sorted(
        [
            f"contains a {BANNED} ('Crypto'); contact details and links to other sites are not allowed, "
            "members talk through the site",
            f"contains a {BANNED} ('Get rich quick'); contact details and links to other sites are not "
            "allowed, members talk through the site",
        ]
    )
    assert (await client.get("/me/listings", headers=seller.headers)).json()["items"] == []

    fine = await client.post(
        "/listings", json=gig(title="I will design casinos-free logos"), headers=seller.headers
    )
    assert fine.status_code == 201, fine.text


async def test_an_edit_with_a_banned_word_is_refused(client, seller, problem):
    created = await client.post("/listings", json=gig(), headers=seller.headers)
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]
    edited = await client.patch(
        f"/listings/{listing_id}", json={"description": "Paid in crypto only."}, headers=seller.headers
    )
    problem(edited, 422, "validation_error", fields={"description"})
    got = await client.get(f"/listings/{listing_id}", headers=seller.headers)
    assert got.json()["description"] == gig()["description"]  # nothing changed


@pytest.mark.parametrize("site_config", [{"banned_words": BANNED_WORDS, "screening": "flag"}], indirect=True)
async def test_with_screening_flag_the_listing_waits_for_review_with_its_flag(client, make_member, seller):
    operator = await make_member(role="operator")
    created = await client.post("/listings", json=gig(title="Logo for your casino"), headers=seller.headers)
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]
    submitted = await client.post(f"/listings/{listing_id}/submit", headers=seller.headers)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "pending_review"
    queue = await client.get("/operator/listings/pending", headers=operator.headers)
    [item] = queue.json()["items"]
    assert item["listing"]["id"] == listing_id
    assert item["screening_flags"] == [{"field": "title", "reason": BANNED, "match": "casino"}]
