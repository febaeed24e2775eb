"""The accounts area's notices (receipts of account changes), the shared notice helpers
of ``agorakit.notifications`` and the public names of ``agorakit.db``."""

from __future__ import annotations

import pytest

from agorakit import hookimpl
from agorakit.accounts import display_name_of, service
from agorakit.accounts.events import MemberRegistered
from agorakit.notifications import ACTOR_LABELS, Notice, display_name, humanize


class Recorder:
    def __init__(self) -> None:
        self.events: list = []

    @hookimpl
    def agorakit_on_event(self, event):
        self.events.append(event)

    def named(self, name: str) -> list:
        return [event for event in self.events if event.name == name]


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def extra_plugins(recorder):
    return [("recorder", recorder)]


async def inbox(client, member) -> list[dict]:
    response = await client.get("/notifications", headers=member.headers)
    assert response.status_code == 200, response.text
    return [(item["template"], item["category"], item["link"]) for item in response.json()["items"]]


async def test_welcome_is_the_new_members_first_notice(client, make_member):
    member = await make_member()
    assert await inbox(client, member) == [("member_welcome", "account", "/me")]


async def test_a_changed_password_is_a_receipt_to_the_member_who_changed_it(client, runtime, make_member):
    member = await make_member()
    await service.change_password(
        runtime, member.id, current_password=member.password, new_password="another-long-horse-battery"
    )
    login = await client.post(
        "/auth/login", json={"email": member.member.email, "password": "another-long-horse-battery"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    response = await client.get("/notifications", headers=headers)
    assert [(i["template"], i["category"]) for i in response.json()["items"]] == [
        ("member_password_changed", "account"),
        ("member_welcome", "account"),
    ]


async def test_a_suspension_tells_nobody_and_a_reactivation_tells_the_member(client, runtime, make_member):
    operator, member = await make_member(role="operator"), await make_member()
    await service.suspend(runtime, operator_id=operator.id, member_id=member.id, reason="spam")
    await service.reactivate(runtime, operator_id=operator.id, member_id=member.id)
    login = await client.post("/auth/login", json={"email": member.member.email, "password": member.password})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    response = await client.get("/notifications", headers=headers)
    assert [i["template"] for i in response.json()["items"]] == ["member_reactivated", "member_welcome"]
    assert await inbox(client, operator) == [("member_welcome", "account", "/me")]


async def test_account_events_carry_their_typed_payload(runtime, make_member, recorder):
    member = await make_member(role="operator")
    [registered] = recorder.named("member.registered")
    assert registered.payload == MemberRegistered(member_id=member.id, role="operator")
    assert registered.data == {"member_id": member.id, "role": "operator"}


async def test_notice_helpers(runtime, make_member):
    member = await make_member(display_name="Ada Lovelace")
    assert await display_name_of(member.id) == "Ada Lovelace"
    assert await display_name_of(10**9) is None
    assert await display_name(member.id) == "Ada Lovelace"
    assert await display_name(10**9) == "a former member"
    assert await display_name(None) == "someone"
    assert humanize("auto_complete") == "auto complete"
    assert ACTOR_LABELS["system"] == "the site, automatically"


class WelcomeOwnWay:
    """A plugin with its own welcome: the accounts area's generic one yields to it."""

    @hookimpl
    def agorakit_notify(self, event):
        if isinstance(event.payload, MemberRegistered):
            member_id = event.payload.member_id
            return [Notice(member_id=member_id, category="account", template="member_reactivated")]
        return None


class TestAPluginsOwnAccountNotice:
    @pytest.fixture
    def extra_plugins(self):
        return [("welcome", WelcomeOwnWay())]

    async def test_replaces_the_core_welcome(self, client, make_member):
        member = await make_member()
        assert await inbox(client, member) == [("member_reactivated", "account", None)]


def test_the_database_package_declares_its_public_names():
    import agorakit.db

    assert {"Database", "is_unique_violation", "is_lock_conflict"} <= set(agorakit.db.__all__)
    assert all(hasattr(agorakit.db, name) for name in agorakit.db.__all__)
