"""``agorakit demo``'s leads data: the job forms and prices in the demo's site.toml,
customers in three countries with jobs in every state a walkthrough needs, businesses
with profiles and lead credit, an unlocked lead with a chat, a report waiting for an
operator, a customer who wrote first — and sound books."""

from __future__ import annotations

import tomllib
from datetime import timedelta

import pytest
from api_world import all_plugins_config, shipped_plugins
from leads_helpers import balances, books_are_sound

from agorakit.demo import demo_plugin_settings, load_demo_data, write_demo_config
from agorakit.hooks import Hooks, get_plugin_manager
from agorakit.money import ledger
from agorakit.plugins.leads.demo import DEMO_SETTINGS, PASSWORD
from agorakit.plugins.leads.tables import Lead, Unlock
from agorakit.settings import load_settings
from agorakit.worker import sweep


def demo_site_config(tmp_path):
    """Every shipped plugin with the settings ``agorakit demo`` writes."""
    config = all_plugins_config(tmp_path)
    config["plugins"] = demo_plugin_settings(Hooks(get_plugin_manager(shipped_plugins())))
    return config


@pytest.fixture
def site_config(tmp_path):
    return demo_site_config(tmp_path)


async def login(client, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = await client.post("/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def me(client, headers) -> int:
    return (await client.get("/me", headers=headers)).json()["id"]


def test_the_demo_site_toml_configures_the_job_forms_and_prices(tmp_path):
    path = write_demo_config(tmp_path / "demo")
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    assert written["plugins"]["leads"] == DEMO_SETTINGS
    settings = load_settings(path).plugin("leads")
    assert [f.name for f in settings.details_by_category["house-cleaning"]] == ["rooms", "frequency", "when"]
    assert settings.details_by_category["moving"][1].max == 3000
    assert settings.price_by_category == {
        "house-cleaning": "12.00",
        "plumbing": "20.00",
        "moving": "25.00",
        "lessons": "8.00",
    }
    assert settings.default_lead_price == "15.00"  # home-services itself


async def test_the_demo_has_jobs_businesses_a_chat_a_report_and_a_first_contact(client, runtime):
    await load_demo_data(runtime)
    ops = await login(client, "operator@example.com", "demo-operator-pass-2026")
    carla_h = await login(client, "carla.home@example.com")
    hugo_h = await login(client, "hugo.home@example.com")
    sparkle_h = await login(client, "sparkle.cleaning@example.com")
    bay_h = await login(client, "bay.plumbing@example.com")
    hana_h = await login(client, "hana.handy@example.com")
    thames_h = await login(client, "thames.movers@example.com")
    atelier_h = await login(client, "atelier.musique@example.com")
    carla, hugo = await me(client, carla_h), await me(client, hugo_h)
    sparkle, bay, atelier = await me(client, sparkle_h), await me(client, bay_h), await me(client, atelier_h)

    # The jobs: three countries, postal codes and cities, every state.
    rows = await Lead.select().order_by(Lead.id).output(load_json=True)
    assert [
        (r["title"], r["category"], r["country"], r["postal_code"], r["city"], r["status"], r["price"])
        for r in rows
    ] == [
        ("Deep clean of a three-room flat", "house-cleaning", "US", "94110", "", "open", 1200),
        ("Leaking kitchen sink", "plumbing", "US", "94103", "", "open", 2000),
        ("House cleaning in 94117, US", "house-cleaning", "US", "94117", "", "closed", 1200),
        ("Two-bedroom move, London to Bristol", "moving", "GB", "SW1A1AA", "", "open", 2500),
        ("Piano lessons for a beginner", "music-lessons", "FR", "", "paris", "open", 800),
        ("Maths tutoring, two evenings a week", "tutoring", "FR", "75011", "", "open", 800),
        ("Weekly office cleaning", "house-cleaning", "GB", "", "london", "pending_review", 1200),
    ]
    cleaning, plumbing, tenancy, moving, piano, tutoring, _office = (r["id"] for r in rows)
    assert rows[0]["details"] == {"rooms": 3, "frequency": "Once", "when": "Within a week"}
    assert rows[2]["reason"] == "hired someone"
    mine = (await client.get("/leads/mine", headers=carla_h)).json()["items"]
    assert [(j["id"], j["status"]) for j in mine] == [
        (tenancy, "closed"),
        (plumbing, "open"),
        (cleaning, "open"),
    ]
    pending = (await client.get("/operator/listings/pending?kind=lead", headers=ops)).json()["items"]
    assert [p["listing"]["id"] for p in pending] == [rows[6]["listing_id"]]

    # The businesses' profiles and feeds (newest first; the unlocked job shows the unlock).
    profile = (await client.get("/leads/profile", headers=bay_h)).json()
    assert (profile["categories"], profile["areas"], profile["prices"]) == (
        ["plumbing"],
        [
            {"country": "US", "postal_prefix": "941", "city": None},
            {"country": "US", "postal_prefix": None, "city": "oakland"},
        ],
        [{"category": "plumbing", "price": {"amount": "20.00", "currency": "USD"}}],
    )

    async def feed(headers):
        items = (await client.get("/leads/feed", headers=headers)).json()["items"]
        return [(j["id"], j["unlock"]["status"] if j["unlock"] else None) for j in items]

    assert await feed(sparkle_h) == [(cleaning, "charged")]
    assert await feed(hana_h) == [(plumbing, None), (cleaning, None)]
    assert await feed(thames_h) == [(moving, None)]
    assert await feed(atelier_h) == [(piano, "contacted")]
    assert tutoring not in [j for j, _ in await feed(atelier_h)]

    # Sparkle unlocked the cleaning job (12.00 from its credit) and chatted with Carla.
    unlocks = await Unlock.select().order_by(Unlock.id)
    assert [(u["lead_id"], u["business_id"], u["origin"], u["status"], u["price"]) for u in unlocks] == [
        (cleaning, sparkle, "business", "charged", 1200),
        (plumbing, bay, "business", "charged", 2000),
        (piano, atelier, "customer", "contacted", 800),
    ]
    chat = await client.get(f"/conversations/{unlocks[0]['conversation_id']}/messages", headers=carla_h)
    assert chat.status_code == 200, chat.text
    said = [(m["sender_id"], m["body"][:24]) for m in chat.json()["items"] if m["kind"] == "member"]
    assert said == [  # newest first
        (carla, "Great, see you then!"),
        (sparkle, "Perfect, two of us will "),
        (carla, "Electric. Tuesday works;"),
        (sparkle, "Hi Carla, we can do the "),
    ]

    # Bay Plumbing's report waits for an operator, with the chat and the lead as evidence.
    queue = (await client.get("/operator/disputes?process=lead_unlock", headers=ops)).json()["items"]
    assert [(d["order_id"], d["status"], d["reason"], d["opened_by"]) for d in queue] == [
        (unlocks[1]["order_id"], "open", "job_changed", bay)
    ]
    evidence = queue[0]["evidence"]
    assert evidence["plugins"]["leads"]["lead_id"] == plumbing
    [captured] = [
        c for c in evidence["conversations"] if c["conversation"]["id"] == unlocks[1]["conversation_id"]
    ]
    assert [m["body"][:24] for m in captured["messages"]] == [
        "Hello Carla, I can look ",
        "Actually the sink is fin",
    ]

    # Hugo wrote first to Atelier Musique, who has not replied (nor been charged) yet.
    first = await client.get(f"/conversations/{unlocks[2]['conversation_id']}/messages", headers=atelier_h)
    assert [(m["sender_id"], m["body"][:7]) for m in first.json()["items"]] == [(hugo, "Bonjour")]

    # The money: every business bought credit by bank transfer; leads were paid from it.
    assert await balances(sparkle) == (0, 5000 - 1200)
    assert await balances(bay) == (0, 4000 - 2000)
    assert await balances(atelier) == (0, 2000)
    fees = await ledger.balance_of(ledger.PLATFORM_FEES, "USD")
    assert fees >= 3200
    await books_are_sound(runtime)


async def test_the_demo_reply_charges_and_a_month_later_reports_close_and_jobs_expire(client, runtime, clock):
    """The walkthrough's steps: Atelier replies (charged 8.00); 30 days after its charge
    Sparkle may no longer report; the open jobs expire after ``lead_days``."""
    await load_demo_data(runtime)
    atelier_h = await login(client, "atelier.musique@example.com")
    sparkle_h = await login(client, "sparkle.cleaning@example.com")
    atelier = await me(client, atelier_h)
    contacted = await Unlock.select().where(Unlock.business_id == atelier).first()
    replied = await client.post(
        f"/conversations/{contacted['conversation_id']}/messages",
        json={"body": "Bonjour Hugo, Wednesdays at 4 pm work for us."},
        headers=atelier_h,
    )
    assert replied.status_code == 201, replied.text
    assert await balances(atelier) == (0, 2000 - 800)

    cleaning = await Lead.select().where(Lead.category == "house-cleaning").order_by(Lead.id).first()
    clock.advance(timedelta(days=30, seconds=1))
    late = await client.post(
        f"/leads/{cleaning['id']}/report",
        json={"reason": "job_changed", "text": "The flat had five rooms, not three."},
        headers=sparkle_h,
    )
    assert late.status_code == 409, late.text
    await sweep(runtime)
    statuses = [r["status"] for r in await Lead.select(Lead.status).order_by(Lead.id)]
    assert statuses == ["expired", "expired", "closed", "expired", "expired", "expired", "pending_review"]
    await books_are_sound(runtime)
