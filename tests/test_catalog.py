"""Categories and qualifications, through the HTTP API."""

from __future__ import annotations

import pytest
from catalog_helpers import make_categories

from agorakit import hookimpl
from agorakit.catalog import is_qualified
from agorakit.catalog.tables import Category, Qualification


class Events:
    def __init__(self) -> None:
        self.names: list[tuple[str, dict]] = []

    @hookimpl
    def agorakit_on_event(self, event, runtime):
        self.names.append((event.name, event.data))


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def extra_plugins(events):
    return [("catalog-events", events)]


async def test_operator_builds_category_tree_anyone_reads_it(client, make_member):
    operator = await make_member(role="operator")
    await make_categories(client, operator)
    extra = await client.post(
        "/operator/categories",
        json={"slug": "branding", "name": "  Brand   identity ", "parent": "design", "position": 0},
        headers=operator.headers,
    )
    assert extra.status_code == 201
    assert extra.json() == {
        "id": extra.json()["id"],
        "slug": "branding",
        "name": "Brand identity",
        "parent": "design",
        "position": 0,
    }
    tree = await client.get("/categories")  # no token needed
    assert tree.status_code == 200
    assert [(n["slug"], [c["slug"] for c in n["children"]]) for n in tree.json()] == [
        ("design", ["branding", "logo-design"]),
        ("writing", []),
    ]


async def test_category_changes_and_bad_input(client, make_member, problem):
    operator, member = await make_member(role="operator"), await make_member()
    await make_categories(client, operator)
    design = await Category.select(Category.id).where(Category.slug == "design").first()
    logo = await Category.select(Category.id).where(Category.slug == "logo-design").first()

    problem(
        await client.post("/operator/categories", json={"slug": "x", "name": "X"}, headers=member.headers),
        403,
        "forbidden",
    )
    problem(
        await client.post(
            "/operator/categories", json={"slug": "design", "name": "Again"}, headers=operator.headers
        ),
        409,
        "conflict",
    )
    problem(
        await client.post(
            "/operator/categories", json={"slug": "Bad Slug", "name": "X"}, headers=operator.headers
        ),
        422,
        "validation_error",
        fields={"slug"},
    )
    problem(
        await client.post(
            "/operator/categories",
            json={"slug": "orphan", "name": "X", "parent": "nope"},
            headers=operator.headers,
        ),
        422,
        "validation_error",
        fields={"parent"},
    )
    # Moving design below its own child would make a cycle.
    problem(
        await client.patch(
            f"/operator/categories/{design['id']}", json={"parent": "logo-design"}, headers=operator.headers
        ),
        422,
        "validation_error",
        fields={"parent"},
    )
    problem(
        await client.patch("/operator/categories/999", json={"name": "Nope"}, headers=operator.headers),
        404,
        "not_found",
    )
    moved = await client.patch(
        f"/operator/categories/{logo['id']}",
        json={"parent": None, "name": "Logos", "position": 5},
        headers=operator.headers,
    )
    assert moved.status_code == 200
    assert (moved.json()["parent"], moved.json()["name"], moved.json()["position"]) == (None, "Logos", 5)
    assert await Category.count() == 3


async def test_qualification_apply_approve_reject_flow(client, make_member, problem, events):
    operator, seller, other = await make_member(role="operator"), await make_member(), await make_member()
    await make_categories(client, operator)

    first = await client.post(
        "/qualifications",
        json={"category": "logo-design", "note": "10 years of logos"},
        headers=seller.headers,
    )
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["category"], first.json()["reason"]) == (
        "pending",
        "logo-design",
        None,
    )
    # One open application per member and category.
    problem(
        await client.post("/qualifications", json={"category": "logo-design"}, headers=seller.headers),
        409,
        "conflict",
    )
    problem(
        await client.post("/qualifications", json={"category": "nope"}, headers=seller.headers),
        422,
        "validation_error",
        fields={"category"},
    )
    second = await client.post("/qualifications", json={"category": "writing"}, headers=seller.headers)
    third = await client.post("/qualifications", json={"category": "writing"}, headers=other.headers)
    assert await Qualification.count() == 3

    problem(await client.get("/operator/qualifications", headers=seller.headers), 403, "forbidden")
    queue = await client.get("/operator/qualifications", headers=operator.headers)
    assert [q["id"] for q in queue.json()["items"]] == [
        first.json()["id"],
        second.json()["id"],
        third.json()["id"],
    ]

    approved = await client.post(
        f"/operator/qualifications/{first.json()['id']}/approve", headers=operator.headers
    )
    assert approved.json()["status"] == "approved"
    problem(
        await client.post(f"/operator/qualifications/{first.json()['id']}/approve", headers=operator.headers),
        409,
        "conflict",
    )
    problem(
        await client.post(
            f"/operator/qualifications/{second.json()['id']}/reject",
            json={"reason": ""},
            headers=operator.headers,
        ),
        422,
        "validation_error",
        fields={"reason"},
    )
    rejected = await client.post(
        f"/operator/qualifications/{second.json()['id']}/reject",
        json={"reason": "Show us writing samples"},
        headers=operator.headers,
    )
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("rejected", "Show us writing samples")
    problem(
        await client.post("/operator/qualifications/999/approve", headers=operator.headers), 404, "not_found"
    )

    mine = (await client.get("/me/qualifications", headers=seller.headers)).json()["items"]
    assert [(q["category"], q["status"]) for q in mine] == [
        ("logo-design", "approved"),
        ("writing", "rejected"),
    ]
    assert [
        q["id"]
        for q in (await client.get("/operator/qualifications", headers=operator.headers)).json()["items"]
    ] == [third.json()["id"]]
    # Approved already: a new application is refused; rejected: the member may apply again.
    problem(
        await client.post("/qualifications", json={"category": "logo-design"}, headers=seller.headers),
        409,
        "conflict",
    )
    again = await client.post("/qualifications", json={"category": "writing"}, headers=seller.headers)
    assert again.status_code == 201

    assert await is_qualified(seller.id, "logo-design") is True
    assert await is_qualified(seller.id, "writing") is False
    assert await is_qualified(other.id, "logo-design") is False
    assert await is_qualified(seller.id, "nope") is False
    names = [n for n, _ in events.names if n.startswith("qualification.")]
    assert names == [
        "qualification.applied",
        "qualification.applied",
        "qualification.applied",
        "qualification.approved",
        "qualification.rejected",
        "qualification.applied",
    ]
    assert (
        next(d for n, d in events.names if n == "qualification.rejected")["reason"]
        == "Show us writing samples"
    )
