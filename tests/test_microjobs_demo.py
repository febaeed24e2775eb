"""``agorakit demo``'s microjobs data: a campaign in every mode, a group, tasks in several
states, vouchers, an offer and workers from several countries — and sound books."""

from __future__ import annotations

import pytest
from api_world import all_plugins_config
from microjobs_helpers import books_are_sound

from agorakit.catalog.tables import Listing
from agorakit.demo import load_demo_data
from agorakit.money import ledger
from agorakit.orders import escrow_problem_lines
from agorakit.plugins.microjobs.tables import Campaign, GroupMember, Task, WorkerGroup


@pytest.fixture
def site_config(tmp_path):
    return all_plugins_config(tmp_path)


async def _demo(client, runtime):
    members = await load_demo_data(runtime)
    assert set(members) == {"operator", "seller", "buyer"}
    return members


async def login(client, email: str, password: str) -> dict[str, str]:
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_the_demo_loads_every_mode_tasks_vouchers_and_an_offer(client, runtime):
    members = await _demo(client, runtime)
    seller = members["seller"]

    rows = await Campaign.select().order_by(Campaign.id)
    assert [(r["mode"], r["state"], r["employer_id"]) for r in rows] == [
        ("basic", "active", seller.id),
        ("international", "active", seller.id),
        ("limited", "active", seller.id),
        ("hired_group", "active", seller.id),
        ("ptc", "active", seller.id),
    ]
    assert rows[2]["countries"] == ",FR,IN,"
    # Funded from the employer's earned balance (the demo opens it with 120.00, no credit):
    # 10 x 0.55 + 20 x 0.22 + 10 x 0.33 + 5 x 1.10 + 20 x 0.11 = 20.90, and 15.00 of vouchers.
    spent = sum((r["reward"] + r["employer_fee"]) * r["positions"] for r in rows)
    assert spent == 550 + 440 + 330 + 550 + 220

    # Workers from several countries, with tasks in different states.
    tasks = await Task.select(Task.campaign_id, Task.status, Task.worker_id).order_by(Task.id)
    by_mode = {r["id"]: r["mode"] for r in rows}
    assert [(by_mode[t["campaign_id"]], t["status"]) for t in tasks] == [
        ("basic", "satisfied"),
        ("basic", "submitted"),
        ("basic", "taken"),
        ("international", "correcting"),
        ("international", "satisfied"),
        ("limited", "submitted"),
        ("hired_group", "taken"),
    ]
    headers = await login(client, "indira.worker@example.com", "demo-worker-pass-2026")
    me = (await client.get("/me", headers=headers)).json()
    assert me["country"] == "IN"
    mine = (await client.get("/microjobs/tasks", headers=headers)).json()["items"]
    assert sorted(t["status"] for t in mine) == ["correcting", "submitted"]
    countries = set()
    for email in ("uma", "george", "indira", "fabien"):
        worker = await login(client, f"{email}.worker@example.com", "demo-worker-pass-2026")
        countries.add((await client.get("/me", headers=worker)).json()["country"])
    assert countries == {"US", "GB", "IN", "FR"}

    # The employer's group, with Indira and Fabien.
    (group,) = await WorkerGroup.select()
    assert group["employer_id"] == seller.id and group["name"] == "Trusted testers"
    assert len(await GroupMember.select().where(GroupMember.group_id == group["id"])) == 2

    # Paid tasks reached the workers; Fabien also redeemed a 5.00 voucher into his wallet.
    fabien = next(t["worker_id"] for t in tasks if by_mode[t["campaign_id"]] == "hired_group")
    assert await ledger.balance_of(ledger.available(fabien), "USD") == 20
    assert await ledger.balance_of(ledger.credit(fabien), "USD") == 500
    vouchers = (await client.get("/me/vouchers", headers=await seller_headers(client))).json()["items"]
    assert sorted((v["amount"]["amount"], v["status"]) for v in vouchers) == [
        ("10.00", "issued"),
        ("5.00", "redeemed"),
    ]

    # An offer, published at once, and a paid order of it.
    offers = (await client.get("/listings?kind=offer")).json()["items"]
    assert [(o["title"], o["status"], o["seller"]["display_name"]) for o in offers] == [
        ("I will translate your shop's product pages into Hindi", "published", "Indira Worker")
    ]
    buyer_headers = await login(client, "buyer@example.com", "demo-buyer-pass-2026")
    orders = (await client.get("/orders", headers=buyer_headers)).json()["items"]
    assert ("offer_order", "in_progress") in {(o["process"], o["state"]) for o in orders}

    await books_are_sound(runtime)
    assert await escrow_problem_lines(runtime) == []


async def seller_headers(client) -> dict[str, str]:
    return await login(client, "seller@example.com", "demo-seller-pass-2026")


class TestMicrojobsAlone:
    """The demo without gigs (and with offers off, only three modes) still loads cleanly."""

    @pytest.fixture
    def site_config(self, tmp_path):
        config = all_plugins_config(tmp_path)
        config["site"]["plugins"] = [p for p in config["site"]["plugins"] if p != "gigs"]
        config["plugins"] = {"microjobs": {"offers": False, "modes": ["basic", "international", "ptc"]}}
        return config

    async def test_the_demo_respects_the_sites_settings(self, client, runtime):
        await _demo(client, runtime)
        assert [r["mode"] for r in await Campaign.select(Campaign.mode).order_by(Campaign.id)] == [
            "basic",
            "international",
            "ptc",
        ]
        assert not await Listing.exists().where(Listing.kind == "offer")
        await books_are_sound(runtime)
