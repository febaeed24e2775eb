"""``agorakit demo``'s prepaid data: the games tree and its service types in the demo's
site.toml, sellers with access and an applicant, requests in every state a walkthrough
needs, one classic request with an offer — and sound books."""

from __future__ import annotations

import tomllib
from datetime import timedelta

import pytest
from api_world import all_plugins_config, shipped_plugins
from prepaid_helpers import balances, books_are_sound

from agorakit.demo import demo_plugin_settings, load_demo_data, write_demo_config
from agorakit.hooks import Hooks, get_plugin_manager
from agorakit.plugins.prepaid.demo import DEMO_SETTINGS, PASSWORD
from agorakit.plugins.prepaid.tables import Offer, Request
from agorakit.settings import load_settings


def demo_site_config(tmp_path, **prepaid):
    """Every shipped plugin with the settings ``agorakit demo`` writes (and ``prepaid``'s changed)."""
    config = all_plugins_config(tmp_path)
    config["plugins"] = demo_plugin_settings(Hooks(get_plugin_manager(shipped_plugins())))
    config["plugins"]["prepaid"] = {**config["plugins"]["prepaid"], **prepaid}
    return config


@pytest.fixture
def site_config(tmp_path):
    return demo_site_config(tmp_path)


async def login(client, email: str, password: str) -> dict[str, str]:
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_the_demo_site_toml_configures_the_games_service_types(tmp_path):
    path = write_demo_config(tmp_path / "demo")
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    assert written["plugins"]["prepaid"] == DEMO_SETTINGS
    settings = load_settings(path).plugin("prepaid")
    [rank_boost, coaching] = settings.service_types["games"]
    assert (rank_boost.name, [f.name for f in rank_boost.fields]) == (
        "rank_boost",
        ["current_rank", "target_rank", "notes"],
    )
    assert (coaching.name, coaching.fields[0].type, coaching.fields[0].max) == ("coaching", "integer", 20)
    assert [t.name for t in settings.default_service_types] == ["custom"]  # other categories keep it


async def test_the_demo_has_sellers_an_applicant_and_requests_in_every_state(client, runtime):
    members = await load_demo_data(runtime)
    sam, bea, operator = members["seller"], members["buyer"], members["operator"]
    ops = await login(client, "operator@example.com", "demo-operator-pass-2026")
    sam_h = await login(client, "seller@example.com", "demo-seller-pass-2026")
    bea_h = await login(client, "buyer@example.com", "demo-buyer-pass-2026")
    kai_h = await login(client, "kai.carry@example.com", PASSWORD)
    lena_h = await login(client, "lena.coach@example.com", PASSWORD)
    kai = (await client.get("/me", headers=kai_h)).json()
    lena = (await client.get("/me", headers=lena_h)).json()
    assert (kai["display_name"], kai["country"], lena["display_name"], lena["country"]) == (
        "Kai Carry",
        "US",
        "Lena Coach",
        "DE",
    )

    # Access: Sam to valorant, Kai to the games tree, Lena waiting for league.
    for headers, expected in ((sam_h, ("valorant", "approved")), (kai_h, ("games", "approved"))):
        mine = (await client.get("/me/qualifications", headers=headers)).json()["items"]
        assert [(q["category"], q["status"], q["notify"]) for q in mine] == [(*expected, True)]
    pending = (await client.get("/operator/qualifications", headers=ops)).json()["items"]
    assert [(q["member_id"], q["category"], q["status"]) for q in pending] == [
        (lena["id"], "league", "pending")
    ]

    # Bea's requests, each in the state the walkthrough starts from.
    rows = await Request.select().order_by(Request.id)
    assert [
        (r["title"], r["mode"], r["category"], r["status"], r["price"], r["seller_id"]) for r in rows
    ] == [
        ("Silver to Gold in Valorant", "prepaid", "valorant", "delivered", 3000, sam.id),
        ("Two hours of jungle coaching", "prepaid", "league", "in_progress", 2500, kai["id"]),
        ("Gold to Platinum in Valorant", "prepaid", "valorant", "open", 4000, None),
        ("Bronze to Silver in League", "prepaid", "league", "open", 2000, None),
        ("Aim coaching, three hours", "classic", "valorant", "open", 3000, None),
        ("Review one ranked game", "classic", "league", "open", 1500, None),
    ]
    assert {r["buyer_id"] for r in rows} == {bea.id}
    delivered, locked, open_valorant, open_league, offered, waiting = (r["id"] for r in rows)
    mine = (await client.get("/prepaid/requests", headers=bea_h)).json()["items"]
    assert [(r["id"], r["status"]) for r in mine] == [
        (waiting, "open"),
        (offered, "open"),
        (open_league, "open"),
        (open_valorant, "open"),
        (locked, "in_progress"),
        (delivered, "delivered"),
    ]

    # Kai's lock runs 24 hours from when he took it; Sam's delivery waits for Bea.
    got = (await client.get(f"/prepaid/requests/{locked}", headers=kai_h)).json()
    order = (await client.get(f"/orders/{got['order_id']}", headers=kai_h)).json()
    assert (order["process"], order["state"], order["seller_id"]) == (
        "prepaid_request",
        "in_progress",
        kai["id"],
    )
    assert got["deadline"] is not None
    assert order["state_entered_at"] is not None
    assert got["timeframe_hours"] == 24
    delivered_order = (await client.get(f"/orders/{rows[0]['order_id']}", headers=bea_h)).json()
    assert delivered_order["state"] == "delivered"
    assert "accept" in delivered_order["allowed_transitions"]
    proofs = (await client.get(f"/orders/{rows[0]['order_id']}/proofs", headers=bea_h)).json()
    assert [p["text"] for p in proofs] == ["Reached Gold in 11 games; the match history is on my profile."]

    # The feeds: Sam sees valorant only, Kai the whole tree, Lena nothing yet.
    sam_feed = (await client.get("/prepaid/feed", headers=sam_h)).json()["items"]
    assert [r["id"] for r in sam_feed] == [offered, open_valorant]
    kai_feed = (await client.get("/prepaid/feed", headers=kai_h)).json()["items"]
    assert [r["id"] for r in kai_feed] == [waiting, offered, open_league, open_valorant]
    assert (await client.get("/prepaid/feed", headers=lena_h)).json()["items"] == []

    # Kai's offer on the classic aim coaching request; the other classic has none.
    offers = await Offer.select().order_by(Offer.id)
    assert [
        (o["request_id"], o["seller_id"], o["price"], o["timeframe_hours"], o["status"]) for o in offers
    ] == [(offered, kai["id"], 3500, 48, "pending")]
    shown = (await client.get(f"/prepaid/requests/{offered}", headers=bea_h)).json()
    assert (shown["offers"], shown["expires_at"] is not None) == (1, True)

    # Bea paid the four prepaid requests from her credit: 300.00 opening, 115.00 for the
    # requests, 35.00 for the gigs demo's two orders and 8.00 for the microjobs offer.
    assert await balances(bea.id) == (0, 30000 - 11500 - 3500 - 800)
    await books_are_sound(runtime)
    assert operator.role == "owner"


async def test_the_demo_lock_can_be_returned_to_the_pool_a_day_later(client, runtime, clock):
    """The walkthrough's time step: Kai's lock has 24 hours; after them Bea may send the
    request back to the feed (before them, the guard says until when he has)."""
    await load_demo_data(runtime)
    bea_h = await login(client, "buyer@example.com", "demo-buyer-pass-2026")
    row = await Request.select().where(Request.title == "Two hours of jungle coaching").first()
    early = await client.post(f"/prepaid/requests/{row['id']}/return", headers=bea_h)
    assert (early.status_code, early.json()["code"]) == (409, "guard_failed"), early.text
    clock.advance(timedelta(hours=24, seconds=1))
    returned = await client.post(f"/prepaid/requests/{row['id']}/return", headers=bea_h)
    assert returned.status_code == 200, returned.text
    assert (returned.json()["status"], returned.json()["seller_id"]) == ("open", None)
    await books_are_sound(runtime)


class TestClassicOnly:
    """A demo site that takes classic requests only: the prepaid ones are left out."""

    @pytest.fixture
    def site_config(self, tmp_path):
        return demo_site_config(tmp_path, modes=["classic"])

    async def test_the_demo_respects_the_sites_modes(self, client, runtime):
        await load_demo_data(runtime)
        rows = await Request.select(Request.mode, Request.status).order_by(Request.id)
        assert rows == [{"mode": "classic", "status": "open"}, {"mode": "classic", "status": "open"}]
        assert len(await Offer.select()) == 1
        await books_are_sound(runtime)


class TestDefaultServiceTypes:
    """Without the demo's service types (only the default "custom" type), the demo still
    loads: the games tree, the sellers and the applicant, and no request."""

    @pytest.fixture
    def site_config(self, tmp_path):
        return all_plugins_config(tmp_path)

    async def test_the_demo_loads_without_requests(self, client, runtime):
        await load_demo_data(runtime)
        assert await Request.count() == 0
        kai_h = await login(client, "kai.carry@example.com", PASSWORD)
        mine = (await client.get("/me/qualifications", headers=kai_h)).json()["items"]
        assert [(q["category"], q["status"]) for q in mine] == [("games", "approved")]
        await books_are_sound(runtime)
