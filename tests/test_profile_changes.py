"""Profile changes a plugin may refuse (``agorakit_profile_changing``), and operators
changing a member's profile over it."""

from __future__ import annotations

import pytest

from agorakit import hookimpl


class CountryLock:
    """Once a member has taken a task, their country is for operators to change."""

    def __init__(self) -> None:
        self.locked: set[int] = set()
        self.asked: list[tuple[int, str, dict]] = []

    @hookimpl
    async def agorakit_profile_changing(self, member, changes, runtime):
        self.asked.append((member.id, member.country, changes))
        if "country" in changes and member.id in self.locked:
            return "your country decides which jobs you may do; once you have taken a task only an operator can change it"
        return None


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int | None, dict]] = []

    @hookimpl
    def agorakit_on_event(self, event, runtime):
        if event.name == "member.profile_updated":
            self.seen.append((event.subject, event.actor_id, event.data))


@pytest.fixture
def lock():
    return CountryLock()


@pytest.fixture
def events():
    return Events()


@pytest.fixture
def extra_plugins(lock, events):
    return [("country-lock", lock), ("events", events)]


async def me(client, member) -> dict:
    return (await client.get("/me", headers=member.headers)).json()


async def test_hook_agorakit_profile_changing(client, make_member, lock, events, problem):
    worker = await make_member(country="US", skills=["writing"])
    # asked with only the fields whose value changes, normalised
    changed = await client.patch(
        "/me",
        json={"country": "us", "skills": ["Writing", "SEO"], "display_name": " Wanda "},
        headers=worker.headers,
    )
    assert changed.status_code == 200, changed.text
    assert lock.asked == [(worker.id, "US", {"skills": ["writing", "seo"], "display_name": "Wanda"})]
    assert events.seen == [
        (f"member:{worker.id}", worker.id, {"member_id": worker.id, "fields": ["display_name", "skills"]})
    ]
    # nothing that changes: nobody asked, nothing recorded
    same = await client.patch("/me", json={"country": "US"}, headers=worker.headers)
    assert same.status_code == 200 and len(lock.asked) == 1 and len(events.seen) == 1
    # a veto refuses the whole change, with the reason; nothing is written
    lock.locked.add(worker.id)
    refused = await client.patch(
        "/me", json={"country": "DE", "display_name": "W. B."}, headers=worker.headers
    )
    body = problem(refused, 409, "profile_change_refused")
    assert body["detail"] == (
        "your country decides which jobs you may do; once you have taken a task only an operator can change it"
    )
    assert lock.asked[-1] == (worker.id, "US", {"display_name": "W. B.", "country": "DE"})
    profile = await me(client, worker)
    assert (profile["country"], profile["display_name"]) == ("US", "Wanda")
    assert len(events.seen) == 1
    # what the veto is not about still changes
    renamed = await client.patch("/me", json={"display_name": "W. B."}, headers=worker.headers)
    assert renamed.json()["display_name"] == "W. B."
    # bad input is a 422 before any plugin is asked
    asked = len(lock.asked)
    problem(
        await client.patch("/me", json={"country": "ZZ"}, headers=worker.headers), 422, "validation_error"
    )
    assert len(lock.asked) == asked


async def test_operators_change_a_members_profile(client, make_member, lock, events, problem):
    worker, other = await make_member(country="US"), await make_member()
    operator, second, owner = (
        await make_member(role="operator"),
        await make_member(role="operator"),
        await make_member(role="owner"),
    )
    lock.locked.add(worker.id)
    url = f"/operator/members/{worker.id}"
    # members may not; bad input is a 422; an unknown member a 404
    problem(await client.patch(url, json={"country": "DE"}, headers=other.headers), 403, "forbidden")
    problem(
        await client.patch(url, json={"country": "ZZ"}, headers=operator.headers), 422, "validation_error"
    )
    problem(
        await client.patch("/operator/members/999999", json={"country": "DE"}, headers=operator.headers),
        404,
        "not_found",
    )
    assert (await me(client, worker))["country"] == "US"
    # over the plugin's veto, recorded with the operator as the actor
    asked = len(lock.asked)
    changed = await client.patch(
        url, json={"country": "de", "skills": ["Data Entry"]}, headers=operator.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["country"], changed.json()["skills"]) == ("DE", ["data entry"])
    assert len(lock.asked) == asked  # operators are not vetoed
    assert events.seen[-1] == (
        f"member:{worker.id}",
        operator.id,
        {"member_id": worker.id, "fields": ["country", "skills"]},
    )
    assert (await me(client, worker))["country"] == "DE"
    # another operator's profile is for the owner
    problem(
        await client.patch(
            f"/operator/members/{second.id}", json={"display_name": "Op"}, headers=operator.headers
        ),
        403,
        "forbidden",
    )
    renamed = await client.patch(
        f"/operator/members/{second.id}", json={"display_name": "Second operator"}, headers=owner.headers
    )
    assert renamed.json()["display_name"] == "Second operator"
