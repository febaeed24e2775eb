"""Member, operator and owner: who may suspend whom and change roles."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from agorakit.accounts import service
from agorakit.accounts.tables import Member
from agorakit.cli import build_cli
from agorakit.errors import Conflict


async def suspend(client, actor, target_id: int, reason: str = "abuse"):
    return await client.post(
        f"/operator/members/{target_id}/suspend", json={"reason": reason}, headers=actor.headers
    )


async def set_role(client, actor, target_id: int, role: str):
    return await client.post(
        f"/operator/members/{target_id}/role", json={"role": role}, headers=actor.headers
    )


async def test_an_operator_cannot_suspend_or_reinstate_an_operator_or_owner(client, make_member, problem):
    operator, colleague, owner = (
        await make_member(role="operator"),
        await make_member(role="operator"),
        await make_member(role="owner"),
    )
    for target in (colleague, owner):
        body = problem(await suspend(client, operator, target.id), 403, "forbidden")
        assert "owner" in body["detail"]
    assert (await client.get("/me", headers=colleague.headers)).status_code == 200  # still in

    assert (await suspend(client, owner, colleague.id)).status_code == 200
    problem(await client.get("/me", headers=colleague.headers), 403, "account_suspended")
    reinstate = f"/operator/members/{colleague.id}/reactivate"
    problem(await client.post(reinstate, headers=operator.headers), 403, "forbidden")
    assert (await client.post(reinstate, headers=owner.headers)).json()["status"] == "active"
    # Operators still manage members.
    member = await make_member()
    assert (await suspend(client, operator, member.id)).status_code == 200


async def test_an_owner_passes_every_operator_guard(client, make_member):
    owner = await make_member(role="owner")
    assert (await client.get("/operator/members", headers=owner.headers)).status_code == 200
    assert (await client.get("/-/plugins", headers=owner.headers)).status_code == 200


async def test_only_an_owner_changes_roles(client, make_member, problem):
    owner, operator, member = (
        await make_member(role="owner"),
        await make_member(role="operator"),
        await make_member(),
    )
    problem(await set_role(client, operator, member.id, "operator"), 403, "forbidden")
    problem(await set_role(client, member, member.id, "owner"), 403, "forbidden")
    problem(await set_role(client, owner, member.id, "admin"), 422, "validation_error", fields={"role"})
    problem(await set_role(client, owner, 999999, "operator"), 404, "not_found")

    promoted = await set_role(client, owner, member.id, "operator")
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "operator"
    assert (await client.get("/operator/members", headers=member.headers)).status_code == 200  # next request
    demoted = await set_role(client, owner, operator.id, "member")
    assert demoted.json()["role"] == "member"
    problem(await client.get("/operator/members", headers=operator.headers), 403, "forbidden")


async def test_the_last_owner_stays(client, make_member, problem):
    owner = await make_member(role="owner")
    body = problem(await set_role(client, owner, owner.id, "operator"), 409, "conflict")
    assert "last owner" in body["detail"]
    second = await make_member(role="owner")
    assert (await set_role(client, owner, owner.id, "operator")).json()["role"] == "operator"
    problem(await set_role(client, second, second.id, "member"), 409, "conflict")
    assert await Member.count().where(Member.role == "owner") == 1


async def test_the_service_keeps_the_last_owner(runtime, make_member):
    """Owners suspend, reinstate and demote each other, down to the last one."""

    owner, other_owner = await make_member(role="owner"), await make_member(role="owner")
    await service.suspend(runtime, operator_id=owner.id, member_id=other_owner.id, reason="left the company")
    await service.set_role(runtime, owner_id=owner.id, member_id=other_owner.id, role="owner")  # unchanged
    await service.reactivate(runtime, operator_id=owner.id, member_id=other_owner.id)
    await service.set_role(runtime, owner_id=other_owner.id, member_id=owner.id, role="member")
    with pytest.raises(Conflict, match="last owner"):
        await service.set_role(runtime, owner_id=other_owner.id, member_id=other_owner.id, role="member")


def test_users_create_owner(tmp_path):
    config = tmp_path / "site.toml"
    config.write_text(
        f'[auth]\njwt_secret = "{"k" * 40}"\n[database]\nurl = "sqlite:///{tmp_path}/site.sqlite3"\n',
        encoding="utf-8",
    )

    def invoke(*args: str, input: str | None = None):
        argv = ["--config", str(config), *args]
        return CliRunner().invoke(build_cli(argv), argv, input=input, catch_exceptions=False)

    assert invoke("migrate").exit_code == 0
    created = invoke(
        "users",
        "create-owner",
        "--email",
        "boss@example.com",
        "--country",
        "US",
        "--password-stdin",
        input="owner-passphrase-2026\n",
    )
    assert created.exit_code == 0, created.output
    assert created.output.startswith("owner boss@example.com created (id ")
    operator = invoke(
        "users",
        "create-operator",
        "--email",
        "ops@example.com",
        "--country",
        "US",
        "--password-stdin",
        input="operator-passphrase-99\n",
    )
    assert operator.output.startswith("operator ops@example.com created (id ")


def test_no_code_compares_a_role_with_operator():
    """Owners must pass every operator check: code asks ``is_operator(member)``."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    pattern = re.compile(r"""role\b["']?(?:,\s*None\))?\s*[!=]=\s*["']operator["']""")
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("core", "plugins")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and path.name != "roles.py"  # roles.py states the rule
    ]
    assert offenders == []
